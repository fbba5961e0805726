"""K-mer likelihood rows: reads placed in the EM from k-mer evidence, without alignment (issue 11).

The k-mer screen (:mod:`gutbrain.profile.kmer_screen`) decides a read outright only when one
unit leads every unit outside its species group by a clear margin. A read with enough evidence
(enough k-mers, most found, pure) that fails only that margin — a near-tie between species of
different groups — is a *row candidate*: the screen lists the units sharing at least half its
best unit's sampled k-mers (at most ``row_candidates``). Its sampled 21-mers are too few to
score them (the k-mers that separate close species sit in conserved stretches, which the index
keeps without units), so :class:`RowScorer` counts again with every ``row_k``-mer of the read
in ``1/row_scale`` of the hash space against the same k-mers of each candidate's references,
and estimates per candidate the bases it differs from the read beyond the best
(:func:`gutbrain.profile.kmer_screen.kmer_row_errors`). The read gets a *k-mer row* only when
every other candidate is clearly behind (:class:`RowScorer`); otherwise it is aligned, as is a
read with a member of its best unit's species group between tied and separated (the group rule
needs alignment identities; docs/profile-history.md, ``group_tie``).

A row is carried through the fit as *stand-in hits* (:func:`kmer_row_hits`): one per
candidate, the whole read against the unit's first reference with ``round(slope × d)``
mismatches (``slope`` calibrated per read type against alignment likelihoods,
``benchmarks/calibrate_kmer_rows.py``). So every later step gets one consistent picture of the
row: the EM's log-likelihood is ``round(slope × d) × log p_mismatch`` of the sample's error
model (the rows stay out of the model's estimate, like screened reads); the species-group rule
sees identity ``1 − round(slope × d) / length`` (estimated, not faked equal); the congener
contest sees the same log-likelihood ratios as the EM.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gutbrain._typing import IntArray
from gutbrain.profile.align import HitTable
from gutbrain.profile.kmer_screen import (
    ScreenResult,
    ScreenSettings,
    U64Array,
    first_of_runs,
    kmer_row_errors,
    reverse_complement,
    sampled_kmers,
)

__all__ = ["KmerRows", "RowScorer", "kmer_row_hits", "placed_by_rows"]


@dataclass(frozen=True, slots=True)
class KmerRows:
    """The k-mer rows of one screened batch: per candidate ``(read[i], unit[i], errors[i])``
    (batch-local reads; one read's entries adjacent, its best unit first with 0 errors) and
    ``row`` per batch read (it got a row)."""

    read: IntArray
    unit: IntArray
    errors: npt.NDArray[np.float64]
    row: npt.NDArray[np.bool_]


class RowScorer:
    """Scores the screen's k-mer row candidates with all k-mers of length ``settings.row_k``.

    The screen's sampled 21-mers are too few on conserved reads (a near-tie read shares ~10
    specific ones with its best unit), so a candidate's distance is estimated again from every
    ``row_k``-mer of the read against every ``row_k``-mer of the unit's references
    (``reference(i)`` gives reference ``i``; each unit's sorted k-mers are kept for the last
    ``cache`` units used). For a read with ``n`` distinct k-mers, ``f`` of them in some
    candidate and ``b`` in its best candidate, ``e = row_k × f / n`` k-mers mark one base
    (the k-mers over a base, times the share that survives the read's errors) and a candidate
    with ``c`` shared k-mers differs from the read at ``(b − c) / e`` more bases than the best.

    A read keeps its row only when its best candidate explains it and every other candidate is
    clearly behind. With ``m = (f − b) / e`` (bases where some candidate matches the read and
    the best does not) and ``g`` the estimated bases of the nearest other candidate:
    ``m ≤ row_max_missing`` (a read between two references, e.g. a strain missing from the
    reference, is aligned: its differences to each cluster in variable regions, where k-mer
    deficits no longer count edits, and the k-mer gap overstated alignment gaps of ≤ 2 errors
    between *B. thetaiotaomicron* and *B. sp.*; docs/profile.md), ``g ≥ row_min_bases`` (twice
    the congener contest's 2 errors, so a row never decides a contest), ``g ≥ row_z ×
    sqrt(g + 2 m)`` (the differences are Poisson counts: under "equally close", ``g`` is the
    difference of two counts whose sum is at most ``g + 2 m``) and, for a member of the best
    unit's species group, ``g ≥ 2 × group_identity_margin × length`` (the group rule's margin,
    twice: a row never decides a group either). Otherwise the read is aligned.
    """

    def __init__(
        self,
        reference: Callable[[int], str],
        ref_unit: IntArray,
        settings: ScreenSettings,
        *,
        cache: int = 4096,
    ) -> None:
        self._reference = reference
        order = np.argsort(ref_unit, kind="stable")
        n_units = int(ref_unit.max()) + 1 if ref_unit.size else 0
        bounds = np.searchsorted(ref_unit[order], np.arange(n_units + 1))
        self._refs_of = [order[bounds[u] : bounds[u + 1]] for u in range(n_units)]
        self._settings = settings
        self._cache: collections.OrderedDict[int, U64Array] = collections.OrderedDict()
        self._cache_size = cache

    def unit_kmers(self, unit: int) -> U64Array:
        """Sorted distinct ``row_k``-mers of the unit's references."""
        kmers = self._cache.get(unit)
        if kmers is not None:
            self._cache.move_to_end(unit)
            return kmers
        sequences = [self._reference(int(i)) for i in self._refs_of[unit].tolist()]
        _, found = sampled_kmers(sequences, k=self._settings.row_k, scale=self._settings.row_scale)
        kmers = _distinct(found)
        self._cache[unit] = kmers
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return kmers

    def rows(
        self,
        result: ScreenResult,
        batch: Sequence[str],
        *,
        unit_group: npt.NDArray[np.int64] | None = None,
        group_identity_margin: float = 0.005,
    ) -> KmerRows:
        """The k-mer rows of ``batch`` among the screen's candidates (class docstring)."""
        s = self._settings
        pair_read, pair_unit = result.row_read, result.row_unit
        empty = KmerRows(
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0),
            np.zeros(len(batch), dtype=bool),
        )
        if pair_read.size == 0:
            return empty
        reads = np.unique(pair_read)
        oriented = [
            reverse_complement(batch[i]) if result.reverse[i] else batch[i] for i in reads.tolist()
        ]
        # distinct k-mers per read, sorted within each read (one sort of read << 2k | k-mer;
        # sorted queries make the lookups below ~2x faster)
        local, kmer = sampled_kmers(oriented, k=s.row_k, scale=s.row_scale)
        bits = np.uint64(2 * s.row_k)
        key = _distinct((local.astype(np.uint64) << bits) | kmer)
        local = (key >> bits).astype(np.int64)
        kmer = key & np.uint64((1 << (2 * s.row_k)) - 1)
        n_kmers = np.bincount(local, minlength=reads.size)
        starts = np.searchsorted(local, np.arange(reads.size + 1))
        pair_local = np.searchsorted(reads, pair_read)
        shared = np.zeros(pair_read.size, dtype=np.int64)
        found = np.zeros(local.size, dtype=bool)
        by_unit = np.argsort(pair_unit, kind="stable")
        unit_bounds = [*np.nonzero(first_of_runs(pair_unit[by_unit]))[0].tolist(), by_unit.size]
        for a, b in itertools.pairwise(unit_bounds):
            pairs = by_unit[a:b]
            which = pair_local[pairs]
            sizes = starts[which + 1] - starts[which]
            index = np.repeat(starts[which] - np.cumsum(sizes) + sizes, sizes) + np.arange(
                int(sizes.sum())
            )
            unit_kmers = self.unit_kmers(int(pair_unit[pairs[0]]))
            query = kmer[index]
            at = np.minimum(np.searchsorted(unit_kmers, query), max(unit_kmers.size - 1, 0))
            hit = unit_kmers[at] == query if unit_kmers.size else np.zeros(query.size, bool)
            found[index[hit]] = True
            owner = np.repeat(np.arange(pairs.size), sizes)
            shared[pairs] = np.bincount(owner[hit], minlength=pairs.size)
        union = np.bincount(local[found], minlength=reads.size).astype(np.float64)
        per_base = (s.row_k / s.row_scale) * union / np.maximum(n_kmers, 1)
        # best candidate per read: most shared k-mers, ties to the screen's order
        rank = np.lexsort((np.arange(pair_read.size), -shared, pair_local))
        head = first_of_runs(pair_local[rank])
        best_pair = np.full(reads.size, -1, dtype=np.int64)
        best_pair[pair_local[rank[head]]] = rank[head]
        best = shared[best_pair]
        errors = kmer_row_errors(best[pair_local] - shared, per_base[pair_local], slope=1.0)
        other = np.arange(pair_read.size) != best_pair[pair_local]
        gap = np.full(reads.size, np.inf)
        np.minimum.at(gap, pair_local[other], errors[other])
        missing = (union - best) / np.maximum(per_base, 1e-9)
        ok = (per_base > 0) & (gap >= s.row_min_bases) & (missing <= s.row_max_missing)
        ok &= gap >= s.row_z * np.sqrt(np.where(np.isfinite(gap), gap, 0.0) + 2.0 * missing)
        if unit_group is not None and unit_group.size:
            group = unit_group[pair_unit]
            member = other & (group >= 0) & (group == group[best_pair[pair_local]])
            lengths = np.fromiter((len(x) for x in oriented), dtype=np.float64, count=reads.size)
            need = 2.0 * group_identity_margin * lengths[pair_local]
            close = np.zeros(reads.size, dtype=bool)
            close[pair_local[member & (errors < need)]] = True
            ok &= ~close
        if not ok.any():
            return empty
        take = rank[ok[pair_local[rank]]]  # per read: best first, then by shared k-mers
        row = np.zeros(len(batch), dtype=bool)
        row[reads[ok]] = True
        return KmerRows(pair_read[take], pair_unit[take], s.row_slope * errors[take], row)


