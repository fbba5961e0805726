"""Questionnaire scoring with each instrument's official rule; screens, never diagnoses.

Scoring (sources in ``docs/interpretation.md``):

* **PHQ-9** (Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606): total = sum of 9 items
  coded 0-3, range 0-27; severity bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately
  severe, 20-27 severe.
* **GAD-7** (Spitzer et al. 2006, Arch Intern Med 166:1092): total = sum of 7 items coded 0-3,
  range 0-21; bands 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe.
* **PSS-10** (Cohen, Kamarck & Mermelstein 1983, J Health Soc Behav 24:385): items coded 0-4;
  items 4, 5, 7 and 8 are reverse-scored (``4 - answer``); total = sum, range 0-40. No validated
  clinical bands exist, so none is given.
* **Bristol Stool Form Scale** (Lewis & Heaton 1997): type 1-7; 1-2 hard, 3-4 typical, 5-7 loose;
  over several stools the most frequent type (ties: the lower) is reported.
* **IBS-SSS** (Francis, Morris & Whorwell 1997, Aliment Pharmacol Ther 11:395): five items of 0-100
  (pain-days = days of the last 10 × 10), total 0-500; < 75 below the symptomatic range,
  75-175 mild, 176-300 moderate, > 300 severe.

Missing items (``None``), by instrument (project policy, RELIABILITY.md Q02; the proration
threshold of the PHQ/GAD manuals could not be verified here, so the conservative choice is used):

* PHQ-9: at most one missing item among items 1-8 is prorated, ``round(sum × 9 / answered)``;
  item 9 is **never** imputed: without it the total is not scorable;
* GAD-7: at most one missing item is prorated, ``round(sum × 7 / answered)``;
* PSS-10 and IBS-SSS: no missing items allowed (not scorable otherwise).

Rounding is half-up (``floor(x + 0.5)``), so a prorated total is an integer like an observed one.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence

from gutbrain.io.answers import QUESTIONNAIRES, Answers, IbsSss
from gutbrain.io.knowledge import Citation, KnowledgeBase
from gutbrain.result import QuestionnaireResult

__all__ = [
    "GAD7_BANDS",
    "IBS_SSS_BANDS",
    "PHQ9_BANDS",
    "PSS10_REVERSE_ITEMS",
    "band_of",
    "score_answers",
    "score_bristol",
    "score_gad7",
    "score_ibs_sss",
    "score_phq9",
    "score_pss10",
]

logger = logging.getLogger(__name__)

#: (lowest score, label) in ascending order (Kroenke 2001, Table 4).
PHQ9_BANDS: tuple[tuple[int, str], ...] = (
    (0, "minimal"),
    (5, "mild"),
    (10, "moderate"),
    (15, "moderately severe"),
    (20, "severe"),
)
#: Spitzer 2006.
GAD7_BANDS: tuple[tuple[int, str], ...] = (
    (0, "minimal"),
    (5, "mild"),
    (10, "moderate"),
    (15, "severe"),
)
#: Francis 1997 (boundaries 75 / 176 / 301 as documented in the module docstring).
IBS_SSS_BANDS: tuple[tuple[int, str], ...] = (
    (0, "below the symptomatic range"),
    (75, "mild"),
    (176, "moderate"),
    (301, "severe"),
)
#: 1-based PSS-10 items scored ``4 - answer`` (Cohen 1983).
PSS10_REVERSE_ITEMS: tuple[int, ...] = (4, 5, 7, 8)

_SCREEN = "This is a screening score, not a diagnosis."


def band_of(score: float, bands: Sequence[tuple[int, str]]) -> str:
    """Return the label of the highest band whose lower bound is <= ``score``."""
    label = bands[0][1]
    for low, name in bands:
        if score >= low:
            label = name
    return label


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _cited(kb: KnowledgeBase, knowledge_id: str) -> Citation:
    """The sources and grade of an instrument's row, to spread into its result."""
    row = kb.instruments[knowledge_id]
    return Citation(source_ids=row.source_ids, grade=row.grade)


