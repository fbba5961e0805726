"""Questionnaire answers and stool-marker files (YAML or JSON), validated by pydantic.

Both formats are documented in ``docs/templates/answers.yaml`` and ``docs/templates/markers.yaml``
and in ``docs/interpretation.md``. Validation is strict and names the item that is wrong:

* questionnaire items are whole numbers in the instrument's range (``2.5`` and ``true`` are
  refused, code ``GB-Q-RANGE``), or the instrument's own text labels ("several days"); an unknown
  label is refused (``GB-Q-LABEL``); a list of the wrong length is refused (``GB-Q-SHAPE``);
  ``null`` marks a missing item (each instrument's scoring rule decides what that means);
* marker units go through an allow-list that accepts the micro sign (U+00B5), the Greek mu
  (U+03BC), ``u`` and ``mcg``; a missing or unknown unit is refused (``GB-M-UNIT``); censored
  values (``<20``, ``<=20``, ``>1800``) keep their operator (``<=`` is not ``<``); negative or
  NaN values are refused (``GB-M-VALUE``); a decimal comma is accepted only when
  ``decimal_separator: ","`` is declared; dates are ISO 8601 and may not lie in the future or
  have receipt before collection (``GB-M-DATE``).

Every error is a :class:`gutbrain.errors.ValidationError` (exit 65) whose message names the file
and the item.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from gutbrain.errors import ErrorCode, InputFormatError, InputMissingError, ValidationError
from gutbrain.io.files import check_input_file

__all__ = [
    "FREQUENCY_LABELS",
    "MARKER_UNITS",
    "MAX_FILE_BYTES",
    "PSS_LABELS",
    "QUESTIONNAIRES",
    "Answers",
    "Antibiotics",
    "Diet",
    "IbsSss",
    "MarkerEntry",
    "MarkerValue",
    "Markers",
    "Medications",
    "Questionnaire",
    "Sleep",
    "Symptoms",
    "normalise_unit",
    "read_answers",
    "read_markers",
]

logger = logging.getLogger(__name__)

#: PHQ-9 / GAD-7 response labels (Kroenke 2001; Spitzer 2006).
FREQUENCY_LABELS: dict[str, int] = {
    "not at all": 0,
    "several days": 1,
    "more than half the days": 2,
    "nearly every day": 3,
}
#: PSS-10 response labels (Cohen 1983).
PSS_LABELS: dict[str, int] = {
    "never": 0,
    "almost never": 1,
    "sometimes": 2,
    "fairly often": 3,
    "very often": 4,
}
_SLEEP_QUALITY_LABELS = {"very good": 0, "fairly good": 1, "fairly bad": 2, "very bad": 3}

_MICRO = ("µ", "μ", "u", "mc")  # micro sign U+00B5, Greek mu U+03BC, ASCII spellings


def _micro(unit: str) -> str:
    """Spell every micro prefix as U+00B5 (``ug/g``, ``μg/g``, ``mcg/g`` -> ``µg/g``)."""
    text = unit.strip().replace(" ", "")
    for prefix in ("mcg", "ug", "μg"):
        text = text.replace(prefix, "µg")
    return text


#: Canonical unit and factor to it, per marker and accepted (normalised) spelling.
MARKER_UNITS: dict[str, dict[str, tuple[str, float]]] = {
    "calprotectin": {"µg/g": ("µg/g", 1.0), "mg/kg": ("µg/g", 1.0), "mg/g": ("µg/g", 1000.0)},
    "elastase": {"µg/g": ("µg/g", 1.0), "mg/kg": ("µg/g", 1.0), "mg/g": ("µg/g", 1000.0)},
    "fit": {"µgHb/g": ("µg Hb/g", 1.0), "µg/g": ("µg Hb/g", 1.0)},
    "zonulin": {"ng/mL": ("ng/mL", 1.0), "ng/ml": ("ng/mL", 1.0), "ng/g": ("ng/g", 1.0)},
    "siga": {
        "µg/g": ("µg/g", 1.0),
        "mg/kg": ("µg/g", 1.0),
        "mg/L": ("mg/L", 1.0),
        "mg/l": ("mg/L", 1.0),
        "mg/dL": ("mg/dL", 1.0),
        "mg/dl": ("mg/dL", 1.0),
    },
    "ph": {"pH": ("pH", 1.0), "ph": ("pH", 1.0)},
    "beta_defensin_2": {"ng/g": ("ng/g", 1.0)},
}
_REFUSED_UNITS = {
    "µg/mL": "µg/mL is an extract concentration; it needs the kit's extraction ratio and cannot "
    "be converted to µg/g here; ask the laboratory for µg/g (= mg/kg)",
}
MarkerName = Literal["calprotectin", "elastase", "fit", "zonulin", "siga", "ph", "beta_defensin_2"]


def normalise_unit(marker: str, unit: str | None) -> tuple[str, float]:
    """Return ``(canonical unit, factor)`` for a marker's unit as written.

    ``factor`` multiplies the value into the canonical unit; for calprotectin µg/g and mg/kg the
    factor is exactly 1 (the same number), mg/g is 1000.

    Raises
    ------
    ValueError
        When the unit is missing, refused or not in the allow-list for ``marker``.
    """
    allowed = MARKER_UNITS[marker]
    if unit is None or not str(unit).strip():
        message = f"unit missing; expected one of {', '.join(sorted(set(allowed)))}"
        raise ValueError(message)
    spelled = _micro(str(unit))
    if spelled in _REFUSED_UNITS:
        raise ValueError(_REFUSED_UNITS[spelled])
    if spelled not in allowed:
        message = f"unit '{unit}' not accepted for {marker}; expected one of " + ", ".join(
            sorted({v[0] for v in allowed.values()} | set(allowed))
        )
        raise ValueError(message)
    return allowed[spelled]


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """The shape of an item-based instrument: items scored ``0..top``, and its text labels.

    ``knowledge_id`` is the instrument's row in the knowledge table ``instruments.tsv``, whose
    item count and score range (``0..n_items * top``) a test checks against this shape.
    """

    knowledge_id: str
    n_items: int
    top: int
    labels: Mapping[str, int]


#: Item-based instruments by their key in an answers file.
QUESTIONNAIRES: dict[str, Questionnaire] = {
    "phq9": Questionnaire(knowledge_id="IN001", n_items=9, top=3, labels=FREQUENCY_LABELS),
    "gad7": Questionnaire(knowledge_id="IN003", n_items=7, top=3, labels=FREQUENCY_LABELS),
    "pss10": Questionnaire(knowledge_id="IN004", n_items=10, top=4, labels=PSS_LABELS),
}
_ITEM_KEY = re.compile(r"(?:item_?)?(\d+)")

#: Other spellings of the marker names, folded before validation.
_MARKER_ALIASES = {
    "ph_value": "ph",
    "hbd2": "beta_defensin_2",
    "hbd_2": "beta_defensin_2",
    "secretory_iga": "siga",
    "s_iga": "siga",
    "pancreatic_elastase": "elastase",
    "faecal_calprotectin": "calprotectin",
}


def _marker_name(raw: Any) -> str:
    name = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
    return _MARKER_ALIASES.get(name, name)


def _item_index(key: Any) -> int | None:
    match = _ITEM_KEY.fullmatch(str(key).strip().lower())
    return None if match is None else int(match.group(1))


def _items(raw: Any, *, n_items: int, top: int, labels: Mapping[str, int]) -> list[int | None]:
    if isinstance(raw, dict):
        values: list[Any] = [None] * n_items
        named: dict[int, Any] = {}
        for key, value in raw.items():
            index = _item_index(key)
            if index is None or not 1 <= index <= n_items:
                raise PydanticCustomError(
                    "gb_q_shape",
                    "unknown item key '{key}'; expected item1..item{n}",
                    {"key": key, "n": n_items},
                )
            if index in named:
                raise PydanticCustomError(
                    "gb_q_shape",
                    "'{a}' and '{b}' both name item {i}; give each item once",
                    {"a": named[index], "b": key, "i": index},
                )
            named[index] = key
            values[index - 1] = value
    elif isinstance(raw, list):
        if len(raw) != n_items:
            raise PydanticCustomError(
                "gb_q_shape",
                "{got} answers given; this instrument has {n} items",
                {"got": len(raw), "n": n_items},
            )
        values = list(raw)
    else:
        raise PydanticCustomError(
            "gb_q_shape",
            "expected a list of {n} answers or a mapping item1..item{n}",
            {"n": n_items},
        )
    out: list[int | None] = []
    for i, value in enumerate(values, start=1):
        if value is None:
            out.append(None)
        elif isinstance(value, str):
            key = " ".join(value.strip().lower().split())
            if key not in labels:
                raise PydanticCustomError(
                    "gb_q_label",
                    "item {i}: unknown answer label '{label}'; expected one of {ok}",
                    {"i": i, "label": value, "ok": ", ".join(labels)},
                )
            out.append(labels[key])
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise PydanticCustomError(
                "gb_q_range",
                "item {i}: '{v}' is not an answer code 0-{top}",
                {"i": i, "v": value, "top": top},
            )
        elif isinstance(value, float) and not value.is_integer():
            raise PydanticCustomError(
                "gb_q_range",
                "item {i}: {v} is not a whole answer code 0-{top}",
                {"i": i, "v": value, "top": top},
            )
        elif not 0 <= value <= top:
            raise PydanticCustomError(
                "gb_q_range", "item {i}: {v} is outside 0-{top}", {"i": i, "v": value, "top": top}
            )
        else:
            out.append(int(value))
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class IbsSss(_Strict):
    """IBS Severity Scoring System answers (Francis 1997). ``pain_days`` is days of the last 10."""

    pain_severity: float | None = Field(default=None, ge=0, le=100)
    pain_days: int | None = Field(default=None, ge=0, le=10)
    distension_severity: float | None = Field(default=None, ge=0, le=100)
    bowel_dissatisfaction: float | None = Field(default=None, ge=0, le=100)
    life_interference: float | None = Field(default=None, ge=0, le=100)


class Sleep(_Strict):
    """Two descriptive sleep items (project-defined; not a validated score)."""

    hours: float | None = Field(default=None, ge=0, le=24)
    quality: int | None = Field(default=None, ge=0, le=3)

    @field_validator("quality", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            if key not in _SLEEP_QUALITY_LABELS:
                raise PydanticCustomError(
                    "gb_q_label",
                    "unknown sleep-quality label '{v}'; expected one of {ok}",
                    {"v": value, "ok": ", ".join(_SLEEP_QUALITY_LABELS)},
                )
            return _SLEEP_QUALITY_LABELS[key]
        return value


class Diet(_Strict):
    """Diet items: distinct plant types in the past 7 days, fibre g/day, fermented servings/day."""

    plant_types_per_week: int | None = Field(default=None, ge=0, le=500)
    fibre_g_per_day: float | None = Field(default=None, ge=0, le=300)
    fermented_servings_per_day: float | None = Field(default=None, ge=0, le=50)


class Antibiotics(_Strict):
    """Systemic antibiotic courses (count) and months since the most recent one."""

    courses_last_12_months: int | None = Field(default=None, ge=0, le=52)
    months_since_last: float | None = Field(default=None, ge=0, le=1200)


class Medications(_Strict):
    """Current medication (yes/no); each is a known confounder of the profile or a marker."""

    antidepressant: bool = False
    psychotropic_other: bool = False
    ppi: bool = False
    nsaid: bool = False
    aspirin: bool = False
    metformin: bool = False
    laxative: bool = False


class Symptoms(_Strict):
    """Symptoms that trigger the clinician rules (guide.md; NICE NG12 as quoted by the NHS)."""

    blood_in_stool: bool = False
    unexplained_weight_loss: bool = False
    abdominal_pain: bool = False
    unexplained_rectal_bleeding: bool = False
    iron_deficiency_anaemia: bool = False
    change_in_bowel_habit: bool = False
    severe_bloody_diarrhoea: bool = False
    new_or_persistent_bowel_change: bool = False


class Answers(_Strict):
    """A person's questionnaire answers; every block is optional."""

    schema_: Literal["gutbrain-answers/1"] = Field(default="gutbrain-answers/1", alias="schema")
    age: int | None = Field(default=None, ge=0, le=120)
    sex: Literal["female", "male", "other"] | None = None
    phq9: tuple[int | None, ...] | None = None
    gad7: tuple[int | None, ...] | None = None
    pss10: tuple[int | None, ...] | None = None
    bristol: tuple[int, ...] | None = None
    ibs_sss: IbsSss | None = None
    sleep: Sleep | None = None
    diet: Diet | None = None
    antibiotics: Antibiotics | None = None
    hydration_l_per_day: float | None = Field(default=None, ge=0, le=20)
    medications: Medications = Field(default_factory=Medications)
    symptoms: Symptoms = Field(default_factory=Symptoms)
    notes: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    @field_validator(*QUESTIONNAIRES, mode="before")
    @classmethod
    def _questionnaire(cls, raw: Any, info: ValidationInfo) -> Any:
        """One validator for every item-based instrument, shaped by :data:`QUESTIONNAIRES`."""
        if raw is None:
            return None
        shape = QUESTIONNAIRES[str(info.field_name)]
        return tuple(_items(raw, n_items=shape.n_items, top=shape.top, labels=shape.labels))

    @field_validator("bristol", mode="before")
    @classmethod
    def _bristol(cls, raw: Any) -> Any:
        if raw is None:
            return None
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise PydanticCustomError("gb_q_shape", "give at least one Bristol type", {})
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
                raise PydanticCustomError(
                    "gb_q_range", "Bristol type '{v}' is not a whole number 1-7", {"v": value}
                )
        return tuple(values)


