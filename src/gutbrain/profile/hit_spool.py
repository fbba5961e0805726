"""A hit table parked on disk while the EM needs the memory (issue 11: memory in the reads).

With a second pass the first pass's hits are needed again after the first estimate: the hits of
the reads it re-aligns choose its references, and the other reads' hits join the second
estimate. Held in memory during the first EM they were the largest part of the 200,000-read
heap peak that grows with the reads (19 MB of 132 MB at 41 bytes a hit, memray). Parked here
they cost nothing while the EM runs, and come back a column at a time. The file is unnamed
(``tempfile.TemporaryFile``): a killed run leaves nothing behind.

Examples
--------
>>> import numpy as np
>>> from gutbrain.profile.align import HitTable
>>> table = HitTable(*(np.arange(3) + k for k in range(10)), np.array([True, False, True]))
>>> parked = HitSpool(table)
>>> del table
>>> back = parked.load()
>>> back.ref.tolist(), back.primary.tolist()
([1, 2, 3], [True, False, True])
>>> parked.load(rows=parked.column("read") > 0).read.tolist()
[1, 2]
>>> parked.close()
"""

from __future__ import annotations

import io
import tempfile
import weakref
from dataclasses import fields
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain.profile.align import HitTable

__all__ = ["HitSpool"]


class HitSpool:
    """A :class:`HitTable` written to an unnamed temporary file, read back a column at a time.

    :meth:`load` returns the table or only some of its rows; memory holds one column of the
    whole table at most beside the rows taken. :meth:`close` (or dropping the spool) frees the
    file.
    """

    def __init__(self, table: HitTable) -> None:
        self._file: io.BufferedRandom | None = tempfile.TemporaryFile(prefix="gutbrain-hits-")  # noqa: SIM115
        # closed when the spool is dropped (also on an error before the second pass)
        self._close = weakref.finalize(self, self._file.close)
        self._length = len(table)
        self._columns: dict[str, tuple[int, np.dtype[Any]]] = {}
        offset = 0
        for field in fields(HitTable):  # the columns' bytes, without a copy
            column = np.ascontiguousarray(getattr(table, field.name))
            self._columns[field.name] = (offset, column.dtype)
            self._file.write(column.view(np.uint8).data)
            offset += column.nbytes
        self._file.flush()

    def __len__(self) -> int:
        return self._length

    def column(self, name: str) -> npt.NDArray[np.generic]:
        """One column of every row."""
        if self._file is None:
            message = "the hit spool is closed"
            raise RuntimeError(message)
        offset, dtype = self._columns[name]
        column = np.empty(self._length, dtype=dtype)
        self._file.seek(offset)
        if self._file.readinto(column.view(np.uint8).data) != column.nbytes:
            message = "the hit spool's temporary file is shorter than written"
            raise OSError(message)
        return column

    def load(self, rows: npt.NDArray[np.bool_] | None = None) -> HitTable:
        """The table, or its ``rows`` (a mask over the hits), back in memory."""
        columns: dict[str, Any] = {}  # the int32 columns and the bool primary flag
        for name in self._columns:
            column = self.column(name)
            columns[name] = column if rows is None else column[rows]
            del column
        return HitTable(**columns)

    def close(self) -> None:
        """Free the file (reading afterwards raises)."""
        self._file = None
        self._close()
