"""Timeline summaries from a real result.json, and the variability statement's rule."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.web.store import SampleSummary
from gutbrain.web.timeline import metric_value, summary_from_result, variability_statement

DAY0 = dt.date(2026, 1, 1)


def test_summary_of_the_bundled_example(demo_out: Path) -> None:
    result = json.loads((demo_out / "result.json").read_text(encoding="utf-8"))
    summary = summary_from_result(result, "a" * 32, dt.date(2026, 10, 12))
    assert summary.sample_id == "a" * 32
    assert summary.collected_on == dt.date(2026, 10, 12)
    # questionnaire totals by hand from src/gutbrain/data/example/answers.yaml:
    # PHQ-9 1+1+2+1+1+0+1+0+0 = 7; GAD-7 1+1+1+1+0+1+1 = 6;
    # PSS-10 with items 4, 5, 7, 8 reversed (4 - x): 2+1+2+1+2+2+1+2+2+1 = 16
    assert summary.scores["PHQ-9"] == 7
    assert summary.scores["GAD-7"] == 6
    assert summary.scores["PSS-10"] == 16
    # markers.yaml: calprotectin 85 mg/kg (= ug/g) lies in the 50-200 grey zone -> advise alert
    assert ("advise", "Calprotectin in the grey zone") in [
        (a["level"], a["title"]) for a in summary.alerts
    ]
    # diversity is the genus rank's (the species rank's differs, so the test can tell them apart)
    by_rank = {d["rank"]: d["metrics"] for d in result["diversity"]}
    assert by_rank["genus"]["shannon"] != by_rank["species"]["shannon"]
    assert summary.shannon == pytest.approx(by_rank["genus"]["shannon"])
    assert summary.observed_richness == round(by_rank["genus"]["observed"])
    # only computable guilds, as shares in [0, 1]
    computable = {g["name"] for g in result["guilds"] if g["computable"]}
    assert set(summary.guild_shares) == computable
    assert computable
    assert all(0 <= share <= 1 for share in summary.guild_shares.values())


def test_a_result_without_diversity_or_answers_gives_empty_summary() -> None:
    summary = summary_from_result({"diversity": [], "guilds": []}, "b" * 32, DAY0)
    assert (summary.shannon, summary.observed_richness, summary.scores, summary.alerts) == (
        None,
        None,
        {},
        (),
    )


def _series(values: list[float]) -> list[SampleSummary]:
    return [
        SampleSummary(
            sample_id=f"{i:032x}",
            collected_on=DAY0 + dt.timedelta(days=30 * i),
            shannon=value,
            observed_richness=None,
            scores={"PHQ-9": value},
        )
        for i, value in enumerate(values)
    ]


def test_no_samples_and_one_sample() -> None:
    assert "No sample" in variability_statement([], "shannon")
    one = variability_statement(_series([2.0]), "shannon")
    assert "Only one sample" in one


def test_one_change_is_not_a_trend() -> None:
    text = variability_statement(_series([2.0, 3.5]), "shannon")
    assert "cannot be told apart from ordinary day-to-day variation" in text
    assert "Notable" not in text
    assert "fewer than three samples" in text  # the rule used is named


def test_a_sustained_change_beyond_the_persons_spread_is_notable() -> None:
    # diffs 0, 0, 1, 1 -> median |diff| 0.5; the last two intervals rise by 1 > 0.5 each
    text = variability_statement(_series([1, 1, 1, 2, 3]), "score:PHQ-9")
    assert re.search(r"Notable: a rise from 1 \(2026-03-02\) to 3 \(2026-05-01\)", text)
    assert "median of those changes: 0.5" in text


def test_back_and_forth_is_not_notable() -> None:
    text = variability_statement(_series([2, 3, 2, 3, 2]), "score:PHQ-9")
    assert "Notable" not in text
    assert "No change stands out" in text


def test_steady_small_steps_are_reported_but_not_called_notable() -> None:
    text = variability_statement(_series([4, 3, 2, 1]), "shannon")
    assert "Every change went down" in text
    assert "Notable" not in text


def test_input_order_does_not_matter() -> None:
    series = _series([1, 1, 1, 2, 3])
    assert variability_statement(series[::-1], "shannon") == variability_statement(
        series, "shannon"
    )


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metric_value(_series([1.0])[0], "height")


_values = st.lists(st.integers(-50, 50), min_size=0, max_size=8)


@given(values=st.lists(st.integers(-50, 50), max_size=2))
def test_fewer_than_three_samples_never_notable(values: list[int]) -> None:
    assert "Notable" not in variability_statement(_series([float(v) for v in values]), "shannon")


@given(values=_values, shift=st.integers(-100, 100), scale=st.integers(1, 5))
def test_verdict_is_invariant_to_shift_and_positive_scale(
    values: list[int], shift: int, scale: int
) -> None:
    plain = variability_statement(_series([float(v) for v in values]), "shannon")
    moved = variability_statement(_series([float(v * scale + shift) for v in values]), "shannon")
    assert ("Notable: a rise" in plain) == ("Notable: a rise" in moved)
    assert ("Notable: a fall" in plain) == ("Notable: a fall" in moved)


@given(values=_values)
def test_mirroring_the_values_swaps_rise_and_fall(values: list[int]) -> None:
    plain = variability_statement(_series([float(v) for v in values]), "shannon")
    mirrored = variability_statement(_series([float(-v) for v in values]), "shannon")
    assert ("Notable: a rise" in plain) == ("Notable: a fall" in mirrored)
