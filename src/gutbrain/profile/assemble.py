"""The last stages of :func:`gutbrain.profile.pipeline.profile_sample`: intervals and result.

:func:`bootstrap_intervals` bootstraps the EM for per-taxon confidence intervals;
:func:`assemble_result` turns a :class:`gutbrain.profile.fit.Fit` into the species and genus
rows of a :class:`gutbrain.model.Profile` (fractions of all input reads), counts the reads by
outcome and summarises the EM run (:class:`gutbrain.io.profile_files.EMSummary`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain import __version__
from gutbrain.io.files import sha256_file
from gutbrain.io.profile_files import EMSummary, ProfileResult
from gutbrain.model import Lineage, Profile, Provenance, Rank, SampleId, TaxonRow
from gutbrain.profile.align import mappy_version
from gutbrain.profile.collect import Collected
from gutbrain.profile.contest import contest_threshold
from gutbrain.profile.em import bootstrap_abundances
from gutbrain.profile.fit import (
    ABOVE_GENUS,
    ASSIGNED_SPECIES,
    CHIMERA,
    GENUS_FALLBACK,
    LOW_IDENTITY,
    NO_ALIGNMENT,
    PARTIAL,
    PRUNED,
    STATUS_LABELS,
    Fit,
)
from gutbrain.profile.kmer_rows import placed_by_rows
from gutbrain.profile.settings import ProfileSettings
from gutbrain.reference.bundle import ReferenceBundle

__all__ = [
    "CITATIONS",
    "Intervals",
    "assemble_result",
    "bootstrap_intervals",
    "profile_provenance",
]

logger = logging.getLogger(__name__)

CITATIONS: tuple[str, ...] = (
    "Curry KD et al. (2022) Emu: species-level microbial community profiling of full-length 16S "
    "rRNA Oxford Nanopore sequencing data. Nat Methods 19:845-853.",
    "Li H (2018) Minimap2: pairwise alignment for nucleotide sequences. Bioinformatics "
    "34:3094-3100.",
)

#: ``(low, high)`` abundance (0–1) per unit, as arrays.
Bounds = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class Intervals:
    """Bootstrap bounds per unit of the fit's ``species_taxa`` and per genus of its ``taxa``."""

    species: Bounds
    genus: Bounds


def bootstrap_intervals(fit: Fit, *, settings: ProfileSettings) -> Intervals | None:
    """Bootstrap the EM over reads (:func:`gutbrain.profile.em.bootstrap_abundances`) for
    two-sided ``settings.confidence_level`` intervals; ``None`` without replicates or reads."""
    if settings.bootstrap_replicates <= 0 or not fit.n_rows:
        return None
    boot = bootstrap_abundances(
        fit.bootstrap_rows,
        fit.estimate.abundance,
        replicates=settings.bootstrap_replicates,
        seed=settings.seed,
        max_iter=settings.bootstrap_max_iter,
        tol=settings.em_tol,
    )
    species_boot = fit.merge.merge_values(boot) if fit.merge is not None else boot
    return Intervals(
        species=_quantiles(species_boot, settings.confidence_level),
        genus=_quantiles(fit.taxa.genus_sums(boot), settings.confidence_level),
    )


def _quantiles(samples: npt.NDArray[np.float64], level: float) -> Bounds:
    alpha = (1.0 - level) / 2.0
    return np.quantile(samples, alpha, axis=0), np.quantile(samples, 1.0 - alpha, axis=0)


def profile_provenance(
    paths: Sequence[Path], *, bundle: ReferenceBundle, parameters: Mapping[str, Any]
) -> Provenance:
    """Provenance of a profile of the reads in ``paths`` against ``bundle``."""
    return Provenance(
        gutbrain_version=__version__,
        source="gutbrain profile",
        inputs=_input_checksums(paths),
        parameters=parameters,
        reference=bundle.provenance(),
        tools={"minimap2 (mappy)": mappy_version(), "numpy": np.__version__},
        citations=CITATIONS,
    )


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


