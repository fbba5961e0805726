"""``profile_sample``: read files + reference bundle -> species and genus profile.

Steps (details in ``docs/profile.md``):

1. Stream and validate the reads (:func:`gutbrain.io.reads.iter_sample_reads`), apply the read QC
   preset, and collapse identical sequences (each distinct sequence is aligned once and counted
   with its multiplicity; HiFi data has many duplicates).
2. Align with minimap2 through :mod:`gutbrain.profile.align` in worker processes.
3. Classify reads that cannot be assigned: no alignment, best identity below ``min_identity``,
   best alignment covering less than ``min_query_coverage`` of the read (partial, e.g.
   concatemers), likely chimera (primary and supplementary alignments on disjoint parts of the
   read hitting different genera).
4. Score alignments (:mod:`gutbrain.profile.likelihood`), run EM with pruning
   (:mod:`gutbrain.profile.em`), apply the genus fallback (:mod:`gutbrain.profile.taxonomy`)
   and bootstrap confidence intervals.

Nothing is written and no result is returned until the read iterator is exhausted, so a
truncated input raises before anything is committed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain import __version__
from gutbrain.errors import EmptyInputError, ErrorCode, OptionError
from gutbrain.io.files import (
    atomic_directory,
    atomic_write_text,
    check_input_file,
    sha256_file,
)
from gutbrain.io.readqc import QC_PRESETS, QCSettings, ReadFilter, check_reads_kept
from gutbrain.io.reads import ReadStats, iter_sample_reads
from gutbrain.io.tables import write_profile_biom, write_profile_tsv
from gutbrain.model import Lineage, Profile, Provenance, ReadQC, SampleId, TaxonRow
from gutbrain.profile.align import (
    ALIGNMENT_PRESETS,
    HIFI_SCORING,
    ONT_SCORING,
    AlignmentSettings,
    HitTable,
    align_batches,
    align_sequences,
    default_processes,
    mappy_version,
    open_aligner,
    open_subset_aligner,
)
from gutbrain.profile.candidates import second_pass_references
from gutbrain.profile.contest import (
    ContestSettings,
    contest_log_likelihood,
    contest_threshold,
    join_contested_species,
    species_taxids,
)
from gutbrain.profile.em import (
    AbundanceEstimate,
    LikelihoodMatrix,
    bootstrap_abundances,
    estimate_abundances,
)
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_screen import KmerIndex, ScreenSettings, ensure_kmer_index
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood, estimate_error_model
from gutbrain.profile.pairs import MergeSettings, MergeStats, is_read_pair, merge_read_pairs
from gutbrain.profile.taxonomy import (
    GroupMerge,
    ReadResolution,
    TaxonIndex,
    merge_contested_groups,
    resolve_reads,
)
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.groups import load_species_groups

__all__ = [
    "PROFILE_PRESETS",
    "ProfileResult",
    "ProfileSettings",
    "ensure_profile_indexes",
    "index_passes",
    "profile_sample",
    "screen_unit_groups",
    "write_profile_outputs",
]

logger = logging.getLogger(__name__)

CITATIONS: tuple[str, ...] = (
    "Curry KD et al. (2022) Emu: species-level microbial community profiling of full-length 16S "
    "rRNA Oxford Nanopore sequencing data. Nat Methods 19:845-853.",
    "Li H (2018) Minimap2: pairwise alignment for nucleotide sequences. Bioinformatics "
    "34:3094-3100.",
)

_BATCH = 256
_SCREEN_BATCH = 1024  # distinct reads per k-mer screen call (~25 MB of numpy arrays)

# per-read status codes (read_assignments.tsv, assignment counters)
_ASSIGNED_SPECIES = "assigned_species"
_GENUS_FALLBACK = "genus_fallback"
_ABOVE_GENUS = "unassigned_ambiguous_genus"
_NO_ALIGNMENT = "unassigned_no_alignment"
_LOW_IDENTITY = "unassigned_low_identity"
_PARTIAL = "unassigned_partial_alignment"
_CHIMERA = "unassigned_chimera"
_PRUNED = "unassigned_below_min_abundance"


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    """Everything that shapes a profile besides the reads and the reference.

    ``min_identity`` (0–1) and ``min_query_coverage`` (0–1) apply to a read's best alignment;
    ``read_qc`` overrides the read QC preset of the same name; ``second_pass`` (more sensitive
    alignment settings) re-aligns the reads the first pass leaves unexplained (no alignment,
    low identity, partial, or only pruned candidates) and re-runs the estimate, against an
    index of only the references the first estimate points to when ``second_pass_subset``
    (:mod:`gutbrain.profile.candidates`);
    ``screen`` (k-mer pre-screen, :mod:`gutbrain.profile.kmer_screen`) assigns the reads
    whose species is clear from exact k-mer evidence without aligning them (``None``: align
    every read);
    ``species_confidence`` is the genus-fallback posterior threshold; ``group_identity_margin``
    (identity, 0–1) is how much better a read must match its best member of a species group
    than every other member for the read to separate them (see
    :func:`gutbrain.profile.taxonomy.merge_contested_groups`); ``contest`` is the rule that
    joins congeners this sample's reads do not separate into ad-hoc groups, for references with
    species groups (:mod:`gutbrain.profile.contest`; ``None`` turns it off);
    ``bootstrap_replicates``
    and ``seed`` control the confidence intervals (``confidence_level`` two-sided).
    """

    alignment: AlignmentSettings
    min_identity: float
    min_query_coverage: float
    read_qc: QCSettings | None = None
    second_pass: AlignmentSettings | None = None
    second_pass_subset: bool = True
    screen: ScreenSettings | None = None
    species_confidence: float = 0.5
    group_identity_margin: float = 0.005
    contest: ContestSettings | None = field(default_factory=ContestSettings)
    em_tol: float = 0.01
    em_max_iter: int = 1000
    bootstrap_replicates: int = 50
    confidence_level: float = 0.95
    seed: int = 20221

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary for provenance."""
        return {
            "alignment": self.alignment.as_dict(),
            "read_qc": self.read_qc.describe() if self.read_qc is not None else "preset",
            "second_pass": self.second_pass.as_dict() if self.second_pass is not None else None,
            "second_pass_subset": self.second_pass_subset,
            "kmer_screen": self.screen.as_dict() if self.screen is not None else None,
            "min_identity": self.min_identity,
            "min_query_coverage": self.min_query_coverage,
            "species_confidence": self.species_confidence,
            "group_identity_margin": self.group_identity_margin,
            "contested_congeners": self.contest.as_dict() if self.contest is not None else None,
            "em_tol": self.em_tol,
            "em_max_iter": self.em_max_iter,
            "bootstrap_replicates": self.bootstrap_replicates,
            "confidence_level": self.confidence_level,
            "seed": self.seed,
        }


