"""gutbrain profile beside Emu with minimap2 ``lr:hq`` (ONT) / ``map-hifi`` (HiFi), in one run.

One command (peers from ``../shared/bench/peers/setup.sh``, default ``~/.cache/gutbrain-peers``)::

    .venv/bin/python benchmarks/bench_speed.py                 # 4 truth sets + RefSeq 16S
    .venv/bin/python benchmarks/bench_speed.py --skip-refseq   # 4 truth sets only
    .venv/bin/python benchmarks/bench_speed.py --skip-refseq --floor   # and the no-alignment floor

Both tools run cold, one after the other, on the same reads:

- gutbrain: ``gutbrain profile`` on a fresh copy of an imported bundle without any minimap2 index,
  so building the indexes it needs is part of its CPU time (so is CLI start-up; gutbrain's
  bytecode is written once beforehand, as a wheel install does: ``compile_gutbrain``);
- Emu: ``emu-lrhq abundance --type lr:hq|map-hifi --threads N --keep-counts`` (Emu 3.5 with
  minimap2 2.30, as Emu 3.6 runs it); minimap2 builds its index in every run.

CPU s = user + sys of the process and all its children (``os.wait4``), peak RSS = largest
resident set of the process or any one child (``ru_maxrss``). Species and genus L1 against the
truth use ``bench_profile.metrics`` (score.py's definitions: profiles renormalised over assigned
reads). References: the 5,173-sequence benchmark reference (``../shared/bench/reference``) for the
four truth sets, and NCBI RefSeq 16S (``../shared/data/ncbi_refseq_16s``, records whose species
tax id or genus is in Emu's NCBI taxonomy table ``../shared/data/emu_reference_taxonomy``) for
gut_ont_5k; there, species and genus L1 are given between gutbrain's and Emu's profiles (no
truth in those names), group-aware (``profile_agreement``: Emu's member species counted under
gutbrain's group rows, Emu's rows without a genus left out at genus as gutbrain leaves them
unassigned there), and in brackets by name as before (a group row and its members then count
twice). Both tools get the same sequences and taxonomy (one Emu-format folder, imported into
gutbrain with ``gutbrain db import --format emu``).

``--depths 5000,50000`` adds ONT-like samples of those sizes on the benchmark reference: one
simulated gut sample (``simulate_reads.py --engine simple``, seed 7, as ``bench_memory.py``
makes it) and its first ``n`` reads for each size, so the rows differ in depth alone; their L1
is against the species and genus of those very reads (the simulation's read origins). Both
tools' fixed costs (start-up, index builds) weigh less the more reads there are.

``--floor`` also runs gutbrain cold with minimap2's mapping left out (every read the k-mer
screen leaves to mappy gets no hit; everything else runs as it does): the CPU of everything
but base-level alignment, and ``Emu / floor``, the ratio no cut in aligned reads can pass
while the other costs stay as they are. Its species L1 against the truth (``floor sp L1``) says
what a profile of the reads placed without alignment alone is worth.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_memory import head_reads
from bench_profile import (
    GUTBRAIN,
    REPO,
    SAMPLES,
    compile_gutbrain,
    metrics,
    read_profile,
    read_truth,
    run_measured,
    simulate_large,
)
from profile_agreement import group_aware_emu, l1_between

EMU_TYPE = {"ont": "lr:hq", "hifi": "map-hifi"}
RANKS = ("species", "genus", "family", "order", "class", "phylum", "superkingdom")


def bench_emu_db(shared: Path, out: Path) -> Path:
    """Emu database of the benchmark reference: ``species_taxid.fasta`` + ``taxonomy.tsv``."""
    ref = shared / "bench" / "reference"
    out.mkdir(parents=True)
    taxid: dict[str, str] = {}
    with open(ref / "ref_seq_taxonomy.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            taxid[row["id"]] = row["tax_id"]
    with gzip.open(ref / "ref.fasta.gz", "rt") as fin, open(out / "species_taxid.fasta", "w") as f:
        for line in fin:
            if line.startswith(">"):
                ref_id = line[1:].split()[0]
                f.write(f">{taxid[ref_id]}:bench:{ref_id}\n")
            else:
                f.write(line)
    shutil.copy(ref / "species_taxonomy.tsv", out / "taxonomy.tsv")
    return out


def refseq_emu_db(shared: Path, out: Path) -> tuple[Path, int]:
    """Emu database of NCBI RefSeq 16S; returns the folder and its number of sequences."""
    data = shared / "data"
    species_of: dict[str, tuple[str, str]] = {}
    with gzip.open(data / "ncbi_refseq_16s" / "metadata.csv.gz", "rt") as handle:
        for row in csv.DictReader(handle):
            species_of[row["blast_sacc"]] = (row["blast_species_taxid"], row["blast_organism"])
    lineage: dict[str, dict[str, str]] = {}
    by_genus: dict[str, dict[str, str]] = {}
    path = data / "emu_reference_taxonomy" / "emu_default_db_taxonomy.tsv.gz"
    with gzip.open(path, "rt") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            lineage[row["tax_id"]] = row
            if row["genus"]:
                by_genus.setdefault(row["genus"], row)
    out.mkdir(parents=True)
    used: dict[str, dict[str, str]] = {}
    n = 0
    fasta = data / "ncbi_refseq_16s" / "bacteria.16SrRNA.fna.gz"
    with gzip.open(fasta, "rt") as fin, open(out / "species_taxid.fasta", "w") as f:
        keep = False
        for line in fin:
            if line.startswith(">"):
                acc = line[1:].split()[0]
                taxid, organism = species_of.get(acc, ("", ""))
                row = lineage.get(taxid)
                if row is None:
                    words = organism.replace("'", "").replace("[", "").replace("]", "").split()
                    base = by_genus.get(words[0]) if len(words) >= 2 else None
                    if base is not None and taxid:
                        row = {**base, "tax_id": taxid, "species": " ".join(words[:2])}
                keep = row is not None
                if row is not None:
                    used[taxid] = row
                    n += 1
                    f.write(f">{taxid}:refseq:{acc}\n")
            elif keep:
                f.write(line)
    with open(out / "taxonomy.tsv", "w") as f:
        f.write("tax_id\t" + "\t".join(RANKS) + "\n")
        for taxid, row in used.items():
            f.write(taxid + "\t" + "\t".join(row.get(r, "") for r in RANKS) + "\n")
    return out, n


def import_bundle(emu_db: Path, out: Path, name: str) -> Path:
    cmd = [
        *GUTBRAIN, "db", "import", "--format", "emu",
        "--sequences", str(emu_db / "species_taxid.fasta"),
        "--taxonomy", str(emu_db / "taxonomy.tsv"), "--name", name, "--out", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def fresh_copy(bundle: Path, dest: Path) -> Path:
    """The bundle without any cached minimap2 index (cold start)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(bundle, dest, ignore=shutil.ignore_patterns("index", "*.mmi"))
    return dest


