"""The root Typer application and the error boundary of the command line."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from gutbrain import __version__
from gutbrain._exit import exit_handled_interrupt
from gutbrain.errors import EX_SOFTWARE, GutbrainError, InputMissingError

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


def _hide_flag_placeholder() -> None:
    """Show flags (``--force``) without a ``<bool>`` value placeholder: they take no value."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010


_hide_flag_placeholder()


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


#: Click's message for a path parameter it cannot read (its ``Path(readable=True)`` check).
_NOT_READABLE = re.compile(r"^(?:path|file|directory) '(?P<path>.+)' is not readable\.$")


def _unreadable_path(exc: Exception) -> str | None:
    """The path of a click "is not readable" parameter error, else ``None``."""
    match = _NOT_READABLE.match(getattr(exc, "message", "") or "")
    return match.group("path") if match else None


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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every ``finally`` and atomic write cleans up."""


#: The signal that stopped the run, if any (set by :func:`_on_signal`).
_stopped_by: list[int] = []
_main_pid: list[int] = []


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _main_pid and os.getpid() != _main_pid[0]:
        # A worker forked before its pool initializer ran: Ctrl-C is the parent's to handle;
        # SIGTERM (the parent tearing the pool down) ends it at once, holding no lock yet.
        if signum == signal.SIGTERM:
            os._exit(128 + signum)
        return
    _stopped_by.append(signum)
    if signum == signal.SIGTERM:
        raise Terminated
    raise KeyboardInterrupt


def _install_signal_handlers() -> None:
    """SIGINT and SIGTERM unwind the stack (cleaning up), then exit 130/143 with one line.

    A SIGINT that the parent shell ignores (``nohup``, a background job) stays ignored.
    """
    _main_pid[:] = [os.getpid()]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _interrupted() -> None:
    signum = _stopped_by[0] if _stopped_by else signal.SIGINT
    name = signal.Signals(signum).name
    err_console.print(
        f"gutbrain: interrupted ({name}); nothing was half-written, rerun the command",
        markup=False,
        highlight=False,
    )
    exit_handled_interrupt(128 + signum)


def main(prepare: Callable[[], None] | None = None) -> None:
    """Console-script entry point: run the app, map errors to exit codes and one-line messages.

    Exit codes follow docs/errors.md; an interrupt exits 128 + the signal number (130 for
    SIGINT, 143 for SIGTERM). ``prepare`` (loading the command's module) runs under the same
    signal handlers and error mapping as the command.
    """
    _install_signal_handlers()
    try:
        _run_app(prepare)
    finally:
        _ignore_late_signals()


def _ignore_late_signals() -> None:
    """The command is over (its outputs written or cleaned up): a Ctrl-C now changes nothing.

    Without this, one arriving while Python shuts down would print a traceback from an exit
    handler, or, once Python has reset its handlers, end the process by the signal instead of
    the exit status just chosen.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _run_app(prepare: Callable[[], None] | None) -> None:
    try:
        if prepare is not None:
            prepare()
        code = app(standalone_mode=False)
    except GutbrainError as exc:
        if state.debug:
            raise
        err_console.print(
            f"gutbrain: error[{exc.code}] {exc}", markup=False, highlight=False, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted()
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("gutbrain: aborted", markup=False)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, _usage_error_types()):
            unreadable = _unreadable_path(exc)
            if unreadable is not None:  # an input, not a usage mistake: exit 66 like a missing one
                err_console.print(
                    f"gutbrain: error[{InputMissingError.code}] {unreadable}: permission denied; "
                    "make the file readable",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                sys.exit(InputMissingError.exit_code)
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
    # Typer turns Ctrl-C into exit code 130 and returns (standalone_mode=False) the code of a
    # ``typer.Exit``; both must reach the shell.
    if _stopped_by:
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)
