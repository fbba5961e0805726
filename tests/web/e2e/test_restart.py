"""A job survives the server: ``kill -9`` or SIGTERM of a real ``gutbrain serve`` while it runs.

Each test starts ``gutbrain serve`` as a subprocess (its own process group) on a temporary data
folder, uploads reads through HTTP as a lab, waits until the job's ``gutbrain run`` is past its
first stages, stops the server, starts it again on the same folder and polls the store until the
job ends. The server runs with an 8 s job lease (``serve_with_lease.py``) so the restarted server
retries a dead server's job within seconds instead of the default minute.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Job, JobState, Store
from gutbrain.workflow.run import example_paths
from tests.web.e2e.e2e_helpers import (
    Server,
    job_of,
    login,
    seed_accounts,
    small_reads,
    upload,
    wait_for,
)

pytestmark = pytest.mark.slow

LEASE_SECONDS = 8.0
#: Parts of result.json that depend only on the inputs (not on the sample id or the clock).
DETERMINISTIC = ("diversity", "guilds", "alerts", "questionnaires", "markers", "read_qc")


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_reads(tmp_path_factory.mktemp("reads"))


@pytest.fixture(scope="module")
def reference(reads: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """result.json of an uninterrupted ``gutbrain run`` on the same inputs."""
    out = tmp_path_factory.mktemp("reference") / "out"
    example = example_paths()
    command = [sys.executable, "-m", "gutbrain", "run", str(reads), "--preset", "ont"]
    command += ["--answers", str(example.answers), "--markers", str(example.markers)]
    command += ["--sample-id", "reference", "--out", str(out), "--no-progress"]
    subprocess.run(command, check=True, capture_output=True, timeout=240)
    result: dict[str, Any] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return result


class Portal:
    """A server, its data folder and a store on the same database (to read job states)."""

    def __init__(self, folder: Path) -> None:
        self.data = folder / "portal"
        self.people = seed_accounts(self.data)
        self.server = Server(self.data, folder / "server.log", lease_seconds=LEASE_SECONDS)
        self.settings = PortalSettings(data_dir=self.data)
        self.store = Store.open(self.settings)

    def upload_as_lab(self, reads: Path) -> str:
        with self.server.client() as lab:
            login(lab, self.people.lab_email)
            return upload(lab, self.people.person_id, reads)

    def running_past_reference(self, sample_id: str, attempt: int) -> Job:
        """Wait until the job's run has loaded the reference (it is profiling or later)."""

        def probe() -> Job | None:
            job = job_of(self.store, sample_id)
            assert job.state is not JobState.FAILED, job.error
            assert job.state is not JobState.DONE, "the run ended before it could be stopped"
            if job.state is JobState.RUNNING and job.attempt == attempt and job.progress:
                return job if job.progress >= 2 / 6 else None
            return None

        return wait_for(f"attempt {attempt} to be profiling", probe, 120)

    def ended(self, sample_id: str) -> Job:
        def probe() -> Job | None:
            job = job_of(self.store, sample_id)
            return job if job.state in (JobState.DONE, JobState.FAILED) else None

        return wait_for("the job to end", probe, 180)

    def killed(self, signum: int) -> None:
        """Signal the server's process group; wait until no process of it and no run is left."""
        self.server.signal_group(signum)
        wait_for("the server's processes to end", lambda: not self.server.group_alive() or None, 30)
        wait_for("no orphaned run", lambda: not self.server.runs_left() or None, 30)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    made = Portal(tmp_path)
    try:
        yield made
    finally:
        made.server.stop()
        made.store.close()


def _deterministic(result: dict[str, Any]) -> dict[str, Any]:
    profile = {k: v for k, v in result["profile"].items() if k != "sample_id"}
    return {"profile": profile, **{key: result[key] for key in DETERMINISTIC}}


def _one_result(portal: Portal, sample_id: str) -> Path:
    """The sample's only output folder; nothing else (no partial folder) under results/."""
    assert [p.name for p in portal.settings.results_dir.iterdir()] == [sample_id]
    assert [p.name for p in (portal.settings.results_dir / sample_id).iterdir()] == ["out"]
    assert len(portal.store.samples_of_person(portal.people.person_id)) == 1
    return portal.settings.results_dir / sample_id / "out"


def test_kill_9_during_the_run_retries_it_once_with_one_identical_result(
    portal: Portal, reads: Path, reference: dict[str, Any]
) -> None:
    portal.server.start()
    sample_id = portal.upload_as_lab(reads)
    portal.running_past_reference(sample_id, attempt=1)

    portal.killed(signal.SIGKILL)
    assert job_of(portal.store, sample_id).state is JobState.RUNNING  # until its lease expires

    portal.server.start()
    job = portal.ended(sample_id)
    assert job.state is JobState.DONE, job.error
    assert job.attempt == 2
    assert job.error is None
    out = _one_result(portal, sample_id)
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["sample_id"] == sample_id
    assert _deterministic(result) == _deterministic(reference)
    with portal.server.client() as person:
        login(person, portal.people.person_email)
        report = person.get(f"/samples/{sample_id}/report")
    assert report.status_code == 200
    assert report.content == (out / "report.html").read_bytes()


def test_sigterm_to_the_server_gives_the_job_back_and_the_restart_finishes_it(
    portal: Portal, reads: Path
) -> None:
    portal.server.start()
    sample_id = portal.upload_as_lab(reads)
    portal.running_past_reference(sample_id, attempt=1)

    portal.server.signal_server(signal.SIGTERM)  # `kill PID`, `docker stop`: graceful
    wait_for("the job worker to stop", lambda: not portal.server.group_alive() or None, 60)
    assert not portal.server.runs_left()
    stopped = job_of(portal.store, sample_id)
    assert stopped.state in (JobState.QUEUED, JobState.DONE), stopped.error
    assert stopped.attempt == 1  # given back, not counted as a crash

    portal.server.start()
    job = portal.ended(sample_id)
    assert job.state is JobState.DONE, job.error
    assert job.attempt == 1
    _one_result(portal, sample_id)


def test_sigterm_to_the_process_group_gives_the_job_back(portal: Portal, reads: Path) -> None:
    portal.server.start()
    sample_id = portal.upload_as_lab(reads)
    portal.running_past_reference(sample_id, attempt=1)

    portal.killed(signal.SIGTERM)
    stopped = job_of(portal.store, sample_id)
    assert stopped.state in (JobState.QUEUED, JobState.DONE), stopped.error


def test_a_second_kill_during_the_retry_fails_the_job_with_a_plain_reason(
    portal: Portal, reads: Path
) -> None:
    portal.server.start()
    sample_id = portal.upload_as_lab(reads)
    portal.running_past_reference(sample_id, attempt=1)
    portal.killed(signal.SIGKILL)

    portal.server.start()
    portal.running_past_reference(sample_id, attempt=2)
    portal.killed(signal.SIGKILL)

    portal.server.start()
    job = portal.ended(sample_id)
    assert job.state is JobState.FAILED
    assert job.attempt == 2
    assert job.error is not None
    assert "the server stopped during the analysis twice" in job.error
    with portal.server.client() as lab:
        login(lab, portal.people.lab_email)
        page = lab.get(f"/samples/{sample_id}")
        report = lab.get(f"/samples/{sample_id}/report")
    assert page.status_code == 200
    assert "the server stopped during the analysis twice" in page.text
    assert "Traceback" not in page.text
    assert report.status_code == 404
    assert not (portal.settings.results_dir / sample_id / "out" / "result.json").exists()
