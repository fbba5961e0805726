"""Kill the whole `gutbrain cohort run` (coordinator, scheduler, workers) mid-cohort with SIGKILL,
re-run it, and compare with an uninterrupted run: every sample once, identical Parquet bytes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gutbrain.cohort.simulate import simulate_cohort, write_cohort_files
from gutbrain.cohort.store import open_store

pytestmark = [pytest.mark.dask_distributed, pytest.mark.slow, pytest.mark.timeout(240)]

N = 60


def _run(sheet: Path, store: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "gutbrain",
        "-q",
        "cohort",
        "run",
        str(sheet),
        "--out",
        str(store),
        "--workers",
        "1",
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _done(store: Path) -> int:
    catalogue = store / "catalogue.sqlite"
    if not catalogue.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0


def _fingerprint(store: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with open_store(store) as opened:
        return {
            sid: (r.status, r.profile_sha256, r.scores_sha256)
            for sid, r in opened.records().items()
        }


def test_sigkill_mid_cohort_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    sim = simulate_cohort(n_samples=N, n_taxa=40, n_shifted=2, seed=2)
    sheet = write_cohort_files(sim.counts, sim.metadata, tmp_path / "in")

    golden = tmp_path / "golden"
    proc = _run(sheet, golden)
    out, err = proc.communicate(timeout=200)
    assert proc.returncode == 0, err.decode()

    store = tmp_path / "store"
    proc = _run(sheet, store)
    deadline = time.monotonic() + 150
    while _done(store) < N // 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    before = _done(store)
    assert proc.poll() is None, "the run finished before it could be killed; raise N"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    assert 0 < before < N

    proc = _run(sheet, store)
    out, err = proc.communicate(timeout=200)
    assert proc.returncode == 0, err.decode()
    text = " ".join((out + err).decode().split())
    skipped = int(text.split(" unchanged (skipped)")[0].rsplit(" ", 1)[-1])
    assert skipped >= before  # everything committed before the kill was kept
    assert _fingerprint(store) == _fingerprint(golden)  # byte-identical per-sample files
    assert not list(store.rglob("*.partial-*"))
    with open_store(store) as opened:
        assert opened.connect_duckdb().execute(
            "SELECT count(DISTINCT sample_id), count(*) FROM scores WHERE name = 'shannon'"
        ).fetchone() == (N, N)
