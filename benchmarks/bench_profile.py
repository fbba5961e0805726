"""Accuracy, speed and memory of ``gutbrain profile`` on the shared benchmark, beside Emu.

One command from a clean clone (the shared folder sits beside the checkout)::

    .venv/bin/python benchmarks/bench_profile.py            # 4 truth samples + 200k-read sample
    .venv/bin/python benchmarks/bench_profile.py --quick    # 4 truth samples only

What it does:

1. imports ``../shared/bench/reference`` as a reference bundle into a temporary folder
   (``gutbrain db import --format tsv-ranks``) and builds its minimap2 indexes (not timed);
2. runs ``gutbrain profile`` as a child process on each truth sample and measures user + sys CPU
   seconds of the child and all its worker processes, and peak RSS (``os.wait4``);
3. scores ``profile.tsv`` with the metric definitions of ``../shared/bench/scripts/score.py``:
   L1 = Σ|p − q| over taxa with q renormalised over assigned reads, precision / recall of taxa
   detected at ≥ 0.1 %, unassigned = fraction of all reads left unassigned at that rank;
4. simulates a 200,000-read ONT-like sample (``simulate_reads.py --engine simple``, seeded, into a
   temporary folder) from the gut community's reference copies and profiles it against the
   benchmark reference and against the bundled default reference (peak memory, CPU time).

Emu's figures are copied from ``../shared/bench/BASELINE.md`` (Emu 3.5.0, minimap2 2.24).
"""

from __future__ import annotations

import argparse
import collections
import compileall
import gzip
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUTBRAIN = [sys.executable, "-m", "gutbrain"]

SAMPLES = {
    "gut_ont_5k": "ont",
    "zymo_ont_5k": "ont",
    "gut_hifi_20k": "hifi",
    "zymo_hifi_20k": "hifi",
}
#: From BASELINE.md: species L1, genus L1, species P, species R, unassigned, reads/CPU-s, RSS MiB.
EMU = {
    "gut_ont_5k": (0.238, 0.003, 0.93, 0.93, 0.023, 77, 93),
    "zymo_ont_5k": (0.000, 0.000, 1.00, 1.00, 0.022, 50, 93),
    "gut_hifi_20k": (0.280, 0.000, 0.90, 0.93, 0.000, 86, 109),
    "zymo_hifi_20k": (0.000, 0.000, 1.00, 1.00, 0.000, 46, 125),
}


