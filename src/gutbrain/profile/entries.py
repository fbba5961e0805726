"""What the estimate takes from its alignments, in row chunks (issue 11, memstream).

:func:`gutbrain.profile.fit._estimate` needs, per alignment of a read in the EM, its EM row,
its taxon unit, its log-likelihood (:func:`gutbrain.profile.likelihood.alignment_log_likelihood`),
with ad-hoc groups its contest log-likelihood
(:func:`gutbrain.profile.contest.contest_log_likelihood`) and with species groups its identity.
:func:`estimate_entries` orders the alignments by EM row once and computes all of it chunk by
chunk (:mod:`gutbrain.profile.chunks`): every matrix comes from one
:class:`gutbrain.profile.best_pairs.BestPairs`, so no full-size row, unit or likelihood array,
nor the sort temporaries of ``LikelihoodMatrix.from_triplets``, is made.
Afterwards the alignments can be let go. The species-group rule takes one identity per read and
unit, the best (:func:`gutbrain.profile.taxonomy.merge_contested_groups`), so its entries are a
third matrix on the same pairs: 8 bytes per pair instead of a row, a unit and an identity per
alignment.

Each value is the one computed over all alignments at once: a read's alignments all fall in one
chunk (the likelihoods scale by the read's longest alignment), and each pair keeps the entry
``from_triplets`` keeps (:mod:`gutbrain.profile.best_pairs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain._typing import IntArray
from gutbrain.profile.align import HitTable
from gutbrain.profile.best_pairs import BestPairs
from gutbrain.profile.chunks import row_chunks
from gutbrain.profile.contest import contest_log_likelihood
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood

BoolArray = npt.NDArray[np.bool_]

__all__ = ["EstimateEntries", "estimate_entries"]


@dataclass(frozen=True, slots=True)
class EstimateEntries:
    """The estimate's share of its alignments.

    ``log_likelihood``: EM rows × units, the best ``log L`` per pair (the EM matrix);
    ``contest``: the same pairs with the best contest log-likelihood (``None`` unless asked);
    ``identity``: the same pairs with the best identity, the species-group rule's input (``None``
    unless asked);
    ``alignments``: how many alignments there were.
    """

    log_likelihood: sp.csr_matrix
    contest: sp.csr_matrix | None
    identity: sp.csr_matrix | None
    alignments: int


def estimate_entries(
    hits: HitTable | Iterable[HitTable],
    *,
    eligible: BoolArray,
    ref_unit: IntArray,
    n_units: int,
    model: ErrorModel,
    contest: bool,
    groups: bool,
) -> EstimateEntries:
    """The entries of the hits (read = distinct read index) of the ``eligible`` distinct reads
    (one flag per distinct read; EM row ``i`` is the ``i``-th eligible read, each has a hit).
    The other reads' hits are passed over (no copy of the table is made).

    ``hits`` is one table or windows of it (:meth:`gutbrain.profile.hit_spool.HitSpool.windows`,
    issue 11): tables in increasing read order, each holding every hit of its reads.

    Examples
    --------
    >>> hits = HitTable(
    ...     read=np.array([2, 0, 2, 1]), ref=np.array([1, 0, 0, 1]), query_start=np.zeros(4),
    ...     query_end=np.full(4, 100), query_length=np.full(4, 100), ref_start=np.zeros(4),
    ...     ref_end=np.full(4, 100), matches=np.array([99, 100, 98, 50]),
    ...     block_length=np.full(4, 100), edit_distance=np.array([1, 0, 2, 50]),
    ...     primary=np.ones(4, dtype=bool))
    >>> model = ErrorModel(np.log(0.01), np.log(0.01), np.log(0.01), np.log(0.01))
    >>> got = estimate_entries(hits, eligible=np.array([True, False, True]),
    ...     ref_unit=np.array([0, 1]), n_units=2, model=model, contest=False, groups=True)
    >>> got.log_likelihood.shape, got.alignments, got.identity.data.tolist()
    ((2, 2), 3, [1.0, 0.98, 0.99])
    """
    n_rows = int(np.count_nonzero(eligible))
    pairs = BestPairs((n_rows, n_units), n_values=1 + int(contest) + int(groups))
    row_of_unique = np.full(eligible.size, -1, dtype=np.int64)
    row_of_unique[eligible] = np.arange(n_rows, dtype=np.int64)
    size = 0
    for table in [hits] if isinstance(hits, HitTable) else hits:
        chunks = _RowChunks(table, eligible, row_of_unique)
        for start, stop, local in chunks:
            values = [alignment_log_likelihood(local, model, n_reads=stop - start)]
            if contest:
                values.append(contest_log_likelihood(local, model, n_reads=stop - start))
            if groups:
                values.append(local.identity)
            pairs.add(local.read + start, ref_unit[local.ref], *values, rows_complete=True)
        size += chunks.size
        del chunks, table
    matrices = iter(pairs.matrices())
    log_likelihood = next(matrices)
    return EstimateEntries(
        log_likelihood=log_likelihood,
        contest=next(matrices) if contest else None,
        identity=next(matrices) if groups else None,
        alignments=size,
    )


class _RowChunks:
    """The eligible hits of a table in EM row order, in chunks of whole rows: per chunk
    ``(start, stop, hits)``, rows ``start:stop`` and the chunk's hits with ``read`` = row -
    ``start`` (a read's hits in their given order). ``row_of_unique``: each distinct read's EM
    row (-1 when not eligible)."""

    def __init__(self, hits: HitTable, eligible: BoolArray, row_of_unique: IntArray) -> None:
        read = hits.read
        keep = eligible[read]
        # positions of the eligible hits ordered by row (None: all of them, already in order)
        order: IntArray | None = None
        if not keep.all():
            order = np.flatnonzero(keep)
            if order.size and bool(np.any(read[order[1:]] < read[order[:-1]])):
                order = order[np.argsort(read[order], kind="stable")]
        elif read.size and bool(np.any(read[1:] < read[:-1])):
            order = np.argsort(read, kind="stable")
        rows = row_of_unique[read[order] if order is not None else read]
        del keep
        self._first = int(rows[0]) if rows.size else 0
        # per row from the table's first: where its hits start (rows without hits stay empty)
        counts = np.bincount(rows - self._first) if rows.size else np.zeros(0, dtype=np.int64)
        self._indptr = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self._indptr[1:])
        self._rows = rows
        self._order = order
        self._hits = hits
        self.size = int(rows.size)

    def __iter__(self) -> Iterator[tuple[int, int, HitTable]]:
        for lo_row, hi_row in row_chunks(self._indptr):
            lo, hi = int(self._indptr[lo_row]), int(self._indptr[hi_row])
            part = self._hits.take(
                self._order[lo:hi] if self._order is not None else np.arange(lo, hi)
            )
            start = self._first + lo_row
            local = replace(part, read=self._rows[lo:hi] - start)
            del part
            yield start, self._first + hi_row, local
