"""Marker bands, unit conversion and censored values (knowledge rows MK001-MK015)."""

from __future__ import annotations

import pytest

from gutbrain.clinical.markers import CALPROTECTIN_BANDS, assess_markers, band_interval
from gutbrain.io.answers import Markers, Medications
from gutbrain.io.knowledge import load_knowledge

KB = load_knowledge()


def one(marker: str, value: object, unit: str, **kw: object):  # type: ignore[no-untyped-def]
    markers = Markers.model_validate(
        {"markers": [{"marker": marker, "value": value, "unit": unit}]}
    )
    return assess_markers(markers, KB, **kw)[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0, "below_50"),
        (49, "below_50"),
        (49.9, "below_50"),
        (50, "50_to_200"),
        (120, "50_to_200"),
        (200, "50_to_200"),
        (200.1, "above_200"),
        (201, "above_200"),
        (1800, "above_200"),
    ],
)
def test_calprotectin_bands(value: float, band: str) -> None:
    assert one("calprotectin", value, "µg/g").band == band


def test_ug_per_g_equals_mg_per_kg_exactly() -> None:
    a = one("calprotectin", 123.4, "mg/kg")
    b = one("calprotectin", 123.4, "µg/g")
    assert a.value == b.value == 123.4
    assert a.unit == "µg/g"
    assert one("calprotectin", 0.1234, "mg/g").value == pytest.approx(123.4)


@pytest.mark.parametrize("unit", ["µg/g", "μg/g", "ug/g", "mcg/g", "UG/G".lower(), " µg/g "])
def test_unit_spellings_normalised_micro_sign_and_greek_mu(unit: str) -> None:
    assert one("calprotectin", 40, unit).unit == "\u00b5g/g"


@pytest.mark.parametrize(
    ("given", "band"),
    [
        ("<20", "below_50"),
        ("<50", "below_50"),
        (">1800", "above_200"),
        (">200", "above_200"),
        ("<100", None),
        (">100", None),
    ],
)
def test_censored_values(given: str, band: str | None) -> None:
    result = one("calprotectin", given, "µg/g")
    assert result.band == band
    assert result.operator == given[0]
    assert result.value == float(given[1:])


def test_band_interval_doctests() -> None:
    assert band_interval(200, ">", CALPROTECTIN_BANDS) == ("above_200", "above 200 µg/g")


def test_implausible_calprotectin_flagged_not_scored() -> None:
    result = one("calprotectin", 1_000_000, "µg/g")
    assert not result.interpretable
    assert result.band is None


def test_zonulin_never_interpreted() -> None:
    result = one("zonulin", 80, "ng/mL")
    assert not result.interpretable
    assert result.band is None
    assert "do not measure zonulin" in result.statement
    assert "S035" in result.source_ids


@pytest.mark.parametrize(("marker", "unit"), [("ph", "pH"), ("beta_defensin_2", "ng/g")])
def test_unvalidated_markers_not_flagged(marker: str, unit: str) -> None:
    result = one(marker, 6.5, unit)
    assert result.band is None
    assert not result.interpretable


@pytest.mark.parametrize(
    ("value", "band"),
    [(50, "below_100"), (100, "100_to_200"), (199, "100_to_200"), (200, "200_or_more")],
)
def test_elastase_bands(value: float, band: str) -> None:
    assert one("elastase", value, "µg/g").band == band


def test_medication_and_age_caveats() -> None:
    result = one("calprotectin", 80, "µg/g", age=70, medications=Medications(ppi=True))
    assert len(result.caveats) == 2
    assert "S034" in result.source_ids
    child = one("calprotectin", 80, "µg/g", age=10)
    assert child.band is None


def test_calprotectin_at_most_50_is_not_banded_below_50() -> None:
    # "<=50" may be exactly 50, which lies in the grey zone (NICE DG11): no single band holds it.
    assert band_interval(50.0, "<", CALPROTECTIN_BANDS) == ("below_50", "below 50 µg/g")
    assert band_interval(50.0, "<=", CALPROTECTIN_BANDS) is None
    assert band_interval(200.0, ">", CALPROTECTIN_BANDS) == ("above_200", "above 200 µg/g")
    assert band_interval(200.0, ">=", CALPROTECTIN_BANDS) is None


def test_siga_is_not_shown_because_only_marketing_pages_back_it() -> None:
    # S071 (laboratory web pages) is not scientific evidence: never packaged, never cited
    from gutbrain.clinical.markers import unsourced_markers
    from gutbrain.io.knowledge import load_knowledge

    kb = load_knowledge()
    assert "S071" not in kb.sources
    assert all("S071" not in row.source_ids for row in kb.markers.values())
    markers = Markers.model_validate(
        {"markers": [{"marker": "siga", "value": 900, "unit": "µg/g"}]}
    )
    assert assess_markers(markers, kb) == ()
    assert unsourced_markers(markers) == ("Secretory IgA",)
