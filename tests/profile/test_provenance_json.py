"""``provenance.json`` is written by one JSON writer: ``profile`` and ``run --table`` agree."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import numpy as np

from gutbrain.io.profile_files import write_profile_files
from gutbrain.io.readqc import QC_PRESETS, QCSettings
from gutbrain.model import ReadType
from gutbrain.profile.pipeline import profile_sample
from gutbrain.profile.settings import PROFILE_PRESETS
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.workflow.run import run_table

FRAGILIS, KLEBSIELLA = "7000004128190436", "S000003122"


def test_profile_and_run_table_write_the_same_provenance_json(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path], tmp_path: Path
) -> None:
    reads = make_reads("mix.fq.gz", {FRAGILIS: 10, KLEBSIELLA: 6}, seed=3)
    result = profile_sample([reads], bundle=tiny_bundle, preset="ont", sample_id="s1")
    # values JSON has no word for, as a parameter block may carry them
    provenance = dataclasses.replace(
        result.profile.provenance,
        parameters={
            **result.profile.provenance.parameters,
            "not_measured": float("nan"),
            "count": np.int64(3),
            "nested": MappingProxyType({"tol": np.float64("inf"), "steps": (1, 2)}),
        },
    )
    result = dataclasses.replace(
        result, profile=dataclasses.replace(result.profile, provenance=provenance)
    )
    profiled = write_profile_files(result, tmp_path / "profiled")
    run = run_table(profiled / "profile.biom", out_dir=tmp_path / "run")

    from_profile = (profiled / "provenance.json").read_bytes()
    assert (run.out_dir / "provenance.json").read_bytes() == from_profile
    parameters = json.loads(from_profile)["parameters"]
    assert parameters["not_measured"] is None
    assert parameters["count"] == 3
    assert parameters["nested"] == {"tol": None, "steps": [1, 2]}


def test_provenance_records_the_read_qc_thresholds_applied(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads("mix.fq.gz", {FRAGILIS: 4}, seed=5)
    result = profile_sample([reads], bundle=tiny_bundle, preset="ont", sample_id="s1")
    assert result.profile.provenance.parameters["read_qc"] == QC_PRESETS["ont"].describe()
    custom = QCSettings(min_length=100, max_length=5000, min_mean_quality=None)
    settings = dataclasses.replace(PROFILE_PRESETS[ReadType.ont], read_qc=custom)
    result = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="s1", settings=settings
    )
    assert result.profile.provenance.parameters["read_qc"] == (
        "length 100-5000 bp, no quality filter, <= 1.00% ambiguous bases"
    )
