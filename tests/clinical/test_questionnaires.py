"""Known-answer tests for every instrument.

Sources of the expected values:
* PHQ-9: Kroenke K, Spitzer RL, Williams JBW (2001) J Gen Intern Med 16:606-613 — total is the sum
  of nine 0-3 items; bands at 5/10/15/20 (minimal, mild, moderate, moderately severe, severe).
* GAD-7: Spitzer RL et al. (2006) Arch Intern Med 166:1092-1097 — sum of seven 0-3 items; bands
  at 5/10/15.
* PSS-10: Cohen S, Kamarck T, Mermelstein R (1983) J Health Soc Behav 24:385-396 — items 4, 5, 7,
  8 reverse-scored (4 - answer), total 0-40.
* Bristol: Lewis SJ, Heaton KW (1997) Scand J Gastroenterol 32:920-924 — types 1-2 hard, 3-4
  typical (normal), 5-7 loose.
* IBS-SSS: Francis CY, Morris J, Whorwell PJ (1997) Aliment Pharmacol Ther 11:395-402 — five
  0-100 items (pain days × 10), total 0-500; mild 75-175, moderate 175-300, severe > 300.
Hand calculations are written next to each case.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.clinical.questionnaires import (
    score_bristol,
    score_gad7,
    score_ibs_sss,
    score_phq9,
    score_pss10,
)
from gutbrain.io.answers import IbsSss
from gutbrain.io.knowledge import load_knowledge

KB = load_knowledge()


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_boundaries(total: int, band: str) -> None:
    # build 9 items summing to ``total`` with item 9 = 0
    items: list[int | None] = [0] * 9
    left = total
    for i in range(8):
        items[i] = min(3, left)
        left -= items[i]  # type: ignore[operator]
    items[8] = left
    assert left <= 3
    result = score_phq9(items, KB)
    assert (result.score, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_band_boundaries(total: int, band: str) -> None:
    items: list[int | None] = []
    left = total
    for _ in range(7):
        items.append(min(3, left))
        left -= items[-1]  # type: ignore[operator]
    result = score_gad7(items, KB)
    assert (result.score, result.band) == (total, band)


def test_phq9_missing_item_rule() -> None:
    # 0 missing: plain sum 1+1+1+1+1+1+1+1+0 = 8
    assert score_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], KB).score == 8
    # 1 missing (item 3): answered sum 7 over 8 items -> 7 * 9 / 8 = 7.875 -> 8 (half-up)
    one = score_phq9([1, 1, None, 1, 1, 1, 1, 1, 0], KB)
    assert (one.score, one.prorated, one.items_missing) == (8, True, (3,))
    # 2 missing: not scorable
    two = score_phq9([1, None, None, 1, 1, 1, 1, 1, 0], KB)
    assert not two.scorable
    assert two.score is None
    assert "2 item(s) missing" in two.reason
    # item 9 missing: never imputed, even when it is the only one missing
    nine = score_phq9([3, 3, 3, 3, 3, 3, 3, 3, None], KB)
    assert not nine.scorable
    assert "item 9" in nine.reason


def test_gad7_prorating() -> None:
    # 6 answered summing 10 -> 10 * 7 / 6 = 11.67 -> 12
    result = score_gad7([2, 2, 2, 2, 1, 1, None], KB)
    assert (result.score, result.prorated, result.band) == (12, True, "moderate")
    assert not score_gad7([2, None, None, 2, 1, 1, 0], KB).scorable


def test_pss10_reverse_items() -> None:
    # all answers 0: reversed items 4,5,7,8 give 4 each -> 16
    assert score_pss10([0] * 10, KB).score == 16
    # all answers 4: six forward items give 24, reversed give 0 -> 24
    assert score_pss10([4] * 10, KB).score == 24
    # mixed: items 1-10 = 3,2,1,0,1,2,3,4,0,1
    # forward 1,2,3,6,9,10: 3+2+1+2+0+1 = 9; reversed 4,5,7,8: 4+3+1+0 = 8 -> 17
    result = score_pss10([3, 2, 1, 0, 1, 2, 3, 4, 0, 1], KB)
    assert result.score == 17
    assert result.band is None
    assert not score_pss10([0, 0, 0, 0, 0, 0, 0, 0, 0, None], KB).scorable


@pytest.mark.parametrize(
    ("types", "usual", "band"),
    [
        ([1], 1, "hard"),
        ([2], 2, "hard"),
        ([3], 3, "typical"),
        ([4], 4, "typical"),
        ([5], 5, "loose"),
        ([7], 7, "loose"),
        ([4, 4, 6, 6, 2], 4, "typical"),
        ([6, 6, 6, 4], 6, "loose"),
    ],
)
def test_bristol(types: list[int], usual: int, band: str) -> None:
    result = score_bristol(types, KB)
    assert (result.score, result.band) == (usual, band)


@pytest.mark.parametrize(
    ("items", "total", "band"),
    [
        ((10, 1, 10, 20, 20), 70, "below the symptomatic range"),
        ((14, 1, 10, 20, 20), 74, "below the symptomatic range"),
        ((15, 1, 10, 20, 20), 75, "mild"),
        ((49, 5, 25, 25, 25), 174, "mild"),
        ((50, 5, 25, 25, 25), 175, "mild"),
        ((51, 5, 25, 25, 25), 176, "moderate"),
        ((49, 5, 50, 50, 100), 299, "moderate"),
        ((50, 5, 50, 50, 100), 300, "moderate"),
        ((51, 5, 50, 50, 100), 301, "severe"),
        ((100, 10, 100, 100, 100), 500, "severe"),
    ],
)
def test_ibs_sss(items: tuple[int, int, int, int, int], total: int, band: str) -> None:
    pain, days, dist, dis, life = items
    answers = IbsSss(
        pain_severity=pain,
        pain_days=days,
        distension_severity=dist,
        bowel_dissatisfaction=dis,
        life_interference=life,
    )
    result = score_ibs_sss(answers, KB)
    assert (result.score, result.band) == (total, band)


def test_ibs_sss_missing_item_refused() -> None:
    assert not score_ibs_sss(IbsSss(pain_severity=10), KB).scorable


@settings(deadline=None, max_examples=50)
@given(
    st.lists(st.integers(0, 3), min_size=9, max_size=9),
    st.lists(st.integers(0, 3), min_size=7, max_size=7),
)
def test_totals_in_range(phq: list[int], gad: list[int]) -> None:
    p = score_phq9(list(phq), KB)
    g = score_gad7(list(gad), KB)
    assert p.score == sum(phq)
    assert 0 <= sum(phq) <= 27
    assert g.score == sum(gad)
    assert 0 <= sum(gad) <= 21


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(0, 3), min_size=9, max_size=9), st.integers(0, 8), st.integers(1, 3))
def test_phq9_monotone(items: list[int], index: int, bump: int) -> None:
    raised = list(items)
    raised[index] = min(3, raised[index] + bump)
    assert score_phq9(list(raised), KB).score >= score_phq9(list(items), KB).score  # type: ignore[operator]


def test_under_18_gets_no_adult_band() -> None:
    assert score_phq9([1] * 9, KB, adult=False).band is None


@pytest.mark.parametrize(
    ("plants", "band"),
    [
        (0, "10 or fewer"),
        (10, "10 or fewer"),
        (11, "11 to 29"),
        (29, "11 to 29"),
        (30, "30 or more"),
    ],
)
def test_plant_types_bands(plants: int, band: str) -> None:
    # American Gut contrast: > 30 vs <= 10 plant types per week (McDonald 2018)
    from gutbrain.clinical.questionnaires import score_answers
    from gutbrain.io.answers import Answers

    out = score_answers(Answers.model_validate({"diet": {"plant_types_per_week": plants}}), KB)
    assert out[0].band == band


@pytest.mark.parametrize(
    ("sex", "litres", "band"),
    [
        ("female", 1.9, "below 2 L/day"),
        ("female", 2.0, "at or above 2 L/day"),
        ("male", 2.4, "below 2.5 L/day"),
        ("male", 2.5, "at or above 2.5 L/day"),
        (None, 2.0, "at or above 2 L/day"),
    ],
)
def test_hydration_reference_by_sex(sex: str | None, litres: float, band: str) -> None:
    # EFSA 2010 adequate intake of total water: 2.0 L/day women, 2.5 L/day men
    from gutbrain.clinical.questionnaires import score_answers
    from gutbrain.io.answers import Answers

    answers = Answers.model_validate({"sex": sex, "hydration_l_per_day": litres})
    assert score_answers(answers, KB)[0].band == band


def test_fibre_and_antibiotics_descriptive() -> None:
    from gutbrain.clinical.questionnaires import score_answers
    from gutbrain.io.answers import Answers

    answers = Answers.model_validate(
        {
            "diet": {"fibre_g_per_day": 30},
            "antibiotics": {"courses_last_12_months": 2, "months_since_last": 1},
        }
    )
    by = {q.instrument: q for q in score_answers(answers, KB)}
    assert by["fibre"].band == "at or above 30 g/day"  # UK SACN 2015 adult target
    assert by["antibiotics"].band == "within 2 months"
    assert by["antibiotics"].score == 2
