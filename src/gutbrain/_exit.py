"""Leave the process with the exit status gutbrain chose after a Ctrl-C or SIGTERM.

CPython 3.11-3.13 remember a ``KeyboardInterrupt`` that escaped code run by ``exec`` or ``eval``
of a string, even when the program catches it further up, and then end the process by SIGINT
at exit instead of with the status given to ``sys.exit`` (``Py_RunMain``'s
``unhandled_keyboard_interrupt``; CPython issue gh-128130). Such code runs all the time:
``collections.namedtuple`` and ``dataclasses`` build their methods with it while a module loads.
A Ctrl-C that lands there would make gutbrain end by the signal (status -2 to a parent
process) instead of exit status 130. Evaluating a string once more, after the interrupt was
handled, clears that record in those versions.
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["exit_handled_interrupt"]


def exit_handled_interrupt(code: int) -> NoReturn:
    """``sys.exit(code)`` after a handled interrupt, never overridden by a stale one."""
    exec("None")  # a constant: clears CPython's record of an escaped interrupt
    sys.exit(code)