#: Read technology -> settings (read QC thresholds come from :data:`gutbrain.io.readqc.QC_PRESETS`).
PROFILE_PRESETS: dict[str, ProfileSettings] = {
    # ONT: a fast first pass (lr:hq, its own k=19, w=19), then the sensitive k=15, w=10 index for
    # the ~1 % of reads it leaves unexplained (measured: same accuracy as k=15 for all reads,
    # 1.3x faster). min_chain_score=100 (minimap2's default 40) drops weak chains early: 10-20 %
    # less mapping CPU; the few reads it leaves unmapped go to the second pass, which is cheap
    # since it aligns to a subset index (docs/profile.md).
    "ont": ProfileSettings(
        AlignmentSettings(
            "lr:hq",
            best_n=10,
            bandwidth=75,
            scoring=ONT_SCORING,
            max_chain_skip=2,
            min_chain_score=100,
        ),
        min_identity=0.70,
        min_query_coverage=0.5,
        second_pass=ALIGNMENT_PRESETS["ont"],
        # k-mer pre-screen: ~55-60 % of the benchmark ONT reads are placed without alignment,
        # species L1 unchanged to 0.0005 (benchmarks/calibrate_kmer_screen.py, docs/profile.md)
        screen=ScreenSettings(),
    ),
    # HiFi: the same two passes. First map-hifi on a sparser minimizer index (k=19, w=31): on the
    # benchmark HiFi sets the same L1 (to 0.0002) at 1.35-1.45x the speed of w=19, and the same
    # L1 as w=19 on HiFi reads degraded to ~94 % identity (w=51 was faster on the benchmark but
    # lost 12 % of reads at 90 % identity and precision at 94 %); then map-hifi's own w=19 for
    # the reads the first pass leaves unexplained. min_chain_score=100 as for ONT (5-11 % less
    # CPU, the same L1 on the HiFi sets and on HiFi reads degraded to ~94 % identity).
    "hifi": ProfileSettings(
        AlignmentSettings(
            "map-hifi",
            k=19,
            w=31,
            best_n=10,
            bandwidth=75,
            scoring=HIFI_SCORING,
            max_chain_skip=2,
            min_chain_score=100,
        ),
        min_identity=0.80,
        min_query_coverage=0.5,
        second_pass=ALIGNMENT_PRESETS["hifi"],
        # HiFi reads carry ~2.5x the k-mer evidence of ONT reads, and margins of 6 k-mers / 20 %
        # moved 0.006 of gut_hifi_20k's species L1 (held-out Bacteroides strains): wider ones
        screen=ScreenSettings(min_margin=12, margin_fraction=0.4),
    ),
    "short": ProfileSettings(ALIGNMENT_PRESETS["short"], min_identity=0.85, min_query_coverage=0.6),
}


def _input_checksums(paths: Sequence[Path]) -> dict[str, str]:
    """File name -> SHA-256; folders are left out (they may name a person), clashes numbered."""
    checksums: dict[str, str] = {}
    for path in paths:
        name = path.name
        n = 1
        while name in checksums:
            n += 1
            name = f"{path.name} ({n})"
        checksums[name] = sha256_file(path)
    return checksums


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """A sample's profile with the figures behind it.

    ``profile`` has species rows and genus rows; per rank, rows plus ``unassigned`` sum to 1
    (fractions of all input reads). ``assignment`` counts reads by outcome, ``em`` describes the
    EM run. ``read_assignments`` holds one ``(read, status, rank, taxon)`` tuple per input read.
    """

    profile: Profile
    qc: ReadQC
    assignment: Mapping[str, int]
    em: Mapping[str, Any]
    read_assignments: tuple[tuple[str, str, str, str], ...] = field(default=(), repr=False)


# --------------------------------------------------------------------------------------------
def _check_options(preset: str, min_abundance: float | None, threads: int) -> None:
    problems = []
    if preset not in PROFILE_PRESETS:
        problems.append(f"preset {preset!r} is not one of {', '.join(PROFILE_PRESETS)}")
    if min_abundance is not None and not (0.0 <= min_abundance < 1.0):
        problems.append(f"min_abundance {min_abundance} is outside [0, 1)")
    if threads < 1:
        problems.append(f"threads {threads} must be at least 1")
    if problems:
        message = f"invalid profile options: {'; '.join(problems)}"
        raise OptionError(message, code=ErrorCode.PROFILE_OPTIONS)


