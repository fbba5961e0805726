"""The job worker: the real ``gutbrain run`` on the bundled example, failures, killed workers."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gutbrain.web.jobs import build_command, run_worker, stage_progress
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import JobState, Role, Sample, Store, StoredFile, new_id
from gutbrain.workflow.run import STAGES, example_paths
from tests.web.store.store_helpers import People, consent_by

HERE = Path(__file__).parent
LEASE_SECONDS = 1.5


def _upload(
    settings: PortalSettings, kind: str, source: Path, content: bytes | None = None
) -> StoredFile:
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    path = settings.uploads_dir / new_id()
    if content is None:
        shutil.copyfile(source, path)
    else:
        path.write_bytes(content)
    data = path.read_bytes()
    return StoredFile(kind, path, source.name, len(data), hashlib.sha256(data).hexdigest())


def _people(store: Store) -> People:
    lab = store.create_account(f"lab-{new_id()}@example.org", "h", Role.LAB, "Lab")
    person = store.create_account(f"p-{new_id()}@example.org", "h", Role.PERSON, "Pat")
    store.link_person(lab.id, person.id)
    return People(admin=lab, lab=lab, other_lab=lab, person=person, other_person=person)


def _example_sample(
    store: Store, settings: PortalSettings, people: People, *, reads: bytes | None = None
) -> Sample:
    example = example_paths()
    files = [
        _upload(settings, "reads", example.reads, reads),
        _upload(settings, "answers", example.answers),
        _upload(settings, "markers", example.markers),
    ]
    return store.create_sample(
        lab_id=people.lab.id,
        person_id=people.person.id,
        label="example",
        collected_on=dt.date(2026, 10, 12),
        preset="ont",
        files=files,
        consent=consent_by(people.lab),
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> PortalSettings:
    return PortalSettings(data_dir=tmp_path / "data", job_lease_seconds=LEASE_SECONDS)


def test_stage_progress_follows_the_run_stages() -> None:
    assert [stage_progress(s) for s in STAGES][:2] == [
        ("reference", 1 / len(STAGES)),
        ("profile", 2 / len(STAGES)),
    ]
    assert stage_progress("import") == ("interpret", 3 / len(STAGES))  # a table run
    assert stage_progress("unknown") is None


def test_the_command_names_every_file_and_option(sqlite_settings: PortalSettings) -> None:
    store = Store.open(sqlite_settings)
    people = _people(store)
    sample = _example_sample(store, sqlite_settings, people)
    store.close()
    out = Path("/srv/out")
    command = build_command(
        sample, out, crisis_contacts=("Line 1", "Line 2"), gutbrain_command=["gb"]
    )
    paths = {f.kind: str(f.path) for f in sample.files}
    assert command[:3] == ["gb", "run", paths["reads"]]
    for option, value in [
        ("--preset", "ont"),
        ("--answers", paths["answers"]),
        ("--markers", paths["markers"]),
        ("--sample-id", sample.id),
        ("--out", str(out)),
    ]:
        assert command[command.index(option) + 1] == value
    assert [command[i + 1] for i, a in enumerate(command) if a == "--crisis-contact"] == [
        "Line 1",
        "Line 2",
    ]
    assert "--force" in command
    assert "--table" not in command


@pytest.mark.slow
def test_the_worker_runs_the_real_command_on_the_bundled_example(
    sqlite_settings: PortalSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(sqlite_settings)
    people = _people(store)
    sample = _example_sample(store, sqlite_settings, people)
    reported: list[tuple[str | None, float | None]] = []
    heartbeat = Store.heartbeat

    def recording(self: Store, *args: object) -> bool:
        reported.append((args[3], args[4]))  # type: ignore[arg-type]
        return heartbeat(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "heartbeat", recording)
    run_worker(sqlite_settings, once=True, poll_seconds=0.1)
    # the stages read from the real run's log advance in order, with the progress
    stages = [stage for stage, _ in reported]
    assert "profile" in stages  # the longest stage (mapping the reads) is seen
    assert stages == sorted(stages, key=STAGES.index)
    assert [p for _, p in reported] == sorted(p for _, p in reported)
    done = store.sample_for(people.person, sample.id)
    assert done is not None
    assert (done.job.state, done.job.attempt, done.job.progress) == (JobState.DONE, 1, 1.0)
    out = store.result_dir(sample.id)
    assert {"result.json", "report.html", "profile.tsv"} <= {p.name for p in out.iterdir()}
    [summary] = store.summaries_of_person(people.person.id)
    assert summary.scores["PHQ-9"] == 7  # answers.yaml: 1+1+2+1+1+0+1+0+0
    assert summary.sample_id == sample.id
    latest = store.audit_events()[0]
    assert (latest.action, latest.object_id, latest.outcome) == ("job_done", sample.id, "ok")
    store.close()


def test_a_failing_run_fails_the_job_with_its_code_and_the_uploaded_name(
    sqlite_settings: PortalSettings,
) -> None:
    store = Store.open(sqlite_settings)
    people = _people(store)
    bad = HERE / "data" / "fastq_truncated_quality.fq"
    sample = store.create_sample(
        lab_id=people.lab.id,
        person_id=people.person.id,
        label="bad",
        collected_on=dt.date(2026, 1, 1),
        preset="ont",
        files=[_upload(sqlite_settings, "reads", bad)],
        consent=consent_by(people.lab),
    )
    run_worker(sqlite_settings, once=True, poll_seconds=0.1)
    job = store.job(sample.job.id)
    assert job is not None
    assert job.state == JobState.FAILED
    assert job.error is not None
    assert job.error.startswith("GB-")
    assert "fastq_truncated_quality.fq" in job.error
    assert str(sqlite_settings.uploads_dir) not in job.error
    assert store.summaries_of_person(people.person.id) == []
    store.close()


def _worker_command(settings: PortalSettings, mode: str) -> list[str]:
    script = str(HERE / "worker_process.py")
    return [sys.executable, script, str(settings.data_dir), str(LEASE_SECONDS), mode]


def _start_worker(settings: PortalSettings, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _worker_command(settings, mode), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # a zombie is dead (only not yet reaped)


def _kill_worker_mid_job(store: Store, settings: PortalSettings, sample: Sample) -> None:
    """Start a worker on the hanging stand-in, wait until the run is under way, SIGKILL it."""
    pid_file = settings.results_dir / sample.id / "standin.pid"
    pid_file.unlink(missing_ok=True)
    worker = _start_worker(settings, "slow")
    try:
        _wait_for(pid_file.exists, "the run to start")
        # the worker reads the run's stage from its stderr and records it with its heartbeat
        _wait_for(
            lambda: (job := store.job(sample.job.id)) is not None and job.stage == "reference",
            "the first heartbeat with the stage",
        )
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    run_pid = int(pid_file.read_text())
    _wait_for(lambda: _gone(run_pid), "the run to die with its worker", timeout=10)
    # the lease runs out: nobody renews it any more
    time.sleep(LEASE_SECONDS + 0.5)


@pytest.mark.slow
def test_a_job_whose_worker_is_killed_is_finished_once_by_the_next_worker(
    sqlite_settings: PortalSettings,
) -> None:
    store = Store.open(sqlite_settings)
    people = _people(store)
    sample = _example_sample(store, sqlite_settings, people)
    _kill_worker_mid_job(store, sqlite_settings, sample)
    running = store.job(sample.job.id)
    assert running is not None
    assert (running.state, running.attempt) == (JobState.RUNNING, 1)  # until someone recovers it
    subprocess.run(_worker_command(sqlite_settings, "real"), check=True, timeout=600)
    job = store.job(sample.job.id)
    assert job is not None
    assert (job.state, job.attempt) == (JobState.DONE, 2)
    assert len(store.summaries_of_person(people.person.id)) == 1
    # exactly one result folder, complete, and no partial leftovers beside it
    results = sorted(p.name for p in (sqlite_settings.results_dir / sample.id).iterdir())
    assert results == ["out", "standin.pid"]
    assert (store.result_dir(sample.id) / "result.json").is_file()
    store.close()


@pytest.mark.slow
def test_a_job_killed_twice_is_failed_with_the_reason(sqlite_settings: PortalSettings) -> None:
    store = Store.open(sqlite_settings)
    people = _people(store)
    sample = _example_sample(store, sqlite_settings, people, reads=b"@r\nACGT\n+\nIIII\n")
    _kill_worker_mid_job(store, sqlite_settings, sample)
    _kill_worker_mid_job(store, sqlite_settings, sample)
    subprocess.run(_worker_command(sqlite_settings, "slow"), check=True, timeout=120)
    job = store.job(sample.job.id)
    assert job is not None
    assert (job.state, job.attempt) == (JobState.FAILED, 2)
    assert job.error is not None
    assert "stopped during the analysis twice" in job.error
    assert not store.result_dir(sample.id).exists()
    store.close()


def test_the_stage_reaches_the_store_at_once_and_a_stop_ends_the_run_at_once(
    tmp_path: Path,
) -> None:
    """Neither waits for the next lease renewal (a third of the lease: 200 s here)."""
    import threading

    settings = PortalSettings(data_dir=tmp_path / "data", job_lease_seconds=600)
    store = Store.open(settings)
    people = _people(store)
    sample = _example_sample(store, settings, people, reads=b"@s\nACGT\n+\nIIII\n")
    stop = threading.Event()
    stand_in = (sys.executable, str(HERE / "slow_gutbrain.py"))  # logs "stage inputs", hangs
    worker = threading.Thread(
        target=run_worker,
        args=(settings,),
        kwargs={"stop": stop, "poll_seconds": 0.1, "gutbrain_command": stand_in},
    )
    worker.start()
    try:
        _wait_for(
            lambda: (
                (job := store.job(sample.job.id)) is not None
                and (job.stage, job.progress) == ("reference", 1 / len(STAGES))
            ),
            "the stage the run reached",
            timeout=30,
        )
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    job = store.job(sample.job.id)
    assert job is not None
    assert (job.state, job.attempt) == (JobState.QUEUED, 1)
    store.close()


def test_a_stopping_worker_gives_its_job_back_unchanged(sqlite_settings: PortalSettings) -> None:
    import threading

    store = Store.open(sqlite_settings)
    people = _people(store)
    sample = _example_sample(store, sqlite_settings, people, reads=b"@s\nACGT\n+\nIIII\n")
    stop = threading.Event()
    stand_in = (sys.executable, str(HERE / "slow_gutbrain.py"))
    worker = threading.Thread(
        target=run_worker,
        args=(sqlite_settings,),
        kwargs={"stop": stop, "poll_seconds": 0.1, "gutbrain_command": stand_in},
    )
    worker.start()
    pid_file = sqlite_settings.results_dir / sample.id / "standin.pid"
    try:
        _wait_for(pid_file.exists, "the run to start")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert _gone(int(pid_file.read_text()))
    job = store.job(sample.job.id)
    assert job is not None
    assert (job.state, job.attempt, job.stage) == (JobState.QUEUED, 1, None)
    store.close()
