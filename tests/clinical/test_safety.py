"""Every safety rule fires, in order, and cannot be switched off (guide.md clinician table)."""

from __future__ import annotations

import inspect

import pytest

from gutbrain.clinical.markers import assess_markers
from gutbrain.clinical.questionnaires import score_answers
from gutbrain.clinical.safety import CRISIS_ALERT_ID, safety_alerts
from gutbrain.io.answers import Answers, Markers
from gutbrain.io.knowledge import load_knowledge

KB = load_knowledge()


def alerts_for(
    answers: dict[str, object] | None = None, markers: list[dict[str, object]] | None = None
) -> list[str]:
    a = Answers.model_validate(answers) if answers is not None else None
    m = Markers.model_validate({"markers": markers or []})
    q = score_answers(a, KB) if a is not None else ()
    mr = assess_markers(m, KB, age=a.age if a else None)
    return [x.alert_id for x in safety_alerts(answers=a, questionnaires=q, markers=mr)]


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_positive_triggers_crisis_first_regardless_of_total(item9: int) -> None:
    ids = alerts_for(
        {"phq9": [0, 0, 0, 0, 0, 0, 0, 0, item9]},
        [{"marker": "calprotectin", "value": 900, "unit": "µg/g"}],
    )
    assert ids[0] == CRISIS_ALERT_ID
    assert "prompt-calprotectin" in ids


def test_item9_zero_or_missing_gives_no_crisis() -> None:
    assert CRISIS_ALERT_ID not in alerts_for({"phq9": [3, 3, 3, 3, 3, 3, 3, 3, 0]})
    assert CRISIS_ALERT_ID not in alerts_for({"phq9": [0, 0, 0, 0, 0, 0, 0, 0, None]})


def test_crisis_before_urgent_even_with_alarm_features() -> None:
    ids = alerts_for(
        {
            "age": 55,
            "phq9": [0] * 8 + [1],
            "symptoms": {"blood_in_stool": True, "unexplained_rectal_bleeding": True},
        }
    )
    assert ids[:3] == [CRISIS_ALERT_ID, "urgent-blood-in-stool", "urgent-alarm-features"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (201, "prompt-calprotectin"),
        (">200", "prompt-calprotectin"),
        (50, "advise-calprotectin"),
        (200, "advise-calprotectin"),
    ],
)
def test_calprotectin_rules(value: object, expected: str) -> None:
    assert expected in alerts_for(
        markers=[{"marker": "calprotectin", "value": value, "unit": "mg/kg"}]
    )


def test_calprotectin_below_50_no_alert() -> None:
    assert alerts_for(markers=[{"marker": "calprotectin", "value": "<20", "unit": "ug/g"}]) == []


def test_fit_rule() -> None:
    assert alerts_for(markers=[{"marker": "fit", "value": 10, "unit": "µg Hb/g"}]) == ["urgent-fit"]
    assert alerts_for(markers=[{"marker": "fit", "value": 9.9, "unit": "µg Hb/g"}]) == []


@pytest.mark.parametrize(
    ("age", "symptoms", "fires"),
    [
        (40, {"unexplained_weight_loss": True, "abdominal_pain": True}, True),
        (39, {"unexplained_weight_loss": True, "abdominal_pain": True}, False),
        (50, {"unexplained_rectal_bleeding": True}, True),
        (49, {"unexplained_rectal_bleeding": True}, False),
        (60, {"iron_deficiency_anaemia": True}, True),
        (60, {"change_in_bowel_habit": True}, True),
        (59, {"change_in_bowel_habit": True}, False),
        (25, {"severe_bloody_diarrhoea": True}, True),
        (None, {"unexplained_rectal_bleeding": True}, True),
    ],
)
def test_alarm_features(age: int | None, symptoms: dict[str, bool], fires: bool) -> None:
    ids = alerts_for({"age": age, "symptoms": symptoms})
    assert ("urgent-alarm-features" in ids) is fires


_SEE_A_DOCTOR = {"crisis", "urgent", "prompt"}


@pytest.mark.parametrize(
    ("age", "symptoms"),
    [
        (25, {"unexplained_weight_loss": True, "change_in_bowel_habit": True}),
        (35, {"unexplained_weight_loss": True, "new_or_persistent_bowel_change": True}),
        (None, {"unexplained_weight_loss": True, "change_in_bowel_habit": True}),
        (70, {"unexplained_weight_loss": True, "change_in_bowel_habit": True}),
        (20, {"blood_in_stool": True}),
        (30, {"severe_bloody_diarrhoea": True}),
    ],
)
def test_red_flag_combinations_reach_see_a_doctor_promptly(
    age: int | None, symptoms: dict[str, bool]
) -> None:
    """Issue 12 rule 6: weight loss + bowel-habit change, or blood: at least "prompt"."""
    a = Answers.model_validate({"age": age, "symptoms": symptoms})
    levels = {x.level for x in safety_alerts(answers=a)}
    assert levels & _SEE_A_DOCTOR


def test_red_flag_prompt_not_duplicated_when_urgent_fires() -> None:
    ids = alerts_for(
        {"age": 65, "symptoms": {"unexplained_weight_loss": True, "change_in_bowel_habit": True}}
    )
    assert "urgent-alarm-features" in ids
    assert "prompt-red-flags" not in ids
    young = alerts_for(
        {"age": 30, "symptoms": {"unexplained_weight_loss": True, "change_in_bowel_habit": True}}
    )
    assert young[0] == "prompt-red-flags"
    assert alerts_for({"age": 30, "symptoms": {"unexplained_weight_loss": True}}) == []


@pytest.mark.parametrize(
    ("phq9", "gad7", "expected"),
    [
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], None, "prompt-phq9"),  # 20
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], None, "advise-phq9"),  # 10
        (None, [3, 3, 3, 3, 3, 0, 0], "prompt-gad7"),  # 15
        (None, [2, 2, 2, 2, 2, 0, 0], "advise-gad7"),
    ],  # 10
)
def test_questionnaire_thresholds(
    phq9: list[int] | None, gad7: list[int] | None, expected: str
) -> None:
    assert expected in alerts_for({"phq9": phq9, "gad7": gad7})


def test_below_threshold_no_alert() -> None:
    assert alerts_for({"phq9": [1, 1, 1, 1, 1, 1, 1, 2, 0], "gad7": [1] * 7}) == []


def test_elastase_and_ibs_and_age_rules() -> None:
    assert alerts_for(markers=[{"marker": "elastase", "value": 150, "unit": "µg/g"}]) == [
        "advise-elastase"
    ]
    ibs = {
        "pain_severity": 80,
        "pain_days": 8,
        "distension_severity": 60,
        "bowel_dissatisfaction": 50,
        "life_interference": 40,
    }  # 310
    assert alerts_for({"ibs_sss": ibs}) == ["advise-bowel-symptoms"]
    assert alerts_for({"age": 16}) == ["info-under-18"]


def test_rules_cannot_be_switched_off() -> None:
    params = inspect.signature(safety_alerts).parameters
    assert set(params) == {"answers", "questionnaires", "markers", "crisis_contacts"}


def test_crisis_contacts_appended() -> None:
    a = Answers.model_validate({"phq9": [0] * 8 + [1]})
    alerts = safety_alerts(answers=a, crisis_contacts=("Example line: 000",))
    assert alerts[0].message.endswith("Contacts: Example line: 000.")


def test_implausible_marker_advises_checking() -> None:
    ids = alerts_for(markers=[{"marker": "calprotectin", "value": 1_000_000, "unit": "µg/g"}])
    assert ids == ["advise-implausible-calprotectin"]
