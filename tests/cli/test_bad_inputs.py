"""Bad inputs that used to exit 70 (internal error) get a clear GB-* error (issue 13 item 9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.errors import EX_DATAERR, EX_NOINPUT
from gutbrain.io.tables import read_table, write_table

FIX = Path(__file__).parents[1] / "io" / "fixtures" / "tables"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", "--quiet", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "500"},
    )


@pytest.mark.parametrize(
    "command",
    [
        ["reads", "qc", "loop.fastq"],
        ["import", "loop.tsv", "--out", "out"],
        ["diversity", "loop.tsv", "--out", "out"],
        ["report", "loop.json", "--out", "report.html"],
    ],
)
def test_symlink_loop_is_a_missing_input_not_an_internal_error(
    tmp_path: Path, command: list[str]
) -> None:
    name = next(arg for arg in command if arg.startswith("loop."))
    other = name.replace("loop.", "loop2.")
    (tmp_path / name).symlink_to(tmp_path / other)
    (tmp_path / other).symlink_to(tmp_path / name)
    done = _run(*command, cwd=tmp_path)
    assert done.returncode == EX_NOINPUT, done.stderr
    assert "error[GB-NOINPUT]" in done.stderr
    assert "symbolic-link loop" in done.stderr
    assert not (tmp_path / "out").exists()


def _biom(tmp_path: Path) -> bytes:
    profiles = read_table(FIX / "emu_sample_rel-abundance.tsv")
    return write_table(profiles, tmp_path / "good.biom", format="biom").read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
@pytest.mark.parametrize("command", ["import", "diversity"])
def test_damaged_biom_hdf5_is_an_input_error(tmp_path: Path, damage: str, command: str) -> None:
    data = bytearray(_biom(tmp_path))
    if damage == "truncated":
        data = data[: len(data) // 3]
    else:  # flip bytes after the HDF5 superblock
        for i in range(2048, len(data), 97):
            data[i] ^= 0xFF
    bad = tmp_path / f"{damage}.biom"
    bad.write_bytes(bytes(data))
    done = _run(command, bad.name, "--out", "out", cwd=tmp_path)
    assert done.returncode == EX_DATAERR, done.stderr
    assert "error[GB-TAB-BIOM]" in done.stderr
    assert f"{damage}.biom" in done.stderr
    assert "internal error" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_binary_file_given_as_result_json_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_bytes(_biom(tmp_path))
    done = _run("report", "good.json", "--out", "r.html", cwd=tmp_path)
    assert done.returncode == EX_DATAERR, done.stderr
    assert "not UTF-8" in done.stderr
