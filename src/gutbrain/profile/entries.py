"""What the estimate takes from its alignments, in row chunks (issue 11, memstream).

:func:`gutbrain.profile.fit._estimate` needs, per alignment of a read in the EM, its EM row,
its taxon unit, its log-likelihood (:func:`gutbrain.profile.likelihood.alignment_log_likelihood`),
with ad-hoc groups its contest log-likelihood
(:func:`gutbrain.profile.contest.contest_log_likelihood`) and with species groups its identity.
:func:`estimate_entries` orders the alignments by EM row once and computes all of it chunk by
chunk (:mod:`gutbrain.profile.chunks`): both matrices come from one
:class:`gutbrain.profile.best_pairs.BestPairs`, so no full-size row, unit or likelihood array,
nor the sort temporaries of ``LikelihoodMatrix.from_triplets``, is made.
Afterwards the alignments can be let go.

Each value is the one computed over all alignments at once: a read's alignments all fall in one
chunk (the likelihoods scale by the read's longest alignment), and each pair keeps the entry
``from_triplets`` keeps (:mod:`gutbrain.profile.best_pairs`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray
from gutbrain.profile.align import HitTable
from gutbrain.profile.best_pairs import BestPairs
from gutbrain.profile.chunks import row_chunks
from gutbrain.profile.contest import contest_log_likelihood
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood

__all__ = ["EstimateEntries", "GroupEntries", "estimate_entries"]


@dataclass(frozen=True, slots=True)
class GroupEntries:
    """Per alignment, in EM row order: its EM row, its unit and its identity (the arguments
    ``read_rows``, ``read_units`` and ``identity`` of
    :func:`gutbrain.profile.taxonomy.merge_contested_groups`)."""

    read_rows: IntArray
    read_units: IntArray
    identity: FloatArray


@dataclass(frozen=True, slots=True)
class EstimateEntries:
    """The estimate's share of its alignments.

    ``log_likelihood``: EM rows × units, the best ``log L`` per pair (the EM matrix);
    ``contest``: the same pairs with the best contest log-likelihood (``None`` unless asked);
    ``groups``: per alignment entries for the species-group rule (``None`` unless asked);
    ``alignments``: how many alignments there were.
    """

    log_likelihood: sp.csr_matrix
    contest: sp.csr_matrix | None
    groups: GroupEntries | None
    alignments: int


def estimate_entries(
    hits: HitTable,
    *,
    rows: IntArray,
    n_unique: int,
    ref_unit: IntArray,
    n_units: int,
    model: ErrorModel,
    contest: bool,
    groups: bool,
) -> EstimateEntries:
    """The entries of ``hits`` (read = distinct read index) for the EM rows ``rows`` (the
    distinct reads in the EM, increasing; every hit's read is one of them, each has a hit).

    Examples
    --------
    >>> hits = HitTable(
    ...     read=np.array([2, 0, 2]), ref=np.array([1, 0, 0]), query_start=np.zeros(3),
    ...     query_end=np.full(3, 100), query_length=np.full(3, 100), ref_start=np.zeros(3),
    ...     ref_end=np.full(3, 100), matches=np.array([99, 100, 98]), block_length=np.full(3, 100),
    ...     edit_distance=np.array([1, 0, 2]), primary=np.ones(3, dtype=bool))
    >>> model = ErrorModel(np.log(0.01), np.log(0.01), np.log(0.01), np.log(0.01))
    >>> got = estimate_entries(hits, rows=np.array([0, 2]), n_unique=3, ref_unit=np.array([0, 1]),
    ...     n_units=2, model=model, contest=False, groups=True)
    >>> got.log_likelihood.shape, got.alignments, got.groups.read_rows.tolist()
    ((2, 2), 3, [0, 1, 1])
    """
    n_rows = int(rows.size)
    row_of_unique = np.full(n_unique, -1, dtype=np.int64)
    row_of_unique[rows] = np.arange(n_rows, dtype=np.int64)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(hits.read, minlength=n_unique)[rows], out=indptr[1:])
    n = len(hits)
    if int(indptr[-1]) != n:
        message = "every hit's read must be an EM row"
        raise ValueError(message)
    read = hits.read
    order = np.argsort(read, kind="stable") if n and bool(np.any(read[1:] < read[:-1])) else None
    pairs = BestPairs((n_rows, n_units), n_values=2 if contest else 1)
    entries = (
        GroupEntries(np.empty(n, dtype=np.int64), np.empty(n, dtype=ref_unit.dtype), np.empty(n))
        if groups
        else None
    )
    for start, stop in row_chunks(indptr):
        lo, hi = int(indptr[start]), int(indptr[stop])
        part = hits.take(order[lo:hi] if order is not None else np.arange(lo, hi))
        chunk_rows = row_of_unique[part.read]
        units = ref_unit[part.ref]
        local = replace(part, read=chunk_rows - start)
        del part
        values = [alignment_log_likelihood(local, model, n_reads=stop - start)]
        if contest:
            values.append(contest_log_likelihood(local, model, n_reads=stop - start))
        pairs.add(chunk_rows, units, *values, rows_complete=True)
        if entries is not None:
            entries.read_rows[lo:hi] = chunk_rows
            entries.read_units[lo:hi] = units
            entries.identity[lo:hi] = local.identity
    del order
    matrices = pairs.matrices()
    return EstimateEntries(
        log_likelihood=matrices[0],
        contest=matrices[1] if contest else None,
        groups=entries,
        alignments=n,
    )
