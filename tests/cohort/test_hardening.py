"""Issue 13 (cohort part): each test is named after a failure an adversarial run found.

Relative store paths, skeletons of failed runs, an unrestricted ``cohort query``, unchecked store
hashes, a public Dask dashboard, ENOSPC on the lock, formula cells in CSV, world-readable stores,
answer values in failure messages, exit 0 with failed samples, runs "running" forever,
``/dev/zero`` in a sheet, Dask noise at shutdown and safety alerts that nobody saw.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gutbrain.cli import app, main
from gutbrain.cli._app import state
from gutbrain.cli.cohort import EXIT_SAMPLES_FAILED
from gutbrain.cohort.simulate import simulate_cohort, write_cohort_files
from gutbrain.cohort.store import open_store
from gutbrain.errors import GutbrainError, InputFormatError, OutputError

pytestmark = [pytest.mark.dask_distributed, pytest.mark.timeout(300)]

CRISIS = "schema: gutbrain-answers/1\nage: 47\nphq9: [1, 1, 1, 1, 1, 1, 1, 1, 2]\n"
#: An out-of-range answer whose value (4271) must never reach the catalogue or the terminal.
BAD_ANSWER = "schema: gutbrain-answers/1\nage: 47\nphq9: [1, 1, 1, 1, 1, 1, 1, 1, 4271]\n"

Runner = Callable[..., tuple[int, str, str]]


def make_sheet(
    folder: Path,
    n: int = 12,
    *,
    answers: dict[int, str] | None = None,
    broken: tuple[int, ...] = (),
    site: list[str] | None = None,
) -> Path:
    """A simulated cohort of ``n`` profile tables; ``answers`` maps sample index → YAML text."""
    sim = simulate_cohort(n_samples=n, n_taxa=12, n_shifted=2, effect=1.0, seed=3)
    meta = sim.metadata.rename(columns={"outcome": "PHQ9"})
    meta["age"] = [30 + i for i in range(n)]
    if site is not None:
        meta["site"] = [site[i % len(site)] for i in range(n)]
    cells = [""] * n
    for i, text in (answers or {}).items():
        (folder / "answers").mkdir(parents=True, exist_ok=True)
        (folder / "answers" / f"a{i}.yaml").write_text(text, encoding="utf-8")
        cells[i] = f"answers/a{i}.yaml"
    if answers:
        meta["answers"] = cells
    sheet = write_cohort_files(sim.counts, meta, folder)
    for i in broken:
        sample_id = str(sim.counts.index[i])
        (folder / "profiles" / f"{sample_id}.profile.tsv").write_text(
            f"sample\trank\ttaxon\tabundance\n{sample_id}\tgenus\tX\tnot-a-number\n"
        )
    return sheet


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Runner]:
    """Run ``gutbrain.cli.main`` in-process (its error boundary and exit codes included)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def run(*args: str | Path) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["gutbrain", *map(str, args)])
        code = 0
        with warnings.catch_warnings():
            try:
                main()
            except SystemExit as exc:
                code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, " ".join(captured.err.split())

    yield run
    logging.captureWarnings(False)
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    state.debug = False


