"""Compact per-read state of one profiling run (issue 11: memory that does not grow per read).

The profiler streams its reads once. What it must remember about them until the estimate is
made is kept here, in forms that cost a few bytes per read instead of Python objects:

- :class:`SequenceSpool`: the distinct sequences the second alignment pass may need, 2-bit
  packed in an anonymous temporary file (unlinked on creation, so nothing is left behind
  even when the process is killed); memory holds each record's size (4 bytes per distinct
  read).
- :class:`ReadLog`: how many input reads each distinct read stands for (its EM weight; one
  byte per distinct read, larger counts aside) and,
  only when the caller wants ``read_assignments.tsv``, each read's name and its distinct read
  (or QC drop reason). Without it, every per-read figure in ``qc.json`` is a count over
  distinct reads weighted by their multiplicity.
"""

from __future__ import annotations

import tempfile
import weakref
from array import array
from collections.abc import Sequence
from typing import IO

import numpy as np
import numpy.typing as npt

__all__ = ["ReadLog", "SequenceSpool", "pack_sequences", "unpack_sequence"]


#: :class:`SequenceSpool` keeps the file offset of every this many records.
_OFFSET_EVERY = 256


class SequenceSpool:
    """Append-only store of sequences in a temporary file, read back by position.

    Issue 11 (secondpass): sequences are stored 2-bit packed, four bases a byte, with the
    positions of any letter other than ``A``/``C``/``G``/``T`` beside them
    (:func:`pack_sequences`). Appends are packed a block at a time
    (``block`` sequences, vectorised), so the per-read cost is a few microseconds
    where per-read zlib (Huffman) coding cost ~15 µs, and the file is smaller (2 bits a base
    instead of ~2.3). Memory holds each stored record's size (4 bytes), the file offset of
    every 256th record and the sequences of one block not yet packed.

    Examples
    --------
    >>> spool = SequenceSpool()
    >>> spool.append("ACGT")
    >>> spool.append("GGGCCA")
    >>> spool.append("ACNT")
    >>> spool.get([1, 0, 2])
    ['GGGCCA', 'ACGT', 'ACNT']
    >>> len(spool)
    3
    >>> spool.close()
    """

    def __init__(self, *, block: int = 256) -> None:
        self._block = max(1, block)
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="gutbrain-reads-")  # noqa: SIM115
        # closed when the spool is dropped (an error between collecting and the second pass)
        self._close = weakref.finalize(self, self._file.close)
        # issue 11: each stored record's size (4 bytes), and the file offset of every
        # _OFFSET_EVERY-th record
        self._sizes = array("I")
        self._starts = array("q", [0])
        self._pending: list[str] = []  # appended, not yet packed and written
        self._dirty = False

    def __len__(self) -> int:
        return len(self._sizes) + len(self._pending)

    def append(self, sequence: str) -> None:
        """Store ``sequence`` (ASCII) as the next position."""
        self._pending.append(sequence)
        if len(self._pending) >= self._block:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending:
            return
        records = pack_sequences(self._pending)
        self._pending = []
        sizes, starts = self._sizes, self._starts
        for record in records:
            if len(sizes) == len(starts) * _OFFSET_EVERY:  # the last group is full
                starts.append(starts[-1] + sum(sizes[-_OFFSET_EVERY:]))
            sizes.append(len(record))
        self._file.write(b"".join(records))
        self._dirty = True

    def get(self, positions: Sequence[int]) -> list[str]:
        """The sequences at ``positions`` (in that order)."""
        self._write_pending()
        if self._dirty:
            self._file.flush()
            self._dirty = False
        out = []
        for i in positions:
            group = i // _OFFSET_EVERY
            start = self._starts[group] + sum(self._sizes[group * _OFFSET_EVERY : i])
            self._file.seek(start)
            out.append(unpack_sequence(self._file.read(self._sizes[i])))
        self._file.seek(0, 2)  # back to the end for further appends
        return out

    def close(self) -> None:
        """Delete the temporary file (idempotent)."""
        self._pending = []
        self._close()


_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
#: ``bytes.translate`` tables: A, C, G, T -> 0-3 and any other byte -> 0; other bytes -> 1
_TO_CODE = bytes(max(b"ACGT".find(bytes([i])), 0) for i in range(256))
_OTHER = bytes(int(i not in b"ACGT") for i in range(256))
_PADDING = ("", "A", "AA", "AAA")  # by padding length
#: Tag of a record with other letters than A, C, G, T: ``_WITH_OTHERS`` + padding length.
_WITH_OTHERS = 4
_HEADERS = tuple(bytes([tag]) for tag in range(2 * _WITH_OTHERS))
_U32 = np.dtype("<u4")