#: ``python -c`` program: ``gutbrain`` with mappy's mapping left out (``--floor``): each batch
#: sent to minimap2 comes back without a hit; the index is still built and opened.
_NO_MAPPING = (
    "import sys, gutbrain.profile.align as a; real = a.align_sequences; "
    "a.align_sequences = lambda aligner, seqs, ref_index=None, *, rescue=None: "
    "real(aligner, [], ref_index); "
    "sys.argv = ['gutbrain', *sys.argv[1:]]; "
    "from gutbrain.cli import main; main()"
)
#: How ``--floor`` starts gutbrain (``run_gutbrain(..., command=NO_MAPPING)``).
NO_MAPPING = [sys.executable, "-c", _NO_MAPPING]


def run_gutbrain(
    reads: Path,
    bundle: Path,
    preset: str,
    work: Path,
    threads: int,
    command: list[str] = GUTBRAIN,
) -> tuple[float, float, float, Path]:
    """A cold ``gutbrain profile`` (``command`` starts gutbrain: ``NO_MAPPING`` for the floor)."""
    cold = fresh_copy(bundle, work / "cold-bundle")
    out = work / "gutbrain-out"
    if out.exists():
        shutil.rmtree(out)
    cmd = [*command, "profile", str(reads), "--out", str(out), "--preset", preset]
    cmd += ["--threads", str(threads), "--db", str(cold)]
    cpu, wall, rss, _ = run_measured(cmd)
    return cpu, wall, rss, out / "profile.tsv"


