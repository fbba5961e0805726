"""CLI commands: ``gutbrain cohort run|query|associate|report``."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from gutbrain.cli._app import console, err_console
from gutbrain.cli._progress import progress_bar
from gutbrain.errors import ErrorCode, GutbrainError, InputFormatError, OptionError
from gutbrain.model import Rank, ReadType

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from gutbrain.cohort.runner import SafetyNotice
    from gutbrain.cohort.store import CohortStore

__all__ = ["EXIT_SAMPLES_FAILED", "register"]

logger = logging.getLogger(__name__)

#: Exit status of a ``cohort run`` that finished but recorded some samples as failed.
EXIT_SAMPLES_FAILED = 3


class SamplesFailedError(GutbrainError):
    """``cohort run`` finished, but some samples failed (listed above the message)."""

    code = ErrorCode.SAMPLES_FAILED
    exit_code = EXIT_SAMPLES_FAILED


class RunInterruptedError(GutbrainError):
    """``cohort run`` was interrupted (Ctrl-C); committed samples stay, a rerun resumes."""

    code = ErrorCode.INTERRUPTED
    exit_code = 130


class RunTerminatedError(RunInterruptedError):
    """``cohort run`` got SIGTERM; handled like Ctrl-C, exit 143 (128 + 15)."""

    exit_code = 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM turned into an interrupt, so the run tears its cluster down like after Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(_signum: int, _frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula with ``'`` (numbers untouched)."""
    import pandas as pd

    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    safe.columns = [
        "'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c for c in safe.columns
    ]
    return safe


