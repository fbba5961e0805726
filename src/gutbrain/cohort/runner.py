"""Run a cohort on Dask: one task per sample, the coordinator alone writes the store.

Each sample is a pure task (inputs → :class:`SampleOutcome`) submitted to a Dask cluster: a
``LocalCluster(processes=True, threads_per_worker=1)`` by default — a sample's reading,
screening and estimate hold the GIL (only mappy's mapping releases it), so processes give the
parallelism — or an existing scheduler (``tcp://…``). Results stream back with
``as_completed``; the coordinating process commits each to the store (Parquet files, then the
catalogue row). A sample whose task raises is recorded as ``failed`` with its error; a sample that
keeps killing its worker is declared lost by the scheduler after
``distributed.scheduler.allowed-failures`` worker deaths (``KilledWorker``) and recorded as failed
too. Neither stops the cohort.

Resume: the *task key* of a sample is

.. math:: \\mathrm{SHA256}(\\text{input files' SHA-256} \\,\\|\\, \\text{reference} \\,\\|\\,
          \\text{canonical parameters} \\,\\|\\, \\text{gutbrain version})

A re-run skips every sample whose catalogue row is ``done`` with the same key and intact files,
and redoes the rest (new, changed and failed samples).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from gutbrain import __version__
from gutbrain.cohort.sheet import SampleSheet, SampleSpec
from gutbrain.cohort.store import CohortStore, profile_rows_table, score_rows_table
from gutbrain.cohort.tasks import (
    SAFETY_LEVELS,
    SafetyNotice,
    SampleError,
    SampleFailure,
    SampleFunction,
    SampleOutcome,
    SampleParameters,
    SampleTask,
    StoreRow,
)
from gutbrain.errors import ErrorCode, GutbrainError, OptionError, OutputError
from gutbrain.io.files import sha256_file

__all__ = [
    "DEFAULT_ALLOWED_FAILURES",
    "SAFETY_LEVELS",
    "RunSummary",
    "SafetyNotice",
    "SampleError",
    "SampleFailure",
    "SampleOutcome",
    "SampleTask",
    "check_free_space",
    "cluster_options",
    "compute_task_key",
    "run_cohort",
    "run_sample_safely",
    "scheduler_config",
    "tasks_estimate",
]

logger = logging.getLogger(__name__)

#: Worker deaths a task may cause before the scheduler gives up on it (Dask's default is 3).
DEFAULT_ALLOWED_FAILURES = 2

ProgressCallback = Callable[[float, float | None], None]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a cohort run did."""

    run_id: str
    n_samples: int
    done: int
    skipped: int
    failed: int
    failures: Mapping[str, str]
    seconds: float
    workers: int
    notices: Mapping[str, tuple[SafetyNotice, ...]] = field(default_factory=dict)


