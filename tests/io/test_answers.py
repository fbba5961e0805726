"""Answers and markers files: templates parse; every bad input names its item (RELIABILITY 2.5)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gutbrain.errors import InputFormatError, ValidationError
from gutbrain.io.answers import MAX_FILE_BYTES, Answers, Markers, read_answers, read_markers

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"


def test_templates_parse() -> None:
    answers = read_answers(REPO / "docs" / "templates" / "answers.yaml")
    assert answers.phq9 == (1, 1, 0, 1, 2, 0, 1, 0, 0)
    assert answers.bristol == (4, 4, 3, 5)
    markers = read_markers(REPO / "docs" / "templates" / "markers.yaml")
    calpro = markers.get("calprotectin")
    assert calpro is not None
    assert (calpro.operator, calpro.value) == ("<", 20.0)


@pytest.mark.parametrize(
    ("name", "code", "needle"),
    [
        ("answers_phq9_decimal_item.yaml", "GB-Q-RANGE", "item 3"),
        ("answers_gad7_nine_items.yaml", "GB-Q-SHAPE", "9 answers given"),
        ("answers_phq9_unknown_label.yaml", "GB-Q-LABEL", "'sometimes'"),
    ],
)
def test_bad_answers(name: str, code: str, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        read_answers(DATA / name)
    assert info.value.code == code
    assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "code", "needle"),
    [
        ("markers_unit_missing.yaml", "GB-M-UNIT", "unit missing"),
        ("markers_decimal_comma_undeclared.yaml", "GB-M-VALUE", "decimal_separator"),
        ("markers_negative_value.yaml", "GB-M-VALUE", ">= 0"),
        ("markers_future_date.yaml", "GB-M-DATE", "future"),
        ("markers_received_before_collected.yaml", "GB-M-DATE", "before collected"),
        ("markers_unit_needs_extraction_ratio.yaml", "GB-M-UNIT", "extraction ratio"),
    ],
)
def test_bad_markers(name: str, code: str, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        read_markers(DATA / name)
    assert info.value.code == code
    assert info.value.exit_code == 65


@pytest.mark.parametrize("value", [True, "2", 3.5, -1, 4])
def test_phq9_item_range_and_decimals_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="item 1"):
        Answers.model_validate({"phq9": [value, 0, 0, 0, 0, 0, 0, 0, 0]})


def test_text_labels_and_mapping_form() -> None:
    a = Answers.model_validate(
        {
            "gad7": {
                "item1": "Nearly every day",
                "item7": "several days",
                "2": 0,
                "3": 0,
                "4": 0,
                "5": 0,
                "6": 0,
            }
        }
    )
    assert a.gad7 == (3, 0, 0, 0, 0, 0, 1)


def test_decimal_comma_with_declared_locale() -> None:
    m = Markers.model_validate(
        {
            "decimal_separator": ",",
            "markers": [{"marker": "calprotectin", "value": "12,5", "unit": "µg/g"}],
        }
    )
    assert m.markers[0].value == 12.5
    with pytest.raises(ValueError, match="point"):
        Markers.model_validate(
            {
                "decimal_separator": ",",
                "markers": [{"marker": "calprotectin", "value": "1.234", "unit": "µg/g"}],
            }
        )


def test_nan_and_duplicates_rejected() -> None:
    with pytest.raises(ValueError, match="finite"):
        Markers.model_validate({"markers": [{"marker": "ph", "value": math.nan, "unit": "pH"}]})
    twice = [{"marker": "ph", "value": 6, "unit": "pH"}] * 2
    with pytest.raises(ValueError, match="given twice"):
        Markers.model_validate({"markers": twice})


def test_free_text_capped_and_kept_as_text() -> None:
    a = Answers.model_validate({"notes": "<script>alert(1)</script>"})
    assert a.notes == "<script>alert(1)</script>"
    with pytest.raises(ValueError, match="2000"):
        Answers.model_validate({"notes": "x" * 2001})


def test_not_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="mapping"):
        read_answers(path)
    path.write_text("phq9: [1, 2\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"a\.yaml"):
        read_answers(path)


def test_json_answers(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('{"phq9": [0,0,0,0,0,0,0,0,1], "age": 30}', encoding="utf-8")
    assert read_answers(path).phq9 == (0, 0, 0, 0, 0, 0, 0, 0, 1)


def test_unknown_schema_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("schema: gutbrain-answers/2\nphq9: [0,0,0,0,0,0,0,0,0]\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="schema"):
        read_answers(path)


# --- issue 13: nothing in an answers or markers file may hide a safety signal ---------------

_ZEROS = "[0, 0, 0, 0, 0, 0, 0, 0, 0]"


def _refused(path: Path, *lines: int) -> InputFormatError:
    reader = read_markers if path.name.startswith("markers") else read_answers
    with pytest.raises(InputFormatError) as info:
        reader(path)
    error = info.value
    assert error.code == "GB-DUPLICATE-KEY"
    assert error.exit_code == 65
    assert path.name in str(error)
    for line in lines:
        assert str(line) in str(error)
    return error


def test_duplicate_phq9_block_in_yaml_refused_not_last_wins(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(f"phq9:\n  item9: 3\nage: 40\nphq9: {_ZEROS}\n", encoding="utf-8")
    error = _refused(path, 1, 4)
    assert "'phq9'" in str(error)


def test_duplicate_phq9_block_in_json_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(f'{{"phq9": {{"item9": 3}},\n"age": 40,\n"phq9": {_ZEROS}}}', encoding="utf-8")
    _refused(path, 1, 3)


def test_duplicate_key_in_tab_indented_json_still_refused(tmp_path: Path) -> None:
    # PyYAML cannot read tab-indented JSON, so the lines come from a text search.
    path = tmp_path / "answers.json"
    path.write_text(f'{{\n\t"phq9": {{"item9": 3}},\n\t"phq9": {_ZEROS}\n}}', encoding="utf-8")
    _refused(path, 2, 3)


@pytest.mark.parametrize(("first", "second"), [("item9", "item_9"), ("9", "Item9"), (9, "item9")])
def test_phq9_item_alias_collision_refused(tmp_path: Path, first: str | int, second: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(f"phq9:\n  {first}: 3\n  {second}: 0\n", encoding="utf-8")
    error = _refused(path, 2, 3)
    assert "item 9" in str(error)


def test_phq9_item_alias_collision_refused_by_the_model_too() -> None:
    with pytest.raises(ValueError, match="both name item 9"):
        Answers.model_validate({"phq9": {"item9": 3, "item_9": 0}})


def test_duplicate_marker_value_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "markers.yaml"
    path.write_text(
        "markers:\n  - marker: calprotectin\n    value: 900\n    value: 30\n    unit: µg/g\n",
        encoding="utf-8",
    )
    error = _refused(path, 3, 4)
    assert "value" in str(error)


def test_marker_alias_given_twice_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "markers.yaml"
    path.write_text(
        "markers:\n"
        "  - {marker: calprotectin, value: 900, unit: µg/g}\n"
        "  - {marker: faecal calprotectin, value: 30, unit: µg/g}\n",
        encoding="utf-8",
    )
    _refused(path, 2, 3)


def test_yaml_merge_key_refused(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(
        "base: &b {item9: 3}\nphq9:\n  <<: *b\n  item9: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFormatError, match="merge keys"):
        read_answers(path)


def test_non_utf8_answers_file_is_an_input_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_bytes(b"age: 40\nnotes: caf\xe9\n")
    with pytest.raises(InputFormatError, match=r"answers\.yaml:2: not UTF-8") as info:
        read_answers(path)
    assert info.value.code == "GB-ENCODING"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_100000_deep_answers_file_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"answers{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputFormatError, match="nested too deeply"):
        read_answers(path)


def test_large_answers_file_refused_by_size_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "answers.yaml"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("notes: |\n")
        handle.writelines("  " + "x" * 78 + "\n" for _ in range(MAX_FILE_BYTES // 80 + 1))

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed a file that is too large")

    monkeypatch.setattr("gutbrain.io.answers.yaml.SafeLoader", no_parsing)
    with pytest.raises(InputFormatError, match="too large") as info:
        read_answers(path)
    assert info.value.code == "GB-TOO-LARGE"


@pytest.mark.parametrize(
    ("given", "operator"), [("<=50", "<="), ("≤50", "<="), (">=200", ">="), ("<50", "<")]
)
def test_censored_less_or_equal_not_read_as_less_than(given: str, operator: str) -> None:
    markers = Markers.model_validate(
        {"markers": [{"marker": "calprotectin", "value": given, "unit": "µg/g"}]}
    )
    calpro = markers.get("calprotectin")
    assert calpro is not None
    assert (calpro.operator, calpro.value) == (operator, float(given.lstrip("<>=≤≥")))
