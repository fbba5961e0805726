"""A compact set of hash keys for streaming de-duplication (issue 11: memory per read).

The profiler remembers every read ID it has seen (``GB-FQ-DUPID``) and every distinct
sequence (duplicates are aligned once). A Python ``set`` or ``dict`` costs 60–120 bytes per
key (the int or bytes object, its slot, the load factor); :class:`KeyIndex` keeps the keys in
sorted runs, 8 bytes per 64-bit word (plus 8 for the number of each key when it is numbered),
and the most recent keys in a small ``dict``. When the ``dict`` fills, its keys become a new
sorted run; runs are merged like the levels of a log-structured merge tree (the newest run into
the one before it while that one is not larger), so the runs have geometrically growing sizes,
at most ``log2(keys / batch) + 1`` of them, and each key is copied about ``log2(keys / batch)``
times in all (issue 11, memflat: merging every batch into one array copied all held keys each
time, quadratic in the number of keys). A lookup searches each run.

Runs of ``spill`` keys or more live on disk (issue 11, constant memory: held in memory they
cost 8–24 bytes per read, the profiler's largest per-read state at 200,000 reads): each is an
unnamed temporary file of fixed-size records sorted by key, with the first key of every
``block`` records in memory (its *fences*), and merges into it are made a chunk at a time, so
no merge holds more than a few chunks. One Bloom filter over all keys on disk (8–16 bits per
key, four probes; rebuilt at twice the size when it fills) answers most lookups of absent keys
without reading the disk; a possibly present key reads one block of each disk run
(``os.pread``, from the page cache).

Keys are non-negative Python ints of ``64 * words`` bits (a negative 64-bit ``hash()`` is
taken modulo 2**64). The runs are sorted by the key's low 64-bit word; a lookup finds that
word by binary search and compares the other word of every entry sharing it, so two keys are
equal only when all their bits are. Whether equal keys mean equal *values* is the caller's
concern: :mod:`gutbrain.io.reads` confirms a repeated read-ID hash by re-reading the files,
and :mod:`gutbrain.profile.collect` uses 128-bit BLAKE2b digests of the sequences.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt

__all__ = ["KeyIndex"]

_MASK = (1 << 64) - 1
_WORD = np.dtype(np.uint64)
_NUMBER = np.dtype(np.int64)
#: keys a merge reads from each run at a time
_CHUNK = 1 << 14
#: Bloom filter: probes per key, and bits per disk key when it is (re)built
_PROBES = 4
_BLOOM_BITS_PER_KEY = 16
#: splitmix64's constants (Steele, Lea & Flood 2014), shared by the Python and numpy hashes
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


class KeyIndex:
    """Distinct integer keys, numbered ``0, 1, ...`` in the order they were first added.

    ``words`` is the key width in 64-bit words (1 or 2); ``numbered=False`` keeps no numbers
    (a set: 8 bytes per word and key). ``batch`` keys are held in a ``dict`` before they
    become a sorted run (:attr:`runs`); merged runs of ``spill`` keys or more are kept on
    disk (``None``: never) and searched a ``block`` of records at a time.

    Examples
    --------
    >>> index = KeyIndex(words=2, batch=2)
    >>> [index.add(k) for k in (7, 1 << 70, 3)]
    [0, 1, 2]
    >>> index.number(1 << 70), index.number(3), index.number((1 << 70) + 3)
    (1, 2, None)
    >>> (3 in index, 5 in index, len(index))
    (True, False, 3)
    >>> on_disk = KeyIndex(batch=2, spill=4, block=2)
    >>> [on_disk.add(k) for k in range(10, 20)] == list(range(10))
    True
    >>> on_disk.runs, on_disk.number(17), on_disk.number(20)
    ((8, 2), 7, None)
    """

    __slots__ = (
        "_batch",
        "_block",
        "_bloom",
        "_numbered",
        "_recent",
        "_runs",
        "_size",
        "_spill",
        "_words",
    )

    def __init__(
        self,
        *,
        words: int = 1,
        numbered: bool = True,
        batch: int = 1 << 14,
        spill: int | None = 1 << 16,
        block: int = 256,
    ) -> None:
        if words not in (1, 2):
            message = f"words must be 1 or 2, got {words}"
            raise ValueError(message)
        for name, value in (("batch", batch), ("spill", spill), ("block", block)):
            if value is not None and value < 1:
                message = f"{name} must be positive, got {value}"
                raise ValueError(message)
        self._words = words
        self._batch = batch
        self._numbered = numbered
        self._spill = spill
        self._block = block
        # sorted runs, oldest (largest) first
        self._runs: list[_Run] = []
        self._recent: dict[int, int] = {}
        self._size = 0
        self._bloom = _Bloom(0)  # over the keys of the disk runs

    def __len__(self) -> int:
        return self._size

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self._find(self._key(key)) is not None

    @property
    def nbytes(self) -> int:
        """Bytes held in memory by the sorted runs, the disk runs' fences and the Bloom filter
        (not counting the recent keys' ``dict``)."""
        return sum(run.nbytes for run in self._runs) + self._bloom.nbytes

    @property
    def runs(self) -> tuple[int, ...]:
        """The number of keys in each sorted run, oldest first (sizes shrink geometrically)."""
        return tuple(run.size for run in self._runs)

    @property
    def runs_on_disk(self) -> tuple[bool, ...]:
        """Whether each sorted run (as in :attr:`runs`) is kept on disk."""
        return tuple(isinstance(run, _DiskRun) for run in self._runs)

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

    def close(self) -> None:
        """Delete the disk runs' files and forget every key (idempotent)."""
        for run in self._runs:
            run.close()
        self._runs = []
        self._recent = {}
        self._size = 0
        self._bloom = _Bloom(0)

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
        word = key & _MASK
        high = key >> 64
        on_disk: bool | None = None  # whether the Bloom filter may hold the key (once asked)
        for run in self._runs:
            if isinstance(run, _DiskRun):
                if on_disk is None:
                    on_disk = self._bloom.may_hold(_probes(word, high))
                if not on_disk:
                    continue
            found = run.find(word, high)
            if found is not None:
                return found
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
            np.fromiter(self._recent.values(), dtype=_NUMBER, count=len(keys))[order]
            if self._numbered
            else None
        )
        self._runs.append(_MemoryRun(low[order], high, numbers))
        self._recent = {}
        # the newest run into the one before it while that one is not larger (a binary
        # counter: each key is copied once per doubling of the keys held)
        while len(self._runs) >= 2 and self._runs[-2].size <= self._runs[-1].size:
            self._runs[-2:] = [self._merge(self._runs[-2], self._runs[-1])]

    def _merge(self, older: _Run, newer: _Run) -> _Run:
        """The last two runs (both still in :attr:`_runs`) as one."""
        size = older.size + newer.size
        small = self._spill is None or size < self._spill
        if small and isinstance(older, _MemoryRun) and isinstance(newer, _MemoryRun):
            return older.merged(newer)
        # the keys entering the disk, in one call (a rebuild then sees every disk key)
        self._bloom_add(
            [
                chunk
                for run in (older, newer)
                if isinstance(run, _MemoryRun)
                for chunk in run.chunks()
            ]
        )
        merged = _DiskRun.write(
            _merge_chunks(older.chunks(), newer.chunks()),
            size=size,
            words=self._words,
            numbered=self._numbered,
            block=self._block,
        )
        older.close()
        newer.close()
        return merged

    def _bloom_add(self, chunks: list[_Chunk]) -> None:
        """Add keys to the Bloom filter, first rebuilding it larger from the disk runs' keys
        when they would overfill it."""
        on_disk = sum(run.size for run in self._runs if isinstance(run, _DiskRun))
        needed = on_disk + sum(chunk.low.size for chunk in chunks)
        if needed > self._bloom.capacity:
            self._bloom = _Bloom(needed)
            for run in self._runs:
                if isinstance(run, _DiskRun):
                    for chunk in run.chunks():
                        self._bloom.add(chunk)
        for chunk in chunks:
            self._bloom.add(chunk)


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Consecutive keys of a sorted run: low words, high words and numbers (``None`` when the
    index has no such field)."""

    low: npt.NDArray[np.uint64]
    high: npt.NDArray[np.uint64] | None
    numbers: npt.NDArray[np.int64] | None

    def __getitem__(self, part: slice) -> _Chunk:
        return _Chunk(
            self.low[part],
            self.high[part] if self.high is not None else None,
            self.numbers[part] if self.numbers is not None else None,
        )

    @staticmethod
    def concat(chunks: list[_Chunk]) -> _Chunk:
        first = chunks[0]
        if len(chunks) == 1:
            return first
        return _Chunk(
            np.concatenate([c.low for c in chunks]),
            np.concatenate([c.high for c in chunks]) if first.high is not None else None,
            np.concatenate([c.numbers for c in chunks]) if first.numbers is not None else None,
        )

    def find(self, word: int, high: int) -> int | None:
        """The number of the key ``(high, word)``, its position when the index keeps no
        numbers, ``None`` when absent."""
        low = self.low
        i = int(low.searchsorted(np.uint64(word)))
        while i < low.size and int(low[i]) == word:
            if self.high is None or int(self.high[i]) == high:
                return int(self.numbers[i]) if self.numbers is not None else i
            i += 1
        return None

    def merged(self, newer: _Chunk) -> _Chunk:
        """Both chunks' keys in one sorted chunk (linear: ``searchsorted`` and ``np.insert``)."""
        at = self.low.searchsorted(newer.low)
        return _Chunk(
            np.insert(self.low, at, newer.low),
            np.insert(self.high, at, newer.high)
            if self.high is not None and newer.high is not None
            else None,
            np.insert(self.numbers, at, newer.numbers)
            if self.numbers is not None and newer.numbers is not None
            else None,
        )


