"""Load test of the web portal: 50 logged-in people reading their reports, on 127.0.0.1 only.

Run: .venv/bin/python benchmarks/bench_portal_load.py [--people 50] [--duration 30] [--clients 2]

1. Seeds a temporary portal (SQLite in a temporary ``--data`` folder): one lab and ``--people``
   people, each with one finished sample. The report is produced ONCE by the portal's own job
   worker (``gutbrain run`` on the bundled example); every other person gets a sample whose job
   is claimed and finished with a copy of that run's output folder and summary.
2. Starts ``gutbrain serve`` (real uvicorn, in its own process group, ``--insecure-cookies``
   since it is plain http) on a free loopback port and logs every person in through the login
   form (pre-login token, then the session cookie).
3. Starts ``--clients`` SEPARATE client processes (httpx2 + asyncio; one Python client process
   saturates at about 110 requests/s, RELIABILITY.md §4.2), which share the people between them.
   Each person is a closed loop with no think time: GET its own report page, then its dashboard
   (``/me``), again and again, for ``--duration`` seconds (``--think-ms`` adds a pause after
   each page, to model people reading rather than a closed loop at full speed).
4. Prints p50/p95/p99 latency, throughput, errors (status not 200, a transport error, or a page
   without its expected content) and the server's resident memory (uvicorn process and its whole
   process tree, peak of samples taken during the load), then PASS/FAIL against
   p99 <= ``--p99-ms`` (250) and 0 errors; exits 1 on FAIL.

Latency is measured by the clients, so it includes the client processes' own scheduling delay:
on a machine shared with other work this overstates the server's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD = "load test passphrase 2026"
MAX_DURATION = 300.0
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


# -- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    sample_id: str


def seed(data_dir: Path, people: int) -> list[Person]:
    """A lab and ``people`` people, each with one finished sample (one real run, copied)."""
    from gutbrain.web.jobs import run_worker
    from gutbrain.web.security import hash_password
    from gutbrain.web.settings import PortalSettings
    from gutbrain.web.store import Consent, JobState, Role, Store, StoredFile
    from gutbrain.web.timeline import summary_from_result
    from gutbrain.workflow.run import example_paths

    settings = PortalSettings(data_dir=data_dir, secure_cookies=False)
    store = Store.open(settings)
    hashed = hash_password(PASSWORD)  # one argon2 hash serves every account (same password)
    lab = store.create_account("lab@example.org", hashed, Role.LAB, "Load Lab")
    example = example_paths()
    collected = dt.date(2026, 11, 2)
    found: list[Person] = []
    first_out: Path | None = None
    summary_source: dict[str, Any] | None = None
    for index in range(people):
        email = f"person{index:03d}@example.org"
        name = f"Person {index:03d}"
        person = store.create_account(email, hashed, Role.PERSON, name)
        store.link_person(lab.id, person.id)
        files = []
        for kind, source in (
            ("reads", example.reads),
            ("answers", example.answers),
            ("markers", example.markers),
        ):
            target = settings.uploads_dir / f"{person.id}-{kind}"
            shutil.copyfile(source, target)
            size = target.stat().st_size
            files.append(StoredFile(kind, target, source.name, size, _sha256(target)))
        consent = Consent(dt.datetime.now(dt.UTC), "2026-12", lab.id, "analysis and report")
        sample = store.create_sample(
            lab_id=lab.id,
            person_id=person.id,
            label="week 1",
            collected_on=collected,
            preset="ont",
            files=files,
            consent=consent,
        )
        if first_out is None:
            print("producing the report once (gutbrain run on the bundled example) ...", flush=True)
            started = time.perf_counter()
            run_worker(settings, once=True, poll_seconds=0.1)
            done = store.sample(sample.id)
            if done is None or done.job.state is not JobState.DONE:
                state = None if done is None else (done.job.state, done.job.error)
                raise SystemExit(f"the seeding run did not finish: {state}")
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
            first_out = store.result_dir(sample.id)
            summary_source = json.loads((first_out / "result.json").read_text(encoding="utf-8"))
        else:
            assert summary_source is not None
            job = store.claim_job("seeder", dt.datetime.now(dt.UTC))
            if job is None or job.sample_id != sample.id:
                raise SystemExit("the seeded job was not the one claimed")
            target_dir = store.result_dir(sample.id)
            target_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copytree(first_out, target_dir)
            summary = summary_from_result(summary_source, sample.id, collected)
            if not store.finish_job(job.id, "seeder", summary):
                raise SystemExit("could not finish a seeded job")
        found.append(Person(email, name, sample.id))
    store.close()
    return found


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUTBRAIN_")}
    with log.open("wb") as handle:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gutbrain",
                "serve",
                "--data",
                str(data_dir),
                "--port",
                str(port),
                "--insecure-cookies",
                "--crisis-contact",
                "Load-test crisis line 000",
            ],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            env=env,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    import httpx2

    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except httpx2.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise SystemExit(f"the server did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
    return pids


class RssSampler(threading.Thread):
    """Peak resident memory of the server process and of its process tree, sampled every 0.5 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_server = 0
        self.peak_tree = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak_server = max(self.peak_server, _rss_kib(self.pid))
            self.peak_tree = max(self.peak_tree, sum(_rss_kib(p) for p in _tree(self.pid)))


