from __future__ import annotations

import subprocess
import sys

from gutbrain import __version__


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