class _MemoryRun(_Chunk):
    """A sorted run held in memory."""

    __slots__ = ()

    @property
    def size(self) -> int:
        return int(self.low.size)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.low, self.high, self.numbers) if a is not None)

    def merged(self, newer: _Chunk) -> _MemoryRun:
        both = _Chunk.merged(self, newer)
        return _MemoryRun(both.low, both.high, both.numbers)

    def chunks(self) -> Iterator[_Chunk]:
        for start in range(0, self.size, _CHUNK):
            yield self[start : start + _CHUNK]

    def close(self) -> None:
        pass


class _DiskRun:
    """A sorted run in an unnamed temporary file of records (low word[, high word][, number]),
    with the low word of every ``block``-th record in memory."""

    __slots__ = (
        "__weakref__",
        "_close",
        "_file",
        "block",
        "dtype",
        "fences",
        "has_high",
        "has_number",
        "size",
    )

    def __init__(
        self,
        file: IO[bytes],
        *,
        size: int,
        dtype: np.dtype[np.void],
        fences: npt.NDArray[np.uint64],
        block: int,
    ) -> None:
        self._file = file
        # closed when the run is dropped (an error while the keys are collected)
        self._close = weakref.finalize(self, file.close)
        self.size = size
        self.dtype = dtype
        self.fences = fences
        self.block = block
        names = dtype.names or ()
        self.has_high = "high" in names
        self.has_number = "number" in names

    @classmethod
    def write(
        cls, chunks: Iterable[_Chunk], *, size: int, words: int, numbered: bool, block: int
    ) -> _DiskRun:
        fields: list[tuple[str, np.dtype[Any]]] = [("low", _WORD)]
        if words == 2:
            fields.append(("high", _WORD))
        if numbered:
            fields.append(("number", _NUMBER))
        dtype = np.dtype(fields)
        file = tempfile.TemporaryFile(prefix="gutbrain-keys-")  # noqa: SIM115
        fences = np.empty((size + block - 1) // block, dtype=_WORD)
        written = 0
        try:
            for chunk in chunks:
                end = written + chunk.low.size
                if end > size:
                    message = f"a merge of {size} keys gave more"
                    raise RuntimeError(message)
                records = np.empty(chunk.low.size, dtype=dtype)
                records["low"] = chunk.low
                if chunk.high is not None:
                    records["high"] = chunk.high
                if chunk.numbers is not None:
                    records["number"] = chunk.numbers
                first = -written % block  # this chunk's first record that starts a block
                fences[(written + first) // block : -(-end // block)] = chunk.low[first::block]
                file.write(records.tobytes())
                written = end
            if written != size:
                message = f"a merge of {size} keys gave {written}"
                raise RuntimeError(message)
            file.flush()  # lookups read the file descriptor (os.pread)
        except BaseException:
            file.close()
            raise
        return cls(file, size=size, dtype=dtype, fences=fences, block=block)

    @property
    def nbytes(self) -> int:
        return int(self.fences.nbytes)

    def _chunk(self, start: int, stop: int) -> _Chunk:
        """Records ``start:stop`` read back (each field a contiguous copy)."""
        width = self.dtype.itemsize
        data = os.pread(self._file.fileno(), (stop - start) * width, start * width)
        records = np.frombuffer(data, dtype=self.dtype)
        return _Chunk(
            records["low"].copy(),
            records["high"].copy() if self.has_high else None,
            records["number"].copy() if self.has_number else None,
        )

    def find(self, word: int, high: int) -> int | None:
        # the blocks that can hold ``word``: from the last one starting below it to the last
        # one starting at it (equal low words may cross a block's end)
        value = np.uint64(word)
        first = max(int(self.fences.searchsorted(value, side="left")) - 1, 0)
        last = max(int(self.fences.searchsorted(value, side="right")), first + 1)
        start = first * self.block
        found = self._chunk(start, min(last * self.block, self.size)).find(word, high)
        return start + found if found is not None and not self.has_number else found

    def chunks(self) -> Iterator[_Chunk]:
        for start in range(0, self.size, _CHUNK):
            yield self._chunk(start, min(start + _CHUNK, self.size))

    def close(self) -> None:
        self._close()


_Run = _MemoryRun | _DiskRun


def _merge_chunks(older: Iterator[_Chunk], newer: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """Two sorted runs' keys as one sorted sequence of chunks, a chunk of each at a time."""
    pending: list[_Chunk] = []  # newer keys not yet written, in order
    newer_done = False
    for chunk in older:
        last = chunk.low[-1]
        # the newer keys up to this chunk's last (and the chunk that passes it)
        while not newer_done and (not pending or pending[-1].low[-1] <= last):
            following = next(newer, None)
            if following is None:
                newer_done = True
            else:
                pending.append(following)
        if not pending:
            yield chunk
            continue
        waiting = _Chunk.concat(pending)
        cut = int(waiting.low.searchsorted(last, side="right"))
        pending = [waiting[cut:]] if cut < waiting.low.size else []
        yield chunk.merged(waiting[:cut])
    yield from pending
    yield from newer


def _splitmix(x: int) -> int:
    """splitmix64's finaliser of a 64-bit word."""
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK
    return x ^ (x >> 31)


def _probes(word: int, high: int) -> tuple[int, int]:
    """A key's two 64-bit Bloom hashes (double hashing: probe ``i`` is ``h1 + i * h2``)."""
    first = _splitmix((word ^ _splitmix(high)) & _MASK)
    return first, _splitmix((first + _GOLDEN) & _MASK) | 1


def _probes_of(chunk: _Chunk) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """:func:`_probes` of every key of a chunk (numpy: ``uint64`` arithmetic wraps)."""

    def mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX2)
        return x ^ (x >> np.uint64(31))

    high = chunk.high if chunk.high is not None else np.zeros(chunk.low.size, dtype=_WORD)
    first = mix(chunk.low ^ mix(high))
    return first, mix(first + np.uint64(_GOLDEN)) | np.uint64(1)


class _Bloom:
    """A Bloom filter of a power of two bits, at least ``_BLOOM_BITS_PER_KEY`` per key for
    ``keys`` keys; it holds up to ``capacity`` keys at half that density."""

    __slots__ = ("_bits", "_shift", "_view", "capacity")

    def __init__(self, keys: int) -> None:
        if keys:
            bits = max(6, (keys * _BLOOM_BITS_PER_KEY - 1).bit_length())
            self._bits = np.zeros(1 << (bits - 3), dtype=np.uint8)
        else:  # no bits for no keys (an index without disk runs never asks)
            bits = 3
            self._bits = np.zeros(0, dtype=np.uint8)
        self._view = self._bits.data  # plain ints when probed one key at a time
        self._shift = 64 - bits
        self.capacity = 2 * (1 << bits) // _BLOOM_BITS_PER_KEY if keys else 0

    @property
    def nbytes(self) -> int:
        return int(self._bits.nbytes)

    def add(self, chunk: _Chunk) -> None:
        first, step = _probes_of(chunk)
        shift = np.uint64(self._shift)
        for i in range(_PROBES):
            at = (first + np.uint64(i) * step) >> shift
            bit = np.left_shift(np.uint8(1), (at & np.uint64(7)).astype(np.uint8))
            np.bitwise_or.at(self._bits, at >> np.uint64(3), bit)

    def may_hold(self, probes: tuple[int, int]) -> bool:
        first, step = probes
        bits = self._view
        for i in range(_PROBES):
            at = ((first + i * step) & _MASK) >> self._shift
            if not bits[at >> 3] >> (at & 7) & 1:
                return False
        return True
