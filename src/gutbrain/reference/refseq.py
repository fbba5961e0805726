"""NCBI RefSeq 16S records -> taxonomy records of a reference bundle.

A RefSeq Targeted Loci header reads ``>NR_181915.1 Pseudomonas abyssi strain … 16S ribosomal
RNA, partial sequence``. The organism name is the text before `` 16S ribosomal RNA``; its species
is the first two words (three for ``Candidatus …``), its genus the first word.

Lineages (:func:`refseq_records`) come from a table ``species tax id -> Lineage`` (NCBI taxonomy,
e.g. Emu's 2020 table or a fresh ``taxdump``) in four tiers, recorded per record:

``taxid``
    the record's species tax id is in the table and the table's genus is the header's genus:
    the full lineage, with the header's (current) species name;
``genus``
    else the header's genus is in the table: that genus's most common lineage above species,
    with the header's species name;
``taxid-family``
    else the tax id is in the table under another genus name (the genus was renamed since the
    table was made): family and above from the table, genus and species from the header;
``genus-only``
    else: superkingdom (Bacteria, the file's kingdom), genus and species from the header only;
    such records still profile to species and genus, but roll up no further than the kingdom.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.reference.bundle import TaxonRecord
from gutbrain.reference.formats import read_fasta

__all__ = [
    "LINEAGE_TIERS",
    "RefseqHeader",
    "RefseqRecords",
    "genus_lineages",
    "parse_refseq_header",
    "refseq_records",
]

logger = logging.getLogger(__name__)

#: How a record got its lineage, best first (see the module docstring).
LINEAGE_TIERS: tuple[str, ...] = ("taxid", "genus", "taxid-family", "genus-only")
_LOCUS = re.compile(r"\s+16S ribosomal RNA\b.*$", re.IGNORECASE)
_NOT_EPITHETS = frozenset({"sp.", "sp", "bacterium", "cf.", "aff."})


@dataclass(frozen=True, slots=True)
class RefseqHeader:
    """One parsed RefSeq 16S header: accession, organism, genus and species (``None`` if none)."""

    accession: str
    organism: str
    genus: str | None
    species: str | None


def parse_refseq_header(header: str) -> RefseqHeader:
    """Parse a RefSeq 16S FASTA header (without ``>``).

    Examples
    --------
    >>> parse_refseq_header("NR_181915.1 Pseudomonas abyssi strain MT5 16S ribosomal RNA, partial")
    RefseqHeader(accession='NR_181915.1', organism='Pseudomonas abyssi strain MT5', genus='Pseudomonas', species='Pseudomonas abyssi')
    >>> parse_refseq_header("NR_1.1 Candidatus Nitrosocosmicus hydrocola 16S ribosomal RNA").species
    'Candidatus Nitrosocosmicus hydrocola'

    NCBI quotes names that are not validly published; the quotes are not part of the name:

    >>> parse_refseq_header("NR_178232.1 'Streptomyces viridis' strain X 16S ribosomal RNA").genus
    'Streptomyces'
    """  # noqa: E501
    accession, _, rest = header.strip().partition(" ")
    organism = _LOCUS.sub("", rest).replace("'", "").strip()
    words = organism.split()
    offset = 1 if words and words[0] == "Candidatus" else 0
    genus: str | None = None
    species: str | None = None
    if len(words) > offset:
        genus = " ".join(words[: offset + 1])
    if len(words) > offset + 1 and words[offset + 1] not in _NOT_EPITHETS:
        epithet = words[offset + 1]
        if epithet[:1].islower():
            species = f"{genus} {epithet}"
    return RefseqHeader(accession=accession, organism=organism, genus=genus, species=species)


def genus_lineages(lineages: Iterable[Lineage]) -> dict[str, Lineage]:
    """Genus -> its most common lineage above species among ``lineages`` (ties: first seen)."""
    counts: dict[str, Counter[Lineage]] = {}
    for lineage in lineages:
        if lineage.genus is not None:
            above = replace(lineage, species=None)
            counts.setdefault(lineage.genus, Counter())[above] += 1
    return {genus: counter.most_common(1)[0][0] for genus, counter in sorted(counts.items())}


@dataclass(slots=True)
class RefseqRecords:
    """Taxonomy records and sequences of a RefSeq 16S FASTA, with what happened to each record.

    ``tiers`` counts records per :data:`LINEAGE_TIERS` entry; ``too_short`` the records below
    the length limit (left out); ``no_species`` records whose organism names no species (kept
    at genus).
    """

    taxonomy: dict[str, TaxonRecord] = field(default_factory=dict)
    sequences: list[tuple[str, str]] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LINEAGE_TIERS, 0))
    too_short: int = 0
    no_species: int = 0


def _lineage_for(
    head: RefseqHeader,
    taxid: str | None,
    lineages: Mapping[str, Lineage],
    by_genus: Mapping[str, Lineage],
    superkingdom: str,
) -> tuple[Lineage, str]:
    known = lineages.get(taxid) if taxid is not None else None
    if known is not None and known.genus == head.genus:
        return replace(known, species=head.species), "taxid"
    if head.genus is not None and head.genus in by_genus:
        return replace(by_genus[head.genus], species=head.species), "genus"
    if known is not None and known.family is not None:
        lineage = replace(known, genus=head.genus, species=head.species)
        return lineage, "taxid-family"
    lineage = Lineage(superkingdom=superkingdom, genus=head.genus, species=head.species)
    return lineage, "genus-only"


def refseq_records(
    fasta: str | Path,
    *,
    lineages: Mapping[str, Lineage],
    species_taxids: Mapping[str, str] | None = None,
    taxid_of_name: Mapping[str, str] | None = None,
    genera: Mapping[str, Lineage] | None = None,
    min_length: int = 0,
    superkingdom: str = "Bacteria",
) -> RefseqRecords:
    """Read a RefSeq 16S FASTA and give each record a lineage (see the module docstring).

    Parameters
    ----------
    fasta
        ``bacteria.16SrRNA.fna(.gz)``.
    lineages
        NCBI tax id -> lineage (species-level tax ids).
    species_taxids
        Accession -> species tax id (e.g. from the ``blast_species_taxid`` column of NCBI's
        metadata). Either this or ``taxid_of_name`` is consulted, this first.
    taxid_of_name
        Organism (species) name -> tax id (e.g. from ``names.dmp``).
    genera
        Genus name -> lineage above species; default: the most common one in ``lineages``.
    min_length
        Records shorter than this (bp) are left out and counted.
    superkingdom
        The kingdom of the file, for records the table cannot place.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-NOTAX`` for a record whose header names no organism (file and line named).
    """
    path = Path(fasta)
    by_genus = genera if genera is not None else genus_lineages(lineages.values())
    out = RefseqRecords()
    for header, sequence, line in read_fasta(path):
        head = parse_refseq_header(header)
        if head.genus is None:
            message = (
                f"{path}:{line}: record {head.accession!r} names no organism; expected "
                "'>ACCESSION Genus species … 16S ribosomal RNA'"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_NOTAX)
        if len(sequence) < min_length:
            out.too_short += 1
            continue
        taxid: str | None = None
        if species_taxids is not None:
            taxid = species_taxids.get(head.accession)
        if taxid is None and taxid_of_name is not None and head.species is not None:
            taxid = taxid_of_name.get(head.species)
        lineage, tier = _lineage_for(head, taxid, lineages, by_genus, superkingdom)
        if head.species is None:
            out.no_species += 1
        out.tiers[tier] += 1
        out.taxonomy[head.accession] = TaxonRecord(lineage=lineage, taxid=taxid)
        out.sequences.append((head.accession, sequence))
    logger.info(
        "RefSeq 16S %s: %d records kept (%s), %d shorter than %d bp left out",
        path.name,
        len(out.sequences),
        ", ".join(f"{k} {v}" for k, v in out.tiers.items()),
        out.too_short,
        min_length,
    )
    return out
