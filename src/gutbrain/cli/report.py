"""CLI command: ``gutbrain report`` (``run`` and ``demo`` are in :mod:`gutbrain.cli.run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gutbrain.cli._app import console
from gutbrain.io.files import check_output_path
from gutbrain.report import write_report
from gutbrain.result import read_result

__all__ = ["register"]


def report(
    result_json: Annotated[Path, typer.Argument(help="A result.json from gutbrain interpret/run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Render a result JSON as a self-contained HTML report (opens from disk, prints cleanly)."""
    check_output_path(out, replace=force, inputs=(result_json,))
    result = read_result(result_json)
    path = write_report(result, out)
    console.print(f"report: {path}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report)
