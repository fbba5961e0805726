"""``MarkerEntry`` (one validator per concern) and the one questionnaire validator.

The failure-fixture tables in test_answers.py pin the file-level errors; these tests pin each
concern of a marker entry and the instrument shapes against the knowledge table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from gutbrain.errors import ValidationError
from gutbrain.io.answers import QUESTIONNAIRES, Answers, MarkerEntry, read_answers, read_markers

KNOWLEDGE = Path(__file__).resolve().parents[2] / "src" / "gutbrain" / "data" / "knowledge"


def test_questionnaire_shapes_agree_with_the_instruments_table() -> None:
    with (KNOWLEDGE / "instruments.tsv").open(encoding="utf-8", newline="") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle, delimiter="\t")}
    assert set(QUESTIONNAIRES) == {"phq9", "gad7", "pss10"}
    for shape in QUESTIONNAIRES.values():
        row = rows[shape.knowledge_id]
        assert int(row["items"]) == shape.n_items
        assert row["score_range"] == f"0-{shape.n_items * shape.top}"
        assert sorted(shape.labels.values()) == list(range(shape.top + 1))


@pytest.mark.parametrize("instrument", ["phq9", "gad7", "pss10"])
def test_one_validator_checks_every_instrument(instrument: str, tmp_path: Path) -> None:
    shape = QUESTIONNAIRES[instrument]
    path = tmp_path / "answers.yaml"
    path.write_text(f"{instrument}: {[0] * (shape.n_items - 1)}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=f"this instrument has {shape.n_items} items") as e:
        read_answers(path)
    assert e.value.code == "GB-Q-SHAPE"
    path.write_text(f"{instrument}: {[0] * (shape.n_items - 1) + [shape.top + 1]}\n")
    with pytest.raises(ValidationError, match=rf"{instrument}: item {shape.n_items}: .*0-") as e:
        read_answers(path)
    assert e.value.code == "GB-Q-RANGE"
    assert f"0-{shape.top}" in str(e.value)
    path.write_text(f"{instrument}: {[shape.top] * shape.n_items}\n")
    assert getattr(read_answers(path), instrument) == (shape.top,) * shape.n_items
    assert Answers.model_validate({instrument: None}) == Answers()


@pytest.mark.parametrize(
    ("entry", "kind", "needle"),
    [
        ({"marker": "calprotectin_x", "value": 1, "unit": "µg/g"}, "gb_m_shape", "unknown marker"),
        ({"marker": "calprotectin", "unit": "µg/g"}, "gb_m_value", "value missing"),
        ({"marker": "calprotectin", "value": True, "unit": "µg/g"}, "gb_m_value", "value missing"),
        ({"marker": "calprotectin", "value": "about 5", "unit": "µg/g"}, "gb_m_value", "censored"),
        ({"marker": "calprotectin", "value": "1,5", "unit": "µg/g"}, "gb_m_value", "comma"),
        ({"marker": "calprotectin", "value": -2, "unit": "µg/g"}, "gb_m_value", ">= 0"),
        ({"marker": "calprotectin", "value": 5}, "gb_m_unit", "unit missing"),
        ({"marker": "calprotectin", "value": 5, "unit": "kg"}, "gb_m_unit", "not accepted"),
        ({"marker": "ph", "value": 15, "unit": "pH"}, "gb_m_value", "pH lies in 0-14"),
        ({"marker": "ph", "value": 6, "unit": "pH", "note": 1}, "gb_m_shape", "unknown field"),
        # several problems: the first concern in order is the one reported
        ({"marker": "fit", "value": -1, "unit": "kg"}, "gb_m_value", ">= 0"),
        ({"marker": "ph", "value": 15, "unit": "kg"}, "gb_m_unit", "not accepted"),
    ],
)
def test_marker_entry_concerns(entry: dict[str, object], kind: str, needle: str) -> None:
    with pytest.raises(PydanticCustomError) as info:
        MarkerEntry.read(entry, index=3, separator=".")
    assert info.value.type == kind
    assert needle in info.value.message()
    assert info.value.message().startswith("marker 3")


def test_marker_entry_error_names_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "markers.yaml"
    path.write_text(
        "markers:\n"
        "  - {marker: calprotectin, value: 30, unit: µg/g}\n"
        "  - {marker: faecal elastase, value: 1, unit: µg/g}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as info:
        read_markers(path)
    assert info.value.code == "GB-M-SHAPE"
    assert str(path) in str(info.value)
    assert "marker 2: unknown marker 'faecal elastase'" in str(info.value)


@given(
    value=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    unit=st.sampled_from(["µg/g", "ug/g", "μg/g", "mcg/g", "mg/kg", "mg/g"]),
)
def test_marker_entry_value_in_canonical_unit(value: float, unit: str) -> None:
    """M01: µg/g and mg/kg are the same number (factor exactly 1); mg/g is x1000."""
    got = MarkerEntry.read(
        {"marker": "calprotectin", "value": value, "unit": unit}, index=1, separator="."
    ).measurement()
    factor = 1000.0 if unit == "mg/g" else 1.0
    assert got["factor"] == factor
    assert got["value"] == value * factor
    assert got["unit"] == "µg/g"
    assert got["unit_as_given"] == unit
    assert got["operator"] == "="


@pytest.mark.parametrize(
    ("given", "separator", "number", "operator"),
    [("<20", ".", 20.0, "<"), ("≤ 20", ".", 20.0, "<="), (">1800", ".", 1800.0, ">"),
     ("12,5", ",", 12.5, "=")],
)  # fmt: skip
def test_marker_entry_censored_and_decimal_comma(
    given: str, separator: str, number: float, operator: str
) -> None:
    got = MarkerEntry.read(
        {"marker": "calprotectin", "value": given, "unit": "mg/kg"}, index=1, separator=separator
    ).measurement()
    assert (got["value"], got["operator"], got["value_as_given"]) == (number, operator, given)