@dataclass(slots=True)
class _Collected:
    names: list[str]
    qc_reason: list[str | None]
    unique_of_read: npt.NDArray[np.int64]
    n_unique: int
    hits: HitTable
    qc: ReadQC
    sequences: list[bytes]  # zlib-compressed distinct sequences (only with a second pass)
    screened: npt.NDArray[np.bool_]  # per distinct read: assigned by the k-mer screen


def _collect(
    read_paths: Sequence[str | Path],
    *,
    aligner: Any,
    rescue: Any,
    settings: ProfileSettings,
    qc_filter: ReadFilter,
    stats: ReadStats,
    processes: int,
    progress: Callable[[float, float | None], None] | None,
    pairs: MergeStats | None = None,
    screen: tuple[KmerIndex, npt.NDArray[np.int64]] | None = None,
) -> _Collected:
    total_bytes = float(sum(Path(p).stat().st_size for p in read_paths)) or None
    names: list[str] = []
    qc_reason: list[str | None] = []
    unique_of_read: list[int] = []
    seen: dict[bytes, int] = {}
    batch_ids: list[npt.NDArray[np.int64]] = []
    decided: list[HitTable] = []
    sequences: list[bytes] = []
    keep_sequences = settings.second_pass is not None

    def aligned(batch: list[str], start: int) -> list[str]:
        """The reads of ``batch`` (distinct reads ``start``...) the screen leaves to mappy."""
        ids = np.arange(start, start + len(batch), dtype=np.int64)
        if screen is not None:
            index, unit_group = screen
            result = index.screen(
                batch,
                unit_group=unit_group,
                group_identity_margin=settings.group_identity_margin,
            )
            chosen = result.decided
            if chosen.any():
                lengths = np.fromiter((len(s) for s in batch), dtype=np.int64)
                which = np.concatenate([np.nonzero(chosen)[0], result.tied_read])
                units = np.concatenate([result.unit[chosen], result.tied_unit])
                decided.append(
                    _screened_hits(
                        ids[which],
                        index.unit_reference[units],
                        lengths[which],
                        primary=np.arange(which.size) < int(chosen.sum()),
                    )
                )
                batch = [s for s, c in zip(batch, chosen.tolist(), strict=True) if not c]
                ids = ids[~chosen]
        batch_ids.append(ids)
        return batch

    def batches() -> Iterator[list[str]]:
        batch: list[str] = []
        start = 0
        size = _SCREEN_BATCH if screen is not None else _BATCH
        reads = (
            merge_read_pairs(read_paths[0], read_paths[1], stats=stats, merge_stats=pairs)
            if pairs is not None
            else iter_sample_reads(list(read_paths), stats=stats)
        )
        for read in reads:
            names.append(read.name)
            reason = qc_filter.classify(read)
            qc_reason.append(reason)
            if reason is not None:
                unique_of_read.append(-1)
                continue
            key = hashlib.blake2b(read.sequence.encode("ascii"), digest_size=16).digest()
            index = seen.get(key)
            if index is None:
                index = len(seen)
                seen[key] = index
                batch.append(read.sequence)
                if keep_sequences:
                    sequences.append(zlib.compress(read.sequence.encode("ascii"), 1))
            unique_of_read.append(index)
            if len(batch) >= size:
                yield from _sub_batches(aligned(batch, start))
                start += len(batch)
                batch = []
        if batch:
            yield from _sub_batches(aligned(batch, start))

    def on_batch(_: int) -> None:
        if progress is not None:
            progress(float(stats.bytes_read), total_bytes)

    tables = list(
        align_batches(aligner, batches(), processes=processes, on_batch=on_batch, rescue=rescue)
    )
    offsets: list[npt.NDArray[np.int64]] = []
    for group in batch_ids:  # as _sub_batches splits each screen batch for alignment
        offsets.extend(group[i : i + _BATCH] for i in range(0, group.size, _BATCH))
    hits = HitTable.concat(
        [replace(t, read=o[t.read]) for t, o in zip(tables, offsets, strict=True)] + decided
    )
    screened = np.zeros(len(seen), dtype=bool)
    for table in decided:
        screened[table.read] = True
    if progress is not None:
        progress(float(total_bytes or 0.0), total_bytes)
    return _Collected(
        names=names,
        qc_reason=qc_reason,
        unique_of_read=np.asarray(unique_of_read, dtype=np.int64),
        n_unique=len(seen),
        hits=hits,
        qc=qc_filter.summary(),
        sequences=sequences,
        screened=screened,
    )


def _sub_batches(batch: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(batch), _BATCH):
        yield batch[i : i + _BATCH]


def _screened_hits(
    reads: npt.NDArray[np.int64],
    references: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    *,
    primary: npt.NDArray[np.bool_],
) -> HitTable:
    """Stand-in hits of screened reads: a unit's first reference, whole read, no errors; one
    primary per read (its unit), secondary ones for the group members it ties with.

    Screened reads are left out of the error model and their candidates get log L = 0
    (:func:`_estimate`); the stand-ins carry the units through classification, EM and the
    species-group rule (tied members match with equal identity: contested).
    """
    zero = np.zeros(reads.size, dtype=np.int64)
    return HitTable(
        read=reads,
        ref=references.astype(np.int64),
        query_start=zero,
        query_end=lengths,
        query_length=lengths,
        ref_start=zero,
        ref_end=lengths,
        matches=lengths,
        block_length=lengths,
        edit_distance=zero,
        primary=primary,
    )


