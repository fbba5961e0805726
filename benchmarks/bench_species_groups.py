"""Species groups on reads whose strains are NOT in the reference (issue 10).

Reads are simulated (the shared benchmark simulator, ``--engine simple``, seeded) from the
genome-derived 16S copies of the ZymoBIOMICS D6300 and HMP/BEI mock members
(``shared/data/mock_member_16s_references``), and profiled against a bundle of the
NCBI RefSeq 16S type-strain records only (``shared/data/ncbi_refseq_16s``), built the way a user
gets it: by ``scripts/build_default_reference.py --without-hitdb --without-mocks`` (the builder of
the bundled default: current NCBI species and genus names, lineages above species by NCBI tax id,
records shorter than 1,200 bp left out, species groups computed). So the mocks' own strains are
absent, as for a user's sample. Emu gets the same sequences and taxonomy.

Measures (per read type, for gutbrain and for Emu 3.5.0 on the same reads and reference, with
``--type lr:hq`` for ONT and ``map-hifi`` for HiFi, the peers' fastest settings):

* **precision**: share of reported species-rank rows (≥ 0.1 %) that are right; a group row is
  right when it contains a true species;
* **group-aware L1**: Σ|p − q| over species, where a group row's share is compared with the
  summed truth of the true species it contains (q renormalised over species-rank reads);
* **mean group size**: abundance-weighted mean of members per species-rank row (1 for a species);
* **species/group share**: fraction of all reads assigned at species rank (species or group).

Run::

    .venv/bin/python benchmarks/bench_species_groups.py [--reads 3000] [--threads 2] [--no-emu]
        [--with-mocks] [--no-contest]

Writes its work (reference bundle, Emu database, reads) under ``--work`` (default
``/tmp/gutbrain-bench-groups``) and reuses it on the next run while its inputs are unchanged:
the bundle's folder is named by a digest of the builder and the gutbrain modules it loads, the
reads' by a digest of the simulator, its sources and settings (a bundle of an older build once
gave precision 0.880 instead of 1.000).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

SHARED = Path(os.environ.get("GUTBRAIN_SHARED", "/work/shared"))
DATA = SHARED / "data"
PEERS = Path("/root/.cache/gutbrain-peers")
REPO = Path(__file__).resolve().parents[1]
#: Mock organism names -> the current NCBI name the reference uses (renamed species; the same
#: renames as scripts/build_default_reference.py).
SYNONYMS = {
    "Lactobacillus fermentum": "Limosilactobacillus fermentum",
    "Propionibacterium acnes": "Cutibacterium acnes",
    "Bacteroides vulgatus": "Phocaeicola vulgatus",
    "Actinomyces odontolyticus": "Schaalia odontolytica",
}
#: Renamed since NCBI's 2020 taxonomy and mapped by the builder through its tax id; applied to
#: the truth only, so the simulated reads stay those of earlier runs (same sources, same order).
TRUTH_NAMES = {"Rhodobacter sphaeroides": "Cereibacter sphaeroides"}


_MODULE_FILES = """
import contextlib, io, runpy, sys
builder, sys.argv = sys.argv[1], ["builder", "--help"]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    runpy.run_path(builder, run_name="__main__")
for name, module in sorted(sys.modules.items()):
    if name.split(".")[0] == "gutbrain" and getattr(module, "__file__", None):
        print(module.__file__)
"""


def digest(paths: list[Path], *settings: object) -> str:
    """A short digest of the files' contents and the settings (names a cached output)."""
    hasher = hashlib.sha256()
    for path in sorted(paths):
        hasher.update(path.read_bytes())
    hasher.update(repr(settings).encode())
    return hasher.hexdigest()[:12]


