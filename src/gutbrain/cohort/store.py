"""The cohort store: Parquet files per sample plus a SQLite (WAL) catalogue of run state.

Layout (``docs/cohort.md``)::

    STORE/
      catalogue.sqlite            run state: one row per sample (task key, status, error, files)
      .owner.lock                 held (flock) by the one process writing the store
      metadata.parquet            the sample sheet's covariates/outcomes, one row per sample
      profiles/<sample>.<key12>.parquet   taxon rows of one sample (all ranks)
      scores/<sample>.<key12>.parquet     alpha diversity, guild scores, QC figures of one sample
      results/<sample>.<key12>.json       the sample's interpretation (Result JSON)
      associations/<outcome>.<method>.parquet   association tables
      associations/<outcome>.summary.json       PERMANOVA, agreement, settings

Commit protocol: a sample's Parquet files are written atomically (temporary file, fsync,
rename) and only then is its catalogue row upserted, in one ``BEGIN IMMEDIATE`` transaction that
records the files' SHA-256. A sample is *done* iff its row says ``done`` with the current task key
and its files exist with those checksums. Files without a row (a crash between the two steps) are
removed when the store is next opened for writing.

Only the coordinating process writes (it holds ``.owner.lock``); Dask workers return results and
never open the store. Analytics go through an in-memory DuckDB connection over the Parquet files
(:meth:`CohortStore.connect_duckdb`), so no DuckDB file is ever shared between processes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gutbrain.errors import (
    ErrorCode,
    InputFormatError,
    InputMissingError,
    OutputError,
    StoreBusyError,
)
from gutbrain.io.files import (
    atomic_write_bytes,
    process_alive,
    sha256_file,
    sweep_partials,
)
from gutbrain.io.jsonfile import dumps_json, write_json
from gutbrain.model import RANKS

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "PROFILE_SCHEMA",
    "RUN_STATUSES",
    "SCORE_SCHEMA",
    "CohortStore",
    "SampleRecord",
    "open_store",
    "profile_rows_table",
    "score_rows_table",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: Permissions of the store's folders and files: personal data, readable by the owner only.
_DIR_MODE = 0o700
_FILE_MODE = 0o600

#: ``runs.status`` values: ``running`` while its owner holds the lock, then ``finished``, or
#: ``interrupted`` (Ctrl-C, or found unfinished by the next writer: its process was killed).
RUN_STATUSES = ("running", "finished", "interrupted")

#: Columns of ``profiles/*.parquet``.
PROFILE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("rank", pa.string()),
        ("taxon", pa.string()),
        ("superkingdom", pa.string()),
        ("phylum", pa.string()),
        ("class", pa.string()),
        ("order", pa.string()),
        ("family", pa.string()),
        ("genus", pa.string()),
        ("species", pa.string()),
        ("abundance", pa.float64()),
        ("reads", pa.float64()),
        ("taxid", pa.string()),
    ]
)

#: Columns of ``scores/*.parquet``: ``kind`` is alpha | guild | qc | unassigned | instrument | …
SCORE_SCHEMA = pa.schema(
    [
        ("sample_id", pa.string()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("value", pa.float64()),
        ("detail", pa.string()),
    ]
)

_DDL = """
CREATE TABLE IF NOT EXISTS samples (
    sample_id      TEXT PRIMARY KEY,
    task_key       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error_code     TEXT,
    error_message  TEXT,
    attempts       INTEGER NOT NULL DEFAULT 1,
    run_id         TEXT NOT NULL,
    updated_at     REAL NOT NULL,
    profile_file   TEXT,
    profile_sha256 TEXT,
    scores_file    TEXT,
    scores_sha256  TEXT,
    n_taxa         INTEGER,
    total_reads    REAL,
    seconds        REAL,
    result_file    TEXT,
    result_sha256  TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    started_at  REAL NOT NULL,
    finished_at REAL,
    sheet       TEXT,
    n_samples   INTEGER,
    n_done      INTEGER,
    n_skipped   INTEGER,
    n_failed    INTEGER,
    details     TEXT,
    status      TEXT
);
"""


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One catalogue row."""

    sample_id: str
    task_key: str
    status: str
    error_code: str | None
    error_message: str | None
    attempts: int
    run_id: str
    profile_file: str | None
    profile_sha256: str | None
    scores_file: str | None
    scores_sha256: str | None
    n_taxa: int | None
    total_reads: float | None
    seconds: float | None
    result_file: str | None = None
    result_sha256: str | None = None


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _table_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


