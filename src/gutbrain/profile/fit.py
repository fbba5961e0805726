"""The fit stage of :func:`gutbrain.profile.pipeline.profile_sample`: reads -> abundances.

Per distinct read, :func:`fit_abundances`

1. classifies the reads that cannot be assigned: no alignment, best identity below
   ``min_identity``, best alignment covering less than ``min_query_coverage`` of the read
   (partial, e.g. concatemers), likely chimera (primary and supplementary alignments on disjoint
   parts of the read hitting different genera);
2. scores the alignments (:mod:`gutbrain.profile.likelihood`) and runs the EM with pruning
   (:mod:`gutbrain.profile.em`);
3. merges the species groups the reads do not separate (:mod:`gutbrain.profile.taxonomy`) and
   joins contested congeners into ad-hoc groups (:mod:`gutbrain.profile.contest`), then applies
   the genus fallback;
4. with a second pass, re-aligns the reads left unexplained with more sensitive settings
   (against an index of the candidate references, :mod:`gutbrain.profile.candidates`) and
   estimates again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain.profile.align import (
    AlignmentSettings,
    HitTable,
    align_sequences,
    open_aligner,
    open_subset_aligner,
    shares_index,
)
from gutbrain.profile.aligners import Aligners, GroupList
from gutbrain.profile.candidates import second_pass_references
from gutbrain.profile.collect import Collected
from gutbrain.profile.contest import (
    contest_threshold,
    join_contested_species,
)
from gutbrain.profile.em import (
    AbundanceEstimate,
    LikelihoodMatrix,
    estimate_abundances,
    pool_single_rows,
)
from gutbrain.profile.entries import estimate_entries
from gutbrain.profile.hit_spool import HitSpool, joined_windows
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_rows import placed_by_rows
from gutbrain.profile.likelihood import ErrorModel, error_counts, error_model_of_counts
from gutbrain.profile.memory import release_freed_memory
from gutbrain.profile.pair_spool import SpooledRows
from gutbrain.profile.settings import ProfileSettings
from gutbrain.profile.taxonomy import (
    GroupMerge,
    ReadResolution,
    TaxonIndex,
    candidate_chunks,
    merge_contested_groups,
    resolve_reads,
)
from gutbrain.reference.bundle import ReferenceBundle

__all__ = [
    "ABOVE_GENUS",
    "ASSIGNED_SPECIES",
    "CHIMERA",
    "GENUS_FALLBACK",
    "LOW_IDENTITY",
    "NO_ALIGNMENT",
    "PARTIAL",
    "PRUNED",
    "STATUS_LABELS",
    "Fit",
    "fit_abundances",
]

logger = logging.getLogger(__name__)

# per-read status codes (read_assignments.tsv, assignment counters)
ASSIGNED_SPECIES = "assigned_species"
GENUS_FALLBACK = "genus_fallback"
ABOVE_GENUS = "unassigned_ambiguous_genus"
NO_ALIGNMENT = "unassigned_no_alignment"
LOW_IDENTITY = "unassigned_low_identity"
PARTIAL = "unassigned_partial_alignment"
CHIMERA = "unassigned_chimera"
PRUNED = "unassigned_below_min_abundance"

#: :attr:`Fit.status` holds ``STATUS_LABELS.index(label)`` per distinct read, one byte each
#: (issue 11, memflat: an object array took 8 bytes and a Python list to build); -1 only
#: while a read is still undecided (eligible for the EM, :func:`_classify_unique`).
STATUS_LABELS: tuple[str, ...] = (
    ASSIGNED_SPECIES,
    GENUS_FALLBACK,
    ABOVE_GENUS,
    NO_ALIGNMENT,
    LOW_IDENTITY,
    PARTIAL,
    CHIMERA,
    PRUNED,
)
_CODE = {label: np.int8(code) for code, label in enumerate(STATUS_LABELS)}
_UNDECIDED = np.int8(-1)

#: The outcomes a second pass re-aligns (codes of ``STATUS_LABELS``).
_REALIGN = tuple(_CODE[label] for label in (NO_ALIGNMENT, LOW_IDENTITY, PARTIAL, PRUNED))


@dataclass(frozen=True, slots=True)
class Fit:
    """One estimate of a sample's abundances, per distinct read and per taxon unit.

    ``status`` is each distinct read's outcome (its code: ``STATUS_LABELS[code]``);
    ``row_of_read`` each distinct read's EM row, a row of ``resolution`` (-1 outside the EM;
    the reads the k-mer screen placed for one unit share one row per unit, :func:`_estimate_em`);
    ``bootstrap_rows`` the EM's rows over the taxa it kept, single-candidate rows pooled per
    taxon (issue 11: :func:`gutbrain.profile.em.pool_single_rows`, all the bootstrap needs;
    ``estimate`` keeps no posteriors); ``alignments`` the number of their alignments
    (issue 11, memstream: the hits themselves are let go once the estimate has its entries) and
    ``model`` the error model that scored them. ``merge`` says which units of ``taxa`` were
    reported as one (species groups and ad-hoc groups; ``None`` when none); ``screened`` marks
    the distinct reads the k-mer screen placed (and no second pass re-aligned).
    """

    status: npt.NDArray[np.int8]
    model: ErrorModel
    row_of_read: npt.NDArray[np.int32]
    bootstrap_rows: LikelihoodMatrix
    estimate: AbundanceEstimate
    resolution: ReadResolution
    alignments: int
    merge: GroupMerge | None
    taxa: TaxonIndex
    screened: npt.NDArray[np.bool_]

    @property
    def n_rows(self) -> int:
        """How many rows the EM had."""
        return int(self.resolution.best_unit.size)

    @property
    def species_taxa(self) -> TaxonIndex:
        """The units species rows are reported on: ``taxa`` with merged groups appended."""
        return self.merge.index if self.merge is not None else self.taxa

    @property
    def species_abundance(self) -> npt.NDArray[np.float64]:
        """Abundance per unit of :attr:`species_taxa`."""
        abundance = self.estimate.abundance
        return self.merge.merge_values(abundance) if self.merge is not None else abundance

    @property
    def members(self) -> Mapping[int, tuple[str, ...]]:
        """Member species per merged unit of :attr:`species_taxa`."""
        return self.merge.members if self.merge is not None else {}

    @property
    def adhoc(self) -> tuple[int, ...]:
        """Units of :attr:`species_taxa` made from this sample's contested congeners."""
        return self.merge.adhoc if self.merge is not None else ()


