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

The thresholds, levels, source ids and grades are a knowledge table, ``alert_rules.tsv`` (built by
``scripts/build_knowledge.py``, checked by :func:`gutbrain.io.knowledge.load_knowledge`: a
missing, malformed or incomplete table fails there, loudly); this module holds the evaluation and
the wording, keyed by the table's ``wording`` column. The PHQ-9 and GAD-7 ladders are the same
rows read by one code path: of an instrument's score rules only the most urgent that fires counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.answers import Answers, Symptoms
from gutbrain.io.knowledge import AlertRule, load_knowledge
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


@dataclass(frozen=True, slots=True)
class _Text:
    """An alert's wording. ``{features}`` / ``{features_list}``: the triggers of the rules that
    fired, joined by ", " / "; "; ``{name}``: the marker's name in lower case."""

    title: str
    message: str
    trigger: str = "{trigger}"


_SCREEN_SOON = (
    "This is a screen, not a diagnosis, but it means you should see a doctor or mental-health "
    "professional soon."
)
_SCREEN_DISCUSS = (
    "This is a screen, not a diagnosis; discussing it with a GP or mental-health professional is "
    "recommended."
)
_NO_MICROBIOME = "Please do not look for explanations in microbiome results."


def _severe(instrument: str, symptoms: str) -> _Text:
    return _Text(
        title=f"Your {symptoms}-symptom score is high: please book a prompt appointment",
        message=f"Your {instrument} total is in the severe range. {_SCREEN_SOON}",
    )


def _moderate(instrument: str, title: str) -> _Text:
    return _Text(
        title=title, message=f"Your {instrument} total is {{threshold}} or more. {_SCREEN_DISCUSS}"
    )


#: Wording by the rules table's ``wording`` key.
_WORDING: dict[str, _Text] = {
    "crisis": _Text(
        title="If you are thinking about harming yourself, please get help today",
        message=_CRISIS_MESSAGE,
    ),
    "blood-in-stool": _Text(
        title="Blood in stool: contact a doctor urgently",
        message="You reported blood in your stool. Please contact a doctor urgently. "
        "Microbiome results cannot explain or rule out the cause.",
    ),
    "fit": _Text(
        title="Blood detected in the stool test: contact a doctor urgently",
        message="The faecal immunochemical test found haemoglobin at or above 10 µg Hb/g, the "
        "level at which doctors refer for further investigation. Please contact a doctor "
        "urgently.",
    ),
    "alarm-features": _Text(
        trigger="alarm features: {features_list}",
        title="Symptoms that need a doctor's assessment soon",
        message="You reported {features}. These symptoms need an urgent assessment by a doctor. "
        + _NO_MICROBIOME,
    ),
    "red-flags": _Text(
        title="Weight loss with a change in bowel habit: see a doctor promptly",
        message="You reported unexplained weight loss together with a change in bowel habit. "
        "This combination should be assessed by a doctor promptly, whatever your age. "
        + _NO_MICROBIOME,
    ),
    "calprotectin-high": _Text(
        title="Calprotectin above 200 µg/g: see a doctor promptly",
        message="Your calprotectin is above 200 µg/g. This can indicate inflammation in the "
        "intestine from several causes and needs a prompt review by your doctor, who can repeat "
        "it in a clinical laboratory.",
    ),
    "phq9-severe": _severe("PHQ-9", "depression"),
    "phq9-moderate": _moderate("PHQ-9", "Consider discussing your mood with a doctor"),
    "gad7-severe": _severe("GAD-7", "anxiety"),
    "gad7-moderate": _moderate("GAD-7", "Consider discussing anxiety symptoms with a doctor"),
    "calprotectin-grey": _Text(
        title="Calprotectin in the grey zone",
        message="Your calprotectin is between 50 and 200 µg/g. Mild rises are common, for "
        "example with NSAIDs, aspirin, proton-pump inhibitors or with age. Consider repeating "
        "it through a clinical laboratory, and see a GP if you have ongoing symptoms.",
    ),
    "implausible-marker": _Text(
        title="Check the {name} value with the laboratory",
        message="The {name} value could not be interpreted because it lies outside any assay's "
        "range. Please check the value and unit with the laboratory.",
    ),
    "elastase-low": _Text(
        title="Pancreatic elastase below 200 µg/g: ask your doctor",
        message="Your faecal elastase is below 200 µg/g. This concerns pancreatic function, not "
        "the gut-brain axis; please ask your doctor to review it.",
    ),
    "bowel-symptoms": _Text(
        title="Bowel symptoms worth discussing with a GP",
        message="Severe or new, persistent bowel symptoms should be assessed by a GP: IBS is "
        "diagnosed by a clinician after other causes are excluded, not from a stool microbiome "
        "test.",
    ),
    "under-18": _Text(
        title="gutbrain's cut-offs are for adults",
        message="Adult cut-offs for calprotectin and for the questionnaires do not apply under "
        "18, so no bands are given. Please discuss results with a paediatric doctor.",
    ),
}
_ITEM_INSTRUMENTS = ("phq9", "gad7", "pss10")
_SCORE_TESTS = ("score_at_least", "score_above")


def _broken(rule: AlertRule, why: str) -> InputFormatError:
    message = f"alert_rules.tsv rule {rule.rule_id!r}: {why}; the safety rules cannot run"
    return InputFormatError(message, code=ErrorCode.KNOWLEDGE)


