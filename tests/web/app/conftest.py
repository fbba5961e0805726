"""The portal through ``create_app(settings)`` and Starlette's TestClient, on SQLite in tmp_path.

Accounts are created straight in the store with known passwords; people log in through the
login form like a browser (pre-login token, then the session cookie).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gutbrain.web.app import create_app
from gutbrain.web.security import hash_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Account, Role, Store

PASSWORD = "correct horse battery staple"
EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "gutbrain" / "data" / "example"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Portal:
    app: FastAPI
    store: Store
    settings: PortalSettings

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def account(self, email: str, role: Role, name: str | None = None) -> Account:
        return self.store.create_account(email, hash_password(PASSWORD), role, name or email)


@pytest.fixture
def settings(tmp_path: Path) -> PortalSettings:
    return PortalSettings(
        data_dir=tmp_path / "portal",
        secure_cookies=False,
        max_reads_bytes=4 * 1024 * 1024,
        max_table_bytes=256 * 1024,
        max_answers_bytes=16 * 1024,
    )


@pytest.fixture
def portal(settings: PortalSettings) -> Iterator[Portal]:
    store = Store.open(settings)
    return Portal(create_app(settings, store), store, settings)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; return the session's CSRF token (from the landing page)."""
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    home = client.get(response.headers["location"], follow_redirects=True)
    assert home.status_code == 200
    return csrf_of(home.text)


FASTQ = b"@r1\nACGTACGTAC\n+\nIIIIIIIIII\n@r2\nTTGCATGCAA\n+\nIIIIIIIIII\n"


@dataclass
class World:
    """Two labs, each serving one person (and lab A also serving person B's neighbour)."""

    portal: Portal
    lab_a: Account
    lab_b: Account
    person_a: Account
    person_b: Account
    admin: Account


@pytest.fixture
def world(portal: Portal) -> World:
    lab_a = portal.account("lab-a@example.org", Role.LAB, "Lab A")
    lab_b = portal.account("lab-b@example.org", Role.LAB, "Lab B")
    person_a = portal.account("a@example.org", Role.PERSON, "Person A")
    person_b = portal.account("b@example.org", Role.PERSON, "Person B")
    admin = portal.account("admin@example.org", Role.ADMIN, "Admin")
    portal.store.link_person(lab_a.id, person_a.id)
    portal.store.link_person(lab_b.id, person_b.id)
    return World(portal, lab_a, lab_b, person_a, person_b, admin)


def upload_fields(csrf: str, **extra: str) -> dict[str, str]:
    """The plain fields of a valid upload form, CSRF token first (as the page sends it)."""
    fields = {
        "csrf": csrf,
        "label": "week 1",
        "collected_on": "2026-11-02",
        "preset": "ont",
        "consent": "yes",
        "consent_version": "2026-12",
    }
    fields.update(extra)
    return fields
