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

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray
from gutbrain.profile.align import HitTable
from gutbrain.profile.best_pairs import BestPairs
from gutbrain.profile.chunks import CHUNK_ENTRIES, row_chunks
from gutbrain.profile.contest import contest_log_likelihood
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood

BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "CompactGroupEntries",
    "EstimateEntries",
    "GroupEntries",
    "estimate_entries",
    "group_entries",
]


@dataclass(frozen=True, slots=True)
class GroupEntries:
    """Per alignment of a read in the EM (in EM row order from :func:`estimate_entries`, in
    the hits' order from :func:`group_entries`): its EM row, its unit and its identity (the
    arguments ``read_rows``, ``read_units`` and ``identity`` of
    :func:`gutbrain.profile.taxonomy.merge_contested_groups`)."""

    read_rows: IntArray
    read_units: IntArray
    identity: FloatArray


@dataclass(frozen=True, slots=True)
class CompactGroupEntries:
    """:class:`GroupEntries` with rows and units in ``int32`` when they fit, for while the hits
    are still held (8 bytes less per alignment): :meth:`widened` once they are let go."""

    read_rows: npt.NDArray[np.int32 | np.int64]
    read_units: npt.NDArray[np.int32 | np.int64]
    identity: FloatArray

    def widened(self) -> GroupEntries:
        """The same entries as the rule takes them (rows and units as ``int64``)."""
        return GroupEntries(
            self.read_rows.astype(np.int64), self.read_units.astype(np.int64), self.identity
        )


@dataclass(frozen=True, slots=True)
class EstimateEntries:
    """The estimate's share of its alignments.

    ``log_likelihood``: EM rows × units, the best ``log L`` per pair (the EM matrix);
    ``contest``: the same pairs with the best contest log-likelihood (``None`` unless asked);
    ``groups``: per alignment entries for the species-group rule (``None`` unless asked;
    compact, :meth:`CompactGroupEntries.widened` gives them as the rule takes them);
    ``alignments``: how many alignments there were.
    """

    log_likelihood: sp.csr_matrix
    contest: sp.csr_matrix | None
    groups: CompactGroupEntries | None
    alignments: int


def estimate_entries(
    hits: HitTable,
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
    >>> got.log_likelihood.shape, got.alignments, got.groups.read_rows.tolist()
    ((2, 2), 3, [0, 1, 1])
    """
    n_rows = int(np.count_nonzero(eligible))
    pairs = BestPairs((n_rows, n_units), n_values=2 if contest else 1)
    chunks = _RowChunks(hits, eligible)
    entries = _compact_group_entries(chunks.size, n_rows, ref_unit) if groups else None
    for lo, hi, start, stop, local in chunks:
        chunk_rows = local.read + start
        units = ref_unit[local.ref]
        values = [alignment_log_likelihood(local, model, n_reads=stop - start)]
        if contest:
            values.append(contest_log_likelihood(local, model, n_reads=stop - start))
        pairs.add(chunk_rows, units, *values, rows_complete=True)
        if entries is not None:
            entries.read_rows[lo:hi] = chunk_rows
            entries.read_units[lo:hi] = units
            entries.identity[lo:hi] = local.identity
    size = chunks.size
    del chunks
    matrices = pairs.matrices()
    return EstimateEntries(
        log_likelihood=matrices[0],
        contest=matrices[1] if contest else None,
        groups=entries,
        alignments=size,
    )


def group_entries(hits: HitTable, *, eligible: BoolArray, ref_unit: IntArray) -> GroupEntries:
    """The species-group rule's entries alone, for hits the caller keeps anyway: taken when the
    rule needs them rather than held through the EM.

    The same entries as :func:`estimate_entries` gives, in the hits' order instead of EM row
    order (the order the rule got them in before, from a copy of the eligible hits; the rule
    does not depend on it). Read in chunks of the table (views, not copies); only the result
    is full-size.
    """
    row_of_unique = np.full(eligible.size, -1, dtype=np.int64)
    row_of_unique[eligible] = np.arange(int(np.count_nonzero(eligible)), dtype=np.int64)
    keep = eligible[hits.read]
    entries = _empty_group_entries(int(np.count_nonzero(keep)), ref_unit)
    at = 0
    for lo in range(0, len(hits), CHUNK_ENTRIES):
        part = _view(hits, lo, lo + CHUNK_ENTRIES)
        mask = keep[lo : lo + CHUNK_ENTRIES]
        n = int(np.count_nonzero(mask))
        entries.read_rows[at : at + n] = row_of_unique[part.read[mask]]
        entries.read_units[at : at + n] = ref_unit[part.ref[mask]]
        entries.identity[at : at + n] = part.identity[mask]
        at += n
    return entries


def _view(hits: HitTable, start: int, stop: int) -> HitTable:
    """Hits ``start:stop`` (views of the columns, no copy)."""
    return HitTable(**{f.name: getattr(hits, f.name)[start:stop] for f in fields(hits)})


def _compact_group_entries(n: int, n_rows: int, ref_unit: IntArray) -> CompactGroupEntries:
    fits = np.iinfo(np.int32).max
    row_type = np.int32 if n_rows <= fits else np.int64
    unit_type = np.int32 if ref_unit.size == 0 or int(ref_unit.max()) <= fits else np.int64
    return CompactGroupEntries(
        np.empty(n, dtype=row_type), np.empty(n, dtype=unit_type), np.empty(n)
    )


def _empty_group_entries(n: int, ref_unit: IntArray) -> GroupEntries:
    return GroupEntries(np.empty(n, dtype=np.int64), np.empty(n, dtype=ref_unit.dtype), np.empty(n))


class _RowChunks:
    """The eligible hits in EM row order, in chunks of whole rows: per chunk ``(lo, hi,
    start, stop, hits)``, positions ``lo:hi`` in that order, rows ``start:stop``, and the
    chunk's hits with ``read`` = row - ``start`` (a read's hits in their given order)."""

    def __init__(self, hits: HitTable, eligible: BoolArray) -> None:
        n_unique = int(eligible.size)
        rows = np.flatnonzero(eligible)
        self._row_of_unique = np.full(n_unique, -1, dtype=np.int64)
        self._row_of_unique[rows] = np.arange(rows.size, dtype=np.int64)
        self._indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(hits.read, minlength=n_unique)[rows], out=self._indptr[1:])
        read = hits.read
        keep = eligible[read]
        # positions of the eligible hits ordered by row (None: all of them, already in order)
        order: IntArray | None = None
        if not keep.all():
            order = np.flatnonzero(keep)
            del keep
            if order.size and bool(np.any(read[order[1:]] < read[order[:-1]])):
                order = order[np.argsort(read[order], kind="stable")]
        elif read.size and bool(np.any(read[1:] < read[:-1])):
            order = np.argsort(read, kind="stable")
        self._order = order
        self._hits = hits
        self.size = int(self._indptr[-1])

    def __iter__(self) -> Iterator[tuple[int, int, int, int, HitTable]]:
        for start, stop in row_chunks(self._indptr):
            lo, hi = int(self._indptr[start]), int(self._indptr[stop])
            part = self._hits.take(
                self._order[lo:hi] if self._order is not None else np.arange(lo, hi)
            )
            local = replace(part, read=self._row_of_unique[part.read] - start)
            del part
            yield lo, hi, start, stop, local
