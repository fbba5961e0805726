"""``gutbrain report``, ``gutbrain run`` and ``gutbrain demo`` through the real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.errors import EX_CANTCREAT, EX_DATAERR, EX_NOINPUT
from gutbrain.result import write_result
from tests.report.report_factory import EVIL, make_result


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", "--quiet", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "500"},  # rich must not wrap the one-line error
    )


def test_report_renders_a_result_json(tmp_path: Path) -> None:
    result_path = write_result(make_result(sample_id=EVIL), tmp_path / "r.json")
    out = tmp_path / "report.html"
    done = _run("report", str(result_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    html = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert EVIL not in html


def test_report_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    result_path = write_result(make_result(), tmp_path / "r.json")
    out = tmp_path / "report.html"
    out.write_text("keep me", encoding="utf-8")
    done = _run("report", str(result_path), "--out", str(out))
    assert done.returncode == EX_CANTCREAT
    assert "error[GB-EXISTS]" in done.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    # --force replaces only what gutbrain wrote (issue 13): "keep me" is not a gutbrain report
    forced = _run("report", str(result_path), "--out", str(out), "--force")
    assert forced.returncode == EX_CANTCREAT
    assert "error[GB-NOT-OURS]" in forced.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    out.unlink()
    assert _run("report", str(result_path), "--out", str(out)).returncode == 0
    assert _run("report", str(result_path), "--out", str(out), "--force").returncode == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_on_a_broken_json_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "result_not_json.json"
    bad.write_text("{ not json", encoding="utf-8")
    done = _run("report", str(bad), "--out", str(tmp_path / "x.html"))
    assert done.returncode == EX_DATAERR
    assert "result_not_json.json" in done.stderr
    assert not (tmp_path / "x.html").exists()


def test_report_on_a_missing_file(tmp_path: Path) -> None:
    done = _run("report", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x.html"))
    assert done.returncode == EX_NOINPUT
    assert "nope.json" in done.stderr


def test_run_without_reads_or_table_is_a_usage_error(tmp_path: Path) -> None:
    done = _run("run", "--out", str(tmp_path / "o"))
    assert done.returncode == EX_DATAERR
    assert "error[GB-NO-READ-FILES] no read files given" in done.stderr
    assert not (tmp_path / "o").exists()


def test_run_refuses_reads_and_table_together(tmp_path: Path) -> None:
    reads = tmp_path / "r.fq"
    reads.write_text("@r\nACGT\n+\nIIII\n", encoding="utf-8")
    done = _run("run", str(reads), "--table", str(reads), "--out", str(tmp_path / "o"))
    assert done.returncode == EX_DATAERR
    assert "not both" in done.stderr


def test_run_from_a_table_via_the_cli(tmp_path: Path) -> None:
    table = Path(__file__).parents[1] / "workflow" / "data" / "genus_table.tsv"
    out = tmp_path / "out"
    done = _run("run", "--table", str(table), "--sample-id", "example_a", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    assert "time by stage: inputs" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "profile.biom",
        "profile.tsv",
        "provenance.json",
        "report.html",
        "result.json",
    ]


def test_demo_leaves_a_foreign_folder_alone(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious", encoding="utf-8")
    done = _run("demo", "--out", str(out), "--no-progress")
    assert done.returncode == EX_CANTCREAT
    assert "error[GB-EXISTS]" in done.stderr
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "precious"


@pytest.mark.slow
def test_demo_replaces_an_earlier_demo_and_prints_the_report_path(tmp_path: Path) -> None:
    out = tmp_path / "gutbrain-demo"
    out.mkdir()
    (out / "report.html").write_text("old", encoding="utf-8")
    # an earlier demo's result.json names gutbrain (io.files.check_replaceable)
    (out / "result.json").write_text('{"gutbrain_version": "0.1"}', encoding="utf-8")
    done = _run("demo", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "example data" in html
    assert (out / "qc.json").exists()
