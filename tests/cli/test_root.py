from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain import __version__

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *args], capture_output=True, text=True, check=False
    )


def test_version_prints_package_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gutbrain {__version__}"


def test_help_lists_not_a_diagnostic_device() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "Not a diagnostic device" in result.stdout


def test_usage_error_exits_2_with_click_message_not_internal_error() -> None:
    result = _run("reads", "qc", "--no-such-option")
    assert result.returncode == 2
    assert "internal error" not in result.stderr
    assert "No such option" in result.stderr


def test_flags_show_no_bool_placeholder() -> None:
    for command in (["run"], ["profile"], ["interpret"], ["export"], ["reads", "qc"]):
        result = _run(*command, "--help")
        assert result.returncode == 0
        assert "<bool>" not in result.stdout, command
        assert "--force" in result.stdout or command == ["reads", "qc"]


def test_run_without_out_is_a_usage_error_not_a_silent_default(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gutbrain", "run", "x.fastq"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--out" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_make_run_does_not_install_the_test_tools(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"  # absent: make prints every install step
    result = subprocess.run(
        ["make", "-n", "-C", str(REPO), "run", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install" in result.stdout
    assert "--group test" not in result.stdout
    tested = subprocess.run(
        ["make", "-n", "-C", str(REPO), "unit", f"VENV={venv}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "--group test" in tested.stdout
