"""The portal's job worker: runs ``gutbrain run`` for each queued sample, durably.

The queue is the ``jobs`` table (:class:`~gutbrain.web.store.Store`). A worker

1. sends jobs whose lease expired (their worker died) back to the queue, or fails them after
   ``job_max_attempts`` (:meth:`~gutbrain.web.store.Store.recover_jobs`);
2. claims the oldest queued job (a conditional update: never two workers on one job);
3. runs ``python -m gutbrain run … --out <data>/results/<sample>/out`` as a child process, with
   the operator's crisis contacts, and renews its lease every third of the lease while the child
   runs; the stage the run reached (read from the run's ``stage NAME: S s`` log lines on stderr)
   reaches the store as soon as the worker sees it (within :data:`WATCH_SECONDS`), so a page
   or a script reading the job never sees a stage the run left long ago;
4. reads the run's ``result.json`` into a :class:`~gutbrain.web.store.SampleSummary` and marks
   the job done, or marks it failed with the run's error code and message.

The child dies with its worker (``PR_SET_PDEATHSIG`` on Linux), so a killed worker leaves no
orphan run behind; its job is retried by the next worker once the lease has expired. The run's
output folder is replaced as a whole (``--force``; gutbrain builds it under a temporary name), so
a retried job leaves exactly one result.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Job, Sample, Store, new_id
from gutbrain.web.timeline import summary_from_result
from gutbrain.workflow.run import STAGES

__all__ = ["build_command", "run_job", "run_worker", "stage_progress"]

logger = logging.getLogger(__name__)

#: A finished stage in the run's log (``INFO     stage profile: 11.43 s``).
_STAGE_DONE = re.compile(r"\bstage (?P<stage>[a-z_]+): [0-9.]+ s\b")
#: The run's one-line error (``gutbrain: error[GB-FQ-QLEN] reads.fq:8, record 2: …``).
_RUN_ERROR = re.compile(r"gutbrain: error\[(?P<code>GB-[A-Z0-9-]+)\] (?P<message>.*)")
#: Stages of a run from a table that stand for a stage of :data:`STAGES`.
_STAGE_ALIASES = {"import": "profile"}
_PR_SET_PDEATHSIG = 1
#: How often a worker looks at its run: the run's end, a new stage and a stop request are acted
#: on within this many seconds (the lease is still renewed every third of the lease).
WATCH_SECONDS = 0.2


def stage_progress(finished_stage: str) -> tuple[str, float] | None:
    """``(stage now running, fraction done)`` after ``finished_stage`` ended, or ``None``.

    Progress counts finished stages of :data:`gutbrain.workflow.run.STAGES`; a run from a table
    skips ``reference`` and its ``import`` stands for ``profile``.

    Examples
    --------
    >>> stage_progress("inputs")
    ('reference', 0.16666666666666666)
    >>> stage_progress("write")
    ('write', 1.0)
    """
    stage = _STAGE_ALIASES.get(finished_stage, finished_stage)
    if stage not in STAGES:
        return None
    index = STAGES.index(stage)
    running = STAGES[min(index + 1, len(STAGES) - 1)]
    return running, (index + 1) / len(STAGES)


def build_command(
    sample: Sample,
    out_dir: Path,
    *,
    crisis_contacts: Sequence[str] = (),
    gutbrain_command: Sequence[str] | None = None,
) -> list[str]:
    """The ``gutbrain run`` command line for a sample (reads or a table, answers, markers)."""
    base = list(gutbrain_command or (sys.executable, "-m", "gutbrain"))
    by_kind = {f.kind: f.path for f in sample.files}
    command = [*base, "run"]
    if "table" in by_kind:
        # the upload holds exactly one table sample: --sample-id would select by name
        command += ["--table", str(by_kind["table"])]
    else:
        command += [str(by_kind[k]) for k in ("reads", "reads_r2") if k in by_kind]
        command += ["--preset", sample.preset, "--sample-id", sample.id]
    for kind in ("answers", "markers"):
        if kind in by_kind:
            command += [f"--{kind}", str(by_kind[kind])]
    for contact in crisis_contacts:
        command += ["--crisis-contact", contact]
    command += ["--out", str(out_dir), "--force", "--no-progress"]
    return command


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _StderrReader(threading.Thread):
    """Reads the run's stderr: the stage reached and the last lines (for the error message)."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        #: (stage now running, fraction done), replaced as one value
        self.reached: tuple[str | None, float] = (STAGES[0], 0.0)
        self.tail: collections.deque[str] = collections.deque(maxlen=40)

    def run(self) -> None:
        for raw in self._stream:
            line = raw.decode("utf-8", "replace").rstrip()
            self.tail.append(line)
            match = _STAGE_DONE.search(line)
            if match is not None:
                reached = stage_progress(match["stage"])
                if reached is not None:
                    self.reached = reached


def _failure_reason(returncode: int, tail: Sequence[str], sample: Sample, out_dir: Path) -> str:
    """The run's error code and message, with server paths replaced by the uploaded names."""
    for line in reversed(tail):
        match = _RUN_ERROR.search(line)
        if match is not None:
            message = match["message"].strip()
            for stored in sample.files:
                message = message.replace(str(stored.path), stored.original_name)
            message = message.replace(str(out_dir), "the output folder")
            return f"{match['code']}: {message}"[:1000]
    if returncode < 0:
        return f"the analysis was stopped by signal {-returncode}; ask the operator"
    return f"the analysis stopped unexpectedly (exit status {returncode}); ask the operator"


