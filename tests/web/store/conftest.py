"""Store fixtures: every store test runs on SQLite and on a throwaway PostgreSQL database."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Account, Role, Sample, Store
from tests.web.store.store_helpers import MakeSample, People, consent_by, write_upload


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> PortalSettings:
    url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    return PortalSettings(data_dir=tmp_path / "data", database_url=url)


def _opened(settings: PortalSettings) -> Iterator[Store]:
    opened = Store.open(settings)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def store(settings: PortalSettings) -> Iterator[Store]:
    """A store on SQLite, then (the test runs twice) on PostgreSQL."""
    yield from _opened(settings)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    yield from _opened(PortalSettings(data_dir=tmp_path / "data"))


@pytest.fixture
def postgres_store(tmp_path: Path, postgres_url: str) -> Iterator[Store]:
    yield from _opened(PortalSettings(data_dir=tmp_path / "data", database_url=postgres_url))


@pytest.fixture
def people(store: Store) -> People:
    accounts = People(
        admin=store.create_account("admin@example.org", "hash-a", Role.ADMIN, "Admin"),
        lab=store.create_account("lab@example.org", "hash-l", Role.LAB, "Lab One"),
        other_lab=store.create_account("lab2@example.org", "hash-l2", Role.LAB, "Lab Two"),
        person=store.create_account("ann@example.org", "hash-p", Role.PERSON, "Ann"),
        other_person=store.create_account("bob@example.org", "hash-q", Role.PERSON, "Bob"),
    )
    store.link_person(accounts.lab.id, accounts.person.id)
    store.link_person(accounts.lab.id, accounts.other_person.id)
    store.link_person(accounts.other_lab.id, accounts.person.id)
    return accounts


@pytest.fixture
def make_sample(store: Store, settings: PortalSettings, people: People) -> MakeSample:
    """``make_sample(reads=b"...", person=..., lab=..., collected_on=...)``: a stored sample."""

    def make(
        reads: bytes,
        *,
        person: Account | None = None,
        lab: Account | None = None,
        collected_on: dt.date = dt.date(2026, 1, 1),
        answers: bytes | None = None,
    ) -> Sample:
        lab = lab or people.lab
        files = [write_upload(settings, "reads", reads)]
        if answers is not None:
            files.append(write_upload(settings, "answers", answers))
        return store.create_sample(
            lab_id=lab.id,
            person_id=(person or people.person).id,
            label="stool",
            collected_on=collected_on,
            preset="ont",
            files=files,
            consent=consent_by(lab),
        )

    return make


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``gutbrain demo`` (the bundled example), run once per session."""
    out = tmp_path_factory.mktemp("demo") / "out"
    subprocess.run(
        [sys.executable, "-m", "gutbrain", "demo", "--out", str(out), "--no-progress"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out
