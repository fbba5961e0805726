"""``python -m gutbrain`` and the ``gutbrain`` console script: the command line.

:func:`run` loads the command line before handing over to :func:`gutbrain.cli.main`, which
installs the signal handlers that turn Ctrl-C into exit status 130 with one line, then loads
the command's module. While the root of the command line (Typer, Rich) loads, those handlers
do not exist yet: a Ctrl-C then would end Python by the signal itself. :func:`run` gives it the
same exit status and one line; nothing has started.
"""

from __future__ import annotations

import sys

from gutbrain._exit import exit_handled_interrupt


def run() -> None:
    """Run the command line; a Ctrl-C while it loads exits 130 (nothing was started)."""
    try:
        from gutbrain.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("gutbrain: interrupted (SIGINT) while starting; nothing was written\n")
        exit_handled_interrupt(130)
    main()


if __name__ == "__main__":
    run()
