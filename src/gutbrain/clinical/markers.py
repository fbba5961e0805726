"""Stool markers: bands, units and caveats (knowledge rows MK001-MK015).

* **Faecal calprotectin** (µg/g; 1 µg/g = 1 mg/kg exactly): ``< 50`` below the usual adult cut-off;
  ``50-200`` a grey zone in which a repeat via a clinical laboratory is usual; ``> 200`` needs a
  prompt clinician review (NICE DG11; UK pathway practice). A value of exactly 50 falls in the grey
  zone, exactly 200 still in it. Age (< 18: adult bands withheld; >= 60: mild rises common) and
  PPI/NSAID/aspirin use are shown as caveats.
* **Pancreatic elastase-1** (µg/g): ``> 200`` usual; ``100-200`` and ``< 100`` lower values that
  need clinician review (pancreatic function, not a gut-brain finding).
* **FIT** (µg Hb/g): ``>= 10`` triggers the urgent-contact rule.
* **Zonulin**: never interpreted (commercial assays do not measure zonulin).
* **Stool pH, β-defensin-2**: shown as measured, never flagged (no validated cut-offs).
* **sIgA**: not shown (:data:`UNSOURCED_MARKERS`): its only sources were laboratory web pages,
  which are not evidence; the interpretation says so in its warnings.

Censored values are intervals: ``<20`` is ``[0, 20)``, ``>1800`` is ``(1800, ∞)``. A band is given
only when the whole interval lies in one band. Values above :data:`PLAUSIBLE_MAX` are flagged and
not banded (a unit mix-up is the usual cause).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from gutbrain.io.answers import Markers, MarkerValue, Medications
from gutbrain.io.knowledge import Grade, KnowledgeBase
from gutbrain.result import MarkerResult

__all__ = [
    "CALPROTECTIN_BANDS",
    "ELASTASE_BANDS",
    "FIT_BANDS",
    "PLAUSIBLE_MAX",
    "UNSOURCED_MARKERS",
    "Band",
    "assess_markers",
    "band_interval",
    "unsourced_markers",
]

logger = logging.getLogger(__name__)

#: Markers accepted in a markers file but not shown: no peer-reviewed source backs any statement.
UNSOURCED_MARKERS = frozenset({"siga"})

#: A band: (low, low closed?, high, high closed?, band id, label).
Band = tuple[float, bool, float, bool, str, str]
CALPROTECTIN_BANDS: tuple[Band, ...] = (
    (0.0, True, 50.0, False, "below_50", "below 50 µg/g"),
    (50.0, True, 200.0, True, "50_to_200", "50-200 µg/g (grey zone)"),
    (200.0, False, math.inf, False, "above_200", "above 200 µg/g"),
)
ELASTASE_BANDS: tuple[Band, ...] = (
    (0.0, True, 100.0, False, "below_100", "below 100 µg/g"),
    (100.0, True, 200.0, False, "100_to_200", "100 to under 200 µg/g"),
    (200.0, True, math.inf, False, "200_or_more", "200 µg/g or more"),
)
FIT_BANDS: tuple[Band, ...] = (
    (0.0, True, 10.0, False, "below_10", "below 10 µg Hb/g"),
    (10.0, True, math.inf, False, "10_or_more", "10 µg Hb/g or more"),
)
#: Values above these (canonical unit) are outside any assay's range and are not banded.
PLAUSIBLE_MAX: dict[str, float] = {
    "calprotectin": 10000.0,
    "elastase": 2000.0,
    "fit": 10000.0,
}

_NAMES = {
    "calprotectin": "Faecal calprotectin",
    "elastase": "Faecal pancreatic elastase-1",
    "fit": "Faecal immunochemical test (haemoglobin)",
    "zonulin": "Zonulin",
    "siga": "Secretory IgA",
    "ph": "Stool pH",
    "beta_defensin_2": "β-defensin-2",
}


def band_interval(value: float, operator: str, bands: Sequence[Band]) -> tuple[str, str] | None:
    """Return ``(band id, label)`` of the band holding the value's whole interval, else ``None``.

    ``operator`` ``=`` gives the point ``[v, v]``, ``<`` the interval ``[0, v)``, ``<=`` the
    interval ``[0, v]``, ``>`` the interval ``(v, ∞)`` and ``>=`` the interval ``[v, ∞)``.

    Examples
    --------
    >>> band_interval(50, "=", CALPROTECTIN_BANDS)
    ('50_to_200', '50-200 µg/g (grey zone)')
    >>> band_interval(20, "<", CALPROTECTIN_BANDS)[0]
    'below_50'
    >>> band_interval(100, "<", CALPROTECTIN_BANDS) is None
    True
    >>> band_interval(50, "<", CALPROTECTIN_BANDS)[0], band_interval(50, "<=", CALPROTECTIN_BANDS)
    ('below_50', None)
    """
    if operator == "=":
        low, low_closed, high, high_closed = value, True, value, True
    elif operator in {"<", "<="}:
        low, low_closed, high, high_closed = 0.0, True, value, operator == "<="
    else:
        low, low_closed, high, high_closed = value, operator == ">=", math.inf, False
    for b_low, b_low_closed, b_high, b_high_closed, band, label in bands:
        lower_ok = low > b_low or (low == b_low and (b_low_closed or not low_closed))
        upper_ok = high < b_high or (high == b_high and (b_high_closed or not high_closed))
        if lower_ok and upper_ok:
            return band, label
    return None


def _sources(kb: KnowledgeBase, *ids: str) -> tuple[tuple[str, ...], Grade]:
    sids: list[str] = []
    grades: list[Grade] = []
    for knowledge_id in ids:
        row = kb.markers[knowledge_id]
        sids.extend(s for s in row.source_ids if s not in sids)
        grades.append(row.grade)
    return tuple(sids), max(grades)  # weakest grade of the rows relied on


def _shown_value(m: MarkerValue) -> str:
    op = "" if m.operator == "=" else m.operator
    return f"{op}{m.value:g} {m.unit}"


def _result(m: MarkerValue, **fields: Any) -> MarkerResult:
    """A :class:`MarkerResult` for ``m``: its value, unit and name, plus ``fields``."""
    return MarkerResult(
        marker=m.marker,
        name=_NAMES[m.marker],
        value=m.value,
        operator=m.operator,
        unit=m.unit,
        value_as_given=m.value_as_given,
        unit_as_given=m.unit_as_given,
        **fields,
    )


def _calprotectin(
    m: MarkerValue, kb: KnowledgeBase, *, age: int | None, medications: Medications | None
) -> MarkerResult:
    caveats = []
    ids: list[str] = []
    if medications is not None and (medications.ppi or medications.nsaid or medications.aspirin):
        caveats.append(
            "You reported a proton-pump inhibitor, NSAID or aspirin: these are associated with "
            "raised calprotectin in people without bowel disease."
        )
        ids.append("MK007")
    if age is not None and age >= 60:
        caveats.append(
            "Calprotectin tends to rise with age; mild rises are common in older adults."
        )
        ids.append("MK006")
    adult = age is None or age >= 18
    if not adult:
        caveats.append("Adult calprotectin cut-offs do not apply under 18; no band is given.")
        ids.append("MK005")
    sids, grade = _sources(kb, "MK001", "MK002", "MK003", *ids)
    if m.value > PLAUSIBLE_MAX["calprotectin"]:
        return _result(
            m,
            interpretable=False,
            statement=f"{_shown_value(m)} is outside any assay's range; check the value and unit "
            "with the laboratory. It was not interpreted.",
            caveats=tuple(caveats),
            source_ids=sids,
            grade=grade,
        )
    found = band_interval(m.value, m.operator, CALPROTECTIN_BANDS)
    band, label = found if (found and adult) else (None, "")
    # the band's own knowledge rows first (their grade), caveat rows after
    band_ids = {"below_50": ["MK001", "MK009"], "50_to_200": ["MK002"], "above_200": ["MK003"]}
    main = band_ids.get(band or "", ["MK001", "MK002", "MK003"])
    sids, _ = _sources(kb, *main, *ids)
    _, grade = _sources(kb, *main)
    statement = {
        "below_50": "Below the usual adult cut-off of 50 µg/g. Calprotectin helps rule out bowel "
        "inflammation in people with symptoms; a low value does not describe the microbiome.",
        "50_to_200": "In the 50-200 µg/g grey zone. Mild rises are common without disease (for "
        "example with some medicines or with age); clinical pathways usually repeat the test "
        "in a clinical laboratory.",
        "above_200": "Above 200 µg/g. This can reflect inflammation in the intestine from several "
        "causes and needs a prompt review by a doctor; it does not name any disease.",
    }.get(
        band or "",
        "The value could not be placed in one band; ask the laboratory for an exact value."
        if adult
        else "Shown as measured.",
    )
    return _result(
        m,
        band=band,
        band_label=label,
        statement=statement,
        caveats=tuple(caveats),
        source_ids=sids,
        grade=grade,
    )


def _elastase(m: MarkerValue, kb: KnowledgeBase) -> MarkerResult:
    sids, grade = _sources(kb, "MK014")
    if m.value > PLAUSIBLE_MAX["elastase"]:
        return _result(
            m,
            interpretable=False,
            statement="Outside the assay range; not interpreted.",
            source_ids=sids,
            grade=grade,
        )
    found = band_interval(m.value, m.operator, ELASTASE_BANDS)
    band, label = found if found else (None, "")
    statement = (
        "200 µg/g or more, the usual range for pancreatic enzyme output."
        if band == "200_or_more"
        else "Lower values are a question of pancreatic function, not of the gut-brain axis, and "
        "need a doctor's review; watery stool can give falsely low values."
    )
    return _result(
        m,
        band=band,
        band_label=label,
        statement=statement,
        source_ids=sids,
        grade=grade,
        caveats=("Liquid stool dilutes the sample and can lower the value.",),
    )


def _fit(m: MarkerValue, kb: KnowledgeBase) -> MarkerResult:
    sids, grade = _sources(kb, "MK015")
    found = band_interval(m.value, m.operator, FIT_BANDS)
    band, label = found if found else (None, "")
    statement = (
        "Blood was detected at or above 10 µg Hb/g: contact a doctor urgently."
        if band != "below_10"
        else "Below 10 µg Hb/g. If you have symptoms, discuss them with a doctor regardless."
    )
    return _result(
        m,
        band=band,
        band_label=label,
        statement=statement,
        source_ids=sids,
        grade=grade,
    )


def _uninterpreted(m: MarkerValue, kb: KnowledgeBase) -> MarkerResult:
    if m.marker == "zonulin":
        ids, statement = (
            ("MK010",),
            (
                "Not interpretable: studies found that current commercial zonulin kits do not "
                "measure zonulin, so this value says nothing about the intestinal barrier."
            ),
        )
    else:
        ids = {"ph": ("MK012",), "beta_defensin_2": ("MK013",)}[m.marker]
        statement = (
            "Shown as measured with the laboratory's own range. There is no validated clinical "
            "cut-off, so it is not marked high or low."
        )
    sids, grade = _sources(kb, *ids)
    caveats = (f"Laboratory range: {m.lab_range}",) if m.lab_range else ()
    return _result(
        m,
        interpretable=False,
        statement=statement,
        caveats=caveats,
        source_ids=sids,
        grade=grade,
    )


def unsourced_markers(markers: Markers) -> tuple[str, ...]:
    """Names of the given markers that are not shown because no peer-reviewed source backs them."""
    return tuple(
        dict.fromkeys(_NAMES[m.marker] for m in markers.markers if m.marker in UNSOURCED_MARKERS)
    )


def assess_markers(
    markers: Markers,
    kb: KnowledgeBase,
    *,
    age: int | None = None,
    medications: Medications | None = None,
) -> tuple[MarkerResult, ...]:
    """Band and annotate every marker of ``markers`` (module docstring), in file order."""
    collected = None if markers.collected is None else markers.collected.isoformat()
    out = []
    for m in markers.markers:
        if m.marker in UNSOURCED_MARKERS:
            continue
        if m.marker == "calprotectin":
            result = _calprotectin(m, kb, age=age, medications=medications)
        elif m.marker == "elastase":
            result = _elastase(m, kb)
        elif m.marker == "fit":
            result = _fit(m, kb)
        else:
            result = _uninterpreted(m, kb)
        out.append(result.model_copy(update={"collected": collected}))
    return tuple(out)
