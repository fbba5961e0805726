"""Several processes on one database: each job is claimed exactly once; migration is serialised."""

from __future__ import annotations

import multiprocessing

import pytest

from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import JobState, Store
from tests.web.store.store_helpers import MakeSample, claim_all, open_store

PROCESSES = 4
JOBS = 40


@pytest.mark.slow
def test_each_job_is_claimed_exactly_once_by_competing_processes(
    store: Store, settings: PortalSettings, make_sample: MakeSample
) -> None:
    samples = [make_sample(f"reads {i}".encode()) for i in range(JOBS)]
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=claim_all, args=(settings.model_dump_json(), start, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    claimed = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    every = [job_id for worker in claimed for job_id in worker]
    assert sorted(every) == sorted(s.job.id for s in samples)  # all of them, none twice
    assert all(
        job.state == JobState.RUNNING and job.attempt == 1
        for job in (store.job(s.job.id) for s in samples)
        if job is not None
    )


@pytest.mark.slow
def test_processes_opening_a_new_database_at_once_migrate_it_once(
    settings: PortalSettings,
) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        revisions = pool.map(open_store, [settings.model_dump_json()] * PROCESSES)
    assert revisions == ["0001"] * PROCESSES
