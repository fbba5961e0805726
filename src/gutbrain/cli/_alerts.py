"""Safety alerts on the terminal: printed on stderr, before anything else a command prints."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from gutbrain.cli._app import err_console
from gutbrain.result import TERMINAL_ALERT_LEVELS, Alert

__all__ = ["CRISIS_CONTACT", "SHOWN_LEVELS", "print_alerts"]

#: Alert levels always printed on the terminal (the report holds the others too).
SHOWN_LEVELS = TERMINAL_ALERT_LEVELS

#: ``--crisis-contact`` of every command that can raise the crisis alert.
CRISIS_CONTACT = typer.Option(
    "--crisis-contact",
    help="A checked, local crisis line shown with the crisis message (repeatable).",
)


def print_alerts(alerts: Sequence[Alert], *, crisis_contacts: Sequence[str]) -> int:
    """Print crisis / urgent / prompt alerts on stderr; return how many were printed.

    When the crisis alert fires and no crisis contact is configured, the operator is warned that
    the message names no local crisis line (the result's ``warnings`` say so too).
    """
    shown = [a for a in alerts if a.level in SHOWN_LEVELS]
    for alert in shown:
        err_console.print(
            f"ALERT ({alert.level}): {alert.title}", style="bold red", markup=False, highlight=False
        )
        err_console.print(alert.message, markup=False, highlight=False, soft_wrap=True)
    if any(a.level == "crisis" for a in shown) and not crisis_contacts:
        err_console.print(
            "WARNING for the operator: the crisis alert fired but no crisis contact is "
            "configured (--crisis-contact); the message names no local crisis line. Make sure "
            "this person is offered help today.",
            style="bold yellow",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return len(shown)