def assemble_result(
    collected: Collected,
    fit: Fit,
    intervals: Intervals | None,
    *,
    sample: SampleId,
    provenance: Provenance,
    settings: ProfileSettings,
    species_groups: int,
) -> ProfileResult:
    """The sample's :class:`ProfileResult`: profile rows, read outcomes and the EM summary.

    ``species_groups`` is the number of the reference's species groups present in its index.
    """
    total_reads = collected.qc.reads_in
    profile_rows = _rows(fit, intervals, total_reads)
    unassigned: dict[Rank, float] = {}
    rank: Rank
    for rank in ("species", "genus"):
        assigned = sum(r.abundance for r in profile_rows if r.rank == rank)
        unassigned[rank] = max(0.0, 1.0 - assigned)
    profile = Profile(
        sample_id=sample,
        rows=tuple(profile_rows),
        unassigned=unassigned,
        provenance=provenance,
        total_reads=total_reads,
    )
    assignment, per_read = _read_outcomes(collected, fit)
    estimate = fit.estimate
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
    em = EMSummary(
        iterations=estimate.iterations,
        log_likelihood=estimate.log_likelihood,
        converged=estimate.converged,
        taxa_kept=estimate.taxa_kept,
        prune_threshold=estimate.prune_threshold,
        distinct_reads=collected.n_unique,
        alignments=fit.alignments,
        error_model=fit.model.as_dict(),
        bootstrap_replicates=settings.bootstrap_replicates if intervals is not None else 0,
        species_groups=species_groups,
        species_groups_merged=_species_names(fit, fit.members),
        species_groups_adhoc=tuple(sorted(_species_names(fit, fit.adhoc))),
        species_contests_at_genus=tuple(
            sorted(
                str(fit.species_taxa.units[k].genus)
                for k in fit.adhoc
                if fit.species_taxa.units[k].species is None
            )
        ),
        contest_threshold_log_likelihood=(
            contest_threshold(fit.model, settings.contest.max_errors)
            if settings.contest is not None
            else None
        ),
    )
    return ProfileResult(profile, collected.qc, assignment, em, per_read)


def _species_names(fit: Fit, units: Mapping[int, object] | Sequence[int]) -> tuple[str, ...]:
    """Species names of ``units`` of ``fit.species_taxa`` in their order (genus-rank units,
    which have none, left out)."""
    names = (fit.species_taxa.units[k].species for k in units)
    return tuple(name for name in names if name is not None)


def _rows(fit: Fit, intervals: Intervals | None, total_reads: int) -> list[TaxonRow]:
    """Species rows (``fit.species_taxa``'s units, groups included) and genus rows."""
    rows: list[TaxonRow] = []
    resolution = fit.resolution
    for rank, lineages, counts, f, interval in (
        (
            "species",
            fit.species_taxa.units,
            resolution.species_reads,
            fit.species_abundance,
            intervals.species if intervals is not None else None,
        ),
        (
            "genus",
            fit.taxa.genera,
            resolution.genus_reads,
            fit.taxa.genus_sums(fit.estimate.abundance),
            intervals.genus if intervals is not None else None,
        ),
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
                    members=fit.members.get(int(j), ()) if rank == "species" else (),
                )
            )
    return rows


