#!/usr/bin/env python3
"""Build gutbrain's bundled example sample: ONT-like 16S reads from a real human stool sample.

What it does
------------
1. Reads the real full-length 16S ASVs and their real read counts of ONE stool sample
   (default ``R_9.3``, an adult sample with 460 ASVs and a typical Lachnospiraceae /
   Ruminococcaceae-rich composition: *Blautia*, *Subdoligranulum*, *Dorea*, *Faecalibacterium*,
   *Roseburia* ...) from ``../shared/data/lras_human_fecal_fulllength16s_asvs`` (Callahan et al.
   2019, Nucleic Acids Res 47:e103, doi:10.1093/nar/gkz569; PacBio CCS ASV table from the
   ``benjjneb/LRASManuscript`` repository; academic supplementary data, no licence file: cite the
   paper).
2. Draws ``--reads`` source ASVs with probability proportional to their counts in that sample
   (the sample's own abundances, nothing invented), random strand.
3. Adds Nanopore-like errors with a small numpy model: per-read error rate ~ N(7 %, 2 %) clipped
   to [2, 15] %, substitutions : insertions : deletions = 40 : 25 : 35, indels three times as
   likely inside homopolymer runs (>= 3 bases); 1 % of reads are random sequence (they must end
   up unassigned). Each read gets one Phred quality for all its bases, derived from its error
   rate (``Q = -10 log10(e)``). The model follows the ``simple`` engine of
   ``../shared/bench/scripts/simulate_reads.py`` (same project), re-implemented here.
4. Writes, under ``src/gutbrain/data/example/`` (the ``--out`` folder):

   - ``example_reads.fastq.gz`` reads named ``example_<n>`` (no hint of their origin);
   - ``example_truth.tsv`` the genus-level composition actually simulated (genus, lineage
     columns, reads, fraction over 16S reads; a final ``#random`` row);
   - ``PROVENANCE.md`` source, sample, seed, command and licence note.

Everything is seeded (``--seed``, default 20190703): rerunning gives the same bytes (gzip
``mtime=0``).

Usage::

    .venv/bin/python scripts/make_example_data.py            # defaults, from the repo root
    .venv/bin/python scripts/make_example_data.py --reads 3000 --sample R_9.3 --seed 20190703
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import io
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "lras_human_fecal_fulllength16s_asvs"
OUT = REPO / "src" / "gutbrain" / "data" / "example"
RANK_COLUMNS = ("Kingdom", "Phylum", "Class", "Order", "Family", "Genus")

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODE = np.full(256, 0, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _i

Codes = npt.NDArray[np.uint8]


def read_counts(path: Path, sample: str) -> dict[str, int]:
    """Return ``{asv_id: count}`` for one sample column, ASVs with count > 0 only."""
    with gzip.open(path, "rt") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader)
        if sample not in header:
            raise SystemExit(f"{path}: no sample column {sample!r}; columns are {header[1:]}")
        col = header.index(sample)
        return {row[0]: int(row[col]) for row in reader if int(row[col]) > 0}


def read_taxonomy(path: Path) -> dict[str, dict[str, str]]:
    """Return ``{asv_id: {rank column: name, "sequence": seq}}`` (empty string when unknown)."""
    with gzip.open(path, "rt") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return {
            row["asv_id"]: {k: ("" if v in ("", "NA") else v) for k, v in row.items()}
            for row in reader
        }


def homopolymer_mask(codes: Codes, *, min_run: int = 3) -> npt.NDArray[np.bool_]:
    """True at every base that sits in a run of ``min_run`` or more identical bases."""
    change = np.concatenate(([True], codes[1:] != codes[:-1]))
    run_id = np.cumsum(change) - 1
    run_len = np.bincount(run_id)
    mask: npt.NDArray[np.bool_] = run_len[run_id] >= min_run
    return mask


def add_errors(codes: Codes, error_rate: float, rng: np.random.Generator) -> Codes:
    """Apply substitutions, insertions and deletions at ``error_rate`` per base."""
    n = len(codes)
    hp = homopolymer_mask(codes)
    weight = np.where(hp, 3.0, 1.0)
    weight /= weight.mean()
    p_del = error_rate * 0.35 * weight
    p_ins = error_rate * 0.25 * weight
    p_sub = error_rate * 0.40
    r = rng.random(n)
    is_del = r < p_del
    is_ins = ~is_del & (r < p_del + p_ins)
    is_sub = ~is_del & ~is_ins & (r < p_del + p_ins + p_sub)
    out = codes.copy()
    k = int(is_sub.sum())
    if k:
        out[is_sub] = (codes[is_sub] + rng.integers(1, 4, size=k)) % 4
    repeat = np.ones(n, dtype=np.int64)
    repeat[is_del] = 0
    repeat[is_ins] = 2
    result = np.repeat(out, repeat)
    ends = np.cumsum(repeat) - 1
    ins_pos = np.nonzero(is_ins)[0]
    if len(ins_pos):
        ins_base = np.where(
            hp[ins_pos], codes[ins_pos], rng.integers(0, 4, size=len(ins_pos)).astype(np.uint8)
        )
        result[ends[ins_pos]] = ins_base
    return result.astype(np.uint8)


def simulate(
    sequences: dict[str, str],
    counts: dict[str, int],
    *,
    n_reads: int,
    seed: int,
    random_fraction: float = 0.01,
) -> tuple[bytes, collections.Counter[str], int]:
    """Return (FASTQ text bytes, reads per source ASV, number of random reads)."""
    rng = np.random.default_rng(seed)
    ids = sorted(counts)
    weights = np.array([counts[i] for i in ids], dtype=float)
    weights /= weights.sum()
    codes = {i: _CODE[np.frombuffer(sequences[i].encode(), dtype=np.uint8)] for i in ids}
    choice = rng.choice(len(ids), size=n_reads, p=weights)
    origin: collections.Counter[str] = collections.Counter()
    n_random = 0
    buffer = io.StringIO()
    for k in range(n_reads):
        name = f"example_{k + 1}"
        if rng.random() < random_fraction:
            length = int(rng.integers(1000, 1700))
            read = rng.integers(0, 4, size=length).astype(np.uint8)
            quality = 6
            n_random += 1
        else:
            source = ids[choice[k]]
            c = codes[source]
            if rng.random() < 0.5:
                c = (3 - c)[::-1]
            error_rate = float(np.clip(rng.normal(0.07, 0.02), 0.02, 0.15))
            read = add_errors(c, error_rate, rng)
            quality = round(-10 * np.log10(error_rate))
            origin[source] += 1
        seq = _BASES[read].tobytes().decode()
        buffer.write(f"@{name}\n{seq}\n+\n{chr(33 + quality) * len(seq)}\n")
    return buffer.getvalue().encode(), origin, n_random


def write_gzip(path: Path, data: bytes) -> None:
    """Write ``data`` gzip-compressed with ``mtime=0`` so reruns give identical bytes."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data)