def _classify_unique(
    hits: HitTable, n_unique: int, index: TaxonIndex, settings: ProfileSettings
) -> npt.NDArray[np.object_]:
    """Per distinct read: ``None`` when eligible for the EM, else an unassigned status."""
    status = np.full(n_unique, None, dtype=object)
    has_hit = np.zeros(n_unique, dtype=bool)
    has_hit[hits.read] = True
    status[~has_hit] = _NO_ALIGNMENT
    best_identity = np.zeros(n_unique)
    np.maximum.at(best_identity, hits.read, hits.identity)
    best_coverage = np.zeros(n_unique)
    np.maximum.at(best_coverage, hits.read, hits.query_coverage)
    status[has_hit & (best_identity < settings.min_identity)] = _LOW_IDENTITY
    partial = has_hit & (best_identity >= settings.min_identity)
    partial &= best_coverage < settings.min_query_coverage
    status[partial] = _PARTIAL
    # chimeras: >= 2 primary (primary + supplementary) alignments on disjoint read parts
    primary = hits.take(hits.primary)
    n_primary = np.bincount(primary.read, minlength=n_unique)
    genus_of_ref = index.unit_genus[index.ref_unit]
    for read in np.nonzero(n_primary >= 2)[0]:
        if status[read] is not None:
            continue
        rows = np.nonzero(primary.read == read)[0]
        spans = sorted(
            (int(primary.query_start[i]), int(primary.query_end[i]), int(primary.ref[i]))
            for i in rows
        )
        for (s1, e1, r1), (s2, e2, r2) in itertools.pairwise(spans):
            overlap = max(0, min(e1, e2) - max(s1, s2))
            shorter = max(1, min(e1 - s1, e2 - s2))
            if overlap / shorter < 0.5 and genus_of_ref[r1] != genus_of_ref[r2]:
                status[read] = _CHIMERA
                break
    return status


_REALIGN = (_NO_ALIGNMENT, _LOW_IDENTITY, _PARTIAL, _PRUNED)


@dataclass(frozen=True, slots=True)
class _Estimate:
    status: npt.NDArray[np.object_]
    model: ErrorModel
    rows: npt.NDArray[np.int64]
    matrix: LikelihoodMatrix
    estimate: AbundanceEstimate
    resolution: ReadResolution
    hits: HitTable
    merge: GroupMerge | None


#: ``(group name, group lineage, member species)`` per species group of the reference.
_Groups = Sequence[tuple[str, Lineage, tuple[str, ...]]]


def _estimate(
    hits: HitTable,
    weights: npt.NDArray[np.float64],
    taxa: TaxonIndex,
    settings: ProfileSettings,
    min_abundance: float | None,
    groups: _Groups = (),
    contest: Mapping[str, str] | None = None,
    screened: npt.NDArray[np.bool_] | None = None,
) -> _Estimate:
    """Classify distinct reads, score alignments, run the EM, merge contested species groups
    (and, with ``contest`` = species -> tax id, ad-hoc groups of contested congeners) and apply
    the rank fallback.

    ``screened`` distinct reads (k-mer screen) carry one stand-in hit each: they are left out
    of the error model and their single candidate gets log L = 0.
    """
    n_unique = int(weights.size)
    status = _classify_unique(hits, n_unique, taxa, settings)
    eligible = np.array([s is None for s in status], dtype=bool)
    hits = hits.take(eligible[hits.read])
    stand_in = screened[hits.read] if screened is not None else np.zeros(len(hits), dtype=bool)
    model = estimate_error_model(hits.take(~stand_in), weights=weights)
    log_l = alignment_log_likelihood(hits, model, n_reads=n_unique)
    log_l[stand_in] = 0.0
    rows = np.nonzero(eligible)[0]
    row_of_unique = np.full(n_unique, -1, dtype=np.int64)
    row_of_unique[rows] = np.arange(rows.size)
    matrix = LikelihoodMatrix.from_triplets(
        row_of_unique[hits.read],
        taxa.ref_unit[hits.ref],
        log_l,
        n_reads=int(rows.size),
        n_taxa=taxa.n_units,
        weights=weights[rows],
    )
    estimate = estimate_abundances(
        matrix, min_abundance=min_abundance, max_iter=settings.em_max_iter, tol=settings.em_tol
    )
    resolution = resolve_reads(
        estimate.posterior,
        matrix.weights,
        taxa,
        species_confidence=settings.species_confidence,
    )
    merge: GroupMerge | None = None
    if groups:
        merge = merge_contested_groups(
            taxa,
            groups,
            read_rows=row_of_unique[hits.read],
            read_units=taxa.ref_unit[hits.ref],
            identity=hits.identity,
            weights=matrix.weights,
            best_unit=resolution.best_unit,
            min_identity_margin=settings.group_identity_margin,
        )
        resolution = _resolve_merged(merge, estimate, matrix, resolution, settings)
    if contest is not None and settings.contest is not None:
        # sister species this sample's reads do not separate (gutbrain.profile.contest)
        aligned = LikelihoodMatrix.from_triplets(
            row_of_unique[hits.read],
            taxa.ref_unit[hits.ref],
            contest_log_likelihood(hits, model, n_reads=n_unique),
            n_reads=int(rows.size),
            n_taxa=taxa.n_units,
        )
        merge = join_contested_species(
            merge if merge is not None else GroupMerge.identity(taxa),
            aligned.log_likelihood,
            matrix.weights,
            resolution.best_unit,
            threshold=contest_threshold(model, settings.contest.max_errors),
            taxids=contest,
            settings=settings.contest,
        )
        resolution = _resolve_merged(merge, estimate, matrix, resolution, settings)
    if merge is not None and not merge.merged:
        merge = None
    unexplained = ~estimate.explained
    status[rows[unexplained]] = _PRUNED
    explained_rows = estimate.explained
    for mask, label in (
        (explained_rows & resolution.species_resolved, _ASSIGNED_SPECIES),
        (
            explained_rows & ~resolution.species_resolved & resolution.genus_resolved,
            _GENUS_FALLBACK,
        ),
        (explained_rows & ~resolution.species_resolved & ~resolution.genus_resolved, _ABOVE_GENUS),
    ):
        status[rows[mask]] = label

    return _Estimate(status, model, rows, matrix, estimate, resolution, hits, merge)


