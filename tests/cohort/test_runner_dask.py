"""Cohort runs on a real Dask LocalCluster: resume, worker death, poison samples.

One module-scoped cluster (2 worker processes, 1 thread each, allowed-failures = 1) is shared by
every test, which reaches it through ``scheduler=`` (the ``--scheduler tcp://…`` path).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gutbrain.cohort.runner import cluster_options, run_cohort, scheduler_config
from gutbrain.cohort.sheet import SampleSheet, read_sample_sheet
from gutbrain.cohort.store import open_store
from gutbrain.cohort.tasks import SampleParameters
from tests.cohort._standin import sample_opening_store, standin_sample, with_covariate

pytestmark = [pytest.mark.dask_distributed, pytest.mark.timeout(180)]

ALLOWED_FAILURES = 1


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import dask
    from distributed import LocalCluster

    with dask.config.set(scheduler_config(ALLOWED_FAILURES)):
        cluster = LocalCluster(**cluster_options(2), silence_logs=50)
        try:
            yield cluster
        finally:
            cluster.close()


def test_default_cluster_is_processes_with_one_thread() -> None:
    options = cluster_options(2)
    assert options["processes"] is True
    assert options["threads_per_worker"] == 1
    assert options["n_workers"] == 2


def _counts(root: Path) -> tuple[int, int, int]:
    with open_store(root) as store:
        con = store.connect_duckdb()
        rows, distinct = con.execute(
            "SELECT count(*), count(DISTINCT sample_id || taxon) FROM profiles"
        ).fetchone()
        n = con.execute("SELECT count(*) FROM samples WHERE status = 'done'").fetchone()[0]
    return int(rows), int(distinct), int(n)


def test_run_then_resume_skips_unchanged_and_redoes_changed(
    cluster: Any, make_cohort: Callable[..., SampleSheet], tmp_path: Path
) -> None:
    sheet = make_cohort(6)
    root = tmp_path / "store"
    with open_store(root, writable=True) as store:
        first = run_cohort(
            sheet, store, sample_function=standin_sample, scheduler=cluster.scheduler_address
        )
    assert (first.done, first.skipped, first.failed) == (6, 0, 0)
    assert _counts(root) == (30, 30, 6)
    # unchanged: nothing to do (no task is submitted at all)
    with open_store(root, writable=True) as store:
        again = run_cohort(
            sheet, store, sample_function=standin_sample, scheduler=cluster.scheduler_address
        )
    assert (again.done, again.skipped, again.failed) == (0, 6, 0)
    # one input changed and one parameter-free sample added: exactly those are redone
    changed = Path(str(sheet.samples[2].profile))
    changed.write_text("Faecalibacterium\t1\nBacteroides\t2\n")
    resheet = read_sample_sheet(sheet.path)
    with open_store(root, writable=True) as store:
        third = run_cohort(
            resheet, store, sample_function=standin_sample, scheduler=cluster.scheduler_address
        )
        records = store.records()
    assert (third.done, third.skipped) == (1, 5)
    assert records["S002"].n_taxa == 2
    assert records["S002"].attempts == 2
    assert _counts(root) == (27, 27, 6)
    # a parameter change redoes everything
    with open_store(root, writable=True) as store:
        fourth = run_cohort(
            resheet,
            store,
            sample_function=standin_sample,
            scheduler=cluster.scheduler_address,
            parameters=SampleParameters(rank="species"),
        )
    assert (fourth.done, fourth.skipped) == (6, 0)


def test_worker_killed_mid_cohort_completes_every_sample_once(
    cluster: Any, make_cohort: Callable[..., SampleSheet], tmp_path: Path
) -> None:
    from distributed import Client

    sheet = with_covariate(make_cohort(12), "delay", 0.25)
    with Client(cluster.scheduler_address) as client:
        pids = sorted(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one(done: float, total: float | None) -> None:
        if done == 2 and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    root = tmp_path / "store"
    with open_store(root, writable=True) as store:
        summary = run_cohort(
            sheet,
            store,
            sample_function=standin_sample,
            scheduler=cluster.scheduler_address,
            progress=kill_one,
        )
    assert killed
    assert (summary.done, summary.failed) == (12, 0), summary.failures
    assert _counts(root) == (60, 60, 12)


def test_poison_sample_fails_with_reason_and_others_complete(
    cluster: Any, make_cohort: Callable[..., SampleSheet], tmp_path: Path
) -> None:
    sheet = make_cohort(6, poison=(1,), malformed=(4,))
    root = tmp_path / "store"
    seen: list[tuple[str, str]] = []
    with open_store(root, writable=True) as store:
        summary = run_cohort(
            sheet,
            store,
            sample_function=standin_sample,
            scheduler=cluster.scheduler_address,
            allowed_failures=ALLOWED_FAILURES,
            on_result=lambda sample, status: seen.append((sample, status)),
        )
        records = store.records()
        runs = store.runs_frame()
    assert (summary.done, summary.failed) == (4, 2)
    assert sorted(summary.failures) == ["S001", "S004"]
    assert records["S001"].status == "failed"
    assert records["S001"].error_code == "KilledWorker"
    assert "worker process died" in str(records["S001"].error_message)
    assert records["S004"].error_code == "GB-INPUT"
    assert "expected 'taxon<TAB>count'" in str(records["S004"].error_message)
    assert sorted(seen) == sorted(
        (f"S{i:03d}", "failed" if i in (1, 4) else "done") for i in range(6)
    )
    assert int(runs["n_failed"].iloc[-1]) == 2
    assert _counts(root) == (20, 20, 4)


def test_workers_never_open_store(
    cluster: Any, make_cohort: Callable[..., SampleSheet], tmp_path: Path
) -> None:
    root = tmp_path / "store"
    sheet = with_covariate(make_cohort(2), "store", str(root))
    with open_store(root, writable=True) as store:
        summary = run_cohort(
            sheet,
            store,
            sample_function=sample_opening_store,
            scheduler=cluster.scheduler_address,
        )
        records = store.records()
    # a worker that tries to write the store is refused: the coordinator owns it
    assert summary.failed == 2
    assert {r.error_code for r in records.values()} == {"GB-BUSY"}