def login_all(port: int, people: list[Person]) -> list[dict[str, Any]]:
    """Log every person in through the form; their session cookies, for the clients."""
    import httpx2

    sessions = []
    for person in people:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            page = client.get("/login")
            token = _CSRF.search(page.text)
            if token is None:
                raise SystemExit("the login page has no CSRF token")
            answer = client.post(
                "/login",
                data={"email": person.email, "password": PASSWORD, "csrf": token.group(1)},
            )
            if answer.status_code != 303:
                raise SystemExit(f"login failed for {person.email}: {answer.status_code}")
            cookies = {name: value for name, value in client.cookies.items()}
        sessions.append({"cookies": cookies, "sample_id": person.sample_id, "name": person.name})
    return sessions


# -- the client processes -----------------------------------------------------------------------


async def _one_person(
    port: int,
    session: dict[str, Any],
    start: float,
    end: float,
    think: float,
    out: dict[str, Any],
) -> None:
    import httpx2

    routes = (
        (f"/samples/{session['sample_id']}/report", b"<html", "report"),
        ("/me", f"Your results, {session['name']}".encode(), "dashboard"),
    )
    limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx2.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        cookies=session["cookies"],
        limits=limits,
        timeout=30,
    ) as client:
        await asyncio.sleep(max(0.0, start - time.time()))
        turn = 0
        while time.time() < end:
            path, marker, name = routes[turn % 2]
            turn += 1
            began = time.perf_counter()
            try:
                answer = await client.get(path)
                ok = answer.status_code == 200 and marker in answer.content
            except httpx2.TransportError:
                ok = False
            took = (time.perf_counter() - began) * 1000
            if time.time() > end:  # finished after the window: not counted
                break
            out["latencies_ms"].append(took)
            out["per_route"].setdefault(name, []).append(took)
            if not ok:
                out["errors"] += 1
            if think > 0:
                await asyncio.sleep(think)


