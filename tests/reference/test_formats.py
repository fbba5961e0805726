"""Importers: each format on a tiny fixture and on the real examples in ../shared/data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.reference.bundle import ReferenceWarning, read_sequences
from gutbrain.reference.copy_numbers import read_rrndb_copy_numbers
from gutbrain.reference.formats import (
    import_bundle,
    parse_lineage_string,
    read_fasta,
    read_import,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


# ---------------------------------------------------------------------------- lineage strings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
            "g__Faecalibacterium; s__prausnitzii",
            Lineage(
                "Bacteria",
                "Firmicutes",
                "Clostridia",
                "Clostridiales",
                "Ruminococcaceae",
                "Faecalibacterium",
                "Faecalibacterium prausnitzii",
            ),
        ),
        (
            "k__Bacteria; p__Firmicutes; c__; o__; f__; g__; s__",
            Lineage("Bacteria", "Firmicutes"),
        ),
        (
            "D_0__Bacteria;D_1__Verrucomicrobia;D_2__Verrucomicrobiae;D_3__Verrucomicrobiales;"
            "D_4__Akkermansiaceae;D_5__Akkermansia;D_6__uncultured bacterium",
            Lineage(
                "Bacteria",
                "Verrucomicrobia",
                "Verrucomicrobiae",
                "Verrucomicrobiales",
                "Akkermansiaceae",
                "Akkermansia",
            ),
        ),
        # unprefixed, starting at the domain
        (
            "Bacteria;Actinobacteria;Actinobacteria;Bifidobacteriales;Bifidobacteriaceae;"
            "Bifidobacterium;Bifidobacterium_longum",
            Lineage(
                "Bacteria",
                "Actinobacteria",
                "Actinobacteria",
                "Bifidobacteriales",
                "Bifidobacteriaceae",
                "Bifidobacterium",
                "Bifidobacterium longum",
            ),
        ),
        # unprefixed without a domain starts at phylum (HITdb, RDP-style)
        (
            "Firmicutes;Clostridia;Clostridiales;Ruminococcaceae;Faecalibacterium",
            Lineage(
                None,
                "Firmicutes",
                "Clostridia",
                "Clostridiales",
                "Ruminococcaceae",
                "Faecalibacterium",
            ),
        ),
        # dada2 training header (trailing ';')
        (
            "Bacteria;Actinobacteria;Actinobacteria;Actinomycetales;Mycobacteriaceae;Mycobacterium;",
            Lineage(
                "Bacteria",
                "Actinobacteria",
                "Actinobacteria",
                "Actinomycetales",
                "Mycobacteriaceae",
                "Mycobacterium",
            ),
        ),
        # SINTAX
        (
            "tax=d:Bacteria,p:Bacteroidetes,c:Chitinophagia,o:Chitinophagales,"
            "f:Chitinophagaceae,g:Parafilimonas;",
            Lineage(
                "Bacteria",
                "Bacteroidetes",
                "Chitinophagia",
                "Chitinophagales",
                "Chitinophagaceae",
                "Parafilimonas",
            ),
        ),
        # placeholders become unknown; "sp." is not a species
        (
            "k__Bacteria; p__Firmicutes; g__Unclassified_Clostridiales; s__Clostridium sp.",
            Lineage("Bacteria", "Firmicutes"),
        ),
    ],
)
def test_parse_lineage_string(text: str, expected: Lineage) -> None:
    assert parse_lineage_string(text) == expected


_NAME = st.from_regex(r"[A-Z][a-z]{2,12}", fullmatch=True)


@given(
    names=st.lists(_NAME, min_size=6, max_size=6),
    epithet=st.from_regex(r"[a-z]{3,12}", fullmatch=True),
)
@settings(max_examples=60, deadline=None)
def test_greengenes_and_silva_strings_round_trip(names: list[str], epithet: str) -> None:
    lineage = Lineage(*names, species=f"{names[5]} {epithet}")
    prefixes = ("k", "p", "c", "o", "f", "g")
    greengenes = "; ".join(f"{p}__{n}" for p, n in zip(prefixes, names, strict=True))
    assert parse_lineage_string(f"{greengenes}; s__{epithet}") == lineage
    silva = ";".join(f"D_{i}__{n}" for i, n in enumerate(names))
    assert parse_lineage_string(f"{silva};D_6__{names[5]} {epithet}") == lineage


# ---------------------------------------------------------------------------- tiny fixtures


def _import(tmp_path: Path, fmt: str, sequences: Path, taxonomy: Path | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return import_bundle(
        sequences,
        taxonomy,
        format=fmt,
        name=f"t-{fmt}",
        out=tmp_path / fmt,
        **kw,  # type: ignore[arg-type]
    )


def test_qiime_greengenes_file_with_header(tmp_path: Path) -> None:
    bundle = _import(
        tmp_path, "qiime", FIXTURES / "tiny.fasta", FIXTURES / "qiime_greengenes_taxonomy.tsv"
    )
    assert bundle.taxonomy["ref1"].species == "Faecalibacterium prausnitzii"
    assert bundle.taxonomy["ref2"].species is None
    assert bundle.taxonomy["ref4"].species == "Akkermansia muciniphila"
    assert bundle.taxonomy["ref5"].superkingdom == "Archaea"


def test_qiime_silva_d_prefixes(tmp_path: Path) -> None:
    bundle = _import(
        tmp_path, "qiime", FIXTURES / "tiny.fasta", FIXTURES / "qiime_silva_taxonomy.txt"
    )
    assert bundle.taxonomy["ref1"].species == "Faecalibacterium prausnitzii"
    assert bundle.taxonomy["ref2"].species is None  # "uncultured bacterium"
    assert bundle.taxonomy["ref3"].genus == "Bifidobacterium"
    assert bundle.taxonomy["ref5"].species is None  # "Ambiguous_taxa"
    assert bundle.taxonomy["ref5"].genus == "Methanobrevibacter"


def test_plain_two_column_lineages(tmp_path: Path) -> None:
    bundle = _import(tmp_path, "plain", FIXTURES / "tiny.fasta", FIXTURES / "plain_taxonomy.tsv")
    assert bundle.taxonomy["ref2"] == Lineage(
        "Bacteria", "Firmicutes", "Clostridia", "Clostridiales", "Ruminococcaceae",
        "Faecalibacterium",
    )  # fmt: skip
    assert bundle.taxonomy["ref3"].species == "Bifidobacterium longum"
    assert bundle.taxonomy["ref4"] == Lineage("Bacteria", "Verrucomicrobia")
    assert bundle.taxonomy["ref5"].species is None


def test_silva_release_headers_rna_to_dna(tmp_path: Path) -> None:
    bundle = _import(tmp_path, "silva", FIXTURES / "silva_headers.fasta")
    first = bundle.taxonomy["AB000001.1.160"]
    assert first.species == "Faecalibacterium prausnitzii"  # strain "A2-165" dropped
    assert first.family == "Ruminococcaceae"
    assert bundle.taxonomy["AB000002.1.160"].species is None
    sequences = dict(read_sequences(bundle))
    assert "U" not in sequences["AB000001.1.160"]
    tiny = {h.split()[0]: s for h, s, _ in read_fasta(FIXTURES / "tiny.fasta")}
    assert sequences["AB000001.1.160"] == tiny["ref1"]


def test_emu_species_taxid_layout_with_real_emu_taxonomy(tmp_path: Path, shared_dir: Path) -> None:
    taxonomy = shared_dir / "data" / "emu_reference_taxonomy" / "emu_default_db_taxonomy.tsv.gz"
    bundle = _import(tmp_path, "emu", FIXTURES / "emu_species_taxid.fasta", taxonomy)
    # Emu taxonomy.tsv: 1613 = Limosilactobacillus fermentum, 853 = Faecalibacterium prausnitzii
    assert bundle.taxonomy["1613:emu_db:1"].species == "Limosilactobacillus fermentum"
    assert bundle.taxonomy["1613:emu_db:1"].superkingdom == "Bacteria"
    assert bundle.taxonomy["853:emu_db:3"].family == "Ruminococcaceae"
    assert bundle.taxids == {
        "1613:emu_db:1": "1613",
        "1613:emu_db:2": "1613",
        "853:emu_db:3": "853",
    }


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("truncated.fasta.gz", "GB-REF-FORMAT"),
        ("binary_garbage.fasta", "GB-REF-FORMAT"),
        ("no_header.fasta", "GB-REF-FORMAT"),
    ],
)
def test_malformed_sequence_files(tmp_path: Path, fixture: str, code: str) -> None:
    with pytest.raises(ReferenceDatabaseError) as info:
        _import(tmp_path, "tsv-ranks", FIXTURES / fixture, FIXTURES / "tiny_taxonomy.tsv")
    assert info.value.code == code
    assert fixture in str(info.value)
    assert not (tmp_path / "tsv-ranks").exists()


def test_empty_sequence_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.fasta"
    empty.write_bytes(b"")
    with pytest.raises(ReferenceDatabaseError) as info:
        _import(tmp_path, "tsv-ranks", empty, FIXTURES / "tiny_taxonomy.tsv")
    assert info.value.code == "GB-REF-EMPTY"


def test_unknown_format_and_missing_sequences(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDatabaseError, match="unknown reference format 'genbank'"):
        read_import(FIXTURES / "tiny.fasta", format="genbank")
    with pytest.raises(ReferenceDatabaseError) as info:
        read_import(tmp_path / "nope.fasta", FIXTURES / "tiny_taxonomy.tsv", format="tsv-ranks")
    assert info.value.code == "GB-REF-SEQFILE"


def test_tsv_ranks_needs_a_rank_header(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDatabaseError, match="header naming rank columns") as info:
        read_import(FIXTURES / "tiny.fasta", FIXTURES / "plain_taxonomy.tsv", format="tsv-ranks")
    assert info.value.code == "GB-REF-TAX"


def test_rrndb_means_by_hand() -> None:
    table = read_rrndb_copy_numbers(FIXTURES / "rrndb_mini.tsv")
    assert table.source == "rrnDB 5.4"
    assert table.species == {
        "Faecalibacterium prausnitzii": 6.0,
        "Bifidobacterium longum": 4.0,
        "Akkermansia muciniphila": 3.0,
        "Akkermansia glycaniphila": 5.0,
    }
    assert table.genus == {"Faecalibacterium": 5.0, "Bifidobacterium": 4.0, "Akkermansia": 4.0}
    assert table.lookup(Lineage(genus="Akkermansia", species="Akkermansia sp.")) == (4.0, "genus")
    assert table.lookup(Lineage(genus="Blautia")) is None


# ---------------------------------------------------------------------------- real examples


def test_bench_reference_tsv_ranks(tmp_path: Path, shared_dir: Path) -> None:
    ref = shared_dir / "bench" / "reference"
    with pytest.warns(ReferenceWarning, match="Incertae Sedis XI"):
        bundle = _import(tmp_path, "tsv-ranks", ref / "ref.fasta.gz", ref / "ref_seq_taxonomy.tsv")
    assert bundle.n_sequences == 5173
    # first rows of ref_seq_taxonomy.tsv, kept verbatim (including "sp." names)
    assert bundle.taxids["7000004128189528"] == "100055"
    assert bundle.taxonomy["7000004128189528"].species == "Acidothermus cellulolyticus"
    assert bundle.taxonomy["7000004128189537"].genus == "Megamonas"
    assert "Acinetobacter sp." in {lin.species for lin in bundle.taxonomy.values()}
    assert len({lin.species for lin in bundle.taxonomy.values() if lin.species}) == 4774
    inputs = bundle.manifest["import"]["inputs"]
    assert [entry["name"] for entry in inputs] == ["ref.fasta.gz", "ref_seq_taxonomy.tsv"]
    assert inputs[0]["sha256"] == hashlib.sha256((ref / "ref.fasta.gz").read_bytes()).hexdigest()
    assert str(ref) not in json.dumps(bundle.manifest)  # no local paths in the manifest


@pytest.mark.parametrize(
    "taxonomy", ["HITdb_taxonomy_qiime.txt.gz", "HITdb_taxonomy_mothur.txt.gz"]
)
def test_hitdb(tmp_path: Path, shared_dir: Path, taxonomy: str) -> None:
    folder = shared_dir / "data" / "hitdb_human_intestinal_16s"
    with pytest.warns(ReferenceWarning):
        bundle = _import(tmp_path, "hitdb", folder / "HITdb_sequences.fna.gz", folder / taxonomy)
    assert bundle.n_sequences == 2473
    defectiva = bundle.taxonomy["Abiotrophia_defectiva_AY879307"]
    assert defectiva == Lineage(
        "Bacteria", "Firmicutes", "Bacilli", "Lactobacillales", "Aerococcaceae", "Abiotrophia",
        "Abiotrophia defectiva",
    )  # fmt: skip
    # uncultured OTU: genus only, its nearest neighbour (Sphingomonas panni, 96.2 %) is not taken
    assert bundle.taxonomy["OTU834"].genus == "Sphingomonas"
    assert bundle.taxonomy["OTU834"].species is None
    # "unclassified" genus becomes unknown
    assert bundle.taxonomy["OTU744"].genus is None
    assert bundle.taxonomy["OTU744"].family == "Ruminococcaceae"
    # accession inside the species field is dropped; archaea get their domain
    smithii = bundle.taxonomy["Methanobrevibacter_smithii_U55233.1"]
    assert smithii.species == "Methanobrevibacter smithii"
    assert smithii.superkingdom == "Archaea"
    assert bundle.manifest["counts"]["with_species"] >= 950  # 964 named entries, 6 inconsistent


def test_hitdb_qiime_file_through_the_qiime_importer(tmp_path: Path, shared_dir: Path) -> None:
    # The generic importer reads HITdb's 6-level strings from phylum (no domain first) and gives
    # the same lineages as the dedicated HITdb importer.
    folder = shared_dir / "data" / "hitdb_human_intestinal_16s"
    args = (folder / "HITdb_sequences.fna.gz", folder / "HITdb_taxonomy_qiime.txt.gz")
    with pytest.warns(ReferenceWarning):
        generic = _import(tmp_path, "qiime", *args)
    with pytest.warns(ReferenceWarning):
        dedicated = _import(tmp_path, "hitdb", *args)
    assert generic.taxonomy["OTU834"] == dedicated.taxonomy["OTU834"]
    assert generic.taxonomy["OTU834"].species is None
    smithii = generic.taxonomy["Methanobrevibacter_smithii_U55233.1"]
    assert smithii == dedicated.taxonomy["Methanobrevibacter_smithii_U55233.1"]
    differ = [i for i in generic.taxonomy if generic.taxonomy[i] != dedicated.taxonomy[i]]
    # only the rows whose species field disagrees with their own genus (HITdb rule) differ
    assert 0 < len(differ) <= 6


def test_lras_silva128_rank_table(tmp_path: Path, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "lras_human_fecal_fulllength16s_asvs"
    with pytest.warns(ReferenceWarning):
        bundle = _import(
            tmp_path,
            "qiime",
            folder / "lras_fecal_asvs.fasta.gz",
            folder / "lras_fecal_asv_taxonomy_silva128.tsv.gz",
        )
    assert bundle.n_sequences == 1411
    assert bundle.taxonomy["ASV0001"].genus == "Akkermansia"
    assert bundle.taxonomy["ASV0001"].superkingdom == "Bacteria"
    assert bundle.manifest["counts"]["with_species"] == 0
    assert sum(1 for lin in bundle.taxonomy.values() if lin.genus is None) == 203


def test_zymo_emu_custom_database_mixed_ranks(tmp_path: Path, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "mock_member_16s_references"
    bundle = _import(
        tmp_path,
        "emu",
        folder / "zymo_d6300_16S_gene_copies.fasta",
        folder / "zymo_d6300_taxonomy.tsv",
        seq2taxid=folder / "zymo_d6300_16S_seq2taxid.map",
    )
    assert bundle.n_sequences == 45
    # PROVENANCE: _16S_1 -> 1386 (genus Bacillus), _16S_2 -> 2 (Bacteria)
    assert bundle.taxonomy["Bacillus_subtilis_16S_1"] == Lineage(
        "Bacteria", "Firmicutes", "Bacilli", "Bacillales", "Bacillaceae", "Bacillus"
    )
    assert bundle.taxonomy["Bacillus_subtilis_16S_2"] == Lineage("Bacteria")
    assert bundle.taxonomy["Bacillus_subtilis_16S_3"].species == "Bacillus subtilis"
    assert bundle.taxids["Bacillus_subtilis_16S_2"] == "2"


def test_dada2_training_and_species_sets(tmp_path: Path, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "dada2_example_reference_sets"
    bundle = import_bundle(
        [folder / "example_train_set.fa.gz", folder / "example_species_assignment.fa.gz"],
        format="dada2",
        name="dada2",
        out=tmp_path / "dada2",
    )
    assert bundle.n_sequences == 114
    assert bundle.taxonomy["dada2_train_000001"] == Lineage(
        "Bacteria", "Actinobacteria", "Actinobacteria", "Actinomycetales", "Mycobacteriaceae",
        "Mycobacterium",
    )  # fmt: skip
    rhodococcus = bundle.taxonomy["S003281126"]
    assert rhodococcus.species == "Rhodococcus erythropolis"
    assert rhodococcus.genus == "Rhodococcus"


def test_sintax_headers(tmp_path: Path, shared_dir: Path) -> None:
    folder = shared_dir / "data" / "dada2_example_reference_sets"
    bundle = _import(tmp_path, "sintax", folder / "ten_16s.100.fa.gz")
    assert bundle.n_sequences == 3994
    assert bundle.taxonomy["gi_961555154"].genus == "Parafilimonas"
    assert bundle.manifest["counts"]["genera"] == 1184


def test_rrndb_bad_count_is_an_error_naming_the_line() -> None:
    """Regression: a count such as 'seven' was silently skipped."""
    with pytest.raises(ReferenceDatabaseError, match=r"rrndb_bad_count.tsv:3: .*'seven'") as info:
        read_rrndb_copy_numbers(FIXTURES / "rrndb_bad_count.tsv")
    assert info.value.code == "GB-REF-COPY"


def test_real_rrndb_copy_numbers(shared_dir: Path) -> None:
    table = read_rrndb_copy_numbers(
        shared_dir / "data" / "rrndb_16s_copy_number" / "rrnDB-5.4.tsv.gz"
    )
    assert table.source == "rrnDB 5.4"
    # E. coli genomes carry 7 rrn operons (rrnDB; Stoddard et al. 2015)
    assert table.species["Escherichia coli"] == pytest.approx(7.0, abs=0.2)
    assert 1.0 <= min(table.genus.values()) <= max(table.genus.values()) <= 21.0


# ---------------------------------------------------------------------------- NCBI dumps (R06)


def test_zymo_ncbi_dump_agrees_with_its_taxonomy_table(tmp_path: Path, shared_dir: Path) -> None:
    # Two representations of the same taxonomy in PROVENANCE (taxonomy.tsv and names/nodes.dmp)
    # must give the same lineage for every sequence.
    folder = shared_dir / "data" / "mock_member_16s_references"
    common = {
        "seq2taxid": folder / "zymo_d6300_16S_seq2taxid.map",
    }
    table = _import(
        tmp_path / "a",
        "emu",
        folder / "zymo_d6300_16S_gene_copies.fasta",
        folder / "zymo_d6300_taxonomy.tsv",
        **common,
    )
    dump = _import(
        tmp_path / "b",
        "emu",
        folder / "zymo_d6300_16S_gene_copies.fasta",
        folder / "zymo_d6300_nodes.dmp",
        **common,
    )
    assert dict(dump.taxonomy) == dict(table.taxonomy)
    assert dump.taxonomy["Lactobacillus_fermentum_16S_1"].genus == "Limosilactobacillus"


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ("ncbi_cycle_nodes.dmp", r"tax id \d+ has a cycle in its parents"),
        ("ncbi_unknown_parent_nodes.dmp", r"tax id 101 .*has unknown parent 999"),
    ],
)
def test_taxonomy_tree_broken(tmp_path: Path, nodes: str, expected: str) -> None:
    with pytest.raises(ReferenceDatabaseError, match=expected) as info:
        _import(
            tmp_path,
            "emu",
            FIXTURES / "tiny.fasta",
            FIXTURES / nodes,
            seq2taxid=FIXTURES / "ncbi_seq2taxid.map",
        )
    assert info.value.code == "GB-REF-TREE"
    assert not (tmp_path / "emu").exists()


def test_emu_database_folder(tmp_path: Path) -> None:
    database = tmp_path / "emu_db"
    database.mkdir()
    (database / "species_taxid.fasta").write_bytes(
        (FIXTURES / "emu_species_taxid.fasta").read_bytes()
    )
    (database / "taxonomy.tsv").write_text(
        "tax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tclade\tsuperkingdom\n"
        "1613\tLimosilactobacillus fermentum\tLimosilactobacillus\tLactobacillaceae\t"
        "Lactobacillales\tBacilli\tFirmicutes\tTerrabacteria group\tBacteria\n"
        "853\tFaecalibacterium prausnitzii\tFaecalibacterium\tRuminococcaceae\tClostridiales\t"
        "Clostridia\tFirmicutes\tTerrabacteria group\tBacteria\n",
        encoding="utf-8",
    )
    bundle = _import(tmp_path, "emu", database)
    assert bundle.n_sequences == 3
    assert bundle.taxonomy["853:emu_db:3"].species == "Faecalibacterium prausnitzii"


def test_utf8_bom_is_stripped_from_reference_inputs(tmp_path: Path) -> None:
    """Regression: a BOM (Windows editors) made the first taxonomy ID '\\ufeffref1', so ref1
    was reported as a sequence without taxonomy, and a BOM before '>' refused the FASTA."""
    taxonomy = tmp_path / "bom_taxonomy.tsv"
    taxonomy.write_bytes(
        b"\xef\xbb\xbf" + (FIXTURES / "qiime_greengenes_taxonomy.tsv").read_bytes()
    )
    fasta = tmp_path / "bom.fasta"
    fasta.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "tiny.fasta").read_bytes())
    plain = _import(
        tmp_path / "plain",
        "qiime",
        FIXTURES / "tiny.fasta",
        FIXTURES / "qiime_greengenes_taxonomy.tsv",
    )
    bom = _import(tmp_path / "bom", "qiime", fasta, taxonomy)
    assert bom.taxonomy == plain.taxonomy
    assert bom.n_sequences == plain.n_sequences


@pytest.mark.parametrize(
    ("fasta", "code"),
    [
        ("non_nucleotide_sequence.fasta", "GB-REF-SEQ"),
        ("empty_sequence.fasta", "GB-REF-SEQ"),
        ("duplicate_ids.fasta", "GB-REF-DUPID"),
    ],
)
def test_record_errors_name_the_input_file(tmp_path: Path, fasta: str, code: str) -> None:
    """Regression: these said 'sequence 2: …' or '1 duplicate reference ID(s)' without the file."""
    with pytest.raises(ReferenceDatabaseError) as info:
        _import(tmp_path, "tsv-ranks", FIXTURES / fasta, FIXTURES / "tiny_taxonomy.tsv")
    assert info.value.code == code
    assert str(info.value).startswith(f"{FIXTURES / fasta}: ")
