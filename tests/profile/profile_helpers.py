"""Helpers for the profiler tests: the 6-sequence fixture reference and seeded read simulation."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gutbrain.profile.align import HitTable

FIXTURES = Path(__file__).parent / "fixtures"
REF_FASTA = FIXTURES / "tiny_ref.fasta"
REF_TAXONOMY = FIXTURES / "tiny_ref_taxonomy.tsv"


def reference_sequences() -> dict[str, str]:
    """The fixture reference as ``{id: sequence}``."""
    out: dict[str, str] = {}
    name = ""
    for line in REF_FASTA.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = ""
        else:
            out[name] += line.strip()
    return out


def species_of() -> dict[str, str]:
    """Reference id -> species name of the fixture."""
    rows = [line.split("\t") for line in REF_TAXONOMY.read_text().splitlines()[1:]]
    return {r[0]: r[2] for r in rows}


_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def substitute_bases(sequence: str, n: int, seed: int) -> str:
    """``sequence`` with ``n`` distinct positions (drawn with ``seed``) each changed to the next
    base of ACGT."""
    rng = np.random.default_rng(seed)
    chars = list(sequence)
    for position in rng.choice(len(chars), size=n, replace=False):
        chars[position] = "ACGT"[("ACGT".index(chars[position]) + 1) % 4]
    return "".join(chars)


def mutate(seq: str, rate: float, rng: np.random.Generator) -> str:
    """Random substitutions / insertions / deletions at ``rate`` per base (40:30:30)."""
    out: list[str] = []
    for base in seq:
        u = rng.random()
        if u < rate * 0.4:
            out.append(
                "ACGT"[(("ACGT".index(base) if base in "ACGT" else 0) + rng.integers(1, 4)) % 4]
            )
        elif u < rate * 0.7:
            out.append(base + "ACGT"[rng.integers(0, 4)])
        elif u < rate:
            continue
        else:
            out.append(base)
    read = "".join(out)
    return read.translate(_COMPLEMENT)[::-1] if rng.random() < 0.5 else read


def random_dna(rng: np.random.Generator, length: int) -> str:
    """``length`` uniform random bases (no 16S: a read that should align nowhere)."""
    return "".join(rng.choice(list("ACGT"), size=length))


def write_reads(
    path: Path,
    counts: Mapping[str, int],
    *,
    seed: int,
    rate: float = 0.04,
    random_reads: int = 0,
    prefix: str = "r",
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write a gzip FASTQ with ``counts[ref_id]`` mutated copies of each fixture reference."""
    rng = np.random.default_rng(seed)
    refs = reference_sequences()
    records: list[tuple[str, str]] = []
    for ref_id, n in counts.items():
        records.extend(("", mutate(refs[ref_id], rate, rng)) for _ in range(n))
    for _ in range(random_reads):
        records.append(("", random_dna(rng, 1500)))
    for name, seq in (extra or {}).items():
        records.append((name, seq))
    order = rng.permutation(len(records))
    with gzip.open(path, "wt") as handle:
        for k, i in enumerate(order):
            name, seq = records[i]
            handle.write(f"@{name or f'{prefix}{k}'}\n{seq}\n+\n{'5' * len(seq)}\n")
    return path


#: reference ids of the tiny reference (tests/profile/fixtures)
FRAGILIS, VULGATUS, KLEBSIELLA, BIFIDO = (
    "7000004128190436",
    "S000436356",
    "S000003122",
    "S000436350",
)


def chimera_layout_hits() -> HitTable:
    """Three hand-made reads against the tiny reference (distinct read = ``read``): read 0 has
    primary alignments on disjoint halves hitting *Klebsiella* and *Bifidobacterium* (a
    chimera), read 1 the same layout on *B. fragilis* and *B. vulgatus* (one genus), read 2 two
    overlapping alignments (*Klebsiella*, *Bifidobacterium*)."""
    names = list(reference_sequences())
    k, b, f, v = (names.index(x) for x in (KLEBSIELLA, BIFIDO, FRAGILIS, VULGATUS))
    z = [0] * 6
    return HitTable(
        read=np.array([0, 0, 1, 1, 2, 2]),
        ref=np.array([k, b, f, v, k, b]),
        query_start=np.array([0, 760, 0, 760, 0, 100]),
        query_end=np.array([750, 1500, 750, 1500, 1400, 1500]),
        query_length=np.array([1500] * 6),
        ref_start=np.array(z),
        ref_end=np.array([750, 740, 750, 740, 1400, 1400]),
        matches=np.array([740, 730, 740, 730, 1390, 1390]),
        block_length=np.array(z),
        edit_distance=np.array([10, 10, 10, 10, 10, 10]),
        primary=np.array([True] * 6),
    )
