"""Login, sessions, CSRF and throttling (RELIABILITY.md W07, W11, W19; issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from gutbrain.web.app import app_portal, create_app
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Role
from tests.web.app.portal_helpers import PASSWORD, Portal, World, csrf_of, login, make_sample


def _attempt(client: TestClient, email: str, password: str) -> object:
    page = client.get("/login")
    return client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page.text)}
    )


def test_login_sets_a_strict_httponly_session_cookie_and_lands_on_the_role_page(
    world: World,
) -> None:
    client = world.portal.client()
    response = _attempt(client, "lab-a@example.org", PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "gb_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert client.get("/").headers["location"] == "/lab"


def test_secure_settings_use_secure_host_prefixed_cookies(tmp_path: object) -> None:
    settings = PortalSettings(data_dir=tmp_path / "secure")  # type: ignore[operator]
    app = create_app(settings)
    app_portal(app).store.create_account(
        "p@example.org",
        __import__("gutbrain.web.security").web.security.hash_password(PASSWORD),
        Role.PERSON,
        "P",
    )
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/login")
    assert "__Host-gb_prelogin=" in page.headers["set-cookie"]
    assert "Secure" in page.headers["set-cookie"]
    response = client.post(
        "/login",
        data={"email": "p@example.org", "password": PASSWORD, "csrf": csrf_of(page.text)},
    )
    assert response.status_code == 303
    session_cookie = [c for c in response.headers.get_list("set-cookie") if "gb_session" in c]
    assert session_cookie
    assert session_cookie[0].startswith("__Host-gb_session=")
    assert "Secure" in session_cookie[0]
    assert "HttpOnly" in session_cookie[0]
    assert "strict-transport-security" in response.headers


def test_wrong_password_and_unknown_email_get_the_same_answer(world: World) -> None:
    client = world.portal.client()
    wrong = _attempt(client, "lab-a@example.org", "not the password")
    unknown = _attempt(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The e-mail address or the password is wrong." in wrong.text
    strip = lambda html: html.replace("lab-a@example.org", "").replace("nobody@example.org", "")  # noqa: E731
    assert strip(wrong.text) == strip(unknown.text)
    assert "gb_session" not in wrong.headers.get("set-cookie", "")


def test_login_without_the_prelogin_token_is_403(world: World) -> None:
    client = world.portal.client()
    client.get("/login")
    missing = client.post("/login", data={"email": "lab-a@example.org", "password": PASSWORD})
    wrong = client.post(
        "/login", data={"email": "lab-a@example.org", "password": PASSWORD, "csrf": "x" * 43}
    )
    assert missing.status_code == wrong.status_code == 403


def test_session_fixation_prelogin_and_planted_cookies_are_not_valid_after_login(
    world: World,
) -> None:
    client = world.portal.client()
    planted = "attacker-chosen-token-attacker-chosen-token"
    client.cookies.set("gb_session", planted, domain="testserver.local")
    page = client.get("/login")
    prelogin = client.cookies.get("gb_prelogin")
    assert prelogin
    response = client.post(
        "/login",
        data={"email": "a@example.org", "password": PASSWORD, "csrf": csrf_of(page.text)},
    )
    assert response.status_code == 303
    session = client.cookies.get("gb_session")
    assert session
    assert session not in (planted, prelogin)
    # Neither the planted token nor the pre-login token opens a session.
    for token in (planted, prelogin):
        other = world.portal.client()
        other.cookies.set("gb_session", token)
        assert other.get("/me").status_code == 303
    assert client.get("/me").status_code == 200


def test_login_again_replaces_the_previous_session(world: World) -> None:
    client = world.portal.client()
    login(client, "a@example.org")
    first = client.cookies.get("gb_session")
    login(client, "a@example.org")
    second = client.cookies.get("gb_session")
    assert first != second
    stale = world.portal.client()
    stale.cookies.set("gb_session", first)
    assert stale.get("/me").status_code == 303


def test_logout_ends_the_session(world: World) -> None:
    client = world.portal.client()
    csrf = login(client, "a@example.org")
    token = client.cookies.get("gb_session")
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    replay = world.portal.client()
    replay.cookies.set("gb_session", token)
    assert replay.get("/me").status_code == 303
    assert replay.get("/me").headers["location"] == "/login"


def test_session_expires_after_session_hours(world: World) -> None:
    state = app_portal(world.portal.app)
    client = world.portal.client()
    login(client, "a@example.org")
    assert client.get("/me").status_code == 200
    later = datetime.now(UTC) + timedelta(hours=world.portal.settings.session_hours, minutes=1)
    state.clock = lambda: later
    response = client.get("/me")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_rate_limited_429_per_address(world: World) -> None:
    client = world.portal.client()
    for i in range(5):
        assert _attempt(client, f"someone{i}@example.org", "wrong").status_code == 401
    blocked = _attempt(client, "lab-a@example.org", PASSWORD)  # even the right password
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.text
    # A minute later the address may try again.
    state = app_portal(world.portal.app)
    later = datetime.now(UTC) + timedelta(minutes=1, seconds=5)
    state.clock = lambda: later
    assert _attempt(client, "lab-a@example.org", PASSWORD).status_code == 303


def test_login_rate_limited_429_per_account_for_known_and_unknown(world: World) -> None:
    state = app_portal(world.portal.app)
    for round_, email in enumerate(("a@example.org", "ghost@example.org")):
        start = datetime.now(UTC) + timedelta(minutes=30 * round_)
        for i in range(10):
            # one failure every 2 minutes: under the per-address limit, over the per-account one
            moment = start + timedelta(minutes=2 * i)
            state.clock = lambda moment=moment: moment
            assert _attempt(world.portal.client(), email, "wrong").status_code == 401
        moment = start + timedelta(minutes=21)
        state.clock = lambda moment=moment: moment
        right = PASSWORD if email == "a@example.org" else "wrong"
        assert _attempt(world.portal.client(), email, right).status_code == 429


def test_rate_limit_keys_hold_no_email(world: World) -> None:
    client = world.portal.client()
    _attempt(client, "a@example.org", "wrong")
    with world.portal.store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT key FROM login_failures").fetchall()
    assert rows
    assert all("example.org" not in row[0] for row in rows)


def _post_forms(world: World) -> list[tuple[str, str]]:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    return [
        ("a@example.org", "/logout"),
        ("a@example.org", "/account/password"),
        ("a@example.org", "/me/delete"),
        ("a@example.org", f"/samples/{sample.id}/delete"),
        ("lab-a@example.org", "/lab/people"),
        ("admin@example.org", "/admin/labs"),
    ]


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_csrf_required_for_cookie_session_posts(world: World, token: str | None) -> None:
    for email, path in _post_forms(world):
        client = world.portal.client()
        login(client, email)
        data = {"email": "new@example.org", "display_name": "New"}
        if token is not None:
            data["csrf"] = token
        response = client.post(path, data=data)
        assert response.status_code == 403, path
    # nothing changed
    assert world.portal.store.credentials("new@example.org") is None
    assert len(world.portal.store.samples_of_person(world.person_a.id)) == 1
    assert world.portal.store.account(world.person_a.id) is not None


def test_another_sessions_csrf_token_is_refused(world: World) -> None:
    first, second = world.portal.client(), world.portal.client()
    login(first, "lab-a@example.org")
    other_token = login(second, "lab-a@example.org")
    response = first.post(
        "/lab/people", data={"csrf": other_token, "email": "n@example.org", "display_name": "N"}
    )
    assert response.status_code == 403


def test_change_password_ends_other_sessions(world: World) -> None:
    browser, phone = world.portal.client(), world.portal.client()
    csrf = login(browser, "a@example.org")
    login(phone, "a@example.org")
    new = "a brand new passphrase"
    short = browser.post(
        "/account/password",
        data={"csrf": csrf, "current": PASSWORD, "new": "short", "confirm": "short"},
    )
    assert short.status_code == 400
    response = browser.post(
        "/account/password", data={"csrf": csrf, "current": PASSWORD, "new": new, "confirm": new}
    )
    assert response.status_code == 303
    assert browser.get("/me").status_code == 200
    assert phone.get("/me").status_code == 303
    assert _attempt(world.portal.client(), "a@example.org", new).status_code == 303


def test_admin_creates_a_lab_with_a_one_time_password(portal: Portal) -> None:
    portal.account("admin@example.org", Role.ADMIN)
    client = portal.client()
    csrf = login(client, "admin@example.org")
    response = client.post(
        "/admin/labs", data={"csrf": csrf, "email": "new-lab@example.org", "display_name": "L"}
    )
    assert response.status_code == 200
    password = response.text.split('id="initial-password">')[1].split("<")[0]
    assert len(password) == 16
    assert response.headers["cache-control"] == "no-store"
    lab = portal.client()
    login(lab, "new-lab@example.org", password)
    assert lab.get("/").headers["location"] == "/lab"
    again = client.post(
        "/admin/labs", data={"csrf": csrf, "email": "NEW-LAB@example.org", "display_name": "L"}
    )
    assert again.status_code == 409


def test_login_removes_expired_sessions_and_old_failure_counters(world: World) -> None:
    state = app_portal(world.portal.app)
    old = world.portal.client()
    login(old, "a@example.org")
    _attempt(world.portal.client(), "b@example.org", "wrong")
    later = datetime.now(UTC) + timedelta(days=2)
    state.clock = lambda: later
    login(world.portal.client(), "lab-a@example.org")
    with world.portal.store.engine.connect() as connection:
        sessions = connection.exec_driver_sql("SELECT count(*) FROM sessions").scalar()
        failures = connection.exec_driver_sql("SELECT count(*) FROM login_failures").scalar()
    assert sessions == 1  # only the new one
    assert failures == 0
