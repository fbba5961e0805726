"""``gutbrain serve``: creating the administrator, and the start-up warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    assert "GB-SERVE" in again.stderr and "already exists" in again.stderr


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