def builder_files() -> list[Path]:
    """The reference builder and the files of every gutbrain module it loads."""
    builder = REPO / "scripts" / "build_default_reference.py"
    listed = subprocess.run(
        [sys.executable, "-c", _MODULE_FILES, str(builder)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [builder, *(Path(line) for line in listed.split())]


def build_reference(
    work: Path, *, threads: int, with_mocks: bool = False
) -> tuple[Path, Path, dict[str, object]]:
    """Return (gutbrain bundle folder, Emu database folder, facts); built once under ``work``.

    The bundle is built as a user gets it: by ``scripts/build_default_reference.py`` (the
    production builder of the default reference: current NCBI names from the RefSeq headers,
    lineages above species by NCBI tax id, species groups computed), without HITdb and, unless
    ``with_mocks``, without the mock members' own copies (with them, the reads' strains are in
    the reference: accuracy must not fall below Emu's). Emu gets the same sequences and
    taxonomy (:func:`emu_database`).
    """
    label = "refseq-plus-mocks" if with_mocks else "refseq-typestrains"
    bundle_dir = work / f"{label}-{digest(builder_files(), label)}"
    emu_dir = work / f"{bundle_dir.name}-emu"
    facts: dict[str, object] = {}
    if not (bundle_dir / "manifest.json").is_file():
        command = [
            sys.executable,
            str(REPO / "scripts" / "build_default_reference.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(bundle_dir),
            "--name",
            label,
            "--without-hitdb",
            "--threads",
            str(threads),
        ]
        if not with_mocks:
            command.append("--without-mocks")
        start = time.perf_counter()
        subprocess.run(command, check=True)
        facts["build_s"] = round(time.perf_counter() - start, 1)
    if not (emu_dir / "taxonomy.tsv").is_file():
        facts["emu_taxa"] = emu_database(bundle_dir, emu_dir)
    return bundle_dir, emu_dir, facts


def emu_database(bundle_dir: Path, emu_dir: Path) -> int:
    """Write an Emu database (``species_taxid.fasta``, ``taxonomy.tsv``) of the bundle.

    Emu keys everything by an integer tax id, one lineage per id: every distinct lineage of the
    bundle (cut at species) gets one, its NCBI species tax id when that id names only this
    lineage, else a number above NCBI's range. Returns the number of Emu taxa.
    """
    from gutbrain.model import RANKS
    from gutbrain.reference.bundle import load_bundle, read_sequences

    bundle = load_bundle(bundle_dir)
    ranks = [r for r in reversed(RANKS)]  # species first, as Emu's table
    ncbi_lineages: dict[str, set[object]] = defaultdict(set)
    for ref_id, lineage in bundle.taxonomy.items():
        if ref_id in bundle.taxids:
            ncbi_lineages[bundle.taxids[ref_id]].add(lineage)
    taxid_of: dict[object, int] = {}
    synthetic = 90_000_000
    for ref_id, lineage in bundle.taxonomy.items():
        if lineage in taxid_of:
            continue
        ncbi = bundle.taxids.get(ref_id)
        if ncbi is not None and ncbi.isdigit() and len(ncbi_lineages[ncbi]) == 1:
            taxid_of[lineage] = int(ncbi)
        else:
            synthetic += 1
            taxid_of[lineage] = synthetic
    emu_dir.mkdir(parents=True, exist_ok=True)
    with open(emu_dir / "species_taxid.fasta", "w") as out:
        for ref_id, sequence in read_sequences(bundle):
            out.write(f">{taxid_of[bundle.taxonomy[ref_id]]}:{ref_id}\n{sequence}\n")
    partial = emu_dir / "taxonomy.tsv.partial"  # renamed when complete: reruns test for it
    with open(partial, "w") as out:
        out.write("\t".join(["tax_id", *ranks]) + "\n")
        for lineage, taxid in taxid_of.items():
            names = [lineage.at(rank) or "" for rank in ranks]
            out.write("\t".join([str(taxid), *names]) + "\n")
    partial.rename(emu_dir / "taxonomy.tsv")
    return len(taxid_of)


def mock_copies() -> dict[str, list[tuple[str, str]]]:
    """Mock species (reference names) -> [(source id, genome-derived 16S copy)]."""
    folder = DATA / "mock_member_16s_references"
    copies: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in ("zymo_d6300_16S_gene_copies.fasta", "hmp_bei_mock_16S_gene_copies_edgar.fasta"):
        text = (folder / name).read_text()
        for record in text.split(">")[1:]:
            head, _, body = record.partition("\n")
            if "_16S_" in head:
                species = head.split("_16S_")[0].replace("_", " ")
            else:
                species = " ".join(head.split()[1:3]).rstrip(",")
            species = SYNONYMS.get(species, species)
            copies[species].append(
                (f"s{sum(map(len, copies.values())) + 1}", body.replace("\n", ""))
            )
    return copies


def mock_sources(work: Path) -> tuple[Path, Path]:
    """Write the simulator's sources FASTA and communities table (one species = one share)."""
    copies = mock_copies()
    sources = work / "sources.fasta"
    communities = work / "communities.tsv"
    with open(sources, "w") as out, open(communities, "w") as table:
        table.write("community\tspecies\ttax_id\tgenus\ttarget_abundance\tsource_id\theld_out\n")
        for species, members in sorted(copies.items()):
            for source_id, sequence in members:
                depth = 1.0 / len(copies) / len(members)
                out.write(f">{source_id} depth={depth:.8f}\n{sequence}\n")
                genus = species.split()[0]
                table.write(f"mock\t{species}\t-\t{genus}\t{depth:.8f}\t{source_id}\t1\n")
    return sources, communities


def simulate(work: Path, sources: Path, communities: Path, *, kind: str, reads: int) -> Path:
    simulator = SHARED / "bench" / "scripts" / "simulate_reads.py"
    key = digest([simulator, sources, communities], kind, reads)
    prefix = work / f"mock_{kind}_{reads}_{key}"
    if not Path(f"{prefix}.fastq.gz").is_file():
        subprocess.run(
            [
                sys.executable,
                str(simulator),
                "--sources",
                str(sources),
                "--communities",
                str(communities),
                "--community",
                "mock",
                "--profile",
                kind,
                "--engine",
                "simple",
                "--n",
                str(reads),
                "--seed",
                "7" if kind == "ont" else "8",
                "--sample",
                f"mock_{kind}",
                "--out",
                str(prefix),
                "--truth",
                f"{prefix}.truth.tsv",
            ],
            check=True,
        )
    return prefix


def truth_of(prefix: Path) -> dict[str, float]:
    counts: Counter[str] = Counter()
    with open(f"{prefix}.truth.tsv") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["species"].startswith("#"):
                species = TRUTH_NAMES.get(row["species"], row["species"])
                counts[species] += int(row["reads"])
    total = sum(counts.values())
    return {species: n / total for species, n in counts.items()}


def score(
    rows: list[tuple[str, tuple[str, ...], float]], truth: dict[str, float], assigned_share: float
) -> dict[str, float]:
    """``rows`` = (species or group name, members, reads); see the module docstring."""
    total = sum(r[2] for r in rows) or 1.0
    shares = [(name, members or (name,), reads / total) for name, members, reads in rows]
    reported = [s for s in shares if s[2] >= 0.001]
    right = [s for s in reported if any(m in truth for m in s[1])]
    # classes: a row with members merges the true species it contains
    mass: dict[tuple[str, ...], float] = defaultdict(float)
    truth_class: dict[str, tuple[str, ...]] = {s: (s,) for s in truth}
    for _, members, _ in shares:
        inside = tuple(sorted(m for m in members if m in truth))
        if len(inside) > 1:
            for m in inside:
                truth_class[m] = inside
    wrong = 0.0
    for _, members, share in shares:
        inside = [m for m in members if m in truth]
        if inside:
            mass[truth_class[inside[0]]] += share
        else:
            wrong += share
    expected: dict[tuple[str, ...], float] = defaultdict(float)
    for species, value in truth.items():
        expected[truth_class[species]] += value
    l1 = wrong + sum(abs(expected[c] - mass.get(c, 0.0)) for c in expected)
    size = sum(len(members) * share for _, members, share in shares)
    return {
        "precision": len(right) / len(reported) if reported else 0.0,
        "l1": l1,
        "group_size": size,
        "species_share": assigned_share,
        "rows": float(len(reported)),
    }


def run_gutbrain(
    reads: Path, bundle_dir: Path, kind: str, threads: int, *, contest: bool = True
) -> tuple[list[tuple[str, tuple[str, ...], float]], float, float]:
    from dataclasses import replace

    from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
    from gutbrain.reference.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    settings = PROFILE_PRESETS[kind] if contest else replace(PROFILE_PRESETS[kind], contest=None)
    start = time.perf_counter()
    result = profile_sample([reads], bundle=bundle, preset=kind, threads=threads, settings=settings)
    if result.em.species_groups_adhoc or result.em.species_contests_at_genus:
        print(
            f"{kind}: ad-hoc groups {list(result.em.species_groups_adhoc)}, "
            f"contests at genus {list(result.em.species_contests_at_genus)}, "
            f"{result.assignment['reads_assigned_adhoc_group']} reads in ad-hoc groups"
        )
    seconds = time.perf_counter() - start
    rows = [
        (row.taxon, row.members, row.reads or 0.0)
        for row in result.profile.rows
        if row.rank == "species"
    ]
    share = 1.0 - float(result.profile.unassigned.get("species", 1.0))
    return rows, share, seconds


def run_emu(
    reads: Path, emu_dir: Path, kind: str, work: Path, threads: int
) -> tuple[list[tuple[str, tuple[str, ...], float]], float, float]:
    out = work / f"emu_{emu_dir.name}_{kind}"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": f"{PEERS / 'bin'}:{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    subprocess.run(
        [
            str(PEERS / "venv" / "bin" / "python"),
            str(PEERS / "bin" / "emu-lrhq"),
            "abundance",
            str(reads),
            "--type",
            "lr:hq" if kind == "ont" else "map-hifi",
            "--db",
            str(emu_dir),
            "--keep-counts",
            "--threads",
            str(threads),
            "--output-dir",
            str(out),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    table = next(out.glob("*_rel-abundance.tsv"))
    rows: list[tuple[str, tuple[str, ...], float]] = []
    unassigned = 0.0
    total = 0.0
    with open(table) as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            count = float(row.get("estimated counts") or 0.0)
            total += count
            if row["tax_id"] == "unassigned" or not row.get("species"):
                unassigned += count
                continue
            rows.append((row["species"], (), count))
    return rows, (total - unassigned) / total if total else 0.0, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gutbrain-bench-groups"))
    parser.add_argument("--no-emu", action="store_true")
    parser.add_argument(
        "--no-contest",
        action="store_true",
        help="without ad-hoc groups of contested congeners (gutbrain.profile.contest)",
    )
    parser.add_argument("--kinds", default="ont,hifi")
    parser.add_argument(
        "--with-mocks",
        action="store_true",
        help="add the mock members' own copies to the reference (strains present)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(args.work / "cache"))
    bundle_dir, emu_dir, facts = build_reference(
        args.work, threads=args.threads, with_mocks=args.with_mocks
    )
    if facts:
        print(f"reference: {facts}")
    sources, communities = mock_sources(args.work)
    lines = [
        "| read type | tool | precision | group-aware L1 | mean group size | species/group share "
        "| rows | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in args.kinds.split(","):
        prefix = simulate(args.work, sources, communities, kind=kind, reads=args.reads)
        truth = truth_of(prefix)
        reads = Path(f"{prefix}.fastq.gz")
        tools = [
            (
                "gutbrain",
                run_gutbrain(reads, bundle_dir, kind, args.threads, contest=not args.no_contest),
            )
        ]
        if not args.no_emu:
            emu_preset = "lr:hq" if kind == "ont" else "map-hifi"
            tools.append(
                (f"Emu {emu_preset}", run_emu(reads, emu_dir, kind, args.work, args.threads))
            )
        for tool, (rows, share, seconds) in tools:
            s = score(rows, truth, share)
            lines.append(
                f"| {kind} | {tool} | {s['precision']:.3f} | {s['l1']:.3f} | "
                f"{s['group_size']:.2f} | {s['species_share']:.3f} | {int(s['rows'])} | "
                f"{seconds:.0f} |"
            )
            wrong = sorted(
                ((n, r) for n, m, r in rows if not any(x in truth for x in (m or (n,)))),
                key=lambda item: -item[1],
            )[:5]
            if wrong:
                print(f"{kind} {tool} top wrong rows: {[(n, round(r)) for n, r in wrong]}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