class MarkerValue(_Strict):
    """One marker measurement as written, plus its parsed value in the canonical unit."""

    marker: MarkerName
    value: float
    operator: Literal["=", "<", "<=", ">", ">="] = "="
    unit: str
    factor: float
    value_as_given: str
    unit_as_given: str
    lab_range: str | None = None


_NUMBER = re.compile(r"^\s*([<>]=?|[≤≥])?\s*([0-9]+(?:[.,][0-9]+)?)\s*$")
_OPERATORS = {"<": "<", "<=": "<=", "≤": "<=", ">": ">", ">=": ">=", "≥": ">="}


class _Reading(BaseModel):
    """A parsed value: the number as written (before any unit factor) and its operator."""

    model_config = ConfigDict(frozen=True)

    number: float
    operator: Literal["=", "<", "<=", ">", ">="]
    given: str


class _Unit(BaseModel):
    """A unit as written, with its canonical spelling and the factor to it."""

    model_config = ConfigDict(frozen=True)

    canonical: str
    factor: float
    given: str


def _entry_error(
    kind: str, info: ValidationInfo, template: str, **fields: Any
) -> PydanticCustomError:
    """``marker {i} ({m}): why`` in the shape every marker-entry error has always had."""
    context = info.context or {}
    name = info.data.get("marker", "?")
    return PydanticCustomError(
        kind, "marker {i} ({m}): " + template, {"i": context.get("index", "?"), "m": name, **fields}
    )


