"""``profile_sample``: read files + reference bundle -> species and genus profile.

Stages (details in ``docs/profile.md``), each a function with typed inputs and outputs:

1. **open aligners** (:func:`gutbrain.profile.aligners.open_aligners`): the minimap2 index of
   the first pass, the reference's taxa and species groups, the k-mer screen's index;
2. **collect** (:func:`gutbrain.profile.collect.collect_reads`): stream and validate the reads
   (:func:`gutbrain.io.reads.iter_sample_reads`), apply the read QC preset, collapse identical
   sequences (each distinct sequence is aligned once and counted with its multiplicity; HiFi
   data has many duplicates), screen them by k-mers and align the rest with minimap2
   (:mod:`gutbrain.profile.align`) in worker processes;
3. **fit** (:func:`gutbrain.profile.fit.fit_abundances`): classify the reads that cannot be
   assigned (no alignment, low identity, partial, chimera), score the alignments
   (:mod:`gutbrain.profile.likelihood`), run EM with pruning (:mod:`gutbrain.profile.em`),
   merge contested species groups and apply the genus fallback
   (:mod:`gutbrain.profile.taxonomy`); with a second pass, re-align the unexplained reads and
   fit again;
4. **intervals** (:func:`gutbrain.profile.assemble.bootstrap_intervals`): bootstrap
   confidence intervals;
5. **assemble** (:func:`gutbrain.profile.assemble.assemble_result`): profile rows, read
   outcomes and the EM summary.

Nothing is written and no result is returned until the read iterator is exhausted, so a
truncated input raises before anything is committed; the files are written by
:func:`gutbrain.io.profile_files.write_profile_files`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from gutbrain.errors import EmptyInputError, ErrorCode, OptionError
from gutbrain.io.files import check_input_file
from gutbrain.io.profile_files import EMSummary, ProfileResult
from gutbrain.io.readqc import QC_PRESETS
from gutbrain.model import ReadType, SampleId
from gutbrain.profile.align import AlignmentSettings, default_processes
from gutbrain.profile.aligners import open_aligners, screen_unit_groups
from gutbrain.profile.assemble import assemble_result, bootstrap_intervals, profile_provenance
from gutbrain.profile.collect import collect_reads
from gutbrain.profile.fit import fit_abundances
from gutbrain.profile.index import ensure_index
from gutbrain.profile.memory import release_freed_memory
from gutbrain.profile.settings import PROFILE_PRESETS, ProfileSettings
from gutbrain.reference.bundle import ReferenceBundle

__all__ = [
    "PROFILE_PRESETS",
    "EMSummary",
    "ProfileResult",
    "ProfileSettings",
    "ensure_profile_indexes",
    "index_passes",
    "profile_sample",
    "screen_unit_groups",
]

logger = logging.getLogger(__name__)


def profile_sample(
    read_paths: Sequence[str | Path],
    *,
    bundle: ReferenceBundle,
    preset: ReadType | str = ReadType.ont,
    threads: int = 1,
    min_abundance: float | None = None,
    sample_id: str | None = None,
    confidence_intervals: bool = True,
    progress: Callable[[float, float | None], None] | None = None,
    settings: ProfileSettings | None = None,
    read_assignments: bool = True,
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
        Worker processes for alignment (forked: measured cheaper end to end than threads,
        although mappy releases the GIL while it maps; docs/profile.md).
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
    read_assignments
        Keep every read's name for :attr:`ProfileResult.read_assignments`; without it the
        result's ``read_assignments`` is empty and memory does not grow with the reads.

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
    preset = ReadType(preset)  # the one conversion of a str at the Python API boundary
    settings = settings if settings is not None else PROFILE_PRESETS[preset]
    qc_settings = settings.read_qc if settings.read_qc is not None else QC_PRESETS[preset]
    paths = _read_paths(read_paths)
    aligners = open_aligners(bundle, settings)
    collected = collect_reads(
        paths,
        aligners,
        settings=settings,
        qc_settings=qc_settings,
        processes=default_processes(threads),
        progress=progress,
        keep_names=read_assignments,
    )
    # issue 11: the k-mer index and the first pass's minimap2 index (22.6 MB at the benchmark
    # reference) are done with; a second pass loads the latter again from its cached file
    aligners.release_screen()
    aligners.release_aligners()
    release_freed_memory()  # those, the screen's and the alignment batches' buffers
    fit = fit_abundances(
        collected, aligners, bundle=bundle, settings=settings, min_abundance=min_abundance
    )
    intervals = bootstrap_intervals(fit, settings=settings) if confidence_intervals else None
    parameters = {
        "preset": preset,
        "threads": threads,
        "min_abundance": min_abundance,
        **settings.as_dict(),
        # the thresholds applied (settings.as_dict() says "preset" when the preset's were used)
        "read_qc": qc_settings.describe(),
        **collected.pair_parameters(),
    }
    return assemble_result(
        collected,
        fit,
        intervals,
        sample=SampleId(sample_id or paths[0].name.split(".")[0]),
        provenance=profile_provenance(paths, bundle=bundle, parameters=parameters),
        settings=settings,
        species_groups=len(aligners.groups),
    )


def _check_options(preset: ReadType | str, min_abundance: float | None, threads: int) -> None:
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


def _read_paths(read_paths: Sequence[str | Path]) -> list[Path]:
    """The read files, each checked to exist and be readable; at least one."""
    paths = [check_input_file(p) for p in read_paths]
    if not paths:
        message = "no read files given; expected at least one FASTQ/FASTA path"
        raise EmptyInputError(message, code=ErrorCode.NO_READ_FILES)
    return paths


def ensure_profile_indexes(bundle: ReferenceBundle, *, preset: ReadType | str) -> list[Path]:
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
    settings = PROFILE_PRESETS[ReadType(preset)]
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