def write_truth(
    path: Path, origin: collections.Counter[str], taxonomy: dict[str, dict[str, str]], n_random: int
) -> None:
    """Write the genus-level truth table of the simulated reads."""
    by_genus: collections.Counter[tuple[str, ...]] = collections.Counter()
    for asv, n in origin.items():
        row = taxonomy[asv]
        by_genus[tuple(row[c] for c in RANK_COLUMNS)] += n
    total = sum(by_genus.values())
    lines = ["genus\tsuperkingdom\tphylum\tclass\torder\tfamily\treads\tfraction"]
    for lineage, n in sorted(by_genus.items(), key=lambda kv: (-kv[1], kv[0])):
        genus = lineage[5] or "(no genus)"
        lines.append("\t".join([genus, *lineage[:5], str(n), f"{n / total:.6f}"]))
    lines.append(f"#random\t-\t-\t-\t-\t-\t{n_random}\t-")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


PROVENANCE = """# gutbrain example sample (example data, not a person's result)

Simulated Oxford Nanopore-like full-length 16S reads from a REAL human stool sample.

| file | content |
| --- | --- |
| `example_reads.fastq.gz` | {n_reads} reads ({n_random} of random sequence), `example_<n>` |
| `example_truth.tsv` | genus-level composition actually simulated (reads, fraction of 16S reads) |
| `answers.yaml` | an invented questionnaire (no real person) that exercises every report section |
| `markers.yaml` | invented stool-marker values that exercise every marker band and caveat |

## Source
- Sample `{sample}` of the LRAS faecal ASV table: {n_asv} full-length 16S ASVs with their real
  counts (sample depth {depth:,} reads), SILVA v128 genus labels. Callahan BJ et al. (2019)
  "High-throughput amplicon sequencing of the full-length 16S rRNA gene with single-nucleotide
  resolution", *Nucleic Acids Res* 47:e103, doi:10.1093/nar/gkz569; data from repository
  `benjjneb/LRASManuscript` (commit 9f95d077), raw reads SRA PRJNA521754. The repository has no
  licence file (academic supplementary data); cite the paper when you use the example.
- Reads: `scripts/make_example_data.py --sample {sample} --reads {n_reads} --seed {seed}`
  (error model in its docstring: ~7 % ONT-like errors, homopolymer-biased indels).

The questionnaire and marker files are invented for demonstration; they describe no real person.
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=SOURCE, help="LRAS faecal ASV folder")
    parser.add_argument("--sample", default="R_9.3", help="stool sample column to use")
    parser.add_argument("--reads", type=int, default=3000, help="number of reads to simulate")
    parser.add_argument("--seed", type=int, default=20190703)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    counts = read_counts(args.source / "lras_fecal_asv_counts.tsv.gz", args.sample)
    taxonomy = read_taxonomy(args.source / "lras_fecal_asv_taxonomy_silva128.tsv.gz")
    sequences = {asv: taxonomy[asv]["sequence"].upper() for asv in counts}
    fastq, origin, n_random = simulate(sequences, counts, n_reads=args.reads, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_gzip(args.out / "example_reads.fastq.gz", fastq)
    write_truth(args.out / "example_truth.tsv", origin, taxonomy, n_random)
    (args.out / "PROVENANCE.md").write_text(
        PROVENANCE.format(
            n_reads=args.reads,
            n_random=n_random,
            sample=args.sample,
            n_asv=len(counts),
            depth=sum(counts.values()),
            seed=args.seed,
        ),
        encoding="utf-8",
    )
    size = (args.out / "example_reads.fastq.gz").stat().st_size
    print(
        f"{args.sample}: {args.reads} reads ({n_random} random) from {len(origin)} of "
        f"{len(counts)} ASVs -> {args.out} ({size / 1e6:.2f} MB gz)"
    )


if __name__ == "__main__":
    main()