#: Descriptive items reported as measured: knowledge id, name, unit.
_MEASURED: dict[str, tuple[str, str, str]] = {
    "plant_types": ("IN009", "Plant types per week", "types/week"),
    "fibre": ("IN011", "Dietary fibre", "g/day"),
    "fermented_foods": ("IN010", "Fermented foods", "servings/day"),
    "antibiotics": ("IN012", "Antibiotics", "courses/12 months"),
    "hydration": ("IN013", "Hydration", "L/day"),
}


def _measured(
    kb: KnowledgeBase, instrument: str, score: float | None, *, band: str | None, statement: str
) -> QuestionnaireResult:
    knowledge_id, name, unit = _MEASURED[instrument]
    return QuestionnaireResult(
        instrument=instrument,
        name=name,
        scorable=True,
        score=score,
        band=band,
        unit=unit,
        statement=statement,
        **_cited(kb, knowledge_id),
    )


def _sum_with_rule(
    items: Sequence[int | None], *, max_missing: int, never_missing: tuple[int, ...] = ()
) -> tuple[int | None, bool, tuple[int, ...], str]:
    missing = tuple(i for i, v in enumerate(items, start=1) if v is None)
    answered = [v for v in items if v is not None]
    for item in never_missing:
        if item in missing:
            return None, False, missing, f"item {item} is unanswered and is never imputed"
    if len(missing) > max_missing:
        rule = "no missing items" if max_missing == 0 else f"at most {max_missing} missing item"
        return None, False, missing, f"{len(missing)} item(s) missing; the rule allows {rule}"
    total = sum(answered)
    if missing:
        return _half_up(total * len(items) / len(answered)), True, missing, ""
    return total, False, missing, ""


#: The 0-3-per-item severity scales: name, adult bands and the items never imputed.
_SEVERITY_SCALES: dict[str, tuple[str, tuple[tuple[int, str], ...], tuple[int, ...]]] = {
    "phq9": ("PHQ-9 (depressive symptoms, last 2 weeks)", PHQ9_BANDS, (9,)),
    "gad7": ("GAD-7 (anxiety symptoms, last 2 weeks)", GAD7_BANDS, ()),
}


def _score_severity_scale(
    items: Sequence[int | None], kb: KnowledgeBase, instrument: str, *, adult: bool
) -> QuestionnaireResult:
    """Score a 0-3-per-item severity scale (PHQ-9, GAD-7): sum, one item prorated, bands.

    The item count, item range and knowledge row come from the instrument's shape in
    :data:`gutbrain.io.answers.QUESTIONNAIRES`, the one the answers were validated with.
    """
    shape = QUESTIONNAIRES[instrument]
    name, bands, never_missing = _SEVERITY_SCALES[instrument]
    total, prorated, missing, reason = _sum_with_rule(
        items, max_missing=1, never_missing=never_missing
    )
    band = band_of(total, bands) if total is not None and adult else None
    maximum = shape.top * shape.n_items
    label = name.split(" (")[0]
    statement = ""
    if total is not None:
        statement = (
            f"{label} total {total} of {maximum}"
            + (f" ({band} range). " if band else ". ")
            + _SCREEN
        )
    return QuestionnaireResult(
        instrument=instrument,
        name=name,
        scorable=total is not None,
        score=total,
        score_range=(0, maximum),
        band=band,
        prorated=prorated,
        items_answered=shape.n_items - len(missing),
        items_missing=missing,
        reason=reason,
        statement=statement,
        **_cited(kb, shape.knowledge_id),
    )


def score_phq9(
    items: Sequence[int | None], kb: KnowledgeBase, *, adult: bool = True
) -> QuestionnaireResult:
    """Score the PHQ-9 (module docstring); ``adult=False`` withholds the adult bands."""
    return _score_severity_scale(items, kb, "phq9", adult=adult)