def _resolve_merged(
    merge: GroupMerge,
    estimate: AbundanceEstimate,
    matrix: LikelihoodMatrix,
    resolution: ReadResolution,
    settings: ProfileSettings,
) -> ReadResolution:
    """The species side of ``resolution`` recomputed on the merged posteriors."""
    if not merge.merged:
        return resolution
    by_group = resolve_reads(
        merge.merge_posterior(estimate.posterior),
        matrix.weights,
        merge.index,
        species_confidence=settings.species_confidence,
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
    collected: _Collected,
    first: _Estimate,
    redo: npt.NDArray[np.bool_],
    bundle: ReferenceBundle,
    settings: ProfileSettings,
    second: AlignmentSettings,
    first_aligner: Any,
    taxa: TaxonIndex,
) -> HitTable:
    """Replace the hits of the ``redo`` distinct reads by those of the ``second`` aligner.

    With ``settings.second_pass_subset`` the sensitive index holds only the references the
    first estimate points to (:mod:`gutbrain.profile.candidates`), built in memory from the
    first-pass index; otherwise, or when that selection is empty or covers more than half the
    reference, the cached whole-reference index.
    """
    hits = collected.hits
    names = list(first_aligner.seq_names)
    chosen = second_pass_references(taxa, first.estimate.abundance, hits, redo)
    subset = settings.second_pass_subset and 0 < chosen.size <= _SUBSET_MAX_FRACTION * len(names)
    rescue_settings = second.rescue_settings()
    if subset:
        subset_names = [names[i] for i in chosen.tolist()]

        def open_second(options: AlignmentSettings) -> Any:
            return open_subset_aligner(first_aligner, subset_names, settings=options)
    else:
        index_path = ensure_index(bundle, preset=second.preset, k=second.k, w=second.w)

        def open_second(options: AlignmentSettings) -> Any:
            return open_aligner(index_path, settings=options)

    aligner = open_second(second)
    which = np.nonzero(redo)[0]
    sequences = [zlib.decompress(collected.sequences[i]).decode("ascii") for i in which]
    first_index = {name: i for i, name in enumerate(names)}
    new = align_sequences(aligner, sequences, first_index)
    missing = np.setdiff1d(np.arange(len(sequences)), new.read)
    if rescue_settings is not None and missing.size:
        # the rescue aligner is opened only when some reads still have no hit
        rescue = open_second(rescue_settings)
        extra = align_sequences(rescue, [sequences[i] for i in missing], first_index)
        new = HitTable.concat([new, replace(extra, read=missing[extra.read])])
    new = replace(new, read=which[new.read])
    logger.debug(
        "second pass: %d distinct reads against %s",
        which.size,
        f"{len(chosen)} of {len(names)} references" if subset else "the whole reference",
    )
    return HitTable.concat([hits.take(~redo[hits.read]), new])


def _quantiles(samples: npt.NDArray[np.float64], level: float) -> tuple[Any, Any]:
    alpha = (1.0 - level) / 2.0
    return np.quantile(samples, alpha, axis=0), np.quantile(samples, 1.0 - alpha, axis=0)


