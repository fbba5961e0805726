"""CLI commands: ``gutbrain reads qc``."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gutbrain import __version__
from gutbrain.cli._app import console
from gutbrain.cli._progress import progress_bar
from gutbrain.errors import OptionError, OutputExistsError
from gutbrain.io.files import (
    atomic_write_bytes,
    atomic_write_text,
    check_output_path,
    resolve_path,
)
from gutbrain.io.jsonfile import dumps_json
from gutbrain.io.readqc import (
    DEFAULT_PRESET,
    QC_PRESETS,
    QCSettings,
    ReadFilter,
    Reservoir,
    check_reads_kept,
    qc_reads,
)
from gutbrain.io.reads import Read
from gutbrain.model import ReadQC, ReadType

__all__ = ["register"]

reads_app = typer.Typer(
    name="reads",
    help="Read files: strict FASTQ/FASTA validation and read quality control.",
    no_args_is_help=True,
)

#: Show a progress bar when the input is at least this large (bytes on disk).
_PROGRESS_MIN_BYTES = 8 * 2**20


_DEFAULT_PRESET = ReadType(DEFAULT_PRESET)


def _settings(
    preset: ReadType,
    *,
    min_length: int | None,
    max_length: int | None,
    min_mean_quality: float | None,
    no_quality_filter: bool,
    max_ambiguous_fraction: float | None,
) -> QCSettings:
    base = QC_PRESETS[preset.value]
    quality = base.min_mean_quality if min_mean_quality is None else min_mean_quality
    try:
        return QCSettings(
            min_length=base.min_length if min_length is None else min_length,
            max_length=base.max_length if max_length is None else max_length,
            min_mean_quality=None if no_quality_filter else quality,
            max_ambiguous_fraction=(
                base.max_ambiguous_fraction
                if max_ambiguous_fraction is None
                else max_ambiguous_fraction
            ),
        )
    except OptionError as exc:  # contradictory options are a usage error (exit 2)
        message = f"{exc} (preset {preset.value}: {base.describe()})"
        raise typer.BadParameter(message) from None


def _table(
    qc: ReadQC,
    settings: QCSettings,
    input_quantiles: dict[str, float],
    subsample: Reservoir[Read] | None,
) -> Table:
    table = Table(title="Read QC", show_header=True, header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    kept_share = qc.reads_kept / qc.reads_in if qc.reads_in else 0.0
    table.add_row("filters", settings.describe())
    table.add_row("reads in", f"{qc.reads_in:,}")
    table.add_row("reads kept", f"{qc.reads_kept:,} ({kept_share:.1%})")
    for reason, count in qc.dropped.items():
        table.add_row(f"dropped: {reason.replace('_', ' ')}", f"{count:,}")
    table.add_row("bases kept", f"{qc.bases_kept:,}")
    if input_quantiles:
        table.add_row(
            "length of all reads (min/median/max)",
            f"{input_quantiles['min']:,.0f} / {input_quantiles['median']:,.0f} / "
            f"{input_quantiles['max']:,.0f}",
        )
    if qc.length_quantiles:
        q = qc.length_quantiles
        table.add_row("kept length N50", f"{qc.length_n50:,}")
        table.add_row(
            "kept length q05/q25/median/q75/q95",
            " / ".join(f"{q[k]:,.0f}" for k in ("q05", "q25", "median", "q75", "q95")),
        )
        table.add_row("kept length min/max", f"{q['min']:,.0f} / {q['max']:,.0f}")
    if qc.mean_quality is not None:
        mean_q = f"{qc.mean_quality:.1f}"
    else:
        mean_q = "n/a (no reads kept)" if qc.reads_kept == 0 else "n/a (FASTA)"
    table.add_row("kept mean read quality (Phred)", mean_q)
    table.add_row("ambiguous (non-ACGT) bases, all reads", f"{qc.ambiguous_bases:,}")
    table.add_row("reads with lowercase bases", f"{qc.lowercase_reads:,}")
    table.add_row("CRLF line endings", "yes" if qc.crlf_lines else "no")
    if subsample is not None:
        table.add_row(
            "subsample of kept reads (--max-reads)",
            f"{len(subsample.items()):,} of {subsample.seen:,} (seed {subsample.seed})",
        )
    return table


def _subsample_json(subsample: Reservoir[Read] | None, out_reads: Path | None) -> Any:
    if subsample is None:
        return None
    return {
        "max_reads": subsample.size,
        "seed": subsample.seed,
        "reads": len(subsample.items()),
        "of_kept_reads": subsample.seen,
        "method": "uniform reservoir sample of the kept reads (Li 1994, Algorithm L)",
        "written_to": str(out_reads) if out_reads is not None else None,
    }


def _write_reads(reads: list[Read], path: Path) -> None:
    """Write reads as FASTQ (FASTA when they have no qualities), gzip if ``path`` ends in .gz."""
    lines: list[str] = []
    for read in reads:
        if read.quality is None:
            lines.append(f">{read.name}\n{read.sequence}\n")
        else:
            lines.append(f"@{read.name}\n{read.sequence}\n+\n{read.quality}\n")
    data = "".join(lines).encode("ascii")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def _json(
    paths: list[Path], settings: QCSettings, qc: ReadQC, preset: ReadType, subsample: Any
) -> str:
    document: dict[str, Any] = {
        "gutbrain_version": __version__,  # also marks the file as gutbrain's (--force)
        "files": [str(p) for p in paths],
        "preset": preset.value,
        "settings": dataclasses.asdict(settings),
        "qc": {**dataclasses.asdict(qc), "dropped": dict(qc.dropped)},
        "subsample": subsample,
    }
    document["qc"]["length_quantiles"] = dict(qc.length_quantiles)
    return dumps_json(document)


@reads_app.command("qc")
def qc_command(
    reads: Annotated[
        list[Path],
        typer.Argument(help="FASTQ/FASTA files of ONE sample (plain or gzip), read in order."),
    ],
    preset: Annotated[
        ReadType, typer.Option("--preset", help="Read type: default thresholds for it.")
    ] = _DEFAULT_PRESET,
    min_length: Annotated[
        int | None, typer.Option("--min-length", min=0, help="Shortest kept read (bp).")
    ] = None,
    max_length: Annotated[
        int | None, typer.Option("--max-length", min=0, help="Longest kept read (bp).")
    ] = None,
    min_mean_quality: Annotated[
        float | None,
        typer.Option(
            "--min-mean-quality",
            min=0,
            help="Lowest kept read mean quality (Phred of the mean error probability).",
        ),
    ] = None,
    no_quality_filter: Annotated[
        bool, typer.Option("--no-quality-filter", help="Keep reads whatever their quality.")
    ] = False,
    max_ambiguous_fraction: Annotated[
        float | None,
        typer.Option(
            "--max-ambiguous-fraction", min=0, max=1, help="Drop reads with more non-ACGT bases."
        ),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the figures as JSON here (only on success)."),
    ] = None,
    allow_duplicate_ids: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate-ids",
            help="Rename repeated read IDs (_dupN) with a warning instead of failing.",
        ),
    ] = False,
    max_reads: Annotated[
        int | None,
        typer.Option(
            "--max-reads",
            min=1,
            help="Draw a seeded uniform random subsample of at most N kept reads (reservoir).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed of the --max-reads subsample.")
    ] = 0,
    out_reads: Annotated[
        Path | None,
        typer.Option(
            "--out-reads",
            help="Write the --max-reads subsample here (FASTQ, or FASTA for FASTA input; "
            "gzip if the name ends in .gz).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a --json file gutbrain wrote before."),
    ] = False,
) -> None:
    """Validate read files strictly and report read QC (reads kept, dropped, lengths, quality).

    Presets: ont 1000-2000 bp, Q>=7; hifi 1000-1800 bp, Q>=20; short (Illumina V4) 100-300 bp,
    Q>=15. Any malformed file stops with exit code 65 and one line naming file, line and problem.
    """
    if out_reads is not None and max_reads is None:
        raise typer.BadParameter("--out-reads needs --max-reads N")
    inputs = {resolve_path(path) for path in reads}
    for option, target in (("--json", json_path), ("--out-reads", out_reads)):
        if target is not None and resolve_path(target) in inputs:
            message = f"{option} {target} is one of the read files; choose another path"
            raise typer.BadParameter(message)
    if json_path is not None:
        check_output_path(json_path, replace=force)
    if out_reads is not None and (out_reads.exists() or out_reads.is_symlink()):
        # reads carry no gutbrain mark, so --force could not tell ours from a user's: never replace
        message = (
            f"{out_reads}: already exists; gutbrain never overwrites read files, choose another "
            "--out-reads"
        )
        raise OutputExistsError(message)
    settings = _settings(
        preset,
        min_length=min_length,
        max_length=max_length,
        min_mean_quality=min_mean_quality,
        no_quality_filter=no_quality_filter,
        max_ambiguous_fraction=max_ambiguous_fraction,
    )
    read_filter = ReadFilter(settings)
    subsample: Reservoir[Read] | None = (
        Reservoir(max_reads, seed=seed) if max_reads is not None else None
    )
    total = 0
    for path in reads:
        try:
            total += path.stat().st_size
        except OSError:
            total = 0  # the reader reports the missing file properly
            break
    if total >= _PROGRESS_MIN_BYTES:
        with progress_bar("Read QC (MB read)", total=round(total / 1e6, 1)) as bar:
            qc = qc_reads(
                reads,
                settings=settings,
                progress=lambda done, _total: bar(round(done / 1e6, 1), None),
                allow_duplicate_ids=allow_duplicate_ids,
                require_reads=False,
                read_filter=read_filter,
                subsample=subsample,
            )
    else:
        qc = qc_reads(
            reads,
            settings=settings,
            allow_duplicate_ids=allow_duplicate_ids,
            require_reads=False,
            read_filter=read_filter,
            subsample=subsample,
        )
    console.print(_table(qc, settings, read_filter.input_length_quantiles(), subsample))
    check_reads_kept(qc, settings=settings, source=reads[0] if len(reads) == 1 else None)
    if out_reads is not None and subsample is not None:
        _write_reads(subsample.items(), out_reads)
        console.print(
            f"{len(subsample.items()):,} subsampled reads written to {out_reads}",
            highlight=False,
            markup=False,
        )
    if json_path is not None:
        document = _json(reads, settings, qc, preset, _subsample_json(subsample, out_reads))
        atomic_write_text(json_path, document)
        console.print(f"QC figures written to {json_path}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``reads`` command group to ``app``."""
    app.add_typer(reads_app, name="reads")