def fit_abundances(
    collected: Collected,
    aligners: Aligners,
    *,
    bundle: ReferenceBundle,
    settings: ProfileSettings,
    min_abundance: float | None,
) -> Fit:
    """Estimate abundances from the collected reads; with a second pass, re-align the
    unexplained reads and estimate again.

    Raises
    ------
    ReferenceDatabaseError
        The second pass's index is unusable.
    """
    weights = collected.weights
    first_hits = collected.hit_spool

    def estimate(
        windows: Callable[[], Iterable[HitTable]],
        screened: npt.NDArray[np.bool_],
        let_go: Callable[[], None] | None = None,
    ) -> _Em:
        return _estimate_em(
            windows,
            weights,
            aligners.taxa,
            settings,
            min_abundance,
            aligners.contest is not None and settings.contest is not None,
            screened,
            groups=bool(aligners.groups),
            let_go=let_go,
            placed=screened & ~placed_by_rows(screened, collected.kmer_rows),
        )

    def settle(em: _Em) -> Fit:
        return _settle(em, aligners.taxa, settings, aligners.groups, aligners.contest)

    # issue 11 (memstream): the first estimate is settled (species groups, ad-hoc groups, rank
    # fallback) only when it is the result; a second pass needs only its EM.
    # issue 11: the hits stay on disk (hit_spool) and are read a window of reads at a time;
    # without a second pass the file is freed once the estimate has its matrices
    second = settings.second_pass
    without_second = first_hits.close if second is None else None
    first = estimate(first_hits.windows, collected.screened, without_second)
    if second is None:
        return settle(first)
    redo = np.isin(first.status, list(_REALIGN))
    if not redo.any():
        first_hits.close()
        _close_spool(collected)
        return settle(first)
    # the re-aligned reads' own hits (a few) choose the second pass's references
    own = HitTable.concat(list(first_hits.windows(skip=~redo)))
    chosen = second_pass_references(aligners.taxa, first.estimate.abundance, own, redo)
    screened = first.screened & ~redo  # pruned screened reads are now aligned
    # issue 11 (mem2): the first estimate is let go before the second pass aligns
    del first, own
    release_freed_memory()
    new_hits = HitSpool(window=first_hits.window)
    first_aligner = _first_pass_aligner(bundle, settings.alignment)
    new_hits.append(_realign(collected, chosen, redo, bundle, settings, second, first_aligner))
    _close_spool(collected)  # the second pass was its only reader
    # issue 11: the first pass's index stays out of the second estimate's peak too
    del first_aligner
    release_freed_memory()

    def second_windows() -> Iterator[HitTable]:
        # the other reads' first-pass hits and the re-aligned reads' new ones
        return joined_windows((first_hits, redo), (new_hits, None))

    def let_go() -> None:
        first_hits.close()
        new_hits.close()

    result = settle(estimate(second_windows, screened, let_go))
    logger.debug(
        "second pass: %d distinct reads re-aligned, %d now assigned",
        int(redo.sum()),
        int(np.isin(result.status[redo], [_CODE[ASSIGNED_SPECIES], _CODE[GENUS_FALLBACK]]).sum()),
    )
    return result


