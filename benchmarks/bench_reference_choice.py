"""Benchmark: which reference lets real faecal full-length 16S reach genus and species?

Reads: the 1,411 PacBio full-length 16S ASVs of the LRAS faecal samples (Callahan et al. 2019,
``shared/data/lras_human_fecal_fulllength16s_asvs``), each written ``round(total count / SCALE)``
times (at least once), so that the sample the profiler sees has the ASVs' read-count weights
(~18k reads at SCALE 10; identical reads are aligned once). Profiled with ``--preset hifi``
(the ASVs are error-corrected CCS sequences) against each candidate bundle.

Reported per reference: the read-weighted fraction of reads assigned at species, reaching at
least genus (species or genus fallback), and, among reads whose ASV has a SILVA v128 genus label,
the fraction whose gutbrain genus has the same name (a naming cross-check: SILVA 128 and NCBI
names differ for some genera, e.g. *Lachnoclostridium*, so this is a lower bound of agreement).

What the reference itself covers, whatever the classifier then decides: the read-weighted
fraction of reads whose best minimap2 (``map-hifi``) hit in the reference has a gap-compressed
identity of at least 98.7 % (the species threshold of Yarza et al. 2014, Nat Rev Microbiol
12:635) and at least 94.5 % (their genus threshold), over at least 90 % of the read.

Usage::

    .venv/bin/python benchmarks/bench_reference_choice.py NAME=BUNDLE_DIR [NAME=BUNDLE_DIR ...]
        [--scale 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR", REPO.parent / "shared"))
LRAS = SHARED / "data" / "lras_human_fecal_fulllength16s_asvs"


def _asvs() -> tuple[dict[str, str], dict[str, int], dict[str, str]]:
    sequences: dict[str, str] = {}
    name = ""
    with gzip.open(LRAS / "lras_fecal_asvs.fasta.gz", "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                name = line[1:].split()[0]
                sequences[name] = ""
            else:
                sequences[name] += line.strip()
    counts: dict[str, int] = {}
    with gzip.open(LRAS / "lras_fecal_asv_counts.tsv.gz", "rt") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            counts[row["asv_id"]] = sum(int(v) for k, v in row.items() if k != "asv_id")
    genus: dict[str, str] = {}
    with gzip.open(LRAS / "lras_fecal_asv_taxonomy_silva128.tsv.gz", "rt") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get("Genus") and row["Genus"] != "NA":
                genus[row["asv_id"]] = row["Genus"]
    return sequences, counts, genus


def _write_reads(path: Path, scale: int) -> dict[str, str]:
    sequences, counts, genus = _asvs()
    asv_of_read: dict[str, str] = {}
    with open(path, "w") as out:
        for asv, sequence in sequences.items():
            copies = max(1, round(counts.get(asv, 0) / scale)) if counts.get(asv, 0) else 0
            for n in range(copies):
                read = f"{asv}_{n}"
                asv_of_read[read] = asv
                out.write(f">{read}\n{sequence}\n")
    return {read: genus.get(asv, "") for read, asv in asv_of_read.items()}


def _coverage(reads: Path, bundle_dir: Path) -> tuple[float, float]:
    """Read-weighted fractions with a best hit >= 98.7 % and >= 94.5 % identity."""
    import mappy

    aligner = mappy.Aligner(str(bundle_dir / "sequences.fasta.gz"), preset="map-hifi")
    best: dict[str, float] = {}
    species = genus = total = 0
    for name, sequence, _ in mappy.fastx_read(str(reads)):
        total += 1
        asv = name.rsplit("_", 1)[0]
        if asv not in best:
            identity = 0.0
            for hit in aligner.map(sequence):
                if hit.q_en - hit.q_st < 0.9 * len(sequence):
                    continue
                gaps = sum(length for length, op in hit.cigar if op in (1, 2))
                opens = sum(1 for _, op in hit.cigar if op in (1, 2))
                columns = hit.blen - gaps + opens
                identity = max(identity, (columns - hit.NM + gaps - opens) / columns)
            best[asv] = identity
        species += best[asv] >= 0.987
        genus += best[asv] >= 0.945
    return species / total, genus / total


def main(argv: list[str] | None = None) -> int:
    from gutbrain.profile.pipeline import profile_sample
    from gutbrain.reference.bundle import load_bundle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", help="NAME=BUNDLE_DIR")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        reads = Path(scratch) / "lras_asvs.fasta"
        silva_genus = _write_reads(reads, args.scale)
        print(f"reads: {len(silva_genus)} (ASV copies, scale 1/{args.scale})")
        print(
            "| reference | sequences | hit ≥ 98.7 % | hit ≥ 94.5 % | assigned species | "
            "reaching genus | SILVA genus name agrees | s |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for item in args.bundles:
            label, _, folder = item.partition("=")
            bundle = load_bundle(folder)
            start = time.perf_counter()
            result = profile_sample(
                [reads],
                bundle=bundle,
                preset="hifi",
                threads=args.threads,
                confidence_intervals=False,
            )
            seconds = time.perf_counter() - start
            n = len(result.read_assignments)
            species = sum(1 for _, _, rank, _ in result.read_assignments if rank == "species")
            genus_rank = {"species", "genus"}
            reached = sum(1 for _, _, rank, _ in result.read_assignments if rank in genus_rank)
            agree = labelled = 0
            genus_of_species = {
                lineage.species: lineage.genus for lineage in bundle.taxonomy.values()
            }
            for read, _, rank, taxon in result.read_assignments:
                expected = silva_genus.get(read, "")
                if not expected or rank not in genus_rank:
                    continue
                labelled += 1
                got = genus_of_species.get(taxon) if rank == "species" else taxon
                agree += got == expected
            hit_species, hit_genus = _coverage(reads, Path(folder))
            print(
                f"| {label} | {bundle.n_sequences} | {hit_species:.3f} | {hit_genus:.3f} | "
                f"{species / n:.3f} | {reached / n:.3f} | "
                f"{agree / max(labelled, 1):.3f} | {seconds:.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
