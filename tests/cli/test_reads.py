"""``gutbrain reads qc``: exit codes, one-line errors, table and JSON output."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gutbrain.cli import main
from gutbrain.cli._app import state

FIXTURES = Path(__file__).resolve().parents[1] / "io" / "fixtures" / "reads"

Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Runner]:
    """Run ``gutbrain.cli.main`` in-process (its error boundary included); return code, out, err.

    Rich wraps long lines when output is not a terminal, so ``err`` has whitespace normalised.
    """
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def run(*args: str | Path) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["gutbrain", *map(str, args)])
        code = 0
        with warnings.catch_warnings():
            try:
                main()
            except SystemExit as exc:
                code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, " ".join(captured.err.split())

    yield run
    logging.captureWarnings(False)
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    state.debug = False


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # keep Rich from wrapping the one-line error
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.mark.parametrize(
    ("name", "code", "where"),
    [
        ("fastq_truncated.fq.gz", "GB-GZ-TRUNC", "fastq_truncated.fq.gz, record 36"),
        ("fastq_missing_plus.fq", "GB-FQ-PLUS", "fastq_missing_plus.fq:3"),
        ("fastq_duplicate_ids.fq", "GB-FQ-DUPID", "fastq_duplicate_ids.fq:9"),
        ("fastq_empty.fq", "GB-FQ-EMPTY", "fastq_empty.fq"),
    ],
)
def test_bad_input_exits_65_with_one_error_and_no_traceback(
    cli: Runner, name: str, code: str, where: str, tmp_path: Path
) -> None:
    out = tmp_path / "qc.json"
    status, _, err = cli("reads", "qc", FIXTURES / name, "--json", out)
    assert status == 65, err
    assert err.count("gutbrain: error[") == 1
    assert f"gutbrain: error[{code}] " in err
    assert where in err
    assert "Traceback" not in err
    assert not out.exists()  # nothing written on error


def test_subprocess_error_is_one_line_without_traceback() -> None:
    """The real console script path: one stderr line (given a wide terminal), exit 65."""
    result = _run("reads", "qc", FIXTURES / "fastq_quality_length_mismatch.fq")
    assert result.returncode == 65
    errors = [line for line in result.stderr.splitlines() if line.startswith("gutbrain: error")]
    assert len(errors) == 1
    assert errors[0].startswith("gutbrain: error[GB-FQ-QLEN] ")
    assert "fastq_quality_length_mismatch.fq:8, record 2" in errors[0]
    assert "Traceback" not in result.stderr


def test_good_input_prints_table_and_writes_json(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "qc.json"
    status, stdout, err = cli(
        "reads", "qc", FIXTURES / "good.fq", "--min-length", "5", "--no-quality-filter",
        "--json", out,
    )  # fmt: skip
    assert status == 0, err
    assert "Read QC" in stdout
    assert "reads kept" in stdout
    document = json.loads(out.read_text())
    assert document["qc"]["reads_in"] == 3
    assert document["qc"]["reads_kept"] == 2
    assert document["qc"]["dropped"]["too_short"] == 1
    assert document["settings"]["min_length"] == 5
    assert document["settings"]["min_mean_quality"] is None
    assert document["preset"] == "ont"


def test_no_read_passing_exits_65_after_showing_the_table(cli: Runner) -> None:
    status, stdout, err = cli("reads", "qc", FIXTURES / "good.fq", "--preset", "hifi")
    assert status == 65
    assert "dropped: too short" in stdout
    assert "gutbrain: error[GB-QC-NOREADS]" in err


def test_allow_duplicate_ids_downgrades_to_warning() -> None:
    result = _run(
        "reads", "qc", FIXTURES / "fastq_duplicate_ids.fq", "--min-length", "1",
        "--allow-duplicate-ids",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "renamed" in result.stderr


def test_progress_bar_path(cli: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    from gutbrain.cli import reads as reads_cli

    monkeypatch.setattr(reads_cli, "_PROGRESS_MIN_BYTES", 0)
    status, stdout, err = cli("reads", "qc", FIXTURES / "good.fq", "--min-length", "1")
    assert status == 0, err
    assert "Read QC (MB read)" in err
    assert "reads kept" in stdout


def test_missing_file_exits_66(cli: Runner, tmp_path: Path) -> None:
    status, _, err = cli("reads", "qc", tmp_path / "absent.fq")
    assert status == 66
    assert "gutbrain: error[GB-NOINPUT]" in err


def test_short_preset_on_real_miseq_reads(cli: Runner, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "miseq_v4_gut_example_reads"
    status, stdout, err = cli("reads", "qc", folder / "sam1F.fastq.gz", "--preset", "short")
    assert status == 0, err
    assert "1,500" in stdout


def test_contradictory_options_are_a_usage_error(cli: Runner) -> None:
    """Regression: --min-length above the preset's maximum exited 65 (data error), not 2."""
    status, _, err = cli("reads", "qc", FIXTURES / "good.fq", "--min-length", "5000")
    assert status == 2, err
    assert "max_length 2000 < min_length 5000" in err
    assert "preset ont" in err
    status, _, err = cli("reads", "qc", FIXTURES / "good.fq", "--min-mean-quality", "100")
    assert status == 2, err


