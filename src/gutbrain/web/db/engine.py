"""Open the portal's database: engine, connection settings, and migration to the newest schema.

SQLite (the default) runs in WAL mode with ``synchronous=FULL`` (a committed transaction survives
power loss), ``foreign_keys=ON`` and a ``busy_timeout``; transactions that write start with
``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a read lock. PostgreSQL is reached
through psycopg 3.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

__all__ = ["BUSY_TIMEOUT_MS", "WRITE", "create_engine", "migrate"]

logger = logging.getLogger(__name__)

#: How long a SQLite connection waits for another process's write lock.
BUSY_TIMEOUT_MS = 30_000
#: Execution option that makes a SQLite transaction start with ``BEGIN IMMEDIATE``.
WRITE = "gutbrain_write"
_MIGRATIONS = Path(__file__).with_name("migrations")
#: Key of the PostgreSQL advisory lock held while migrating (any constant shared by all servers).
_MIGRATION_LOCK = 0x6775_7462_7261_696E & 0x7FFF_FFFF_FFFF_FFFF


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (once per file: the mode is stored in the file).

    The switch needs an exclusive lock, and SQLite does not always wait for it through the busy
    timeout (several processes opening a new database at once), so it is retried here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02 + random.random() * 0.05)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    # the driver's own transaction handling is off: SQLAlchemy's "begin" event emits BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` (``sqlite:///FILE`` or ``postgresql+psycopg://…``).

    Connections made through it carry the pragmas above; a connection with the execution option
    ``{WRITE: True}`` begins its transactions as writers.
    """
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(engine: sa.Engine) -> None:
    """Bring the database to the newest schema, in one transaction, one process at a time.

    Several processes may open the portal at once (the web server and its worker): SQLite takes
    the write lock first (``BEGIN IMMEDIATE``), PostgreSQL an advisory lock, so the second process
    waits and then finds the schema current.
    """
    with engine.connect() as bare:
        connection = bare.execution_options(**{WRITE: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            command.upgrade(_alembic_config(connection), "head")
    logger.info("database schema is current")
