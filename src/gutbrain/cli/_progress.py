"""Rich progress bars for long work; library code reports through a plain callback."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gutbrain.cli._app import err_console

__all__ = ["ProgressCallback", "progress_bar"]

#: ``callback(done, total)``; ``total`` may be ``None`` when unknown.
ProgressCallback = Callable[[float, float | None], None]


@contextlib.contextmanager
def progress_bar(description: str, *, total: float | None = None) -> Iterator[ProgressCallback]:
    """Show a progress bar on stderr and yield a ``callback(done, total)`` that advances it."""
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=total)

        def update(done: float, new_total: float | None = None) -> None:
            bar.update(task, completed=done, total=new_total if new_total is not None else total)

        yield update
