"""``gutbrain profile`` end to end through the console entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.reference.formats import import_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "profile" / "fixtures"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clidb") / "tiny"
    import_bundle(
        FIXTURES / "tiny_ref.fasta",
        FIXTURES / "tiny_ref_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        out=folder,
    )
    return folder


def _reads(path: Path) -> Path:
    # five exact copies of two fixture references, as FASTA
    seqs = FIXTURES.joinpath("tiny_ref.fasta").read_text().splitlines()
    records = {seqs[i][1:]: seqs[i + 1] for i in range(0, len(seqs), 2)}
    fragilis, klebsiella = records["7000004128190436"], records["S000003122"]
    text = "".join(f">f{i}\n{fragilis}\n" for i in range(3))
    text += "".join(f">k{i}\n{klebsiella}\n" for i in range(2))
    path.write_text(text)
    return path


def test_profile_writes_every_output(bundle: Path, tmp_path: Path) -> None:
    reads = _reads(tmp_path / "s.fa")
    out = tmp_path / "out"
    result = _run("profile", str(reads), "--db", str(bundle), "--out", str(out),
                  "--preset", "hifi", "--read-assignments", "--sample-id", "S1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("profile.tsv", "profile.biom", "qc.json", "provenance.json",
                 "read_assignments.tsv"):  # fmt: skip
        assert (out / name).is_file(), name
    lines = (out / "profile.tsv").read_text().splitlines()
    species = {
        line.split("\t")[2]: float(line.split("\t")[12])
        for line in lines[1:]
        if line.split("\t")[1] == "species"
    }
    assert species == {
        "Bacteroides fragilis": pytest.approx(0.6),
        "Klebsiella pneumoniae": pytest.approx(0.4),
        "unassigned": pytest.approx(0.0),
    }
    assert "S1: 5 reads" in result.stdout


def test_existing_output_is_refused_with_exit_73(bundle: Path, tmp_path: Path) -> None:
    reads = _reads(tmp_path / "s.fa")
    (tmp_path / "out").mkdir()
    result = _run("profile", str(reads), "--db", str(bundle), "--out", str(tmp_path / "out"))
    assert result.returncode == 73
    assert "error[GB-EXISTS]" in result.stderr


def test_missing_reads_exit_66_and_nothing_written(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run("profile", str(tmp_path / "nope.fq"), "--db", str(bundle), "--out", str(out))
    assert result.returncode == 66
    assert not out.exists()
