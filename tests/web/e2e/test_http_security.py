"""Security over the real server: headers, cookie flags, no file served by path, bare error pages,
and a server log without personal content after a whole flow.

These complement webapp's TestClient tests (tests/web/app) by going through uvicorn: its own
header handling, raw request paths (``http.client`` sends ``../`` unchanged, where an HTTP client
library would normalise it), real cookies, and the process's stderr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from gutbrain.web.security import hash_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Consent, JobState, Role, SampleSummary, Store, StoredFile
from gutbrain.workflow.run import example_paths
from tests.web.e2e.e2e_helpers import (
    PASSWORD,
    Server,
    csrf_of,
    job_of,
    login,
    seed_accounts,
    small_reads,
    upload,
    wait_for,
)

pytestmark = pytest.mark.slow

REPORT_HTML = (
    '<!doctype html><html><head><meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>report</title></head>"
    "<body><h1>Report of {label}</h1></body></html>"
)
READS = b"@read-secret-1\nACGTACGTAC\n+\nIIIIIIIIII\n"


@dataclass(frozen=True)
class Site:
    server: Server
    data: Path
    person_a: str
    person_b: str
    person_b_name: str
    lab: str
    admin: str
    sample_a: str
    sample_b: str
    person_a_id: str


def _finished_sample(store: Store, lab_id: str, person_id: str, label: str) -> str:
    """A sample whose job is done, with a report and result.json (seeded, no real run)."""
    settings = store.settings
    assert settings is not None
    data = READS + label.encode("utf-8")
    path = settings.uploads_dir / hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    stored = StoredFile("reads", path, "reads.fq", len(data), hashlib.sha256(data).hexdigest())
    consent = Consent(dt.datetime.now(dt.UTC), "2026-12", lab_id, "analysis and report")
    sample = store.create_sample(
        lab_id=lab_id,
        person_id=person_id,
        label=label,
        collected_on=dt.date(2026, 11, 2),
        preset="ont",
        files=[stored],
        consent=consent,
    )
    job = store.claim_job("seeder", dt.datetime.now(dt.UTC))
    assert job is not None
    assert job.sample_id == sample.id
    out = store.result_dir(sample.id)
    out.mkdir(parents=True)
    (out / "report.html").write_text(REPORT_HTML.format(label=label), encoding="utf-8")
    (out / "result.json").write_text(json.dumps({"schema_version": "secret"}), encoding="utf-8")
    summary = SampleSummary(sample.id, dt.date(2026, 11, 2), 2.5, 40, {}, {}, ())
    assert store.finish_job(job.id, "seeder", summary)
    return sample.id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("site")
    data = folder / "portal"
    people = seed_accounts(data)
    store = Store.open(PortalSettings(data_dir=data))
    hashed = hash_password(PASSWORD)
    other = store.create_account("b.other@example.org", hashed, Role.PERSON, "Bertha Other")
    store.create_account("admin@example.org", hashed, Role.ADMIN, "Admin")
    store.link_person(people.lab_id, other.id)
    sample_a = _finished_sample(store, people.lab_id, people.person_id, "week 1")
    sample_b = _finished_sample(store, people.lab_id, other.id, "week 1 of B")
    store.close()
    server = Server(data, folder / "server.log")
    server.start()
    try:
        yield Site(
            server=server,
            data=data,
            person_a=people.person_email,
            person_b=other.email,
            person_b_name=other.display_name,
            lab=people.lab_email,
            admin="admin@example.org",
            sample_a=sample_a,
            sample_b=sample_b,
            person_a_id=people.person_id,
        )
    finally:
        server.stop()


@contextlib.contextmanager
def _logged_in(site: Site, email: str) -> Iterator[httpx2.Client]:
    with site.server.client() as client:
        login(client, email)
        yield client


def _check_headers(response: httpx2.Response, where: str) -> None:
    headers = response.headers
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("x-frame-options") == "DENY", where
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, where
    assert "default-src" in policy, where
    if response.headers.get("content-type", "").startswith("text/html"):
        assert headers.get("cache-control") == "no-store", where


def test_security_headers_on_every_page(site: Site) -> None:
    a, b = site.sample_a, site.sample_b
    pages: list[tuple[str | None, str, str, int]] = [
        (None, "GET", "/login", 200),
        (None, "GET", "/", 303),
        (None, "GET", "/me", 303),
        (None, "GET", "/no-such-page", 404),
        (None, "GET", "/static/portal.css", 200),
        (None, "POST", "/login", 415),  # not a form
        (site.person_a, "GET", "/me", 200),
        (site.person_a, "GET", f"/samples/{a}", 200),
        (site.person_a, "GET", f"/samples/{a}/report", 200),
        (site.person_a, "GET", f"/samples/{a}/delete", 200),
        (site.person_a, "GET", f"/samples/{b}", 404),
        (site.person_a, "GET", f"/samples/{b}/report", 404),
        (site.person_a, "GET", "/me/delete", 200),
        (site.person_a, "GET", "/me/export", 200),
        (site.person_a, "GET", "/account/password", 200),
        (site.person_a, "GET", "/lab", 404),
        (site.person_a, "GET", "/logout", 405),
        (site.person_a, "POST", "/logout", 415),  # not a form
        (site.lab, "GET", "/lab", 200),
        (site.lab, "GET", f"/lab/people/{site.person_a_id}/upload", 200),
        (site.lab, "GET", f"/samples/{a}", 200),
        (site.admin, "GET", "/admin", 200),
    ]
    with contextlib.ExitStack() as stack:
        clients: dict[str | None, httpx2.Client] = {}
        for who, method, path, status in pages:
            if who not in clients:
                opened = site.server.client() if who is None else _logged_in(site, who)
                clients[who] = stack.enter_context(opened)
            response = clients[who].request(method, path)
            where = f"{who} {method} {path}"
            assert response.status_code == status, where
            _check_headers(response, where)


def _set_cookies(response: httpx2.Response) -> dict[str, list[str]]:
    """Set-Cookie headers by cookie name: the attribute list (lower case)."""
    found: dict[str, list[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        found[name_value.split("=", 1)[0]] = [a.lower() for a in attributes]
    return found


def _has_flags(attributes: list[str], *, secure: bool) -> None:
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert not any(a.startswith("domain=") for a in attributes)
    assert ("secure" in attributes) is secure


def test_cookie_flags_with_secure_cookies_on_and_off(site: Site, tmp_path: Path) -> None:
    # plain http (--insecure-cookies): HttpOnly and SameSite=Strict, no Secure
    page = httpx2.get(f"{site.server.base_url}/login")
    prelogin = _set_cookies(page)["gb_prelogin"]
    _has_flags(prelogin, secure=False)
    token = csrf_of(page.text)
    answer = httpx2.post(
        f"{site.server.base_url}/login",
        data={"email": site.person_a, "password": PASSWORD, "csrf": token},
        headers={"cookie": f"gb_prelogin={token}"},
    )
    assert answer.status_code == 303
    _has_flags(_set_cookies(answer)["gb_session"], secure=False)

    # the default: Secure as well, under the __Host- prefix, and HSTS
    data = tmp_path / "secure"
    people = seed_accounts(data)
    secure = Server(data, tmp_path / "secure.log", secure_cookies=True)
    secure.start()
    try:
        page = httpx2.get(f"{secure.base_url}/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        cookies = _set_cookies(page)
        assert set(cookies) == {"__Host-gb_prelogin"}
        _has_flags(cookies["__Host-gb_prelogin"], secure=True)
        token = csrf_of(page.text)
        answer = httpx2.post(
            f"{secure.base_url}/login",
            data={"email": people.person_email, "password": PASSWORD, "csrf": token},
            headers={"cookie": f"__Host-gb_prelogin={token}"},
        )
        assert answer.status_code == 303
        cookies = _set_cookies(answer)
        _has_flags(cookies["__Host-gb_session"], secure=True)
        assert "max-age=0" in cookies["__Host-gb_prelogin"]  # the pre-login token is cleared
        _has_flags(cookies["__Host-gb_prelogin"], secure=True)
    finally:
        secure.stop()


def _raw(site: Site, method: str, path: str, cookie: str) -> tuple[int, bytes]:
    """A request with the path exactly as written (no ``..`` normalisation)."""
    connection = http.client.HTTPConnection("127.0.0.1", site.server.port, timeout=30)
    try:
        headers = {"cookie": cookie}
        if method == "POST":
            headers["content-type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=b"" if method == "POST" else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _session_cookie(site: Site, email: str) -> str:
    with _logged_in(site, email) as client:
        return f"gb_session={client.cookies['gb_session']}"


def test_no_route_serves_a_file_of_the_data_folder_by_path(site: Site) -> None:
    a, b = site.sample_a, site.sample_b
    up = "../../../../"
    targets = ("portal.db", f"results/{a}/out/result.json", f"results/{b}/out/report.html")
    payloads = [f"{up}{t}" for t in targets]
    payloads += [p.replace("/", "%2F") for p in payloads]
    payloads += [p.replace("/", "%252F") for p in payloads[: len(targets)]]
    payloads += [
        "%2e%2e%2f%2e%2e%2fportal.db",
        "..%5C..%5Cportal.db",
        "....//....//portal.db",
        f"{a}/../../../portal.db",
        f"{a}%2F..%2F..%2F..%2Fportal.db",
        f"{a}/..%2F{b}",
        f"..%2F{b}",
        "%2Fetc%2Fpasswd",
        str(site.data / "portal.db").replace("/", "%2F"),
    ]
    routes = [
        ("GET", "/samples/{}", site.person_a),
        ("GET", "/samples/{}/report", site.person_a),
        ("GET", "/samples/{}/delete", site.person_a),
        ("POST", "/samples/{}/delete", site.person_a),
        ("GET", "/lab/people/{}/upload", site.lab),
        ("POST", "/lab/people/{}/samples", site.lab),
    ]
    cookies = {who: _session_cookie(site, who) for _, _, who in routes}
    plain = [
        "/static/../portal.db",
        "/static/%2e%2e/%2e%2e/portal.db",
        "/static/portal.css/../../portal.db",
        "/static/..%2Fportal.db",
        "/portal.db",
        f"/results/{a}/out/report.html",
        f"/uploads/{a}",
        "/../../../../etc/passwd",
    ]
    requests = [
        (method, route.format(payload), cookies[who])
        for method, route, who in routes
        for payload in payloads
    ]
    requests += [("GET", path, cookies[site.person_a]) for path in plain]
    secrets = (b"SQLite format 3", b"@read-secret", b'"schema_version"', b"Report of", b"root:")
    for method, path, cookie in requests:
        status, body = _raw(site, method, path, cookie)
        assert status in (400, 403, 404, 405, 422), f"{method} {path}: {status}"
        for secret in secrets:
            assert secret not in body, f"{method} {path} served {secret!r}"
    # the data is still there and still served through its route
    with _logged_in(site, site.person_a) as client:
        assert client.get(f"/samples/{a}/report").status_code == 200


def test_error_pages_carry_no_stack_and_no_personal_data(site: Site) -> None:
    with _logged_in(site, site.person_a) as client:
        csrf = csrf_of(client.get("/me").text)
        answers = [
            client.get(f"/samples/{site.sample_b}"),  # another person's sample
            client.get(f"/samples/{site.sample_b}/report"),
            client.get("/samples/" + "0" * 32),
            client.get("/samples/not-an-id"),
            client.get("/lab"),
            client.get("/logout"),
            client.post("/logout", data={"csrf": "wrong" + csrf}),
            client.post("/logout", json={"csrf": csrf}),
            client.post(f"/samples/{site.sample_b}/delete", data={"csrf": csrf}),
            client.get("/" + "x" * 5000),
        ]
    statuses = sorted({answer.status_code for answer in answers})
    assert statuses == [403, 404, 405, 415]
    leaks = (
        "traceback",
        'file "',
        ".py",
        "exception",
        "sqlalchemy",
        "sqlite",
        str(site.data).lower(),
        site.person_b,
        site.person_b_name.lower(),
        "week 1 of b",
        site.sample_b,
    )
    for answer in answers:
        body = answer.text.lower()
        for leak in leaks:
            assert leak not in body, f"{answer.request.url.path}: {leak!r} in the error page"
        _check_headers(answer, str(answer.request.url.path))


# the server log after a whole flow ----------------------------------------------------------

CANARY_LAB_EMAIL = "canary.lab.q7x@example.org"
CANARY_LAB_NAME = "Zanzibar Canary Laboratory"
CANARY_EMAIL = "canary.person.k3v@example.org"
CANARY_NAME = "Quentin Canaryperson"
CANARY_LABEL = "canary label 5y8"
CANARY_WRONG_EMAIL = "canary.nobody.w2m@example.org"
#: Answer values that occur nowhere else: fibre 27.31 g/day, hydration 1.87 l/day.
CANARY_VALUES = ("27.31", "1.87")


def _canary_answers() -> bytes:
    text = example_paths().answers.read_text(encoding="utf-8")
    text = re.sub(r"fibre_g_per_day: [0-9.]+", "fibre_g_per_day: 27.31", text)
    text = re.sub(r"hydration_l_per_day: [0-9.]+", "hydration_l_per_day: 1.87", text)
    assert "27.31" in text
    assert "1.87" in text
    return text.encode("utf-8")


def _shown_password(html: str) -> str:
    found = re.search(r'<code id="initial-password">([^<]+)</code>', html)
    assert found, "no initial password on the page"
    return found.group(1)


def test_server_log_has_no_personal_content_after_a_whole_flow(tmp_path: Path) -> None:
    data = tmp_path / "portal"
    store = Store.open(PortalSettings(data_dir=data))
    store.create_account("root@example.org", hash_password(PASSWORD), Role.ADMIN, "Admin")
    server = Server(data, tmp_path / "server.log")
    server.start()
    passwords: list[str] = []
    try:
        with server.client() as admin:  # the admin creates the lab
            csrf = login(admin, "root@example.org")
            made = admin.post(
                "/admin/labs",
                data={"csrf": csrf, "email": CANARY_LAB_EMAIL, "display_name": CANARY_LAB_NAME},
            )
            assert made.status_code == 200, made.text
            passwords.append(_shown_password(made.text))
        with server.client() as stranger:  # a failed login with an unknown address
            page = stranger.get("/login")
            wrong = {"email": CANARY_WRONG_EMAIL, "password": "not it at all"}
            refused = stranger.post("/login", data={**wrong, "csrf": csrf_of(page.text)})
            assert refused.status_code == 401
        with server.client() as lab:  # the lab registers the person and uploads
            csrf = login(lab, CANARY_LAB_EMAIL, passwords[0])
            made = lab.post(
                "/lab/people",
                data={"csrf": csrf, "email": CANARY_EMAIL, "display_name": CANARY_NAME},
            )
            assert made.status_code == 200, made.text
            passwords.append(_shown_password(made.text))
            person = store.credentials(CANARY_EMAIL)
            assert person is not None
            sample_id = upload(
                lab,
                person[0].id,
                small_reads(tmp_path),
                label=CANARY_LABEL,
                answers=_canary_answers(),
            )

        def ended() -> JobState | None:
            state = job_of(store, sample_id).state
            return state if state in (JobState.DONE, JobState.FAILED) else None

        assert wait_for("the job", ended, 180) is JobState.DONE, job_of(store, sample_id).error
        with server.client() as client:  # the person reads, downloads and deletes everything
            csrf = login(client, CANARY_EMAIL, passwords[1])
            me = client.get("/me")
            assert CANARY_NAME in me.text
            assert client.get(f"/samples/{sample_id}/report").status_code == 200
            assert client.get("/me/export").status_code == 200
            gone = client.post("/me/delete", data={"csrf": csrf})
            assert gone.status_code == 200
        server.signal_server(signal.SIGINT)  # Ctrl-C: the server and its worker stop
    finally:
        server.stop()
        store.close()
    log = (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
    assert "job" in log  # the worker did log (its job ids and outcomes)
    lowered = log.lower()
    canaries = (
        CANARY_LAB_EMAIL,
        CANARY_LAB_NAME,
        CANARY_EMAIL,
        CANARY_NAME,
        CANARY_LABEL,
        CANARY_WRONG_EMAIL,
        *CANARY_VALUES,
        *passwords,
        "answers.yaml",
        "reads.fastq.gz",
    )
    for canary in canaries:
        assert canary.lower() not in lowered, f"{canary!r} is in the server log"
    shutil.rmtree(data, ignore_errors=True)
