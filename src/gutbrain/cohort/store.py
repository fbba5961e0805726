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
import fcntl
import hashlib
import io
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from gutbrain.errors import InputFormatError, InputMissingError, OutputError, StoreBusyError
from gutbrain.io.files import atomic_write_bytes, atomic_write_text, sweep_partials

__all__ = [
    "PROFILE_SCHEMA",
    "SCORE_SCHEMA",
    "CohortStore",
    "SampleRecord",
    "open_store",
    "profile_rows_table",
    "score_rows_table",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

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
    details     TEXT
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
        self._lock_handle: io.TextIOWrapper | None = None
        self._db: sqlite3.Connection | None = None

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> None:
        catalogue = self.root / "catalogue.sqlite"
        if self.writable:
            try:
                for sub in ("profiles", "scores", "results", "associations"):
                    (self.root / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                message = f"{self.root}: cannot create the store ({exc.strerror or exc})"
                raise OutputError(message) from exc
            self._take_lock()
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
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            message = f"catalogue cannot be opened ({exc}); it may be corrupt — restore a backup"
            self.close()
            raise InputFormatError(message, path=catalogue) from None
        self._db = db
        if self.writable:
            self._collect_garbage()

    def _take_lock(self) -> None:
        lock_path = self.root / ".owner.lock"
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until close()
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
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def close(self) -> None:
        """Release the catalogue connection and the owner lock."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_handle is not None:
            with contextlib.suppress(OSError):
                self._lock_handle.seek(0)
                self._lock_handle.truncate()
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
            if verify and digest is not None and _sha256(path) != digest:
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
        """Record the start of a run."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (run_id, started_at, sheet, n_samples) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), sheet, n_samples),
            )

    def finish_run(
        self, run_id: str, *, done: int, skipped: int, failed: int, details: Mapping[str, Any]
    ) -> None:
        """Record the end of a run."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, n_done = ?, n_skipped = ?, n_failed = ?, "
                "details = ? WHERE run_id = ?",
                (time.time(), done, skipped, failed, json.dumps(details, sort_keys=True), run_id),
            )

    def write_metadata(self, frame: pd.DataFrame) -> None:
        """Replace ``metadata.parquet`` (one row per sample of the current sheet)."""
        self._require_writable()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        atomic_write_bytes(self.root / "metadata.parquet", _table_bytes(table))

    def metadata(self) -> pd.DataFrame:
        """The sample sheet's covariates, indexed by sample ID."""
        path = self.root / "metadata.parquet"
        if not path.is_file():
            return pd.DataFrame(index=pd.Index([], name="sample_id"))
        frame = _to_pandas(pq.read_table(path))
        return frame.set_index("sample_id")

    def write_json(self, name: str, payload: Mapping[str, Any]) -> Path:
        """Write a JSON document under the store atomically."""
        self._require_writable()
        text = json.dumps(payload, indent=2, sort_keys=True, default=_json_default)
        return atomic_write_text(self.root / name, text + "\n")

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
        tables = [pq.read_table(f, filters=filters) for f in files]
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
        return _to_pandas(pa.concat_tables([pq.read_table(f, filters=filters) for f in files]))

    def catalogue_frame(self) -> pd.DataFrame:
        """The ``samples`` table of the catalogue as a DataFrame."""
        return pd.read_sql_query("SELECT * FROM samples ORDER BY sample_id", self.db)

    def runs_frame(self) -> pd.DataFrame:
        """The ``runs`` table of the catalogue as a DataFrame."""
        return pd.read_sql_query("SELECT * FROM runs ORDER BY started_at", self.db)

    def connect_duckdb(self) -> Any:
        """An in-memory DuckDB connection with views over the store.

        Views: ``profiles``, ``scores`` (done samples only), ``metadata``, ``samples`` and
        ``runs`` (the catalogue), and ``associations`` (all association tables, with an
        ``outcome`` and ``method`` column) when any exist.
        """
        import duckdb

        con = duckdb.connect(":memory:")
        for kind, schema in (("profiles", PROFILE_SCHEMA), ("scores", SCORE_SCHEMA)):
            files = [str(f) for f in self.done_files(kind)]
            if files:
                listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
                con.execute(f"CREATE VIEW {kind} AS SELECT * FROM read_parquet([{listing}])")
            else:
                empty = schema.empty_table()
                con.register(f"_{kind}_empty", empty)
                con.execute(f"CREATE VIEW {kind} AS SELECT * FROM _{kind}_empty")
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
                frame = pq.read_table(path).to_pandas()
                frame.insert(0, "method_file", method)
                frame.insert(0, "outcome", outcome)
                frames.append(frame)
            con.register("_associations", pd.concat(frames, ignore_index=True))
            con.execute("CREATE VIEW associations AS SELECT * FROM _associations")
        return con


_RANK_ORDER = ("superkingdom", "phylum", "class", "order", "family", "genus", "species")


def _rank_depth(rank: str) -> int:
    return _RANK_ORDER.index(rank) if rank in _RANK_ORDER else -1


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


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
    store = CohortStore(Path(path), writable=writable)
    store._open()
    return store


def profile_rows_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Build a :data:`PROFILE_SCHEMA` table from row dictionaries (missing keys are null)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=PROFILE_SCHEMA)


def score_rows_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Build a :data:`SCORE_SCHEMA` table from row dictionaries (missing keys are null)."""
    return pa.Table.from_pylist([dict(r) for r in rows], schema=SCORE_SCHEMA)
