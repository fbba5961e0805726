"""read_table: formats, auto-detection and the bad-table catalogue (RELIABILITY.md §2.4)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from gutbrain.errors import EmptyInputError, InputFormatError, LowDepthWarning
from gutbrain.io.tables import (
    detect_format,
    read_table,
    write_profile_biom,
    write_profile_tsv,
    write_table,
)
from gutbrain.model import Profile

FIX = Path(__file__).parent / "fixtures" / "tables"


def _sums_to_one(profile: Profile) -> None:
    for rank in profile.ranks():
        total = sum(r.abundance for r in profile.at_rank(rank)) + profile.unassigned[rank]
        assert total == pytest.approx(1.0, abs=1e-12), rank


# --------------------------------------------------------------------------- bad tables


BAD = [
    # (fixture, error class, code, fragments in the message)
    ("counts_negative.tsv", InputFormatError, "GB-TAB-NEG", ["'S1'", "'Prevotella'", "-5"]),
    ("counts_nan.tsv", InputFormatError, "GB-TAB-NONFINITE", [":2", "'S2'", "'Bacteroides'"]),
    ("counts_inf.tsv", InputFormatError, "GB-TAB-NONFINITE", [":3", "'S1'", "'Prevotella'"]),
    ("counts_empty_cell.tsv", InputFormatError, "GB-TAB-NONFINITE", [":2", "'S2'"]),
    ("counts_non_numeric.tsv", InputFormatError, "GB-TAB-NUM", [":3", "'S1'", "'abc'"]),
    ("counts_decimal_comma.tsv", InputFormatError, "GB-TAB-NUM", [":2", "decimal comma"]),
    ("duplicate_sample_ids.tsv", InputFormatError, "GB-TAB-DUPSAMPLE", ["'S1'"]),
    ("duplicate_taxon_ids.tsv", InputFormatError, "GB-TAB-DUPTAXON", ["'Bacteroides'"]),
    ("ragged_row_short.tsv", InputFormatError, "GB-TAB-RAGGED", [":3", "2 cells, expected 3"]),
    ("ragged_row_long.tsv", InputFormatError, "GB-TAB-RAGGED", [":2", "4 cells, expected 3"]),
    ("fractions_bad_sum.tsv", InputFormatError, "GB-TAB-SUM", ["'S1'", "0.7"]),
    ("mixed_percent_fraction.tsv", InputFormatError, "GB-TAB-MIXED", ["'S1'", "'S2'"]),
    ("header_only.tsv", EmptyInputError, "GB-EMPTY", ["header only"]),
    ("empty.tsv", EmptyInputError, "GB-EMPTY", ["empty"]),
    ("unicode_id_collision.tsv", InputFormatError, "GB-TAB-DUPSAMPLE", ["'S1 '"]),
    ("unicode_nfc_collision.tsv", InputFormatError, "GB-TAB-DUPSAMPLE", ["normalising"]),
    ("latin1_encoded.tsv", InputFormatError, "GB-TAB-ENCODING", ["Latin-1", ":2"]),
    ("utf16_encoded.tsv", InputFormatError, "GB-TAB-ENCODING", ["UTF-16"]),
    ("biom1_negative.biom", InputFormatError, "GB-TAB-NEG", ["'S1'", "'f2'"]),
    ("biom1_nan.biom", InputFormatError, "GB-TAB-NONFINITE", ["'S1'", "'f2'"]),
    ("biom1_inf.biom", InputFormatError, "GB-TAB-NONFINITE", ["'S2'", "'f1'"]),
    ("biom1_ragged_row.biom", InputFormatError, "GB-TAB-RAGGED", ["row 2", "1 values"]),
    ("biom1_non_numeric.biom", InputFormatError, "GB-TAB-NUM", ["'S1'", "'f2'", "'abc'"]),
    ("biom1_duplicate_samples.biom", InputFormatError, "GB-TAB-DUPSAMPLE", ["'S1'"]),
    ("biom1_sparse_out_of_shape.biom", InputFormatError, "GB-TAB-RAGGED", ["entry 2"]),
    ("biom1_deep_json.biom", InputFormatError, "GB-TAB-BIOM", ["deeper than 32"]),
    ("not_a_table.txt", InputFormatError, "GB-TAB-FORMAT", ["--format"]),
]


@pytest.mark.parametrize(("name", "error", "code", "fragments"), BAD, ids=[b[0] for b in BAD])
def test_bad_table_rejected_with_location(
    name: str, error: type[Exception], code: str, fragments: list[str]
) -> None:
    with pytest.raises(error) as info:
        read_table(FIX / name)
    message = str(info.value)
    assert name in message  # the table is named
    assert getattr(info.value, "code", "").startswith(code)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_fractional_counts_require_relative_type() -> None:
    # auto: non-integer values that sum to neither 1 nor 100 are refused (T08)
    with pytest.raises(InputFormatError, match=r"'S1': non-integer values summing to 12\.5"):
        read_table(FIX / "fractional_counts.tsv")
    with pytest.raises(InputFormatError, match=r"10\.5 is not a whole number") as info:
        read_table(FIX / "fractional_counts.tsv", value_type="counts")
    assert info.value.code == "GB-TAB-NOTCOUNT"
    # declared quantities are accepted, without reads
    profiles = read_table(FIX / "fractional_counts.tsv", value_type="quantities", rank="genus")
    assert profiles[0].total_reads is None
    assert profiles[0].at_rank("genus")[0].abundance == pytest.approx(10.5 / 12.5)


def test_all_zero_sample_excluded_with_reason() -> None:
    with pytest.warns(LowDepthWarning, match="1 sample.*'S2'"):
        profiles = read_table(FIX / "all_zero_sample.tsv", rank="genus")
    assert [p.sample_id for p in profiles] == ["S1", "S3"]
    for p in profiles:
        assert all(np.isfinite(r.abundance) for r in p.rows)
        _sums_to_one(p)


def test_all_zero_table_gives_no_profiles_and_warns() -> None:
    with pytest.warns(LowDepthWarning, match="2 sample"):
        assert read_table(FIX / "all_zero_table.tsv", rank="genus") == []


def test_taxonomy_for_a_format_with_its_own_lineages_is_refused() -> None:
    """Regression: --taxonomy with a Kraken report was silently ignored."""
    with pytest.raises(InputFormatError, match=r"qiime_taxonomy\.tsv would be ignored") as info:
        read_table(FIX / "kraken2_sample.kreport", taxonomy=FIX / "qiime_taxonomy.tsv")
    assert info.value.code == "GB-TAB-TAXONOMY"


def test_sample_total_overflow_is_refused(tmp_path: Path) -> None:
    """Regression: two finite cells of 1e308 summed to inf and crashed (OverflowError)."""
    table = tmp_path / "huge.tsv"
    table.write_text("taxon\tS1\tS2\nA\t1e308\t1\nB\t1e308\t2\n")
    with pytest.raises(InputFormatError, match="sample 'S1': its values add up beyond") as info:
        read_table(table)
    assert info.value.code == "GB-TAB-NONFINITE"
    assert str(table) in str(info.value)


def test_biom_hdf5_negative_and_nan_rejected(tmp_path: Path) -> None:
    import biom
    import h5py

    for bad, code in ((-3.0, "GB-TAB-NEG"), (np.nan, "GB-TAB-NONFINITE")):
        table = biom.Table(np.array([[1.0, bad], [2.0, 3.0]]), ["f1", "f2"], ["A", "B"])
        path = tmp_path / f"bad_{code}.biom"
        with h5py.File(path, "w") as handle:
            table.to_hdf5(handle, "test")
        with pytest.raises(InputFormatError) as info:
            read_table(path, rank="genus")
        assert info.value.code == code
        assert "sample 'B', taxon 'f1'" in str(info.value)


def test_bom_is_stripped() -> None:
    profiles = read_table(FIX / "bom_utf8.tsv", rank="genus")
    assert [p.sample_id for p in profiles] == ["S1", "S2"]


# --------------------------------------------------------------------------- good formats


def test_plain_counts_known_values() -> None:
    s1, s2 = read_table(FIX / "counts_genus_good.tsv", rank="genus")
    assert s1.total_reads == 20
    assert s2.total_reads == 20
    assert {r.taxon: r.reads for r in s1.at_rank("genus")} == {
        "Bacteroides": 10.0,
        "Prevotella": 5.0,
        "Akkermansia": 5.0,
    }
    assert {r.taxon: r.abundance for r in s2.at_rank("genus")} == {"Prevotella": 1.0}
    assert s1.provenance.source == "import:tsv"
    assert "counts_genus_good.tsv" in s1.provenance.inputs
    assert len(s1.provenance.inputs["counts_genus_good.tsv"]) == 64


def test_fractions_with_unassigned_row() -> None:
    s1, s2 = read_table(FIX / "fractions_good.tsv", rank="genus")
    assert s1.total_reads is None
    assert s1.unassigned["genus"] == pytest.approx(0.25)
    assert s2.unassigned["genus"] == 0.0
    _sums_to_one(s1)


def test_percent_table() -> None:
    _, s2 = read_table(FIX / "percent_good.tsv", rank="genus")
    assert {r.taxon: r.abundance for r in s2.at_rank("genus")} == pytest.approx(
        {"Bacteroides": 0.255, "Prevotella": 0.745}
    )


def test_silva_level_prefixed_taxonomy_gives_plain_names(tmp_path: Path) -> None:
    """Regression: SILVA's QIIME-release strings (D_0__…D_6__) were read by position, so taxa
    were named 'D_5__Bacteroides' and never matched any knowledge table or reference."""
    taxonomy = tmp_path / "silva_taxonomy.tsv"
    taxonomy.write_text(
        "Feature ID\tTaxon\n"
        "f1\tD_0__Bacteria;D_1__Bacteroidetes;D_2__Bacteroidia;D_3__Bacteroidales;"
        "D_4__Bacteroidaceae;D_5__Bacteroides;D_6__Bacteroides fragilis\n"
        "f2\tD_0__Bacteria;D_1__Bacteroidetes;D_2__Bacteroidia;D_3__Bacteroidales;"
        "D_4__Prevotellaceae;D_5__Prevotella\n"
        "f3\tD_0__Bacteria;D_1__Firmicutes\n"
    )
    s1, _ = read_table(FIX / "qiime_feature_table.tsv", format="qiime-taxonomy", taxonomy=taxonomy)
    assert [r.taxon for r in s1.at_rank("species")] == ["Bacteroides fragilis"]
    assert sorted(r.taxon for r in s1.at_rank("genus")) == ["Bacteroides", "Prevotella"]
    assert s1.at_rank("species")[0].lineage.superkingdom == "Bacteria"


def test_qiime_feature_table_with_taxonomy() -> None:
    s1, s2 = read_table(
        FIX / "qiime_feature_table.tsv",
        format="qiime-taxonomy",
        taxonomy=FIX / "qiime_taxonomy.tsv",
    )
    assert s1.provenance.source == "import:qiime-taxonomy"
    assert set(s1.provenance.inputs) == {"qiime_feature_table.tsv", "qiime_taxonomy.tsv"}
    species = s1.at_rank("species")
    assert [(r.taxon, r.reads) for r in species] == [("Bacteroides fragilis", 10.0)]
    assert species[0].lineage.superkingdom == "Bacteria"
    assert s1.unassigned["species"] == pytest.approx(0.5)  # f2, f3 have no species
    assert s1.unassigned["genus"] == pytest.approx(0.25)  # f3 has no genus
    assert s1.unassigned["phylum"] == 0.0
    assert s2.total_reads == 22
    _sums_to_one(s1)


def test_qiime_format_needs_taxonomy() -> None:
    with pytest.raises(InputFormatError, match="--taxonomy"):
        read_table(FIX / "qiime_feature_table.tsv", format="qiime-taxonomy")


def test_emu_with_counts() -> None:
    (p,) = read_table(FIX / "emu_sample_rel-abundance.tsv")
    assert p.sample_id == "emu_sample"
    assert p.provenance.source == "import:emu"
    assert p.total_reads == 1000  # 900 classified + 60 unmapped + 40 unclassified
    species = {r.taxon: r for r in p.at_rank("species")}
    assert species["Faecalibacterium prausnitzii"].abundance == pytest.approx(0.54)
    assert species["Faecalibacterium prausnitzii"].reads == pytest.approx(540.0)
    assert species["Faecalibacterium prausnitzii"].taxid == "853"
    assert p.unassigned["species"] == pytest.approx(0.1)
    genus = {r.taxon: r.abundance for r in p.at_rank("genus")}
    assert genus == pytest.approx({"Faecalibacterium": 0.54, "Bacteroides": 0.36})
    _sums_to_one(p)


def test_emu_without_counts() -> None:
    (p,) = read_table(FIX / "emu_nocounts_rel-abundance.tsv")
    assert p.total_reads is None
    assert p.unassigned["species"] == 0.0
    assert {r.taxon: r.abundance for r in p.at_rank("species")} == pytest.approx(
        {"Faecalibacterium prausnitzii": 0.75, "Bacteroides fragilis": 0.25}
    )


def test_kraken2_report() -> None:
    (p,) = read_table(FIX / "kraken2_sample.kreport")
    assert p.provenance.source == "import:kraken"
    assert p.total_reads == 1000
    species = {r.taxon: r for r in p.at_rank("species")}
    assert species["Faecalibacterium prausnitzii"].reads == 450
    assert species["Faecalibacterium prausnitzii"].abundance == pytest.approx(0.45)
    assert species["Bacteroides thetaiotaomicron"].reads == 85  # clade reads incl. strain
    assert species["Bacteroides fragilis"].lineage.family == "Bacteroidaceae"
    assert species["Bacteroides fragilis"].taxid == "817"
    assert p.unassigned["species"] == pytest.approx(0.265)
    assert p.unassigned["superkingdom"] == pytest.approx(0.105)
    assert {r.taxon: r.reads for r in p.at_rank("phylum")} == {
        "Bacillota": 500,
        "Bacteroidota": 385,
        "Pseudomonadota": 15,
    }
    _sums_to_one(p)


def test_bracken_output() -> None:
    (p,) = read_table(FIX / "bracken_sample.bracken")
    assert p.provenance.source == "import:bracken"
    assert p.total_reads == 800
    assert {r.taxon: r.abundance for r in p.at_rank("species")} == pytest.approx(
        {
            "Faecalibacterium prausnitzii": 0.6,
            "Bacteroides fragilis": 0.3,
            "Bacteroides thetaiotaomicron": 0.1,
        }
    )


def test_metaphlan4_profile() -> None:
    (p,) = read_table(FIX / "metaphlan4_sample_profile.txt")
    assert p.sample_id == "sampleA"
    assert p.provenance.source == "import:metaphlan"
    species = {r.taxon: r for r in p.at_rank("species")}
    assert set(species) == {"Faecalibacterium prausnitzii", "Bacteroides fragilis"}
    assert species["Faecalibacterium prausnitzii"].abundance == pytest.approx(0.6)
    assert species["Faecalibacterium prausnitzii"].lineage.genus == "Faecalibacterium"
    assert species["Faecalibacterium prausnitzii"].taxid == "853"
    assert p.unassigned["species"] == pytest.approx(0.1)
    _sums_to_one(p)


def test_biom1_json_dense_and_sparse_agree() -> None:
    dense = read_table(FIX / "tiny_biom1.biom")
    sparse = read_table(FIX / "tiny_biom1_sparse.biom")
    assert [p.rows for p in dense] == [p.rows for p in sparse]
    assert dense[0].at_rank("genus")[0].taxon == "Gf1"
    assert dense[0].total_reads == 15


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tiny_biom1.biom", "biom"),
        ("counts_genus_good.tsv", "tsv"),
        ("qiime_feature_table.tsv", "tsv"),
        ("emu_sample_rel-abundance.tsv", "emu"),
        ("kraken2_sample.kreport", "kraken"),
        ("bracken_sample.bracken", "bracken"),
        ("metaphlan4_sample_profile.txt", "metaphlan"),
    ],
)
def test_detect_format(name: str, expected: str) -> None:
    assert detect_format(FIX / name) == expected


# --------------------------------------------------------------------------- round trips


def test_import_then_export_round_trips(tmp_path: Path) -> None:
    profiles = read_table(FIX / "emu_sample_rel-abundance.tsv") + read_table(
        FIX / "kraken2_sample.kreport"
    )
    tsv = write_table(profiles, tmp_path / "p.tsv", format="tsv")
    back = read_table(tsv)
    assert [p.sample_id for p in back] == [p.sample_id for p in profiles]
    for a, b in zip(profiles, back, strict=True):
        assert set(a.rows) == set(b.rows)
        assert dict(a.unassigned) == pytest.approx(dict(b.unassigned))
        assert a.total_reads == b.total_reads
    biom_path = write_profile_biom(profiles, tmp_path / "p.biom")
    exact = read_table(biom_path)
    assert exact == profiles  # the gutbrain block restores every field, provenance included


def test_biom_export_reads_back_in_other_tools_view(tmp_path: Path) -> None:
    """Read our BIOM as a plain BIOM (the gutbrain block ignored by passing a taxonomy)."""
    profiles = read_table(FIX / "kraken2_sample.kreport")
    path = write_profile_biom(profiles, tmp_path / "p.biom")
    taxonomy = tmp_path / "tax.tsv"
    rows = [
        f"{r.taxon}\t" + "; ".join(f"{k[0]}__{v or ''}" for k, v in r.lineage.as_dict().items())
        for r in profiles[0].at_rank("species")
    ]
    taxonomy.write_text("Feature ID\tTaxon\n" + "\n".join(rows) + "\nunassigned\tUnassigned\n")
    (plain,) = read_table(path, taxonomy=taxonomy)
    assert plain.total_reads == 1000
    assert {r.taxon: r.reads for r in plain.at_rank("species")} == {
        r.taxon: r.reads for r in profiles[0].at_rank("species")
    }


def test_cami_export(tmp_path: Path) -> None:
    profiles = read_table(FIX / "kraken2_sample.kreport")
    path = write_table(profiles, tmp_path / "p.cami", format="cami")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "@SampleID:kraken2_sample"
    assert "@@TAXID\tRANK\tTAXPATH\tTAXPATHSN\tPERCENTAGE" in lines
    rows = [line.split("\t") for line in lines if line and not line.startswith("@")]
    species = {r[3].split("|")[-1]: r for r in rows if r[1] == "species"}
    fp = species["Faecalibacterium prausnitzii"]
    assert fp[0] == "853"
    assert float(fp[4]) == pytest.approx(45.0)
    assert fp[3].split("|")[:2] == ["Bacteria", "Bacillota"]
    assert len(fp[2].split("|")) == 7
    for rank in ("phylum", "species"):
        assert sum(float(r[4]) for r in rows if r[1] == rank) <= 100.0 + 1e-9


def test_formula_like_ids_are_quoted_in_tsv_export(tmp_path: Path) -> None:
    profiles = read_table(FIX / "formula_ids.tsv", rank="genus")
    path = write_profile_tsv(profiles, tmp_path / "p.tsv")
    text = path.read_text(encoding="utf-8")
    assert "\n'=HYPERLINK" in text
    assert "\n'+S2\t" in text
    assert "\t'@Bacteroides\t" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_table(path)
    assert [p.sample_id for p in back] == ['=HYPERLINK("x")', "+S2"]


def test_write_table_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="unknown export format"):
        write_table([], tmp_path / "x", format="xlsx")


def test_transposed_table_hint() -> None:
    with pytest.raises(InputFormatError, match="samples seem to be rows") as info:
        read_table(FIX / "samples_as_rows.tsv")
    assert info.value.code == "GB-TAB-TRANSPOSED"


def test_cami_round_trip(tmp_path: Path) -> None:
    profiles = read_table(FIX / "kraken2_sample.kreport") + read_table(
        FIX / "metaphlan4_sample_profile.txt"
    )
    path = write_table(profiles, tmp_path / "p.cami", format="cami")
    assert detect_format(path) == "cami"
    back = read_table(path)
    assert [p.sample_id for p in back] == [p.sample_id for p in profiles]
    for a, b in zip(profiles, back, strict=True):
        assert b.provenance.source == "import:cami"
        for rank in a.ranks():
            ours = {r.lineage: (r.abundance, r.taxid) for r in a.at_rank(rank)}
            theirs = {r.lineage: (r.abundance, r.taxid) for r in b.at_rank(rank)}
            assert set(ours) == set(theirs)
            for key, (abundance, taxid) in ours.items():
                assert theirs[key][0] == pytest.approx(abundance, rel=1e-9)
                assert theirs[key][1] == taxid
            assert b.unassigned[rank] == pytest.approx(a.unassigned[rank], abs=1e-9)


def test_edited_gutbrain_block_in_biom_is_checked(tmp_path: Path) -> None:
    import json

    import h5py

    path = write_profile_biom(read_table(FIX / "kraken2_sample.kreport"), tmp_path / "p.biom")
    with h5py.File(path, "r+") as handle:
        docs = json.loads(bytes(handle["gutbrain/profiles_json"][()]).decode())
        docs[0]["rows"][0]["abundance"] = 7.0
        del handle["gutbrain/profiles_json"]
        handle.create_dataset("gutbrain/profiles_json", data=np.bytes_(json.dumps(docs).encode()))
    with pytest.raises(InputFormatError, match="out of range") as info:
        read_table(path)
    assert info.value.code == "GB-TAB-BIOM"


def test_metaphlan_merged_table() -> None:
    assert detect_format(FIX / "metaphlan4_merged.txt") == "metaphlan"
    a, b = read_table(FIX / "metaphlan4_merged.txt")
    assert (a.sample_id, b.sample_id) == ("A", "B")
    assert {r.taxon: r.abundance for r in b.at_rank("species")} == pytest.approx(
        {"Faecalibacterium prausnitzii": 0.2, "Bacteroides fragilis": 0.8}
    )
    assert a.unassigned["species"] == pytest.approx(0.1)
    assert b.unassigned["phylum"] == pytest.approx(0.0)
    assert b.at_rank("species")[0].taxid == "817"


def test_emu_abundances_disagreeing_with_counts_are_refused(tmp_path: Path) -> None:
    """Regression: with 'estimated counts' present, abundances summing to 1.3 were ignored."""
    text = (FIX / "emu_sample_rel-abundance.tsv").read_text()
    edited = tmp_path / "edited_rel-abundance.tsv"
    edited.write_text(text.replace("853\t0.6\t", "853\t0.9\t", 1))
    with pytest.raises(InputFormatError, match=r"abundance column sums to 1\.3") as info:
        read_table(edited)
    assert info.value.code == "GB-TAB-SUM"
    assert read_table(FIX / "emu_sample_rel-abundance.tsv")  # the original is consistent


def test_bracken_fractions_disagreeing_with_reads_are_refused(tmp_path: Path) -> None:
    """Regression: fraction_total_reads summing to 1.3 was ignored (only reads are used)."""
    text = (FIX / "bracken_sample.bracken").read_text()
    edited = tmp_path / "edited.bracken"
    edited.write_text(text.replace("\t480\t0.6\n", "\t480\t0.9\n", 1))
    with pytest.raises(InputFormatError, match=r"fraction_total_reads sums to 1\.3") as info:
        read_table(edited, format="bracken")
    assert info.value.code == "GB-TAB-SUM"


def test_cami_repeated_taxon_or_sample_is_refused(tmp_path: Path) -> None:
    """Regression: a CAMI taxon row given twice became two rows of one taxon."""
    head = "@SampleID:S1\n@Version:0.9.1\n@@TAXID\tRANK\tTAXPATH\tTAXPATHSN\tPERCENTAGE\n"
    row = "1239\tphylum\t2|1239\tBacteria|Bacillota\t20\n"
    twice = tmp_path / "twice.cami"
    twice.write_text(head + row + row)
    with pytest.raises(InputFormatError, match="phylum 'Bacillota' repeats") as info:
        read_table(twice, format="cami")
    assert info.value.code == "GB-TAB-DUPTAXON"
    assert info.value.line == 5
    blocks = tmp_path / "blocks.cami"
    blocks.write_text(head + row + head + row)
    with pytest.raises(InputFormatError, match="sample 'S1' repeats") as info:
        read_table(blocks, format="cami")
    assert info.value.code == "GB-TAB-DUPSAMPLE"


def test_cami_export_cells_are_formula_safe_and_read_back(tmp_path: Path) -> None:
    """Issue 13 item 10: a taxon named like a formula must not run in a spreadsheet."""
    from gutbrain.model import Lineage, Provenance, SampleId, TaxonRow

    names = {'=HYPERLINK("http://x")': 0.5, "+1+1": 0.2, "-cmd": 0.1, "@SUM(A1)": 0.1}
    rows = tuple(
        TaxonRow("superkingdom", Lineage(superkingdom=name), share) for name, share in names.items()
    )
    profile = Profile(
        sample_id=SampleId("S1"),
        rows=rows,
        unassigned={"superkingdom": 0.1},
        provenance=Provenance(gutbrain_version="test", source="test"),
    )
    path = write_table([profile], tmp_path / "p.cami", format="cami")
    data = [
        line.split("\t") for line in path.read_text().splitlines() if "\tsuperkingdom\t" in line
    ]
    assert len(data) == 4
    for cells in data:
        for cell in (cells[0], cells[2], cells[3]):
            assert cell.startswith("'"), cell
    back = read_table(path)[0]
    assert {r.taxon: r.abundance for r in back.rows} == pytest.approx(names)


def test_kraken_inconsistent_indentation_keeps_the_lineage(tmp_path: Path) -> None:
    """Issue 13 item 8: lineages come from the rank codes, not from the indentation."""
    lines = (FIX / "kraken2_sample.kreport").read_text().splitlines()
    cells = [line.split("\t") for line in lines]
    for k, row in enumerate(cells):
        row[-1] = " " * (k % 3) + row[-1].strip()  # indentation that means nothing
    edited = tmp_path / "edited.kreport"
    edited.write_text("\n".join("\t".join(row) for row in cells) + "\n")
    original = read_table(FIX / "kraken2_sample.kreport")[0]
    again = read_table(edited)[0]
    assert [r.lineage for r in again.rows] == [r.lineage for r in original.rows]
    prausnitzii = next(r for r in again.rows if r.taxon == "Faecalibacterium prausnitzii")
    assert prausnitzii.lineage.phylum == "Bacillota"
    assert prausnitzii.lineage.family == "Oscillospiraceae"
    thetaiotaomicron = next(r for r in again.rows if r.taxon == "Bacteroides thetaiotaomicron")
    assert thetaiotaomicron.lineage.order == "Bacteroidales"