def run_job(
    store: Store,
    settings: PortalSettings,
    job: Job,
    worker_id: str,
    *,
    stop: threading.Event | None = None,
    gutbrain_command: Sequence[str] | None = None,
) -> None:
    """Run one claimed job to its end: done, failed, or (when ``stop`` is set) back to the queue."""
    sample = store.sample(job.sample_id)
    if sample is None:  # deleted after the claim: nothing to run
        store.fail_job(job.id, worker_id, "the sample was deleted")
        return
    out_dir = store.result_dir(sample.id)
    out_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = build_command(
        sample,
        out_dir,
        crisis_contacts=settings.crisis_contacts,
        gutbrain_command=gutbrain_command,
    )
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    logger.info("job %s (attempt %d): gutbrain run started", job.id, job.attempt)
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        start_new_session=True,  # a SIGTERM to the portal's process group must not reach the run
    ) as child:
        assert child.stderr is not None
        reader = _StderrReader(child.stderr)
        reader.start()
        if not _watch(child, reader, store, job, worker_id, settings, stop):
            return
        reader.join(timeout=30)
    _record_outcome(store, job, worker_id, sample, out_dir, child.returncode, list(reader.tail))


def _watch(
    child: subprocess.Popen[bytes],
    reader: _StderrReader,
    store: Store,
    job: Job,
    worker_id: str,
    settings: PortalSettings,
    stop: threading.Event | None,
) -> bool:
    """Wait for the run, recording each new stage at once and renewing the lease.

    Returns ``True`` when the run ended by itself; ``False`` when it was stopped because the lease
    was lost or the worker is stopping (then the job was given back or abandoned).
    """
    renew_every = settings.job_lease_seconds / 3
    renewed_at = time.monotonic()
    reported: tuple[str | None, float] | None = None
    while True:
        try:
            child.wait(timeout=min(WATCH_SECONDS, renew_every))
            return True
        except subprocess.TimeoutExpired:
            pass
        stopping = stop is not None and stop.is_set()
        reached = reader.reached
        if not stopping and reached == reported and time.monotonic() - renewed_at < renew_every:
            continue
        held = store.heartbeat(job.id, worker_id, dt.datetime.now(dt.UTC), *reached)
        renewed_at, reported = time.monotonic(), reached
        if held and not stopping:
            continue
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        reader.join(timeout=5)
        if held:
            store.release_job(job.id, worker_id)
            logger.info("job %s given back to the queue (worker stopping)", job.id)
        else:
            logger.warning("job %s: lease lost, run abandoned", job.id)
        return False


def _record_outcome(
    store: Store,
    job: Job,
    worker_id: str,
    sample: Sample,
    out_dir: Path,
    returncode: int,
    tail: Sequence[str],
) -> None:
    if returncode != 0:
        reason = _failure_reason(returncode, tail, sample, out_dir)
        code = reason.split(":", 1)[0] if reason.startswith("GB-") else f"exit {returncode}"
        logger.warning("job %s failed (%s)", job.id, code)  # the code only: logs hold no PHI
        store.fail_job(job.id, worker_id, reason)
        store.audit(None, "job_failed", "sample", sample.id, code)
        return
    try:
        result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
        summary = summary_from_result(result, sample.id, sample.collected_on)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("job %s: result.json unreadable (%s)", job.id, type(exc).__name__)
        store.fail_job(job.id, worker_id, "the analysis finished but its result could not be read")
        store.audit(None, "job_failed", "sample", sample.id, "result unreadable")
        return
    if store.finish_job(job.id, worker_id, summary):
        logger.info("job %s done", job.id)
        store.audit(None, "job_done", "sample", sample.id, "ok")
    else:
        logger.warning("job %s finished after its lease was lost; result not recorded", job.id)


def run_worker(
    settings: PortalSettings,
    *,
    stop: threading.Event | None = None,
    once: bool = False,
    poll_seconds: float = 1.0,
    gutbrain_command: Sequence[str] | None = None,
) -> None:
    """Run queued jobs until ``stop`` is set (or, with ``once``, until the queue is empty).

    Parameters
    ----------
    settings
        The portal's settings (database, data folder, crisis contacts, lease, attempts).
    stop
        Set it to stop: a running job's child is ended and the job goes back to the queue.
    once
        Run every job that is queued (or recoverable) now, then return.
    poll_seconds
        How long to wait for new jobs when the queue is empty.
    gutbrain_command
        How to start gutbrain (default: this Python's ``-m gutbrain``).
    """
    store = Store.open(settings)
    worker_id = f"{os.getpid()}-{new_id()[:12]}"
    stop = stop or threading.Event()
    logger.info("job worker %s started", worker_id)
    try:
        while not stop.is_set():
            store.recover_jobs(dt.datetime.now(dt.UTC))
            job = store.claim_job(worker_id, dt.datetime.now(dt.UTC))
            if job is None:
                if once:
                    return
                stop.wait(poll_seconds)
                continue
            run_job(store, settings, job, worker_id, stop=stop, gutbrain_command=gutbrain_command)
    finally:
        store.close()
        logger.info("job worker %s stopped", worker_id)
