"""The profiler's hits on disk, read back a window of distinct reads at a time (issue 11:
memory that does not grow with the reads).

The first pass's alignments and stand-ins are appended here as they come, and the estimates
read them in *windows*: all hits of the distinct reads ``k × window … (k + 1) × window - 1``,
ordered by read. Every per-read step of an estimate (classification, the error model's counts,
the likelihood matrices) needs only a read's own hits, so memory holds one window of hits
instead of all of them (at 200,000 ONT reads the hits were 19.5 MB, held twice while the
collection joined its tables, and sorted once more for the matrices).

Each appended table is sorted by read (stably) and cut at window bounds; each piece is one
block of the file, its columns one after another. A window's blocks are read back in the order
they were appended and sorted by read stably, so a read's hits keep the order they were
appended in. The file is unnamed (``tempfile.TemporaryFile``): a killed run leaves nothing
behind.

Examples
--------
>>> import numpy as np
>>> from gutbrain.profile.align import HitTable
>>> def table(reads):
...     reads = np.array(reads)
...     return HitTable(reads, *(reads * 10 + k for k in range(1, 10)), reads % 2 == 0)
>>> spool = HitSpool(window=2)
>>> spool.append(table([3, 0]))
>>> spool.append(table([1, 2]))
>>> [w.read.tolist() for w in spool.windows()]
[[0, 1], [2, 3]]
>>> [w.read.tolist() for w in spool.windows(skip=np.array([False, True, False, False]))]
[[0], [2, 3]]
>>> len(spool), spool.load().ref.tolist()
(4, [1, 11, 21, 31])
>>> spool.close()
"""

from __future__ import annotations

import io
import itertools
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain.profile.align import HitTable

__all__ = ["WINDOW_READS", "HitSpool", "joined_windows"]

#: Distinct reads per window (~11,000 ONT hits, 0.5 MB). The estimate's matrix build peaked
#: 12.7 MB above its start with windows of 16,384 reads and 5.9 MB with 4,096 (tracemalloc,
#: 50,000 ONT reads): the window's temporaries, not the reads, set that peak.
WINDOW_READS = 1 << 12

_FIELDS = tuple(f.name for f in fields(HitTable))
_DTYPES = tuple(np.dtype(np.bool_) if name == "primary" else np.dtype(np.int32) for name in _FIELDS)
_ROW_BYTES = sum(d.itemsize for d in _DTYPES)

BoolArray = npt.NDArray[np.bool_]


class HitSpool:
    """Append-only :class:`HitTable` store in an unnamed temporary file, read by windows of
    ``window`` distinct reads (:meth:`windows`; default :data:`WINDOW_READS`). :meth:`close`
    (or dropping the spool) frees the file."""

    def __init__(self, *, window: int | None = None) -> None:
        window = WINDOW_READS if window is None else window
        if window < 1:
            message = f"window must be positive, got {window}"
            raise ValueError(message)
        self.window = window
        self._file: io.BufferedRandom | None = tempfile.TemporaryFile(prefix="gutbrain-hits-")  # noqa: SIM115
        # closed when the spool is dropped (also on an error before the estimate)
        self._close = weakref.finalize(self, self._file.close)
        self._blocks: dict[int, list[tuple[int, int]]] = {}  # window -> [(offset, hits)]
        self._end = 0
        self._length = 0

    def __len__(self) -> int:
        return self._length

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._file is None

    def append(self, table: HitTable) -> None:
        """Store the hits of ``table`` (``read`` = distinct read index, not negative)."""
        handle = self._open()
        n = len(table)
        if not n:
            return
        read = table.read
        if bool(np.any(read[1:] < read[:-1])):
            table = table.take(np.argsort(read, kind="stable"))
        window = table.read // self.window
        cuts = (np.flatnonzero(window[1:] != window[:-1]) + 1).tolist()
        handle.seek(self._end)
        for lo, hi in itertools.pairwise([0, *cuts, n]):
            handle.write(b"".join(_column_bytes(table, name, lo, hi) for name in _FIELDS))
            self._blocks.setdefault(int(window[lo]), []).append((self._end, hi - lo))
            self._end += (hi - lo) * _ROW_BYTES
        self._length += n

    def windows(self, *, skip: BoolArray | None = None) -> Iterator[HitTable]:
        """The hits window by window, each ordered by read; without the hits of the distinct
        reads ``skip`` marks. Empty windows are left out."""
        return joined_windows((self, skip))

    def load(self) -> HitTable:
        """Every hit in one table, ordered by read (tests and small samples)."""
        return HitTable.concat(list(self.windows()))

    def close(self) -> None:
        """Free the file (reading or appending afterwards raises)."""
        self._file = None
        self._close()

    def window_keys(self) -> set[int]:
        """The windows that hold hits (window ``k``: reads ``k × window`` …)."""
        return set(self._blocks)

    def window_table(self, key: int, skip: BoolArray | None = None) -> HitTable | None:
        """The hits of window ``key`` ordered by read, without those of the reads ``skip``
        marks (``None`` when the window holds none)."""
        handle = self._open()
        parts = []
        for offset, n in self._blocks.get(key, ()):
            buffer = bytearray(n * _ROW_BYTES)
            handle.seek(offset)
            if handle.readinto(buffer) != len(buffer):
                message = "the hit spool's temporary file is shorter than written"
                raise OSError(message)
            columns: dict[str, Any] = {}
            at = 0
            for name, dtype in zip(_FIELDS, _DTYPES, strict=True):
                columns[name] = np.frombuffer(buffer, dtype=dtype, count=n, offset=at)
                at += n * dtype.itemsize
            parts.append(HitTable(**columns))
        if not parts:
            return None
        table = _by_read(parts)
        if skip is not None:
            table = table.take(~skip[table.read])
        return table

    def _open(self) -> io.BufferedRandom:
        if self._file is None:
            message = "the hit spool is closed"
            raise RuntimeError(message)
        return self._file


def joined_windows(*sources: tuple[HitSpool, BoolArray | None]) -> Iterator[HitTable]:
    """The hits of several spools (each with the distinct reads to ``skip``, or ``None``) window
    by window: a window holds every kept hit of its reads from every spool, ordered by read
    (a read's hits from the first spool first). All spools must have the same window."""
    widths = {spool.window for spool, _ in sources}
    if len(widths) > 1:
        message = f"spools of different windows: {sorted(widths)}"
        raise ValueError(message)
    keys = sorted(set().union(*(spool.window_keys() for spool, _ in sources)))
    for key in keys:
        found = [spool.window_table(key, skip) for spool, skip in sources]
        parts = [table for table in found if table is not None and len(table)]
        del found
        if parts:
            yield _by_read(parts)


def _by_read(parts: list[HitTable]) -> HitTable:
    """``parts`` joined and stably ordered by read."""
    table = parts[0] if len(parts) == 1 else HitTable.concat(parts)
    read = table.read
    if bool(np.any(read[1:] < read[:-1])):
        table = table.take(np.argsort(read, kind="stable"))
    return table


def _column_bytes(table: HitTable, name: str, lo: int, hi: int) -> bytes:
    return np.ascontiguousarray(getattr(table, name)[lo:hi]).tobytes()
