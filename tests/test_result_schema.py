"""The result schema: exported JSON Schema is current, round trips, atomic write, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutbrain.errors import InputFormatError, InputMissingError
from gutbrain.model import ReadType
from gutbrain.result import (
    SCHEMA_VERSION,
    Alert,
    Finding,
    ProfileSummary,
    Result,
    ResultProvenance,
    RunInfo,
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


#: ``provenance.run_info`` as the commands wrote it before it was typed (a plain JSON object),
#: one per command: ``run`` from reads, ``run --table``, ``interpret``.
_OLD_RUN_INFOS: tuple[dict[str, object], ...] = (
    {
        "preset": "hifi",
        "threads": 2,
        "assignment": {"reads_in": 300, "reads_assigned_species": 250},
        "em": {"iterations": 37, "log_likelihood": -1234.5, "converged": True, "rule": "1/n"},
        "example_data": False,
        "input_sha256": {"answers": "ab" * 32},
        "stage_seconds": {"inputs": 0.01, "profile": 41.2},
    },
    {
        "example_data": True,
        "table_format": "auto",
        "table_rank": "genus",
        "input_sha256": {},
        "stage_seconds": {"import": 0.2},
    },
    {"command": "gutbrain interpret", "profile": "p.tsv", "inputs": {"p.tsv": "cd" * 32}},
)


@pytest.mark.parametrize("run_info", _OLD_RUN_INFOS)
def test_run_info_written_before_it_was_typed_reads_and_writes_back_the_same(
    tmp_path: Path, run_info: dict[str, object]
) -> None:
    raw = json.loads(minimal_result().model_dump_json())
    raw["provenance"]["run_info"] = run_info
    path = tmp_path / "old.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    result = read_result(path)
    # the same keys and values come back out: nothing added (no nulls), nothing lost
    assert json.loads(result.model_dump_json())["provenance"]["run_info"] == run_info
    assert result.provenance.run_info.updated().model_dump() == run_info


def test_run_info_is_typed() -> None:
    info = RunInfo(preset=ReadType.hifi, stage_seconds={"profile": 2})
    assert info.preset is ReadType.hifi
    assert info.stage_seconds == {"profile": 2.0}
    assert info.updated(threads=3).model_dump() == {
        "preset": "hifi",
        "threads": 3,
        "stage_seconds": {"profile": 2.0},
    }
    assert RunInfo().model_dump() == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [("stage_seconds", {"profile": "slow"}), ("preset", "sanger"), ("firmicutes", 1)],
)
def test_bad_or_unknown_run_info_is_refused(tmp_path: Path, key: str, value: object) -> None:
    raw = json.loads(minimal_result().model_dump_json())
    raw["provenance"]["run_info"] = {key: value}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputFormatError, match="run_info"):
        read_result(path)