def profile_sample(
    read_paths: Sequence[str | Path],
    *,
    bundle: ReferenceBundle,
    preset: str = "ont",
    threads: int = 1,
    min_abundance: float | None = None,
    sample_id: str | None = None,
    confidence_intervals: bool = True,
    progress: Callable[[float, float | None], None] | None = None,
    settings: ProfileSettings | None = None,
) -> ProfileResult:
    """Profile one sample's reads against a reference bundle.

    Parameters
    ----------
    read_paths
        The sample's FASTQ/FASTA files (plain or gzip), read as one sample.
    bundle
        The reference (:func:`gutbrain.reference.bundle.load_bundle`).
    preset
        Read technology: ``ont``, ``hifi`` or ``short`` (alignment, QC and identity settings).
    threads
        Worker processes for alignment (mappy holds the GIL, so processes, not threads).
    min_abundance
        Extra pruning after Emu's ``1/n`` (``10/n`` above 1,000 reads) rule; fraction 0–1.
    sample_id
        Defaults to the first file's name without extensions.
    confidence_intervals
        Bootstrap the EM over reads for per-taxon intervals.
    progress
        ``progress(bytes_read, total_bytes)`` while reads stream through alignment.
    settings
        Override the preset's :class:`ProfileSettings` (tests, benchmarks).

    Returns
    -------
    ProfileResult

    Raises
    ------
    InputFormatError, InputMissingError, EmptyInputError
        Unreadable or malformed reads; ``GB-QC-NOREADS`` when no read passes QC.
    ReferenceDatabaseError
        The reference or its minimap2 index is unusable.
    OptionError
        ``GB-PROFILE-OPTIONS`` for an unknown preset or out-of-range option.
    """
    _check_options(preset, min_abundance, threads)
    settings = settings if settings is not None else PROFILE_PRESETS[preset]
    qc_settings = settings.read_qc if settings.read_qc is not None else QC_PRESETS[preset]
    paths = [check_input_file(p) for p in read_paths]
    if not paths:
        message = "no read files given; expected at least one FASTQ/FASTA path"
        raise EmptyInputError(message, code=ErrorCode.NO_READ_FILES)
    sample = SampleId(sample_id or (paths[0].name.split(".")[0] if paths else "sample"))
    align = settings.alignment
    index_path = ensure_index(bundle, preset=align.preset, k=align.k, w=align.w)
    aligner = open_aligner(index_path, settings=align)
    rescue_settings = align.rescue_settings()
    rescue = (
        open_aligner(index_path, settings=rescue_settings) if rescue_settings is not None else None
    )
    taxa = TaxonIndex.from_references(list(aligner.seq_names), bundle.taxonomy)
    groups = _bundle_groups(bundle, taxa)
    # ad-hoc groups need a reference with species groups (a --no-groups bundle opts out)
    contest = species_taxids(bundle) if load_species_groups(bundle) is not None else None
    screen = (
        (
            ensure_kmer_index(
                bundle, list(aligner.seq_names), taxa.ref_unit, settings=settings.screen
            ),
            _unit_groups(taxa, groups),
        )
        if settings.screen is not None
        else None
    )

    stats = ReadStats()
    qc_filter = ReadFilter(qc_settings, stats=stats)
    # two FASTQ files whose reads are mates: merged pairs (gutbrain.profile.pairs)
    pairs = MergeStats() if is_read_pair(paths) else None
    collected = _collect(
        paths,
        aligner=aligner,
        rescue=rescue,
        settings=settings,
        qc_filter=qc_filter,
        stats=stats,
        processes=default_processes(threads),
        progress=progress,
        pairs=pairs,
        screen=screen,
    )
    check_reads_kept(collected.qc, settings=qc_settings, source=paths[0] if paths else None)
    n_unique = collected.n_unique
    kept = collected.unique_of_read[collected.unique_of_read >= 0]
    weights = np.bincount(kept, minlength=n_unique).astype(np.float64)
    hits = collected.hits

    screened = collected.screened
    first = _estimate(hits, weights, taxa, settings, min_abundance, groups, contest, screened)
    result = first
    second = settings.second_pass
    if second is not None:
        redo = np.isin(first.status, list(_REALIGN))
        if redo.any():
            hits = _realign(collected, first, redo, bundle, settings, second, aligner, taxa)
            screened = screened & ~redo  # pruned screened reads are now aligned
            result = _estimate(
                hits, weights, taxa, settings, min_abundance, groups, contest, screened
            )
            logger.debug(
                "second pass: %d distinct reads re-aligned, %d now assigned",
                int(redo.sum()),
                int(np.isin(result.status[redo], [_ASSIGNED_SPECIES, _GENUS_FALLBACK]).sum()),
            )
    status, model, rows, matrix, estimate, resolution, hits = (
        result.status,
        result.model,
        result.rows,
        result.matrix,
        result.estimate,
        result.resolution,
        result.hits,
    )
    merge = result.merge
    species_taxa = merge.index if merge is not None else taxa
    species_abundance = (
        merge.merge_values(estimate.abundance) if merge is not None else estimate.abundance
    )

    total_reads = collected.qc.reads_in
    interval_units: tuple[Any, Any] | None = None
    interval_genera: tuple[Any, Any] | None = None
    if confidence_intervals and settings.bootstrap_replicates > 0 and rows.size:
        boot = bootstrap_abundances(
            matrix,
            estimate.abundance,
            replicates=settings.bootstrap_replicates,
            seed=settings.seed,
            max_iter=200,
            tol=settings.em_tol,
        )
        species_boot = merge.merge_values(boot) if merge is not None else boot
        interval_units = _quantiles(species_boot, settings.confidence_level)
        interval_genera = _quantiles(taxa.genus_sums(boot), settings.confidence_level)

    profile_rows = _rows(
        species_taxa,
        taxa,
        (species_abundance, taxa.genus_sums(estimate.abundance)),
        (resolution.species_reads, resolution.genus_reads),
        total_reads,
        (interval_units, interval_genera),
        merge.members if merge is not None else {},
    )
    unassigned: dict[Any, float] = {}
    for rank in ("species", "genus"):
        assigned = sum(r.abundance for r in profile_rows if r.rank == rank)
        unassigned[rank] = max(0.0, 1.0 - assigned) if total_reads else 1.0
    provenance = Provenance(
        gutbrain_version=__version__,
        source="gutbrain profile",
        inputs=_input_checksums(paths),
        parameters={
            "preset": preset,
            "threads": threads,
            "min_abundance": min_abundance,
            "read_qc": qc_settings.describe(),
            **settings.as_dict(),
            **({"read_pairs": _pair_settings()} if pairs is not None else {}),
        },
        reference=bundle.provenance(),
        tools={"minimap2 (mappy)": mappy_version(), "numpy": np.__version__},
        citations=CITATIONS,
    )
    group_names = {
        species_taxa.units[k].species for k in (merge.members if merge is not None else {})
    }
    profile = Profile(
        sample_id=sample,
        rows=tuple(profile_rows),
        unassigned=unassigned,
        provenance=provenance,
        total_reads=total_reads,
    )
    assignment, per_read = _read_outcomes(collected, status, resolution, rows, species_taxa)
    assignment["reads_assigned_group"] = sum(
        1 for _, label, rank, taxon in per_read if rank == "species" and taxon in group_names
    )
    adhoc = merge.adhoc if merge is not None else ()
    adhoc_names = {species_taxa.units[k].species for k in adhoc} - {None}
    assignment["reads_assigned_adhoc_group"] = sum(
        1 for _, label, rank, taxon in per_read if rank == "species" and taxon in adhoc_names
    )
    kept_unique = collected.unique_of_read[collected.unique_of_read >= 0]
    assignment["reads_screened"] = int(screened[kept_unique].sum())
    assignment["reads_aligned"] = int(kept_unique.size) - assignment["reads_screened"]
    if pairs is not None:
        assignment.update(pairs.as_dict())
    em_info = {
        "iterations": estimate.iterations,
        "log_likelihood": estimate.log_likelihood,
        "converged": estimate.converged,
        "references_kept": estimate.taxa_kept,
        "taxa_kept": estimate.taxa_kept,
        "prune_threshold": estimate.prune_threshold,
        "distinct_reads": n_unique,
        "alignments": len(hits),
        "error_model": model.as_dict(),
        "bootstrap_replicates": settings.bootstrap_replicates if interval_units else 0,
        "species_groups": len(groups),
        "species_groups_merged": [
            species_taxa.units[k].species for k in (merge.members if merge is not None else {})
        ],
        "species_groups_adhoc": sorted(n for n in adhoc_names if n is not None),
        "species_contests_at_genus": sorted(
            str(species_taxa.units[k].genus) for k in adhoc if species_taxa.units[k].species is None
        ),
        "contest_threshold_log_likelihood": (
            contest_threshold(model, settings.contest.max_errors)
            if settings.contest is not None
            else None
        ),
    }
    logger.info(
        "%s: %d reads in, %d assigned at species, %d genus fallback, EM %d iterations "
        "(log-likelihood %.1f)",
        sample,
        total_reads,
        assignment["reads_assigned_species"],
        assignment["reads_genus_fallback"],
        estimate.iterations,
        estimate.log_likelihood,
    )
    return ProfileResult(profile, collected.qc, assignment, em_info, per_read)


