"""The ``gutbrain`` command line: Typer commands, error-to-exit-code mapping, progress bars.

Each command group lives in its own module with a ``register(app)`` function.
"""

from __future__ import annotations

from gutbrain.cli import cohort, db, interpret, profile, reads, report, serve, tables
from gutbrain.cli._app import app, main

for _module in (reads, db, profile, tables, interpret, report, cohort, serve):
    _module.register(app)

__all__ = ["app", "main"]