def _read_outcomes(
    collected: Collected, fit: Fit
) -> tuple[dict[str, int], tuple[tuple[str, str, str, str], ...]]:
    """Read counts by outcome (each input read once) and, when read names were kept, one
    ``(read, status, rank, taxon)`` per input read.

    Counts are taken over distinct reads weighted by their multiplicity, with array sums
    (issue 11: no Python object per distinct read unless ``read_assignments.tsv`` was asked
    for).
    """
    taxa = fit.species_taxa
    counts: dict[str, int] = {
        "reads_in": collected.qc.reads_in,
        "reads_assigned_species": 0,
        "reads_genus_fallback": 0,
        ABOVE_GENUS: 0,
        NO_ALIGNMENT: 0,
        LOW_IDENTITY: 0,
        PARTIAL: 0,
        CHIMERA: 0,
        PRUNED: 0,
    }
    for dropped, n in collected.qc.dropped.items():
        counts[f"unassigned_{dropped}"] = int(n)
    weights = collected.weights
    multiplicity = weights.astype(np.int64)
    status = fit.status.astype(np.intp)
    if status.size and int(status.min()) < 0:
        message = "a distinct read was left without an outcome"
        raise RuntimeError(message)
    by_code = np.bincount(status, weights=multiplicity, minlength=len(STATUS_LABELS))
    for code, label in enumerate(STATUS_LABELS):
        key = {
            ASSIGNED_SPECIES: "reads_assigned_species",
            GENUS_FALLBACK: "reads_genus_fallback",
        }.get(label, label)
        counts[key] = counts.get(key, 0) + round(float(by_code[code]))
    # reads at species, per reported unit (groups included)
    assigned = status == STATUS_LABELS.index(ASSIGNED_SPECIES)
    unit_reads = np.bincount(
        fit.resolution.best_unit[fit.row_of_read[assigned]],
        weights=multiplicity[assigned],
        minlength=taxa.n_units,
    )
    species_reads: dict[str, int] = {}
    for unit in np.flatnonzero(unit_reads).tolist():
        name = taxa.units[unit].species or ""
        species_reads[name] = species_reads.get(name, 0) + round(float(unit_reads[unit]))
    per_read: list[tuple[str, str, str, str]] = []
    log = collected.log
    if log.keep_names:
        labels, rank_of, taxon_of = _outcome_names(fit)
        for name, code in zip(log.names, log.codes().tolist(), strict=True):
            if code < 0:
                per_read.append((name, f"unassigned_{log.reasons[-1 - code]}", "", ""))
            else:
                per_read.append((name, labels[code], rank_of[code], taxon_of[code]))
    group_names = set(_species_names(fit, fit.members))
    counts["reads_assigned_group"] = sum(
        n for taxon, n in species_reads.items() if taxon in group_names
    )
    adhoc_names = set(_species_names(fit, fit.adhoc))
    counts["reads_assigned_adhoc_group"] = sum(
        n for taxon, n in species_reads.items() if taxon in adhoc_names
    )
    counts["reads_screened"] = int(weights[fit.screened].sum())
    counts["reads_aligned"] = int(weights.sum()) - counts["reads_screened"]
    # issue 11: of the screened reads, those placed by k-mer likelihood rows
    counts["reads_screened_kmer_rows"] = int(
        weights[placed_by_rows(fit.screened, collected.kmer_rows)].sum()
    )
    # issue 11 (members): of the aligned reads, those aligned to their group's members only
    members = collected.members
    counts["reads_aligned_members"] = int(weights[members].sum()) if members is not None else 0
    if collected.pairs is not None:
        counts.update(collected.pairs.as_dict())
    return counts, tuple(per_read)


def _outcome_names(fit: Fit) -> tuple[list[str], list[str], list[str]]:
    """Per distinct read: its outcome's label, the rank it was assigned at and the taxon's
    name ('' when unassigned)."""
    taxa = fit.species_taxa
    resolution = fit.resolution
    labels = [STATUS_LABELS[code] for code in fit.status.tolist()]
    taxon_of = [""] * len(labels)
    rank_of = [""] * len(labels)
    for unique, label in enumerate(labels):
        row = fit.row_of_read[unique]
        if label == ASSIGNED_SPECIES:
            rank_of[unique] = "species"
            taxon_of[unique] = taxa.units[resolution.best_unit[row]].species or ""
        elif label == GENUS_FALLBACK:
            rank_of[unique] = "genus"
            taxon_of[unique] = taxa.genera[resolution.best_genus[row]].genus or ""
    return labels, rank_of, taxon_of