class MarkerEntry(BaseModel):
    """One entry of a markers file as written, with one validator per concern.

    Validate with :meth:`read`, which passes the entry's position and the file's decimal
    separator and reports the first problem in the file's terms (``marker 2 (calprotectin): …``).
    Checks, in this order: the marker name (aliases folded, ``GB-M-SHAPE``); the value (a number
    or a censored value like ``<20``, a decimal comma only when declared, finite and >= 0,
    ``GB-M-VALUE``); the unit (allow-list per marker, ``GB-M-UNIT``); pH within 0-14; no
    unknown fields (``GB-M-SHAPE``).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    marker: str
    value: _Reading = Field(default=None, validate_default=True)
    unit: _Unit = Field(default=None, validate_default=True)
    lab_range: str | None = None

    @classmethod
    def read(cls, entry: dict[str, Any], *, index: int, separator: object) -> MarkerEntry:
        """Validate ``entry`` (the ``index``-th of its file).

        Raises
        ------
        pydantic_core.PydanticCustomError
            The entry's first problem only, typed ``gb_m_*`` (made a GB-M-* error, naming the
            file, by :func:`read_markers`); for use inside a validator such as
            :class:`Markers`.
        """
        try:
            return cls.model_validate(entry, context={"index": index, "separator": separator})
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            raise PydanticCustomError(first["type"], "{msg}", {"msg": first["msg"]}) from None

    @field_validator("marker", mode="before")
    @classmethod
    def _known_marker(cls, raw: Any, info: ValidationInfo) -> str:
        name = _marker_name(raw)
        if name not in MARKER_UNITS:
            context = info.context or {}
            raise PydanticCustomError(
                "gb_m_shape",
                "marker {i}: unknown marker '{m}'; expected one of {ok}",
                {"i": context.get("index", "?"), "m": raw, "ok": ", ".join(MARKER_UNITS)},
            )
        return name

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, raw: Any, info: ValidationInfo) -> _Reading:
        if isinstance(raw, bool) or raw is None:
            raise _entry_error("gb_m_value", info, "value missing or not a number")
        operator = "="
        if isinstance(raw, int | float):
            number = float(raw)
        else:
            match = _NUMBER.match(str(raw))
            if match is None:
                raise _entry_error(
                    "gb_m_value",
                    info,
                    "'{v}' is not a number or a censored value like <20 or >1800",
                    v=raw,
                )
            number = _decimal(match.group(2), raw, info)
            operator = _OPERATORS.get(match.group(1) or "", "=")
        if math.isnan(number) or math.isinf(number) or number < 0:
            raise _entry_error("gb_m_value", info, "'{v}' must be a finite number >= 0", v=raw)
        return _Reading(number=number, operator=operator, given=str(raw))  # type: ignore[arg-type]

    @field_validator("unit", mode="before")
    @classmethod
    def _allowed_unit(cls, raw: Any, info: ValidationInfo) -> _Unit:
        try:
            canonical, factor = normalise_unit(info.data["marker"], raw)
        except (KeyError, ValueError) as exc:
            raise _entry_error("gb_m_unit", info, "{why}", why=str(exc)) from None
        return _Unit(canonical=canonical, factor=factor, given=str(raw))

    @field_validator("lab_range", mode="before")
    @classmethod
    def _text(cls, raw: Any) -> str | None:
        return None if raw is None else str(raw)

    @model_validator(mode="after")
    def _plausible(self, info: ValidationInfo) -> MarkerEntry:
        context = info.context or {}
        if self.marker == "ph" and self.value.number > 14:
            raise PydanticCustomError(
                "gb_m_value",
                "marker {i} (pH): {v} is impossible; pH lies in 0-14",
                {"i": context.get("index", "?"), "v": self.value.number},
            )
        if self.model_extra:
            raise PydanticCustomError(
                "gb_m_shape",
                "marker {i} ({m}): unknown field(s) {f}",
                {
                    "i": context.get("index", "?"),
                    "m": self.marker,
                    "f": ", ".join(sorted(map(str, self.model_extra))),
                },
            )
        return self

    def measurement(self) -> dict[str, Any]:
        """The :class:`MarkerValue` fields: the value in the canonical unit, as given beside."""
        return {
            "marker": self.marker,
            "value": self.value.number * self.unit.factor,
            "operator": self.value.operator,
            "unit": self.unit.canonical,
            "factor": self.unit.factor,
            "value_as_given": self.value.given,
            "unit_as_given": self.unit.given,
            "lab_range": self.lab_range,
        }


def _decimal(text: str, raw: Any, info: ValidationInfo) -> float:
    """``text`` as a number, with a decimal comma only when the file declares one."""
    separator = (info.context or {}).get("separator", ".")
    if "," in text:
        if separator != ",":
            raise _entry_error(
                "gb_m_value",
                info,
                "'{v}' has a comma; declare decimal_separator: ',' if it is a decimal comma "
                "(thousands separators are not accepted)",
                v=raw,
            )
        text = text.replace(",", ".")
    elif "." in text and separator == ",":
        raise _entry_error(
            "gb_m_value", info, "'{v}' has a point but the file declares a decimal comma", v=raw
        )
    return float(text)


class Markers(_Strict):
    """A stool-marker file: measurements, collection and receipt dates, decimal separator."""

    schema_: Literal["gutbrain-markers/1"] = Field(default="gutbrain-markers/1", alias="schema")
    collected: dt.date | None = None
    received: dt.date | None = None
    decimal_separator: Literal[".", ","] = "."
    markers: tuple[MarkerValue, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, raw: Any) -> Any:
        """Validate each entry as a :class:`MarkerEntry`; a marker may be given once."""
        if not isinstance(raw, dict):
            return raw
        data = dict(raw)
        separator = data.get("decimal_separator", ".")
        parsed = []
        seen: set[str] = set()
        for i, entry in enumerate(data.get("markers") or [], start=1):
            if not isinstance(entry, dict) or "marker" not in entry:
                raise PydanticCustomError(
                    "gb_m_shape",
                    "marker {i}: expected a mapping with marker, value, unit",
                    {"i": i},
                )
            name = _marker_name(entry["marker"])
            if name in seen:  # only known names get here: an unknown one failed below
                raise PydanticCustomError(
                    "gb_m_shape",
                    "marker {i}: {m} given twice; give one value per marker",
                    {"i": i, "m": name},
                )
            seen.add(name)
            parsed.append(MarkerEntry.read(entry, index=i, separator=separator).measurement())
        data["markers"] = parsed
        return data

    @model_validator(mode="after")
    def _dates(self) -> Markers:
        today = dt.datetime.now(dt.UTC).date()
        for label, day in (("collected", self.collected), ("received", self.received)):
            if day is not None and day > today:
                raise PydanticCustomError(
                    "gb_m_date",
                    "{label} date {d} lies in the future",
                    {"label": label, "d": str(day)},
                )
        if self.collected and self.received and self.received < self.collected:
            raise PydanticCustomError(
                "gb_m_date",
                "received {r} is before collected {c}",
                {"r": str(self.received), "c": str(self.collected)},
            )
        return self

    def get(self, marker: str) -> MarkerValue | None:
        """The measurement of ``marker`` or ``None``."""
        return next((m for m in self.markers if m.marker == marker), None)


_CODES = {
    "gb_q_range": ErrorCode.Q_RANGE,
    "gb_q_shape": ErrorCode.Q_SHAPE,
    "gb_q_label": ErrorCode.Q_LABEL,
    "gb_m_unit": ErrorCode.M_UNIT,
    "gb_m_value": ErrorCode.M_VALUE,
    "gb_m_shape": ErrorCode.M_SHAPE,
    "gb_m_date": ErrorCode.M_DATE,
}


#: Largest answers or markers file read (bytes): the real ones are a few kB; a bigger one is refused
#: by its size before it is parsed.
MAX_FILE_BYTES = 1 << 20
_MAX_DEPTH = 64  # the deepest real file nests 3 levels


def _where(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


class _Lines:
    """Line numbers (1-based) of every key and list entry of a YAML/JSON document, by path."""

    def __init__(self, source: Path, loader: yaml.SafeLoader, root: yaml.Node) -> None:
        self.source = source
        self.loader = loader
        self.at: dict[tuple[Any, ...], int] = {}
        self._walk(root, (), 1)

    def _duplicate(self, path: tuple[Any, ...], first: int, second: int, why: str) -> None:
        message = (
            f"{why} '{_where(path)}' at lines {first} and {second}; "
            "give each key once (a repeated key could hide an answer)"
        )
        raise InputFormatError(message, path=self.source, line=second, code=ErrorCode.DUPLICATE_KEY)

    def _walk(self, node: yaml.Node, path: tuple[Any, ...], depth: int) -> None:
        if depth > _MAX_DEPTH:
            message = f"nested more than {_MAX_DEPTH} levels deep; this is not an answers file"
            raise InputFormatError(message, path=self.source, line=node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    message = "YAML merge keys (<<) are not accepted; write each key out"
                    raise InputFormatError(message, path=self.source, line=line)
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    message = f"'{_where(path)}': keys must be plain names or numbers"
                    raise InputFormatError(message, path=self.source, line=line)
                if key in seen:
                    self._duplicate((*path, key), seen[key], line, "key given twice:")
                seen[key] = line
                self.at[(*path, key)] = line
                self._walk(value_node, (*path, key), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.at[(*path, i)] = item.start_mark.line + 1
                self._walk(item, (*path, i), depth + 1)

    def check_aliases(self, data: dict[str, Any], what: str) -> None:
        """Refuse two spellings of one item (``item9`` and ``item_9``) or of one marker."""
        if what == "answers":
            for block in QUESTIONNAIRES:
                items = data.get(block)
                if not isinstance(items, dict):
                    continue
                first: dict[int, Any] = {}
                for key in items:
                    index = _item_index(key)
                    if index is None:
                        continue
                    if index in first:
                        message = (
                            f"{block}: '{first[index]}' and '{key}' both name item {index} "
                            f"(lines {self.at.get((block, first[index]), '?')} and "
                            f"{self.at.get((block, key), '?')}); give each item once"
                        )
                        raise InputFormatError(
                            message,
                            path=self.source,
                            line=self.at.get((block, key)),
                            code=ErrorCode.DUPLICATE_KEY,
                        )
                    first[index] = key
        entries = data.get("markers") if what == "markers" else None
        if isinstance(entries, list):
            named: dict[str, int] = {}
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or "marker" not in entry:
                    continue
                name = _marker_name(entry["marker"])
                if name in named:
                    message = (
                        f"markers: {name} given twice (entries {named[name] + 1} and {i + 1}, "
                        f"lines {self.at.get(('markers', named[name]), '?')} and "
                        f"{self.at.get(('markers', i), '?')}); give one value per marker"
                    )
                    raise InputFormatError(
                        message,
                        path=self.source,
                        line=self.at.get(("markers", i)),
                        code=ErrorCode.DUPLICATE_KEY,
                    )
                named[name] = i


def _refuse_duplicate_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` hook: a repeated key in one object is an error, not "the last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonDuplicateError(key)
        out[key] = value
    return out


class _JsonDuplicateError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _decode(source: Path, what: str) -> str:
    try:
        size = source.stat().st_size
    except OSError:
        size = 0
    if size > MAX_FILE_BYTES:
        message = (
            f"{size:,} bytes is too large for a {what} file (limit {MAX_FILE_BYTES:,} bytes); "
            "check that this is the right file"
        )
        raise InputFormatError(message, path=source, code=ErrorCode.TOO_LARGE)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        message = f"{source}: cannot be read ({exc.strerror or exc})"
        raise InputMissingError(message) from None
    if len(raw) > MAX_FILE_BYTES:  # grew, or a file that does not report its size
        message = f"too large for a {what} file (limit {MAX_FILE_BYTES:,} bytes)"
        raise InputFormatError(message, path=source, code=ErrorCode.TOO_LARGE)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the {what} file as UTF-8"
        raise InputFormatError(message, path=source, line=line, code=ErrorCode.ENCODING) from None


def _compose(text: str, *, strict: bool) -> tuple[yaml.SafeLoader, yaml.Node | None]:
    """Parse ``text`` into YAML nodes (which keep line numbers); JSON is read the same way."""
    loader = yaml.SafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        loader.dispose()
        if strict:
            raise
        return loader, None  # valid JSON that YAML does not read (tabs): no line numbers


def _load_mapping(path: str | Path, what: str) -> dict[str, Any]:
    source = check_input_file(path)
    text = _decode(source, what)
    is_json = source.suffix.lower() == ".json"
    lines: _Lines | None = None
    try:
        loader, root = _compose(text, strict=not is_json)
        try:
            if root is not None:
                lines = _Lines(source, loader, root)
            if is_json:
                data: Any = json.loads(text, object_pairs_hook=_refuse_duplicate_pairs)
            else:
                data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except _JsonDuplicateError as exc:
        found = [
            text.count("\n", 0, m.start()) + 1
            for m in re.finditer(re.escape(json.dumps(exc.key)) + r"\s*:", text)
        ]
        at = f" (it appears at lines {', '.join(map(str, found))})" if len(found) > 1 else ""
        message = (
            f"key given twice: '{exc.key}'{at}; give each key once (a repeated key could hide "
            "an answer)"
        )
        raise InputFormatError(message, path=source, code=ErrorCode.DUPLICATE_KEY) from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = getattr(exc, "lineno", None) or (mark.line + 1 if mark is not None else None)
        message = f"not valid {what} YAML/JSON ({str(exc).splitlines()[0]})"
        raise InputFormatError(message, path=source, line=line) from None
    except RecursionError:
        message = f"nested too deeply for a {what} file"
        raise InputFormatError(message, path=source) from None
    if not isinstance(data, dict):
        message = f"expected a mapping at the top of the {what} file (see docs/templates/)"
        raise InputFormatError(message, path=source)
    if lines is not None:
        lines.check_aliases(data, what)
    return data


def _convert(exc: PydanticValidationError, source: Path) -> ValidationError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    code = _CODES.get(first["type"], ErrorCode.VALUE)
    message = f"{source}: {where}: {first['msg']}"
    if exc.error_count() > 1:
        message += f" (and {exc.error_count() - 1} more problem(s))"
    return ValidationError(message, code=code)


def read_answers(path: str | Path) -> Answers:
    """Read and validate a questionnaire-answers file (YAML or JSON).

    Raises
    ------
    InputMissingError
        When the file cannot be read.
    InputFormatError
        When it is not YAML/JSON or not a mapping.
    ValidationError
        When an answer is out of range, of the wrong shape or unknown (message names the item).
    """
    source = Path(path)
    data = _load_mapping(source, "answers")
    try:
        return Answers.model_validate(data)
    except PydanticValidationError as exc:
        raise _convert(exc, source) from None


def read_markers(path: str | Path) -> Markers:
    """Read and validate a stool-markers file (YAML or JSON).

    Raises
    ------
    InputMissingError
        When the file cannot be read.
    InputFormatError
        When it is not YAML/JSON or not a mapping.
    ValidationError
        When a unit, value or date is invalid (message names the marker).
    """
    source = Path(path)
    data = _load_mapping(source, "markers")
    # YAML turns 2026-05-01 into a date; JSON keeps a string: both validate.
    try:
        return Markers.model_validate(data)
    except PydanticValidationError as exc:
        raise _convert(exc, source) from None
