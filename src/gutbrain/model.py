"""Small frozen records shared by every layer.

Vocabulary (docs/glossary.md): a *sample* yields *reads*; reads are assigned to *references*
whose *taxon* lineage is known at each *rank*; *counts* are estimated reads and *abundance* is a
fraction in [0, 1], never a percent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal, NewType

__all__ = [
    "RANKS",
    "Lineage",
    "Profile",
    "Provenance",
    "Rank",
    "ReadQC",
    "ReadType",
    "SampleId",
    "TaxId",
    "TaxonRow",
    "taxon_labels",
]


class ReadType(StrEnum):
    """The kind of reads a sample holds; it picks the preset settings of read QC and profiling.

    ``ont``: Oxford Nanopore full-length 16S; ``hifi``: PacBio HiFi full-length 16S; ``short``:
    Illumina 16S amplicons (e.g. V4, paired reads merged first). Every command's ``--preset`` and
    a sample sheet's ``preset`` column take these values; being a ``str``, a member equals and
    hashes like its value (``ReadType.hifi == "hifi"``).
    """

    ont = "ont"
    hifi = "hifi"
    short = "short"


SampleId = NewType("SampleId", str)
TaxId = NewType("TaxId", str)

Rank = Literal["superkingdom", "phylum", "class", "order", "family", "genus", "species"]
#: Ranks from broad to narrow.
RANKS: tuple[Rank, ...] = (
    "superkingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "species",
)


@dataclass(frozen=True, slots=True)
class Lineage:
    """A taxon's names from superkingdom down to species; ``None`` where unknown.

    ``species`` holds the full binomial ("Faecalibacterium prausnitzii").
    """

    superkingdom: str | None = None
    phylum: str | None = None
    class_: str | None = None
    order: str | None = None
    family: str | None = None
    genus: str | None = None
    species: str | None = None

    def at(self, rank: Rank) -> str | None:
        """Return the name at ``rank`` (``None`` when unknown)."""
        value: str | None = getattr(self, "class_" if rank == "class" else rank)
        return value

    def truncated(self, rank: Rank) -> Lineage:
        """Return the lineage with every rank below ``rank`` cleared."""
        below = _FIELDS_BELOW[rank]
        if all(getattr(self, name) is None for name in below):
            return self  # nothing to clear (the common case: a row's own lineage)
        return replace(self, **dict.fromkeys(below))

    def as_dict(self) -> dict[str, str | None]:
        """Return ``{rank: name}`` for every rank, broad to narrow."""
        return {  # spelled out: called once per taxon when 100k-taxon tables are written
            "superkingdom": self.superkingdom,
            "phylum": self.phylum,
            "class": self.class_,
            "order": self.order,
            "family": self.family,
            "genus": self.genus,
            "species": self.species,
        }

    @classmethod
    def from_mapping(cls, names: Mapping[str, str | None]) -> Lineage:
        """Build from ``{rank: name}``; empty strings become ``None``; unknown keys are ignored."""
        return cls(**{_field(r): (names.get(r) or None) for r in RANKS})


def _field(rank: str) -> str:
    return "class_" if rank == "class" else rank


#: Per rank, the Lineage fields of the ranks below it.
_FIELDS_BELOW: dict[str, tuple[str, ...]] = {
    rank: tuple(_field(r) for r in RANKS[i + 1 :]) for i, rank in enumerate(RANKS)
}


def taxon_labels(lineages: Iterable[Lineage], rank: Rank) -> dict[Lineage, str]:
    """Give each distinct lineage at ``rank`` a unique, readable label.

    A name that stands for one lineage keeps its bare name. A name shared by taxa of different
    lineages (a homonym: HITdb files *Eubacterium* under two families, SILVA has many
    "uncultured" genera) gets the name of the nearest broader rank that tells them apart, in
    brackets; failing that, the whole lineage.

    Examples
    --------
    >>> a = Lineage(family="Lachnospiraceae", genus="Blautia")
    >>> b = Lineage(family="Ruminococcaceae", genus="Blautia")
    >>> c = Lineage(family="Ruminococcaceae", genus="Gemmiger")
    >>> sorted(taxon_labels([a, b, c, a], "genus").values())
    ['Blautia (Lachnospiraceae)', 'Blautia (Ruminococcaceae)', 'Gemmiger']
    """
    by_name: dict[str, list[Lineage]] = {}
    for lineage in dict.fromkeys(lin.truncated(rank) for lin in lineages):
        by_name.setdefault(lineage.at(rank) or "unknown", []).append(lineage)
    labels: dict[Lineage, str] = {}
    broader = RANKS[: RANKS.index(rank)]
    for name, group in by_name.items():
        if len(group) == 1:
            labels[group[0]] = name
            continue
        for parent_rank in reversed(broader):
            parents = [lin.at(parent_rank) for lin in group]
            if all(parents) and len(set(parents)) == len(group):
                for lin, parent in zip(group, parents, strict=True):
                    labels[lin] = f"{name} ({parent})"
                break
        else:
            for lin in group:
                path = ";".join(lin.at(r) or "" for r in broader)
                labels[lin] = f"{name} ({path})"
    return labels


@dataclass(frozen=True, slots=True)
class TaxonRow:
    """One taxon of a profile at one rank.

    ``reads`` is the estimated read count (``None`` when the source gave only fractions);
    ``abundance`` is the fraction of all the sample's reads (0–1). ``abundance_low`` and
    ``abundance_high`` bound a confidence interval when one was computed. ``members`` lists the
    member species of a *species group* (a ``species``-rank row whose name is the group's, e.g.
    "Escherichia coli group", for species 16S cannot separate); it is empty for one species.
    """

    rank: Rank
    lineage: Lineage
    abundance: float
    reads: float | None = None
    abundance_low: float | None = None
    abundance_high: float | None = None
    taxid: TaxId | None = None
    members: tuple[str, ...] = ()

    @property
    def taxon(self) -> str:
        """The taxon's name at its rank."""
        name = self.lineage.at(self.rank)
        return name if name is not None else "unknown"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a result came from; every output carries one."""

    gutbrain_version: str
    source: str  # "gutbrain profile", "import:emu", "import:biom", ...
    inputs: Mapping[str, str] = field(default_factory=dict)  # file name -> sha256
    parameters: Mapping[str, object] = field(default_factory=dict)
    reference: Mapping[str, str] = field(default_factory=dict)  # name, version, sha256
    tools: Mapping[str, str] = field(default_factory=dict)  # e.g. {"minimap2 (mappy)": "2.28"}
    citations: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy (mappings become dicts, citations a list)."""
        return {
            "gutbrain_version": self.gutbrain_version,
            "source": self.source,
            "inputs": dict(self.inputs),
            "parameters": dict(self.parameters),
            "reference": dict(self.reference),
            "tools": dict(self.tools),
            "citations": list(self.citations),
        }