def _check(rules: Sequence[AlertRule]) -> None:
    """Refuse rules this module cannot evaluate (never skip one: it would lose an alert)."""
    for rule in rules:
        if rule.wording not in _WORDING:
            raise _broken(rule, f"no wording {rule.wording!r} in gutbrain.clinical.safety")
        if rule.test == "symptoms":
            unknown = [f for f in rule.subject.split("+") if f not in Symptoms.model_fields]
            if unknown:
                raise _broken(rule, f"unknown symptom(s) {', '.join(unknown)}")
        if rule.test == "item_above":
            instrument, _, item = rule.subject.partition(".item")
            if instrument not in _ITEM_INSTRUMENTS or not item.isdigit():
                raise _broken(rule, f"subject {rule.subject!r} is not an item like phq9.item9")


@dataclass(frozen=True, slots=True)
class _Inputs:
    answers: Answers | None
    questionnaires: dict[str, QuestionnaireResult]
    markers: Sequence[MarkerResult]

    @property
    def age(self) -> int | None:
        return self.answers.age if self.answers is not None else None


def _item(inputs: _Inputs, subject: str) -> int | None:
    instrument, _, item = subject.partition(".item")
    items = None if inputs.answers is None else getattr(inputs.answers, instrument)
    return None if items is None else items[int(item) - 1]


def _fires(rule: AlertRule, inputs: _Inputs) -> bool:
    """Does ``rule`` fire on these inputs? (``outside_assay_range`` is handled by the caller.)"""
    threshold = rule.threshold
    if rule.test == "item_above":
        value = _item(inputs, rule.subject)  # item 9 is never imputed: missing never fires
        return value is not None and threshold is not None and value > threshold
    if rule.test in _SCORE_TESTS:
        q = inputs.questionnaires.get(rule.subject)
        if q is None or q.score is None or threshold is None:
            return False
        return q.score >= threshold if rule.test == "score_at_least" else q.score > threshold
    if rule.test == "band_in":
        m = next((m for m in inputs.markers if m.marker == rule.subject), None)
        return m is not None and m.band in rule.bands
    if rule.test == "symptoms":
        symptoms = inputs.answers.symptoms if inputs.answers is not None else None
        if symptoms is None or not all(getattr(symptoms, f) for f in rule.subject.split("+")):
            return False
        # age-dependent features fire on the symptoms alone when age is unknown (the safe side)
        return threshold is None or inputs.age is None or inputs.age >= threshold
    if rule.test == "age_below":
        return inputs.age is not None and threshold is not None and inputs.age < threshold
    raise _broken(rule, f"test {rule.test!r} is not evaluated here")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _alert(rules: Sequence[AlertRule], *, contacts: Sequence[str]) -> Alert:
    """The alert made by the rules of one alert id that fired (at least one)."""
    rule = rules[0]
    text = _WORDING[rule.wording]
    fields = {
        "trigger": rule.trigger,
        "threshold": _number(rule.threshold),
        "features": ", ".join(r.trigger for r in rules),
        "features_list": "; ".join(r.trigger for r in rules),
    }
    message = text.message.format(**fields)
    if rule.alert_id == CRISIS_ALERT_ID and contacts:
        message += " Contacts: " + "; ".join(contacts) + "."
    assert rule.grade is not None  # the loader requires it for every rule but assay range
    return Alert(
        alert_id=rule.alert_id,
        level=rule.level,
        trigger=text.trigger.format(**fields),
        title=text.title.format(**fields),
        message=message,
        source_ids=rule.source_ids,
        grade=rule.grade,
    )


def _outside_assay_range(rule: AlertRule, markers: Sequence[MarkerResult]) -> list[Alert]:
    text = _WORDING[rule.wording]
    out = []
    for m in markers:
        if not m.interpretable and m.marker in rule.subject.split(";") and m.value:
            fields = {"marker": m.marker, "name": m.name.lower()}
            out.append(
                Alert(
                    alert_id=rule.alert_id.format(**fields),
                    level=rule.level,
                    trigger=rule.trigger.format(**fields),
                    title=text.title.format(**fields),
                    message=text.message.format(**fields),
                    source_ids=m.source_ids,  # the marker's own knowledge rows
                    grade=m.grade,
                )
            )
    return out


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

    Raises
    ------
    InputFormatError
        When the packaged rules table is missing, malformed or names something this module
        cannot evaluate (code ``GB-KNOWLEDGE``): never "no alerts".
    """
    rules = load_knowledge().alert_rules
    _check(rules)
    inputs = _Inputs(
        answers=answers, questionnaires={q.instrument: q for q in questionnaires}, markers=markers
    )
    fired = [r for r in rules if r.test != "outside_assay_range" and _fires(r, inputs)]
    # a score ladder (PHQ-9 >= 20 prompt, >= 10 advise): only its most urgent rule counts
    top: dict[str, AlertRule] = {}
    for r in fired:
        if r.test in _SCORE_TESTS:
            best = top.setdefault(r.subject, r)
            if LEVEL_ORDER.index(r.level) < LEVEL_ORDER.index(best.level):
                top[r.subject] = r
    fired = [r for r in fired if r.test not in _SCORE_TESTS or top[r.subject] is r]
    levels = {r.level for r in fired}
    alerts: list[Alert] = []
    for rule in rules:  # table order, then most urgent first (stable)
        if rule.test == "outside_assay_range":
            alerts.extend(_outside_assay_range(rule, markers))
            continue
        group = [r for r in fired if r.alert_id == rule.alert_id]
        if not group or group[0] is not rule:
            continue  # the alert is made once, at its first rule that fired
        if rule.unless and rule.unless in levels - {rule.level}:
            continue
        alerts.append(_alert(group, contacts=crisis_contacts))
    alerts.sort(key=lambda a: LEVEL_ORDER.index(a.level))  # stable: crisis stays first
    return tuple(alerts)
