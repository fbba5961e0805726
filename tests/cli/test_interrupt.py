"""Interrupts (issue 13 item 6): Ctrl-C and SIGTERM exit 130/143 with one line, tear the worker
pool down and leave nothing half-written; a run killed at any moment (SIGINT or kill -9) reruns to
the same output with no debris left behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "gutbrain" / "data" / "example"
READS = EXAMPLE / "example_reads.fastq.gz"
#: A hang guard, not a timing assertion: a torn-down pool exits long before this.
HANG = 60.0


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gutbrain", "--quiet", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


def _wait_for_workers(proc: subprocess.Popen[bytes], count: int) -> list[int]:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= count:
            return workers
        time.sleep(0.05)
    pytest.fail("the worker pool never started")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead; the test process is not its parent, so it stays listed briefly
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_profile_with_threads_exits_128_plus_signal_and_stops_workers(
    tmp_path: Path, signum: int, code: int
) -> None:
    # --align-all: the k-mer screen places most example reads before the workers start
    proc = _start(
        ["profile", str(READS), "--out", "out", "--threads", "2", "--align-all"], tmp_path
    )
    workers = _wait_for_workers(proc, 2)
    os.killpg(proc.pid, signum)  # the whole group, as Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == code, err
    lines = err.decode().strip().splitlines()
    assert lines[-1].startswith(f"gutbrain: interrupted ({signal.Signals(signum).name})")
    assert "Traceback" not in err.decode()
    deadline = time.monotonic() + HANG
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    assert not (tmp_path / "out").exists()
    assert _debris(tmp_path) == []


def test_main_keeps_the_exit_code_of_typer_exit(tmp_path: Path) -> None:
    script = (
        "import typer\n"
        "from gutbrain.cli import app, main\n"
        "@app.command('fail-with-3')\n"
        "def _fail() -> None:\n"
        "    raise typer.Exit(code=3)\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "fail-with-3"], capture_output=True, check=False
    )
    assert done.returncode == 3, done.stderr


def _run_as_module(folder: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as ``python -m``, the way the portal and these tests start gutbrain.

    CPython ends a ``-m`` process differently from a ``-c`` one after an escaped interrupt.
    """
    (folder / "cli_under_test.py").write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "cli_under_test", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=HANG,
    )


_CTRL_C_INSIDE_EXEC = """
import os, signal
from gutbrain.cli import app, main

@app.command("load-a-module")
def _load() -> None:
    exec("import os, signal; os.kill(os.getpid(), signal.SIGINT); sum(range(10**7))")

main()
"""


def test_ctrl_c_inside_code_built_by_exec_still_exits_130(tmp_path: Path) -> None:
    # namedtuple and dataclass definitions run code through exec/eval while modules load; a
    # Ctrl-C landing there made ``python -m gutbrain`` (the portal's command) end by the signal
    # after its one-line message (CPython's record of an escaped interrupt, see gutbrain._exit)
    done = _run_as_module(tmp_path, _CTRL_C_INSIDE_EXEC, "load-a-module")
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == [
        "gutbrain: interrupted (SIGINT); nothing was half-written, rerun the command"
    ]


_CTRL_C_WHILE_EXITING = """
import atexit, os, signal
from gutbrain.cli import app, main

@app.command("finish")
def _finish() -> None:
    atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))  # arrives while Python exits

main()
"""


def test_ctrl_c_after_the_command_finished_changes_nothing(tmp_path: Path) -> None:
    done = _run_as_module(tmp_path, _CTRL_C_WHILE_EXITING, "finish")
    assert (done.returncode, done.stderr) == (0, "")


# --- kill at random moments, rerun: same output, no debris ------------------------------------

_VOLATILE = {"created", "stage_seconds", "seconds"}


def _stable_json(path: Path) -> object:
    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in _VOLATILE}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(json.loads(path.read_text(encoding="utf-8")))


def _biom_content(path: Path) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    with h5py.File(path, "r") as handle:
        items.extend(
            (f"@{k}", repr(v)) for k, v in sorted(handle.attrs.items()) if k != "creation-date"
        )

        def visit(name: str, node: object) -> None:
            if isinstance(node, h5py.Dataset):
                items.append((name, repr(node[()].tolist() if node.shape else node[()])))

        handle.visititems(visit)
    return items


