"""The ``gutbrain`` command line: Typer commands, error-to-exit-code mapping, progress bars.

Each command group lives in its own module with a ``register(app)`` function. The console
script registers only the module of the command it runs (``gutbrain profile`` never imports the
report, cohort or database commands, measured ~0.5 s of start-up); ``app`` imported from here
has every command.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Any

from gutbrain.cli import _app

__all__ = ["app", "main"]

#: command name -> module of gutbrain.cli that registers it
_COMMAND_MODULES: dict[str, str] = {
    "reads": "reads",
    "db": "db",
    "profile": "profile",
    "import": "tables",
    "export": "tables",
    "diversity": "tables",
    "interpret": "interpret",
    "report": "report",
    "run": "run",
    "demo": "run",
    "cohort": "cohort",
    "serve": "serve",
}
#: help order of the command modules
_MODULES = ("reads", "db", "profile", "tables", "interpret", "report", "run", "cohort", "serve")
_registered: list[str] = []


def _register(modules: Iterable[str]) -> None:
    for name in modules:
        if name not in _registered:
            importlib.import_module(f"gutbrain.cli.{name}").register(_app.app)
            _registered.append(name)


def _modules_for(argv: list[str]) -> tuple[str, ...]:
    """The one command module ``argv`` runs, or all of them (help, unknown or no command).

    Top-level options are flags (``--debug``, ``--quiet``, ``--version``), so the first
    argument not starting with ``-`` names the command.
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    module = _COMMAND_MODULES.get(command or "")
    return (module,) if module is not None else _MODULES


def main() -> None:
    """Console-script entry point (see :func:`gutbrain.cli._app.main`).

    The command's module loads under ``main``'s signal handlers: a Ctrl-C while it loads exits
    130 like one during the command.
    """
    _app.main(prepare=lambda: _register(_modules_for(sys.argv[1:])))


def __getattr__(name: str) -> Any:
    if name == "app":
        _register(_MODULES)
        return _app.app
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)
