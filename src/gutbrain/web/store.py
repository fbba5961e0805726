"""The portal's repository: every read and write of the database goes through :class:`Store`.

Plain frozen dataclasses come out (no ORM object leaks to the app). Every id is ``uuid4().hex``:
unguessable, and still never authorisation. Every method is its own transaction. Times are
timezone-aware UTC ``datetime``.

Jobs are claimed with a conditional update (``state='queued' -> 'running' … WHERE
state='queued'``), so two workers never run one job; a running job holds a lease renewed by
heartbeats, and :meth:`Store.recover_jobs` sends a job whose lease expired back to the queue
(``attempt + 1``) or, at the last attempt, fails it with a plain reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gutbrain.errors import DuplicateError, ErrorCode, OutputError
from gutbrain.web.db.engine import WRITE, create_engine, migrate
from gutbrain.web.db.models import (
    AccountRow,
    AuditEventRow,
    ConsentRow,
    JobRow,
    LabPersonRow,
    LoginFailureRow,
    SampleFileRow,
    SampleRow,
    SessionRow,
)
from gutbrain.web.settings import PortalSettings

__all__ = [
    "FILE_KINDS",
    "Account",
    "AuditEvent",
    "Consent",
    "DeletionReceipt",
    "DuplicateError",
    "Job",
    "JobState",
    "Role",
    "Sample",
    "SampleSummary",
    "Store",
    "StoreUsageError",
    "StoredFile",
    "new_id",
]

logger = logging.getLogger(__name__)

#: Kinds of uploaded files; reads (and a second reads file) or a table, answers and markers.
FILE_KINDS: tuple[str, ...] = ("reads", "reads_r2", "table", "answers", "markers")
#: Kinds whose SHA-256 may not repeat for one person (the same upload twice).
_DEDUP_KINDS = frozenset({"reads", "reads_r2", "table"})
_NO_BACKUPS = (
    "gutbrain keeps no backups of its own. Copies in backups that the operator of this server "
    "made before the deletion are not reached by it; they disappear when those backups expire."
)


def new_id() -> str:
    """A fresh unguessable id (``uuid4().hex``, 32 hexadecimal characters)."""
    return uuid.uuid4().hex


class StoreUsageError(RuntimeError):
    """The caller broke a rule of the store (a bug in the app, not the user's input)."""


class Role(StrEnum):
    """What an account may do: admins create labs, labs upload for people, people see theirs."""

    ADMIN = "admin"
    LAB = "lab"
    PERSON = "person"


class JobState(StrEnum):
    """``queued -> running -> done | failed``; running returns to queued when its lease expires."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Account:
    """An admin, lab or person account (without its password hash)."""

    id: str
    email: str
    role: Role
    display_name: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file uploaded with a sample, already on disk under a server-made name.

    ``kind`` is one of :data:`FILE_KINDS`; ``original_name`` is the uploader's file name, kept
    only as (escaped, length-capped) metadata and never used in a path.
    """

    kind: str
    path: Path
    original_name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Consent:
    """The consent record a lab gives with a sample (``recorded_by`` is the lab account id)."""

    given_at: dt.datetime
    version: str
    recorded_by: str
    scope: str


@dataclass(frozen=True, slots=True)
class Job:
    """The analysis job of one sample.

    ``attempt`` counts from 1; ``stage`` is one of :data:`gutbrain.workflow.run.STAGES` while
    running; ``progress`` lies in [0, 1]; ``error`` is a plain reason when failed.
    """

    id: str
    sample_id: str
    state: JobState
    attempt: int
    stage: str | None
    progress: float | None
    error: str | None
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of one person, uploaded by one lab, with its job and files."""

    id: str
    person_id: str
    lab_id: str
    label: str
    collected_on: dt.date
    preset: str
    created_at: dt.datetime
    job: Job
    files: tuple[StoredFile, ...]


@dataclass(frozen=True, slots=True)
class SampleSummary:
    """What the longitudinal view plots for one finished sample (from the run's result.json).

    ``guild_shares`` maps a guild name to its share of the profile (only guilds that could be
    computed); ``scores`` maps a questionnaire name to its total; ``alerts`` are the run's safety
    alerts in order, each with ``level`` and ``title``.
    """

    sample_id: str
    collected_on: dt.date
    shannon: float | None
    observed_richness: int | None
    guild_shares: Mapping[str, float] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)
    alerts: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> str:
        """This summary as a JSON object (how the jobs table stores it)."""
        return json.dumps(
            {
                "sample_id": self.sample_id,
                "collected_on": self.collected_on.isoformat(),
                "shannon": self.shannon,
                "observed_richness": self.observed_richness,
                "guild_shares": dict(self.guild_shares),
                "scores": dict(self.scores),
                "alerts": [dict(alert) for alert in self.alerts],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SampleSummary:
        """The summary stored by :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            sample_id=str(data["sample_id"]),
            collected_on=dt.date.fromisoformat(data["collected_on"]),
            shannon=None if data["shannon"] is None else float(data["shannon"]),
            observed_richness=(
                None if data["observed_richness"] is None else int(data["observed_richness"])
            ),
            guild_shares={str(k): float(v) for k, v in data["guild_shares"].items()},
            scores={str(k): float(v) for k, v in data["scores"].items()},
            alerts=tuple({str(k): str(v) for k, v in a.items()} for a in data["alerts"]),
        )


@dataclass(frozen=True, slots=True)
class DeletionReceipt:
    """What a deletion removed, and in plain words what remains (backups, the audit log)."""

    files_removed: int
    rows_removed: int
    remains: str


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit-log entry: ids, action and outcome only (never personal content)."""

    id: int
    at: dt.datetime
    actor_id: str | None
    action: str
    object_type: str
    object_id: str | None
    outcome: str


#: What an audit event may hold: ids (``uuid4().hex``) and short words (no "@", no free text).
#: A page view's audit event waits at most this long (seconds) before it is written.
VIEW_AUDIT_SECONDS = 1.0
#: This many waiting view events are written at once, without waiting for the interval.
VIEW_AUDIT_BATCH = 256
_AUDIT_ID = re.compile(r"[0-9a-f]{32}")
_AUDIT_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,31}")


def _email_key(email: str) -> str:
    return email.strip().casefold()


#: A row of a Core select (named columns read as attributes).
_CoreRow = sa.Row[*tuple[Any, ...]]
#: The columns the hot read paths select with SQLAlchemy Core (no ORM objects to build).
_ACCOUNT_COLUMNS = (
    AccountRow.id,
    AccountRow.email,
    AccountRow.role,
    AccountRow.display_name,
    AccountRow.created_at,
)
_SAMPLE_COLUMNS = (
    SampleRow.id,
    SampleRow.person_id,
    SampleRow.lab_id,
    SampleRow.label,
    SampleRow.collected_on,
    SampleRow.preset,
    SampleRow.created_at,
    JobRow.id.label("job_id"),
    JobRow.state.label("job_state"),
    JobRow.attempt.label("job_attempt"),
    JobRow.stage.label("job_stage"),
    JobRow.progress.label("job_progress"),
    JobRow.error.label("job_error"),
    JobRow.updated_at.label("job_updated_at"),
)
_FILE_COLUMNS = (
    SampleFileRow.sample_id,
    SampleFileRow.kind,
    SampleFileRow.path,
    SampleFileRow.original_name,
    SampleFileRow.size,
    SampleFileRow.sha256,
)


# The statements of every page view are built once: a reused statement skips SQLAlchemy's
# statement construction and its cached-result adaptation (most of a lookup's CPU time).
_SESSION_LOOKUP = (
    sa.select(*_ACCOUNT_COLUMNS, SessionRow.csrf_token)
    .join_from(SessionRow, AccountRow, SessionRow.account_id == AccountRow.id)
    .where(
        SessionRow.token_hash == sa.bindparam("token_hash"),
        SessionRow.expires_at > sa.bindparam("now"),
    )
)
_SAMPLES = sa.select(*_SAMPLE_COLUMNS).join_from(
    SampleRow, JobRow, JobRow.sample_id == SampleRow.id
)
_SAMPLE_OF_PERSON = _SAMPLES.where(
    SampleRow.id == sa.bindparam("sample_id"), SampleRow.person_id == sa.bindparam("viewer_id")
)
_SAMPLE_OF_LAB = _SAMPLES.where(
    SampleRow.id == sa.bindparam("sample_id"), SampleRow.lab_id == sa.bindparam("viewer_id")
)
_PERSON_ORDER = (SampleRow.collected_on, SampleRow.created_at, SampleRow.id)
_SAMPLES_OF_PERSON = _SAMPLES.where(SampleRow.person_id == sa.bindparam("person_id")).order_by(
    *_PERSON_ORDER
)
_FILES_OF_SAMPLES = (
    sa.select(*_FILE_COLUMNS)
    .where(SampleFileRow.sample_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(SampleFileRow.id)
)
_SUMMARIES_OF_PERSON = (
    sa.select(JobRow.summary_json)
    .join_from(JobRow, SampleRow, SampleRow.id == JobRow.sample_id)
    .where(
        SampleRow.person_id == sa.bindparam("person_id"),
        JobRow.state == JobState.DONE.value,
        JobRow.summary_json.is_not(None),
    )
    .order_by(*_PERSON_ORDER)
)


def _account(row: AccountRow | _CoreRow) -> Account:
    return Account(
        id=row.id,
        email=row.email,
        role=Role(row.role),
        display_name=row.display_name,
        created_at=row.created_at,
    )


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        sample_id=row.sample_id,
        state=JobState(row.state),
        attempt=row.attempt,
        stage=row.stage,
        progress=row.progress,
        error=row.error,
        updated_at=row.updated_at,
    )


def _stored_file(row: SampleFileRow | _CoreRow) -> StoredFile:
    return StoredFile(
        kind=row.kind,
        path=Path(row.path),
        original_name=row.original_name,
        size=row.size,
        sha256=row.sha256,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Store:
    """The portal's database and the files it owns.

    Parameters
    ----------
    engine
        From :func:`gutbrain.web.db.engine.create_engine`, already migrated (see :meth:`open`).
    settings
        Where the files live (uploads, results, exports) and the job lease and attempts; without
        it the store manages rows only and :meth:`result_dir` cannot be used.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        settings: PortalSettings | None = None,
        view_audit_seconds: float = VIEW_AUDIT_SECONDS,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._lease = dt.timedelta(seconds=settings.job_lease_seconds if settings else 60.0)
        self._max_attempts = settings.job_max_attempts if settings else 2
        self._view_seconds = view_audit_seconds
        self._views: list[dict[str, Any]] = []  # view events not yet written, oldest first
        self._views_lock = threading.Lock()
        self._views_timer: threading.Timer | None = None

    @classmethod
    def open(cls, settings: PortalSettings) -> Store:
        """Create the data folders, open the database and migrate it to the newest schema."""
        for folder in (
            settings.data_dir,
            settings.uploads_dir,
            settings.results_dir,
            settings.tmp_dir,
        ):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url())
        migrate(engine)
        return cls(engine, settings=settings)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for tests and maintenance)."""
        return self._engine

    @property
    def settings(self) -> PortalSettings | None:
        """The settings the store was opened with, if any."""
        return self._settings

    def close(self) -> None:
        """Write the view events still waiting, then close every pooled connection."""
        with self._views_lock:
            timer, self._views_timer = self._views_timer, None
        if timer is not None:
            timer.cancel()
        self.flush_views()
        self._engine.dispose()

    # -- transactions ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with self._engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                yield session

    # -- accounts -------------------------------------------------------------------------------

    def create_account(
        self, email: str, password_hash: str, role: Role, display_name: str
    ) -> Account:
        """Add an account; :class:`DuplicateError` if the email exists (case-insensitively)."""
        row = AccountRow(
            id=new_id(),
            email=email.strip(),
            email_key=_email_key(email),
            password_hash=password_hash,
            role=Role(role).value,
            display_name=display_name,
            created_at=_now(),
        )
        try:
            with self._write() as session:
                taken = session.scalar(
                    sa.select(sa.func.count())
                    .select_from(AccountRow)
                    .where(AccountRow.email_key == row.email_key)
                )
                if taken:
                    raise _duplicate_email()
                session.add(row)
        except IntegrityError as exc:  # a concurrent insert of the same email
            raise _duplicate_email() from exc
        return _account(row)

    def account(self, account_id: str) -> Account | None:
        """The account with this id, or ``None``."""
        with self._read() as session:
            row = session.get(AccountRow, account_id)
            return None if row is None else _account(row)

    def credentials(self, email: str) -> tuple[Account, str] | None:
        """``(account, password hash)`` for this email (case-insensitive), or ``None``."""
        with self._read() as session:
            row = session.scalar(
                sa.select(AccountRow).where(AccountRow.email_key == _email_key(email))
            )
            return None if row is None else (_account(row), row.password_hash)

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace an account's password hash."""
        with self._write() as session:
            session.execute(
                sa.update(AccountRow)
                .where(AccountRow.id == account_id)
                .values(password_hash=password_hash)
            )

    def count_admins(self) -> int:
        """How many admin accounts exist."""
        with self._read() as session:
            count = session.scalar(
                sa.select(sa.func.count())
                .select_from(AccountRow)
                .where(AccountRow.role == Role.ADMIN)
            )
            return int(count or 0)

    # -- sessions -------------------------------------------------------------------------------

    def create_session(
        self, token_hash: str, account_id: str, csrf_token: str, expires_at: dt.datetime
    ) -> None:
        """Store a login session by the hash of its cookie token."""
        with self._write() as session:
            session.add(
                SessionRow(
                    token_hash=token_hash,
                    account_id=account_id,
                    csrf_token=csrf_token,
                    created_at=_now(),
                    expires_at=expires_at,
                )
            )

    def session(self, token_hash: str, now: dt.datetime) -> tuple[Account, str] | None:
        """``(account, csrf token)`` of a session that has not expired at ``now``, else ``None``."""
        with self._engine.connect() as connection:  # Core: on every request, no ORM objects
            found = connection.execute(
                _SESSION_LOOKUP, {"token_hash": token_hash, "now": now}
            ).first()
            return None if found is None else (_account(found), found.csrf_token)

    def delete_session(self, token_hash: str) -> None:
        """End one session (logout)."""
        with self._write() as session:
            session.execute(sa.delete(SessionRow).where(SessionRow.token_hash == token_hash))

    def delete_sessions_of(self, account_id: str) -> None:
        """End every session of an account (password change, deletion)."""
        with self._write() as session:
            session.execute(sa.delete(SessionRow).where(SessionRow.account_id == account_id))

    def delete_expired_sessions(self, now: dt.datetime) -> int:
        """Remove sessions expired at ``now``; return how many."""
        with self._write() as session:
            result = session.execute(sa.delete(SessionRow).where(SessionRow.expires_at <= now))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- login throttling -------------------------------------------------------------------------

    def record_login_failure(self, key: str, at: dt.datetime) -> None:
        """Count one failed login under ``key`` (rows, so the count holds across processes)."""
        with self._write() as session:
            session.add(LoginFailureRow(key=key, at=at))

    def login_failures_since(self, key: str, since: dt.datetime) -> int:
        """Failed logins under ``key`` at or after ``since``."""
        with self._read() as session:
            count = session.scalar(
                sa.select(sa.func.count())
                .select_from(LoginFailureRow)
                .where(LoginFailureRow.key == key, LoginFailureRow.at >= since)
            )
            return int(count or 0)

    def prune_login_failures(self, before: dt.datetime) -> int:
        """Remove failed-login rows older than ``before``; return how many."""
        with self._write() as session:
            result = session.execute(sa.delete(LoginFailureRow).where(LoginFailureRow.at < before))
            return int(getattr(result, "rowcount", 0) or 0)

    # -- labs and people ------------------------------------------------------------------------

    def link_person(self, lab_id: str, person_id: str) -> None:
        """Record that a lab serves a person (idempotent).

        Raises
        ------
        StoreUsageError
            When ``lab_id`` is not a lab account or ``person_id`` not a person account.
        """
        with self._write() as session:
            self._require_role(session, lab_id, Role.LAB)
            self._require_role(session, person_id, Role.PERSON)
            if session.get(LabPersonRow, (lab_id, person_id)) is None:
                session.add(LabPersonRow(lab_id=lab_id, person_id=person_id, created_at=_now()))

    def lab_serves(self, lab_id: str, person_id: str) -> bool:
        """Whether the lab may upload for the person."""
        with self._read() as session:
            return session.get(LabPersonRow, (lab_id, person_id)) is not None

    def people_of_lab(self, lab_id: str) -> list[Account]:
        """The people a lab serves, by display name."""
        with self._read() as session:
            rows = session.scalars(
                sa.select(AccountRow)
                .join(LabPersonRow, LabPersonRow.person_id == AccountRow.id)
                .where(LabPersonRow.lab_id == lab_id)
                .order_by(AccountRow.display_name, AccountRow.id)
            ).all()
            return [_account(row) for row in rows]

    @staticmethod
    def _require_role(session: Session, account_id: str, role: Role) -> AccountRow:
        row = session.get(AccountRow, account_id)
        if row is None or row.role != role:
            message = f"account {account_id!r} is not a {role.value} account"
            raise StoreUsageError(message)
        return row

    # -- samples --------------------------------------------------------------------------------

    def create_sample(
        self,
        *,
        lab_id: str,
        person_id: str,
        label: str,
        collected_on: dt.date,
        preset: str,
        files: Sequence[StoredFile],
        consent: Consent,
    ) -> Sample:
        """Record a sample with its files, consent and a queued job: all of it or nothing.

        The files must already be on disk (inside the data folder when the store has settings).
        On :class:`DuplicateError` nothing is recorded and the caller removes its files.

        Raises
        ------
        DuplicateError
            ``GB-DUPLICATE-UPLOAD`` when the same reads or table file (same SHA-256) was already
            uploaded for this person, by any lab, or is given twice.
        StoreUsageError
            When the lab does not serve the person, the files are not one of reads or a table
            (with optional answers and markers), or a file lies outside the data folder.
        """
        self._check_files(files)
        now = _now()
        sample_id = new_id()
        sample = SampleRow(
            id=sample_id,
            person_id=person_id,
            lab_id=lab_id,
            label=label,
            collected_on=collected_on,
            preset=preset,
            created_at=now,
        )
        file_rows = [
            SampleFileRow(
                sample_id=sample_id,
                person_id=person_id,
                kind=f.kind,
                path=str(f.path),
                original_name=f.original_name[:255],
                size=f.size,
                sha256=f.sha256,
                dedup_key=f.sha256 if f.kind in _DEDUP_KINDS else None,
            )
            for f in files
        ]
        job = JobRow(
            id=new_id(),
            sample_id=sample_id,
            state=JobState.QUEUED.value,
            attempt=1,
            created_at=now,
            updated_at=now,
        )
        keys = [row.dedup_key for row in file_rows if row.dedup_key is not None]
        if len(set(keys)) != len(keys):
            raise _duplicate_upload("the same file was given twice in this upload")
        try:
            with self._write() as session:
                self._require_role(session, lab_id, Role.LAB)
                self._require_role(session, person_id, Role.PERSON)
                if session.get(LabPersonRow, (lab_id, person_id)) is None:
                    message = f"lab {lab_id!r} does not serve person {person_id!r}"
                    raise StoreUsageError(message)
                clash = session.scalars(
                    sa.select(SampleFileRow.kind).where(
                        SampleFileRow.person_id == person_id, SampleFileRow.dedup_key.in_(keys)
                    )
                ).first()
                if clash is not None:
                    raise _duplicate_upload(
                        "this file (same SHA-256) was already uploaded for this person"
                    )
                session.add(sample)
                session.flush()
                session.add_all([*file_rows, job])
                session.add(
                    ConsentRow(
                        sample_id=sample_id,
                        given_at=consent.given_at,
                        version=consent.version,
                        recorded_by=consent.recorded_by,
                        scope=consent.scope,
                    )
                )
        except IntegrityError as exc:  # a concurrent upload of the same file for this person
            raise _duplicate_upload(
                "this file (same SHA-256) was already uploaded for this person"
            ) from exc
        return Sample(
            id=sample_id,
            person_id=person_id,
            lab_id=lab_id,
            label=label,
            collected_on=collected_on,
            preset=preset,
            created_at=now,
            job=_job(job),
            files=tuple(files),
        )

    def _check_files(self, files: Sequence[StoredFile]) -> None:
        kinds = [f.kind for f in files]
        unknown = sorted(set(kinds) - set(FILE_KINDS))
        repeated = sorted({k for k in kinds if kinds.count(k) > 1})
        has_reads, has_table = "reads" in kinds, "table" in kinds
        problem = None
        if unknown:
            problem = f"unknown file kinds {unknown}; expected some of {list(FILE_KINDS)}"
        elif repeated:
            problem = f"file kinds given more than once: {repeated}"
        elif has_reads == has_table:
            problem = "a sample needs reads or a table (exactly one of them)"
        elif "reads_r2" in kinds and not has_reads:
            problem = "reads_r2 needs reads"
        if problem is None and self._settings is not None:
            root = self._settings.data_dir.resolve()
            outside = [f.kind for f in files if not f.path.resolve().is_relative_to(root)]
            if outside:
                problem = f"files of kinds {outside} lie outside the data folder"
        if problem is not None:
            raise StoreUsageError(problem)

    def _samples(
        self, session: Session | sa.Connection, where: Any, order: Sequence[Any]
    ) -> list[Sample]:
        return self._sample_rows(session, _SAMPLES.where(where).order_by(*order), {})

    @staticmethod
    def _sample_rows(
        session: Session | sa.Connection, statement: Any, params: Mapping[str, Any]
    ) -> list[Sample]:
        # Core rows, not ORM objects: this is on every page view (sample page, report, lists)
        rows = session.execute(statement, params).all()
        files: dict[str, list[StoredFile]] = {row.id: [] for row in rows}
        if rows:
            for file_row in session.execute(_FILES_OF_SAMPLES, {"ids": list(files)}):
                files[file_row.sample_id].append(_stored_file(file_row))
        return [
            Sample(
                id=row.id,
                person_id=row.person_id,
                lab_id=row.lab_id,
                label=row.label,
                collected_on=row.collected_on,
                preset=row.preset,
                created_at=row.created_at,
                job=Job(
                    id=row.job_id,
                    sample_id=row.id,
                    state=JobState(row.job_state),
                    attempt=row.job_attempt,
                    stage=row.job_stage,
                    progress=row.job_progress,
                    error=row.job_error,
                    updated_at=row.job_updated_at,
                ),
                files=tuple(files[row.id]),
            )
            for row in rows
        ]

    @staticmethod
    def _visible_to(viewer: Account) -> Any:
        if viewer.role == Role.PERSON:
            return SampleRow.person_id == viewer.id
        if viewer.role == Role.LAB:
            return SampleRow.lab_id == viewer.id
        return sa.false()

    def sample_for(self, viewer: Account, sample_id: str) -> Sample | None:
        """The sample if ``viewer`` is its person or the lab that uploaded it, else ``None``."""
        if viewer.role == Role.PERSON:
            statement = _SAMPLE_OF_PERSON
        elif viewer.role == Role.LAB:
            statement = _SAMPLE_OF_LAB
        else:
            return None
        with self._engine.connect() as connection:
            found = self._sample_rows(
                connection, statement, {"sample_id": sample_id, "viewer_id": viewer.id}
            )
            return found[0] if found else None

    def sample(self, sample_id: str) -> Sample | None:
        """The sample with this id, with no access check: for the worker, never for a viewer."""
        with self._read() as session:
            found = self._samples(session, SampleRow.id == sample_id, ())
            return found[0] if found else None

    def samples_of_person(self, person_id: str) -> list[Sample]:
        """A person's samples, by collection date (then upload time)."""
        with self._engine.connect() as connection:
            return self._sample_rows(connection, _SAMPLES_OF_PERSON, {"person_id": person_id})

    def samples_of_lab(self, lab_id: str) -> list[Sample]:
        """The samples a lab uploaded, newest upload first."""
        with self._read() as session:
            return self._samples(
                session,
                SampleRow.lab_id == lab_id,
                (SampleRow.created_at.desc(), SampleRow.id),
            )

    def consents_of_person(self, person_id: str) -> dict[str, Consent]:
        """The consent record of each of a person's samples, by sample id."""
        with self._read() as session:
            rows = session.scalars(
                sa.select(ConsentRow)
                .join(SampleRow, SampleRow.id == ConsentRow.sample_id)
                .where(SampleRow.person_id == person_id)
            ).all()
            return {
                row.sample_id: Consent(
                    given_at=row.given_at,
                    version=row.version,
                    recorded_by=row.recorded_by,
                    scope=row.scope,
                )
                for row in rows
            }

    def result_dir(self, sample_id: str) -> Path:
        """The folder of the sample's run output (``result.json``, ``report.html``, …).

        It exists only once the job is done: ``<data>/results/<sample id>/out``.
        """
        if self._settings is None:
            message = "this Store has no settings, so it has no results folder"
            raise StoreUsageError(message)
        if len(sample_id) != 32 or not all(c in "0123456789abcdef" for c in sample_id):
            message = f"{sample_id!r} is not a sample id"
            raise StoreUsageError(message)
        return self._settings.results_dir / sample_id / "out"

    def summaries_of_person(self, person_id: str) -> list[SampleSummary]:
        """Summaries of a person's finished samples, by collection date (then upload time)."""
        with self._engine.connect() as connection:
            texts = connection.scalars(_SUMMARIES_OF_PERSON, {"person_id": person_id}).all()
            return [SampleSummary.from_json(text) for text in texts if text is not None]

    # -- jobs -----------------------------------------------------------------------------------

    def job(self, job_id: str) -> Job | None:
        """The job with this id, or ``None``."""
        with self._read() as session:
            row = session.get(JobRow, job_id)
            return None if row is None else _job(row)

    def claim_job(self, worker_id: str, now: dt.datetime) -> Job | None:
        """Take the oldest queued job: it becomes running under ``worker_id`` with a lease.

        The update is conditional (``WHERE state = 'queued'``), so of two workers racing for one
        job exactly one gets it; the other tries the next job.
        """
        while True:
            with self._write() as session:
                candidate = session.scalar(
                    sa.select(JobRow.id)
                    .where(JobRow.state == JobState.QUEUED.value)
                    .order_by(JobRow.created_at, JobRow.id)
                    .limit(1)
                )
                if candidate is None:
                    return None
                result = session.execute(
                    sa.update(JobRow)
                    .where(JobRow.id == candidate, JobRow.state == JobState.QUEUED.value)
                    .values(
                        state=JobState.RUNNING.value,
                        worker_id=worker_id,
                        lease_until=now + self._lease,
                        stage=None,
                        progress=0.0,
                        error=None,
                        updated_at=now,
                    )
                )
                if getattr(result, "rowcount", 0) == 1:
                    row = session.get(JobRow, candidate, populate_existing=True)
                    assert row is not None
                    return _job(row)

    def heartbeat(
        self,
        job_id: str,
        worker_id: str,
        now: dt.datetime,
        stage: str | None,
        progress: float | None,
    ) -> bool:
        """Renew the lease and record progress; ``False`` if the worker no longer holds the job."""
        with self._write() as session:
            result = session.execute(
                sa.update(JobRow)
                .where(*self._held(job_id, worker_id))
                .values(
                    lease_until=now + self._lease, stage=stage, progress=progress, updated_at=now
                )
            )
            return getattr(result, "rowcount", 0) == 1

    @staticmethod
    def _held(job_id: str, worker_id: str) -> tuple[Any, ...]:
        return (
            JobRow.id == job_id,
            JobRow.worker_id == worker_id,
            JobRow.state == JobState.RUNNING.value,
        )

    def finish_job(self, job_id: str, worker_id: str, summary: SampleSummary) -> bool:
        """Mark the job done with its summary; ``False`` (and no change) if the lease was lost."""
        now = _now()
        with self._write() as session:
            result = session.execute(
                sa.update(JobRow)
                .where(*self._held(job_id, worker_id))
                .values(
                    state=JobState.DONE.value,
                    summary_json=summary.to_json(),
                    progress=1.0,
                    lease_until=None,
                    updated_at=now,
                )
            )
            return getattr(result, "rowcount", 0) == 1

    def fail_job(self, job_id: str, worker_id: str, reason: str) -> bool:
        """Mark the job failed with a plain reason; ``False`` if the lease was lost."""
        now = _now()
        with self._write() as session:
            result = session.execute(
                sa.update(JobRow)
                .where(*self._held(job_id, worker_id))
                .values(state=JobState.FAILED.value, error=reason, lease_until=None, updated_at=now)
            )
            return getattr(result, "rowcount", 0) == 1

    def release_job(self, job_id: str, worker_id: str) -> bool:
        """Give a running job back to the queue unchanged (a worker stopping gracefully)."""
        with self._write() as session:
            result = session.execute(
                sa.update(JobRow)
                .where(*self._held(job_id, worker_id))
                .values(
                    state=JobState.QUEUED.value,
                    worker_id=None,
                    lease_until=None,
                    stage=None,
                    progress=None,
                    updated_at=_now(),
                )
            )
            return getattr(result, "rowcount", 0) == 1

    def recover_jobs(self, now: dt.datetime) -> int:
        """Jobs whose lease expired: back to queued (``attempt + 1``), or failed at the last one.

        Returns how many jobs were recovered or failed.
        """
        changed = 0
        with self._write() as session:
            expired = session.execute(
                sa.select(JobRow.id, JobRow.attempt).where(
                    JobRow.state == JobState.RUNNING.value, JobRow.lease_until < now
                )
            ).all()
            for job_id, attempt in expired:
                lost = (
                    JobRow.id == job_id,
                    JobRow.state == JobState.RUNNING.value,
                    JobRow.lease_until < now,
                )
                if attempt >= self._max_attempts:
                    values: dict[str, Any] = {
                        "state": JobState.FAILED.value,
                        "error": _interrupted_reason(attempt),
                    }
                else:
                    values = {"state": JobState.QUEUED.value, "attempt": attempt + 1}
                result = session.execute(
                    sa.update(JobRow)
                    .where(*lost)
                    .values(
                        worker_id=None,
                        lease_until=None,
                        stage=None,
                        progress=None,
                        updated_at=now,
                        **values,
                    )
                )
                changed += getattr(result, "rowcount", 0)
        if changed:
            logger.warning("%d job(s) had lost their worker and were re-queued or failed", changed)
        return changed

    # -- deletion -------------------------------------------------------------------------------

    def delete_sample(self, actor: Account, sample_id: str) -> DeletionReceipt | None:
        """Delete one sample (its person or the lab that uploaded it): files, results and rows.

        Returns ``None`` when ``actor`` may not see the sample (or it does not exist). Records its
        own audit event (``delete_sample``).
        """
        self.flush_views()  # the audit log keeps its order: views before the deletion
        with self._write() as session:
            owned = session.scalar(
                sa.select(SampleRow.id).where(SampleRow.id == sample_id, self._visible_to(actor))
            )
            if owned is None:
                return None
            paths, rows = self._delete_sample_rows(session, [sample_id])
            session.add(_audit_row(actor.id, "delete_sample", "sample", sample_id, "ok"))
        files = self._remove_files(paths, [sample_id])
        self._checkpoint()
        return DeletionReceipt(files_removed=files, rows_removed=rows, remains=self._remains())

    def delete_person(self, person_id: str, actor_id: str) -> DeletionReceipt:
        """Delete a person: every sample, file, result, session, lab link and the account.

        Failed-login rows keyed by the person's email are removed too. The audit log keeps its
        rows (ids, actions, outcomes: no personal content). Records its own audit event
        (``delete_person``).

        Raises
        ------
        StoreUsageError
            When ``person_id`` names an account that is not a person.
        """
        self.flush_views()  # the audit log keeps its order: views before the deletion
        with self._write() as session:
            person = session.get(AccountRow, person_id)
            if person is None:
                return DeletionReceipt(files_removed=0, rows_removed=0, remains=self._remains())
            if person.role != Role.PERSON:
                message = f"account {person_id!r} is not a person account"
                raise StoreUsageError(message)
            sample_ids = list(
                session.scalars(sa.select(SampleRow.id).where(SampleRow.person_id == person_id))
            )
            paths, rows = self._delete_sample_rows(session, sample_ids)
            rows += _count(
                session.execute(sa.delete(SessionRow).where(SessionRow.account_id == person_id))
            )
            rows += _count(
                session.execute(sa.delete(LabPersonRow).where(LabPersonRow.person_id == person_id))
            )
            rows += _count(
                session.execute(
                    sa.delete(LoginFailureRow).where(
                        sa.func.lower(LoginFailureRow.key).contains(
                            person.email_key, autoescape=True
                        )
                    )
                )
            )
            rows += _count(session.execute(sa.delete(AccountRow).where(AccountRow.id == person_id)))
            session.add(_audit_row(actor_id, "delete_person", "account", person_id, "ok"))
        if self._settings is not None:  # exports made for the person and not yet removed
            paths += self._settings.tmp_dir.glob(f"export-{person_id}-*.zip")
        files = self._remove_files(paths, sample_ids)
        self._checkpoint()
        return DeletionReceipt(files_removed=files, rows_removed=rows, remains=self._remains())

    @staticmethod
    def _delete_sample_rows(session: Session, sample_ids: Sequence[str]) -> tuple[list[Path], int]:
        if not sample_ids:
            return [], 0
        paths = [
            Path(p)
            for p in session.scalars(
                sa.select(SampleFileRow.path).where(SampleFileRow.sample_id.in_(sample_ids))
            )
        ]
        rows = 0
        for model in (SampleFileRow, ConsentRow, JobRow):
            rows += _count(session.execute(sa.delete(model).where(model.sample_id.in_(sample_ids))))
        rows += _count(session.execute(sa.delete(SampleRow).where(SampleRow.id.in_(sample_ids))))
        return paths, rows

    def _remove_files(self, paths: Sequence[Path], sample_ids: Sequence[str]) -> int:
        """Remove uploaded files and result folders (inside the data folder only); count files."""
        if self._settings is None:
            return 0
        root = self._settings.data_dir.resolve()
        removed = 0
        failed: list[str] = []
        targets = [*paths, *(self._settings.results_dir / s for s in sample_ids)]
        for target in targets:
            if not target.resolve().is_relative_to(root):
                logger.warning("not removing a file outside the data folder")
                continue
            try:
                if target.is_dir() and not target.is_symlink():
                    removed += sum(1 for p in target.rglob("*") if not p.is_dir())
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
                    removed += 1
            except OSError as exc:
                failed.append(f"{target.name} ({exc.strerror})")
        if failed:
            message = (
                f"the database rows are deleted but {len(failed)} file(s) could not be removed: "
                f"{', '.join(failed)}; remove them from {root} by hand"
            )
            raise OutputError(message)
        return removed

    def _checkpoint(self) -> None:
        """On SQLite, copy the write-ahead log into the database file and empty the log.

        Deleted content is zeroed in the database pages (``secure_delete``); this moves those
        pages out of the log too. Best effort: a reader holding an old snapshot can delay it.
        """
        if self._engine.dialect.name != "sqlite":
            return
        raw = self._engine.raw_connection()
        try:
            assert raw.driver_connection is not None
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()

    def compact(self) -> None:
        """Rebuild the database file without free pages (SQLite: checkpoint, VACUUM; PostgreSQL:
        VACUUM), so nothing deleted lingers in unused space. Slow on a large database."""
        raw = self._engine.raw_connection()
        try:
            driver = raw.driver_connection
            assert driver is not None
            if self._engine.dialect.name == "sqlite":
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                driver.execute("VACUUM")
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                driver.autocommit = True
                driver.execute("VACUUM")
                driver.autocommit = False
        finally:
            raw.close()

    def _remains(self) -> str:
        text = (
            "Nothing of it remains in the portal's files or database tables. The audit log keeps "
            "who did what and when, as account and sample ids, actions and outcomes (no names, "
            f"emails, answers or results). {_NO_BACKUPS}"
        )
        if self._engine.dialect.name == "postgresql":
            text += " PostgreSQL reclaims the space of the deleted rows at its next VACUUM."
        return text

    # -- audit ----------------------------------------------------------------------------------

    def audit(
        self,
        actor_id: str | None,
        action: str,
        object_type: str,
        object_id: str | None,
        outcome: str,
    ) -> None:
        """Append an audit event: ids, action and outcome only (never personal content).

        Raises
        ------
        StoreUsageError
            When an id is not a portal id (``uuid4().hex``), or the action, object type or
            outcome is not a short word (letters, digits, ``_ . : / -`` and spaces, at most 32
            characters): an email or free text never reaches the audit log.
        """
        self.flush_views()  # the audit log keeps its order: earlier views first
        with self._write() as session:
            session.add(_audit_row(actor_id, action, object_type, object_id, outcome))

    def audit_view(
        self, actor_id: str, action: str, object_type: str, object_id: str, outcome: str
    ) -> None:
        """Append the audit event of a page view, written with others in one transaction.

        A view is not a change, so it does not pay a synchronous write of its own: the event
        waits in memory (with its own time) and one transaction writes every waiting event
        ``view_audit_seconds`` after the first of them, or at once when
        :data:`VIEW_AUDIT_BATCH` are waiting. A change's :meth:`audit`, :meth:`audit_events`,
        the deletions and :meth:`close` write the waiting events first. A crash of the process
        loses at most the view events of that last interval; changes (uploads, deletions,
        logins, exports) are audited synchronously by :meth:`audit`.

        Raises
        ------
        StoreUsageError
            As :meth:`audit`, at once (not later in the writer).
        """
        values = _audit_values(actor_id, action, object_type, object_id, outcome)
        with self._views_lock:
            self._views.append(values)
            full = len(self._views) >= VIEW_AUDIT_BATCH
            if not full and self._views_timer is None:
                self._views_timer = threading.Timer(self._view_seconds, self._flush_on_timer)
                self._views_timer.daemon = True
                self._views_timer.start()
        if full:
            self.flush_views()

    def flush_views(self) -> int:
        """Write the waiting view events in one transaction; returns how many were written.

        When the write fails the events wait again (oldest first) and the error is raised.
        """
        with self._views_lock:
            pending, self._views = self._views, []
        if not pending:
            return 0
        try:
            with self._write() as session:
                session.execute(sa.insert(AuditEventRow), pending)
        except BaseException:
            with self._views_lock:
                self._views[:0] = pending
            raise
        return len(pending)

    def _flush_on_timer(self) -> None:
        with self._views_lock:
            self._views_timer = None
        try:
            self.flush_views()
        except Exception:  # the events wait for the next write; never lost silently
            with self._views_lock:
                waiting = len(self._views)
            logger.exception("could not write %d waiting view audit events; retrying", waiting)
            with self._views_lock:
                if self._views_timer is None:
                    self._views_timer = threading.Timer(self._view_seconds, self._flush_on_timer)
                    self._views_timer.daemon = True
                    self._views_timer.start()

    def audit_events(self, *, limit: int = 100) -> list[AuditEvent]:
        """The newest audit events first (view events still waiting are written first)."""
        self.flush_views()
        with self._read() as session:
            rows = session.scalars(
                sa.select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit)
            ).all()
            return [
                AuditEvent(
                    id=row.id,
                    at=row.at,
                    actor_id=row.actor_id,
                    action=row.action,
                    object_type=row.object_type,
                    object_id=row.object_id,
                    outcome=row.outcome,
                )
                for row in rows
            ]


