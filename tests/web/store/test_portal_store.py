"""The portal's Store on SQLite and PostgreSQL: schema, accounts, sessions, samples, access."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.errors import DuplicateError
from gutbrain.web.db.models import Base
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import (
    JobState,
    Role,
    SampleSummary,
    Store,
    StoredFile,
    StoreUsageError,
)
from tests.web.store.store_helpers import MakeSample, People, consent_by, write_upload

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_models_and_migrations_agree(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_opening_twice_keeps_the_data(settings: PortalSettings, store: Store) -> None:
    account = store.create_account("x@example.org", "h", Role.LAB, "X")
    again = Store.open(settings)
    try:
        assert again.account(account.id) == account
    finally:
        again.close()


def test_sqlite_runs_in_wal_with_full_sync_foreign_keys_and_busy_timeout(
    sqlite_store: Store,
) -> None:
    with sqlite_store.engine.connect() as connection:
        pragma = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


def test_audit_log_is_append_only(store: Store) -> None:
    store.audit("a" * 32, "view", "sample", "b" * 32, "ok")
    for statement in ("UPDATE audit_events SET outcome = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as c:
            c.execute(sa.text(statement))
    [event] = store.audit_events()
    assert (event.actor_id, event.action, event.object_id, event.outcome) == (
        "a" * 32,
        "view",
        "b" * 32,
        "ok",
    )
    assert event.at.tzinfo is not None


def test_postgresql_audit_log_cannot_be_truncated(postgres_store: Store) -> None:
    postgres_store.audit(None, "login", "account", None, "failed")
    engine = postgres_store.engine
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(sa.text("TRUNCATE audit_events"))


def test_duplicate_email_is_refused_case_insensitively(store: Store) -> None:
    store.create_account("Ann@Example.org", "h", Role.PERSON, "Ann")
    with pytest.raises(DuplicateError) as caught:
        store.create_account(" ann@example.ORG", "h2", Role.LAB, "Other")
    assert caught.value.code == "GB-DUPLICATE-EMAIL"
    assert caught.value.exit_code == 65
    assert _count(store, "accounts") == 1


def test_credentials_and_password_change(store: Store) -> None:
    account = store.create_account("ann@example.org", "old", Role.PERSON, "Ann")
    assert store.credentials("ANN@example.org") == (account, "old")
    store.set_password_hash(account.id, "new")
    assert store.credentials("ann@example.org") == (account, "new")
    assert store.credentials("nobody@example.org") is None
    assert store.account("0" * 32) is None


def test_count_admins(store: Store) -> None:
    assert store.count_admins() == 0
    store.create_account("a@example.org", "h", Role.ADMIN, "A")
    store.create_account("l@example.org", "h", Role.LAB, "L")
    assert store.count_admins() == 1


def test_sessions_expire_and_end(store: Store, people: People) -> None:
    store.create_session("t1", people.person.id, "csrf1", NOW + dt.timedelta(hours=1))
    store.create_session("t2", people.person.id, "csrf2", NOW + dt.timedelta(hours=1))
    assert store.session("t1", NOW) == (people.person, "csrf1")
    assert store.session("t1", NOW + dt.timedelta(hours=1)) is None  # expired at that instant
    assert store.session("nope", NOW) is None
    store.delete_session("t1")
    assert store.session("t1", NOW) is None
    assert store.session("t2", NOW) is not None
    store.delete_sessions_of(people.person.id)
    assert store.session("t2", NOW) is None


def test_login_failures_are_counted_in_a_window(store: Store) -> None:
    for minutes in (0, 1, 2, 10):
        store.record_login_failure("ip:127.0.0.1", NOW + dt.timedelta(minutes=minutes))
    store.record_login_failure("ip:10.0.0.1", NOW)
    assert store.login_failures_since("ip:127.0.0.1", NOW + dt.timedelta(minutes=1)) == 3
    assert store.login_failures_since("ip:127.0.0.1", NOW) == 4
    assert store.prune_login_failures(NOW + dt.timedelta(minutes=2)) == 3
    assert store.login_failures_since("ip:127.0.0.1", NOW) == 2


def test_linking_people_is_idempotent_and_checks_roles(store: Store, people: People) -> None:
    store.link_person(people.lab.id, people.person.id)
    assert [a.id for a in store.people_of_lab(people.lab.id)] == [
        people.person.id,
        people.other_person.id,
    ]
    assert store.lab_serves(people.other_lab.id, people.person.id)
    assert not store.lab_serves(people.other_lab.id, people.other_person.id)
    with pytest.raises(StoreUsageError):
        store.link_person(people.person.id, people.other_person.id)
    with pytest.raises(StoreUsageError):
        store.link_person(people.lab.id, people.other_lab.id)


def test_a_sample_is_seen_only_by_its_person_and_its_uploading_lab(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    sample = make_sample(b"reads-1")
    assert sample.job.state == JobState.QUEUED
    assert sample.job.attempt == 1
    assert store.sample_for(people.person, sample.id) == sample
    assert store.sample_for(people.lab, sample.id) == sample
    for outsider in (people.other_person, people.other_lab, people.admin):
        assert store.sample_for(outsider, sample.id) is None
    assert store.samples_of_lab(people.other_lab.id) == []
    assert store.samples_of_person(people.other_person.id) == []


def test_duplicate_upload_for_the_same_person_stores_nothing(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    make_sample(b"reads-1")
    before = {t: _count(store, t) for t in ("samples", "sample_files", "consents", "jobs")}
    # the same reads by the other lab that serves this person: refused
    with pytest.raises(DuplicateError) as caught:
        make_sample(b"reads-1", lab=people.other_lab)
    assert caught.value.code == "GB-DUPLICATE-UPLOAD"
    assert {t: _count(store, t) for t in before} == before
    # the same bytes for another person are that person's own sample
    make_sample(b"reads-1", person=people.other_person)
    assert len(store.samples_of_person(people.other_person.id)) == 1


def test_the_same_file_twice_in_one_upload_is_a_duplicate(
    store: Store, settings: PortalSettings, people: People
) -> None:
    reads = write_upload(settings, "reads", b"same")
    second = write_upload(settings, "reads_r2", b"same")
    with pytest.raises(DuplicateError):
        store.create_sample(
            lab_id=people.lab.id,
            person_id=people.person.id,
            label="x",
            collected_on=dt.date(2026, 1, 1),
            preset="ont",
            files=[reads, second],
            consent=consent_by(people.lab),
        )
    assert _count(store, "samples") == 0


@pytest.mark.parametrize(
    ("kinds", "why"),
    [
        (("answers",), "reads or a table"),
        (("reads", "table"), "reads or a table"),
        (("reads", "reads"), "more than once"),
        (("table", "reads_r2"), "reads_r2 needs reads"),
        (("reads", "photo"), "unknown file kinds"),
    ],
)
def test_sample_files_must_make_sense(
    store: Store, settings: PortalSettings, people: People, kinds: tuple[str, ...], why: str
) -> None:
    files = [write_upload(settings, kind, f"{i}".encode()) for i, kind in enumerate(kinds)]
    with pytest.raises(StoreUsageError, match=why):
        store.create_sample(
            lab_id=people.lab.id,
            person_id=people.person.id,
            label="x",
            collected_on=dt.date(2026, 1, 1),
            preset="ont",
            files=files,
            consent=consent_by(people.lab),
        )
    assert _count(store, "samples") == 0


def test_a_lab_uploads_only_for_people_it_serves(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    with pytest.raises(StoreUsageError, match="does not serve"):
        make_sample(b"r", person=people.other_person, lab=people.other_lab)
    assert _count(store, "samples") == 0


def test_files_outside_the_data_folder_are_refused(
    store: Store, people: People, tmp_path: Path
) -> None:
    outside = StoredFile("reads", tmp_path / "elsewhere.fq", "r.fq", 1, "0" * 64)
    with pytest.raises(StoreUsageError, match="outside the data folder"):
        store.create_sample(
            lab_id=people.lab.id,
            person_id=people.person.id,
            label="x",
            collected_on=dt.date(2026, 1, 1),
            preset="ont",
            files=[outside],
            consent=consent_by(people.lab),
        )


def test_samples_of_a_person_come_by_collection_date(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    late = make_sample(b"a", collected_on=dt.date(2026, 5, 1))
    early = make_sample(b"b", collected_on=dt.date(2026, 2, 1), lab=people.other_lab)
    assert [s.id for s in store.samples_of_person(people.person.id)] == [early.id, late.id]
    assert [s.id for s in store.samples_of_lab(people.lab.id)] == [late.id]
    assert [f.kind for f in late.files] == ["reads"]
    assert store.samples_of_person(people.person.id)[1].files == late.files


def _summary(sample_id: str, day: dt.date, phq9: float) -> SampleSummary:
    return SampleSummary(
        sample_id=sample_id,
        collected_on=day,
        shannon=2.5,
        observed_richness=40,
        guild_shares={"butyrate producers": 0.2},
        scores={"PHQ-9": phq9},
        alerts=({"level": "prompt", "title": "See a doctor"},),
    )


def test_job_lifecycle_claim_heartbeat_finish(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    first = make_sample(b"a", collected_on=dt.date(2026, 5, 1))
    second = make_sample(b"b", collected_on=dt.date(2026, 2, 1))
    job = store.claim_job("w1", NOW)
    assert job is not None
    assert job.sample_id == first.id
    assert job.state == JobState.RUNNING
    assert store.heartbeat(job.id, "w1", NOW, "profile", 0.5)
    assert not store.heartbeat(job.id, "w2", NOW, "profile", 0.5)  # not w2's job
    sample = store.sample_for(people.person, first.id)
    assert sample is not None
    assert (sample.job.stage, sample.job.progress) == ("profile", 0.5)
    assert store.finish_job(job.id, "w1", _summary(first.id, first.collected_on, 7))
    assert not store.finish_job(job.id, "w1", _summary(first.id, first.collected_on, 7))
    other = store.claim_job("w2", NOW)
    assert other is not None
    assert other.sample_id == second.id
    assert store.claim_job("w3", NOW) is None
    assert store.fail_job(other.id, "w2", "GB-FQ-QLEN: the reads file is malformed")
    assert store.summaries_of_person(people.person.id) == [
        _summary(first.id, first.collected_on, 7)
    ]
    failed = store.job(other.id)
    assert failed is not None
    assert failed.state == JobState.FAILED
    assert failed.error == "GB-FQ-QLEN: the reads file is malformed"


def test_summaries_come_by_collection_date(
    store: Store, people: People, make_sample: MakeSample
) -> None:
    days = [dt.date(2026, 3, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    for i, day in enumerate(days):
        sample = make_sample(f"r{i}".encode(), collected_on=day)
        job = store.claim_job("w", NOW)
        assert job is not None
        store.finish_job(job.id, "w", _summary(sample.id, day, float(i)))
    assert [s.collected_on for s in store.summaries_of_person(people.person.id)] == sorted(days)


def test_an_expired_lease_requeues_once_then_fails_with_the_reason(
    store: Store, make_sample: MakeSample
) -> None:
    sample = make_sample(b"a")
    lease = dt.timedelta(seconds=60)
    job = store.claim_job("w1", NOW)
    assert job is not None
    assert store.recover_jobs(NOW + lease / 2) == 0  # lease still held
    assert store.recover_jobs(NOW + 2 * lease) == 1
    requeued = store.job(job.id)
    assert requeued is not None
    assert (requeued.state, requeued.attempt) == (JobState.QUEUED, 2)
    assert not store.heartbeat(job.id, "w1", NOW + 2 * lease, "profile", 0.1)  # w1 lost it
    again = store.claim_job("w2", NOW + 2 * lease)
    assert again is not None
    assert again.id == job.id
    assert again.attempt == 2
    assert store.recover_jobs(NOW + 4 * lease) == 1
    failed = store.job(job.id)
    assert failed is not None
    assert failed.state == JobState.FAILED
    assert failed.attempt == 2
    assert failed.error is not None
    assert "stopped during the analysis twice" in failed.error
    assert store.claim_job("w3", NOW + 5 * lease) is None
    assert sample.job.id == job.id


def test_store_times_are_aware_utc(store: Store, people: People) -> None:
    assert people.person.created_at.tzinfo == dt.UTC
    fetched = store.account(people.person.id)
    assert fetched is not None
    assert fetched.created_at == people.person.created_at


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(
    shannon=st.none() | st.floats(0, 10, allow_nan=False),
    richness=st.none() | st.integers(0, 10_000),
    guilds=st.dictionaries(_names, st.floats(0, 1, allow_nan=False), max_size=5),
    scores=st.dictionaries(_names, st.floats(0, 100, allow_nan=False), max_size=5),
    alerts=st.lists(st.fixed_dictionaries({"level": _names, "title": _names}), max_size=3),
)
def test_summary_json_round_trips(
    shannon: float | None,
    richness: int | None,
    guilds: dict[str, float],
    scores: dict[str, float],
    alerts: list[dict[str, str]],
) -> None:
    summary = SampleSummary(
        sample_id="a" * 32,
        collected_on=dt.date(2026, 1, 31),
        shannon=shannon,
        observed_richness=richness,
        guild_shares=guilds,
        scores=scores,
        alerts=tuple(alerts),
    )
    assert SampleSummary.from_json(summary.to_json()) == summary


@pytest.mark.parametrize(
    ("actor", "action", "object_id", "outcome"),
    [
        ("ann@example.org", "login", None, "failed"),  # an email as the actor
        (None, "view", "Zelda's sample", "ok"),  # free text as the object
        (None, "answers: PHQ-9 item 9 = 3", None, "ok"),  # content in the action
        (None, "view", None, "x" * 40),  # an over-long outcome
    ],
)
def test_the_audit_log_refuses_anything_but_ids_and_words(
    store: Store, actor: str | None, action: str, object_id: str | None, outcome: str
) -> None:
    with pytest.raises(StoreUsageError, match="never personal content"):
        store.audit(actor, action, "sample", object_id, outcome)
    assert store.audit_events() == []


def test_expired_sessions_are_removed(store: Store, people: People) -> None:
    store.create_session("old", people.person.id, "c1", NOW)
    store.create_session("new", people.person.id, "c2", NOW + dt.timedelta(hours=2))
    assert store.delete_expired_sessions(NOW + dt.timedelta(hours=1)) == 1
    assert store.session("new", NOW) is not None


def test_settings_accept_only_sqlite_and_postgresql(tmp_path: Path) -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="not supported"):
        PortalSettings(data_dir=tmp_path, database_url="mysql://u@h/db")
    settings = PortalSettings(data_dir=tmp_path, database_url="postgresql://u@h:5432/db")
    assert settings.resolved_database_url() == "postgresql+psycopg://u@h:5432/db"
    assert PortalSettings(data_dir=tmp_path).resolved_database_url().endswith("/portal.db")
    assert settings.uploads_dir == tmp_path / "uploads"