class CohortStore:
    """A cohort store folder. Open with :func:`open_store`; use as a context manager.

    ``writable=True`` takes the owner lock (one writer process at a time) and creates the folder;
    read-only stores can be opened while a run is writing (the catalogue is in WAL mode and every
    Parquet file is published atomically).
    """

    def __init__(self, root: Path, *, writable: bool) -> None:
        self.root = root
        self.writable = writable
        #: Whether opening the store created its folder (a failed first run removes it again).
        self.created = False
        self._lock_handle: io.TextIOWrapper | None = None
        self._db: sqlite3.Connection | None = None

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> None:
        catalogue = self.root / "catalogue.sqlite"
        if self.writable:
            try:
                if not self.root.exists():
                    self.root.mkdir(mode=_DIR_MODE, parents=True)
                    self.created = True
                for sub in ("profiles", "scores", "results", "associations"):
                    (self.root / sub).mkdir(mode=_DIR_MODE, exist_ok=True)
                    (self.root / sub).chmod(_DIR_MODE)
                if self.created:
                    self.root.chmod(_DIR_MODE)
            except OSError as exc:
                message = f"{self.root}: cannot create the store ({exc.strerror or exc})"
                raise OutputError(message) from exc
            self._take_lock()
            try:
                os.close(os.open(catalogue, os.O_RDWR | os.O_CREAT, _FILE_MODE))
                catalogue.chmod(_FILE_MODE)
            except OSError as exc:
                self.close()
                raise _output_error(catalogue, exc) from exc
        elif not catalogue.is_file():
            message = f"{self.root}: not a cohort store (no catalogue.sqlite); run `cohort run`"
            raise InputMissingError(message)
        uri = catalogue.as_uri() + ("" if self.writable else "?mode=ro")
        try:
            db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 30000")
            if self.writable:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
            check = db.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                message = f"catalogue failed its integrity check ({check}); restore a backup"
                raise InputFormatError(message, path=catalogue)
            if self.writable:
                db.executescript(_DDL)
                columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
                if "status" not in columns:  # a store written before runs had a status
                    db.execute("ALTER TABLE runs ADD COLUMN status TEXT")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            message = f"catalogue cannot be opened ({exc}); it may be corrupt — restore a backup"
            self.close()
            raise InputFormatError(message, path=catalogue) from None
        self._db = db
        if self.writable:
            self._mark_interrupted_runs()
            self._collect_garbage()

    def _take_lock(self) -> None:
        lock_path = self.root / ".owner.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except OSError as exc:
            raise _output_error(lock_path, exc) from exc
        handle = open(fd, "r+", encoding="utf-8")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            message = (
                f"{self.root}: the store is being written by another process (pid {owner}); "
                "wait for it to finish or use a different --out"
            )
            raise StoreBusyError(message) from None
        except OSError as exc:
            handle.close()
            raise _output_error(lock_path, exc) from exc
        self._lock_handle = handle
        try:
            os.fchmod(handle.fileno(), _FILE_MODE)
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
        except OSError as exc:  # ENOSPC, EDQUOT, EIO while recording the owner
            self.close()
            raise _output_error(lock_path, exc) from exc

    def close(self) -> None:
        """Release the catalogue connection and the owner lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                self._lock_handle.seek(0)
                self._lock_handle.truncate()
            with contextlib.suppress(OSError):
                self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> CohortStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The catalogue connection (autocommit; use :meth:`transaction`)."""
        if self._db is None:
            message = "the store is closed"
            raise RuntimeError(message)
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on error)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _require_writable(self) -> None:
        if not self.writable:
            message = "this store was opened read-only"
            raise RuntimeError(message)

    # -- garbage collection --------------------------------------------------------------------
    def _collect_garbage(self) -> int:
        removed = 0
        for sub in ("profiles", "scores", "results", "associations"):
            removed += sweep_partials(self.root / sub)
        removed += sweep_partials(self.root)
        referenced = {
            name
            for row in self.db.execute("SELECT profile_file, scores_file, result_file FROM samples")
            for name in row
            if name
        }
        for sub, pattern in (
            ("profiles", "*.parquet"),
            ("scores", "*.parquet"),
            ("results", "*.json"),
        ):
            for path in (self.root / sub).glob(pattern):
                if f"{sub}/{path.name}" not in referenced:
                    path.unlink(missing_ok=True)
                    removed += 1
        if removed:
            logger.info(
                "store %s: removed %d leftover file(s) of interrupted runs", self.root, removed
            )
        return removed

    # -- samples -------------------------------------------------------------------------------
    def records(self) -> dict[str, SampleRecord]:
        """All catalogue rows by sample ID."""
        cursor = self.db.execute(
            "SELECT sample_id, task_key, status, error_code, error_message, attempts, run_id, "
            "profile_file, profile_sha256, scores_file, scores_sha256, n_taxa, total_reads, "
            "seconds, result_file, result_sha256 FROM samples ORDER BY sample_id"
        )
        return {row[0]: SampleRecord(*row) for row in cursor}

    def record(self, sample_id: str) -> SampleRecord | None:
        """One catalogue row (``None`` when the sample was never run)."""
        row = self.db.execute(
            "SELECT sample_id, task_key, status, error_code, error_message, attempts, run_id, "
            "profile_file, profile_sha256, scores_file, scores_sha256, n_taxa, total_reads, "
            "seconds, result_file, result_sha256 FROM samples WHERE sample_id = ?",
            (sample_id,),
        ).fetchone()
        return None if row is None else SampleRecord(*row)

    def is_done(self, record: SampleRecord | None, task_key: str, *, verify: bool = True) -> bool:
        """Whether ``record`` is a finished sample for ``task_key`` whose files are intact."""
        if record is None or record.status != "done" or record.task_key != task_key:
            return False
        files = [
            (record.profile_file, record.profile_sha256),
            (record.scores_file, record.scores_sha256),
        ]
        if record.result_file is not None:
            files.append((record.result_file, record.result_sha256))
        for name, digest in files:
            if name is None:
                return False
            path = self.root / name
            if not path.is_file():
                return False
            if verify and digest is not None and sha256_file(path) != digest:
                logger.warning("store file %s does not match its checksum; redoing", name)
                return False
        return True

    def commit_sample(
        self,
        sample_id: str,
        *,
        task_key: str,
        run_id: str,
        profile: pa.Table,
        scores: pa.Table,
        result_json: str | None = None,
        seconds: float | None = None,
    ) -> None:
        """Publish a sample's files, then upsert its catalogue row (the commit point).

        ``result_json`` is the sample's interpretation (:class:`gutbrain.result.Result` JSON),
        kept as ``results/<sample>.<key12>.json`` so a personal report can be rendered later.
        """
        self._require_writable()
        stem = f"{sample_id}.{task_key[:12]}"
        profile_bytes = _table_bytes(profile.cast(PROFILE_SCHEMA))
        scores_bytes = _table_bytes(scores.cast(SCORE_SCHEMA))
        profile_name = f"profiles/{stem}.parquet"
        scores_name = f"scores/{stem}.parquet"
        atomic_write_bytes(self.root / profile_name, profile_bytes)
        atomic_write_bytes(self.root / scores_name, scores_bytes)
        result_name = result_digest = None
        if result_json is not None:
            result_bytes = result_json.encode("utf-8")
            result_name = f"results/{stem}.json"
            result_digest = hashlib.sha256(result_bytes).hexdigest()
            atomic_write_bytes(self.root / result_name, result_bytes)
        reads = profile.column("reads").to_pylist()
        total = (
            float(sum(r for r in reads if r is not None))
            if reads and all(r is not None for r in reads)
            else None
        )
        ranks = profile.column("rank").to_pylist()
        deepest = max(set(ranks), key=_rank_depth) if ranks else None
        n_taxa = sum(1 for r in ranks if r == deepest)
        old = self.record(sample_id)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO samples (sample_id, task_key, status, error_code, error_message, "
                "attempts, run_id, updated_at, profile_file, profile_sha256, scores_file, "
                "scores_sha256, n_taxa, total_reads, seconds, result_file, result_sha256) "
                "VALUES (?, ?, 'done', NULL, NULL, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(sample_id) DO UPDATE SET task_key = excluded.task_key, "
                "status = 'done', error_code = NULL, error_message = NULL, "
                "attempts = samples.attempts + 1, run_id = excluded.run_id, "
                "updated_at = excluded.updated_at, profile_file = excluded.profile_file, "
                "profile_sha256 = excluded.profile_sha256, scores_file = excluded.scores_file, "
                "scores_sha256 = excluded.scores_sha256, n_taxa = excluded.n_taxa, "
                "total_reads = excluded.total_reads, seconds = excluded.seconds, "
                "result_file = excluded.result_file, result_sha256 = excluded.result_sha256",
                (
                    sample_id,
                    task_key,
                    run_id,
                    time.time(),
                    profile_name,
                    hashlib.sha256(profile_bytes).hexdigest(),
                    scores_name,
                    hashlib.sha256(scores_bytes).hexdigest(),
                    n_taxa,
                    total,
                    seconds,
                    result_name,
                    result_digest,
                ),
            )
        if old is not None:
            self._remove_stale(old, keep={profile_name, scores_name, result_name or ""})

    def mark_failed(
        self, sample_id: str, *, task_key: str, run_id: str, code: str, message: str
    ) -> None:
        """Record a failed sample (its old files, if any, are removed)."""
        self._require_writable()
        old = self.record(sample_id)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO samples (sample_id, task_key, status, error_code, error_message, "
                "attempts, run_id, updated_at) VALUES (?, ?, 'failed', ?, ?, 1, ?, ?) "
                "ON CONFLICT(sample_id) DO UPDATE SET task_key = excluded.task_key, "
                "status = 'failed', error_code = excluded.error_code, "
                "error_message = excluded.error_message, attempts = samples.attempts + 1, "
                "run_id = excluded.run_id, updated_at = excluded.updated_at, "
                "profile_file = NULL, profile_sha256 = NULL, scores_file = NULL, "
                "scores_sha256 = NULL, n_taxa = NULL, total_reads = NULL, seconds = NULL, "
                "result_file = NULL, result_sha256 = NULL",
                (sample_id, task_key, code, message[:2000], run_id, time.time()),
            )
        if old is not None:
            self._remove_stale(old, keep=set())

    def _remove_stale(self, old: SampleRecord, *, keep: set[str]) -> None:
        for name in (old.profile_file, old.scores_file, old.result_file):
            if name and name not in keep:
                (self.root / name).unlink(missing_ok=True)

    # -- runs and metadata ---------------------------------------------------------------------
    def start_run(self, run_id: str, *, sheet: str, n_samples: int) -> None:
        """Record the start of a run (status ``running``)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, started_at, sheet, n_samples, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (run_id, time.time(), sheet, n_samples),
            )

    def finish_run(
        self,
        run_id: str,
        *,
        done: int,
        skipped: int,
        failed: int,
        details: Mapping[str, object],
        status: str = "finished",
    ) -> None:
        """Record the end of a run (``finished``, or ``interrupted`` after Ctrl-C)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, n_done = ?, n_skipped = ?, n_failed = ?, "
                "details = ?, status = ? WHERE run_id = ?",
                (
                    time.time(),
                    done,
                    skipped,
                    failed,
                    dumps_json(details, indent=None),
                    status,
                    run_id,
                ),
            )

    def _mark_interrupted_runs(self) -> int:
        """Mark runs that never finished as ``interrupted``; return how many.

        Called by a writer holding the owner lock: no other process can be running one, so an
        unfinished run's process was killed (``kill -9``, power loss).
        """
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status = 'interrupted' "
                "WHERE finished_at IS NULL AND (status IS NULL OR status = 'running')"
            )
        if cursor.rowcount:
            logger.warning(
                "store %s: %d earlier run(s) were killed before they finished; marked "
                "interrupted (their finished samples are kept)",
                self.root,
                cursor.rowcount,
            )
        return int(cursor.rowcount)

    def owner_alive(self) -> bool:
        """Whether a live process holds the store for writing (by the PID in the owner lock)."""
        try:
            text = (self.root / ".owner.lock").read_text(encoding="utf-8").strip()
        except OSError:
            return False
        if not text.isdigit():
            return False
        pid = int(text)
        if pid == os.getpid():  # another store object of this process may hold it: probe
            return self._lock_handle is not None or _flock_held(self.root / ".owner.lock")
        return process_alive(pid)

    def is_empty(self) -> bool:
        """Whether no sample was ever recorded in the catalogue."""
        row = self.db.execute("SELECT count(*) FROM samples").fetchone()
        return row is None or int(row[0]) == 0

    def verify(self) -> None:
        """Check every done sample's files against the SHA-256 in the catalogue.

        Raises
        ------
        InputFormatError
            ``GB-STORE``, naming the first file that is missing or changed since it was written.
        """
        for record in self.records().values():
            if record.status != "done":
                continue
            for name, digest in (
                (record.profile_file, record.profile_sha256),
                (record.scores_file, record.scores_sha256),
                (record.result_file, record.result_sha256),
            ):
                if name is None:
                    continue
                path = self.root / name
                try:
                    actual = sha256_file(path)
                except OSError as exc:
                    now = self.record(record.sample_id)
                    if now is None or now.task_key != record.task_key:
                        continue  # redone by a concurrent run meanwhile: its new files count
                    message = (
                        f"store file {name} of sample {record.sample_id} cannot be read "
                        f"({exc.strerror or exc}); rerun `gutbrain cohort run` to redo the sample"
                    )
                    raise InputFormatError(message, path=self.root, code=ErrorCode.STORE) from None
                if digest is not None and actual != digest:
                    message = (
                        f"store file {name} of sample {record.sample_id} was changed after it "
                        "was written (SHA-256 differs from the catalogue); rerun `gutbrain "
                        "cohort run` to redo the sample, or restore the file"
                    )
                    raise InputFormatError(message, path=self.root, code=ErrorCode.STORE)

    def write_metadata(self, frame: pd.DataFrame) -> None:
        """Replace ``metadata.parquet`` (one row per sample of the current sheet)."""
        self._require_writable()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        atomic_write_bytes(self.root / "metadata.parquet", _table_bytes(table))

    def metadata(self) -> pd.DataFrame:
        """The sample sheet's covariates, indexed by sample ID.

        Raises
        ------
        InputFormatError
            ``GB-STORE`` when ``metadata.parquet`` is unreadable or has no ``sample_id`` column.
        """
        path = self.root / "metadata.parquet"
        if not path.is_file():
            return pd.DataFrame(index=pd.Index([], name="sample_id"))
        frame = _to_pandas(_read_parquet(path, self.root))
        if "sample_id" not in frame.columns:
            message = (
                "store file metadata.parquet has no sample_id column (changed after it was "
                "written); rerun `gutbrain cohort run` to rewrite it"
            )
            raise InputFormatError(message, path=self.root, code=ErrorCode.STORE)
        return frame.set_index("sample_id")

    def write_json(self, name: str, payload: Mapping[str, object]) -> Path:
        """Write a JSON document (a JSON-ready mapping) under the store atomically."""
        self._require_writable()
        return write_json(self.root / name, payload)

    def write_table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a DataFrame as Parquet under the store atomically."""
        self._require_writable()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return atomic_write_bytes(self.root / name, _table_bytes(table))

    # -- reading -------------------------------------------------------------------------------
    def done_files(self, kind: str) -> list[Path]:
        """Paths of the ``profiles`` or ``scores`` files of all done samples."""
        column = {"profiles": "profile_file", "scores": "scores_file"}[kind]
        rows = self.db.execute(
            f"SELECT {column} FROM samples WHERE status = 'done' ORDER BY sample_id"
        )
        return [self.root / row[0] for row in rows if row[0]]

    def read_profiles(self, *, rank: str | None = None) -> pd.DataFrame:
        """Concatenate the profile rows of all done samples (optionally one rank)."""
        files = self.done_files("profiles")
        if not files:
            return _to_pandas(PROFILE_SCHEMA.empty_table())
        filters = [("rank", "=", rank)] if rank else None
        tables = [_read_parquet(f, self.root, PROFILE_SCHEMA, filters) for f in files]
        return _to_pandas(pa.concat_tables(tables))

    def read_result_json(self, sample_id: str) -> str | None:
        """The stored interpretation (Result JSON) of a done sample, if any."""
        record = self.record(sample_id)
        if record is None or record.status != "done" or record.result_file is None:
            return None
        return (self.root / record.result_file).read_text(encoding="utf-8")

    def read_scores(self, *, kind: str | None = None) -> pd.DataFrame:
        """Concatenate the score rows of all done samples (optionally one kind)."""
        files = self.done_files("scores")
        if not files:
            return _to_pandas(SCORE_SCHEMA.empty_table())
        filters = [("kind", "=", kind)] if kind else None
        tables = [_read_parquet(f, self.root, SCORE_SCHEMA, filters) for f in files]
        return _to_pandas(pa.concat_tables(tables))

    def catalogue_frame(self) -> pd.DataFrame:
        """The ``samples`` table of the catalogue as a DataFrame."""
        return pd.read_sql_query("SELECT * FROM samples ORDER BY sample_id", self.db)

    def runs_frame(self) -> pd.DataFrame:
        """The ``runs`` table of the catalogue as a DataFrame.

        A run without an end is ``running`` only while a live process holds the owner lock;
        otherwise its process was killed and it shows as ``interrupted``.
        """
        frame = pd.read_sql_query("SELECT * FROM runs ORDER BY started_at", self.db)
        if "status" not in frame.columns:
            frame["status"] = None
        unfinished = frame["finished_at"].isna() & (
            frame["status"].isna() | (frame["status"] == "running")
        )
        if unfinished.any():
            alive = self.owner_alive()
            frame.loc[unfinished, "status"] = "running" if alive else "interrupted"
        return frame

    def connect_duckdb(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with views over the store, sandboxed.

        Views: ``profiles``, ``scores`` (done samples only), ``metadata``, ``samples`` and
        ``runs`` (the catalogue), and ``associations`` (all association tables, with an
        ``outcome`` and ``method`` column) when any exist.

        The views read the store through Arrow objects registered in this process, so once they
        exist the connection is locked down: ``enable_external_access = false`` (no file
        reading, globbing, ``COPY … TO``, ``ATTACH``, extensions), no Python replacement scans,
        and ``lock_configuration = true`` so SQL cannot undo it. A query can read the views and
        nothing else; it cannot write a file.
        """
        import duckdb
        import pyarrow.dataset as pads

        con = duckdb.connect(":memory:")
        for kind, schema in (("profiles", PROFILE_SCHEMA), ("scores", SCORE_SCHEMA)):
            files = [str(f) for f in self.done_files(kind)]
            source: Any = (
                pads.dataset(files, schema=schema, format="parquet")
                if files
                else schema.empty_table()
            )
            con.register(f"_{kind}", source)
            con.execute(f"CREATE VIEW {kind} AS SELECT * FROM _{kind}")
        meta = self.metadata().reset_index()
        con.register("_metadata", meta)
        con.execute("CREATE VIEW metadata AS SELECT * FROM _metadata")
        con.register("_samples", self.catalogue_frame())
        con.execute("CREATE VIEW samples AS SELECT * FROM _samples")
        con.register("_runs", self.runs_frame())
        con.execute("CREATE VIEW runs AS SELECT * FROM _runs")
        assoc = sorted((self.root / "associations").glob("*.parquet"))
        if assoc:
            frames = []
            for path in assoc:
                outcome, _, method = path.stem.rpartition(".")
                frame = _read_parquet(path, self.root).to_pandas()
                frame.insert(0, "method_file", method)
                frame.insert(0, "outcome", outcome)
                frames.append(frame)
            con.register("_associations", pd.concat(frames, ignore_index=True))
            con.execute("CREATE VIEW associations AS SELECT * FROM _associations")
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con


