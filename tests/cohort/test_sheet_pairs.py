"""Sample sheets for short-read cohorts: a ``reads_r2`` column for pairs, a ``preset`` column."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gutbrain import __version__
from gutbrain.cohort.runner import compute_task_key
from gutbrain.cohort.sheet import SampleSpec, read_sample_sheet
from gutbrain.cohort.tasks import SampleParameters
from gutbrain.errors import InputFormatError
from gutbrain.model import ReadType, SampleId


def _files(tmp_path: Path) -> None:
    for name in ("a_R1.fq", "a_R2.fq", "b.fq", "c.fq"):
        (tmp_path / name).write_text("@r\nACGT\n+\nIIII\n")


def test_pair_and_preset_columns(tmp_path: Path) -> None:
    _files(tmp_path)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "sample_id,reads,reads_r2,preset,age\nA,a_R1.fq,a_R2.fq,short,30\nB,b.fq,,,41\n"
    )
    parsed = read_sample_sheet(sheet)
    a, b = parsed.samples
    assert a.reads == (str(tmp_path / "a_R1.fq"), str(tmp_path / "a_R2.fq"))
    assert a.preset == "short"
    assert b.reads == (str(tmp_path / "b.fq"),)
    assert b.preset is None
    assert parsed.covariate_names == ("age",)


def test_bad_pair_and_preset_cells_are_listed(tmp_path: Path) -> None:
    _files(tmp_path)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(
        "sample_id\treads\treads_r2\tpreset\n"
        "A\ta_R1.fq\ta_R2.fq\tillumina\n"
        "B\tb.fq;c.fq\ta_R2.fq\t\n"
        "C\tc.fq\tmissing_R2.fq\tshort\n"
    )
    with pytest.raises(InputFormatError) as info:
        read_sample_sheet(sheet)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "line 2: preset 'illumina' is not one of ont, hifi, short" in message
    assert "line 3: 'reads_r2' needs exactly one forward-read file in 'reads' (found 2)" in message
    assert "line 4: reads_r2 file 'missing_R2.fq' not found" in message


def test_task_key_counts_a_sheet_preset_and_keeps_old_keys(tmp_path: Path) -> None:
    reads = tmp_path / "r.fq"
    reads.write_text("@r\nACGT\n+\nIIII\n")
    plain = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),))
    short = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),), preset="short")
    hifi = SampleSpec(sample_id=SampleId("S"), reads=(str(reads),), preset="hifi")
    keys = {
        compute_task_key(spec, reference_sha256=None, parameters=SampleParameters())
        for spec in (plain, short, hifi)
    }
    assert len(keys) == 3
    # no preset column: the payload (module docstring of cohort.runner) has no "preset" entry,
    # so stores written before the column existed keep their keys; "parameters" is what
    # `cohort run` passed then ({"rank": "genus"})
    payload = {
        "inputs": {"reads.1": hashlib.sha256(reads.read_bytes()).hexdigest()},
        "sample_id": "S",
        "reference": None,
        "parameters": {"rank": "genus"},
        "code_version": __version__,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    before = compute_task_key(plain, reference_sha256=None, parameters=SampleParameters())
    assert before == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    # a sheet preset keeps its old key entry ("preset": "short") whatever the run's preset
    payload_short = {**payload, "preset": "short"}
    canonical = json.dumps(payload_short, sort_keys=True, separators=(",", ":"), default=str)
    for run_preset in ReadType:
        assert (
            compute_task_key(
                short, reference_sha256=None, parameters=SampleParameters(preset=run_preset)
            )
            == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        )