def compile_gutbrain() -> None:
    """Write the bytecode (``.pyc``) of the gutbrain being measured, as installing a wheel does.

    An editable install run with ``PYTHONDONTWRITEBYTECODE=1`` (set in some CI shells) would
    otherwise compile every gutbrain module in every timed run (~0.1 CPU s on the 2-core
    machine), which no installed copy pays, nor the peers' installed packages. Not timed.
    """
    spec = importlib.util.find_spec("gutbrain")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def run_measured(cmd: list[str]) -> tuple[float, float, float, str]:
    """Run ``cmd``; return (CPU s incl. children, wall s, peak RSS MiB, stderr tail)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, tail


def read_truth(path: Path) -> dict[str, object]:
    species: collections.Counter[str] = collections.Counter()
    genus: collections.Counter[str] = collections.Counter()
    other = 0
    with open(path) as handle:
        head = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(head, line.rstrip("\n").split("\t"), strict=False))
            if row["species"].startswith("#non_16S"):
                other = int(row["reads"])
                continue
            species[row["species"]] += int(row["reads"])
            genus[row["genus"]] += int(row["reads"])
    return {"species": species, "genus": genus, "other": other}


#: group row name -> its member species, filled by read_profile (species groups, issue 10)
GROUP_MEMBERS: dict[str, tuple[str, ...]] = {}


def read_profile(path: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    profile: dict[str, dict[str, float]] = {"species": {}, "genus": {}}
    unassigned = {"species": 0.0, "genus": 0.0}
    with open(path) as handle:
        head = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(head, line.rstrip("\n").split("\t"), strict=True))
            rank = row["rank"]
            if rank not in profile:
                continue
            if row.get("members"):
                GROUP_MEMBERS[row["taxon"]] = tuple(row["members"].split(";"))
            if row["taxon"] == "unassigned":
                unassigned[rank] = float(row["abundance"])
            else:
                profile[rank][row["taxon"]] = profile[rank].get(row["taxon"], 0.0) + float(
                    row["abundance"]
                )
    return profile, unassigned


def metrics(truth: collections.Counter[str], estimate: dict[str, float]) -> dict[str, object]:
    """score.py's L1 (renormalised), precision/recall at 0.1 %, top false positives, misses.

    A species-group row (``--groups``) stands for the true species it contains: their truth is
    summed under the group's name before scoring (a group without a true member is a false
    positive).
    """
    truth = collections.Counter(truth)
    for name, members in GROUP_MEMBERS.items():
        if name in estimate:
            inside = [m for m in members if m in truth]
            for member in inside:
                truth[name] += truth.pop(member)
    n = sum(truth.values())
    p = {k: v / n for k, v in truth.items()}
    s = sum(estimate.values())
    q = {k: v / s for k, v in estimate.items()} if s > 0 else {}
    l1 = sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))
    detected = {k for k, v in q.items() if v >= 0.001}
    true = {k for k, v in p.items() if v > 0}
    tp = len(detected & true)
    fps = sorted(((q[k], k) for k in detected - true), reverse=True)[:3]
    return {
        "L1": l1,
        "P": tp / len(detected) if detected else 0.0,
        "R": tp / len(true) if true else 0.0,
        "fp": "; ".join(f"{k} {v:.1%}" for v, k in fps) or "none",
        "missed": "; ".join(sorted(true - detected)) or "none",
    }


def build_bench_bundle(shared: Path, work: Path, *, groups: bool = False) -> Path:
    bundle = work / "bench-ref"
    ref = shared / "bench" / "reference"
    cmd = [
        *GUTBRAIN, "db", "import", "--format", "tsv-ranks",
        "--sequences", str(ref / "ref.fasta.gz"),
        "--taxonomy", str(ref / "ref_seq_taxonomy.tsv"),
        "--name", "bench-ref", "--out", str(bundle),
        "--groups" if groups else "--no-groups",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return bundle


def warm_indexes(bundle: str | None) -> None:
    """Build the cached minimap2 indexes once, outside the timed runs."""
    from gutbrain.profile.pipeline import PROFILE_PRESETS, ensure_profile_indexes
    from gutbrain.reference.bundle import load_bundle

    loaded = load_bundle(bundle)
    for preset in PROFILE_PRESETS:
        ensure_profile_indexes(loaded, preset=preset)


def profile(reads: Path, bundle: str | None, preset: str, out: Path, threads: int) -> tuple:
    cmd = [*GUTBRAIN, "profile", str(reads), "--out", str(out), "--preset", preset]
    cmd += ["--threads", str(threads)]
    if bundle is not None:
        cmd += ["--db", bundle]
    return run_measured(cmd)


def simulate_large(shared: Path, work: Path, n: int, seed: int) -> Path:
    """200k ONT-like reads of the gut community (non-held-out copies) with the simple engine."""
    bench = shared / "bench"
    wanted: dict[str, float] = {}
    with open(bench / "truth" / "communities.tsv") as handle:
        head = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            row = dict(zip(head, line.rstrip("\n").split("\t"), strict=True))
            if row["community"] == "gut":
                wanted[row["source_id"]] = float(row["target_abundance"])
    sources = work / "gut_sources.fasta"
    with gzip.open(bench / "reference" / "ref.fasta.gz", "rt") as fin, open(sources, "w") as out:
        name, chunks = None, []
        for line in [*fin, ">end"]:
            if line.startswith(">"):
                if name in wanted:
                    out.write(f">{name} depth={wanted[name]}\n{''.join(chunks)}\n")
                name, chunks = line[1:].split()[0], []
            else:
                chunks.append(line.strip())
    prefix = work / "gut_ont_200k"
    cmd = [
        sys.executable, str(bench / "scripts" / "simulate_reads.py"),
        "--sources", str(sources), "--communities", str(bench / "truth" / "communities.tsv"),
        "--community", "gut", "--profile", "ont", "--engine", "simple", "--n", str(n),
        "--seed", str(seed), "--sample", "gut_ont_200k", "--out", str(prefix),
        "--truth", str(work / "gut_ont_200k.truth.tsv"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Path(str(prefix) + ".fastq.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="skip the 200k-read sample")
    parser.add_argument("--samples", default=",".join(SAMPLES))
    parser.add_argument("--large-reads", type=int, default=200_000)
    parser.add_argument(
        "--groups",
        action="store_true",
        help="import the reference with species groups and score group rows by their members",
    )
    args = parser.parse_args()
    shared: Path = args.shared
    if not (shared / "bench").is_dir():
        raise SystemExit(f"{shared / 'bench'} not found; pass --shared")
    with tempfile.TemporaryDirectory(prefix="gutbrain-bench-") as tmp:
        work = Path(tmp)
        bundle = str(build_bench_bundle(shared, work, groups=args.groups))
        warm_indexes(bundle)
        compile_gutbrain()
        print(f"threads {args.threads}; CPU s = user+sys of gutbrain and its workers\n")
        header = (
            "| sample | method | sp L1 | gen L1 | sp P | sp R | sp unassigned | gen unassigned "
            "| reads/CPU-s | CPU s | wall s | peak RSS MiB |"
        )
        print(header)
        print("|" + "---|" * 12)
        notes = []
        for sample in args.samples.split(","):
            preset = SAMPLES[sample]
            reads = shared / "bench" / "reads" / f"{sample}.fastq.gz"
            truth = read_truth(shared / "bench" / "truth" / f"{sample}.truth.tsv")
            out = work / f"out-{sample}"
            cpu, wall, rss, _ = profile(reads, bundle, preset, out, args.threads)
            prof, unassigned = read_profile(out / "profile.tsv")
            n_reads = sum(truth["species"].values()) + int(truth["other"])  # type: ignore[attr-defined]
            sp = metrics(truth["species"], prof["species"])  # type: ignore[arg-type]
            ge = metrics(truth["genus"], prof["genus"])  # type: ignore[arg-type]
            print(
                f"| {sample} | gutbrain | {sp['L1']:.3f} | {ge['L1']:.3f} | {sp['P']:.2f} | "
                f"{sp['R']:.2f} | {unassigned['species']:.1%} | {unassigned['genus']:.1%} | "
                f"{n_reads / cpu:.0f} | {cpu:.1f} | {wall:.1f} | {rss:.0f} |"
            )
            e = EMU[sample]
            print(
                f"| {sample} | Emu 3.5.0 | {e[0]:.3f} | {e[1]:.3f} | {e[2]:.2f} | {e[3]:.2f} | "
                f"{e[4]:.1%} | {e[4]:.1%} | {e[5]} | - | - | {e[6]} |"
            )
            notes.append(f"- {sample}: false positives {sp['fp']}; missed {sp['missed']}")
        print("\nSpecies-level errors (gutbrain):")
        print("\n".join(notes))
        if args.quick:
            return
        reads = simulate_large(shared, work, args.large_reads, seed=7)
        print(f"\n{args.large_reads:,}-read ONT-like sample (simple engine, seed 7):\n")
        print("| reference | reads/CPU-s | CPU s | wall s | peak RSS MiB |")
        print("|---|---|---|---|---|")
        for label, db in (("benchmark (5,173 seqs)", bundle), ("bundled default", None)):
            if db is None:
                warm_indexes(None)
            cpu, wall, rss, _ = profile(
                reads, db, "ont", work / f"out-large-{label[:5]}", args.threads
            )
            print(
                f"| {label} | {args.large_reads / cpu:.0f} | {cpu:.0f} | {wall:.0f} | {rss:.0f} |"
            )


if __name__ == "__main__":
    main()