def _rank_depth(rank: str) -> int:
    return RANKS.index(rank) if rank in RANKS else -1


def _flock_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock this probe took
    return False


def _output_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        message = f"{path}: no space left on the device (or quota exceeded); free some space"
        return OutputError(message, code=ErrorCode.NOSPACE)
    message = f"{path}: cannot write ({exc.strerror or exc}); check space and permissions"
    return OutputError(message)


def _read_parquet(
    path: Path,
    root: Path,
    schema: pa.Schema | None = None,
    filters: list[tuple[str, str, str]] | None = None,
) -> pa.Table:
    """Read a store Parquet file; a damaged file or a changed schema is a ``GB-STORE`` error."""
    name = path.relative_to(root) if path.is_relative_to(root) else path
    try:
        table = pq.read_table(path, filters=filters)
        if schema is not None:
            table = table.select(schema.names).cast(schema)
    except (OSError, pa.ArrowException, KeyError, ValueError) as exc:
        message = (
            f"store file {name} cannot be read as the store wrote it ({exc}); it was changed or "
            "damaged: rerun `gutbrain cohort run` (or `cohort associate`) to rewrite it"
        )
        raise InputFormatError(message, path=root, code=ErrorCode.STORE) from None
    return table


def open_store(path: str | Path, *, writable: bool = False) -> CohortStore:
    """Open (and with ``writable=True`` create and lock) the cohort store at ``path``.

    Raises
    ------
    StoreBusyError
        When another process holds the store for writing.
    InputMissingError
        When a read-only open finds no store.
    InputFormatError
        When the catalogue is corrupt.
    """
    store = CohortStore(Path(path).expanduser().resolve(), writable=writable)
    store._open()
    return store


def profile_rows_table(rows: Sequence[Mapping[str, str | float | None]]) -> pa.Table:
    """Build a :data:`PROFILE_SCHEMA` table from row dictionaries (missing keys are null)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=PROFILE_SCHEMA)


def score_rows_table(rows: Sequence[Mapping[str, str | float | None]]) -> pa.Table:
    """Build a :data:`SCORE_SCHEMA` table from row dictionaries (missing keys are null)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=SCORE_SCHEMA)