def _audit_row(
    actor_id: str | None, action: str, object_type: str, object_id: str | None, outcome: str
) -> AuditEventRow:
    return AuditEventRow(**_audit_values(actor_id, action, object_type, object_id, outcome))


def _audit_values(
    actor_id: str | None, action: str, object_type: str, object_id: str | None, outcome: str
) -> dict[str, Any]:
    bad = [
        name
        for name, value, pattern in (
            ("actor_id", actor_id, _AUDIT_ID),
            ("object_id", object_id, _AUDIT_ID),
            ("action", action, _AUDIT_WORD),
            ("object_type", object_type, _AUDIT_WORD),
            ("outcome", outcome, _AUDIT_WORD),
        )
        if value is not None and pattern.fullmatch(value) is None
    ]
    if bad:
        message = (
            f"audit fields {bad} are not an id or a short word: the audit log holds ids, "
            "actions and outcomes only, never personal content"
        )
        raise StoreUsageError(message)
    return {
        "at": _now(),
        "actor_id": actor_id,
        "action": action[:64],
        "object_type": object_type[:32],
        "object_id": None if object_id is None else object_id[:64],
        "outcome": outcome[:32],
    }


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _interrupted_reason(attempts: int) -> str:
    times = "twice" if attempts == 2 else ("once" if attempts == 1 else f"{attempts} times")
    return (
        f"the server stopped during the analysis {times}, so it was not tried again; "
        "delete the sample and upload it again, or ask the operator"
    )


def _duplicate_email() -> DuplicateError:
    message = "an account with this email exists already"
    return DuplicateError(message, code=ErrorCode.DUPLICATE_EMAIL)


def _duplicate_upload(what: str) -> DuplicateError:
    message = f"{what}; nothing was stored"
    return DuplicateError(message, code=ErrorCode.DUPLICATE_UPLOAD)
