"""Deleting a sample or a person removes files and rows; canaries are gone from disk."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from gutbrain.web.export import export_person
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import (
    JobState,
    Role,
    Sample,
    SampleSummary,
    Store,
    StoreUsageError,
)
from tests.web.store.store_helpers import MakeSample, People, consent_by, write_upload

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
CANARY_NAME = "Zelda Quixotic-Canary"
CANARY_EMAIL = "zelda.canary.7f3a@example.org"
#: an answer value nobody else has: the PHQ-9 answers file and the stored total carry it
CANARY_ANSWER = "phq9: [3, 3, 3, 2, 3, 3, 2, 3, 1]  # canary-answer-7f3a"
CANARY_TOTAL = 23.456789
CANARIES = (CANARY_NAME, CANARY_EMAIL, "canary-answer-7f3a", "23.456789")


def _finish(store: Store, sample: Sample, *, total: float) -> None:
    """Play the worker: claim the job, write the run's files, record the summary."""
    job = store.claim_job("w", NOW)
    assert job is not None
    assert job.sample_id == sample.id
    out = store.result_dir(sample.id)
    out.mkdir(parents=True)
    result = {"questionnaires": [{"name": "PHQ-9", "scorable": True, "score": total}]}
    (out / "result.json").write_text(json.dumps(result))
    (out / "report.html").write_text(f"<html>{CANARY_NAME} PHQ-9 {total}</html>")
    (out / "profile.tsv").write_text("sample\trank\ttaxon\n")
    summary = SampleSummary(sample.id, sample.collected_on, 2.0, 30, {}, {"PHQ-9": total})
    assert store.finish_job(job.id, "w", summary)


def _person_rows(store: Store, person_id: str, sample_ids: list[str]) -> dict[str, int]:
    queries = {
        "accounts": ("SELECT count(*) FROM accounts WHERE id = :p", {"p": person_id}),
        "sessions": ("SELECT count(*) FROM sessions WHERE account_id = :p", {"p": person_id}),
        "lab_people": ("SELECT count(*) FROM lab_people WHERE person_id = :p", {"p": person_id}),
        "samples": ("SELECT count(*) FROM samples WHERE person_id = :p", {"p": person_id}),
        "sample_files": (
            "SELECT count(*) FROM sample_files WHERE person_id = :p",
            {"p": person_id},
        ),
        "login_failures": (
            "SELECT count(*) FROM login_failures WHERE key LIKE :k",
            {"k": f"%{CANARY_EMAIL}%"},
        ),
    }
    counts = {}
    with store.engine.connect() as connection:
        for table, (query, params) in queries.items():
            counts[table] = int(connection.execute(sa.text(query), params).scalar_one())
        for table in ("jobs", "consents"):
            counts[table] = sum(
                int(
                    connection.execute(
                        sa.text(f"SELECT count(*) FROM {table} WHERE sample_id = :s"), {"s": s}
                    ).scalar_one()
                )
                for s in sample_ids
            )
    return counts


def _canary_person(store: Store, settings: PortalSettings, people: People) -> list[Sample]:
    person = store.create_account(CANARY_EMAIL, "hash", Role.PERSON, CANARY_NAME)
    store.link_person(people.lab.id, person.id)
    store.create_session("token-hash", person.id, "csrf", NOW + dt.timedelta(hours=1))
    store.record_login_failure(f"account:{CANARY_EMAIL}", NOW)
    samples = []
    for i in range(2):
        files = [
            write_upload(settings, "reads", f"reads of zelda {i}".encode()),
            write_upload(settings, "answers", CANARY_ANSWER.encode()),
        ]
        sample = store.create_sample(
            lab_id=people.lab.id,
            person_id=person.id,
            label=f"visit {i}",
            collected_on=dt.date(2026, 1, 1 + i),
            preset="ont",
            files=files,
            consent=consent_by(people.lab),
        )
        _finish(store, sample, total=CANARY_TOTAL)
        samples.append(sample)
    return samples


