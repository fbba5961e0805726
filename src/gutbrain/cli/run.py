"""CLI commands: ``gutbrain run`` (reads or a table -> report) and ``gutbrain demo``."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from gutbrain.cli._alerts import CRISIS_CONTACT, print_alerts
from gutbrain.cli._app import console
from gutbrain.cli._progress import ProgressCallback, progress_bar
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import check_output_path
from gutbrain.io.tables import FORMATS
from gutbrain.model import RANKS, ReadType

if TYPE_CHECKING:
    from gutbrain.model import Rank
    from gutbrain.workflow.run import RunOutputs

__all__ = ["register"]

logger = logging.getLogger(__name__)

_STAGE_TITLES = {
    "inputs": "Checking inputs",
    "reference": "Loading reference",
    "profile": "Profiling reads",
    "import": "Importing table",
    "interpret": "Interpreting",
    "report": "Rendering report",
    "write": "Writing outputs",
}


class _StageBars:
    """One rich progress bar per stage, opened when a stage starts and closed when it ends."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._stack = contextlib.ExitStack()
        self._stage: str | None = None
        self._update: ProgressCallback | None = None

    def __call__(self, stage: str, done: float, total: float | None) -> None:
        if not self._enabled:
            return
        if stage != self._stage:
            self._stack.close()
            self._stack = contextlib.ExitStack()
            title = _STAGE_TITLES.get(stage, stage)
            self._update = self._stack.enter_context(progress_bar(title, total=total))
            self._stage = stage
        if self._update is not None:
            self._update(done, total)

    def close(self) -> None:
        self._stack.close()


def _summarise(outputs: RunOutputs) -> None:
    total = sum(outputs.stage_seconds.values())
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in outputs.stage_seconds.items())
    console.print(f"time by stage: {stages} (total {total:.1f} s)", highlight=False, soft_wrap=True)
    for name in sorted(outputs.files):
        console.print(f"  {outputs.files[name]}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"report: {outputs.report}", highlight=False, markup=False, soft_wrap=True)


def run(
    reads: Annotated[
        list[Path] | None, typer.Argument(help="FASTQ/FASTA files (gzip allowed) of ONE sample.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (required; built atomically)."),
    ] = None,
    answers: Annotated[
        Path | None, typer.Option("--answers", help="Questionnaire answers (YAML/JSON).")
    ] = None,
    markers: Annotated[
        Path | None, typer.Option("--markers", help="Stool-marker results (YAML/JSON).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Reference bundle name or folder (default: bundled).")
    ] = None,
    preset: Annotated[ReadType, typer.Option("--preset", help="Read type.")] = ReadType.ont,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Alignment processes.")] = 1,
    sample_id: Annotated[
        str | None, typer.Option("--sample-id", help="Sample name (or the table sample to use).")
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option("--table", help="Start from an abundance table instead of reads."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help=f"With --table: auto or one of: {', '.join(FORMATS)}."),
    ] = "auto",
    taxonomy: Annotated[
        Path | None,
        typer.Option("--taxonomy", "-t", help="With --table: taxonomy for BIOM/TSV feature IDs."),
    ] = None,
    rank: Annotated[
        str,
        typer.Option(
            "--rank", help="With --table: rank the IDs name when the table has no lineage (auto)."
        ),
    ] = "auto",
    crisis_contact: Annotated[list[str] | None, CRISIS_CONTACT] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it exists.")] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not draw progress bars.")
    ] = False,
) -> None:
    """Reads -> profile -> interpretation -> report, in one command.

    Writes profile.tsv, profile.biom, qc.json, provenance.json, result.json and report.html into
    --out. With --table, an imported abundance table replaces the reads (no read QC); --format,
    --taxonomy and --rank then work as for `gutbrain import`. Crisis, urgent and prompt alerts
    from the answers and markers are printed on stderr before anything else.
    """
    if out is None:
        raise typer.BadParameter("name the output folder with --out DIR", param_hint="'--out'")
    check_output_path(out, replace=force, inputs=(*(reads or ()), table, answers, markers))
    if table is not None and reads:
        message = "give either read files or --table, not both"
        raise InputFormatError(message)
    if table is None and not reads:
        message = "no read files given; pass FASTQ/FASTA files or --table TABLE"
        raise EmptyInputError(message, code=ErrorCode.NO_READ_FILES)
    if fmt != "auto" and fmt not in FORMATS:
        message = f"--format {fmt!r} is not auto or one of {', '.join(FORMATS)}"
        raise typer.BadParameter(message)
    if rank != "auto" and rank not in RANKS:
        message = f"--rank {rank!r} is not auto or one of {', '.join(RANKS)}"
        raise typer.BadParameter(message)
    if table is None and (taxonomy is not None or fmt != "auto" or rank != "auto"):
        message = "--format, --taxonomy and --rank go with --table"
        raise typer.BadParameter(message)
    from gutbrain.io.answers import read_answers, read_markers  # deferred: keeps --help fast
    from gutbrain.workflow.interpret import alerts_from_inputs
    from gutbrain.workflow.run import run_sample, run_table

    contacts = tuple(crisis_contact or ())
    # alerts depend on the answers and markers only: print them before any other output
    print_alerts(
        alerts_from_inputs(
            read_answers(answers) if answers is not None else None,
            read_markers(markers) if markers is not None else None,
            crisis_contacts=contacts,
        ),
        crisis_contacts=contacts,
    )
    bars = _StageBars(enabled=not no_progress)
    try:
        if table is not None:
            outputs = run_table(
                table,
                out_dir=out,
                answers=answers,
                markers=markers,
                sample_id=sample_id,
                table_format=fmt,
                taxonomy=taxonomy,
                rank=None if rank == "auto" else cast("Rank", rank),
                replace=force,
                progress=bars,
                crisis_contacts=contacts,
            )
        else:
            outputs = run_sample(
                reads or [],
                out_dir=out,
                answers=answers,
                markers=markers,
                db=db,
                preset=preset,
                threads=threads,
                sample_id=sample_id,
                replace=force,
                progress=bars,
                crisis_contacts=contacts,
            )
    finally:
        bars.close()
    _summarise(outputs)


def _is_previous_demo(folder: Path) -> bool:
    """True when ``folder`` looks like the output of an earlier run (safe to replace)."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or ("report.html" in names and "result.json" in names)


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "gutbrain-demo"
    ),
    threads: Annotated[int, typer.Option("--threads", min=1, help="Alignment processes.")] = 2,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", help="Do not draw progress bars.")
    ] = False,
) -> None:
    """Run `gutbrain run` on the bundled example sample and print the report's path.

    The example is reads simulated from a real stool sample (LRAS R_9.3, Callahan et al. 2019)
    with invented answers and markers; the report says "example data". An earlier demo output in
    --out is replaced; any other existing folder is left alone (error).
    """
    from gutbrain.workflow.run import example_paths, run_sample  # deferred: keeps --help fast

    example = example_paths()
    replace = out.exists() and _is_previous_demo(out)
    bars = _StageBars(enabled=not no_progress)
    try:
        outputs = run_sample(
            [example.reads],
            out_dir=out,
            answers=example.answers,
            markers=example.markers,
            preset=ReadType.ont,
            threads=threads,
            sample_id="example",
            example=True,
            replace=replace,
            progress=bars,
        )
    finally:
        bars.close()
    _summarise(outputs)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``demo`` to ``app``."""
    app.command("run")(run)
    app.command("demo")(demo)
