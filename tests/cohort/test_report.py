"""The cohort report: structure, and that names from input are escaped (no cluster needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

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


# -- issue 12 item 8: the cohort report in the personal report's visual language ---------------
def test_cohort_report_plots_have_axis_ticks_and_labelled_significant_taxa(
    store_path: Path,
) -> None:
    with open_store(store_path) as store:
        html = render_cohort_report(store)
    plots = re.findall(r"<svg class=\"plot\".*?</svg>", html, flags=re.S)
    assert len(plots) == 2  # PCoA and volcano
    for plot in plots:
        assert len(re.findall(r'class="tick-label x-tick-label"', plot)) >= 3
        assert len(re.findall(r'class="tick-label y-tick-label"', plot)) >= 3
        assert 'class="axis-label x-axis-label"' in plot
        assert 'class="axis-label y-axis-label"' in plot
    assert "PCoA 1 (" in plots[0]
    labels = re.findall(r'<text class="point-label"[^>]*>(.*?)</text>', plots[1])
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in labels  # the shifted taxon


def test_cohort_report_has_no_scroll_boxes_and_complete_tables(store_path: Path) -> None:
    with open_store(store_path) as store:
        html = render_cohort_report(store)
    assert 'class="scroll"' not in html
    assert "max-height" not in html
    assert "<link" not in html  # the stylesheet is included, not linked
    assert "--accent" in html  # the personal report's stylesheet
    body = html.split("<body>", 1)[1]
    assert body.count('<td class="stack-head sample">') == 25  # every sample, done and failed
    assert len(re.findall(r'<td class="stack-head taxon">', body)) >= 6 * 2


def test_cohort_report_names_guilds_readably(store_path: Path) -> None:
    with open_store(store_path) as store:
        html = render_cohort_report(store)
    assert '<td class="stack-head" title="butyrate">Butyrate producers</td>' in html


@pytest.mark.parametrize(
    ("name", "placeholder"),
    [
        ("uncultured", True),
        ("Uncultured bacterium", True),
        ("Lachnospiraceae_unclassified", True),
        ("unknown", True),
        ("Unknown_Family", True),
        ("Unassigned", True),
        ("metagenome", True),
        ("Clostridium_sensu_stricto_1", False),
        ("Faecalibacterium", False),
        ("[Eubacterium] coprostanoligenes group", False),
        ("Incertae_Sedis", True),
    ],
)
def test_placeholder_names_are_not_taxa(name: str, placeholder: bool) -> None:
    from gutbrain.cohort.associate import is_placeholder_taxon

    assert is_placeholder_taxon(name) is placeholder


def test_uncultured_is_not_tested_as_a_genus(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    taxa = ["Bacteroides", "Prevotella", "uncultured", "Unknown_Family", "Blautia", "Dorea"]
    with open_store(tmp_path / "store", writable=True) as store:
        ids = [f"S{i:02d}" for i in range(12)]
        for sid in ids:
            counts = rng.poisson(40, size=len(taxa)).astype(float) + 1
            rows = [
                {"rank": "genus", "taxon": t, "genus": t, "abundance": c / counts.sum(), "reads": c}
                for t, c in zip(taxa, counts, strict=True)
            ]
            store.commit_sample(
                sid,
                task_key=sid * 32,
                run_id="r",
                profile=profile_rows_table([{**r, "sample_id": sid} for r in rows]),
                scores=score_rows_table([]),
            )
        store.write_metadata(pd.DataFrame({"sample_id": ids, "y": rng.normal(size=12)}))
        result = associate_store(store, "y", method="lm", permutations=9)
        html = render_cohort_report(store)
    assert result.taxa_lm is not None
    assert set(result.taxa_lm["feature"]) == {"Bacteroides", "Prevotella", "Blautia", "Dorea"}
    assert result.settings["placeholder_taxa_excluded"] == ["Unknown_Family", "uncultured"]
    assert "placeholder names that pool unrelated organisms): Unknown_Family, uncultured" in html


@given(
    low=st.floats(-1e6, 1e6, allow_nan=False),
    span=st.floats(1e-6, 1e6, allow_nan=False),
)
def test_nice_ticks_are_round_even_and_inside(low: float, span: float) -> None:
    from gutbrain.cohort.report import nice_ticks

    assume(span >= abs(low) * 1e-6)  # a plot's range is far above float resolution
    high = low + span
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 11
    assert all(low - 1e-9 * span <= t <= high + 1e-9 * span for t in ticks)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9 * span)
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert any(abs(mantissa - m) < 1e-6 for m in (1, 2, 2.5, 5, 10))
