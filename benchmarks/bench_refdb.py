"""Benchmark: import, load, verify and index the 5,173-sequence bench reference.

Measures, each step in a fresh child process (so peak RSS belongs to that step alone):

* ``import``: ``import_bundle(ref.fasta.gz, ref_seq_taxonomy.tsv, format="tsv-ranks")`` (strict
  FASTA parse, taxonomy checks, lineage-consistency warnings, gzip writing, manifest hashes);
* ``load``: ``load_bundle(folder)`` (manifest + taxonomy table, no re-hash);
* ``verify``: ``verify_bundle(folder)`` (re-hash every file against the manifest);
* ``index``: ``ensure_index(bundle, preset="map-ont")`` (mappy builds the minimap2 index; the cache
  is empty, so this is a cold build);
* ``index-cached``: the same call again (finds the cached ``.mmi``).

Reported: wall seconds, CPU seconds (user + sys of the child, imports included), RSS after
imports and peak RSS (``ru_maxrss``). Each step runs ``--repeat`` times (default 3) and the median
wall time is shown. Inputs: ``shared/bench/reference`` (override with ``--reference``).

Usage::

    .venv/bin/python benchmarks/bench_refdb.py [--repeat 3] [--reference DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR", REPO.parent / "shared"))
STEPS = ("import", "load", "verify", "index", "index-cached")


def _current_rss_mb() -> float:
    """Resident set size now (Linux /proc), else the peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(step: str, reference: str, folder: str) -> None:
    from gutbrain.profile.index import ensure_index
    from gutbrain.reference.bundle import load_bundle, verify_bundle
    from gutbrain.reference.formats import import_bundle

    warnings.simplefilter("ignore")  # the bench reference's lineage warnings are expected
    ref = Path(reference)
    rss_start = _current_rss_mb()
    wall = time.perf_counter()
    if step == "import":
        bundle = import_bundle(
            [ref / "ref.fasta.gz"],
            ref / "ref_seq_taxonomy.tsv",
            format="tsv-ranks",
            name="bench",
            out=folder,
            replace=True,
        )
    elif step == "load":
        bundle = load_bundle(folder)
    elif step == "verify":
        bundle = verify_bundle(folder)
    else:
        bundle = load_bundle(folder)
        ensure_index(bundle, preset="map-ont")
    wall = time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "step": step,
                "sequences": bundle.n_sequences,
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "rss_start_mb": rss_start,
                "rss_peak_mb": usage.ru_maxrss / 1024,
            }
        )
    )


def _run_step(step: str, reference: Path, folder: Path, env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", step, str(reference), str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    row: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per step (median shown)")
    parser.add_argument("--reference", type=Path, default=SHARED / "bench" / "reference")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if not (args.reference / "ref.fasta.gz").is_file():
        sys.exit(f"no bench reference at {args.reference}")
    rows: dict[str, list[dict[str, float]]] = {step: [] for step in STEPS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            folder = Path(tmp) / "bench-bundle"
            env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
            for step in STEPS:  # import replaces the bundle, so "index" is always a cold build
                rows[step].append(_run_step(step, args.reference, folder, env))
    size = sum(p.stat().st_size for p in args.reference.glob("ref*"))
    print(
        f"bench reference {args.reference}: {rows['import'][0]['sequences']:,.0f} sequences, "
        f"{size / 1e6:.1f} MB of inputs; {args.repeat} run(s) per step, median wall time"
    )
    print(f"\n{'step':<13} {'wall s':>7} {'CPU s':>7} {'RSS at start MB':>15} {'RSS peak MB':>11}")
    for step in STEPS:
        runs = rows[step]
        wall = statistics.median(r["wall"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        start = statistics.median(r["rss_start_mb"] for r in runs)
        peak = max(r["rss_peak_mb"] for r in runs)
        print(f"{step:<13} {wall:>7.2f} {cpu:>7.2f} {start:>15.0f} {peak:>11.0f}")
    print("\nCPU s includes the child's interpreter start-up and imports; RSS peak is the maximum.")


if __name__ == "__main__":
    main()
