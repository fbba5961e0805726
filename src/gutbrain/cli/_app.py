"""The root Typer application and the error boundary of the command line."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from gutbrain import __version__
from gutbrain.errors import EX_SOFTWARE, GutbrainError

__all__ = ["app", "console", "err_console", "main", "state"]

app = typer.Typer(
    name="gutbrain",
    help=(
        "From a stool sample's 16S reads to an evidence-graded picture of the gut-brain axis. "
        "Not a diagnostic device."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


class _State:
    debug: bool = False


state = _State()


def _version(value: bool) -> None:
    if value:
        console.print(f"gutbrain {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and debug logging.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
) -> None:
    state.debug = debug
    level = logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO)
    from rich.logging import RichHandler

    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=debug, show_time=False)],
        force=True,
    )
    logging.captureWarnings(True)


def _usage_error_types() -> tuple[type[Exception], ...]:
    """Click's usage errors, from the standalone click and from Typer's bundled copy."""
    import click

    types: list[type[Exception]] = [click.exceptions.ClickException]
    try:
        from typer._click import exceptions as bundled  # Typer >= 0.24 vendors click
    except ImportError:  # pragma: no cover - older Typer uses click directly
        pass
    else:
        types.append(bundled.ClickException)
    return tuple(types)


def main() -> None:
    """Console-script entry point: run the app, map errors to exit codes and one-line messages."""
    try:
        app(standalone_mode=False)
    except GutbrainError as exc:
        if state.debug:
            raise
        err_console.print(
            f"gutbrain: error[{exc.code}] {exc}", markup=False, highlight=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("gutbrain: interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("gutbrain: aborted", markup=False)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, _usage_error_types()):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if state.debug:
            raise
        err_console.print(
            f"gutbrain: internal error ({type(exc).__name__}: {exc}); rerun with --debug and "
            "report it",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EX_SOFTWARE)