def _first_pass_aligner(bundle: ReferenceBundle, settings: AlignmentSettings) -> Any:
    """The first pass's minimap2 index loaded again from its cached file (the one the
    collection used), for the second pass's reference subset."""
    index_path = ensure_index(bundle, preset=settings.preset, k=settings.k, w=settings.w)
    return open_aligner(index_path, settings=settings)


def _close_spool(collected: Collected) -> None:
    if collected.sequences is not None:
        collected.sequences.close()


def _classify_unique(
    hits: HitTable, n_unique: int, index: TaxonIndex, settings: ProfileSettings
) -> npt.NDArray[np.int8]:
    """Per distinct read: -1 when eligible for the EM, else an unassigned status's code."""
    status = np.full(n_unique, _CODE[NO_ALIGNMENT], dtype=np.int8)
    _classify_window(hits, status, index, settings)
    return status


def _classify_window(
    hits: HitTable,
    status: npt.NDArray[np.int8],
    index: TaxonIndex,
    settings: ProfileSettings,
) -> None:
    """Set ``status`` (per distinct read) of the reads in ``hits``, which holds all their hits:
    -1 when eligible for the EM, else an unassigned status's code."""
    reads, local = np.unique(hits.read, return_inverse=True)
    local = local.reshape(-1)
    code = np.full(reads.size, _UNDECIDED, dtype=np.int8)
    best_identity = np.zeros(reads.size)
    np.maximum.at(best_identity, local, hits.identity)
    best_coverage = np.zeros(reads.size)
    np.maximum.at(best_coverage, local, hits.query_coverage)
    code[best_identity < settings.min_identity] = _CODE[LOW_IDENTITY]
    partial = (best_identity >= settings.min_identity) & (
        best_coverage < settings.min_query_coverage
    )
    code[partial] = _CODE[PARTIAL]
    # chimeras: >= 2 primary (primary + supplementary) alignments on disjoint read parts
    n_primary = np.bincount(local[hits.primary], minlength=reads.size)
    # issue 11 (memstream): only the primary hits of the undecided reads with two or more
    # (not a copy of every primary hit)
    candidates = (n_primary >= 2) & (code == _UNDECIDED)
    chosen = hits.primary & candidates[local]
    primary, primary_local = hits.take(chosen), local[chosen]
    genus_of_ref = index.unit_genus[index.ref_unit]
    for read in np.nonzero(candidates)[0]:
        rows = np.nonzero(primary_local == read)[0]
        spans = sorted(
            (int(primary.query_start[i]), int(primary.query_end[i]), int(primary.ref[i]))
            for i in rows
        )
        for (s1, e1, r1), (s2, e2, r2) in itertools.pairwise(spans):
            overlap = max(0, min(e1, e2) - max(s1, s2))
            shorter = max(1, min(e1 - s1, e2 - s2))
            if overlap / shorter < 0.5 and genus_of_ref[r1] != genus_of_ref[r2]:
                code[read] = _CODE[CHIMERA]
                break
    status[reads] = code


@dataclass(slots=True)
class _Em:
    """An estimate up to its EM (issue 11, memstream): ``status`` has the unassigned reads'
    codes (pruned ones too) and -1 for the reads the EM explains; the contest matrix and the
    group rule's identities (each on the EM matrix's pairs, their values on disk) wait for
    :func:`_settle`, which lets them go."""

    status: npt.NDArray[np.int8]
    model: ErrorModel
    row_of_read: npt.NDArray[np.int32]
    matrix: LikelihoodMatrix
    estimate: AbundanceEstimate
    contest: SpooledRows | None
    identity: SpooledRows | None
    alignments: int
    screened: npt.NDArray[np.bool_]