def compute_task_key(
    spec: SampleSpec,
    *,
    reference_sha256: str | None,
    parameters: SampleParameters,
    code_version: str = __version__,
) -> str:
    """Return the sample's task key (hex SHA-256); see the module docstring.

    File *contents* count, not their paths or times: moving an unchanged file keeps the key.
    Covariates are not part of the key (they do not change the per-sample result). The
    parameters enter through :meth:`SampleParameters.key_entries` (the rank, and the read type
    a reads sample is profiled with unless it is the ``ont`` default).
    """
    payload = {
        "inputs": {role: sha256_file(path) for role, path in sorted(spec.input_files().items())},
        "sample_id": str(spec.sample_id),
        "reference": reference_sha256,
        "code_version": code_version,
        **parameters.key_entries(spec),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_sample_safely(function: SampleFunction, task: SampleTask) -> SampleOutcome | SampleFailure:
    """Run ``function(task)`` on a worker; turn an exception into a :class:`SampleFailure`."""
    start = time.perf_counter()
    try:
        outcome = function(task)
    except Exception as exc:  # one bad sample must not stop the cohort
        notices: tuple[SafetyNotice, ...] = ()
        error: BaseException = exc
        if isinstance(exc, SampleError):
            notices = exc.notices
            error = exc.__cause__ or exc
        code = error.code if isinstance(error, GutbrainError) else type(error).__name__
        return SampleFailure(str(task.spec.sample_id), code, str(error), notices)
    if outcome.seconds:
        return outcome
    return dataclasses.replace(outcome, seconds=time.perf_counter() - start)


def cluster_options(workers: int, *, memory_limit: str | None = None) -> dict[str, object]:
    """Keyword arguments for the default ``LocalCluster``: processes, one thread each."""
    options: dict[str, object] = {
        "n_workers": workers,
        "processes": True,
        "threads_per_worker": 1,
        # Everything on loopback. No dashboard: Dask's HTTP endpoint keeps only its health and
        # metrics routes, on a free port of 127.0.0.1 (":0" alone would mean every interface).
        "host": "127.0.0.1",
        "dashboard_address": "127.0.0.1:0",
        "scheduler_kwargs": {"dashboard": False},
        # worker processes ignore Ctrl-C; the coordinator stops them (gutbrain.cohort.worker_setup)
        "preload": ["gutbrain.cohort.worker_setup"],
    }
    if memory_limit is not None:
        options["memory_limit"] = memory_limit
    return options


def scheduler_config(allowed_failures: int) -> dict[str, object]:
    """Dask settings for a cohort's local scheduler.

    ``allowed-failures`` bounds the worker deaths a task may cause; ``worker-saturation = 1.0``
    sends each single-threaded worker one task at a time, so a worker's death blames only the
    task it was running (with Dask's default 1.1 a queued, innocent task is blamed too).
    """
    return {
        "distributed.scheduler.allowed-failures": allowed_failures,
        "distributed.scheduler.worker-saturation": 1.0,
    }


#: Store bytes per sample beyond its inputs' size (catalogue row, two Parquet footers).
_BYTES_PER_SAMPLE = 64 * 1024


def tasks_estimate(sheet: SampleSheet) -> int:
    """Bytes the store may need for ``sheet``: half the profile tables' size plus 64 KiB each.

    Reads become a profile far smaller than the reads, so only the per-sample overhead counts
    for them; a table's Parquet copy is smaller than its text (zstd), so half its size is ample.
    """
    total = 0
    for spec in sheet.samples:
        total += _BYTES_PER_SAMPLE
        if spec.profile is not None:
            with contextlib.suppress(OSError):
                total += Path(spec.profile).stat().st_size // 2
    return total


def check_free_space(folder: Path, needed: int, *, margin: float = 1.5) -> None:
    """Refuse to start when ``folder``'s file system has less than ``margin × needed`` free.

    Raises
    ------
    OutputError
        With the free and needed space, before anything is written.
    """
    free = shutil.disk_usage(folder).free
    if free < margin * needed:
        message = (
            f"{folder}: {free / 1e6:.0f} MB free, the cohort may need {needed / 1e6:.0f} MB "
            f"(× {margin} margin); free some space or choose another --out"
        )
        raise OutputError(message, code=ErrorCode.NOSPACE)


def _metadata_frame(sheet: SampleSheet) -> pd.DataFrame:
    rows = []
    for spec in sheet.samples:
        row: dict[str, Any] = {"sample_id": str(spec.sample_id)}
        row.update(spec.covariates)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["sample_id", *sheet.covariate_names])
    for name in sheet.covariate_names:
        values = [v for v in frame[name] if v is not None and not pd.isna(v)]
        if values and all(isinstance(v, float) for v in values):
            frame[name] = pd.to_numeric(frame[name])
        else:
            frame[name] = frame[name].astype("string")
    return frame