def _pair_settings() -> dict[str, Any]:
    rules = MergeSettings()
    return {
        "merge": "overlap, posterior base qualities (gutbrain.profile.pairs)",
        "min_overlap": rules.min_overlap,
        "max_differences": rules.max_differences,
        "min_difference_quality": rules.min_difference_quality,
        "max_expected_errors": rules.max_expected_errors,
        "unmerged": "profiled by the forward read",
    }


def _rows(
    taxa: TaxonIndex,
    genus_taxa: TaxonIndex,
    abundance: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    reads: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    total_reads: int,
    intervals: tuple[tuple[Any, Any] | None, tuple[Any, Any] | None],
    members: Mapping[int, tuple[str, ...]],
) -> list[TaxonRow]:
    """Species rows (``taxa``'s units, groups included) and genus rows (``genus_taxa``)."""
    rows: list[TaxonRow] = []
    if total_reads <= 0:
        return rows
    for rank, lineages, counts, f, interval in (
        ("species", taxa.units, reads[0], abundance[0], intervals[0]),
        ("genus", genus_taxa.genera, reads[1], abundance[1], intervals[1]),
    ):
        for j in np.nonzero(counts > 1e-9)[0]:
            lineage: Lineage = lineages[j]
            if lineage.at(rank) is None:  # type: ignore[arg-type]
                continue
            value = float(counts[j]) / total_reads
            low = high = None
            if interval is not None and f[j] > 0:
                scale = value / float(f[j])
                low = min(value, float(interval[0][j]) * scale)
                high = max(value, float(interval[1][j]) * scale)
            rows.append(
                TaxonRow(
                    rank=rank,  # type: ignore[arg-type]
                    lineage=lineage,
                    abundance=value,
                    reads=float(counts[j]),
                    abundance_low=low,
                    abundance_high=high,
                    members=members.get(int(j), ()) if rank == "species" else (),
                )
            )
    return rows


def _read_outcomes(
    collected: _Collected,
    status: npt.NDArray[np.object_],
    resolution: Any,
    rows: npt.NDArray[np.int64],
    taxa: TaxonIndex,
) -> tuple[dict[str, int], tuple[tuple[str, str, str, str], ...]]:
    row_of_unique = np.full(collected.n_unique, -1, dtype=np.int64)
    row_of_unique[rows] = np.arange(rows.size)
    counts: dict[str, int] = {
        "reads_in": collected.qc.reads_in,
        "reads_assigned_species": 0,
        "reads_genus_fallback": 0,
        _ABOVE_GENUS: 0,
        _NO_ALIGNMENT: 0,
        _LOW_IDENTITY: 0,
        _PARTIAL: 0,
        _CHIMERA: 0,
        _PRUNED: 0,
    }
    for dropped in collected.qc.dropped:
        counts[f"unassigned_{dropped}"] = 0
    per_read: list[tuple[str, str, str, str]] = []
    for name, reason, unique in zip(
        collected.names, collected.qc_reason, collected.unique_of_read.tolist(), strict=True
    ):
        rank, taxon = "", ""
        if reason is not None:
            label = f"unassigned_{reason}"
        else:
            label = str(status[unique])
            row = row_of_unique[unique]
            if label == _ASSIGNED_SPECIES:
                rank = "species"
                taxon = taxa.units[resolution.best_unit[row]].species or ""
            elif label == _GENUS_FALLBACK:
                rank = "genus"
                taxon = taxa.genera[resolution.best_genus[row]].genus or ""
        key = {
            _ASSIGNED_SPECIES: "reads_assigned_species",
            _GENUS_FALLBACK: "reads_genus_fallback",
        }.get(label, label)
        counts[key] = counts.get(key, 0) + 1
        per_read.append((name, label, rank, taxon))
    return counts, tuple(per_read)


