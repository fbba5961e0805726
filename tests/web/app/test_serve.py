"""``gutbrain serve``: creating the administrator, and the start-up warning."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.web.security import verify_password
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Role, Store

PASSWORD = "an admin passphrase"


def _serve(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUTBRAIN_")}
    if password is not None:
        env["GUTBRAIN_ADMIN_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", "serve", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _store(data: Path) -> Store:
    return Store.open(PortalSettings(data_dir=data))


def test_create_admin_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "portal"
    done = _serve("--data", str(data), "--create-admin", "root@example.org", password=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "administrator root@example.org created" in done.stdout
    found = _store(data).credentials("root@example.org")
    assert found is not None
    account, stored = found
    assert account.role is Role.ADMIN
    assert verify_password(stored, PASSWORD)[0]
    assert PASSWORD not in done.stdout + done.stderr
    again = _serve("--data", str(data), "--create-admin", "ROOT@example.org", password=PASSWORD)
    assert again.returncode == 78
    assert "GB-SERVE" in again.stderr
    assert "already exists" in again.stderr


def test_create_admin_refuses_a_short_password_and_a_bad_address(tmp_path: Path) -> None:
    data = tmp_path / "portal"
    short = _serve("--data", str(data), "--create-admin", "root@example.org", password="short")
    assert short.returncode == 78
    assert "shorter than 12 characters" in short.stderr
    bad = _serve("--data", str(data), "--create-admin", "not-an-address", password=PASSWORD)
    assert bad.returncode == 78
    assert _store(data).count_admins() == 0


def test_create_admin_asks_for_the_password_twice(tmp_path: Path) -> None:
    data = tmp_path / "portal"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["serve", "--data", str(data), "--create-admin", "root@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert _store(data).count_admins() == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_warns_without_crisis_contact_serves_and_stops_with_its_worker(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUTBRAIN_")}
    command = [sys.executable, "-m", "gutbrain", "serve", "--data", str(tmp_path / "portal")]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--insecure-cookies"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as page:
                    body = page.read().decode("utf-8")
                    headers = page.headers
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.3)
        assert 'name="csrf"' in body
        assert "default-src 'self'" in headers["content-security-policy"]
        worker_pids = _children(server.pid)
        assert worker_pids, "no worker process beside the server"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert "no --crisis-contact is configured" in err
    assert "--insecure-cookies" in err
    assert f"127.0.0.1:{port}" in out
    for pid in worker_pids:  # the worker ended with the server
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _children(pid: int) -> list[int]:
    """The server's worker process (multiprocessing's spawned child, not its resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in command:
                found.append(int(child))
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