def _gutbrain(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=240,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished store (in-process run): 12 samples, one covariate with formula-like text."""
    folder = tmp_path_factory.mktemp("hardening")
    sheet = make_sheet(folder / "in", site=["=1+2", "@SUM(A1)", "north", "-cmd"])
    out = folder / "store"
    result = CliRunner().invoke(
        app, ["cohort", "run", str(sheet), "--out", str(out), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    return out


def _copy(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(store, copy, ignore=shutil.ignore_patterns(".owner.lock"))
    return copy


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }


# -- item 2: relative paths, no skeleton -------------------------------------------------------
def test_readme_cohort_example_with_relative_store_path(tmp_path: Path) -> None:
    make_sheet(tmp_path, n=14)
    (tmp_path / "sheet.tsv").rename(tmp_path / "samples.tsv")
    steps = [
        ("cohort", "run", "samples.tsv", "--out", "store/", "--workers", "2"),
        ("cohort", "associate", "store/", "--outcome", "PHQ9", "--covariates", "age"),
        ("cohort", "query", "store/", "SELECT count(*) AS n FROM profiles", "--format", "csv"),
        ("cohort", "report", "store/", "--out", "cohort.html"),
    ]
    for step in steps:
        done = _gutbrain(*step, cwd=tmp_path)
        assert done.returncode == 0, (step, done.stderr)
        assert "Traceback" not in done.stderr
    assert (tmp_path / "cohort.html").is_file()
    with open_store(tmp_path / "store") as opened:
        assert len(opened.records()) == 14


def test_normal_cohort_run_has_no_dask_logging_or_traceback(tmp_path: Path) -> None:
    sheet = make_sheet(tmp_path, n=6)
    done = _gutbrain("cohort", "run", str(sheet), "--out", "store", "--workers", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for noise in ("Traceback", "distributed.", "Dashboard", "CommClosedError", "Nanny"):
        assert noise not in done.stderr, done.stderr


def test_failed_cohort_run_leaves_no_store_skeleton(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sheet = make_sheet(tmp_path / "in", n=4)
    out = tmp_path / "new-store"

    class Usage:
        free = 0

    monkeypatch.setattr("gutbrain.cohort.runner.shutil.disk_usage", lambda _: Usage())
    result = CliRunner().invoke(app, ["cohort", "run", str(sheet), "--out", str(out)])
    assert isinstance(result.exception, OutputError)
    assert result.exception.code == "GB-NOSPACE"
    assert not out.exists()


def test_failed_run_keeps_an_existing_store(store: Path, tmp_path: Path) -> None:
    copy = _copy(store, tmp_path)
    before = _digests(copy)
    sheet = make_sheet(tmp_path / "in", n=4)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("gutbrain.cohort.runner.shutil.disk_usage", lambda _: type("U", (), {"free": 0}))
        result = CliRunner().invoke(app, ["cohort", "run", str(sheet), "--out", str(copy)])
    assert isinstance(result.exception, OutputError)
    assert _digests(copy) == before


# -- item 4: a sandboxed query; hashes checked -------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/*')",
        "COPY (SELECT 1 AS x) TO '{store}/profiles/evil.parquet' (FORMAT parquet)",
        "COPY (SELECT * FROM profiles LIMIT 1) TO '{victim}' (FORMAT parquet)",
        "ATTACH '{store}/evil.duckdb'",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SELECT * FROM read_parquet('{victim}')",
        "INSTALL httpfs",
    ],
)
def test_cohort_query_cannot_touch_the_filesystem(store: Path, sql: str) -> None:
    victim = next((store / "profiles").glob("*.parquet"))
    before = _digests(store)
    text = sql.format(store=store, victim=victim)
    result = CliRunner().invoke(app, ["cohort", "query", str(store), text])
    assert isinstance(result.exception, InputFormatError), result.output
    assert result.exception.code == "GB-SQL"
    assert _digests(store) == before
    assert not (store / "profiles" / "evil.parquet").exists()
    assert not (store / "evil.duckdb").exists()


def test_cohort_query_views_still_work_in_the_sandbox(store: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "cohort",
            "query",
            str(store),
            "SELECT (SELECT count(DISTINCT sample_id) FROM profiles) AS p, "
            "(SELECT count(DISTINCT sample_id) FROM scores) AS s, "
            "(SELECT count(*) FROM metadata) AS m, (SELECT count(*) FROM runs) AS r",
            "--format",
            "tsv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "12\t12\t12\t1"


@pytest.mark.parametrize("command", ["query", "associate"])
def test_query_and_associate_refuse_a_changed_store_file(
    store: Path, tmp_path: Path, command: str
) -> None:
    copy = _copy(store, tmp_path)
    victim = sorted((copy / "profiles").glob("*.parquet"))[3]
    victim.write_bytes(victim.read_bytes() + b"\0")
    args = (
        ["cohort", "query", str(copy), "SELECT 1"]
        if command == "query"
        else ["cohort", "associate", str(copy), "--outcome", "PHQ9", "--method", "lm"]
    )
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, InputFormatError), result.output
    assert result.exception.code == "GB-STORE"
    assert result.exception.exit_code != 70
    assert f"profiles/{victim.name}" in str(result.exception)


def test_associate_with_a_changed_parquet_schema_is_a_clear_error(
    store: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    # metadata.parquet has no checksum in the catalogue: its schema is checked instead
    pq.write_table(pa.table({"who": ["x"], "PHQ9": ["high"]}), copy / "metadata.parquet")
    result = CliRunner().invoke(
        app, ["cohort", "associate", str(copy), "--outcome", "PHQ9", "--method", "lm"]
    )
    assert isinstance(result.exception, GutbrainError), result.output
    assert result.exception.code == "GB-STORE"
    assert "metadata.parquet" in str(result.exception)


def test_profile_with_a_changed_schema_and_matching_hash_is_a_clear_error(
    store: Path, tmp_path: Path
) -> None:
    copy = _copy(store, tmp_path)
    victim = sorted((copy / "profiles").glob("*.parquet"))[0]
    pq.write_table(pa.table({"sample_id": ["S"], "abundance": ["lots"]}), victim)
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    # a forged catalogue row: the hash matches, the schema does not
    with open_store(copy, writable=True) as opened, opened.transaction() as db:
        db.execute(
            "UPDATE samples SET profile_sha256 = ? WHERE profile_file = ?",
            (digest, f"profiles/{victim.name}"),
        )
    result = CliRunner().invoke(
        app, ["cohort", "associate", str(copy), "--outcome", "PHQ9", "--method", "lm"]
    )
    assert isinstance(result.exception, GutbrainError), result.output
    assert result.exception.code == "GB-STORE"
    assert f"profiles/{victim.name}" in str(result.exception)


# -- item 5: no public dashboard ---------------------------------------------------------------
def test_dask_dashboard_not_on_all_interfaces() -> None:
    import psutil
    from distributed import Client, LocalCluster

    from gutbrain.cohort.runner import cluster_options

    options = cluster_options(1)
    assert options["host"] == "127.0.0.1"
    assert str(options["dashboard_address"]).startswith("127.0.0.1:")
    with (
        LocalCluster(**options, silence_logs=logging.ERROR) as cluster,  # type: ignore[no-untyped-call]
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        # Ctrl-C is the coordinator's: worker processes ignore SIGINT (no traceback per worker)
        import signal

        handlers = client.run(lambda: int(signal.getsignal(signal.SIGINT)))  # type: ignore[no-untyped-call]
        assert set(handlers.values()) == {int(signal.SIG_IGN)}
        info = client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        me = psutil.Process()
        listening = [
            c.laddr.ip
            for proc in (me, *me.children(recursive=True))
            for c in proc.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening
        assert set(listening) == {"127.0.0.1"}, listening
        # no dashboard page is served (only Dask's health/metrics routes)
        import urllib.error
        import urllib.request

        port = cluster.scheduler.http_server.port
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10)


# -- item 9: ENOSPC on the lock ----------------------------------------------------------------
def test_enospc_while_taking_the_store_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gutbrain.cohort.store as store_module

    real_open = open

    class FullDisk:
        def __init__(self, handle: Any) -> None:
            self._handle = handle

        def __getattr__(self, name: str) -> Any:
            return getattr(self._handle, name)

        def write(self, _text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        return FullDisk(real_open(file, *args, **kwargs))

    monkeypatch.setattr(store_module, "open", full_open, raising=False)
    with pytest.raises(OutputError) as caught:
        open_store(tmp_path / "store", writable=True)
    assert caught.value.code == "GB-NOSPACE"
    assert ".owner.lock" in str(caught.value)


# -- item 10: formula-safe CSV -----------------------------------------------------------------
def test_cohort_query_csv_cells_are_formula_safe(store: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "cohort",
            "query",
            str(store),
            "SELECT DISTINCT site, -1.5 AS negative, '=cmd|x' AS \"=col\" FROM metadata "
            "ORDER BY site",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "site,negative,'=col"
    cells = [line.split(",") for line in lines[1:]]
    assert sorted(c[0] for c in cells) == ["'-cmd", "'=1+2", "'@SUM(A1)", "north"]
    assert all(c[1] == "-1.5" for c in cells)
    assert all(c[2] == "'=cmd|x" for c in cells)
    for line in lines:
        assert not line.startswith(("=", "+", "-", "@"))


# -- item 11: permissions, no answer values ----------------------------------------------------
def test_cohort_store_is_private_0700_0600(store: Path) -> None:
    with open_store(store, writable=True):  # the lock file and WAL exist while a writer holds it
        entries = [store, *store.rglob("*")]
        assert any(p.name.startswith("catalogue.sqlite-") for p in entries)
        for path in entries:
            mode = stat.S_IMODE(path.stat().st_mode)
            expected = 0o700 if path.is_dir() else 0o600
            assert mode == expected, f"{path}: {oct(mode)}"


def test_cohort_failure_messages_carry_no_answer_values(tmp_path: Path, cli: Runner) -> None:
    sheet = make_sheet(tmp_path / "in", n=4, answers={1: BAD_ANSWER})
    code, _out, err = cli("cohort", "run", sheet, "--out", tmp_path / "store", "--workers", "1")
    assert code == EXIT_SAMPLES_FAILED
    assert "GB-Q-RANGE" in err
    assert "4271" not in err
    with open_store(tmp_path / "store") as opened:
        failed = [r for r in opened.records().values() if r.status == "failed"]
        assert len(failed) == 1
        assert failed[0].error_code == "GB-Q-RANGE"
        assert "a1.yaml" in str(failed[0].error_message)
        assert "4271" not in str(failed[0].error_message)
        # the run's details hold timings: the answer is a number of its own there, not digits
        # inside a float such as 1.78301427100 (which made this test fail by chance)
        details = opened.runs_frame()["details"].iloc[-1]
        assert re.search(r"(?<![\d.])4271(?!\d)", details) is None


# -- item 12: exit codes, stale runs, /dev/zero, SIGINT ----------------------------------------
def test_cohort_run_exits_non_zero_when_samples_failed(tmp_path: Path, cli: Runner) -> None:
    sheet = make_sheet(tmp_path / "in", n=5, broken=(0, 2, 4))
    code, out, err = cli("cohort", "run", sheet, "--out", tmp_path / "store", "--workers", "1")
    assert code == EXIT_SAMPLES_FAILED == 3
    assert "2 processed" in " ".join(out.split())
    assert "error[GB-SAMPLES-FAILED] 3 of 5 samples failed" in err


def test_killed_run_does_not_stay_running(tmp_path: Path) -> None:
    out = tmp_path / "store"
    script = (
        "import os\n"
        "from gutbrain.cohort.store import open_store\n"
        f"s = open_store({str(out)!r}, writable=True)\n"
        "s.start_run('r-killed', sheet='x', n_samples=3)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert done.returncode == -9
    assert (out / ".owner.lock").read_text().strip().isdigit()  # the dead owner's PID stays
    with open_store(out) as reader:  # a reader sees the owner is gone
        runs = reader.runs_frame()
        assert runs.set_index("run_id").loc["r-killed", "status"] == "interrupted"
    with open_store(out, writable=True) as writer:  # the next writer records it
        row = writer.db.execute("SELECT status FROM runs WHERE run_id = 'r-killed'").fetchone()
        assert row == ("interrupted",)
        writer.start_run("r-live", sheet="x", n_samples=1)
        with open_store(out) as reader:
            status = reader.runs_frame().set_index("run_id")["status"]
            assert status["r-live"] == "running"
            assert status["r-killed"] == "interrupted"


def test_dev_zero_in_a_sheet_is_not_a_regular_file(tmp_path: Path) -> None:
    from gutbrain.cohort.sheet import read_sample_sheet

    sheet = tmp_path / "sheet.csv"
    sheet.write_text("sample_id,profile\nS1,/dev/zero\nS2,missing.tsv\n")
    with pytest.raises(InputFormatError) as caught:
        read_sample_sheet(sheet)
    text = str(caught.value)
    assert "line 2: profile '/dev/zero' is not a regular file" in text
    assert "line 3: profile file 'missing.tsv' not found" in text


# -- issue 12 item 6: alerts in a cohort -------------------------------------------------------
def test_cohort_run_prints_safety_alerts_on_stderr(tmp_path: Path, cli: Runner) -> None:
    # S1: crisis answers; S2: crisis answers and a broken profile (the alert must survive)
    sheet = make_sheet(tmp_path / "in", n=4, answers={1: CRISIS, 2: CRISIS}, broken=(2,))
    ids = [line.split("\t")[0] for line in sheet.read_text().splitlines()[1:]]
    code, _out, err = cli("cohort", "run", sheet, "--out", tmp_path / "store", "--workers", "1")
    assert code == EXIT_SAMPLES_FAILED
    for sample_id in (ids[1], ids[2]):
        assert f"ALERT CRISIS sample {sample_id}: If you are thinking about harming" in err
        assert err.index(f"ALERT CRISIS sample {sample_id}") < err.index("failed " + ids[2])
    assert ids[0] not in err.split("failed")[0]
    assert "safety alerts in 2 sample(s)" in err
    with open_store(tmp_path / "store") as opened:
        records = opened.records()
        assert "safety alert(s) raised for this sample: crisis" in str(
            records[ids[2]].error_message
        )
        alerts = opened.read_scores(kind="alert")
        assert set(alerts["sample_id"]) == {ids[1]}
        assert set(alerts["detail"]) >= {"crisis"}


# -- SIGINT: exit 130, cluster gone, store consistent, resume byte-identical -------------------
def _wait_for_done(store: Path, popen: subprocess.Popen[str], timeout: float = 120.0) -> None:
    import sqlite3
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert popen.poll() is None, "the run ended before it could be interrupted"
        catalogue = store / "catalogue.sqlite"
        if catalogue.is_file():
            try:
                with sqlite3.connect(f"{catalogue.as_uri()}?mode=ro", uri=True) as db:
                    if db.execute("SELECT count(*) FROM samples").fetchone()[0] >= 2:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    pytest.fail("no sample was committed in time")


def test_sigint_during_cohort_run_exits_130_and_resumes(tmp_path: Path) -> None:
    import signal

    import psutil

    sheet = make_sheet(tmp_path / "in", n=40)
    out = tmp_path / "store"
    env = {**os.environ, "COLUMNS": "250"}
    popen = subprocess.Popen(
        [sys.executable, "-m", "gutbrain", "cohort", "run", str(sheet), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, like a terminal job
    )
    try:
        _wait_for_done(out, popen)
        children = psutil.Process(popen.pid).children(recursive=True)
        os.killpg(popen.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        _, err = popen.communicate(timeout=60)
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
    assert popen.returncode == 130, err
    assert "GB-INTERRUPTED" in err
    assert "Traceback" not in err
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, "worker processes outlived the interrupted run"
    assert not list(out.rglob(".*.partial-*"))
    with open_store(out) as opened:
        runs = opened.runs_frame()
        assert list(runs["status"]) == ["interrupted"]
        records = opened.records()
        assert 0 < len(records) < 40
        opened.verify()  # every committed sample is complete
    again = _gutbrain("cohort", "run", str(sheet), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    clean = _gutbrain("cohort", "run", str(sheet), "--out", str(tmp_path / "clean"), cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert _digests(out) == _digests(tmp_path / "clean")


def test_sigterm_during_cohort_run_exits_143_and_stops_the_cluster(tmp_path: Path) -> None:
    import signal

    import psutil

    sheet = make_sheet(tmp_path / "in", n=40)
    out = tmp_path / "store"
    popen = subprocess.Popen(
        [sys.executable, "-m", "gutbrain", "cohort", "run", str(sheet), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
        start_new_session=True,
    )
    try:
        _wait_for_done(out, popen)
        children = psutil.Process(popen.pid).children(recursive=True)
        popen.send_signal(signal.SIGTERM)  # to the coordinator only, as a service manager does
        _, err = popen.communicate(timeout=60)
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
    assert popen.returncode == 143, err
    assert "terminated (SIGTERM)" in err
    assert "Traceback" not in err
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, "worker processes outlived the terminated run"
    with open_store(out) as opened:
        assert list(opened.runs_frame()["status"]) == ["interrupted"]
        opened.verify()
    again = _gutbrain("cohort", "run", str(sheet), "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