def _estimate_em(
    windows: Callable[[], Iterable[HitTable]],
    weights: npt.NDArray[np.float64],
    taxa: TaxonIndex,
    settings: ProfileSettings,
    min_abundance: float | None,
    contest: bool,
    screened: npt.NDArray[np.bool_],
    *,
    groups: bool,
    let_go: Callable[[], None] | None = None,
    placed: npt.NDArray[np.bool_] | None = None,
) -> _Em:
    """Classify distinct reads, score alignments and run the EM (:func:`_settle` does the
    rest).

    ``windows()`` gives the hits a window of reads at a time, each window holding every hit of
    its reads (:meth:`gutbrain.profile.hit_spool.HitSpool.windows`; issue 11: no more than a
    window of hits is in memory); it is called twice, for the reads' classification and error
    counts, then for the matrices.
    ``screened`` distinct reads (k-mer screen) carry stand-in hits: they are left out of the
    error model; a decided read's candidate has no errors (log L = 0), a k-mer row's
    candidates carry their estimated errors as mismatches (:mod:`gutbrain.profile.kmer_rows`).
    ``contest``: the contest matrix is wanted; ``groups``: the species-group rule's identities
    are wanted (:mod:`gutbrain.profile.entries`). ``let_go`` is called once the matrices are
    built and before the EM runs (the caller frees the hits there).

    ``placed`` distinct reads (screened, not by k-mer rows) whose stand-in is one hit share
    one EM row per unit, weighted by all of them (issue 11: the rows, the matrices and the
    resolution no longer grow with them). Their rows were identical (one unit, log L 0), so
    the EM took them as one class already; the shared row is that of the unit's first such
    read, so the EM's classes keep their order and integer weights. Sums over rows that add
    fractional posteriors (reads per taxon) add the unit's reads at once instead of one by
    one: the same up to rounding (measured: ≤ 1e-11 reads, ≤ 5e-16 abundance).
    """
    n_unique = int(weights.size)
    status = np.full(n_unique, _CODE[NO_ALIGNMENT], dtype=np.int8)
    unit_of_read = np.full(n_unique, -1, dtype=np.int32)  # of a placed read with one hit
    counts = np.zeros(4)
    for hits in windows():
        _classify_window(hits, status, taxa, settings)
        # the error model counts the primary hits of the eligible reads the screen did not place
        modelled = hits.primary & (status[hits.read] == _UNDECIDED) & ~screened[hits.read]
        counts += error_counts(hits.take(modelled), weights=weights)
        if placed is not None:
            _note_single_units(hits, placed, taxa.ref_unit, unit_of_read)
        del hits, modelled
    model = error_model_of_counts(counts)
    eligible = status == _UNDECIDED
    row_of_read, in_rows = _rows_of_reads(eligible, unit_of_read)
    del unit_of_read
    # issue 11 (memstream): the matrices (EM, contest, group rule's identities) built in row
    # chunks. (Stand-ins are scored as they are: 0 errors, log L 0; k-mer rows: their errors.)
    entries = estimate_entries(
        windows(),
        eligible=in_rows,
        ref_unit=taxa.ref_unit,
        n_units=taxa.n_units,
        model=model,
        contest=contest,
        groups=groups,
    )
    if let_go is not None:
        let_go()
    row_weights = np.bincount(
        row_of_read[eligible], weights=weights[eligible], minlength=entries.log_likelihood.shape[0]
    ).astype(np.float64)
    matrix = LikelihoodMatrix(entries.log_likelihood, row_weights)
    # issue 11: the contest's and the group rule's values wait on disk through the EM
    contest_matrix = SpooledRows(entries.contest) if entries.contest is not None else None
    identity = SpooledRows(entries.identity) if entries.identity is not None else None
    # the placed reads sharing another's row had one (stand-in) hit each
    alignments = entries.alignments + int(np.count_nonzero(eligible & ~in_rows))
    del entries, in_rows
    estimate = estimate_abundances(
        matrix, min_abundance=min_abundance, max_iter=settings.em_max_iter, tol=settings.em_tol
    )
    status[_reads_of_rows(row_of_read, ~estimate.explained)] = _CODE[PRUNED]
    return _Em(
        status,
        model,
        row_of_read,
        matrix,
        estimate,
        contest_matrix,
        identity,
        alignments,
        screened,
    )


