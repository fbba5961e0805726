"""The result schema: exported JSON Schema is current, round trips, atomic write, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutbrain.errors import InputFormatError, InputMissingError
from gutbrain.result import (
    SCHEMA_VERSION,
    Alert,
    Finding,
    ProfileSummary,
    Result,
    ResultProvenance,
    read_result,
    write_result,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "docs" / "result.schema.json"


def render_schema() -> str:
    return json.dumps(Result.model_json_schema(), indent=2, sort_keys=True) + "\n"


def minimal_result(**changes: object) -> Result:
    base: dict[str, object] = {
        "sample_id": "s1",
        "disclaimer": "Not a diagnosis.",
        "profile": ProfileSummary(sample_id="s1", source="test"),
        "provenance": ResultProvenance(
            gutbrain_version="0",
            schema_version=SCHEMA_VERSION,
            created="2026-01-01T00:00:00Z",
            profile_source="test",
        ),
    }
    base.update(changes)
    return Result.model_validate(base)


def test_exported_schema_is_current() -> None:
    # A stale file is rewritten (then commit it); CI fails until it is committed.
    expected = render_schema()
    if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text(encoding="utf-8") != expected:
        SCHEMA_FILE.write_text(expected, encoding="utf-8")
        pytest.fail(f"{SCHEMA_FILE} was stale and has been rewritten; commit it")


def test_round_trip(tmp_path: Path) -> None:
    result = minimal_result(
        alerts=(
            Alert(
                alert_id="x",
                level="crisis",
                trigger="t",
                title="T",
                message="m",
                source_ids=("S045",),
                grade="B",
            ),
        ),
    )
    path = write_result(result, tmp_path / "result.json")
    assert read_result(path) == result
    assert not list(tmp_path.glob(".*partial*"))


def test_extra_fields_refused(tmp_path: Path) -> None:
    raw = json.loads(minimal_result().model_dump_json())
    raw["firmicutes_bacteroidetes_ratio"] = 1.2
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputFormatError, match="firmicutes_bacteroidetes_ratio"):
        read_result(path)


def test_statement_without_source_refused() -> None:
    with pytest.raises(ValueError, match="source_ids"):
        Finding(finding_id="f", category="context", text="t", source_ids=(), grade="A")


def test_other_major_version_refused(tmp_path: Path) -> None:
    raw = json.loads(minimal_result().model_dump_json())
    raw["schema_version"] = "99.0.0"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"schema version 99\.0\.0"):
        read_result(path)


def test_not_json_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{oops", encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"r\.json:1"):
        read_result(path)
    with pytest.raises(InputMissingError):
        read_result(tmp_path / "absent.json")


def test_result_is_frozen() -> None:
    result = minimal_result()
    with pytest.raises(ValueError, match="frozen"):
        result.sample_id = "other"  # type: ignore[misc]
