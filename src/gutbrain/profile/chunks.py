"""Row ranges of a sparse matrix for per-read work in bounded memory (issue 11, memflat).

The estimate's per-read steps (:func:`gutbrain.profile.taxonomy.resolve_reads`,
:func:`gutbrain.profile.contest.join_contested_species`, :func:`gutbrain.profile.em.collapse_rows`)
build several temporaries per stored entry (70–90 bytes each at their peak, measured at 200,000
reads). Run over consecutive row ranges of about :data:`CHUNK_ENTRIES` entries, their
temporaries stay that size whatever the number of reads. Rows are independent in these steps;
sums across rows are accumulated in the rows' order (``np.add.at`` on the running total), which
gives the bit-identical floating-point result of one pass over every row.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from gutbrain._typing import IntArray

__all__ = ["CHUNK_ENTRIES", "row_chunks"]

#: Stored entries per chunk (a few MiB of temporaries; larger chunks were no faster).
CHUNK_ENTRIES = 1 << 16


def row_chunks(indptr: IntArray, entries: int = CHUNK_ENTRIES) -> Iterator[tuple[int, int]]:
    """Consecutive ``(start, stop)`` row ranges covering every row of a CSR ``indptr``, each
    with at most ``entries`` stored entries (a single larger row is a range of its own).

    Examples
    --------
    >>> list(row_chunks(np.array([0, 2, 3, 7, 7, 8]), entries=3))
    [(0, 2), (2, 3), (3, 5)]
    >>> list(row_chunks(np.array([0])))
    []
    """
    if entries < 1:
        message = f"entries must be positive, got {entries}"
        raise ValueError(message)
    n_rows = int(indptr.size) - 1
    start = 0
    while start < n_rows:
        limit = int(indptr[start]) + entries
        stop = int(np.searchsorted(indptr, limit, side="right")) - 1
        stop = min(max(stop, start + 1), n_rows)
        yield start, stop
        start = stop
