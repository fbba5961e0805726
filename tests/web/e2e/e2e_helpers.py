"""The real portal over HTTP: ``gutbrain serve`` as a subprocess on a free loopback port.

Accounts are created in the store (known passwords); everything else goes through HTTP like a
browser: the login form (pre-login token, then the session cookie), the upload form (the
session's CSRF token first), the pages. The server runs in its own process group, so a test can
signal it as a whole (``kill -9`` of the server, its job worker and the worker's ``gutbrain run``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx2

from gutbrain.web.security import hash_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Job, Role, Store
from gutbrain.workflow.run import example_paths

PASSWORD = "an end to end passphrase"
HERE = Path(__file__).resolve().parent
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SAMPLE_URL = re.compile(r"^/samples/([0-9a-f]{32})$")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``gutbrain serve`` on ``data_dir``; :meth:`start` may be called again after a kill."""

    data_dir: Path
    log: Path
    lease_seconds: float | None = None
    secure_cookies: bool = False
    crisis_contact: str | None = "E2E crisis line 000"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        if self.lease_seconds is None:
            command = [sys.executable, "-m", "gutbrain", "serve"]
        else:
            wrapper = str(HERE / "serve_with_lease.py")
            command = [sys.executable, wrapper, str(self.lease_seconds), "serve"]
        command += ["--data", str(self.data_dir), "--port", str(self.port)]
        if not self.secure_cookies:
            command.append("--insecure-cookies")
        if self.crisis_contact:
            command += ["--crisis-contact", self.crisis_contact]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUTBRAIN_")}
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=handle,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(f"{self.base_url}/login", timeout=2).status_code == 200:
                    return
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-2000:]}")
            assert time.monotonic() < deadline, "the server did not answer within 60 s"
            time.sleep(0.2)

    def signal_group(self, signum: int, *, wait: float = 60) -> int:
        """Send ``signum`` to the server's whole process group; wait for the server to end."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        return self.process.wait(timeout=wait)

    def signal_server(self, signum: int, *, wait: float = 60) -> int:
        """Send ``signum`` to the server process only (as ``kill PID`` or ``docker stop`` do)."""
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=wait)

    def group_alive(self) -> bool:
        """Whether any process of the server's group is still alive (zombies do not count)."""
        assert self.process is not None
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid and fields[0] != "Z":
                    return True
        return False

    def runs_left(self) -> list[int]:
        """Processes whose command line names this data folder (a ``gutbrain run`` of a job)."""
        marker = str(self.data_dir).encode()
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                if marker in cmdline.read_bytes():
                    found.append(int(cmdline.parent.name))
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self.process is not None:  # the worker and its child may outlive the server
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.base_url, timeout=30, follow_redirects=False)


@dataclass(frozen=True)
class People:
    lab_email: str
    lab_id: str
    person_email: str
    person_id: str
    person_name: str


def seed_accounts(
    data_dir: Path,
    *,
    lab_email: str = "lab@example.org",
    person_email: str = "person@example.org",
    person_name: str = "Person One",
) -> People:
    """A lab serving one person (created in the store, with :data:`PASSWORD`)."""
    store = Store.open(PortalSettings(data_dir=data_dir))
    try:
        hashed = hash_password(PASSWORD)
        lab = store.create_account(lab_email, hashed, Role.LAB, "E2E Lab")
        person = store.create_account(person_email, hashed, Role.PERSON, person_name)
        store.link_person(lab.id, person.id)
    finally:
        store.close()
    return People(lab_email, lab.id, person_email, person.id, person_name)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: httpx2.Client, email: str, password: str = PASSWORD) -> str:
    """Log in through the form; the session's CSRF token (from the landing page)."""
    page = client.get("/login")
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(page.text)}
    )
    assert answer.status_code == 303, answer.text
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    return csrf_of(home.text)


def small_reads(folder: Path, reads: int = 600) -> Path:
    """The first ``reads`` records of the bundled example (a shorter, still real run)."""
    lines = gzip.decompress(example_paths().reads.read_bytes()).decode("ascii").splitlines()
    target = folder / "reads.fastq.gz"
    target.write_bytes(gzip.compress(("\n".join(lines[: 4 * reads]) + "\n").encode("ascii")))
    return target


def upload(
    client: httpx2.Client,
    person_id: str,
    reads: Path,
    *,
    label: str = "week 1",
    answers: bytes | None = None,
    markers: bytes | None = None,
) -> str:
    """Upload reads (and the bundled answers and markers) as the logged-in lab; the sample id."""
    form = client.get(f"/lab/people/{person_id}/upload")
    assert form.status_code == 200, form.text
    example = example_paths()
    fields = {
        "csrf": csrf_of(form.text),
        "label": label,
        "collected_on": "2026-11-02",
        "preset": "ont",
        "consent": "yes",
        "consent_version": "2026-12",
    }
    files = {
        "reads": ("reads.fastq.gz", reads.read_bytes(), "application/gzip"),
        "answers": ("answers.yaml", answers or example.answers.read_bytes(), "text/yaml"),
        "markers": ("markers.yaml", markers or example.markers.read_bytes(), "text/yaml"),
    }
    answer = client.post(f"/lab/people/{person_id}/samples", data=fields, files=files)
    assert answer.status_code == 303, answer.text
    found = _SAMPLE_URL.match(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def job_of(store: Store, sample_id: str) -> Job:
    sample = store.sample(sample_id)
    assert sample is not None
    return sample.job


def wait_for(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Poll ``probe`` every 0.3 s until it returns something (not ``None``); fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.3)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