def run_cohort(
    sheet: SampleSheet,
    store: CohortStore,
    *,
    sample_function: SampleFunction | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    reference: str | None = None,
    reference_sha256: str | None = None,
    parameters: SampleParameters | None = None,
    allowed_failures: int = DEFAULT_ALLOWED_FAILURES,
    killed_retries: int = 1,
    memory_limit: str | None = None,
    progress: ProgressCallback | None = None,
    on_result: Callable[[str, str], None] | None = None,
    on_alerts: Callable[[str, tuple[SafetyNotice, ...]], None] | None = None,
) -> RunSummary:
    """Process every sample of ``sheet`` on Dask and commit the results to ``store``.

    Parameters
    ----------
    sheet
        The validated sample sheet.
    store
        A store opened with ``writable=True`` (this process is its only writer).
    sample_function
        The per-sample task (default: :func:`gutbrain.cohort.sample.process_sample`).
    scheduler
        Address of an existing Dask scheduler; ``None`` starts a ``LocalCluster``.
    workers
        Worker processes of the local cluster (one thread each).
    reference, reference_sha256
        The reference bundle path given to workers and its checksum for the task key.
    parameters
        Settings of the per-sample path: read type and alpha-diversity rank (part of the task
        key); ``None``: the defaults (``ont``, ``genus``).
    allowed_failures
        ``distributed.scheduler.allowed-failures`` for the local cluster: worker deaths a task may
        cause before it is declared failed. An existing scheduler keeps its own setting.
    killed_retries
        Times a sample declared lost (``KilledWorker``) is resubmitted before it is recorded as
        failed: a worker's death can blame tasks that merely waited on it.
    memory_limit
        Per-worker memory limit of the local cluster (e.g. ``"4GiB"``); Dask's default otherwise.
    progress
        ``callback(done, total)`` over the samples to process.
    on_result
        ``callback(sample_id, status)`` after each sample is committed (``done``/``failed``).
    on_alerts
        ``callback(sample_id, notices)`` with a sample's crisis/urgent/prompt alerts, called
        before anything else is done with that sample's result (also for failed samples).

    Returns
    -------
    RunSummary

    Raises
    ------
    KeyboardInterrupt
        After Ctrl-C: the cluster is torn down, every sample committed so far stays (a rerun
        resumes), and the run is recorded as ``interrupted``.
    """
    import dask
    from distributed import Client, LocalCluster

    if workers < 1:
        message = f"workers must be at least 1, got {workers}"
        raise OptionError(message)
    if sample_function is None:
        from gutbrain.cohort.sample import process_sample

        sample_function = process_sample
    params = parameters if parameters is not None else SampleParameters()
    started = time.perf_counter()
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    check_free_space(store.root, tasks_estimate(sheet))
    store.write_metadata(_metadata_frame(sheet))
    records = store.records()
    tasks: list[SampleTask] = []
    skipped = 0
    for spec in sheet.samples:
        key = compute_task_key(spec, reference_sha256=reference_sha256, parameters=params)
        if store.is_done(records.get(str(spec.sample_id)), key):
            skipped += 1
            continue
        tasks.append(SampleTask(spec, key, reference, params))
    store.start_run(run_id, sheet=sheet.path, n_samples=len(sheet.samples))
    logger.info(
        "cohort run %s: %d samples, %d already done, %d to process",
        run_id,
        len(sheet.samples),
        skipped,
        len(tasks),
    )
    done = 0
    failures: dict[str, str] = {}
    notices: dict[str, tuple[SafetyNotice, ...]] = {}
    n_workers = workers
    try:
        if tasks:
            with dask.config.set(scheduler_config(allowed_failures)), _quiet_dask():
                cluster: Any = None
                if scheduler is None:
                    cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        **cluster_options(workers, memory_limit=memory_limit),
                        silence_logs=logging.CRITICAL,  # workers: no shutdown tracebacks
                    )
                    client = Client(cluster)  # type: ignore[no-untyped-call]
                else:
                    client = Client(scheduler, timeout="30s")  # type: ignore[no-untyped-call]
                    n_workers = len(client.scheduler_info().get("workers", {})) or workers
                try:
                    limit = str(allowed_failures) if scheduler is None else "the scheduler's"
                    for n, (task, result) in enumerate(
                        _stream(client, sample_function, tasks, killed_retries, limit), start=1
                    ):
                        sample_id = str(task.spec.sample_id)
                        if result.notices:
                            notices[sample_id] = result.notices
                            if on_alerts is not None:
                                on_alerts(sample_id, result.notices)
                        _commit(store, task, result, run_id)
                        if isinstance(result, SampleFailure):
                            failures[sample_id] = f"{result.code}: {result.message}"
                            logger.debug("sample %s failed: %s", sample_id, failures[sample_id])
                        else:
                            done += 1
                        if on_result is not None:
                            on_result(sample_id, "failed" if sample_id in failures else "done")
                        if progress is not None:
                            progress(n, len(tasks))
                finally:
                    _shutdown(client, cluster)
    except KeyboardInterrupt:
        store.finish_run(
            run_id,
            done=done,
            skipped=skipped,
            failed=len(failures),
            details={"failures": failures, "workers": n_workers, "interrupted": True},
            status="interrupted",
        )
        raise
    seconds = time.perf_counter() - started
    store.finish_run(
        run_id,
        done=done,
        skipped=skipped,
        failed=len(failures),
        details={"failures": failures, "seconds": seconds, "workers": n_workers},
    )
    return RunSummary(
        run_id=run_id,
        n_samples=len(sheet.samples),
        done=done,
        skipped=skipped,
        failed=len(failures),
        failures=failures,
        seconds=seconds,
        workers=n_workers,
        notices=notices,
    )


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Keep Dask's INFO chatter (and its shutdown tracebacks) out of the coordinator's log.

    After an interrupt the loggers stay quiet: Dask's event loop outlives the closed cluster and
    still runs what the interrupt queued. A Ctrl-C or SIGTERM that lands while a call waits in
    ``distributed.utils.sync`` before the loop started it queues a clean-up that fails on an
    unbound ``future`` (distributed 2026.8.0), and Tornado logged its traceback under the
    command's one-line message.
    """
    loggers = _dask_loggers()
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    interrupted = False
    try:
        yield
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if not interrupted:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


_DASK_LOGGERS = ("distributed", "tornado", "asyncio")


def _dask_loggers() -> list[logging.Logger]:
    """Dask's, Tornado's and asyncio's loggers, with every child that has a level of its own.

    Dask's logging configuration gives ``tornado.application`` (where Tornado logs a failed
    callback's traceback) and ``distributed.client`` levels of their own, so quieting only the
    parents left them speaking.
    """
    children = [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and name.split(".")[0] in _DASK_LOGGERS
        and "." in name
        and logger.level != logging.NOTSET
    ]
    return [*(logging.getLogger(name) for name in _DASK_LOGGERS), *children]


def _shutdown(client: Any, cluster: Any) -> None:
    """Close the client and the local cluster, also when a second Ctrl-C arrives meanwhile."""
    try:
        client.close()
    except (Exception, KeyboardInterrupt):  # teardown must go on
        logger.debug("closing the Dask client failed", exc_info=True)
    if cluster is not None:
        try:
            cluster.close()
        except (Exception, KeyboardInterrupt):
            logger.debug("closing the local cluster failed", exc_info=True)


def _stream(
    client: Any,
    function: SampleFunction,
    tasks: Sequence[SampleTask],
    killed_retries: int,
    limit: str,
) -> Iterator[tuple[SampleTask, SampleOutcome | SampleFailure]]:
    """Submit every task; yield ``(task, result)`` as they finish, resubmitting killed ones."""
    from distributed import as_completed

    def submit(task: SampleTask, attempt: int) -> Any:
        suffix = "" if attempt == 0 else f"-retry{attempt}"
        key = f"gutbrain-sample-{task.spec.sample_id}-{task.task_key[:16]}{suffix}"
        return client.submit(run_sample_safely, function, task, key=key, pure=False, retries=0)

    futures = [submit(t, 0) for t in tasks]
    owner: dict[str, tuple[SampleTask, int]] = {
        f.key: (t, 0) for f, t in zip(futures, tasks, strict=True)
    }
    pending = as_completed(futures)  # type: ignore[no-untyped-call]
    for future in pending:
        task, attempt = owner.pop(future.key)
        sample_id = str(task.spec.sample_id)
        result: SampleOutcome | SampleFailure
        try:
            result = future.result()
        except GutbrainError as exc:
            result = SampleFailure(sample_id, exc.code, str(exc))
        except Exception as exc:  # KilledWorker, CancelledError, …
            name = type(exc).__name__
            if name == "KilledWorker" and attempt < killed_retries:
                # A worker death blames every task on that worker; give it another chance.
                logger.info("sample %s lost with a dead worker; resubmitting", sample_id)
                again = submit(task, attempt + 1)
                owner[again.key] = (task, attempt + 1)
                pending.add(again)  # type: ignore[no-untyped-call]
                future.release()
                continue
            reason = str(exc)
            if name == "KilledWorker":
                reason = (
                    "the worker process died while processing this sample, every time it was "
                    f"tried ({attempt + 1} submission(s), allowed-failures {limit} each): a crash "
                    "or out of memory"
                )
            result = SampleFailure(sample_id, name, reason)
        future.release()
        yield task, result


def _commit(
    store: CohortStore, task: SampleTask, result: SampleOutcome | SampleFailure, run_id: str
) -> None:
    sample_id = str(task.spec.sample_id)
    if isinstance(result, SampleFailure):
        message = result.message
        if result.notices:
            levels = ", ".join(n.level for n in result.notices)
            message = f"{message} [safety alert(s) raised for this sample: {levels}]"
        store.mark_failed(
            sample_id,
            task_key=task.task_key,
            run_id=run_id,
            code=result.code,
            message=message,
        )
        return
    try:
        profile = profile_rows_table(_with_sample(result.profile_rows, sample_id))
        scores = score_rows_table(_with_sample(result.score_rows, sample_id))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        store.mark_failed(
            sample_id,
            task_key=task.task_key,
            run_id=run_id,
            code=ErrorCode.RESULT,
            message=f"the sample's result could not be stored: {exc}",
        )
        return
    store.commit_sample(
        sample_id,
        task_key=task.task_key,
        run_id=run_id,
        profile=profile,
        scores=scores,
        result_json=result.result_json,
        seconds=result.seconds,
    )


def _with_sample(rows: Sequence[StoreRow], sample_id: str) -> list[StoreRow]:
    return [{**row, "sample_id": sample_id} for row in rows]
