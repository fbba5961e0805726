"""CLI commands: ``gutbrain cohort run|query|associate|report``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from gutbrain.cli._app import console, err_console
from gutbrain.cli._progress import progress_bar
from gutbrain.errors import InputFormatError, ValidationError

__all__ = ["register"]

logger = logging.getLogger(__name__)

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
    rank: Annotated[str, typer.Option("--rank", help="Rank for alpha diversity.")] = "genus",
    memory_limit: Annotated[
        str | None, typer.Option("--memory-limit", help="Per-worker memory limit, e.g. 4GiB.")
    ] = None,
) -> None:
    """Profile and interpret every sample of SHEET on Dask into the store OUT (resumable)."""
    from gutbrain.cohort.runner import run_cohort
    from gutbrain.cohort.sheet import read_sample_sheet
    from gutbrain.cohort.store import open_store

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
    parameters = {"rank": rank}
    with open_store(out, writable=True) as store, progress_bar("Samples") as progress:
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
        )
    console.print(
        f"cohort run {summary.run_id}: {summary.n_samples} samples — {summary.done} processed, "
        f"{summary.skipped} unchanged (skipped), {summary.failed} failed — "
        f"{summary.seconds:.1f} s on {summary.workers} worker(s); store {out}",
        highlight=False,
    )
    for sample_id, reason in summary.failures.items():
        err_console.print(f"  failed {sample_id}: {reason}", markup=False, highlight=False)


@cohort_app.command("query")
def query_command(
    store: Annotated[Path, _STORE],
    sql: Annotated[str, typer.Argument(help="SQL over profiles, scores, metadata, samples, runs.")],
    output_format: Annotated[str, typer.Option("--format", help="table | tsv | csv")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in table format.")] = 200,
) -> None:
    """Run SQL (DuckDB) over the store's views and print the rows."""
    from gutbrain.cohort.store import open_store

    if output_format not in {"table", "tsv", "csv"}:
        message = f"--format must be table, tsv or csv, got {output_format!r}"
        raise ValidationError(message)
    with open_store(store) as opened:
        con = opened.connect_duckdb()
        try:
            frame = con.execute(sql).fetch_df()
        except Exception as exc:  # duckdb.Error has no stable public base across versions
            message = f"SQL failed: {exc}"
            raise InputFormatError(message, code="GB-SQL") from None
        finally:
            con.close()
    if output_format in {"tsv", "csv"}:
        typer.echo(frame.to_csv(sep="\t" if output_format == "tsv" else ",", index=False), nl=False)
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
        raise ValidationError(message)
    chosen: Literal["lm", "ancombc", "both"] = method  # type: ignore[assignment]
    names = [c.strip() for c in covariates.split(",") if c.strip()]
    with open_store(store, writable=True) as opened:
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
) -> None:
    """Write the self-contained cohort HTML report."""
    from gutbrain.cohort.report import write_cohort_report
    from gutbrain.cohort.store import open_store

    with open_store(store) as opened:
        written = write_cohort_report(opened, out, outcomes=outcome or None, rank=rank)
    console.print(f"cohort report written to {written}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``cohort`` command group to ``app``."""
    app.add_typer(cohort_app)