def score_gad7(
    items: Sequence[int | None], kb: KnowledgeBase, *, adult: bool = True
) -> QuestionnaireResult:
    """Score the GAD-7 (module docstring)."""
    return _score_severity_scale(items, kb, "gad7", adult=adult)


def score_pss10(items: Sequence[int | None], kb: KnowledgeBase) -> QuestionnaireResult:
    """Score the PSS-10 with items 4, 5, 7, 8 reversed (module docstring); no bands."""
    cited = _cited(kb, "IN004")
    recoded = [
        None if v is None else (4 - v if i in PSS10_REVERSE_ITEMS else v)
        for i, v in enumerate(items, start=1)
    ]
    total, prorated, missing, reason = _sum_with_rule(recoded, max_missing=0)
    statement = ""
    if total is not None:
        statement = (
            f"Perceived Stress Scale total {total} of 40; higher means more perceived stress. "
            "There are no validated clinical cut-offs, so no band is given."
        )
    return QuestionnaireResult(
        instrument="pss10",
        name="PSS-10 (perceived stress, last month)",
        scorable=total is not None,
        score=total,
        score_range=(0, 40),
        band=None,
        prorated=prorated,
        items_answered=10 - len(missing),
        items_missing=missing,
        reason=reason,
        statement=statement,
        **cited,
    )


def score_bristol(types: Sequence[int], kb: KnowledgeBase) -> QuestionnaireResult:
    """Report the most frequent Bristol type (ties: the lower) and its form class."""
    cited = _cited(kb, "IN005")
    counts = Counter(types)
    usual = min(counts, key=lambda t: (-counts[t], t))
    band = "hard" if usual <= 2 else ("typical" if usual <= 4 else "loose")
    statement = (
        f"Usual stool form: Bristol type {usual} ({band}). Stool form is the strongest single "
        "known influence on stool microbiome composition and richness, so it is kept next to "
        "every finding."
    )
    return QuestionnaireResult(
        instrument="bristol",
        name="Bristol Stool Form Scale",
        scorable=True,
        score=usual,
        score_range=(1, 7),
        band=band,
        items_answered=len(types),
        statement=statement,
        **cited,
    )


def score_ibs_sss(answers: IbsSss, kb: KnowledgeBase) -> QuestionnaireResult:
    """Score the IBS-SSS: sum of five 0-100 items, pain-days × 10 (module docstring)."""
    cited = _cited(kb, "IN006")
    values = [
        answers.pain_severity,
        None if answers.pain_days is None else answers.pain_days * 10.0,
        answers.distension_severity,
        answers.bowel_dissatisfaction,
        answers.life_interference,
    ]
    missing = tuple(i for i, v in enumerate(values, start=1) if v is None)
    if missing:
        return QuestionnaireResult(
            instrument="ibs_sss",
            name="IBS-SSS (IBS symptom severity, last 10 days)",
            scorable=False,
            score_range=(0, 500),
            items_answered=5 - len(missing),
            items_missing=missing,
            reason=f"{len(missing)} item(s) missing; all five are needed",
            **cited,
        )
    total = float(sum(v for v in values if v is not None))
    band = band_of(total, IBS_SSS_BANDS)
    statement = (
        f"IBS-SSS total {total:g} of 500 ({band}). It measures symptom severity in people who "
        "have IBS-like symptoms; it does not diagnose IBS."
    )
    return QuestionnaireResult(
        instrument="ibs_sss",
        name="IBS-SSS (IBS symptom severity, last 10 days)",
        scorable=True,
        score=total,
        score_range=(0, 500),
        band=band,
        items_answered=5,
        statement=statement,
        **cited,
    )


