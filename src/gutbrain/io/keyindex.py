"""A compact set of hash keys for streaming de-duplication (issue 11: memory per read).

The profiler remembers every read ID it has seen (``GB-FQ-DUPID``) and every distinct
sequence (duplicates are aligned once). A Python ``set`` or ``dict`` costs 60–120 bytes per
key (the int or bytes object, its slot, the load factor); :class:`KeyIndex` keeps the keys in
sorted numpy arrays, 8 bytes per 64-bit word (plus 8 for the number of each key when it is
numbered), and the most recent keys in a small ``dict`` that is merged into the arrays when
it fills (a linear merge: sort the new keys, find their places with ``searchsorted``,
``np.insert``).

Keys are non-negative Python ints of ``64 * words`` bits (a negative 64-bit ``hash()`` is
taken modulo 2**64). The arrays are sorted by the key's low 64-bit word; a lookup finds that
word by binary search and compares the other word of every entry sharing it, so two keys are
equal only when all their bits are. Whether equal keys mean equal *values* is the caller's
concern: :mod:`gutbrain.io.reads` confirms a repeated read-ID hash by re-reading the files,
and :mod:`gutbrain.profile.collect` uses 128-bit BLAKE2b digests of the sequences.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["KeyIndex"]

_MASK = (1 << 64) - 1
_WORD = np.dtype(np.uint64)


class KeyIndex:
    """Distinct integer keys, numbered ``0, 1, ...`` in the order they were first added.

    ``words`` is the key width in 64-bit words (1 or 2); ``numbered=False`` keeps no numbers
    (a set: 8 bytes per word and key). ``batch`` keys are held in a ``dict`` before each merge
    into the sorted arrays.

    Examples
    --------
    >>> index = KeyIndex(words=2, batch=2)
    >>> [index.add(k) for k in (7, 1 << 70, 3)]
    [0, 1, 2]
    >>> index.number(1 << 70), index.number(3), index.number((1 << 70) + 3)
    (1, 2, None)
    >>> (3 in index, 5 in index, len(index))
    (True, False, 3)
    """

    __slots__ = ("_batch", "_high", "_low", "_numbers", "_recent", "_size", "_words")

    def __init__(self, *, words: int = 1, numbered: bool = True, batch: int = 1 << 14) -> None:
        if words not in (1, 2):
            message = f"words must be 1 or 2, got {words}"
            raise ValueError(message)
        if batch < 1:
            message = f"batch must be positive, got {batch}"
            raise ValueError(message)
        self._words = words
        self._batch = batch
        self._low: npt.NDArray[np.uint64] = np.zeros(0, dtype=_WORD)
        self._high: npt.NDArray[np.uint64] | None = np.zeros(0, dtype=_WORD) if words == 2 else None
        self._numbers: npt.NDArray[np.int64] | None = (
            np.zeros(0, dtype=np.int64) if numbered else None
        )
        self._recent: dict[int, int] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(self._key(key)) is not None

    @property
    def nbytes(self) -> int:
        """Bytes held by the sorted arrays (not counting the recent keys' ``dict``)."""
        arrays = (self._low, self._high, self._numbers)
        return sum(a.nbytes for a in arrays if a is not None)

    def number(self, key: int) -> int | None:
        """The number of ``key`` (its order of first addition), ``None`` when it is absent."""
        if self._numbers is None:
            message = "this KeyIndex keeps no numbers (numbered=False)"
            raise TypeError(message)
        return self._find(self._key(key))

    def add(self, key: int) -> int:
        """Add ``key``, which must be absent (check with ``in`` or :meth:`number`); return its
        number."""
        key = self._key(key)
        number = self._size
        self._recent[key] = number
        self._size += 1
        if len(self._recent) >= self._batch:
            self._merge()
        return number

    def _key(self, key: int) -> int:
        if key < 0:
            key &= _MASK
        if key >> (64 * self._words):
            message = f"key {key:#x} is wider than {64 * self._words} bits"
            raise ValueError(message)
        return key

    def _find(self, key: int) -> int | None:
        """The number of ``key`` (its position when unnumbered), ``None`` when absent."""
        found = self._recent.get(key)
        if found is not None:
            return found
        low = self._low
        if not low.size:
            return None
        word = key & _MASK
        i = int(low.searchsorted(np.uint64(word)))
        high = key >> 64
        while i < low.size and int(low[i]) == word:
            if self._high is None or int(self._high[i]) == high:
                return int(self._numbers[i]) if self._numbers is not None else i
            i += 1
        return None

    def _merge(self) -> None:
        """Move the recent keys into the sorted arrays."""
        keys = list(self._recent)
        low = np.fromiter((k & _MASK for k in keys), dtype=_WORD, count=len(keys))
        order = np.argsort(low, kind="stable")
        low = low[order]
        at = self._low.searchsorted(low)
        self._low = np.insert(self._low, at, low)
        if self._high is not None:
            high = np.fromiter((k >> 64 for k in keys), dtype=_WORD, count=len(keys))
            self._high = np.insert(self._high, at, high[order])
        if self._numbers is not None:
            numbers = np.fromiter(self._recent.values(), dtype=np.int64, count=len(keys))
            self._numbers = np.insert(self._numbers, at, numbers[order])
        self._recent = {}
