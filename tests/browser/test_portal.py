"""The web portal in a real browser, end to end: a lab logs in, registers a person, uploads the
bundled example reads twice (two collection dates; answers from a file, then typed in), the
worker runs ``gutbrain run`` for both, and the person logs in, sees the safety alerts first, opens
a report, reads the view over time, downloads everything and deletes it all.

The server (uvicorn) and the job worker run in threads of this process on 127.0.0.1; screenshots
at desktop and phone width go to tests/artifacts/portal_*.png.
"""

from __future__ import annotations

import gzip
import io
import re
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gutbrain.web.app import create_app
from gutbrain.web.jobs import run_worker
from gutbrain.web.security import hash_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Role, Store

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "gutbrain" / "data" / "example"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LAB_PASSWORD = "lab password for the browser test"
CRISIS_LINE = "Example crisis line 0800 000 000 (test)"
#: PHQ-9 with item 9 > 0: the run raises the crisis alert.
CRISIS_ANSWERS = "schema: gutbrain-answers/1\nage: 38\nphq9: [1, 1, 2, 1, 1, 0, 1, 0, 1]\n"

_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 1) bad.push(el.tagName + ' ' + Math.round(box.right));
  }
  return bad;
}"""


@dataclass
class Server:
    url: str
    settings: PortalSettings
    store: Store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn

    settings = PortalSettings(
        data_dir=tmp_path_factory.mktemp("portal"),
        secure_cookies=False,  # plain http on 127.0.0.1
        crisis_contacts=(CRISIS_LINE,),
    )
    store = Store.open(settings)
    store.create_account("lab@example.org", hash_password(LAB_PASSWORD), Role.LAB, "Example Lab")
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, store), host="127.0.0.1", port=port, log_level="warning"
    )
    web = uvicorn.Server(config)
    web_thread = threading.Thread(target=web.run, daemon=True)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(settings,), kwargs={"stop": stop, "poll_seconds": 0.5}
    )
    web_thread.start()
    worker.start()
    deadline = time.monotonic() + 30
    while not web.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", settings, store)
    finally:
        stop.set()
        web.should_exit = True
        worker.join(60)
        web_thread.join(30)


def _login(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")


def _upload(page: Any, *, label: str, day: str, reads: tuple[str, bytes], **extra: Any) -> None:
    page.fill("#label", label)
    page.fill("#collected_on", day)
    page.select_option("#preset", "ont")
    name, data = reads
    page.set_input_files("#reads", {"name": name, "mimeType": "application/gzip", "buffer": data})
    if "answers_file" in extra:
        answers = extra["answers_file"]
        page.set_input_files(
            "#answers", {"name": "answers.yaml", "mimeType": "text/yaml", "buffer": answers}
        )
    if "markers_file" in extra:
        markers = extra["markers_file"]
        page.set_input_files(
            "#markers", {"name": "markers.yaml", "mimeType": "text/yaml", "buffer": markers}
        )
    if "answers_text" in extra:
        page.fill("#answers_text", extra["answers_text"])
    page.check("input[name=consent]")
    page.click("#upload-submit")


def _wait_for_jobs(page: Any, url: str, count: int) -> None:
    deadline = time.monotonic() + 300
    while True:
        page.goto(f"{url}/lab")
        done = page.locator("#samples .job-done").count()
        failed = page.locator("#samples .job-failed").count()
        assert failed == 0, page.locator("#samples").inner_text()
        if done == count:
            return
        assert time.monotonic() < deadline, page.locator("#samples").inner_text()
        time.sleep(1.0)


def test_lab_and_person_in_the_browser(server: Server, browser: Any, artifacts: Path) -> None:
    url = server.url
    reads_gz = (EXAMPLE / "example_reads.fastq.gz").read_bytes()
    reads_plain = gzip.decompress(reads_gz)  # the same reads, other bytes: a second sample

    lab_context = browser.new_context(viewport=DESKTOP)
    lab = lab_context.new_page()
    _login(lab, url, "lab@example.org", LAB_PASSWORD)
    assert lab.url.endswith("/lab")
    lab.fill("#register-person #email", "sam@example.org")
    lab.fill("#register-person #display_name", "Sam Example")
    lab.click("#register-person button[type=submit]")
    password = lab.inner_text("#initial-password").strip()
    assert len(password) == 16

    lab.goto(f"{url}/lab")
    lab.click("text=Upload a sample")
    _upload(
        lab,
        label="autumn",
        day="2026-09-15",
        reads=("example_reads.fastq.gz", reads_gz),
        answers_file=(EXAMPLE / "answers.yaml").read_bytes(),
        markers_file=(EXAMPLE / "markers.yaml").read_bytes(),
    )
    assert re.search(r"/samples/[0-9a-f]{32}$", lab.url), lab.url
    lab.goto(f"{url}/lab")
    lab.click("text=Upload a sample")
    lab.set_viewport_size(PHONE)
    lab.screenshot(path=str(artifacts / "portal_upload_phone.png"), full_page=True)
    lab.set_viewport_size(DESKTOP)
    _upload(
        lab,
        label="winter",
        day="2026-11-20",
        reads=("example_reads.fastq", reads_plain),
        answers_text=CRISIS_ANSWERS,
    )
    assert re.search(r"/samples/[0-9a-f]{32}$", lab.url), lab.url
    _wait_for_jobs(lab, url, 2)
    lab.screenshot(path=str(artifacts / "portal_lab_desktop.png"), full_page=True)
    lab_context.close()

    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        person = context.new_page()
        _login(person, url, "sam@example.org", password)
        assert person.url.endswith("/me")
        # Safety alerts come first: the crisis alert (newest sample) with the crisis line.
        first_heading = person.locator("main h1").first.inner_text()
        assert first_heading == "Please read this first"
        alerts = person.locator("#alerts .alert-box")
        assert alerts.first.get_attribute("class").endswith("alert-crisis")
        assert CRISIS_LINE in alerts.first.inner_text()
        assert "Calprotectin in the grey zone" in person.inner_text("#alerts")
        # The view over time: two points per chart, and the variability statement.
        timeline = person.inner_text("#timeline")
        assert "2026-09-15" in timeline
        assert "2026-11-20" in timeline
        assert "cannot be told apart from ordinary day-to-day variation" in timeline
        shannon_points = person.locator("#chart-shannon circle").count()
        assert shannon_points == 2
        assert person.locator("#chart-score-phq-9 circle").count() == 2
        assert person.evaluate(_OVERFLOWING) == []
        person.screenshot(path=str(artifacts / f"portal_person_{name}.png"), full_page=True)
        context.close()

    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    person = context.new_page()
    _login(person, url, "sam@example.org", password)
    # The report, through the authorised route, opens as the self-contained report.
    person.click("#reports .report-link >> nth=0")
    person.wait_for_load_state("load")
    assert re.search(r"/samples/[0-9a-f]{32}/report$", person.url)
    assert person.locator("section#summary").count() == 1
    person.screenshot(path=str(artifacts / "portal_report_desktop.png"))
    person.goto(f"{url}/me")
    with person.expect_download() as download_info:
        person.click("#download-all")
    archive = zipfile.ZipFile(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    names = archive.namelist()
    assert sum(n.endswith("report.html") for n in names) == 2
    assert sum(n.endswith("result.json") for n in names) == 2
    person.click("#delete-all")
    person.click("#confirm-delete")
    receipt = person.inner_text("#receipt")
    assert "What remains" in receipt
    assert "backups" in receipt
    person.screenshot(path=str(artifacts / "portal_deleted_desktop.png"))
    context.close()
    assert server.store.credentials("sam@example.org") is None
    assert list(server.settings.uploads_dir.iterdir()) == []
    assert list(server.settings.results_dir.iterdir()) == []
