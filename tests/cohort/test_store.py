"""The cohort store: atomic publish-then-commit, idempotent upserts, one writer, integrity check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.cohort.store import open_store, profile_rows_table, score_rows_table
from gutbrain.errors import InputFormatError, InputMissingError, StoreBusyError


def _tables(value: float) -> tuple[object, object]:
    profile = profile_rows_table(
        [
            {
                "sample_id": "S1",
                "rank": "genus",
                "taxon": "Bacteroides",
                "abundance": value,
                "reads": 10.0,
            },
            {
                "sample_id": "S1",
                "rank": "genus",
                "taxon": "Prevotella",
                "abundance": 1 - value,
                "reads": 5.0,
            },
        ]
    )
    scores = score_rows_table(
        [{"sample_id": "S1", "kind": "alpha", "name": "shannon", "value": 0.5}]
    )
    return profile, scores


def test_commit_is_idempotent_and_replaces_old_files(tmp_path: Path) -> None:
    with open_store(tmp_path / "store", writable=True) as store:
        profile, scores = _tables(0.6)
        store.commit_sample("S1", task_key="a" * 64, run_id="r1", profile=profile, scores=scores)
        store.commit_sample("S1", task_key="a" * 64, run_id="r2", profile=profile, scores=scores)
        records = store.records()
        assert list(records) == ["S1"]
        assert records["S1"].attempts == 2
        assert records["S1"].n_taxa == 2
        assert records["S1"].total_reads == 15.0
        assert store.is_done(records["S1"], "a" * 64)
        assert not store.is_done(records["S1"], "b" * 64)
        profile2, scores2 = _tables(0.3)
        store.commit_sample("S1", task_key="b" * 64, run_id="r3", profile=profile2, scores=scores2)
        assert sorted(p.name for p in (tmp_path / "store" / "profiles").iterdir()) == [
            f"S1.{'b' * 12}.parquet"
        ]
        con = store.connect_duckdb()
        assert con.execute("SELECT count(*), sum(abundance) FROM profiles").fetchone() == (2, 1.0)
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (1,)


def test_tampered_file_is_not_done(tmp_path: Path) -> None:
    with open_store(tmp_path / "store", writable=True) as store:
        profile, scores = _tables(0.6)
        store.commit_sample("S1", task_key="a" * 64, run_id="r1", profile=profile, scores=scores)
        record = store.records()["S1"]
        (tmp_path / "store" / str(record.profile_file)).write_bytes(b"garbage")
        assert not store.is_done(record, "a" * 64)


def test_orphans_and_partials_are_collected_on_open(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with open_store(root, writable=True):
        pass
    orphan = root / "profiles" / "S9.deadbeef0000.parquet"
    orphan.write_bytes(b"published but never committed")
    partial = root / "scores" / ".S9.parquet.partial-xyz"
    partial.write_bytes(b"half")
    with open_store(root, writable=True):
        assert not orphan.exists()
        assert not partial.exists()


def test_failed_sample_is_recorded_with_reason(tmp_path: Path) -> None:
    with open_store(tmp_path / "store", writable=True) as store:
        store.mark_failed("S2", task_key="c" * 64, run_id="r1", code="GB-INPUT", message="bad")
        record = store.records()["S2"]
        assert (record.status, record.error_code, record.error_message) == (
            "failed",
            "GB-INPUT",
            "bad",
        )
        assert not store.is_done(record, "c" * 64)


def test_second_writer_process_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    code = (
        "import sys\nfrom gutbrain.cohort.store import open_store\n"
        "from gutbrain.errors import StoreBusyError\n"
        f"try:\n    open_store({str(root)!r}, writable=True)\n"
        "except StoreBusyError as e:\n    print(e.code, e)\n    sys.exit(3)\n"
    )
    with open_store(root, writable=True):
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 3, proc.stderr
        assert "GB-BUSY" in proc.stdout
        assert "another process" in proc.stdout
        with open_store(root) as reader:  # readers are not blocked by the writer
            assert reader.records() == {}
    with open_store(root, writable=True):  # released on close
        pass


def test_same_process_second_writer_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "s", writable=True), pytest.raises(StoreBusyError):
        open_store(tmp_path / "s", writable=True)


def test_corrupt_catalogue_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with open_store(root, writable=True):
        pass
    catalogue = root / "catalogue.sqlite"
    data = bytearray(catalogue.read_bytes())
    data[0:16] = b"not a database!!"
    catalogue.write_bytes(bytes(data))
    with pytest.raises(InputFormatError, match=r"catalogue\.sqlite"):
        open_store(root)


def test_read_only_open_of_missing_store(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError, match="not a cohort store"):
        open_store(tmp_path / "none")


def test_result_json_is_part_of_a_done_sample(tmp_path: Path) -> None:
    root = tmp_path / "store"
    with open_store(root, writable=True) as store:
        profile, scores = _tables(0.6)
        store.commit_sample(
            "S1",
            task_key="a" * 64,
            run_id="r",
            profile=profile,
            scores=scores,
            result_json='{"sample_id": "S1"}',
        )
        record = store.records()["S1"]
        assert record.result_file == f"results/S1.{'a' * 12}.json"
        assert store.read_result_json("S1") == '{"sample_id": "S1"}'
        assert store.is_done(record, "a" * 64)
        (root / record.result_file).write_text("{}")
        assert not store.is_done(record, "a" * 64)  # checksum mismatch: redo
        store.mark_failed("S1", task_key="a" * 64, run_id="r2", code="X", message="y")
        assert not (root / record.result_file).exists()  # stale files removed
        assert store.read_result_json("S1") is None