def run_emu(
    reads: Path, emu_db: Path, preset: str, work: Path, threads: int, peers: Path
) -> tuple[float, float, float, Path]:
    out = work / "emu-out"
    if out.exists():
        shutil.rmtree(out)
    env_path = f"{peers / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    cmd = [
        "env", f"PATH={env_path}", str(peers / "venv" / "bin" / "python"),
        str(peers / "bin" / "emu-lrhq"), "abundance", str(reads), "--type", EMU_TYPE[preset],
        "--db", str(emu_db), "--keep-counts", "--threads", str(threads), "--output-dir", str(out),
    ]  # fmt: skip
    cpu, wall, rss, _ = run_measured(cmd)
    (table,) = out.glob("*_rel-abundance.tsv")
    return cpu, wall, rss, table


def read_emu_rows(path: Path) -> list[tuple[str, str, float]]:
    """Emu's classified rows as (species, genus, abundance), '' where a rank has no name."""
    with open(path) as handle:
        return [
            (row.get("species") or "", row.get("genus") or "", float(row["abundance"]))
            for row in csv.DictReader(handle, delimiter="\t")
            if row["tax_id"] not in ("unmapped", "mapped_unclassified")
        ]


def read_group_rows(path: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """gutbrain's species group rows of one profile: name -> members, name -> genus."""
    members: dict[str, tuple[str, ...]] = {}
    genus: dict[str, str] = {}
    with open(path) as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["rank"] == "species" and row.get("members"):
                members[row["taxon"]] = tuple(row["members"].split(";"))
                genus[row["taxon"]] = row.get("genus") or ""
    return members, genus


def depth_jobs(
    depths: str, shared: Path, work: Path, emu_db: Path, bundle: Path
) -> list[tuple[str, str, Path, Path, Path, Path | None]]:
    """``--depths``: the first ``n`` reads of one simulated ONT gut sample, for each ``n``."""
    sizes = sorted({int(n) for n in depths.split(",") if n})
    if not sizes:
        return []
    simulated = simulate_large(shared, work, sizes[-1], seed=7)
    jobs: list[tuple[str, str, Path, Path, Path, Path | None]] = []
    for n in sizes:
        reads = head_reads(simulated, n, work / f"sim_{n}.fastq.gz")
        truth = head_truth(work, n, work / f"sim_{n}.truth.tsv")
        jobs.append((f"gut_ont_sim_{n}", "benchmark, 5,173 seqs", reads, emu_db, bundle, truth))
    return jobs


def head_truth(work: Path, n: int, dest: Path) -> Path:
    """The truth of the first ``n`` simulated reads, from ``simulate_large``'s read origins."""
    prefix = work / "gut_ont_200k"  # simulate_large's names, whatever the size
    with open(Path(str(prefix) + ".truth.tsv")) as handle:
        rows = {row["source_id"]: row for row in csv.DictReader(handle, delimiter="\t")}
    with gzip.open(Path(str(prefix) + ".origin.tsv.gz"), "rt") as handle:
        counts = collections.Counter(
            line.split("\t")[1].strip() for line in itertools.islice(handle, n)
        )
    with open(dest, "w") as out:
        out.write("species\tgenus\treads\n")
        for source, reads in sorted(counts.items()):
            out.write(f"{rows[source]['species']}\t{rows[source]['genus']}\t{reads}\n")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--peers", type=Path, default=Path.home() / ".cache" / "gutbrain-peers")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", default=",".join(SAMPLES))
    parser.add_argument("--skip-refseq", action="store_true")
    parser.add_argument("--skip-emu", action="store_true", help="gutbrain only (development)")
    parser.add_argument(
        "--floor", action="store_true", help="also gutbrain without base-level alignment"
    )
    parser.add_argument("--depths", default="", help="simulated ONT sample sizes, e.g. 5000,50000")
    args = parser.parse_args()
    shared: Path = args.shared
    if not (shared / "bench").is_dir():
        raise SystemExit(f"{shared / 'bench'} not found; pass --shared")
    if not args.skip_emu and not (args.peers / "bin" / "emu-lrhq").is_file():
        raise SystemExit(f"no emu-lrhq in {args.peers}; run ../shared/bench/peers/setup.sh")
    with tempfile.TemporaryDirectory(prefix="gutbrain-speed-") as tmp:
        work = Path(tmp)
        jobs: list[tuple[str, str, Path, Path, Path, Path | None]] = []
        bench_db = bench_emu_db(shared, work / "emu-bench")
        bench_bundle = import_bundle(bench_db, work / "bundle-bench", "bench-ref")
        compile_gutbrain()  # as an installed copy: no per-run bytecode compiling
        for sample in args.samples.split(","):
            reads = shared / "bench" / "reads" / f"{sample}.fastq.gz"
            truth = shared / "bench" / "truth" / f"{sample}.truth.tsv"
            jobs.append((sample, "benchmark, 5,173 seqs", reads, bench_db, bench_bundle, truth))
        jobs += depth_jobs(args.depths, shared, work, bench_db, bench_bundle)
        if not args.skip_refseq:
            refseq_db, n = refseq_emu_db(shared, work / "emu-refseq")
            refseq_bundle = import_bundle(refseq_db, work / "bundle-refseq", "ncbi-refseq-16s")
            reads = shared / "bench" / "reads" / "gut_ont_5k.fastq.gz"
            label = f"RefSeq 16S, {n:,} seqs"
            jobs.append(("gut_ont_5k", label, reads, refseq_db, refseq_bundle, None))
        print(
            f"threads {args.threads}; cold runs; CPU s = user+sys of the process tree; "
            "species L1 vs truth (RefSeq row: gutbrain vs Emu)\n"
        )
        print(
            "| sample | reference | gutbrain CPU s | Emu CPU s | Emu/gutbrain | "
            "gutbrain wall s | Emu wall s | RSS MiB gutbrain / Emu | sp L1 gutbrain / Emu | "
            "gen L1 gutbrain / Emu |"
            + (" floor CPU s | Emu/floor | floor sp L1 |" if args.floor else "")
        )
        print("|" + "---|" * (13 if args.floor else 10))
        for sample, label, reads, emu_db, bundle, truth_path in jobs:
            preset = SAMPLES.get(sample, "ont")
            g_cpu, g_wall, g_rss, g_table = run_gutbrain(reads, bundle, preset, work, args.threads)
            g_prof, _ = read_profile(g_table)
            if args.skip_emu:
                e_cpu = e_wall = e_rss = float("nan")
                e_prof: dict[str, dict[str, float]] = {"species": {}, "genus": {}}
                e_rows: list[tuple[str, str, float]] = []
            else:
                e_cpu, e_wall, e_rss, e_table = run_emu(
                    reads, emu_db, preset, work, args.threads, args.peers
                )
                e_rows = read_emu_rows(e_table)
                # a row without a name at a rank is left out there, as gutbrain leaves such
                # reads unassigned at that rank (both renormalised over what they name)
                e_prof = group_aware_emu(e_rows, {}, {})
            if truth_path is not None:
                truth = read_truth(truth_path)
                l1 = {
                    rank: (
                        metrics(truth[rank], g_prof[rank])["L1"],  # type: ignore[arg-type]
                        metrics(truth[rank], e_prof[rank])["L1"] if e_prof[rank] else float("nan"),  # type: ignore[arg-type]
                    )
                    for rank in ("species", "genus")
                }
                sp = f"{l1['species'][0]:.3f} / {l1['species'][1]:.3f}"
                ge = f"{l1['genus'][0]:.3f} / {l1['genus'][1]:.3f}"
            else:
                # group-aware: Emu's member species counted under gutbrain's group rows
                # (profile_agreement); by name, a group row and its members count twice
                members, group_genus = read_group_rows(g_table)
                e_group = group_aware_emu(e_rows, members, group_genus)
                agree = {
                    rank: (
                        l1_between(g_prof[rank], e_group[rank]),
                        l1_between(g_prof[rank], e_prof[rank]),
                    )
                    for rank in ("species", "genus")
                }
                sp = f"{agree['species'][0]:.3f} vs Emu ({agree['species'][1]:.3f} by name)"
                ge = f"{agree['genus'][0]:.3f} vs Emu ({agree['genus'][1]:.3f} by name)"
            floor = ""
            if args.floor:
                f_cpu, _, _, f_table = run_gutbrain(
                    reads, bundle, preset, work, args.threads, command=NO_MAPPING
                )
                f_l1 = "–"
                if truth_path is not None:
                    f_prof, _ = read_profile(f_table)
                    f_l1 = f"{metrics(truth['species'], f_prof['species'])['L1']:.3f}"  # type: ignore[arg-type]
                floor = f" {f_cpu:.2f} | {e_cpu / f_cpu:.1f}x | {f_l1} |"
            print(
                f"| {sample} | {label} | {g_cpu:.1f} | {e_cpu:.1f} | {e_cpu / g_cpu:.1f}x | "
                f"{g_wall:.1f} | {e_wall:.1f} | {g_rss:.0f} / {e_rss:.0f} | {sp} | {ge} |" + floor,
                flush=True,
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
