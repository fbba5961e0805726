"""The console script registers only the command module it runs (start-up time)."""

from __future__ import annotations

import subprocess
import sys

from gutbrain.cli import _modules_for

_PROBE = """
import sys
sys.argv = ["gutbrain", *sys.argv[1:]]
from gutbrain.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("gutbrain.report", "gutbrain.cohort", "gutbrain.cli.db", "h5py",
                           "gutbrain.profile.align") if m in sys.modules)
print("loaded:", ",".join(heavy))
"""


def test_the_first_non_option_argument_picks_the_command_module() -> None:
    assert _modules_for(["profile", "reads.fq", "--out", "x"]) == ("profile",)
    assert _modules_for(["--debug", "--quiet", "db", "list"]) == ("db",)
    assert _modules_for(["run", "--help"]) == ("run",)
    assert _modules_for(["demo"]) == ("run",)
    assert _modules_for(["report", "r.json"]) == ("report",)
    assert _modules_for(["export", "x"]) == ("tables",)
    everything = _modules_for([])
    assert _modules_for(["--help"]) == everything
    assert _modules_for(["no-such-command"]) == everything
    assert _modules_for(["serve", "--data", "d"]) == ("serve",)
    assert set(everything) == {
        "reads",
        "db",
        "profile",
        "tables",
        "interpret",
        "report",
        "run",
        "cohort",
        "serve",
    }


def test_profile_help_imports_neither_report_cohort_nor_minimap2() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "profile", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "loaded:"
    # the full app (tests, gutbrain --help) still has every command
    everything = subprocess.run(
        [sys.executable, "-c", _PROBE, "--help"], capture_output=True, text=True, check=True
    )
    for command in ("profile", "report", "cohort", "db", "reads", "export"):
        assert command in everything.stdout


def test_every_registered_command_is_in_the_lazy_command_table() -> None:
    from gutbrain.cli import _COMMAND_MODULES, app

    names = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    names |= {g.name or g.typer_instance.info.name for g in app.registered_groups}
    assert names, "no command registered"
    assert names <= set(_COMMAND_MODULES), names - set(_COMMAND_MODULES)