def _snapshot(out: Path) -> dict[str, object]:
    """The outputs, byte for byte where gutbrain writes them deterministically.

    ``result.json`` carries its creation time and stage timings, ``report.html`` shows them and
    BIOM stores a creation date (the BIOM 2.1 format requires it): those are compared without
    the clock values.
    """
    shot: dict[str, object] = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".biom":
            shot[path.name] = _biom_content(path)
        elif path.name == "result.json":
            shot[path.name] = _stable_json(path)
        elif path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            shot[path.name] = text.rstrip().endswith("</html>")
        else:
            shot[path.name] = path.read_bytes()
    return shot


def _kill_and_rerun(tmp_path: Path, args: list[str], seed: int) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    start = time.monotonic()
    done = _start([*args, "--out", "out"], reference)
    done.communicate(timeout=300)
    duration = time.monotonic() - start
    assert done.returncode == 0
    expected = _snapshot(reference / "out")
    rng = random.Random(seed)
    for attempt, signum in enumerate((signal.SIGKILL, signal.SIGINT, signal.SIGKILL)):
        work = tmp_path / f"attempt{attempt}"
        work.mkdir()
        proc = _start([*args, "--out", "out"], work)
        time.sleep(rng.uniform(0.1, 0.9) * duration)
        if proc.poll() is None:
            os.killpg(proc.pid, signum)
        proc.communicate(timeout=HANG)
        if signum == signal.SIGINT:
            assert proc.returncode in {0, 130}
            assert _debris(work) == []  # Ctrl-C cleans up on the way out
        rerun = _start([*args, "--out", "out", "--force"], work)
        _, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        assert _debris(work) == [], f"attempt {attempt}: leftovers after the rerun"
        assert _snapshot(work / "out") == expected


@pytest.mark.slow
def test_profile_killed_at_random_moments_reruns_identically_without_debris(
    tmp_path: Path,
) -> None:
    _kill_and_rerun(tmp_path, ["profile", str(READS), "--threads", "2"], 13)


@pytest.mark.slow
def test_run_killed_at_random_moments_reruns_identically_without_debris(tmp_path: Path) -> None:
    args = [
        "run",
        str(READS),
        "--answers",
        str(EXAMPLE / "answers.yaml"),
        "--markers",
        str(EXAMPLE / "markers.yaml"),
        "--threads",
        "2",
        "--no-progress",
    ]
    _kill_and_rerun(tmp_path, args, 31)


_CTRL_C_WHILE_LOADING = """
import os, signal, sys

class CtrlCWhileLoading:
    # a Ctrl-C arrives while a module of the command line loads
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["MODULE"]:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCWhileLoading())
sys.argv = ["gutbrain", "--version"]
if os.environ.get("ENTRY") == "run":
    from gutbrain.__main__ import run
    run()
else:
    from gutbrain.cli import main
    main()
"""


@pytest.mark.parametrize("entry", ["run", "plain import"])
def test_ctrl_c_while_the_command_line_loads_exits_130(entry: str) -> None:
    # before gutbrain.cli.main has installed its handlers
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_WHILE_LOADING],
        capture_output=True,
        text=True,
        env={**os.environ, "ENTRY": entry, "MODULE": "gutbrain.cli"},
        timeout=HANG,
    )
    if entry == "run":  # the console script's and ``python -m gutbrain``'s entry point
        assert done.returncode == 130
        assert done.stderr.strip().splitlines() == [
            "gutbrain: interrupted (SIGINT) while starting; nothing was written"
        ]
    else:  # what it guards against: Python ends by the signal itself
        assert done.returncode == -signal.SIGINT


def test_ctrl_c_while_the_command_module_loads_exits_130() -> None:
    # `gutbrain run` loads gutbrain.cli.run (~0.3 s) once the command line has started
    script = _CTRL_C_WHILE_LOADING.replace('"--version"', '"run", "--help"')
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "ENTRY": "run", "MODULE": "gutbrain.cli.run"},
        timeout=HANG,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == [
        "gutbrain: interrupted (SIGINT); nothing was half-written, rerun the command"
    ]
