"""The pages: security headers (W10, W16, W17), generic errors (W14), the person's dashboard
(safety alerts first, crisis contacts, the longitudinal view), registration, audit rows."""

from __future__ import annotations

import io
import logging
import re
import zipfile
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gutbrain.web.app import create_app
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Role, Store
from tests.web.app.portal_helpers import PASSWORD, Portal, World, csrf_of, login, make_sample

CRISIS = {"level": "crisis", "title": "Please talk to someone today"}
PROMPT = {"level": "prompt", "title": "See your GP about calprotectin"}


class _Parse(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Parse()
    parser.feed(html)
    return parser.tags


def _headers_ok(headers: object, *, report: bool = False) -> None:
    csp = headers["content-security-policy"]  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp
    assert ("default-src 'none'" if report else "default-src 'self'") in csp
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["referrer-policy"] == "no-referrer"  # type: ignore[index]
    assert headers["x-frame-options"] == "DENY"  # type: ignore[index]
    assert "access-control-allow-origin" not in headers  # type: ignore[operator]


def test_security_headers_present(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    anonymous = [client.get("/login"), client.get("/nowhere"), client.get("/static/portal.css")]
    login(client, "a@example.org")
    personal = [client.get("/me"), client.get(f"/samples/{sample.id}"), client.get("/nowhere")]
    for response in anonymous + personal:
        _headers_ok(response.headers)
    for response in personal:
        assert response.headers["cache-control"] == "no-store"
    report = client.get(f"/samples/{sample.id}/report")
    _headers_ok(report.headers, report=True)
    assert report.headers["cache-control"] == "no-store"
    assert report.headers["content-disposition"] == 'inline; filename="report.html"'
    assert report.headers["content-type"].startswith("text/html")
    assert f"Report {sample.id}" in report.text


def test_pages_have_no_inline_script_or_style(world: World) -> None:
    make_sample(world.portal, world.lab_a, world.person_a, alerts=(CRISIS,))
    client = world.portal.client()
    login(client, "a@example.org")
    for path in ("/me", "/account/password", "/me/delete"):
        for tag, attrs in parse(client.get(path).text):
            assert tag != "script", path
            assert "style" not in attrs, (path, tag)
            assert not any(name.startswith("on") for name in attrs), (path, tag)


def test_cors_no_wildcard_with_credentials(world: World) -> None:
    client = world.portal.client()
    response = client.options(
        "/login",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def test_errors_have_no_stack_or_phi(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "a@example.org PHQ-9 item 9 = 3 Person A"

    def broken(person_id: str) -> list[object]:
        raise RuntimeError(canary)

    monkeypatch.setattr(world.portal.store, "samples_of_person", broken)
    client = TestClient(world.portal.app, follow_redirects=False, raise_server_exceptions=False)
    login(client, "lab-a@example.org")
    page = client.get("/login")
    client.post(
        "/login", data={"email": "a@example.org", "password": PASSWORD, "csrf": csrf_of(page.text)}
    )
    with caplog.at_level(logging.DEBUG):
        response = client.get("/me")
    assert response.status_code == 500
    for leak in ("Traceback", "RuntimeError", "PHQ-9", "item 9", "samples_of_person", "pages.py"):
        assert leak not in response.text
        assert leak not in caplog.text or leak == "RuntimeError"
    assert canary not in caplog.text
    _headers_ok(response.headers)


def test_person_dashboard_shows_safety_alerts_first_with_crisis_contacts(
    tmp_path: Path,
) -> None:
    settings = PortalSettings(
        data_dir=tmp_path / "p",
        secure_cookies=False,
        crisis_contacts=("Samaritans 116 123 (UK, free, 24 h)",),
    )
    store = Store.open(settings)
    portal = Portal(create_app(settings, store), store, settings)
    lab = portal.account("lab@example.org", Role.LAB)
    person = portal.account("p@example.org", Role.PERSON, "Pat")
    store.link_person(lab.id, person.id)
    make_sample(portal, lab, person, label="first", collected_on=date(2026, 10, 1))
    make_sample(
        portal, lab, person, label="second", collected_on=date(2026, 11, 1), alerts=(CRISIS, PROMPT)
    )
    client = portal.client()
    login(client, "p@example.org")
    page = client.get("/me").text
    alerts_at = page.index('id="alerts"')
    assert alerts_at < page.index('id="results-title"') < page.index('id="timeline"')
    assert page.index(CRISIS["title"]) < page.index(PROMPT["title"])
    assert page.index("Samaritans 116 123") < page.index('id="results-title"')
    # the alerts section is the first content of the page
    assert page.index("<main") < alerts_at < page.index("<h1")


def test_crisis_alert_without_configured_contacts_still_urges_contact(world: World) -> None:
    make_sample(world.portal, world.lab_a, world.person_a, alerts=(CRISIS,))
    client = world.portal.client()
    login(client, "a@example.org")
    page = client.get("/me").text
    assert "Please contact a doctor, a local crisis line or your emergency number today." in page


def test_longitudinal_view_plots_each_sample_and_states_variability(world: World) -> None:
    days = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    for i, day in enumerate(days):
        make_sample(
            world.portal,
            world.lab_a,
            world.person_a,
            label=f"s{i}",
            collected_on=day,
            shannon=2.0 + i * 0.3,
            scores={"PHQ-9": 10.0 - 3 * i, "GAD-7": 5.0},
            guilds={"butyrate producers": 0.1 + 0.02 * i, "mucin degraders": 0.05},
        )
    client = world.portal.client()
    login(client, "a@example.org")
    page = client.get("/me").text
    for key in ("shannon", "richness", "guilds", "score-phq-9", "score-gad-7"):
        assert f'id="chart-{key}"' in page
    assert page.index('id="chart-score-phq-9"') < page.index('id="chart-score-gad-7"')
    shannon = page.split('id="chart-shannon"')[1].split("</figure>")[0]
    points = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', shannon)
    assert len(points) == 3
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    assert xs == sorted(xs)
    assert ys == sorted(ys, reverse=True)
    assert "2026-10-01" in shannon
    assert "2.3" in shannon
    scores = page.split('id="chart-score-phq-9"')[1].split("</figure>")[0]
    assert "PHQ-9 total over 3 samples" in scores
    assert "GAD-7" not in scores
    assert "Rule used" in shannon


def test_one_sample_is_not_a_trend(world: World) -> None:
    make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    login(client, "a@example.org")
    page = client.get("/me").text
    assert "Only one sample has a" in page


def test_pending_jobs_refresh_the_page_without_script(world: World) -> None:
    make_sample(world.portal, world.lab_a, world.person_a, done=False)
    lab = world.portal.client()
    login(lab, "lab-a@example.org")
    page = lab.get("/lab").text
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "waiting" in page


def test_lab_registers_a_new_person_and_links_an_existing_one(world: World) -> None:
    lab = world.portal.client()
    csrf = login(lab, "lab-b@example.org")
    created = lab.post(
        "/lab/people", data={"csrf": csrf, "email": "new@example.org", "display_name": "New"}
    )
    assert created.status_code == 200
    password = created.text.split('id="initial-password">')[1].split("<")[0]
    person = world.portal.client()
    login(person, "new@example.org", password)
    linked = lab.post(
        "/lab/people", data={"csrf": csrf, "email": "A@example.org", "display_name": "x"}
    )
    assert linked.status_code == 200
    assert 'id="initial-password"' not in linked.text
    assert world.portal.store.lab_serves(world.lab_b.id, world.person_a.id)
    refused = lab.post(
        "/lab/people", data={"csrf": csrf, "email": "lab-a@example.org", "display_name": "x"}
    )
    assert refused.status_code == 409
    assert world.portal.store.credentials("lab-a@example.org")[0].role is Role.LAB  # type: ignore[index]


def test_xss_through_person_name_is_escaped(world: World) -> None:
    lab = world.portal.client()
    csrf = login(lab, "lab-a@example.org")
    name = "<script>alert(1)</script><svg onload=alert(2)>"
    lab.post("/lab/people", data={"csrf": csrf, "email": "x@example.org", "display_name": name})
    page = lab.get("/lab").text
    tags = parse(page)
    assert not [t for t, _ in tags if t == "script"]
    assert not [a for _, a in tags if "onload" in a]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_views_and_changes_write_audit_rows_without_personal_content(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a, label="canary-label")
    client = world.portal.client()
    login(client, "a@example.org")
    client.get(f"/samples/{sample.id}")
    client.get(f"/samples/{sample.id}/report")
    events = world.portal.store.audit_events(limit=50)
    actions = {(e.action, e.object_id) for e in events if e.actor_id == world.person_a.id}
    assert ("view", sample.id) in actions
    assert ("view-report", sample.id) in actions
    assert ("login", world.person_a.id) in actions
    text = repr(events)
    for personal in ("a@example.org", "Person A", "canary-label"):
        assert personal not in text


def test_json_clients_get_problem_details(world: World) -> None:
    client = world.portal.client()
    login(client, "b@example.org")
    response = client.get(f"/samples/{'0' * 32}", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "There is nothing here, or it is not yours to see.",
    }
    _headers_ok(response.headers)


def test_download_everything_is_an_attachment_and_leaves_no_temp_file(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    make_sample(world.portal, world.lab_b, world.person_b, label="not mine")
    client = world.portal.client()
    login(client, "a@example.org")
    response = client.get("/me/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["cache-control"] == "no-store"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(sample.id in name and name.endswith("report.html") for name in names)
    assert not any("not mine" in name for name in names)
    assert list(world.portal.settings.tmp_dir.glob("*.zip")) == []
    events = world.portal.store.audit_events(limit=5)
    assert ("export", world.person_a.id) in {(e.action, e.object_id) for e in events}


def test_delete_everything_removes_the_account_and_ends_the_session(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    csrf = login(client, "a@example.org")
    assert "Delete for good" in client.get("/me/delete").text
    receipt = client.post("/me/delete", data={"csrf": csrf})
    assert receipt.status_code == 200
    assert "What remains" in receipt.text
    assert "gb_session=" in receipt.headers["set-cookie"]
    assert world.portal.store.account(world.person_a.id) is None
    assert not sample.files[0].path.exists()
    assert client.get("/me").status_code == 303
    again = world.portal.client()
    page = again.get("/login")
    failed = again.post(
        "/login", data={"email": "a@example.org", "password": PASSWORD, "csrf": csrf_of(page.text)}
    )
    assert failed.status_code == 401
    # the other person and lab are untouched
    assert world.portal.store.account(world.person_b.id) is not None
