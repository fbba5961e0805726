"""Safety rules: when to advise contacting a clinician. They cannot be switched off.

The rules follow guide.md ("When to advise seeing a clinician") and run on every interpretation
that has answers or markers; there is deliberately no parameter to disable them. Alerts are
returned most urgent first (:data:`LEVEL_ORDER`), and a PHQ-9 item 9 answer above 0 always yields
the crisis alert first, whatever the total score.

| trigger | level |
| --- | --- |
| PHQ-9 item 9 > 0 | crisis |
| blood in stool reported; FIT >= 10 µg Hb/g; alarm features (NICE NG12 as quoted by an NHS
  pathway: age >= 40 with unexplained weight loss and abdominal pain; age >= 50 with unexplained
  rectal bleeding; age >= 60 with iron-deficiency anaemia or change in bowel habit; severe bloody
  diarrhoea) | urgent |
| calprotectin > 200 µg/g; PHQ-9 >= 20; GAD-7 >= 15; the red-flag combination of unexplained
  weight loss with a change in bowel habit at any age (when no urgent alert already covers it) |
  prompt |
| PHQ-9 >= 10; GAD-7 >= 10; calprotectin 50-200 µg/g; elastase < 200 µg/g; IBS-SSS > 300 or a
  new/persistent bowel-habit change; a marker outside any assay range | advise |
| age < 18 | info (adult cut-offs do not apply) |

When age is unknown, the age-dependent alarm features fire on the symptoms alone (the safe side).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from gutbrain.io.answers import Answers
from gutbrain.result import Alert, AlertLevel, MarkerResult, QuestionnaireResult

__all__ = ["CRISIS_ALERT_ID", "LEVEL_ORDER", "safety_alerts"]

logger = logging.getLogger(__name__)

LEVEL_ORDER: tuple[AlertLevel, ...] = ("crisis", "urgent", "prompt", "advise", "info")
CRISIS_ALERT_ID = "crisis-phq9-item9"

_CRISIS_MESSAGE = (
    "You answered that you have had thoughts that you would be better off dead or of hurting "
    "yourself. Please talk to someone today: contact your doctor, a crisis line, or your local "
    "emergency number if you might act on these thoughts. You do not need to wait, and you do "
    "not need to read the rest of this report first. Help is available, and these thoughts can "
    "get better with support."
)


def _age_at_least(age: int | None, limit: int) -> bool:
    return age is None or age >= limit


def safety_alerts(
    *,
    answers: Answers | None,
    questionnaires: Sequence[QuestionnaireResult] = (),
    markers: Sequence[MarkerResult] = (),
    crisis_contacts: Sequence[str] = (),
) -> tuple[Alert, ...]:
    """Return every triggered alert, most urgent first (crisis always first).

    ``questionnaires`` and ``markers`` are the scored results (so bands and totals agree with
    what the report shows); ``answers`` supplies item 9, age and symptoms. ``crisis_contacts``
    (e.g. ``"Samaritans (UK): 116 123"``) are appended to the crisis message; gutbrain ships none,
    because numbers are locale-specific and must be checked by whoever deploys it.
    """
    alerts: list[Alert] = []
    age = answers.age if answers is not None else None

    # 1. crisis: PHQ-9 item 9 (never imputed; any answer above 0)
    if answers is not None and answers.phq9 is not None:
        item9 = answers.phq9[8]
        if item9 is not None and item9 > 0:
            alerts.append(
                Alert(
                    alert_id=CRISIS_ALERT_ID,
                    level="crisis",
                    trigger="PHQ-9 item 9 above 0",
                    title="If you are thinking about harming yourself, please get help today",
                    message=_CRISIS_MESSAGE
                    + (
                        ""
                        if not crisis_contacts
                        else " Contacts: " + "; ".join(crisis_contacts) + "."
                    ),
                    source_ids=("S045", "S043"),
                    grade="B",
                )
            )

    # 2. urgent: blood, FIT, alarm features
    symptoms = answers.symptoms if answers is not None else None
    if symptoms is not None and symptoms.blood_in_stool:
        alerts.append(
            Alert(
                alert_id="urgent-blood-in-stool",
                level="urgent",
                trigger="blood in stool reported",
                title="Blood in stool: contact a doctor urgently",
                message="You reported blood in your stool. Please contact a doctor urgently. "
                "Microbiome results cannot explain or rule out the cause.",
                source_ids=("S041", "S042"),
                grade="B",
            )
        )
    fit = next((m for m in markers if m.marker == "fit"), None)
    if fit is not None and fit.band == "10_or_more":
        alerts.append(
            Alert(
                alert_id="urgent-fit",
                level="urgent",
                trigger="FIT at or above 10 µg Hb/g",
                title="Blood detected in the stool test: contact a doctor urgently",
                message="The faecal immunochemical test found haemoglobin at or above 10 µg "
                "Hb/g, the level at which doctors refer for further investigation. Please "
                "contact a doctor urgently.",
                source_ids=("S041",),
                grade="B",
            )
        )
    if symptoms is not None:
        features = []
        if _age_at_least(age, 40) and symptoms.unexplained_weight_loss and symptoms.abdominal_pain:
            features.append("unexplained weight loss with abdominal pain")
        if _age_at_least(age, 50) and symptoms.unexplained_rectal_bleeding:
            features.append("unexplained rectal bleeding")
        if _age_at_least(age, 60) and symptoms.iron_deficiency_anaemia:
            features.append("iron-deficiency anaemia")
        if _age_at_least(age, 60) and symptoms.change_in_bowel_habit:
            features.append("a change in bowel habit")
        if symptoms.severe_bloody_diarrhoea:
            features.append("severe bloody diarrhoea")
        if features:
            alerts.append(
                Alert(
                    alert_id="urgent-alarm-features",
                    level="urgent",
                    trigger="alarm features: " + "; ".join(features),
                    title="Symptoms that need a doctor's assessment soon",
                    message="You reported " + ", ".join(features) + ". These symptoms need an "
                    "urgent assessment by a doctor. Please do not look for explanations in "
                    "microbiome results.",
                    source_ids=("S042",),
                    grade="B",
                )
            )

    by_id = {q.instrument: q for q in questionnaires}
    phq9 = by_id.get("phq9")
    gad7 = by_id.get("gad7")
    calpro = next((m for m in markers if m.marker == "calprotectin"), None)

    # 3. prompt
    bowel_changed = symptoms is not None and (
        symptoms.change_in_bowel_habit or symptoms.new_or_persistent_bowel_change
    )
    urgent_already = any(a.level == "urgent" for a in alerts)
    red_flags = symptoms is not None and symptoms.unexplained_weight_loss and bowel_changed
    if red_flags and not urgent_already:
        alerts.append(
            Alert(
                alert_id="prompt-red-flags",
                level="prompt",
                trigger="unexplained weight loss with a change in bowel habit",
                title="Weight loss with a change in bowel habit: see a doctor promptly",
                message="You reported unexplained weight loss together with a change in "
                "bowel habit. This combination should be assessed by a doctor promptly, "
                "whatever your age. Please do not look for explanations in microbiome "
                "results.",
                source_ids=("S042",),
                grade="B",
            )
        )
    if calpro is not None and calpro.band == "above_200":
        alerts.append(
            Alert(
                alert_id="prompt-calprotectin",
                level="prompt",
                trigger="calprotectin above 200 µg/g",
                title="Calprotectin above 200 µg/g: see a doctor promptly",
                message="Your calprotectin is above 200 µg/g. This can indicate inflammation "
                "in the intestine from several causes and needs a prompt review by your "
                "doctor, who can repeat it in a clinical laboratory.",
                source_ids=("S031", "S073"),
                grade="B",
            )
        )
    if phq9 is not None and phq9.score is not None and phq9.score >= 20:
        alerts.append(
            Alert(
                alert_id="prompt-phq9",
                level="prompt",
                trigger="PHQ-9 total 20 or more",
                title="Your depression-symptom score is high: please book a prompt appointment",
                message="Your PHQ-9 total is in the severe range. This is a screen, not a "
                "diagnosis, but it means you should see a doctor or mental-health professional "
                "soon.",
                source_ids=("S043",),
                grade="B",
            )
        )
    elif phq9 is not None and phq9.score is not None and phq9.score >= 10:
        alerts.append(
            Alert(
                alert_id="advise-phq9",
                level="advise",
                trigger="PHQ-9 total 10 or more",
                title="Consider discussing your mood with a doctor",
                message="Your PHQ-9 total is 10 or more. This is a screen, not a diagnosis; "
                "discussing it with a GP or mental-health professional is recommended.",
                source_ids=("S043",),
                grade="B",
            )
        )
    if gad7 is not None and gad7.score is not None and gad7.score >= 15:
        alerts.append(
            Alert(
                alert_id="prompt-gad7",
                level="prompt",
                trigger="GAD-7 total 15 or more",
                title="Your anxiety-symptom score is high: please book a prompt appointment",
                message="Your GAD-7 total is in the severe range. This is a screen, not a "
                "diagnosis, but it means you should see a doctor or mental-health professional "
                "soon.",
                source_ids=("S044",),
                grade="B",
            )
        )
    elif gad7 is not None and gad7.score is not None and gad7.score >= 10:
        alerts.append(
            Alert(
                alert_id="advise-gad7",
                level="advise",
                trigger="GAD-7 total 10 or more",
                title="Consider discussing anxiety symptoms with a doctor",
                message="Your GAD-7 total is 10 or more. This is a screen, not a diagnosis; "
                "discussing it with a GP or mental-health professional is recommended.",
                source_ids=("S044",),
                grade="B",
            )
        )

    # 4. advise
    if calpro is not None and calpro.band == "50_to_200":
        alerts.append(
            Alert(
                alert_id="advise-calprotectin",
                level="advise",
                trigger="calprotectin 50-200 µg/g",
                title="Calprotectin in the grey zone",
                message="Your calprotectin is between 50 and 200 µg/g. Mild rises are common, "
                "for example with NSAIDs, aspirin, proton-pump inhibitors or with age. "
                "Consider repeating it through a clinical laboratory, and see a GP if you have "
                "ongoing symptoms.",
                source_ids=("S034", "S073"),
                grade="C",
            )
        )
    for m in markers:
        if not m.interpretable and m.marker in {"calprotectin", "elastase"} and m.value:
            alerts.append(
                Alert(
                    alert_id=f"advise-implausible-{m.marker}",
                    level="advise",
                    trigger=f"{m.marker} outside any assay range",
                    title=f"Check the {m.name.lower()} value with the laboratory",
                    message=f"The {m.name.lower()} value could not be interpreted because it lies "
                    "outside any assay's range. Please check the value and unit with the "
                    "laboratory.",
                    source_ids=m.source_ids,
                    grade=m.grade,
                )
            )
    elastase = next((m for m in markers if m.marker == "elastase"), None)
    if elastase is not None and elastase.band in {"below_100", "100_to_200"}:
        alerts.append(
            Alert(
                alert_id="advise-elastase",
                level="advise",
                trigger="elastase below 200 µg/g",
                title="Pancreatic elastase below 200 µg/g: ask your doctor",
                message="Your faecal elastase is below 200 µg/g. This concerns pancreatic "
                "function, not the gut-brain axis; please ask your doctor to review it.",
                source_ids=("S039",),
                grade="C",
            )
        )
    ibs = by_id.get("ibs_sss")
    bowel_change = symptoms is not None and symptoms.new_or_persistent_bowel_change
    if (ibs is not None and ibs.score is not None and ibs.score > 300) or bowel_change:
        alerts.append(
            Alert(
                alert_id="advise-bowel-symptoms",
                level="advise",
                trigger="IBS-SSS above 300 or a new/persistent bowel-habit change",
                title="Bowel symptoms worth discussing with a GP",
                message="Severe or new, persistent bowel symptoms should be assessed by a GP: "
                "IBS is diagnosed by a clinician after other causes are excluded, not from a "
                "stool microbiome test.",
                source_ids=("S049", "S055"),
                grade="C",
            )
        )

    # 5. info
    if age is not None and age < 18:
        alerts.append(
            Alert(
                alert_id="info-under-18",
                level="info",
                trigger="age under 18",
                title="gutbrain's cut-offs are for adults",
                message="Adult cut-offs for calprotectin and for the questionnaires do not "
                "apply under 18, so no bands are given. Please discuss results with a "
                "paediatric doctor.",
                source_ids=("S032", "S068"),
                grade="C",
            )
        )

    alerts.sort(key=lambda a: LEVEL_ORDER.index(a.level))  # stable: crisis stays first
    return tuple(alerts)
