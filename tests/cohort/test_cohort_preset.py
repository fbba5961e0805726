"""Regression: ``cohort run`` profiled every reads sample with the ONT preset.

The command passed only the rank to the workers and the sample task fell back to ``ont``, so
HiFi and short-read cohorts were silently profiled with ONT settings. ``cohort run --preset``
now sets the read type (default ``ont``, as for ``profile``); a sheet's ``preset`` cell wins for
its sample.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.cohort.runner import RunSummary, compute_task_key
from gutbrain.cohort.sample import process_sample
from gutbrain.cohort.sheet import SampleSpec
from gutbrain.cohort.store import open_store
from gutbrain.cohort.tasks import SampleParameters, SampleTask
from gutbrain.model import ReadType, SampleId


def _reads_sheet(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A sheet of ``(sample_id, fastq text, preset cell)`` rows."""
    lines = ["sample_id\treads\tpreset"]
    for sample_id, text, preset in rows:
        path = folder / f"{sample_id}.fastq"
        path.write_text(text)
        lines.append(f"{sample_id}\t{path.name}\t{preset}")
    sheet = folder / "sheet.tsv"
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def test_cohort_run_passes_its_preset_to_the_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gutbrain.cohort.runner

    seen: dict[str, Any] = {}

    def capture(sheet: object, store: object, **kwargs: Any) -> RunSummary:
        seen.update(kwargs)  # and no cluster is started
        return RunSummary("r", 1, done=1, skipped=0, failed=0, failures={}, seconds=0, workers=1)

    monkeypatch.setattr(gutbrain.cohort.runner, "run_cohort", capture)
    sheet = _reads_sheet(tmp_path, [("H1", "@r\nACGT\n+\nIIII\n", "")])
    result = CliRunner().invoke(
        app, ["cohort", "run", str(sheet), "--out", str(tmp_path / "store"), "--preset", "hifi"]
    )
    assert result.exit_code == 0, result.output
    assert seen["parameters"].preset == "hifi"


def _first_reads(source: Path, n: int) -> str:
    with gzip.open(source, "rt") as handle:
        return "".join(next(handle) for _ in range(4 * n))


def test_a_hifi_cohort_is_profiled_with_the_hifi_preset(shared_dir: Path, tmp_path: Path) -> None:
    reads = shared_dir / "bench" / "reads"
    hifi = _first_reads(reads / "gut_hifi_20k.fastq.gz", 60)
    ont = _first_reads(reads / "gut_ont_5k.fastq.gz", 60)
    # H1 takes the run's --preset; O1's sheet cell overrides it
    sheet = _reads_sheet(tmp_path, [("H1", hifi, ""), ("O1", ont, "ont")])
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app,
        ["cohort", "run", str(sheet), "--out", str(store), "--workers", "1", "--preset", "hifi"],
    )
    assert result.exit_code == 0, result.output
    with open_store(store) as opened:
        presets = {
            sample: json.loads(opened.read_result_json(sample) or "{}")["provenance"]["parameters"][
                "preset"
            ]
            for sample in ("H1", "O1")
        }
        qc = opened.read_scores(kind="qc").pivot(index="sample_id", columns="name", values="value")
    assert presets == {"H1": "hifi", "O1": "ont"}
    assert (qc["reads_in"] == 60).all()


class _Profiled(Exception):
    """Raised by the stand-in profiler with the read type it was given."""


@pytest.mark.parametrize(
    ("run_preset", "sheet_preset", "expected"),
    [
        (ReadType.ont, None, "ont"),
        (ReadType.hifi, None, "hifi"),
        (ReadType.short, None, "short"),
        (ReadType.hifi, ReadType.short, "short"),  # the sheet's cell wins
        (ReadType.ont, ReadType.hifi, "hifi"),
    ],
)
def test_the_sample_task_profiles_with_the_run_or_sheet_read_type(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_preset: ReadType,
    sheet_preset: ReadType | None,
    expected: str,
) -> None:
    import gutbrain.cohort.sample

    def profiler(paths: object, *, preset: object, **kwargs: object) -> object:
        raise _Profiled(preset)

    monkeypatch.setattr(gutbrain.cohort.sample, "load_bundle", lambda path: None)
    monkeypatch.setattr(gutbrain.cohort.sample, "profile_sample", profiler)
    reads = tmp_path / "r.fq"
    reads.write_text("@r\nACGT\n+\nIIII\n")
    spec = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),), preset=sheet_preset)
    task = SampleTask(spec, "k", None, SampleParameters(preset=run_preset))
    with pytest.raises(_Profiled) as raised:
        process_sample(task)
    assert raised.value.args == (expected,)


def _key(spec: SampleSpec, preset: ReadType) -> str:
    return compute_task_key(spec, reference_sha256=None, parameters=SampleParameters(preset))


def test_the_run_preset_changes_the_key_of_reads_samples_only(tmp_path: Path) -> None:
    reads = tmp_path / "r.fq"
    reads.write_text("@r\nACGT\n+\nIIII\n")
    table = tmp_path / "t.tsv"
    table.write_text("x\t1\n")
    from_reads = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),))
    keys = {_key(from_reads, preset) for preset in ReadType}
    assert len(keys) == 3  # a re-run with another read type redoes the sample
    from_table = SampleSpec(sample_id=SampleId("S"), profile=str(table))
    assert len({_key(from_table, preset) for preset in ReadType}) == 1
    own = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),), preset=ReadType.hifi)
    assert len({_key(own, preset) for preset in ReadType}) == 1  # its cell decides
    # ont, the default, keeps the key written before --preset existed (runs were all ONT)
    assert _key(from_reads, ReadType.ont) == compute_task_key(
        from_reads, reference_sha256=None, parameters=SampleParameters()
    )
