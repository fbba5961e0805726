"""RefSeq 16S headers -> species/genus, and the four lineage tiers (hand-made table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.reference.refseq import parse_refseq_header, refseq_records

_HEADERS = [
    ("NR_1.1 Pseudomonas abyssi strain MT5 16S ribosomal RNA, partial", "Pseudomonas", "abyssi"),
    ("NR_2.1 [Anoxybacillus] calidus strain C16 16S ribosomal RNA", "[Anoxybacillus]", "calidus"),
    ("NR_3.1 Lactobacillus delbrueckii subsp. bulgaricus 16S ribosomal RNA", "Lactobacillus",
     "delbrueckii"),
    ("NR_4.1 Candidatus Nitrosocosmicus hydrocola 16S ribosomal RNA",
     "Candidatus Nitrosocosmicus", "hydrocola"),
    ("NR_5.1 Bacillus sp. X 16S ribosomal RNA, partial sequence", "Bacillus", None),
    ("NR_6.1 Paenirhodobacter populi 16S ribosomal RNA, partial", "Paenirhodobacter", "populi"),
]  # fmt: skip


@pytest.mark.parametrize(("header", "genus", "epithet"), _HEADERS)
def test_parse_refseq_header(header: str, genus: str, epithet: str | None) -> None:
    head = parse_refseq_header(header)
    species = f"{genus} {epithet}" if epithet else None
    assert (head.accession, head.genus, head.species) == (header.split()[0], genus, species)


def _fasta(path: Path, records: list[tuple[str, str, int]]) -> Path:
    path.write_text(
        "".join(f">{acc} {org} 16S ribosomal RNA\n{'ACGT' * (n // 4)}\n" for acc, org, n in records)
    )
    return path


ECOLI = Lineage("Bacteria", "Proteobacteria", "Gammaproteobacteria", "Enterobacterales",
                "Enterobacteriaceae", "Escherichia", "Escherichia coli")  # fmt: skip
LACTO = Lineage("Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Lactobacillaceae",
                "Lactobacillus", "Lactobacillus fermentum")  # fmt: skip


def test_four_lineage_tiers(tmp_path: Path) -> None:
    fasta = _fasta(
        tmp_path / "r.fna",
        [
            ("NR_1.1", "Escherichia coli strain A", 1300),  # taxid tier
            ("NR_2.1", "Escherichia marmotae strain B", 1300),  # genus tier (tax id unknown)
            ("NR_3.1", "Limosilactobacillus fermentum C", 1300),  # renamed genus: family and up
            ("NR_4.1", "Novogenus primus D", 1300),  # nothing known
            ("NR_5.1", "Escherichia coli strain short", 800),  # left out
        ],
    )
    records = refseq_records(
        fasta,
        lineages={"562": ECOLI, "1613": LACTO},
        species_taxids={"NR_1.1": "562", "NR_3.1": "1613"},
        min_length=1000,
    )
    taxonomy = {k: v.lineage for k, v in records.taxonomy.items()}
    assert taxonomy["NR_1.1"] == ECOLI
    assert taxonomy["NR_2.1"].species == "Escherichia marmotae"
    assert taxonomy["NR_2.1"].family == "Enterobacteriaceae"
    assert taxonomy["NR_3.1"].genus == "Limosilactobacillus"
    assert taxonomy["NR_3.1"].family == "Lactobacillaceae"
    assert taxonomy["NR_4.1"] == Lineage(
        superkingdom="Bacteria", genus="Novogenus", species="Novogenus primus"
    )
    assert records.tiers == {"taxid": 1, "genus": 1, "taxid-family": 1, "genus-only": 1}
    assert records.too_short == 1
    assert [acc for acc, _ in records.sequences] == ["NR_1.1", "NR_2.1", "NR_3.1", "NR_4.1"]


def test_record_without_organism_names_file_and_line(tmp_path: Path) -> None:
    fasta = tmp_path / "r.fna"
    fasta.write_text(">NR_1.1 Escherichia coli 16S ribosomal RNA\nACGT\n>NR_2.1\nACGT\n")
    with pytest.raises(ReferenceDatabaseError, match=r"r\.fna:3: record 'NR_2\.1'") as info:
        refseq_records(fasta, lineages={})
    assert info.value.code == "GB-REF-NOTAX"