@dataclass(frozen=True, slots=True)
class Profile:
    """Taxon abundances of one sample.

    ``rows`` may hold several ranks. For every rank present, the abundances of that rank's rows
    plus ``unassigned[rank]`` sum to 1. ``total_reads`` is the number of reads behind the profile
    when known. ``copy_number_corrected`` says whether 16S copy numbers were divided out.
    """

    sample_id: SampleId
    rows: tuple[TaxonRow, ...]
    unassigned: Mapping[Rank, float]
    provenance: Provenance
    total_reads: int | None = None
    copy_number_corrected: bool = False

    def ranks(self) -> tuple[Rank, ...]:
        """The ranks present, broad to narrow."""
        present = {row.rank for row in self.rows}
        return tuple(r for r in RANKS if r in present)

    def at_rank(self, rank: Rank) -> tuple[TaxonRow, ...]:
        """The rows at ``rank``, most abundant first."""
        rows = [row for row in self.rows if row.rank == rank]
        return tuple(sorted(rows, key=lambda r: (-r.abundance, r.taxon)))


@dataclass(frozen=True, slots=True)
class ReadQC:
    """Read-level quality-control figures of one sample.

    ``dropped`` maps a reason ("too_short", "too_long", "low_quality", "too_many_ambiguous")
    to a read count; ``reads_in == reads_kept + sum(dropped.values())``.
    """

    reads_in: int
    reads_kept: int
    dropped: Mapping[str, int]
    bases_kept: int
    length_n50: int
    length_quantiles: Mapping[str, float]  # "min", "q05", "q25", "median", "q75", "q95", "max"
    mean_quality: float | None  # mean of per-read mean Phred scores; None for FASTA
    ambiguous_bases: int = 0
    lowercase_reads: int = 0
    crlf_lines: bool = False