def _files_holding(folder: Path, needles: tuple[str, ...]) -> list[str]:
    """Files (other than the SQLite database's own) under ``folder`` that contain a needle."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("portal.db"):
            data = path.read_bytes()
            found += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    return found


def test_deleting_a_person_removes_every_row_and_file(
    store: Store, settings: PortalSettings, people: People
) -> None:
    samples = _canary_person(store, settings, people)
    person_id = samples[0].person_id
    ids = [s.id for s in samples]
    export = export_person(store, person_id)  # an export not yet fetched is removed too
    before = _person_rows(store, person_id, ids)
    assert all(before.values()), before  # the test can fail: everything was there
    assert _files_holding(settings.data_dir, CANARIES)

    receipt = store.delete_person(person_id, people.admin.id)

    assert _person_rows(store, person_id, ids) == dict.fromkeys(before, 0)
    assert receipt.rows_removed == sum(before.values())
    assert receipt.files_removed == 2 * (2 + 3) + 1  # per sample 2 uploads, 3 results; the export
    assert not export.exists()
    assert _files_holding(settings.data_dir, CANARIES) == []
    assert "no backups of its own" in receipt.remains
    assert "audit log" in receipt.remains
    # the other people's data is untouched
    assert store.account(people.person.id) == people.person
    assert store.lab_serves(people.lab.id, people.person.id)
    # the audit log keeps the deletion, by ids
    latest = store.audit_events()[0]
    assert (latest.actor_id, latest.action, latest.object_id) == (
        people.admin.id,
        "delete_person",
        person_id,
    )
    assert store.samples_of_person(person_id) == []
    assert store.summaries_of_person(person_id) == []
    store.compact()  # the operator's follow-up: free space rebuilt, the data stays
    assert store.account(people.person.id) == people.person


def test_sqlite_file_and_wal_hold_no_canary_after_deleting_a_person(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = store.settings
    assert settings is not None
    lab = store.create_account("lab@example.org", "h", Role.LAB, "Lab")
    other = store.create_account("other@example.org", "h", Role.PERSON, "Other")
    store.link_person(lab.id, other.id)
    people = People(admin=lab, lab=lab, other_lab=lab, person=other, other_person=other)
    samples = _canary_person(store, settings, people)
    db = settings.data_dir / "portal.db"
    database_files = (db, db.with_name("portal.db-wal"))

    def leaks() -> list[str]:
        return [
            f"{path.name}: {needle}"
            for path in database_files
            if path.exists()
            for needle in CANARIES
            if needle.encode() in path.read_bytes()
        ] + _files_holding(settings.data_dir, CANARIES)

    assert leaks()  # before: the canaries are in the database (file or WAL) and on disk
    store.delete_person(samples[0].person_id, lab.id)
    # deleted pages are zeroed (secure_delete) and the log is checkpointed by the deletion
    assert leaks() == []
    store.compact()  # checkpoint + VACUUM
    assert leaks() == []


def test_a_sample_is_deleted_by_its_person_or_uploading_lab_only(
    store: Store, settings: PortalSettings, people: People, make_sample: MakeSample
) -> None:
    first = make_sample(b"one", answers=b"phq9: [0, 0, 0, 0, 0, 0, 0, 0, 0]")
    second = make_sample(b"two", lab=people.other_lab)
    _finish(store, first, total=3.0)
    upload_paths = [f.path for f in first.files]
    for outsider in (people.other_person, people.other_lab, people.admin):
        assert store.delete_sample(outsider, first.id) is None
    assert store.sample_for(people.person, first.id) is not None
    receipt = store.delete_sample(people.lab, first.id)
    assert receipt is not None
    assert receipt.files_removed == 2 + 3  # reads + answers uploads, 3 result files
    assert receipt.rows_removed == 1 + 2 + 1 + 1  # sample, 2 files, consent, job
    assert not any(p.exists() for p in upload_paths)
    assert not (settings.results_dir / first.id).exists()
    assert [s.id for s in store.samples_of_person(people.person.id)] == [second.id]
    assert store.delete_sample(people.person, second.id) is not None
    assert store.samples_of_person(people.person.id) == []


def test_only_a_person_account_is_deleted_as_a_person(store: Store, people: People) -> None:
    with pytest.raises(StoreUsageError):
        store.delete_person(people.lab.id, people.admin.id)
    assert store.account(people.lab.id) == people.lab
    receipt = store.delete_person("0" * 32, people.admin.id)
    assert (receipt.files_removed, receipt.rows_removed) == (0, 0)


def test_export_holds_every_sample_result_and_upload(
    store: Store, settings: PortalSettings, people: People, make_sample: MakeSample
) -> None:
    done = make_sample(b"one", answers=b"phq9: [1, 1, 1, 1, 1, 1, 1, 1, 1]")
    waiting = make_sample(b"two", collected_on=dt.date(2026, 2, 1))
    _finish(store, done, total=9.0)
    make_sample(b"three", person=people.other_person)  # someone else's: never exported
    path = export_person(store, people.person.id)
    assert path.parent == settings.tmp_dir
    assert path.name.startswith(f"export-{people.person.id}-")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        samples = json.loads(archive.read("samples.json"))
        account = json.loads(archive.read("account.json"))
        answers = archive.read(f"2026-01-01-{done.id}/answers.txt")
    folder = f"2026-01-01-{done.id}"
    assert names == {
        "README.txt",
        "account.json",
        "samples.json",
        f"{folder}/result.json",
        f"{folder}/report.html",
        f"{folder}/profile.tsv",
        f"{folder}/answers.txt",
    }
    assert answers == b"phq9: [1, 1, 1, 1, 1, 1, 1, 1, 1]"
    assert account["email"] == people.person.email
    assert [(s["id"], s["analysis"]) for s in samples] == [
        (done.id, JobState.DONE.value),
        (waiting.id, JobState.QUEUED.value),
    ]
    assert samples[0]["consent"]["scope"] == "analysis and report"
    # no partial file is left beside the export
    assert [p.name for p in settings.tmp_dir.iterdir()] == [path.name]


def test_export_of_a_full_disk_leaves_nothing(
    store: Store, settings: PortalSettings, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gutbrain.errors import OutputError

    def full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gutbrain.web.export.os.fsync", full)
    with pytest.raises(OutputError, match="No space left"):
        export_person(store, people.person.id)
    assert list(settings.tmp_dir.iterdir()) == []
