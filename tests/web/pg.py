"""A throwaway PostgreSQL cluster for the portal's tests (Debian's ``postgresql`` binaries).

:func:`start_cluster` runs ``initdb`` into a fresh temporary folder and starts the server on a
free port of 127.0.0.1 with its unix socket in that folder; :meth:`Cluster.stop` stops it and
removes the folder. PostgreSQL refuses to run as root, so when the tests run as root the server
runs as the ``postgres`` OS user (``runuser``). ``scripts/ensure-postgresql.sh`` installs the
binaries (``make test`` calls it).

Use the fixtures of ``tests/web/conftest.py`` (``postgres_cluster``, ``postgres_url``) rather
than this module directly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

__all__ = ["Cluster", "binaries", "start_cluster", "unavailable_reason"]


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, or ``None``."""
    found = [
        p.parent
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if re.fullmatch(r"\d+", p.parent.parent.name)
    ]
    return max(found, key=lambda b: int(b.parent.name)) if found else None


def unavailable_reason() -> str | None:
    """Why no cluster can be started here (``None`` when one can)."""
    if binaries() is None:
        return (
            "PostgreSQL binaries not found (/usr/lib/postgresql/*/bin); "
            "run scripts/ensure-postgresql.sh"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no 'postgres' OS user to run the server"
        if shutil.which("runuser") is None:
            return "running as root but runuser is missing"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster; ``url()`` of a database in it (``postgresql://``)."""

    root: Path
    bin_dir: Path
    port: int
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; its ``postgresql://`` URL."""
        name = f"gb_{uuid.uuid4().hex}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            _run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                as_postgres=self.as_postgres,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _run(command: list[str], *, as_postgres: bool) -> None:
    if as_postgres:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def start_cluster() -> Cluster:
    """initdb + start a cluster in a new temporary folder (see the module docstring)."""
    bin_dir = binaries()
    if bin_dir is None:
        message = unavailable_reason() or "PostgreSQL binaries not found"
        raise RuntimeError(message)
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="gutbrain-pg-"))
    if as_postgres:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    cluster = Cluster(root=root, bin_dir=bin_dir, port=_free_port(), as_postgres=as_postgres)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            as_postgres=as_postgres,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=60"
        )
        _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(cluster.data),
                "-o",
                options,
                "-l",
                str(root / "server.log"),
                "-w",
                "start",
            ],
            as_postgres=as_postgres,
        )
    except subprocess.CalledProcessError as exc:
        log = root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        cluster.stop()
        message = f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{tail}"
        raise RuntimeError(message) from exc
    return cluster
