"""Peak memory of ``gutbrain profile`` against the number of reads (issue 11: constant memory).

One command (the shared folder sits beside the checkout)::

    .venv/bin/python benchmarks/bench_memory.py                     # 5,000 / 50,000 / 200,000 reads
    .venv/bin/python benchmarks/bench_memory.py --sizes 5000,20000  # other sizes

What it does:

1. imports ``../shared/bench/reference`` (5,173 sequences) as a reference bundle and profiles a
   few reads once, so every cached index exists before anything is measured (index builds are
   measured by ``bench_speed.py``, not here);
2. simulates the largest sample once (``simulate_reads.py --engine simple``, gut community,
   ONT-like, seed 7, as ``bench_profile.py`` does) and takes its first ``n`` reads for each
   smaller size, so every sample has distinct reads (concatenating a 5,000-read set would only
   add duplicates, which the profiler collapses);
3. runs ``gutbrain profile --threads N`` on each as a child process and prints its CPU s (user +
   sys of the process tree), wall s and peak RSS (largest single process, ``ru_maxrss``), the
   RSS added per read since the previous size (constant memory: ~0), with the reads placed by
   the k-mer screen and aligned (from ``qc.json``).

``--keep DIR`` keeps the bundle and the simulated reads there for a later run.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import subprocess
import tempfile
from pathlib import Path

from bench_profile import GUTBRAIN, REPO, run_measured, simulate_large


def import_reference(shared: Path, out: Path) -> Path:
    """The benchmark reference as a bundle (``tsv-ranks`` import), indexes built."""
    ref = shared / "bench" / "reference"
    if not (out / "manifest.json").exists():
        cmd = [
            *GUTBRAIN, "db", "import", "--format", "tsv-ranks",
            "--sequences", str(ref / "ref.fasta.gz"),
            "--taxonomy", str(ref / "ref_seq_taxonomy.tsv"),
            "--name", "bench-ref", "--out", str(out),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def head_reads(source: Path, n: int, dest: Path) -> Path:
    """The first ``n`` FASTQ records of ``source`` (gzip) into ``dest`` (gzip)."""
    if dest.exists():
        return dest
    with gzip.open(source, "rt") as fin, gzip.open(dest, "wt", compresslevel=1) as fout:
        fout.writelines(itertools.islice(fin, 4 * n))
    return dest


def profile(reads: Path, bundle: Path, out: Path, threads: int) -> tuple[float, float, float, dict]:
    cmd = [*GUTBRAIN, "profile", str(reads), "--out", str(out), "--force"]
    cmd += ["--db", str(bundle), "--preset", "ont", "--threads", str(threads)]
    cpu, wall, rss, _ = run_measured(cmd)
    qc = json.loads((out / "qc.json").read_text())
    return cpu, wall, rss, qc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--sizes", default="5000,50000,200000")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="folder for the bundle and reads (reused)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="gutbrain-memory-") as tmp:
        work: Path = args.keep if args.keep is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        bundle = import_reference(args.shared, work / "bundle")
        largest = work / f"gut_ont_{sizes[-1]}.fastq.gz"
        if not largest.exists():
            simulated = simulate_large(args.shared, work, sizes[-1], seed=7)
            simulated.rename(largest)
        samples = {n: head_reads(largest, n, work / f"gut_ont_{n}.fastq.gz") for n in sizes}
        warm = head_reads(largest, 500, work / "warm.fastq.gz")
        profile(warm, bundle, work / "out", args.threads)  # builds every cached index
        print(f"gutbrain profile --preset ont --threads {args.threads}, benchmark reference")
        print(
            "| reads | CPU s | wall s | peak RSS MiB | kB per read since the previous size "
            "| screened | aligned | distinct |"
        )
        print("|---|---|---|---|---|---|---|---|")
        previous: tuple[int, float] | None = None
        for n, reads in samples.items():
            cpu, wall, rss, qc = profile(reads, bundle, work / "out", args.threads)
            assignment = qc["assignment"]
            print(
                f"| {n:,} | {cpu:.1f} | {wall:.1f} | {rss:.0f} | {growth(previous, n, rss)} | "
                f"{assignment.get('reads_screened', 0):,} | "
                f"{assignment.get('reads_aligned', 0):,} | {qc['em']['distinct_reads']:,} |",
                flush=True,
            )
            previous = (n, rss)


def growth(previous: tuple[int, float] | None, n: int, rss: float) -> str:
    """Peak RSS added per read since the previous size, in kB (1,024 bytes); ``–`` first.

    >>> growth((50_000, 150.0), 200_000, 231.0)
    '0.55'
    >>> growth(None, 5_000, 135.0)
    '–'
    """
    if previous is None or n == previous[0]:
        return "–"
    reads, mib = previous
    return f"{(rss - mib) * 1024 / (n - reads):.2f}"


if __name__ == "__main__":
    main()