def test_max_reads_subsample_recorded_and_written(cli: Runner, tmp_path: Path) -> None:
    """F27: a seeded subsample of the kept reads, recorded in the JSON, same seed same reads."""
    reads_a, reads_b = tmp_path / "a.fq.gz", tmp_path / "b.fq.gz"
    args: list[str | Path] = ["reads", "qc", FIXTURES / "good.fq", "--min-length", "1"]
    args += ["--no-quality-filter", "--max-reads", "2", "--seed", "5"]
    status, stdout, err = cli(*args, "--out-reads", reads_a, "--json", tmp_path / "qc.json")
    assert status == 0, err
    assert "2 of 3 (seed 5)" in stdout
    document = json.loads((tmp_path / "qc.json").read_text())
    assert document["subsample"]["max_reads"] == 2
    assert document["subsample"]["seed"] == 5
    assert document["subsample"]["reads"] == 2
    assert document["subsample"]["of_kept_reads"] == 3
    assert document["qc"]["reads_kept"] == 3  # the QC figures still describe every read
    status, _, err = cli(*args, "--out-reads", reads_b)
    assert status == 0, err
    written = gzip.decompress(reads_a.read_bytes()).decode()
    assert [line[:2] for line in written.splitlines()[::4]] == ["@r", "@r"]
    assert reads_a.read_bytes() == reads_b.read_bytes()


def test_out_reads_needs_max_reads(cli: Runner, tmp_path: Path) -> None:
    status, _, _ = cli("reads", "qc", FIXTURES / "good.fq", "--out-reads", tmp_path / "x.fq")
    assert status == 2
    status, _, _ = cli("reads", "qc", FIXTURES / "good.fq", "--max-reads", "0")
    assert status == 2


def test_outputs_never_overwrite_an_input(cli: Runner, tmp_path: Path) -> None:
    """Regression: --json READS replaced the user's read file with the QC JSON."""
    reads = tmp_path / "r.fq"
    reads.write_bytes((FIXTURES / "good.fq").read_bytes())
    before = reads.read_bytes()
    status, _, err = cli("reads", "qc", reads, "--min-length", "1", "--json", reads)
    assert status == 2, err
    status, _, err = cli(
        "reads", "qc", reads, "--min-length", "1", "--max-reads", "1", "--out-reads", reads
    )
    assert status == 2, err
    assert reads.read_bytes() == before


def test_json_is_not_overwritten_without_force(cli: Runner, tmp_path: Path) -> None:
    """Issue 13: every command refuses an existing output unless --force (exit 73)."""
    out = tmp_path / "qc.json"
    args = ("reads", "qc", FIXTURES / "good.fq", "--min-length", "5", "--json", out)
    assert cli(*args)[0] == 0
    first = out.read_text()
    status, _, err = cli(*args)
    assert status == 73
    assert "GB-EXISTS" in err
    assert cli(*args, "--force")[0] == 0
    assert json.loads(out.read_text()) == json.loads(first)
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "notes"}')
    status, _, err = cli("reads", "qc", FIXTURES / "good.fq", "--json", mine, "--force")
    assert status == 73
    assert "GB-NOT-OURS" in err
    assert mine.read_text() == '{"my": "notes"}'


def test_out_reads_never_overwrites_an_existing_file(cli: Runner, tmp_path: Path) -> None:
    """Issue 13: a subsample has no gutbrain mark, so even --force must not replace a file."""
    out = tmp_path / "sub.fq"
    out.write_text("@mine\nACGT\n+\nIIII\n")
    for extra in ((), ("--force",)):
        status, _, err = cli(
            "reads", "qc", FIXTURES / "good.fq", "--max-reads", "2", "--out-reads", out, *extra
        )
        assert status == 73
        assert "GB-EXISTS" in err
        assert out.read_text() == "@mine\nACGT\n+\nIIII\n"