def _print_notices(sample_id: str, notices: tuple[SafetyNotice, ...]) -> None:
    for notice in notices:
        err_console.print(
            f"ALERT {notice.level.upper()} sample {sample_id}: {notice.title} "
            f"[{notice.alert_id}; full message in the sample's result]",
            style="bold red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


cohort_app = typer.Typer(
    name="cohort",
    help="Many samples on Dask: run a sample sheet into a store, query it, test associations.",
    no_args_is_help=True,
)

_STORE = typer.Argument(help="Cohort store folder.", show_default=False)


@cohort_app.command("run")
def run_command(
    sheet: Annotated[Path, typer.Argument(help="Sample sheet (CSV or TSV).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Cohort store folder.")],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of an existing Dask scheduler (tcp://…)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Local worker processes (1 thread each).")
    ] = 2,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Reference bundle for read samples; default: the bundled one."),
    ] = None,
    preset: Annotated[
        ReadType,
        typer.Option(
            "--preset", help="Read type of the reads samples (a sheet's preset cell wins)."
        ),
    ] = ReadType.ont,
    rank: Annotated[Rank, typer.Option("--rank", help="Rank for alpha diversity.")] = "genus",
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="Per-worker memory limit, e.g. 4GiB.")
    ] = None,
) -> None:
    """Profile and interpret every sample of SHEET on Dask into the store OUT (resumable).

    Safety alerts (crisis, urgent, prompt) of each sample are printed on stderr as soon as the
    sample is back. Exit status 3 when some samples failed, 130 after Ctrl-C and 143 after
    SIGTERM (a rerun resumes).
    """
    from gutbrain.cohort.runner import run_cohort
    from gutbrain.cohort.sheet import read_sample_sheet
    from gutbrain.cohort.store import open_store
    from gutbrain.cohort.tasks import SampleParameters

    sheet = sheet.expanduser().resolve()
    out = out.expanduser().resolve()
    parsed = read_sample_sheet(sheet)
    reference = reference_sha = None
    if any(spec.reads for spec in parsed.samples):
        from gutbrain.workflow.reference import open_reference

        bundle = open_reference(
            db,
            notify=lambda m: err_console.print(
                f"gutbrain: note: {m}", markup=False, soft_wrap=True
            ),
        )
        reference, reference_sha = str(bundle.path), bundle.sha256
    parameters = SampleParameters(preset=preset, rank=rank)
    store = open_store(out, writable=True)
    try:
        with _sigterm_as_interrupt(), progress_bar("Samples") as progress:
            summary = run_cohort(
                parsed,
                store,
                scheduler=scheduler,
                workers=workers,
                reference=reference,
                reference_sha256=reference_sha,
                parameters=parameters,
                memory_limit=memory_limit,
                progress=progress,
                on_alerts=_print_notices,
            )
    except BaseException as exc:
        _abandon(store)
        if isinstance(exc, KeyboardInterrupt):
            how = "terminated (SIGTERM)" if isinstance(exc, _Terminated) else "interrupted"
            message = (
                f"{how}; the cluster was stopped and every sample finished so far is kept "
                f"in {out}: rerun the same command to resume"
            )
            error = RunTerminatedError if isinstance(exc, _Terminated) else RunInterruptedError
            raise error(message) from None
        raise
    store.close()
    console.print(
        f"cohort run {summary.run_id}: {summary.n_samples} samples — {summary.done} processed, "
        f"{summary.skipped} unchanged (skipped), {summary.failed} failed — "
        f"{summary.seconds:.1f} s on {summary.workers} worker(s); store {out}",
        highlight=False,
    )
    if summary.notices:
        flagged = ", ".join(
            f"{sid} ({'/'.join(n.level for n in notices)})"
            for sid, notices in summary.notices.items()
        )
        err_console.print(
            f"safety alerts in {len(summary.notices)} sample(s): {flagged}",
            style="bold red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for sample_id, reason in summary.failures.items():
        err_console.print(f"  failed {sample_id}: {reason}", markup=False, highlight=False)
    if summary.failed:
        message = (
            f"{summary.failed} of {summary.n_samples} samples failed (listed above; also in "
            f"`cohort query {out} \"SELECT * FROM samples WHERE status = 'failed'\"`); the "
            "others are in the store: fix the failed inputs and rerun to finish"
        )
        raise SamplesFailedError(message)


def _abandon(store: CohortStore) -> None:
    """Close ``store`` after a failed run; remove it if this run created it and stored nothing."""
    try:
        remove = store.created and store.is_empty()
    except Exception:  # the catalogue itself failed: keep what is there
        remove = False
    store.close()
    if remove:
        shutil.rmtree(store.root, ignore_errors=True)


@cohort_app.command("query")
def query_command(
    store: Annotated[Path, _STORE],
    sql: Annotated[str, typer.Argument(help="SQL over profiles, scores, metadata, samples, runs.")],
    output_format: Annotated[str, typer.Option("--format", help="table | tsv | csv")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in table format.")] = 200,
) -> None:
    """Run SQL (DuckDB) over the store's views and print the rows.

    The connection can read the views only: no files, no writing, no settings.
    """
    from gutbrain.cohort.store import open_store

    if output_format not in {"table", "tsv", "csv"}:
        message = f"--format must be table, tsv or csv, got {output_format!r}"
        raise OptionError(message)
    with open_store(store.expanduser().resolve()) as opened:
        opened.verify()
        con = opened.connect_duckdb()
        try:
            frame = con.execute(sql).fetch_df()
        except Exception as exc:  # duckdb.Error has no stable public base across versions
            message = f"SQL failed: {exc}"
            raise InputFormatError(message, code=ErrorCode.SQL) from None
        finally:
            con.close()
    if output_format in {"tsv", "csv"}:
        safe = _formula_safe(frame)
        typer.echo(safe.to_csv(sep="\t" if output_format == "tsv" else ",", index=False), nl=False)
        return
    table = Table(show_lines=False)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {len(frame) - limit} more rows (use --format tsv for all)")


@cohort_app.command("associate")
def associate_command(
    store: Annotated[Path, _STORE],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column, e.g. PHQ9.")],
    covariates: Annotated[
        str, typer.Option("--covariates", help="Comma-separated adjustment columns.")
    ] = "",
    method: Annotated[
        str, typer.Option("--method", help="lm (CLR + OLS) | ancombc | both")
    ] = "both",
    rank: Annotated[str, typer.Option("--rank", help="Taxonomic rank tested.")] = "genus",
    min_prevalence: Annotated[
        float, typer.Option("--min-prevalence", help="Minimum fraction of samples with the taxon.")
    ] = 0.1,
    max_qvalue: Annotated[float, typer.Option("--max-qvalue", help="FDR level.")] = 0.05,
    permutations: Annotated[int, typer.Option("--permutations", help="PERMANOVA.")] = 999,
) -> None:
    """Test taxa and guilds for association with an outcome; results go into the store."""
    from gutbrain.cohort.associate import associate_store
    from gutbrain.cohort.store import open_store

    if method not in {"lm", "ancombc", "both"}:
        message = f"--method must be lm, ancombc or both, got {method!r}"
        raise OptionError(message)
    chosen: Literal["lm", "ancombc", "both"] = method  # type: ignore[assignment]
    names = [c.strip() for c in covariates.split(",") if c.strip()]
    with open_store(store.expanduser().resolve(), writable=True) as opened:
        opened.verify()
        result = associate_store(
            opened,
            outcome,
            covariates=names,
            method=chosen,
            rank=rank,
            min_prevalence=min_prevalence,
            max_qvalue=max_qvalue,
            permutations=permutations,
        )
    summary = result.summary()
    settings = summary["settings"]
    console.print(
        f"{outcome} ({summary['term']}): {settings['n_samples']} samples, "
        f"{settings['n_taxa_tested']} taxa tested at {rank}; significant at q ≤ {max_qvalue}: "
        f"CLR+OLS {summary['significant']['lm']}, ANCOM-BC {summary['significant']['ancombc']}, "
        f"guilds {summary['significant']['guilds']}"
        + (
            f", presence (Fisher) {summary['significant']['presence']}"
            if summary["significant"]["presence"] is not None
            else ""
        ),
        highlight=False,
    )
    if result.permanova:
        p = result.permanova
        console.print(
            f"PERMANOVA ({p['grouping']}): pseudo-F {p['pseudo_F']:.3g}, R² {p['r_squared']:.3g}, "
            f"p {p['pvalue']:.3g}",
            highlight=False,
        )
    if result.agreement is not None:
        a = result.agreement
        console.print(
            f"methods agree: both {a.significant_both}, CLR+OLS only {a.significant_first_only}, "
            f"ANCOM-BC only {a.significant_second_only}, kappa {a.kappa:.2f}",
            highlight=False,
        )
    top = result.taxa_lm if result.taxa_lm is not None else result.taxa_ancombc
    if top is not None:
        table = Table(title="Top associations")
        for column in ("taxon", "effect", "95% CI", "q"):
            table.add_column(column)
        for row in top.head(10).itertuples(index=False):
            table.add_row(
                str(row.feature),
                f"{row.effect:.3g}",
                f"{row.ci_low:.3g} … {row.ci_high:.3g}",
                f"{row.qvalue:.3g}",
            )
        console.print(table)


@cohort_app.command("report")
def report_command(
    store: Annotated[Path, _STORE],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")],
    outcome: Annotated[
        list[str] | None,
        typer.Option("--outcome", help="Outcome(s) to show; default: all analysed."),
    ] = None,
    rank: Annotated[str, typer.Option("--rank", help="Rank of the ordination.")] = "genus",
    sample_reports: Annotated[
        bool,
        typer.Option(
            "--sample-reports/--no-sample-reports",
            help="Also write each sample's personal report to OUT-samples/ and link it.",
        ),
    ] = True,
) -> None:
    """Write the self-contained cohort HTML report (and each sample's personal report)."""
    from gutbrain.cohort.report import write_cohort_report
    from gutbrain.cohort.store import open_store

    with open_store(store.expanduser().resolve()) as opened:
        opened.verify()
        written = write_cohort_report(
            opened,
            out.expanduser().resolve(),
            outcomes=outcome or None,
            rank=rank,
            sample_reports=sample_reports,
        )
    console.print(f"cohort report written to {written}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``cohort`` command group to ``app``."""
    app.add_typer(cohort_app)
