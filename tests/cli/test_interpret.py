"""``gutbrain interpret`` through the real entry point: outputs and inputs (issue 13 items 1, 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gutbrain.errors import EX_CANTCREAT, EX_DATAERR

DATA = Path(__file__).parents[1] / "workflow" / "data"
TABLE = DATA / "genus_table.tsv"
CRISIS = DATA / "answers_crisis.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", "--quiet", "interpret", str(TABLE), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "500"},
    )


def test_interpret_out_refuses_to_overwrite_its_own_answers_file(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(CRISIS.read_text(encoding="utf-8"), encoding="utf-8")
    done = _run("--sample-id", "example_a", "--answers", str(answers), "--out", str(answers))
    assert done.returncode == EX_CANTCREAT
    assert "error[GB-OUT-IS-INPUT]" in done.stderr
    assert answers.read_text(encoding="utf-8") == CRISIS.read_text(encoding="utf-8")
    forced = _run("--sample-id", "example_a", "--answers", str(answers), "--out", str(answers),
                  "--force")  # fmt: skip
    assert forced.returncode == EX_CANTCREAT
    assert answers.read_text(encoding="utf-8") == CRISIS.read_text(encoding="utf-8")


def test_interpret_out_refuses_an_existing_file_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    out.write_text("my notes", encoding="utf-8")
    done = _run("--sample-id", "example_a", "--out", str(out))
    assert done.returncode == EX_CANTCREAT
    assert "error[GB-EXISTS]" in done.stderr
    forced = _run("--sample-id", "example_a", "--out", str(out), "--force")
    assert forced.returncode == EX_CANTCREAT  # not a gutbrain output: --force keeps it
    assert "error[GB-NOT-OURS]" in forced.stderr
    assert out.read_text(encoding="utf-8") == "my notes"
    out.unlink()
    assert _run("--sample-id", "example_a", "--out", str(out)).returncode == 0
    first = out.read_text(encoding="utf-8")
    assert _run("--sample-id", "example_b", "--out", str(out), "--force").returncode == 0
    assert out.read_text(encoding="utf-8") != first
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # atomic: no partials


def test_interpret_out_creates_a_missing_folder_like_export(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "deeper" / "x.json"
    done = _run("--sample-id", "example_a", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file()


def test_interpret_old_sample_option_still_works(tmp_path: Path) -> None:
    done = _run("--sample", "example_b", "--out", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert '"sample_id": "example_b"' in (tmp_path / "r.json").read_text(encoding="utf-8")


def test_duplicate_phq9_in_answers_stops_interpret_before_any_output(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "phq9: [0, 0, 0, 0, 0, 0, 0, 0, 3]\nage: 40\nphq9: [0, 0, 0, 0, 0, 0, 0, 0, 0]\n",
        encoding="utf-8",
    )
    out = tmp_path / "result.json"
    done = _run("--sample-id", "example_a", "--answers", str(answers), "--out", str(out))
    assert done.returncode == EX_DATAERR
    assert "error[GB-DUPLICATE-KEY]" in done.stderr
    assert "lines 1 and 3" in done.stderr
    assert not out.exists()
