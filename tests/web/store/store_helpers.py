"""Helpers of the store tests (kept out of conftest.py so test modules can import them)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

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
