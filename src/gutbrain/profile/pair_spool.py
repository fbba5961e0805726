"""Values on the EM's pairs that wait on disk until the estimate is settled (issue 11).

:func:`gutbrain.profile.entries.estimate_entries` builds three matrices on the same pairs
(read × unit): the EM's log-likelihoods, the congener contest's log-likelihoods and the
species-group rule's identities. Only the first is needed while the EM runs; the other two are
read once afterwards, a row range at a time (:func:`gutbrain.profile.taxonomy.candidate_chunks`,
:func:`gutbrain.profile.contest.join_contested_species`). :class:`SpooledRows` keeps such a
matrix's values in an unnamed temporary file (nothing is left behind when the process is
killed) and its structure, shared with the EM's matrix, in memory: 8 bytes per pair fewer for
each of the two through the EM and its pruning runs.
"""

from __future__ import annotations

import os
import tempfile
import weakref

import numpy as np
import scipy.sparse as sp

__all__ = ["SpooledRows"]


class SpooledRows:
    """A CSR matrix whose values are on disk; ``spooled[start:stop]`` reads rows back.

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[0.5, 0.0, 1.5], [0.0, 0.0, 0.0], [2.0, 3.0, 0.0]]))
    >>> spooled = SpooledRows(m)
    >>> spooled[1:3].toarray().tolist()
    [[0.0, 0.0, 0.0], [2.0, 3.0, 0.0]]
    >>> spooled.shape, spooled.indptr.tolist()
    ((3, 3), [0, 2, 2, 4])
    >>> spooled.close()
    """

    __slots__ = ("__weakref__", "_close", "_dtype", "_file", "indices", "indptr", "shape")

    def __init__(self, matrix: sp.csr_matrix) -> None:
        self.indptr = matrix.indptr
        self.indices = matrix.indices
        self.shape: tuple[int, int] = matrix.shape
        data = np.ascontiguousarray(matrix.data)
        self._dtype = data.dtype
        self._file = tempfile.TemporaryFile(prefix="gutbrain-pairs-", buffering=0)  # noqa: SIM115
        # closed when dropped (an error between the estimate and its settling)
        self._close = weakref.finalize(self, self._file.close)
        data.tofile(self._file)

    def __getitem__(self, rows: slice) -> sp.csr_matrix:
        """Rows ``rows`` (a slice with step 1) as a CSR matrix with their values."""
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            message = f"rows are read in ranges (step 1), got step {step}"
            raise ValueError(message)
        stop = max(start, stop)
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        width = self._dtype.itemsize
        raw = os.pread(self._file.fileno(), (hi - lo) * width, lo * width)
        if len(raw) != (hi - lo) * width:
            message = f"the spooled values ended early: {len(raw)} of {(hi - lo) * width} bytes"
            raise RuntimeError(message)
        data = np.frombuffer(bytearray(raw), dtype=self._dtype)
        return sp.csr_matrix(
            (data, self.indices[lo:hi], self.indptr[start : stop + 1] - lo),
            shape=(stop - start, self.shape[1]),
        )

    def close(self) -> None:
        """Delete the temporary file (idempotent)."""
        self._close()
