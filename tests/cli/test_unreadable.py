"""An unreadable input is a missing input (exit 66), not a usage error (exit 2).

As root every file is readable, so the commands run with the DAC-override capabilities dropped
(util-linux ``setpriv``), as an ordinary user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GUTBRAIN = Path(sys.executable).with_name("gutbrain")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and util-linux setpriv to drop the DAC-override capabilities",
)


@pytest.mark.parametrize(
    "args",
    [
        ["reads", "qc", "r.fq"],
        ["profile", "r.fq", "--out", "p"],
        ["import", "r.fq", "--out", "x"],
        ["diversity", "r.fq", "--out", "d"],
        ["interpret", "r.fq", "--out", "r.json"],
        ["report", "r.fq", "--out", "r.html"],
        ["run", "r.fq", "--out", "o"],
    ],
)
def test_unreadable_input_exits_66_not_2(tmp_path: Path, args: list[str]) -> None:
    reads = tmp_path / "r.fq"
    reads.write_text("@r1\nACGT\n+\nIIII\n", encoding="ascii")
    reads.chmod(0)
    drop = "-dac_override,-dac_read_search"
    done = subprocess.run(
        ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", str(GUTBRAIN), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 66, done.stderr
    assert "error[GB-NOINPUT] r.fq: permission denied" in done.stderr
    assert not any(p.name in {"p", "x", "d", "r.json", "r.html", "o"} for p in tmp_path.iterdir())