async def _client_main(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies_ms": [], "per_route": {}, "errors": 0}
    await asyncio.gather(
        *(
            _one_person(spec["port"], session, spec["start"], spec["end"], spec["think"], out)
            for session in spec["sessions"]
        )
    )
    return out


def client_process(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    if spec["host"] != "127.0.0.1":
        raise SystemExit("the load test runs against 127.0.0.1 only")
    result = asyncio.run(_client_main(spec))
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


# -- the run ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="gb-portal-load-") as tmp:
        folder = Path(tmp)
        data_dir = folder / "portal"
        t0 = time.perf_counter()
        people = seed(data_dir, args.people)
        print(f"seeded {len(people)} people in {time.perf_counter() - t0:.1f} s", flush=True)
        port = free_port()
        server = start_server(data_dir, port, folder / "server.log")
        try:
            sessions = login_all(port, people)
            sampler = RssSampler(server.pid)
            sampler.start()
            load_before = _load()
            cpu_before = _cpu_seconds(server.pid)
            start = time.time() + 3.0  # the clients start Python and connect first
            end = start + args.duration
            clients = []
            for index in range(args.clients):
                spec = {
                    "host": "127.0.0.1",
                    "port": port,
                    "start": start,
                    "end": end,
                    "think": args.think_ms / 1000,
                    "sessions": sessions[index :: args.clients],
                    "result": str(folder / f"client{index}.json"),
                }
                spec_path = folder / f"spec{index}.json"
                spec_path.write_text(json.dumps(spec), encoding="utf-8")
                clients.append(
                    subprocess.Popen(
                        [sys.executable, __file__, "--client", str(spec_path)],
                        stdin=subprocess.DEVNULL,
                    )
                )
            codes = [c.wait(timeout=args.duration + 120) for c in clients]
            server_cpu = _cpu_seconds(server.pid) - cpu_before
            load_after = _load()
            sampler.done.set()
            sampler.join()
            if server.poll() is not None:
                print("FAIL: the server stopped during the load")
                return 1
        finally:
            stop_server(server)
        if any(codes):
            print(f"FAIL: a client process failed (exit codes {codes})")
            return 1
        results = [
            json.loads((folder / f"client{i}.json").read_text(encoding="utf-8"))
            for i in range(args.clients)
        ]
    latencies = [v for r in results for v in r["latencies_ms"]]
    errors = sum(r["errors"] for r in results)
    per_route: dict[str, list[float]] = {}
    for result in results:
        for name, values in result["per_route"].items():
            per_route.setdefault(name, []).extend(values)
    p50, p95, p99 = (percentile(latencies, q) for q in (0.50, 0.95, 0.99))
    print(
        f"\n{args.people} people, {args.clients} client processes, {args.duration:g} s, "
        f"think time {args.think_ms:g} ms, "
        f"127.0.0.1, SQLite, {os.cpu_count()} CPUs (shared with other work: figures under load)"
    )
    print(f"requests: {len(latencies)}  throughput: {len(latencies) / args.duration:.1f} req/s")
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {max(latencies):.1f}")
    for name, values in sorted(per_route.items()):
        print(
            f"  {name:9s} n={len(values):6d}  p50 {percentile(values, 0.5):7.1f}  "
            f"p99 {percentile(values, 0.99):7.1f}  mean {statistics.fmean(values):7.1f}"
        )
    print(f"errors: {errors}")
    print(
        f"server CPU (uvicorn process): {server_cpu:.1f} s, "
        f"{1000 * server_cpu / max(len(latencies), 1):.1f} ms per request"
    )
    print(f"load average (1, 5, 15 min) before: {load_before}  after: {load_after}")
    print(
        f"server RSS peak: uvicorn process {sampler.peak_server / 1024:.0f} MiB, "
        f"process tree (with the job worker) {sampler.peak_tree / 1024:.0f} MiB"
    )
    passed = p99 <= args.p99_ms and errors == 0 and latencies
    print(
        f"{'PASS' if passed else 'FAIL'}: p99 {p99:.1f} ms (limit {args.p99_ms:g}), {errors} errors"
    )
    return 0 if passed else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (at most 300)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--p99-ms", type=float, default=250.0)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause of each person between two pages (default 0: a closed loop at full speed)",
    )
    parser.add_argument("--client", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client is not None:
        return client_process(args.client)
    if not 0 < args.duration <= MAX_DURATION:
        parser.error(f"--duration must be in (0, {MAX_DURATION:g}]")
    if args.people < 1 or not 1 <= args.clients <= args.people:
        parser.error("give at least one person and 1..people client processes")
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
