"""Helpers of the portal's app tests (a uniquely named module: ``conftest`` names clash).

Accounts are created straight in the store with known passwords; people log in through the
login form like a browser (pre-login token, then the session cookie).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from gutbrain.web.app import create_app
from gutbrain.web.security import hash_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Account, Consent, Role, Sample, SampleSummary, Store, StoredFile

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


def portal_settings(tmp_path: Path) -> PortalSettings:
    return PortalSettings(
        data_dir=tmp_path / "portal",
        secure_cookies=False,
        max_reads_bytes=4 * 1024 * 1024,
        max_table_bytes=256 * 1024,
        max_answers_bytes=16 * 1024,
    )


def open_portal(settings: PortalSettings) -> Portal:
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


def make_world(portal: Portal) -> World:
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


REPORT_HTML = (
    '<!doctype html><html><head><meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'\"><title>report</title></head><body><h1>Report {label}</h1></body></html>"
)


def make_sample(
    portal: Portal,
    lab: Account,
    person: Account,
    *,
    label: str = "week 1",
    collected_on: date = date(2026, 11, 2),
    done: bool = True,
    shannon: float | None = 2.5,
    scores: dict[str, float] | None = None,
    guilds: dict[str, float] | None = None,
    alerts: tuple[dict[str, str], ...] = (),
) -> Sample:
    """A sample stored like an upload; with ``done`` its job finished and its report written."""
    data = FASTQ + label.encode("utf-8")  # distinct bytes: no duplicate refusal
    path = portal.settings.uploads_dir / uuid.uuid4().hex
    path.write_bytes(data)
    stored = StoredFile("reads", path, "reads.fq", len(data), hashlib.sha256(data).hexdigest())
    consent = Consent(datetime.now(UTC), "2026-12", lab.id, "analysis and report")
    sample = portal.store.create_sample(
        lab_id=lab.id,
        person_id=person.id,
        label=label,
        collected_on=collected_on,
        preset="ont",
        files=[stored],
        consent=consent,
    )
    if done:
        job = portal.store.claim_job("test-worker", datetime.now(UTC))
        assert job is not None
        assert job.sample_id == sample.id
        out = portal.store.result_dir(sample.id)
        out.mkdir(parents=True)
        (out / "report.html").write_text(REPORT_HTML.format(label=sample.id), encoding="utf-8")
        summary = SampleSummary(
            sample_id=sample.id,
            collected_on=collected_on,
            shannon=shannon,
            observed_richness=40,
            guild_shares=guilds or {"butyrate producers": 0.12},
            scores=scores or {"PHQ-9": 4.0},
            alerts=alerts,
        )
        assert portal.store.finish_job(job.id, "test-worker", summary)
    found = portal.store.sample_for(lab, sample.id)
    assert found is not None
    return found