# --------------------------------------------------------------------------------------------
def _json(data: Any) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, tuple):
            return list(value)
        return str(value)

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), indent=2, sort_keys=True, default=default) + "\n"


def _bundle_groups(bundle: ReferenceBundle, taxa: TaxonIndex) -> _Groups:
    """The bundle's species groups as ``(name, lineage, members)``, members present in ``taxa``."""
    groups = load_species_groups(bundle)
    if groups is None:
        return ()
    lineages = [unit for unit in taxa.units if unit.species is not None]
    present = {unit.species for unit in lineages}
    out = []
    for group in groups.groups:
        members = tuple(m for m in group.members if m in present)
        if len(members) >= 2:
            out.append((group.name, group.lineage(lineages), members))
    return tuple(out)


def _unit_groups(taxa: TaxonIndex, groups: _Groups) -> npt.NDArray[np.int64]:
    """Species group index of each unit (``-1``: none), for the k-mer screen."""
    group_of = {m: g for g, (_, _, members) in enumerate(groups) for m in members}
    return np.array([group_of.get(unit.species or "", -1) for unit in taxa.units], dtype=np.int64)


def screen_unit_groups(bundle: ReferenceBundle, taxa: TaxonIndex) -> npt.NDArray[np.int64]:
    """Per taxon unit of ``taxa``: its species group in ``bundle`` (``-1``: none), as the
    k-mer screen (:mod:`gutbrain.profile.kmer_screen`) takes it."""
    return _unit_groups(taxa, _bundle_groups(bundle, taxa))


def ensure_profile_indexes(bundle: ReferenceBundle, *, preset: str) -> list[Path]:
    """Build (or find) every cached minimap2 index that profiling ``preset`` reads will use.

    Indexes are otherwise built on first use; this lets a user or a cohort prepare them once.

    Raises
    ------
    OptionError
        ``GB-PROFILE-OPTIONS`` when ``preset`` is not one of :data:`PROFILE_PRESETS`.
    """
    if preset not in PROFILE_PRESETS:
        message = f"read type {preset!r} is not one of {', '.join(PROFILE_PRESETS)}"
        raise OptionError(message, code=ErrorCode.PROFILE_OPTIONS)
    settings = PROFILE_PRESETS[preset]
    return [ensure_index(bundle, preset=a.preset, k=a.k, w=a.w) for a in index_passes(settings)]


def index_passes(settings: ProfileSettings) -> list[AlignmentSettings]:
    """The alignment passes that read a cached whole-reference index.

    A second pass on a subset index (``second_pass_subset``) builds its small index in memory
    at run time; it falls back to the whole-reference index only when the first estimate keeps
    nothing, which the profiler then builds on first use.
    """
    passes = [settings.alignment]
    if settings.second_pass is not None and not settings.second_pass_subset:
        passes.append(settings.second_pass)
    return passes


def write_profile_outputs(
    result: ProfileResult,
    out_dir: str | Path,
    *,
    read_assignments: bool = False,
    replace: bool = False,
) -> Path:
    """Write ``profile.tsv``, ``profile.biom``, ``qc.json``, ``provenance.json`` (and
    ``read_assignments.tsv``) into ``out_dir`` atomically: the folder appears complete or not
    at all.

    Raises
    ------
    OutputError
        ``GB-EXISTS`` when ``out_dir`` exists and ``replace`` is false; or it cannot be written.
    """
    qc = result.qc
    qc_doc = {
        "sample": str(result.profile.sample_id),
        "read_qc": {
            "reads_in": qc.reads_in,
            "reads_kept": qc.reads_kept,
            "dropped": dict(qc.dropped),
            "bases_kept": qc.bases_kept,
            "length_n50": qc.length_n50,
            "length_quantiles": dict(qc.length_quantiles),
            "mean_quality": qc.mean_quality,
            "ambiguous_bases": qc.ambiguous_bases,
            "lowercase_reads": qc.lowercase_reads,
            "crlf_lines": qc.crlf_lines,
        },
        "assignment": dict(result.assignment),
        "em": dict(result.em),
        "unassigned_fraction": dict(result.profile.unassigned),
    }
    with atomic_directory(out_dir, replace=replace) as tmp:
        write_profile_tsv(result.profile, tmp / "profile.tsv")
        write_profile_biom(result.profile, tmp / "profile.biom", rank="species")
        atomic_write_text(tmp / "qc.json", _json(qc_doc))
        atomic_write_text(tmp / "provenance.json", _json(result.profile.provenance.as_dict()))
        if read_assignments:
            lines = ["read\tstatus\trank\ttaxon"]
            lines.extend("\t".join(_tsv_cell(c) for c in row) for row in result.read_assignments)
            atomic_write_text(tmp / "read_assignments.tsv", "\n".join(lines) + "\n")
    return Path(out_dir)


def _tsv_cell(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