def pack_sequences(sequences: Sequence[str]) -> list[bytes]:
    """One record per sequence (ASCII; ``UnicodeEncodeError`` otherwise), read back by
    :func:`unpack_sequence`.

    The bases are packed four a byte (``A``, ``C``, ``G``, ``T`` = 0-3, first base in the high
    bits; the last byte padded). A sequence of those letters only is a tag byte (the number of
    padding bases, 0-3) and the packed bases; a sequence with other letters (``N``, IUPAC codes)
    is a tag byte of 4 + padding, the number ``n`` of other letters (``uint32``, little-endian),
    their ``n`` positions (``uint32``), the ``n`` letters, then the packed bases (others packed
    as ``A``).

    Examples
    --------
    >>> pack_sequences(["ACGTA", ""])
    [b'\\x03\\x1b\\x00', b'\\x00']
    >>> pack_sequences(["AN"])
    [b'\\x06\\x01\\x00\\x00\\x00\\x01\\x00\\x00\\x00N\\x00']
    """
    # each sequence padded to a multiple of four bases, so that each starts a byte
    pads = [-len(sequence) % 4 for sequence in sequences]
    data = "".join(
        [sequence + _PADDING[pad] for sequence, pad in zip(sequences, pads, strict=True)]
    ).encode("ascii")
    quads = np.frombuffer(data.translate(_TO_CODE), dtype=np.uint8).reshape(-1, 4)
    packed = ((quads[:, 0] << 6) | (quads[:, 1] << 4) | (quads[:, 2] << 2) | quads[:, 3]).tobytes()
    sizes = [(len(sequence) + pad) // 4 for sequence, pad in zip(sequences, pads, strict=True)]
    others = np.flatnonzero(np.frombuffer(data.translate(_OTHER), dtype=np.bool_))
    if others.size:  # where each sequence's other letters are
        starts = 4 * (np.cumsum(sizes) - sizes)
        owner = np.searchsorted(starts, others, side="right") - 1
        first = np.searchsorted(owner, np.arange(len(sequences) + 1)).tolist()
        letters = np.frombuffer(data, dtype=np.uint8)[others].tobytes()
        positions = (others - starts[owner]).astype(_U32)
    records: list[bytes] = []
    at = 0
    for i, (pad, size) in enumerate(zip(pads, sizes, strict=True)):
        bases = packed[at : at + size]
        at += size
        if not others.size or first[i] == first[i + 1]:
            records.append(_HEADERS[pad] + bases)
            continue
        lo, hi = first[i], first[i + 1]
        records.append(
            b"".join(
                [
                    _HEADERS[_WITH_OTHERS + pad],
                    (hi - lo).to_bytes(4, "little"),
                    positions[lo:hi].tobytes(),
                    letters[lo:hi],
                    bases,
                ]
            )
        )
    return records


def unpack_sequence(record: bytes) -> str:
    """The sequence of one :func:`pack_sequences` record.

    Examples
    --------
    >>> [unpack_sequence(r) for r in pack_sequences(["ACGTA", "", "NACGTRY"])]
    ['ACGTA', '', 'NACGTRY']
    """
    tag = record[0]
    start = 1
    count = 0
    if tag >= _WITH_OTHERS:
        tag -= _WITH_OTHERS
        count = int.from_bytes(record[1:5], "little")
        start = 5 + 5 * count
    packed = np.frombuffer(record, dtype=np.uint8, offset=start)
    quads = np.empty((packed.size, 4), dtype=np.uint8)
    quads[:, 0] = packed >> 6
    quads[:, 1] = (packed >> 4) & 3
    quads[:, 2] = (packed >> 2) & 3
    quads[:, 3] = packed & 3
    bases = _BASES[quads.ravel()[: 4 * packed.size - tag]]
    if count:
        positions = np.frombuffer(record, dtype=_U32, count=count, offset=5)
        bases[positions] = np.frombuffer(record, dtype=np.uint8, count=count, offset=5 + 4 * count)
    return bases.tobytes().decode("ascii")


_BYTE_MAX = 255


class ReadLog:
    """Per-read bookkeeping: distinct-read multiplicities, and names only when asked for.

    ``keep_names`` keeps each read's name and its outcome code (distinct read index ``>= 0``,
    or ``-1 - k`` for the ``k``-th QC drop reason in :attr:`reasons`); without it nothing is kept
    per input read.
    """

    def __init__(self, *, keep_names: bool) -> None:
        self.keep_names = keep_names
        self.names: list[str] = []
        self._codes = array("q")
        # issue 11: one byte per distinct read (its multiplicity up to 255), the rare larger
        # multiplicities in a dict
        self._multiplicity = array("B")
        self._large: dict[int, int] = {}
        self.reasons: list[str] = []

    @property
    def n_distinct(self) -> int:
        """Distinct reads seen so far."""
        return len(self._multiplicity)

    def dropped(self, name: str, reason: str) -> None:
        """A read dropped by read QC for ``reason``."""
        if self.keep_names:
            if reason not in self.reasons:
                self.reasons.append(reason)
            self.names.append(name)
            self._codes.append(-1 - self.reasons.index(reason))

    def kept(self, name: str, distinct: int) -> None:
        """A read kept by read QC, an occurrence of distinct read ``distinct`` (a new one is
        numbered :attr:`n_distinct`)."""
        if distinct == len(self._multiplicity):
            self._multiplicity.append(1)
        elif self._multiplicity[distinct] < _BYTE_MAX:
            self._multiplicity[distinct] += 1
        else:
            self._large[distinct] = self._large.get(distinct, _BYTE_MAX) + 1
        if self.keep_names:
            self.names.append(name)
            self._codes.append(distinct)

    def weights(self) -> npt.NDArray[np.float64]:
        """Input reads per distinct read."""
        weights = np.frombuffer(self._multiplicity, dtype=np.uint8).astype(np.float64)
        for distinct, count in self._large.items():
            weights[distinct] = count
        return weights

    def codes(self) -> npt.NDArray[np.int64]:
        """Per kept name: distinct read index, or ``-1 - k`` for QC drop reason ``k``."""
        return np.frombuffer(self._codes, dtype=np.int64).copy()
