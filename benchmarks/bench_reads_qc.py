"""Benchmark: read QC of a 200,000-read full-length 16S FASTQ.gz (issue 2 closing figure).

Builds a seeded test file by sampling reads (with replacement, renamed uniquely) from the
benchmark's simulated full-length reads (``shared/bench/reads/*_ont_5k.fastq.gz`` by default),
gzips it, then measures in a fresh child process each:

* ``qc_reads`` (strict parse + validation + ONT preset filter + statistics): the figure of record;
* ``iter_reads`` alone (strict parse, no QC);
* ``dnaio`` alone (the C parser, no gutbrain checks) for context.

Reported: wall seconds, CPU seconds (user + sys of the child), reads per wall second and per CPU
second, and the child's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) next to its RSS
(VmRSS) right after imports, so the increment is what the parse costs.

Usage::

    .venv/bin/python benchmarks/bench_reads_qc.py [--reads 200000] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR", REPO.parent / "shared"))


def _load_source(paths: list[Path]) -> list[tuple[str, str]]:
    records = []
    for path in paths:
        with gzip.open(path, "rt") as handle:
            lines = handle.read().splitlines()
        records += list(zip(lines[1::4], lines[3::4], strict=True))
    return records


def build(out: Path, *, reads: int, seed: int, sources: list[Path]) -> None:
    """Write ``reads`` records sampled (seeded, with replacement) from ``sources``."""
    pool = _load_source(sources)
    rng = random.Random(seed)
    with gzip.open(out, "wt", compresslevel=1) as handle:
        for i in range(reads):
            seq, qual = pool[rng.randrange(len(pool))]
            handle.write(f"@bench_{i} sampled\n{seq}\n+\n{qual}\n")


def _current_rss_mb() -> float:
    """Resident set size now (Linux /proc), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(mode: str, path: str) -> None:
    from gutbrain.io.readqc import QC_PRESETS, qc_reads
    from gutbrain.io.reads import iter_reads

    try:
        import dnaio
    except ImportError:  # pragma: no cover - dnaio is a dev convenience only
        dnaio = None
    rss_start = _current_rss_mb()
    wall = time.perf_counter()
    n = 0
    if mode == "qc_reads":
        n = qc_reads([path], settings=QC_PRESETS["ont"]).reads_in
    elif mode == "iter_reads":
        for _ in iter_reads(path):
            n += 1
    elif mode == "dnaio" and dnaio is not None:
        with dnaio.open(path) as records:
            for _ in records:
                n += 1
    wall = time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "mode": mode,
                "reads": n,
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "rss_start_mb": rss_start,
                "rss_peak_mb": usage.ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the generated file in this folder")
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        help="FASTQ.gz to sample from (repeatable); default: shared/bench/reads/*_ont_5k.fastq.gz",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sources = args.source or sorted((SHARED / "bench" / "reads").glob("*_ont_5k.fastq.gz"))
    if not sources:
        sys.exit(f"no source reads found under {SHARED / 'bench' / 'reads'}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench_{args.reads}.fastq.gz"
        started = time.perf_counter()
        build(path, reads=args.reads, seed=args.seed, sources=sources)
        size = path.stat().st_size
        print(
            f"built {path.name}: {args.reads:,} reads from {', '.join(s.name for s in sources)}, "
            f"{size / 1e6:.1f} MB gzip (level 1), {time.perf_counter() - started:.1f} s"
        )
        rows = []
        for mode in ("qc_reads", "iter_reads", "dnaio"):
            result = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"\n{'step':<11} {'reads':>9} {'wall s':>7} {'CPU s':>7} {'reads/s':>9} "
          f"{'reads/CPU-s':>11} {'RSS at start MB':>15} {'RSS peak MB':>11}")  # fmt: skip
    for row in rows:
        if not row["reads"]:
            continue
        print(
            f"{row['mode']:<11} {row['reads']:>9,} {row['wall']:>7.2f} {row['cpu']:>7.2f} "
            f"{row['reads'] / row['wall']:>9,.0f} {row['reads'] / row['cpu']:>11,.0f} "
            f"{row['rss_start_mb']:>15.0f} {row['rss_peak_mb']:>11.0f}"
        )
    print(
        f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; CPU s includes "
        "interpreter start-up and imports of the child process."
    )


if __name__ == "__main__":
    main()
