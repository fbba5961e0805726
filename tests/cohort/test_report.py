"""The cohort report: structure, and that names from input are escaped (no cluster needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutbrain.cohort.associate import associate_store, outcome_metadata
from gutbrain.cohort.report import render_cohort_report
from gutbrain.cohort.store import open_store, profile_rows_table, score_rows_table
from gutbrain.errors import ValidationError

EVIL = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(4)
    taxa = [EVIL, "Bacteroides", "Prevotella", "Roseburia", "Blautia", "Dorea"]
    root = tmp_path / "store"
    ids = [f"S{i:02d}" for i in range(24)]
    status = ["case" if i % 2 else "control" for i in range(24)]
    with open_store(root, writable=True) as store:
        for sid, group in zip(ids, status, strict=True):
            counts = rng.poisson(50, size=len(taxa)).astype(float) + 1
            if group == "case":
                counts[0] *= 8  # the evil-named taxon is the shifted one
            rows = [
                {
                    "sample_id": sid,
                    "rank": "genus",
                    "taxon": t,
                    "genus": t,
                    "abundance": c / counts.sum(),
                    "reads": c,
                }
                for t, c in zip(taxa, counts, strict=True)
            ]
            scores = [
                {"sample_id": sid, "kind": "alpha", "name": "shannon", "value": 1.5},
                {
                    "sample_id": sid,
                    "kind": "instrument",
                    "name": "PHQ-9",
                    "value": float(rng.integers(0, 28)),
                },
                {
                    "sample_id": sid,
                    "kind": "guild",
                    "name": "butyrate",
                    "value": float(counts[3] / counts.sum()),
                },
            ]
            store.commit_sample(
                sid,
                task_key=sid * 20,
                run_id="r",
                profile=profile_rows_table(rows),
                scores=score_rows_table(scores),
            )
        store.mark_failed(
            "S99", task_key="f" * 64, run_id="r", code="GB-INPUT", message=f"bad {EVIL}"
        )
        meta = pd.DataFrame(
            {"sample_id": ids, "status": status, "age": rng.normal(40, 10, 24).round()}
        )
        store.write_metadata(meta)
        associate_store(store, "status", covariates=["age"], method="both", permutations=99)
    return root


def test_report_sections_and_escaping(store_path: Path) -> None:
    with open_store(store_path) as store:
        html = render_cohort_report(store)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    for section in (
        'id="summary"',
        'id="qc"',
        'id="ordination"',
        "Associations with status",
        "Volcano plot",
        "Guild associations",
        "butyrate",
        "PERMANOVA",
        "Agreement of CLR + OLS and ANCOM-BC",
        "Presence in cases vs controls",
    ):
        assert section in html
    assert "24 done" in html
    assert "1 failed" in html
    assert len(re.findall(r"<circle", html)) == 24 + 6  # ordination + volcano (lm)
    assert "status = case" in html  # legend of the ordination


def test_report_unknown_outcome(store_path: Path) -> None:
    with open_store(store_path) as store, pytest.raises(ValidationError, match="cohort associate"):
        render_cohort_report(store, outcomes=["PHQ9"])


def test_associations_recorded_and_queryable(store_path: Path) -> None:
    with open_store(store_path) as store:
        con = store.connect_duckdb()
        top = con.execute(
            "SELECT feature, effect FROM associations WHERE method_file = 'lm' "
            "ORDER BY pvalue LIMIT 1"
        ).fetchone()
        assert top[0] == EVIL
        assert top[1] > 0  # case > control
        assert con.execute("SELECT count(*) FROM metadata").fetchone() == (24,)


def test_outcome_found_among_instrument_scores(store_path: Path) -> None:
    with open_store(store_path) as store:
        meta = outcome_metadata(store, ["PHQ9", "age"])  # not a sheet column: PHQ-9 scores
        scores = store.read_scores(kind="instrument").set_index("sample_id")["value"]
    assert meta["PHQ9"].notna().sum() == 24
    assert meta.loc["S05", "PHQ9"] == scores.loc["S05"]
