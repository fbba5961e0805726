"""Build gutbrain's bundled default reference (src/gutbrain/data/reference/).

Sources (all in the project's shared data folder, see each PROVENANCE.md):

- HITdb v1.00 (Ritari et al. 2015): 2,473 near-full-length human-intestinal 16S sequences.
- ZymoBIOMICS D6300 members' 16S gene copies (45, from the Emu repository, MIT licence).
- HMP/BEI mock members' 16S gene copies (69, compiled by R. Edgar from public RefSeq genomes).
- rrnDB 5.4 16S copy numbers (species mean, else genus mean).
- Emu's NCBI taxonomy table (MIT) for NCBI tax ids by species name and lineages of mock members
  whose genus HITdb lacks.

Mock-member lineages are harmonised to HITdb's names (HITdb's species lineage, else its genus
lineage) so that one species never appears under two names in the bundle.

Rerunnable and deterministic: the same inputs give byte-identical files. Usage::

    .venv/bin/python scripts/build_default_reference.py [--shared ../shared] [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from gutbrain.model import Lineage
from gutbrain.reference.bundle import (
    DEFAULT_BUNDLE_NAME,
    SourceInfo,
    TaxonRecord,
    build_bundle,
    default_bundle_path,
)
from gutbrain.reference.copy_numbers import apply_copy_numbers, read_rrndb_copy_numbers
from gutbrain.reference.formats import read_fasta, read_import

VERSION = "1.0.0"
REPO = Path(__file__).resolve().parents[1]

HITDB = SourceInfo(
    name="HITdb",
    version="1.00 (2015-03-05; microbiome/HITdb commit d9297b2eadf8902211352e1b634468390f79aa6d)",
    licence=(
        "The HITdb repository has no licence file; the describing article is open access under "
        "CC BY 4.0. Cite the article."
    ),
    citation=(
        "Ritari J, Salojärvi J, Lahti L, de Vos WM (2015) Improved taxonomic assignment of human "
        "intestinal 16S rRNA sequences by a dedicated reference database. BMC Genomics 16:1056. "
        "doi:10.1186/s12864-015-2265-y"
    ),
    url="https://github.com/microbiome/HITdb",
    note=(
        "Uncultured OTU entries (species field 'OTUnnn|NN=...|D=...') are kept to genus; "
        "'Genus_species_ACC' entries give the species 'Genus species'."
    ),
)
ZYMO = SourceInfo(
    name="ZymoBIOMICS D6300 16S gene copies (Emu example database)",
    version="treangenlab/emu commit 63b6e690d25804a7af4e0544474084b7145917b1",
    licence="MIT (treangenlab/emu)",
    citation=(
        "Curry KD et al. (2022) Emu: species-level microbial community profiling of full-length "
        "16S rRNA Oxford Nanopore sequencing data. Nat Methods 19:845-853. "
        "doi:10.1038/s41592-022-01520-4"
    ),
    url="https://github.com/treangenlab/emu",
    note="Sequences derive from Zymo's published strain assemblies (ZymoBIOMICS.STD.refseq.v2).",
)
HMP = SourceInfo(
    name="HMP/BEI mock community 16S gene copies (R. Edgar)",
    version="benjjneb/LRASManuscript commit b89bbc72f10b4df745a7b20a60ba4ff882f16864",
    licence=(
        "No licence file in the repository; the sequences are cut from public NCBI RefSeq "
        "genomes (NCBI places no restrictions on the use or distribution of these records)."
    ),
    citation=(
        "Callahan BJ et al. (2019) High-throughput amplicon sequencing of the full-length 16S "
        "rRNA gene with single-nucleotide resolution. Nucleic Acids Res 47:e103. "
        "doi:10.1093/nar/gkz569"
    ),
    url="https://github.com/benjjneb/LRASManuscript",
)
EMU_TAXONOMY = SourceInfo(
    name="Emu default database taxonomy (NCBI, 2020-09-17)",
    version="treangenlab/emu commit 3fa08fd1dbb766c1ace38ba141e3cbd909f8c2c3",
    licence="MIT (treangenlab/emu)",
    citation="NCBI Taxonomy; Curry KD et al. (2022) Nat Methods 19:845-853",
    note="Used for NCBI tax ids (by species name) and lineages of mock members HITdb lacks.",
)
RRNDB = SourceInfo(
    name="rrnDB",
    version="5.4",
    licence=(
        "No explicit licence; rrnDB is freely available research data whose authors ask to be "
        "cited. Only per-species and per-genus mean 16S copy numbers are stored."
    ),
    citation=(
        "Stoddard SF, Smith BJ, Hein R, Roller BRK, Schmidt TM (2015) rrnDB: improved tools for "
        "interpreting rRNA gene abundance in bacteria and archaea and a new foundation for future "
        "development. Nucleic Acids Res 43:D593-D598. doi:10.1093/nar/gku1201"
    ),
    url="https://rrndb.umms.med.umich.edu/",
)


def _emu_taxonomy(path: Path) -> dict[str, tuple[str, Lineage]]:
    """Species name -> (NCBI tax id, lineage) from Emu's taxonomy table."""
    table: dict[str, tuple[str, Lineage]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            values = dict(zip(header, line.rstrip("\n").split("\t"), strict=False))
            species = values.get("species", "")
            if species and species not in table:
                table[species] = (values["tax_id"], Lineage.from_mapping(values))
    return table


def _genus_lineages(records: dict[str, TaxonRecord]) -> dict[str, Lineage]:
    """Genus -> its most common lineage above species in ``records``."""
    counts: dict[str, Counter[Lineage]] = {}
    for record in records.values():
        genus = record.lineage.genus
        if genus is not None:
            counts.setdefault(genus, Counter())[replace(record.lineage, species=None)] += 1
    return {genus: counter.most_common(1)[0][0] for genus, counter in sorted(counts.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=default_bundle_path())
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare bytes"
    )
    args = parser.parse_args(argv)
    data = args.shared / "data"
    hitdb_dir = data / "hitdb_human_intestinal_16s"
    mock_dir = data / "mock_member_16s_references"

    hitdb = read_import(
        hitdb_dir / "HITdb_sequences.fna.gz",
        hitdb_dir / "HITdb_taxonomy_qiime.txt.gz",
        format="hitdb",
    )
    emu = _emu_taxonomy(data / "emu_reference_taxonomy" / "emu_default_db_taxonomy.tsv.gz")
    taxonomy: dict[str, TaxonRecord] = dict(hitdb.taxonomy)
    hitdb_species = {
        r.lineage.species: r.lineage for r in taxonomy.values() if r.lineage.species is not None
    }
    genus_lineage = _genus_lineages(taxonomy)
    skipped: list[str] = []

    def mock_lineage(species: str) -> Lineage | None:
        if species in hitdb_species:
            return hitdb_species[species]
        genus = species.split()[0]
        if genus in genus_lineage:
            return replace(genus_lineage[genus], species=species)
        if species in emu:
            return emu[species][1]
        return None

    mock_sequences: list[tuple[str, str]] = []
    zymo_fasta = mock_dir / "zymo_d6300_16S_gene_copies.fasta"
    for header, sequence, _ in read_fasta(zymo_fasta):
        ref_id = header.split()[0]
        species = ref_id.rsplit("_16S_", 1)[0].replace("_", " ")
        lineage = mock_lineage(species)
        if lineage is None:
            skipped.append(ref_id)
            continue
        taxonomy[f"zymo|{ref_id}"] = TaxonRecord(lineage=lineage)
        mock_sequences.append((f"zymo|{ref_id}", sequence))
    hmp_fasta = mock_dir / "hmp_bei_mock_16S_gene_copies_edgar.fasta"
    for header, sequence, _ in read_fasta(hmp_fasta):
        accession, _, rest = header.partition(" ")
        words = rest.split()
        species = " ".join(words[:2])
        coordinates = header.split(";gene=", 1)[1].split("(", 1)[0]
        ref_id = f"hmp|{accession}:{coordinates}"
        lineage = mock_lineage(species)
        if lineage is None:
            skipped.append(ref_id)
            continue
        taxonomy[ref_id] = TaxonRecord(lineage=lineage)
        mock_sequences.append((ref_id, sequence))

    # NCBI tax ids by species name (HITdb 2015 names; NCBI 2020 renames are not matched)
    for ref_id, record in list(taxonomy.items()):
        species = record.lineage.species
        if species is not None and species in emu:
            taxonomy[ref_id] = replace(record, taxid=emu[species][0])

    copy_table = read_rrndb_copy_numbers(data / "rrndb_16s_copy_number" / "rrnDB-5.4.tsv.gz")
    taxonomy, copy_counts = apply_copy_numbers(taxonomy, copy_table)

    def sequences() -> Iterator[tuple[str, str]]:
        yield from hitdb.sequences
        yield from mock_sequences

    description = (
        "Gut-focused default reference: HITdb v1.00 human-intestinal 16S sequences plus the 16S "
        "gene copies of the ZymoBIOMICS D6300 and HMP/BEI mock-community members, with rrnDB 5.4 "
        "16S copy numbers. Not a general-purpose database: import a full one (Emu, SILVA) for "
        "non-gut samples."
    )
    extra = {
        "copy_numbers": {
            "source": copy_table.source,
            "join": "species mean, else genus mean",
            "matched": copy_counts,
        },
        "default_build": {
            "script": "scripts/build_default_reference.py",
            "skipped_mock_sequences": skipped,
        },
    }
    out: Path = args.out
    scratch = tempfile.TemporaryDirectory() if args.check else None
    target = Path(scratch.name) / "reference" if scratch is not None else out
    bundle = build_bundle(
        target,
        sequences=sequences(),
        taxonomy=taxonomy,
        name=DEFAULT_BUNDLE_NAME,
        version=VERSION,
        source="scripts/build_default_reference.py",
        licence=(
            "Mixed, all redistributable with attribution: HITdb (article CC BY 4.0, no licence "
            "file in its repository), Emu files (MIT), RefSeq-derived mock sequences, rrnDB "
            "copy numbers (cite). See 'sources'."
        ),
        citation=HITDB.citation,
        sources=[HITDB, ZYMO, HMP, EMU_TAXONOMY, RRNDB],
        description=description,
        extra=extra,
        builder={"script": "scripts/build_default_reference.py", "bundle_version": VERSION},
        compresslevel=9,
        replace=True,
    )
    print(
        f"{bundle.name} {bundle.version}: {bundle.n_sequences} sequences, "
        f"{len(mock_sequences)} mock-member copies, skipped {len(skipped)}; copy numbers "
        f"{copy_counts}; sha256 {bundle.sha256}; {target}"
    )
    if args.check:
        same = all(
            (target / name).read_bytes() == (out / name).read_bytes()
            for name in ("manifest.json", "sequences.fasta.gz", "taxonomy.tsv")
        )
        print("identical to the committed bundle" if same else "DIFFERS from the committed bundle")
        if scratch is not None:
            scratch.cleanup()
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
