"""Helpers of the store tests (kept out of conftest.py so test modules can import them)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Account, Consent, Sample, StoredFile, new_id

#: ``make_sample(reads, *, person=None, lab=None, collected_on=..., answers=None)``
MakeSample = Callable[..., Sample]


@dataclass(frozen=True)
class People:
    admin: Account
    lab: Account
    other_lab: Account
    person: Account
    other_person: Account


def write_upload(settings: PortalSettings, kind: str, content: bytes) -> StoredFile:
    """A file as the app stores an upload: under ``uploads/<random id>``."""
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    path = settings.uploads_dir / new_id()
    path.write_bytes(content)
    return StoredFile(
        kind=kind,
        path=path,
        original_name=f"{kind}.txt",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def consent_by(lab: Account) -> Consent:
    return Consent(
        given_at=dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC),
        version="2026-01",
        recorded_by=lab.id,
        scope="analysis and report",
    )


def claim_all(settings_json: str, start: Any, results: Any) -> None:
    """Claim jobs until none is left (in a separate process); put the claimed ids on ``results``.

    Every process waits at the ``start`` barrier first, so they all compete from the same moment.
    """
    from gutbrain.web.store import Store

    store = Store.open(PortalSettings.model_validate_json(settings_json))
    claimed: list[str] = []
    worker = f"worker-{new_id()[:8]}"
    try:
        start.wait()
        while (job := store.claim_job(worker, dt.datetime.now(dt.UTC))) is not None:
            claimed.append(job.id)
    finally:
        store.close()
        results.put(claimed)


def open_store(settings_json: str) -> str:
    """Open (and so migrate) the store in a separate process; return the schema revision."""
    import sqlalchemy as sa

    from gutbrain.web.store import Store

    store = Store.open(PortalSettings.model_validate_json(settings_json))
    try:
        with store.engine.connect() as connection:
            return str(
                connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            )
    finally:
        store.close()
