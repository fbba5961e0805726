"""SQLAlchemy 2 models of the portal's tables (typed ``Mapped`` declarative classes).

These models and the migrations in ``migrations/versions`` must agree: a test compares them
(alembic's ``compare_metadata``) on SQLite and PostgreSQL.

Tables
------
``accounts``
    Admins, labs and people: email (unique case-insensitively through ``email_key``), password
    hash, role, display name.
``sessions``
    Login sessions by the hash of the cookie token, with the CSRF token and expiry.
``login_failures``
    One row per failed login, keyed by what the app throttles on.
``lab_people``
    Which lab serves which person.
``samples``, ``sample_files``, ``consents``, ``jobs``
    An uploaded sample, its files, its consent record, and its analysis job (with the summary of
    the finished run).
``audit_events``
    Append-only log of who did what to which object, with the outcome: ids and words only,
    never personal content. Database triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AccountRow",
    "AuditEventRow",
    "Base",
    "ConsentRow",
    "JobRow",
    "LabPersonRow",
    "LoginFailureRow",
    "SampleFileRow",
    "SampleRow",
    "SessionRow",
    "UTCDateTime",
]

#: Length of an id (``uuid4().hex``).
ID_LENGTH = 32


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC ``datetime`` on every database.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text (which sorts correctly), and
    values read back are made aware again. Naive values are refused: they are a bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            message = f"naive datetime {value!r} given to the database; use an aware UTC time"
            raise TypeError(message)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _id() -> Mapped[str]:
    return mapped_column(sa.String(ID_LENGTH), primary_key=True)


class Base(DeclarativeBase):
    """Declarative base of every portal table (one ``MetaData``)."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AccountRow(Base):
    """An admin, lab or person account."""

    __tablename__ = "accounts"

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(sa.String(320))
    email_key: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(512))
    role: Mapped[str] = mapped_column(sa.String(16), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SessionRow(Base):
    """A login session, found by the hash of its cookie token (the token itself is not stored)."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LoginFailureRow(Base):
    """One failed login, keyed by what the app throttles on (e.g. a client address)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.String(400))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_login_failures_key_at", "key", "at"),)


class LabPersonRow(Base):
    """A lab serves a person (it may upload samples for them)."""

    __tablename__ = "lab_people"

    lab_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SampleRow(Base):
    """One uploaded sample of one person, by one lab."""

    __tablename__ = "samples"

    id: Mapped[str] = _id()
    person_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    lab_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(200))
    collected_on: Mapped[dt.date] = mapped_column(sa.Date)
    preset: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SampleFileRow(Base):
    """A file uploaded with a sample (stored under a server-made name).

    ``dedup_key`` is the SHA-256 of reads and tables (``NULL`` for answers and markers); it is
    unique per person, so the same reads or table cannot be uploaded twice for one person.
    """

    __tablename__ = "sample_files"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    sample_id: Mapped[str] = mapped_column(
        sa.ForeignKey("samples.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(sa.String(16))
    path: Mapped[str] = mapped_column(sa.Text)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    dedup_key: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("person_id", "dedup_key"),)


class ConsentRow(Base):
    """The consent record given with a sample."""

    __tablename__ = "consents"

    sample_id: Mapped[str] = mapped_column(
        sa.ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True
    )
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    version: Mapped[str] = mapped_column(sa.String(64))
    recorded_by: Mapped[str] = mapped_column(sa.String(ID_LENGTH))
    scope: Mapped[str] = mapped_column(sa.String(200))


class JobRow(Base):
    """The analysis job of a sample: ``queued -> running -> done | failed``.

    A running job holds a lease (``worker_id``, ``lease_until``) renewed by heartbeats; an expired
    lease sends it back to ``queued`` (``attempt + 1``) or, at the last attempt, to ``failed``.
    ``summary_json`` holds the :class:`~gutbrain.web.store.SampleSummary` of a finished run.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = _id()
    sample_id: Mapped[str] = mapped_column(
        sa.ForeignKey("samples.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(sa.String(16))
    attempt: Mapped[int] = mapped_column(sa.Integer)
    worker_id: Mapped[str | None] = mapped_column(sa.String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    progress: Mapped[float | None] = mapped_column(sa.Float)
    error: Mapped[str | None] = mapped_column(sa.Text)
    summary_json: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())

    __table_args__ = (sa.Index("ix_jobs_state_created_at", "state", "created_at"),)


class AuditEventRow(Base):
    """One audit event: who (account id), what (action, object type and id), the outcome.

    No foreign keys: the rows outlive the accounts and samples they name. Append-only: the
    migration adds triggers that refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[str | None] = mapped_column(sa.String(ID_LENGTH))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(32))
