"""``gutbrain profile R1 R2``: a pair of Illumina files is merged, not refused for duplicate IDs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.reference.formats import import_bundle

FIXTURES = Path(__file__).resolve().parents[1] / "profile" / "fixtures"
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pairdb") / "tiny"
    import_bundle(
        FIXTURES / "tiny_ref.fasta",
        FIXTURES / "tiny_ref_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        out=folder,
    )
    return folder


def _pair_files(folder: Path) -> tuple[Path, Path]:
    # 3 + 2 MiSeq-like 2x250 pairs of a 253-bp stretch of two fixture references (V4-sized)
    lines = FIXTURES.joinpath("tiny_ref.fasta").read_text().splitlines()
    records = {lines[i][1:]: lines[i + 1] for i in range(0, len(lines), 2)}
    r1, r2 = [], []
    for n, ref in enumerate(["7000004128190436"] * 3 + ["S000003122"] * 2):
        amplicon = records[ref][500:753]
        reverse = amplicon[-250:].translate(_COMPLEMENT)[::-1]
        r1.append(f"@M1:7:{n} 1:N:0:52\n{amplicon[:250]}\n+\n{'I' * 250}\n")
        r2.append(f"@M1:7:{n} 2:N:0:52\n{reverse}\n+\n{'I' * 250}\n")
    forward, backward = folder / "s_R1.fastq.gz", folder / "s_R2.fastq.gz"
    forward.write_bytes(gzip.compress("".join(r1).encode(), mtime=0))
    backward.write_bytes(gzip.compress("".join(r2).encode(), mtime=0))
    return forward, backward


def test_profile_of_a_read_pair(bundle: Path, tmp_path: Path) -> None:
    forward, backward = _pair_files(tmp_path)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "gutbrain", "profile", str(forward), str(backward),
         "--db", str(bundle), "--out", str(out), "--preset", "short", "--no-intervals"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    qc = json.loads((out / "qc.json").read_text())
    text = json.dumps(qc)
    assert '"read_pairs": 5' in text
    assert '"read_pairs_merged": 5' in text
    rows = [line.split("\t") for line in (out / "profile.tsv").read_text().splitlines()[1:]]
    genera = {row[2]: float(row[12]) for row in rows if row[1] == "genus"}
    assert genera["Bacteroides"] == pytest.approx(0.6)
    assert genera["Klebsiella"] == pytest.approx(0.4)