def _note_single_units(
    hits: HitTable,
    placed: npt.NDArray[np.bool_],
    ref_unit: npt.NDArray[np.int64],
    unit_of_read: npt.NDArray[np.int32],
) -> None:
    """Set ``unit_of_read`` of the ``placed`` reads of ``hits`` (which holds all their hits)
    that have exactly one hit: its unit."""
    mine = placed[hits.read]
    if not mine.any():
        return
    reads, first, n_hits = np.unique(hits.read[mine], return_index=True, return_counts=True)
    single = n_hits == 1
    unit_of_read[reads[single]] = ref_unit[hits.ref[mine][first[single]]]


def _rows_of_reads(
    eligible: npt.NDArray[np.bool_], unit_of_read: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """Per distinct read its EM row (-1 when not ``eligible``), and the reads that give the
    rows their entries, in read order: every eligible read, except that the reads with a unit
    in ``unit_of_read`` share the row of their unit's first one."""
    pooled = np.flatnonzero(eligible & (unit_of_read >= 0))
    _, first, of_unit = np.unique(unit_of_read[pooled], return_index=True, return_inverse=True)
    head = pooled[first]
    in_rows = eligible.copy()
    in_rows[pooled] = False
    in_rows[head] = True
    row_of_read = np.full(eligible.size, -1, dtype=np.int32)
    row_of_read[in_rows] = np.arange(int(np.count_nonzero(in_rows)), dtype=np.int32)
    row_of_read[pooled] = row_of_read[head][of_unit.reshape(-1)]
    return row_of_read, in_rows


def _reads_of_rows(
    row_of_read: npt.NDArray[np.int32], row_mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Per distinct read: in the EM, at a row of ``row_mask``."""
    if row_mask.size == 0:
        return np.zeros(row_of_read.size, dtype=bool)
    in_em = row_of_read >= 0
    result: npt.NDArray[np.bool_] = in_em & row_mask[np.where(in_em, row_of_read, 0)]
    return result


def _settle(
    em: _Em,
    taxa: TaxonIndex,
    settings: ProfileSettings,
    groups: GroupList,
    contest: Mapping[str, str] | None,
) -> Fit:
    """Resolve the reads of an estimate's EM, merge contested species groups (and, with
    ``contest`` = species -> tax id, ad-hoc groups of contested congeners) and apply the rank
    fallback."""
    status, row_of_read, matrix, estimate = em.status, em.row_of_read, em.matrix, em.estimate
    # issue 11 (memstream): the estimate lets go of these once used
    contest_matrix, identity, em.contest, em.identity = em.contest, em.identity, None, None
    # issue 11: the per-read posteriors are held here alone and end with the resolution
    posterior, em.estimate = estimate.posterior, estimate.without_posterior()
    estimate = em.estimate
    assert posterior is not None  # the EM's own estimate
    resolution = resolve_reads(
        posterior,
        matrix.weights,
        taxa,
        species_confidence=settings.species_confidence,
    )
    merge: GroupMerge | None = None
    if groups and identity is not None:
        merge = merge_contested_groups(
            taxa,
            groups,
            candidates=candidate_chunks(identity),
            weights=matrix.weights,
            best_unit=resolution.best_unit,
            min_identity_margin=settings.group_identity_margin,
        )
        identity.close()  # issue 11 (memstream)
        resolution = _resolve_merged(merge, posterior, matrix, resolution, settings)
    if contest is not None and settings.contest is not None and contest_matrix is not None:
        # sister species this sample's reads do not separate (gutbrain.profile.contest)
        merge = join_contested_species(
            merge if merge is not None else GroupMerge.identity(taxa),
            contest_matrix,
            matrix.weights,
            resolution.best_unit,
            threshold=contest_threshold(em.model, settings.contest.max_errors),
            taxids=contest,
            settings=settings.contest,
        )
        resolution = _resolve_merged(merge, posterior, matrix, resolution, settings)
    del posterior
    if contest_matrix is not None:  # issue 11 (memstream)
        contest_matrix.close()
    if merge is not None and not merge.merged:
        merge = None
    explained_rows = estimate.explained
    for mask, label in (
        (explained_rows & resolution.species_resolved, ASSIGNED_SPECIES),
        (
            explained_rows & ~resolution.species_resolved & resolution.genus_resolved,
            GENUS_FALLBACK,
        ),
        (explained_rows & ~resolution.species_resolved & ~resolution.genus_resolved, ABOVE_GENUS),
    ):
        status[_reads_of_rows(row_of_read, mask)] = _CODE[label]

    return Fit(
        status,
        em.model,
        row_of_read,
        pool_single_rows(matrix, estimate.abundance > 0),
        estimate,
        resolution,
        em.alignments,
        merge,
        taxa,
        em.screened,
    )


def _resolve_merged(
    merge: GroupMerge,
    posterior: sp.csr_matrix,
    matrix: LikelihoodMatrix,
    resolution: ReadResolution,
    settings: ProfileSettings,
) -> ReadResolution:
    """The species side of ``resolution`` recomputed on the merged posteriors."""
    if not merge.merged:
        return resolution
    by_group = resolve_reads(
        posterior,
        matrix.weights,
        merge.index,
        species_confidence=settings.species_confidence,
        merged_by=merge,
    )
    return replace(
        resolution,
        species_reads=by_group.species_reads,
        species_resolved=by_group.species_resolved,
        best_unit=by_group.best_unit,
    )


#: Above this fraction of the reference, the second pass uses the whole-reference index.
_SUBSET_MAX_FRACTION = 0.5


def _realign(
    collected: Collected,
    chosen: npt.NDArray[np.int64],
    redo: npt.NDArray[np.bool_],
    bundle: ReferenceBundle,
    settings: ProfileSettings,
    second: AlignmentSettings,
    first_aligner: Any,
) -> HitTable:
    """The hits of the ``redo`` distinct reads with the ``second`` aligner (read = distinct
    read index), to replace their first-pass hits.

    With ``settings.second_pass_subset`` the sensitive index holds only the ``chosen``
    references, those the first estimate points to (:mod:`gutbrain.profile.candidates`), built
    in memory from the first-pass index; otherwise, or when that selection is empty or covers
    more than half the reference, the cached whole-reference index.
    """
    names = list(first_aligner.seq_names)
    subset = settings.second_pass_subset and 0 < chosen.size <= _SUBSET_MAX_FRACTION * len(names)
    rescue_settings = second.rescue_settings()
    which = np.nonzero(redo)[0]
    assert collected.sequences is not None  # kept whenever there is a second pass
    sequences = collected.sequences.get(which.tolist())
    first_index = {name: i for i, name in enumerate(names)}
    with contextlib.ExitStack() as cleanup:
        if subset:
            subset_names = [names[i] for i in chosen.tolist()]
            # issue 11 (secondpass): the subset index is also written to a temporary .mmi, which
            # the rescue aligner loads instead of indexing the subset again (same index options)
            shared: Path | None = None
            if rescue_settings is not None and shares_index(second, rescue_settings):
                folder = cleanup.enter_context(
                    tempfile.TemporaryDirectory(prefix="gutbrain-second-")
                )
                shared = Path(folder) / "subset.mmi"

            def open_second(options: AlignmentSettings) -> Any:
                if shared is not None and options is not second and shared.is_file():
                    return open_aligner(shared, settings=options)
                return open_subset_aligner(
                    first_aligner, subset_names, settings=options, index_out=shared
                )
        else:
            index_path = ensure_index(bundle, preset=second.preset, k=second.k, w=second.w)

            def open_second(options: AlignmentSettings) -> Any:
                return open_aligner(index_path, settings=options)

        aligner = open_second(second)
        new = align_sequences(aligner, sequences, first_index)
        missing = np.setdiff1d(np.arange(len(sequences)), new.read)
        if rescue_settings is not None and missing.size:
            # the rescue aligner is opened only when some reads still have no hit
            rescue = open_second(rescue_settings)
            extra = align_sequences(rescue, [sequences[i] for i in missing], first_index)
            new = HitTable.concat([new, replace(extra, read=missing[extra.read])])
    logger.debug(
        "second pass: %d distinct reads against %s",
        which.size,
        f"{len(chosen)} of {len(names)} references" if subset else "the whole reference",
    )
    return replace(new, read=which[new.read])
