"""Align a species-group near-tie only to the group's members (issue 11).

The k-mer screen (:mod:`gutbrain.profile.kmer_screen`) leaves a read to alignment when a
member of its best unit's species group lies *in between* (neither tied with the best nor
clearly separated): the species-group rule needs alignment identities. When such a read has
good evidence and its best unit leads every unit *outside* the group by the screen's decision
margin, only the group's members are in question. :class:`MemberAligner` aligns it to the
references of the units the screen lists for it (the best unit and the members not separated
from it), each with a minimap2 index of that one reference built with the first pass's
settings (preset, scoring, band), instead of with the index of the whole reference.

The hits are real alignments, made by :func:`gutbrain.profile.align.align_sequences` with the
whole index's reference numbers, so the EM, the species-group rule, the congener contest and
qc.json read them as they read any alignment. minimap2 names one primary alignment per read
(plus supplementary ones, also primary, on disjoint read parts); each single-reference index
names its own, so the read keeps the primary flags of one reference only: the one whose best
alignment has the most matching bases less edit distance (ties: the lower reference number),
and every hit of the other references is secondary. A read is left to the whole index (as
before) when its units hold more than ``max_references`` references (aligning to each costs
about 0.2 ms, a whole-index alignment about 0.7–0.9 ms: docs/profile.md), when a reference has
no sequence in the index, or when no member alignment comes back at all.

Indexes are kept per reference in a bounded LRU (``cache_size`` entries). Each holds
minimap2's 2^14 hash buckets whatever the reference's size (~0.4-1 MiB with allocator slack),
and a batch needs each reference once, so by default only one is kept: an LRU of 32 raised the
peak RSS of gut_hifi_20k by ~35 MiB and saved no CPU (docs/profile.md). The result does not
depend on the cache or the batch order.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gutbrain._typing import IntArray
from gutbrain.profile.align import (
    AlignmentSettings,
    HitTable,
    align_sequences,
    open_sequence_aligner,
)
from gutbrain.profile.kmer_screen import ScreenResult, first_of_runs

__all__ = ["MEMBER_MAX_REFERENCES", "IndexedSequences", "MemberAligned", "MemberAligner"]

#: References per read above which the read goes to the whole index (about 0.2 ms each
#: against 0.7-0.9 ms for a whole-index alignment on the benchmark sets: docs/profile.md).
MEMBER_MAX_REFERENCES = 4
_CACHE_SIZE = 1  # one index at a time (module docstring)


@dataclass(frozen=True, slots=True)
class MemberAligned:
    """The outcome for one screened batch: ``aligned`` per batch read (its hits are in
    ``hits``, with the read numbers of the batch), every other read goes to the whole index."""

    aligned: npt.NDArray[np.bool_]
    hits: HitTable


class IndexedSequences(Protocol):
    """What the member aligner reads from the whole-index ``mappy.Aligner``: its references'
    names, in index order, and their sequences (``None`` for an index without them)."""

    @property
    def seq_names(self) -> Sequence[str]:
        """Reference names in index order."""
        ...

    def seq(self, name: str) -> str | None:
        """The sequence of reference ``name``."""
        ...


class MemberAligner:
    """Aligns reads to a few references, each with its own single-reference minimap2 index.

    ``reference(i)`` is the sequence of reference ``i`` (whole-index numbering; ``""`` or
    ``None`` when the index holds none) and ``ref_unit[i]`` its taxon unit.
    """

    def __init__(
        self,
        reference: Callable[[int], str | None],
        ref_unit: IntArray,
        settings: AlignmentSettings,
        *,
        max_references: int = MEMBER_MAX_REFERENCES,
        cache_size: int = _CACHE_SIZE,
    ) -> None:
        self._reference = reference
        self._settings = settings
        self._max_references = max_references
        self._cache_size = max(1, cache_size)
        self._cache: collections.OrderedDict[int, Any] = collections.OrderedDict()
        units = np.asarray(ref_unit, dtype=np.int64)
        order = np.argsort(units, kind="stable")
        starts = np.searchsorted(units[order], np.arange(int(units.max(initial=-1)) + 2))
        self._unit_refs = [order[a:b] for a, b in itertools.pairwise(starts)]
        self.built = 0  # single-reference indexes built (cache misses)

    @classmethod
    def for_index(
        cls, aligner: IndexedSequences, ref_unit: IntArray, settings: AlignmentSettings
    ) -> MemberAligner:
        """Member aligner over the references of the whole-index ``aligner`` (its sequences:
        a ``.mmi`` keeps them), with the first pass's ``settings``."""
        names = list(aligner.seq_names)

        def reference(i: int) -> str | None:
            sequence = aligner.seq(names[i])
            return str(sequence) if sequence is not None else None

        return cls(reference, ref_unit, settings)

    def _aligner(self, ref: int) -> Any:
        """The cached single-reference index of ``ref`` (``None``: no sequence to index)."""
        if ref in self._cache:
            self._cache.move_to_end(ref)
            return self._cache[ref]
        sequence = self._reference(ref)
        aligner = open_sequence_aligner(sequence, settings=self._settings) if sequence else None
        self.built += 1
        self._cache[ref] = aligner
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return aligner

    def align(self, sequences: Sequence[str], screen: ScreenResult) -> MemberAligned:
        """Align the reads ``screen.members`` marks to the references of their member units."""
        n = len(sequences)
        refs_of: dict[int, list[int]] = {}
        for read, units in _runs(screen.member_read, screen.member_unit):
            if read >= n or not screen.members[read]:
                continue
            refs = [int(r) for u in units for r in self._unit_refs[u]]
            if len(refs) <= self._max_references:
                refs_of[read] = sorted(refs)
        # one call per reference, its reads in batch order (deterministic, order-free per read)
        by_ref: dict[int, list[int]] = collections.defaultdict(list)
        for read in sorted(refs_of):
            for ref in refs_of[read]:
                by_ref[ref].append(read)
        tables: list[HitTable] = []
        blocked: set[int] = set()
        for ref in sorted(by_ref):
            aligner = self._aligner(ref)
            reads = by_ref[ref]
            if aligner is None:
                blocked.update(reads)
                continue
            table = align_sequences(
                aligner, [sequences[r] for r in reads], dict.fromkeys(aligner.seq_names, ref)
            )
            tables.append(replace(table, read=np.asarray(reads, dtype=np.int64)[table.read]))
        hits = HitTable.concat(tables)
        keep = ~np.isin(hits.read, np.fromiter(blocked, dtype=np.int64, count=len(blocked)))
        hits = _one_primary_reference(hits.take(keep))
        aligned = np.zeros(n, dtype=bool)
        aligned[hits.read] = True
        return MemberAligned(aligned, hits)

    @property
    def cached(self) -> int:
        """Single-reference indexes held now."""
        return len(self._cache)


def _runs(reads: IntArray, units: IntArray) -> list[tuple[int, list[int]]]:
    """``(read, its units)`` for each run of equal read numbers."""
    if reads.size == 0:
        return []
    starts = np.flatnonzero(first_of_runs(reads))
    bounds = np.append(starts, reads.size)
    return [(int(reads[a]), units[a:b].tolist()) for a, b in itertools.pairwise(bounds)]


def _one_primary_reference(hits: HitTable) -> HitTable:
    """``hits`` sorted by read then reference, primary only on each read's best reference
    (the most matching bases less edit distance in a primary hit; ties: lower reference)."""
    order = np.lexsort((hits.ref, hits.read))
    hits = hits.take(order)
    if len(hits) == 0:
        return hits
    score = np.where(hits.primary, hits.matches.astype(np.int64) - hits.edit_distance, -(2**62))
    best = np.lexsort((hits.ref, -score, hits.read))
    head = best[first_of_runs(hits.read[best])]
    best_ref = np.full(int(hits.read.max()) + 1, -1, dtype=np.int64)
    best_ref[hits.read[head]] = hits.ref[head]
    primary = hits.primary & (hits.ref == best_ref[hits.read])
    return replace(hits, primary=primary)
