"""A compact set of hash keys for streaming de-duplication (issue 11: memory per read).

The profiler remembers every read ID it has seen (``GB-FQ-DUPID``) and every distinct
sequence (duplicates are aligned once). A Python ``set`` or ``dict`` costs 60–120 bytes per
key (the int or bytes object, its slot, the load factor); :class:`KeyIndex` keeps the keys in
sorted numpy arrays, 8 bytes per 64-bit word (plus 8 for the number of each key when it is
numbered), and the most recent keys in a small ``dict``. When the ``dict`` fills, its keys
become a new sorted run; runs are merged like the levels of a log-structured merge tree (the
newest run into the one before it while that one is not larger), so the runs have
geometrically growing sizes, at most ``log2(keys / batch) + 1`` of them, and each key is
copied about ``log2(keys / batch)`` times in all (issue 11, memflat: merging every batch into
one array copied all held keys each time, quadratic in the number of keys). A lookup searches
each run.

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
    (a set: 8 bytes per word and key). ``batch`` keys are held in a ``dict`` before they
    become a sorted run (:attr:`runs`).

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

    __slots__ = ("_batch", "_numbered", "_recent", "_runs", "_size", "_words")

    def __init__(self, *, words: int = 1, numbered: bool = True, batch: int = 1 << 14) -> None:
        if words not in (1, 2):
            message = f"words must be 1 or 2, got {words}"
            raise ValueError(message)
        if batch < 1:
            message = f"batch must be positive, got {batch}"
            raise ValueError(message)
        self._words = words
        self._batch = batch
        self._numbered = numbered
        # issue 11 (memflat): sorted runs, oldest (largest) first; each one is
        # (low words, high words or None, numbers or None)
        self._runs: list[_Run] = []
        self._recent: dict[int, int] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(self._key(key)) is not None

    @property
    def nbytes(self) -> int:
        """Bytes held by the sorted runs (not counting the recent keys' ``dict``)."""
        return sum(a.nbytes for run in self._runs for a in run if a is not None)

    @property
    def runs(self) -> tuple[int, ...]:
        """The number of keys in each sorted run, oldest first (sizes shrink geometrically)."""
        return tuple(run[0].size for run in self._runs)

    def number(self, key: int) -> int | None:
        """The number of ``key`` (its order of first addition), ``None`` when it is absent."""
        if not self._numbered:
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
            self._flush()
        return number

    def _key(self, key: int) -> int:
        if key < 0:
            key &= _MASK
        if key >> (64 * self._words):
            message = f"key {key:#x} is wider than {64 * self._words} bits"
            raise ValueError(message)
        return key

    def _find(self, key: int) -> int | None:
        """The number of ``key`` (a non-negative int when unnumbered), ``None`` when absent."""
        found = self._recent.get(key)
        if found is not None:
            return found
        word = np.uint64(key & _MASK)
        high = key >> 64
        for low, highs, numbers in self._runs:
            i = int(low.searchsorted(word))
            while i < low.size and low[i] == word:
                if highs is None or int(highs[i]) == high:
                    return int(numbers[i]) if numbers is not None else i
                i += 1
        return None

    def _flush(self) -> None:
        """Make the recent keys a sorted run; merge runs so their sizes grow geometrically."""
        keys = list(self._recent)
        low = np.fromiter((k & _MASK for k in keys), dtype=_WORD, count=len(keys))
        order = np.argsort(low, kind="stable")
        high = (
            np.fromiter((k >> 64 for k in keys), dtype=_WORD, count=len(keys))[order]
            if self._words == 2
            else None
        )
        numbers = (
            np.fromiter(self._recent.values(), dtype=np.int64, count=len(keys))[order]
            if self._numbered
            else None
        )
        self._runs.append((low[order], high, numbers))
        self._recent = {}
        # the newest run into the one before it while that one is not larger (a binary
        # counter: each key is copied once per doubling of the keys held)
        while len(self._runs) >= 2 and self._runs[-2][0].size <= self._runs[-1][0].size:
            newer = self._runs.pop()
            self._runs[-1] = _merge(self._runs[-1], newer)


#: A sorted run of keys: low words, high words (2-word keys) and numbers (numbered index).
_Run = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64] | None, npt.NDArray[np.int64] | None]


def _merge(older: _Run, newer: _Run) -> _Run:
    """Two sorted runs as one (linear: ``searchsorted`` and ``np.insert``)."""
    at = older[0].searchsorted(newer[0])
    high = (
        np.insert(older[1], at, newer[1]) if older[1] is not None and newer[1] is not None else None
    )
    numbers = (
        np.insert(older[2], at, newer[2]) if older[2] is not None and newer[2] is not None else None
    )
    return np.insert(older[0], at, newer[0]), high, numbers