def _descriptive(answers: Answers, kb: KnowledgeBase) -> list[QuestionnaireResult]:
    out: list[QuestionnaireResult] = []
    if answers.sleep is not None and (
        answers.sleep.hours is not None or answers.sleep.quality is not None
    ):
        cited = _cited(kb, "IN008")
        labels = ("very good", "fairly good", "fairly bad", "very bad")
        parts = []
        if answers.sleep.hours is not None:
            parts.append(f"usual sleep {answers.sleep.hours:g} h")
        if answers.sleep.quality is not None:
            parts.append(f"sleep quality '{labels[answers.sleep.quality]}'")
        out.append(
            QuestionnaireResult(
                instrument="sleep",
                name="Sleep (two descriptive items)",
                scorable=False,
                reason="descriptive items; no validated summary score",
                statement="Reported " + " and ".join(parts) + "; kept as context only.",
                **cited,
            )
        )
    diet = answers.diet
    if diet is not None and diet.plant_types_per_week is not None:
        n = diet.plant_types_per_week
        band = "30 or more" if n >= 30 else ("11 to 29" if n > 10 else "10 or fewer")
        text = f"{n} different plant foods in the past week."
        out.append(_measured(kb, "plant_types", n, band=band, statement=text))
    if diet is not None and diet.fibre_g_per_day is not None:
        g = diet.fibre_g_per_day
        band = "at or above 30 g/day" if g >= 30 else "below 30 g/day"
        text = f"About {g:g} g of fibre a day (UK adult target: 30 g/day)."
        out.append(_measured(kb, "fibre", g, band=band, statement=text))
    if diet is not None and diet.fermented_servings_per_day is not None:
        s = diet.fermented_servings_per_day
        text = f"About {s:g} servings of fermented foods a day."
        out.append(_measured(kb, "fermented_foods", s, band=None, statement=text))
    if answers.antibiotics is not None and (
        answers.antibiotics.courses_last_12_months is not None
        or answers.antibiotics.months_since_last is not None
    ):
        a = answers.antibiotics
        parts = []
        if a.courses_last_12_months is not None:
            parts.append(f"{a.courses_last_12_months} antibiotic course(s) in the last 12 months")
        if a.months_since_last is not None:
            parts.append(f"the last one {a.months_since_last:g} month(s) ago")
        recent = a.months_since_last is not None and a.months_since_last < 2
        text = "; ".join(parts).capitalize() + "."
        since = "within 2 months" if recent else None
        out.append(
            _measured(kb, "antibiotics", a.courses_last_12_months, band=since, statement=text)
        )
    if answers.hydration_l_per_day is not None:
        litres = answers.hydration_l_per_day
        target = 2.5 if answers.sex == "male" else 2.0
        band = f"below {target:g} L/day" if litres < target else f"at or above {target:g} L/day"
        text = (
            f"About {litres:g} L of fluid a day (EFSA adequate total water intake: "
            "2.0 L/day for women, 2.5 L/day for men, including water from food)."
        )
        out.append(_measured(kb, "hydration", litres, band=band, statement=text))
    return out


def score_answers(answers: Answers, kb: KnowledgeBase) -> tuple[QuestionnaireResult, ...]:
    """Score every instrument present in ``answers``, in a fixed order.

    Under 18 the adult PHQ-9/GAD-7 bands are withheld (adult cut-offs do not apply).
    """
    adult = answers.age is None or answers.age >= 18
    out: list[QuestionnaireResult] = []
    if answers.phq9 is not None:
        out.append(score_phq9(answers.phq9, kb, adult=adult))
    if answers.gad7 is not None:
        out.append(score_gad7(answers.gad7, kb, adult=adult))
    if answers.pss10 is not None:
        out.append(score_pss10(answers.pss10, kb))
    if answers.bristol is not None:
        out.append(score_bristol(answers.bristol, kb))
    if answers.ibs_sss is not None:
        out.append(score_ibs_sss(answers.ibs_sss, kb))
    out.extend(_descriptive(answers, kb))
    return tuple(out)
