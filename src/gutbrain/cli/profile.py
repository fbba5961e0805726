"""CLI commands: ``gutbrain profile`` (reads -> species and genus abundances)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from gutbrain.cli._app import console, err_console
from gutbrain.cli._progress import progress_bar
from gutbrain.model import ReadType

__all__ = ["register"]

_READS = typer.Argument(help="The sample's FASTQ/FASTA files (plain or gzip), read as one sample.")
_DB = typer.Option(
    "--db", help="Reference bundle: a folder, a name from 'gutbrain db list', or omit for default."
)
_OUT = typer.Option("--out", "-o", help="Output folder (must not exist unless --force).")
_PRESET = typer.Option("--preset", help="Read type (short: Illumina 16S amplicons).")
_THREADS = typer.Option("--threads", "-t", help="Worker processes for alignment.")
_MIN_AB = typer.Option(
    "--min-abundance", help="Drop taxa below this fraction (0-1) and re-run the EM."
)
_ASSIGN = typer.Option(
    "--read-assignments", help="Also write read_assignments.tsv (one line per read)."
)
_SAMPLE = typer.Option("--sample-id", help="Sample ID (default: first file name).")
_NO_CI = typer.Option("--no-intervals", help="Skip the bootstrap confidence intervals.")
_FORCE = typer.Option("--force", help="Replace an existing output folder.")
_ALIGN_ALL = typer.Option(
    "--align-all", help="Align every read (no k-mer pre-screen): slower, for comparison."
)


def _note(message: str) -> None:
    err_console.print(f"gutbrain: note: {message}", highlight=False, markup=False, soft_wrap=True)


def profile_command(
    reads: Annotated[list[Path], _READS],
    out: Annotated[Path, _OUT],
    db: Annotated[str | None, _DB] = None,
    preset: Annotated[ReadType, _PRESET] = ReadType.ont,
    threads: Annotated[int, _THREADS] = 1,
    min_abundance: Annotated[float | None, _MIN_AB] = None,
    read_assignments: Annotated[bool, _ASSIGN] = False,
    sample_id: Annotated[str | None, _SAMPLE] = None,
    no_intervals: Annotated[bool, _NO_CI] = False,
    force: Annotated[bool, _FORCE] = False,
    align_all: Annotated[bool, _ALIGN_ALL] = False,
) -> None:
    """Profile a sample's 16S reads: species and genus abundances with confidence intervals."""
    from gutbrain.io.files import check_output_path
    from gutbrain.io.profile_files import write_profile_files
    from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
    from gutbrain.workflow.reference import open_reference

    # before any work: --out exists (without --force), was not written by gutbrain, or is an input
    check_output_path(out, replace=force, inputs=tuple(reads))
    bundle = open_reference(db, threads=threads, notify=_note)
    # the profiler reports bytes of the (possibly compressed) read files; show them in MB
    with progress_bar(f"Profiling {reads[0].name if reads else ''} (MB read)") as bar:

        def progress(done: float, total: float | None) -> None:
            bar(round(done / 1e6, 1), None if total is None else round(total / 1e6, 1))

        result = profile_sample(
            reads,
            bundle=bundle,
            preset=preset,
            threads=threads,
            min_abundance=min_abundance,
            sample_id=sample_id,
            confidence_intervals=not no_intervals,
            progress=progress,
            settings=(
                dataclasses.replace(PROFILE_PRESETS[preset], screen=None) if align_all else None
            ),
            read_assignments=read_assignments,
        )
    write_profile_files(result, out, read_assignments=read_assignments, replace=force)
    counts = result.assignment
    profile = result.profile
    top = profile.at_rank("species")[:5]
    console.print(
        f"{profile.sample_id}: {counts['reads_in']:,} reads, "
        f"{counts['reads_assigned_species']:,} at species, "
        f"{counts['reads_genus_fallback']:,} genus fallback; "
        f"unassigned {profile.unassigned.get('species', 0.0):.1%} (species), "
        f"{profile.unassigned.get('genus', 0.0):.1%} (genus)",
        highlight=False,
    )
    for row in top:
        console.print(f"  {row.abundance:7.2%}  {row.taxon}", highlight=False)
    console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``profile`` to ``app``."""
    app.command("profile")(profile_command)
