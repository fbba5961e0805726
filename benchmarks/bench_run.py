"""Time `gutbrain demo` (= `gutbrain run` on the bundled example) split by stage.

Run: .venv/bin/python benchmarks/bench_run.py [--rounds 3] [--threads 1 2]

Each round is a fresh `gutbrain demo --out TMP --threads N --no-progress` process. Prints, per
thread count, the median over rounds of every stage's wall time as recorded in result.json
(`provenance.run_info.stage_seconds`; `write` comes from the command's own summary line), the
process wall time (Python start-up and imports included) and the CPU time of the process and its
children (user + sys). The example: 3,000 ONT-like reads simulated from LRAS stool sample R_9.3
(scripts/make_example_data.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_round(threads: int) -> tuple[dict[str, float], float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        cpu0 = _cpu_children()
        t0 = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gutbrain",
                "--quiet",
                "demo",
                "--out",
                str(out),
                "--threads",
                str(threads),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "COLUMNS": "500"},
        )
        wall = time.perf_counter() - t0
        cpu = _cpu_children() - cpu0
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        stages = dict(result["provenance"]["run_info"]["stage_seconds"])
        match = re.search(r"write ([0-9.]+) s", done.stdout)
        if match:
            stages["write"] = float(match.group(1))
        return stages, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"gutbrain demo, {args.rounds} rounds per setting, machine: {os.cpu_count()} CPUs")
    for threads in args.threads:
        rounds = [one_round(threads) for _ in range(args.rounds)]
        names = list(rounds[0][0])
        medians = {n: statistics.median(r[0].get(n, 0.0) for r in rounds) for n in names}
        wall = statistics.median(r[1] for r in rounds)
        cpu = statistics.median(r[2] for r in rounds)
        parts = ", ".join(f"{n} {v:.2f}" for n, v in medians.items())
        print(f"threads={threads}: stages (s, median) {parts}")
        print(
            f"threads={threads}: sum of stages {sum(medians.values()):.2f} s; process wall "
            f"{wall:.2f} s; CPU user+sys {cpu:.2f} s"
        )


if __name__ == "__main__":
    main()
