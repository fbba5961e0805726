"""profile.tsv and BIOM writers: round trips and format rules (issue 3/4)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import EmptyInputError, InputFormatError
from gutbrain.io.tables import (
    PROFILE_COLUMNS,
    read_profile_tsv,
    read_profiles_tsv,
    write_profile_biom,
    write_profile_tsv,
)
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxId, TaxonRow


def _lineage(genus: str, species: str | None = None) -> Lineage:
    return Lineage(
        superkingdom="Bacteria",
        phylum="Bacillota",
        class_="Clostridia",
        order="Eubacteriales",
        family="Oscillospiraceae",
        genus=genus,
        species=species,
    )


def make_profile(sample: str = "S1") -> Profile:
    """A two-rank profile of 1,000 reads: 600 + 250 reads at species, 100 unassigned."""
    rows = (
        TaxonRow(
            "species",
            _lineage("Faecalibacterium", "Faecalibacterium prausnitzii"),
            0.6,
            reads=600.0,
            abundance_low=0.55,
            abundance_high=0.65,
            taxid=TaxId("853"),
        ),
        TaxonRow("species", _lineage("Ruminococcus", "Ruminococcus bromii"), 0.25, reads=250.0),
        TaxonRow("species", _lineage("=Evil", "+Evil 'quoted'"), 0.05, reads=50.0),
        TaxonRow("genus", _lineage("Faecalibacterium"), 0.6, reads=600.0),
        TaxonRow("genus", _lineage("Ruminococcus"), 0.3, reads=300.0),
    )
    return Profile(
        sample_id=SampleId(sample),
        rows=rows,
        unassigned={"species": 0.1, "genus": 0.1},
        provenance=Provenance(gutbrain_version="0", source="gutbrain profile"),
        total_reads=1000,
    )


def test_profile_tsv_round_trip(tmp_path: Path) -> None:
    profile = make_profile()
    path = write_profile_tsv(profile, tmp_path / "profile.tsv")
    back = read_profile_tsv(path)
    assert back.sample_id == profile.sample_id
    assert back.total_reads == 1000
    assert set(back.rows) == set(profile.rows)
    assert dict(back.unassigned) == dict(profile.unassigned)
    assert back.provenance.source == "import:profile"


def test_profile_tsv_layout(tmp_path: Path) -> None:
    path = write_profile_tsv(make_profile(), tmp_path / "profile.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert tuple(header) == PROFILE_COLUMNS
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    # 3 species + unassigned, 2 genera + unassigned
    assert len(rows) == 7
    for rank in ("species", "genus"):
        total = sum(float(r["abundance"]) for r in rows if r["rank"] == rank)
        assert total == pytest.approx(1.0, abs=1e-12)
        unassigned = [r for r in rows if r["rank"] == rank and r["taxon"] == "unassigned"]
        assert len(unassigned) == 1
        assert unassigned[0]["reads"] == "100"
    # formula-like names are quoted for spreadsheets (RELIABILITY T13)
    assert any(r["taxon"] == "'+Evil 'quoted'" for r in rows)
    assert any(r["genus"] == "'=Evil" for r in rows)


def test_profile_tsv_multi_sample(tmp_path: Path) -> None:
    path = write_profile_tsv([make_profile("A"), make_profile("B")], tmp_path / "p.tsv")
    assert [p.sample_id for p in read_profiles_tsv(path)] == ["A", "B"]
    with pytest.raises(InputFormatError, match="2 samples"):
        read_profile_tsv(path)


def test_profile_tsv_sum_checked(tmp_path: Path) -> None:
    path = write_profile_tsv(make_profile(), tmp_path / "p.tsv")
    text = path.read_text(encoding="utf-8").replace("\t0.6\t0.55", "\t0.7\t0.55")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"species: abundances plus unassigned sum to 1\.1"):
        read_profile_tsv(path)


def test_profile_tsv_header_only(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("\t".join(PROFILE_COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(EmptyInputError, match="header only"):
        read_profile_tsv(path)


def test_profile_biom_written(tmp_path: Path) -> None:
    import biom

    path = write_profile_biom([make_profile("A"), make_profile("B")], tmp_path / "p.biom")
    table = biom.load_table(str(path))
    assert list(table.ids()) == ["A", "B"]
    assert table.sum(axis="sample").tolist() == [1000.0, 1000.0]
    assert table.get_value_by_ids("Faecalibacterium prausnitzii", "A") == 600.0
    tax = table.metadata("Faecalibacterium prausnitzii", axis="observation")["taxonomy"]
    assert tax[0] == "k__Bacteria"
    assert tax[-1] == "s__Faecalibacterium prausnitzii"
    with h5py.File(path, "r") as handle:
        assert handle.attrs["format-version"].tolist() == [2, 1]


def _small(sample: str, rank: str, reads: dict[str, int], total: int) -> Profile:
    rows = tuple(
        TaxonRow(
            rank,  # type: ignore[arg-type]
            Lineage(genus=name.split()[0], species=name if rank == "species" else None),
            r / total,
            reads=float(r),
        )
        for name, r in reads.items()
    )
    rest = (total - sum(reads.values())) / total
    return Profile(
        SampleId(sample),
        rows,
        {rank: rest},  # type: ignore[dict-item]
        Provenance("0", "t"),
        total_reads=total,
    )


def test_unassigned_reads_written_as_exact_integers(tmp_path: Path) -> None:
    # 2/7 * 7 is 2.0000000000000004 in floating point; the file must say 2
    profile = _small("S", "species", {"A a": 3, "B b": 2}, 7)
    path = write_profile_tsv(profile, tmp_path / "p.tsv")
    last = path.read_text(encoding="utf-8").splitlines()[-1].split("\t")
    assert last[2] == "unassigned"
    assert last[11] == "2"


def test_biom_column_of_profile_without_the_rank_sums_to_total(tmp_path: Path) -> None:
    import biom

    a = _small("A", "species", {"A a": 3, "B b": 2}, 7)
    b = _small("B", "genus", {"A": 4}, 5)
    table = biom.load_table(str(write_profile_biom([a, b], tmp_path / "p.biom")))
    assert table.sum(axis="sample").tolist() == [7.0, 5.0]
    assert table.get_value_by_ids("unassigned", "B") == 5.0


_names = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\t"
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s != "unassigned")


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(_names, st.integers(min_value=1, max_value=10**6), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=10**6),
    _names,
)
def test_profile_tsv_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, reads: dict[str, int], rest: int, sample: str
) -> None:
    total = sum(reads.values()) + rest
    rows = tuple(
        TaxonRow("genus", Lineage(phylum="P", genus=name), r / total, reads=float(r))
        for name, r in reads.items()
    )
    profile = Profile(
        SampleId(sample), rows, {"genus": rest / total}, Provenance("0", "t"), total_reads=total
    )
    path = write_profile_tsv(profile, tmp_path_factory.mktemp("rt") / "p.tsv")
    back = read_profile_tsv(path)
    assert back.sample_id == profile.sample_id
    assert set(back.rows) == set(profile.rows)
    assert back.unassigned["genus"] == profile.unassigned["genus"]
    assert back.total_reads == total


def _group_profile() -> Profile:
    group = TaxonRow(
        "species",
        _lineage("Escherichia", "Escherichia coli group"),
        0.7,
        reads=700.0,
        members=("Escherichia coli", "Escherichia fergusonii", "Shigella sonnei"),
    )
    single = TaxonRow("species", _lineage("Ruminococcus", "Ruminococcus bromii"), 0.2, reads=200.0)
    return Profile(
        sample_id=SampleId("G"),
        rows=(group, single, TaxonRow("genus", _lineage("Escherichia"), 0.9, reads=900.0)),
        unassigned={"species": 0.1, "genus": 0.1},
        provenance=Provenance(gutbrain_version="0", source="gutbrain profile"),
        total_reads=1000,
    )


def test_group_members_round_trip_through_profile_tsv(tmp_path: Path) -> None:
    path = write_profile_tsv(_group_profile(), tmp_path / "profile.tsv")
    header = path.read_text().splitlines()[0].split("\t")
    assert header[-1] == "members"
    again = read_profile_tsv(path)
    rows = {row.taxon: row for row in again.rows}
    assert rows["Escherichia coli group"].members == (
        "Escherichia coli",
        "Escherichia fergusonii",
        "Shigella sonnei",
    )
    assert rows["Ruminococcus bromii"].members == ()
    assert rows["Escherichia"].members == ()


def test_profile_tsv_without_members_column_still_reads(tmp_path: Path) -> None:
    # files written before the column existed (gutbrain <= the previous release)
    path = write_profile_tsv(make_profile(), tmp_path / "profile.tsv")
    lines = [line.rsplit("\t", 1)[0] for line in path.read_text().splitlines()]
    path.write_text("\n".join(lines) + "\n")
    assert "members" not in lines[0]
    again = read_profile_tsv(path)
    assert all(row.members == () for row in again.rows)
    assert len(again.rows) == len(make_profile().rows)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Escherichia coli;Escherichia coli", "named twice"),
        ("Escherichia coli;;Shigella sonnei", "member 2 is empty"),
        ("Escherichia coli; ", "member 2 is empty"),
    ],
)
def test_bad_members_cell_names_file_and_line(tmp_path: Path, cell: str, expected: str) -> None:
    path = write_profile_tsv(_group_profile(), tmp_path / "profile.tsv")
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if "Escherichia coli group" in line)
    cells = lines[number].split("\t")
    cells[-1] = cell
    lines[number] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match=expected) as info:
        read_profile_tsv(path)
    assert info.value.code == "GB-TAB-MEMBERS"
    assert info.value.line == number + 1
    assert str(path) in str(info.value)


def test_members_on_a_genus_row_are_refused(tmp_path: Path) -> None:
    path = write_profile_tsv(_group_profile(), tmp_path / "profile.tsv")
    lines = path.read_text().splitlines()
    genus_line = next(i for i, line in enumerate(lines) if "\tgenus\tEscherichia\t" in line)
    cells = lines[genus_line].split("\t")
    cells[-1] = "Escherichia coli;Shigella sonnei"
    lines[genus_line] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError, match="only species-rank group rows") as info:
        read_profile_tsv(path)
    assert info.value.code == "GB-TAB-MEMBERS"


def test_group_members_round_trip_through_cami(tmp_path: Path) -> None:
    from gutbrain.io.tables.cami import format_cami, read_cami

    path = tmp_path / "p.cami"
    path.write_text(format_cami([_group_profile()]))
    assert "\t_MEMBERS" in path.read_text()
    (again,) = read_cami(path)
    rows = {row.taxon: row for row in again.rows}
    assert rows["Escherichia coli group"].members == _group_profile().rows[0].members
    assert rows["Ruminococcus bromii"].members == ()


def test_group_members_round_trip_through_biom(tmp_path: Path) -> None:
    from gutbrain.io.tables import read_table

    path = write_profile_biom(_group_profile(), tmp_path / "p.biom", rank="species")
    (again,) = read_table(path)
    rows = {row.taxon: row for row in again.rows if row.rank == "species"}
    assert rows["Escherichia coli group"].members == _group_profile().rows[0].members
    assert rows["Ruminococcus bromii"].members == ()
