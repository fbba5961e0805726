"""Reference percentiles: mid-rank rule, cohort metadata, committed table is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.axis.reference import (
    MIN_REFERENCE_SAMPLES,
    NOT_COMPARED,
    ReferenceCohort,
    ReferenceTable,
    headline_cohort,
    load_reference,
    percentile_of,
    reference_percentiles,
)

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
    assert {"american_gut", "tito2024", "enterotype_454"} <= keys
    # LRAS (9 samples, the demo's own source) and GlobalPatterns (4 stools) are too small
    assert not keys & {"lras", "globalpatterns"}
    for cohort in table.cohorts:
        assert cohort.method
        assert cohort.method_kind in {"16S", "shotgun", "unknown"}
        assert cohort.n_samples >= MIN_REFERENCE_SAMPLES
        assert len(cohort.sample_ids) == cohort.n_samples
        assert "shannon" in cohort.metrics
        assert len(cohort.metrics["shannon"]) == 101
        # background-only guilds (context_only) are never scored, so never in a cohort
        assert not {"guild:gaba", "guild:lps", "guild:mucin"} & set(cohort.metrics)
    assert next(c for c in table.cohorts if c.key == "tito2024").n_samples == 589


def test_reference_percentiles_marks_incomparable_ranks() -> None:
    table = load_reference()
    pct = reference_percentiles(
        "guild:propionate", 0.01, rank="genus", table=table, ranks_used="class,genus,species"
    )
    by = {p.cohort: p for p in pct}
    tito = next(p for c, p in by.items() if c.startswith("Tito"))
    assert not tito.comparable  # Tito has genus only, the sample used class + genus + species
    assert all(0 <= p.percentile <= 100 for p in pct)


def _cohort(key: str, n: int, kind: str, samples: tuple[str, ...] = ()) -> ReferenceCohort:
    return ReferenceCohort(
        key=key,
        cohort=key.upper(),
        method=f"{kind} method",
        n_samples=n,
        rank="genus",
        citation="",
        metrics={"shannon": tuple(float(i) / 20 for i in range(101)), "observed": (1.0,) * 101},
        metric_ranks={"shannon": "genus", "observed": "genus"},
        method_kind=kind,
        sample_ids=frozenset(samples),
    )


_TABLE = ReferenceTable(
    version="test",
    cohorts=(
        _cohort("tiny", MIN_REFERENCE_SAMPLES - 1, "16S"),
        _cohort("mine", 500, "16S", ("S1", "S2")),
        _cohort("big16s", 100, "16S"),
        _cohort("small16s", 30, "16S"),
        _cohort("shotgun", 400, "shotgun"),
    ),
)


def test_cohorts_below_twenty_samples_are_never_used() -> None:
    pct = reference_percentiles("shannon", 2.0, rank="genus", table=_TABLE, sample_id="X")
    assert "tiny" not in {p.cohort_key for p in pct}
    assert {"mine", "big16s", "small16s", "shotgun"} == {p.cohort_key for p in pct}


def test_a_cohort_holding_the_sample_is_never_used() -> None:
    pct = reference_percentiles("shannon", 2.0, rank="genus", table=_TABLE, sample_id="S1")
    assert "mine" not in {p.cohort_key for p in pct}
    cohort = headline_cohort(_TABLE, method_kind="16S", sample_id="S1")
    assert cohort is not None
    assert cohort.key == "big16s"


def test_headline_is_the_largest_cohort_of_the_same_method_kind() -> None:
    cohort = headline_cohort(_TABLE, method_kind="16S", sample_id="X")
    assert cohort is not None
    assert cohort.key == "mine"
    shot = headline_cohort(_TABLE, method_kind="shotgun", sample_id="X")
    assert shot is not None
    assert shot.key == "shotgun"
    assert headline_cohort(_TABLE, method_kind="unknown", sample_id="X") is None
    pct = reference_percentiles(
        "shannon", 2.0, rank="genus", table=_TABLE, sample_id="X", headline="mine"
    )
    assert [p.cohort_key for p in pct if p.headline] == ["mine"]


def test_observed_richness_is_never_turned_into_a_percentile() -> None:
    assert "observed" in NOT_COMPARED
    assert reference_percentiles("observed", 50.0, rank="genus", table=_TABLE) == ()


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