def kmer_row_hits(
    rows: KmerRows,
    ids: IntArray,
    batch: Sequence[str],
    unit_reference: IntArray,
) -> HitTable:
    """Stand-in hits of the k-mer rows of one screened batch (module docstring).

    ``ids[i]`` is the distinct-read number of ``batch[i]``; ``unit_reference[u]`` the first
    reference of unit ``u``. Each row's first candidate (its best unit) is the primary hit.

    Examples
    --------
    >>> rows = KmerRows(np.array([1, 1]), np.array([3, 0]), np.array([0.0, 2.6]),
    ...                 np.array([False, True]))
    >>> hits = kmer_row_hits(rows, np.array([10, 11]), ["ACGT", "ACGTACGTAC"],
    ...                      np.array([5, 6, 7, 8]))
    >>> hits.read.tolist(), hits.ref.tolist(), hits.edit_distance.tolist(), hits.primary.tolist()
    ([11, 11], [8, 5], [0, 3], [True, False])
    >>> hits.identity.tolist()
    [1.0, 0.7]
    """
    read = rows.read
    lengths = np.fromiter((len(batch[i]) for i in read.tolist()), dtype=np.int64, count=read.size)
    errors = np.minimum(np.rint(rows.errors).astype(np.int64), lengths)
    primary = np.ones(read.size, dtype=bool)
    primary[1:] = read[1:] != read[:-1]
    zero = np.zeros(read.size, dtype=np.int64)
    return HitTable(
        read=ids[read],
        ref=unit_reference[rows.unit].astype(np.int64),
        query_start=zero,
        query_end=lengths,
        query_length=lengths,
        ref_start=zero,
        ref_end=lengths,
        matches=lengths - errors,
        block_length=lengths,
        edit_distance=errors,
        primary=primary,
    )


def _distinct(values: U64Array) -> U64Array:
    """Sorted distinct values (``np.sort``: ``np.unique`` hashes, ~3x slower here)."""
    ordered = np.sort(values)
    result: U64Array = ordered[first_of_runs(ordered)]
    return result


def placed_by_rows(
    screened: npt.NDArray[np.bool_], kmer_rows: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.bool_]:
    """Per distinct read: placed by a k-mer row and still screened (not re-aligned)."""
    if kmer_rows is None:
        return np.zeros(screened.size, dtype=bool)
    result: npt.NDArray[np.bool_] = screened & kmer_rows
    return result
