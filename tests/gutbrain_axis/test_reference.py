"""Reference percentiles: mid-rank rule, cohort metadata, committed table is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.gutbrain_axis.reference import load_reference, percentile_of, reference_percentiles

REPO = Path(__file__).resolve().parents[2]


def test_mid_rank_percentile() -> None:
    q = [float(i) for i in range(101)]
    assert percentile_of(50.0, q) == 50.0
    assert percentile_of(-1.0, q) == 0.0
    assert percentile_of(1000.0, q) == 100.0
    # ties: 51 zeros then 50 ones -> value 0 sits mid-run: 100 * 25.5 / 101
    ties = [0.0] * 51 + [1.0] * 50
    assert percentile_of(0.0, ties) == round(100 * 25.5 / 101, 1)


def test_packaged_cohorts_state_method_and_size() -> None:
    table = load_reference()
    keys = {c.key for c in table.cohorts}
    assert {"lras", "american_gut", "tito2024", "enterotype_454"} <= keys
    for cohort in table.cohorts:
        assert cohort.method
        assert cohort.n_samples >= 4
        assert "shannon" in cohort.metrics
        assert len(cohort.metrics["shannon"]) == 101
    assert next(c for c in table.cohorts if c.key == "tito2024").n_samples == 589


def test_reference_percentiles_marks_incomparable_ranks() -> None:
    table = load_reference()
    pct = reference_percentiles(
        "guild:lps", 0.01, rank="genus", table=table, ranks_used="family,genus"
    )
    by = {p.cohort: p for p in pct}
    tito = next(p for c, p in by.items() if c.startswith("Tito"))
    assert not tito.comparable  # Tito has genus only, the sample used family + genus
    assert all(0 <= p.percentile <= 100 for p in pct)


@pytest.mark.slow
def test_script_output_current(shared_dir: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_reference_percentiles.py"),
            "--check",
            "--shared",
            str(shared_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
