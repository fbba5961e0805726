"""``run_sample`` / ``run_table``: reads or a table -> profile -> result -> report, atomically."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gutbrain.errors import (
    EmptyInputError,
    ErrorCode,
    InputFormatError,
    OutputExistsError,
    ValidationError,
)
from gutbrain.report.render import public_json
from gutbrain.result import read_result
from gutbrain.workflow import run as run_module
from gutbrain.workflow.run import OUTPUT_FILES, example_paths, run_sample, run_table

DATA = Path(__file__).parent / "data"


def _subset_reads(tmp_path: Path, n: int = 300) -> Path:
    """The first ``n`` reads of the bundled example (keeps the test fast)."""
    lines: list[str] = []
    with gzip.open(example_paths().reads, "rt") as handle:
        for _ in range(4 * n):
            lines.append(handle.readline())
    out = tmp_path / "subset.fastq"
    out.write_text("".join(lines), encoding="ascii")
    return out


def _twin(html: str) -> dict[str, object]:
    match = re.search(
        r'<script type="application/json" id="gutbrain-result">(.*?)</script>', html, re.S
    )
    assert match is not None
    data: dict[str, object] = json.loads(match.group(1))
    return data


def test_run_sample_writes_every_output_and_a_matching_twin(tmp_path: Path) -> None:
    stages: list[str] = []
    example = example_paths()
    outputs = run_sample(
        [_subset_reads(tmp_path)],
        out_dir=tmp_path / "out",
        answers=example.answers,
        markers=example.markers,
        sample_id="subset",
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert sorted(outputs.files) == sorted(OUTPUT_FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(OUTPUT_FILES)
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    # result.json is exactly what the page was rendered from (timings included)
    on_disk = read_result(outputs.result_json)
    assert on_disk == outputs.result
    html = outputs.report.read_text(encoding="utf-8")
    # the embedded twin is result.json without the internal verification notes
    assert _twin(html) == public_json(json.loads(outputs.result_json.read_text(encoding="utf-8")))
    assert "Not verified in the source" not in html
    timings = on_disk.provenance.run_info.stage_seconds
    assert list(timings) == ["inputs", "reference", "profile", "interpret", "report"]
    assert all(v >= 0 for v in timings.values())
    assert list(dict.fromkeys(stages)) == [
        "inputs",
        "reference",
        "profile",
        "interpret",
        "report",
        "write",
    ]
    assert set(outputs.stage_seconds) == set(dict.fromkeys(stages))
    assert on_disk.read_qc is not None
    assert on_disk.read_qc.reads_in == 300
    assert on_disk.sample_id == "subset"
    digests = on_disk.provenance.run_info.input_sha256
    assert digests == {
        "answers": hashlib.sha256(example.answers.read_bytes()).hexdigest(),
        "markers": hashlib.sha256(example.markers.read_bytes()).hexdigest(),
    }
    assert on_disk.markers  # markers were interpreted
    assert on_disk.questionnaires  # and answers
    assert "example data" not in html


def test_run_writes_the_profile_files_straight_into_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one temporary folder (the run's own, renamed whole), no profile subfolder moved out of it
    made: list[Path] = []
    real = os.mkdir

    def recording(path: Any, *args: Any, **kwargs: Any) -> None:
        real(path, *args, **kwargs)
        if ".partial-" in Path(path).name:
            made.append(Path(path))

    reads = _subset_reads(tmp_path, 30)
    monkeypatch.setattr(os, "mkdir", recording)
    out = tmp_path / "out"
    outputs = run_sample([reads], out_dir=out, sample_id="subset")
    ours = [p for p in made if p.is_relative_to(tmp_path)]
    assert len(ours) == 1
    assert ours[0].parent == tmp_path
    assert ours[0].name.startswith(".out.partial-")
    assert sorted(outputs.files) == sorted(OUTPUT_FILES)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUT_FILES)
    qc = json.loads((out / "qc.json").read_text(encoding="utf-8"))
    assert qc["read_qc"]["reads_in"] == 30
    # run_info holds the EM's single numbers, the same as qc.json's
    run_info = outputs.result.provenance.run_info
    assert run_info is not None
    assert run_info.em is not None
    em = run_info.em
    assert em == {k: v for k, v in qc["em"].items() if k in em}
    assert {"iterations", "log_likelihood", "taxa_kept", "distinct_reads"} <= set(em)
    assert "error_model" not in em


def test_existing_out_dir_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        run_sample([_subset_reads(tmp_path, 5)], out_dir=out)
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_no_read_files_is_the_one_no_read_files_error(tmp_path: Path) -> None:
    with pytest.raises(EmptyInputError, match="no read files given") as info:
        run_sample([], out_dir=tmp_path / "out")
    assert info.value.code == ErrorCode.NO_READ_FILES
    assert not (tmp_path / "out").exists()


def test_bad_answers_fail_before_profiling_and_write_nothing(tmp_path: Path) -> None:
    stages: list[str] = []
    with pytest.raises(ValidationError, match=r"answers_bad_item\.yaml"):
        run_sample(
            [_subset_reads(tmp_path, 5)],
            out_dir=tmp_path / "out",
            answers=DATA / "answers_bad_item.yaml",
            progress=lambda stage, done, total: stages.append(stage),
        )
    assert "profile" not in stages
    assert not (tmp_path / "out").exists()


def test_failure_while_writing_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> Path:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(run_module, "write_result", broken)
    with pytest.raises(OSError, match="simulated"):
        run_table(DATA / "genus_table.tsv", out_dir=tmp_path / "out", sample_id="example_a")
    assert list(tmp_path.iterdir()) == []


def test_run_table_picks_the_named_sample_and_has_no_read_qc(tmp_path: Path) -> None:
    outputs = run_table(
        DATA / "genus_table.tsv",
        out_dir=tmp_path / "out",
        sample_id="example_b",
        markers=DATA / "markers_no_alert.yaml",
    )
    assert sorted(outputs.files) == sorted(set(OUTPUT_FILES) - {"qc.json"})
    result = read_result(outputs.result_json)
    assert result.sample_id == "example_b"
    assert result.read_qc is None
    assert not [a for a in result.alerts if a.level in ("crisis", "urgent", "prompt", "advise")]
    html = outputs.report.read_text(encoding="utf-8")
    assert "imported abundance table" in html
    assert "No questionnaire answers were given" in html
    assert list(result.provenance.run_info.stage_seconds) == [
        "inputs",
        "import",
        "interpret",
        "report",
    ]


def test_run_table_with_several_samples_needs_a_sample_id(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="--sample-id"):
        run_table(DATA / "genus_table.tsv", out_dir=tmp_path / "out")
    with pytest.raises(InputFormatError, match="no sample 'nope'"):
        run_table(DATA / "genus_table.tsv", out_dir=tmp_path / "out", sample_id="nope")
    assert not (tmp_path / "out").exists()


def test_crisis_answers_put_the_crisis_message_first(tmp_path: Path) -> None:
    outputs = run_table(
        DATA / "genus_table.tsv",
        out_dir=tmp_path / "out",
        sample_id="example_a",
        answers=DATA / "answers_crisis.yaml",
    )
    result = outputs.result
    assert result.alerts
    assert result.alerts[0].level == "crisis"
    html = outputs.report.read_text(encoding="utf-8")
    body = html[html.index("<body>") + len("<body>") :].lstrip()
    assert body.startswith('<div class="crisis" role="alert" id="crisis">')


@pytest.mark.slow
def test_full_example_run(tmp_path: Path) -> None:
    example = example_paths()
    outputs = run_sample(
        [example.reads],
        out_dir=tmp_path / "demo",
        answers=example.answers,
        markers=example.markers,
        sample_id="example",
        example=True,
        threads=2,
    )
    result = outputs.result
    assert result.read_qc is not None
    assert result.read_qc.reads_in == 3000
    genera = [t.name for t in result.profile.top_taxa.get("genus", ())]
    assert "Blautia" in genera[:3]  # 19.5 % of the simulated 16S reads (example_truth.tsv)
    html = outputs.report.read_text(encoding="utf-8")
    assert "example data" in html
    assert [a.level for a in result.alerts if a.level == "crisis"] == []


def test_bundled_example_is_reproduced_by_its_script(tmp_path: Path, shared_dir: Path) -> None:
    # The committed reads must be exactly what the documented, seeded script makes from the real
    # LRAS stool sample R_9.3 (scripts/make_example_data.py defaults).
    script = Path(__file__).parents[2] / "scripts" / "make_example_data.py"
    source = shared_dir / "data" / "lras_human_fecal_fulllength16s_asvs"
    done = subprocess.run(
        [sys.executable, str(script), "--source", str(source), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    bundled = example_paths().reads
    for name in ("example_reads.fastq.gz", "example_truth.tsv"):
        made = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        kept = hashlib.sha256((bundled.parent / name).read_bytes()).hexdigest()
        assert made == kept, name
