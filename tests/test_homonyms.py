"""A genus name under two families (HITdb files Blautia and Eubacterium so) is two taxa."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.ecology.matrix import profiles_to_matrix
from gutbrain.io.tables import read_profile_tsv, read_table, write_profile_biom, write_profile_tsv
from gutbrain.model import (
    RANKS,
    Lineage,
    Profile,
    Provenance,
    Rank,
    SampleId,
    TaxonRow,
    taxon_labels,
)

LACHNO = Lineage(phylum="Firmicutes", family="Lachnospiraceae", genus="Blautia")
RUMINO = Lineage(phylum="Firmicutes", family="Ruminococcaceae", genus="Blautia")


def _profile() -> Profile:
    rows = (
        TaxonRow(rank="genus", lineage=LACHNO, abundance=0.5, reads=50.0),
        TaxonRow(rank="genus", lineage=RUMINO, abundance=0.2, reads=20.0),
    )
    return Profile(
        sample_id=SampleId("s1"),
        rows=rows,
        unassigned={"genus": 0.3},
        provenance=Provenance(gutbrain_version="test", source="test"),
        total_reads=100,
    )


def test_labels_name_the_parent_that_tells_homonyms_apart() -> None:
    labels = taxon_labels([LACHNO, RUMINO], "genus")
    assert labels == {LACHNO: "Blautia (Lachnospiraceae)", RUMINO: "Blautia (Ruminococcaceae)"}


def test_labels_fall_back_to_whole_lineage_when_no_single_rank_separates() -> None:
    a = Lineage(phylum="A", family="F", genus="g")
    b = Lineage(phylum="B", family=None, genus="g")
    labels = taxon_labels([a, b], "genus")
    assert len(set(labels.values())) == 2
    assert labels[a].startswith("g (")


def test_profile_tsv_round_trips_homonyms(tmp_path: Path) -> None:
    path = write_profile_tsv(_profile(), tmp_path / "profile.tsv")
    back = read_profile_tsv(path)
    assert {(r.lineage.family, r.abundance) for r in back.rows} == {
        ("Lachnospiraceae", 0.5),
        ("Ruminococcaceae", 0.2),
    }


def test_profile_tsv_still_refuses_a_true_repeat(tmp_path: Path) -> None:
    path = write_profile_tsv(_profile(), tmp_path / "profile.tsv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(ValueError, match="repeats at rank genus with the same lineage"):
        read_profile_tsv(path)


def test_matrix_and_biom_keep_homonyms_apart(tmp_path: Path) -> None:
    matrix = profiles_to_matrix([_profile()], rank="genus")
    assert matrix.loc["s1", "Blautia (Lachnospiraceae)"] == pytest.approx(0.5)
    assert matrix.loc["s1", "Blautia (Ruminococcaceae)"] == pytest.approx(0.2)
    from biom import load_table

    biom_path = write_profile_biom(_profile(), tmp_path / "p.biom")
    table = load_table(str(biom_path))
    assert sorted(table.ids(axis="observation")) == [
        "Blautia (Lachnospiraceae)",
        "Blautia (Ruminococcaceae)",
        "unassigned",
    ]
    restored = read_table(biom_path)[0]
    assert {r.lineage.family for r in restored.at_rank("genus")} == {
        "Lachnospiraceae",
        "Ruminococcaceae",
    }


_NAMES = st.one_of(st.none(), st.sampled_from(["A", "B", "Blautia", "uncultured"]))


@given(names=st.lists(_NAMES, min_size=7, max_size=7), rank=st.sampled_from(RANKS))
def test_truncated_clears_exactly_the_ranks_below(names: list[str | None], rank: Rank) -> None:
    """The fast path of ``Lineage.truncated`` (issue 13: import of 100k taxa) keeps its meaning."""
    lineage = Lineage.from_mapping(dict(zip(RANKS, names, strict=True)))
    cut = lineage.truncated(rank)
    for i, r in enumerate(RANKS):
        assert cut.at(r) == (lineage.at(r) if i <= RANKS.index(rank) else None)
    assert cut.truncated(rank) == cut


@given(names=st.lists(_NAMES, min_size=7, max_size=7))
def test_lineage_as_dict_lists_every_rank_broad_to_narrow(names: list[str | None]) -> None:
    lineage = Lineage.from_mapping(dict(zip(RANKS, names, strict=True)))
    assert list(lineage.as_dict()) == list(RANKS)
    assert list(lineage.as_dict().values()) == [lineage.at(r) for r in RANKS]
