from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.ecology.composition import source_rank, with_broader_ranks
from gutbrain.model import RANKS, Lineage, Profile, Provenance, SampleId, TaxonRow

PHYLA = ["Firmicutes", "Bacteroidetes", None]
FAMILIES = ["Lachnospiraceae", "Bacteroidaceae", None]


def _profile(rows: tuple[TaxonRow, ...], unassigned: dict[str, float]) -> Profile:
    return Profile(
        sample_id=SampleId("s"),
        rows=rows,
        unassigned=unassigned,  # type: ignore[arg-type]
        provenance=Provenance(gutbrain_version="test", source="test"),
    )


def test_known_answer_phylum_and_family_from_genus() -> None:
    rows = (
        TaxonRow(
            "genus",
            Lineage(phylum="Firmicutes", family="Lachnospiraceae", genus="Blautia"),
            0.4,
            reads=40.0,
        ),
        TaxonRow(
            "genus",
            Lineage(phylum="Firmicutes", family="Lachnospiraceae", genus="Dorea"),
            0.1,
            reads=10.0,
        ),
        TaxonRow(
            "genus",
            Lineage(phylum="Bacteroidetes", family="Bacteroidaceae", genus="Bacteroides"),
            0.3,
            reads=30.0,
        ),
        TaxonRow(
            "species",
            Lineage(phylum="Firmicutes", genus="Blautia", species="Blautia obeum"),
            0.2,
            reads=20.0,
        ),
    )
    full = with_broader_ranks(_profile(rows, {"genus": 0.2, "species": 0.8}))
    assert source_rank(full) == "genus"
    phyla = {r.taxon: (r.abundance, r.reads) for r in full.at_rank("phylum")}
    assert phyla == {"Firmicutes": (pytest.approx(0.5), 50.0), "Bacteroidetes": (0.3, 30.0)}
    families = {r.taxon: r.abundance for r in full.at_rank("family")}
    assert families == {"Lachnospiraceae": pytest.approx(0.5), "Bacteroidaceae": 0.3}
    assert full.unassigned["phylum"] == pytest.approx(0.2)
    assert full.at_rank("species") == _profile(rows, {}).at_rank("species")


def test_empty_profile_is_returned_unchanged() -> None:
    empty = _profile((), {"species": 1.0})
    assert with_broader_ranks(empty) is empty


@given(
    st.lists(
        st.tuples(st.sampled_from(PHYLA), st.sampled_from(FAMILIES), st.floats(0.001, 1.0)),
        min_size=1,
        max_size=12,
    )
)
def test_every_added_rank_sums_to_one(entries: list[tuple[str | None, str | None, float]]) -> None:
    total = sum(w for *_, w in entries) * 1.25  # leave a fifth unassigned
    rows = tuple(
        TaxonRow("genus", Lineage(phylum=p, family=f, genus=f"g{i}"), w / total)
        for i, (p, f, w) in enumerate(entries)
    )
    unassigned = 1.0 - sum(r.abundance for r in rows)
    full = with_broader_ranks(_profile(rows, {"genus": unassigned}))
    for rank in RANKS[: RANKS.index("genus")]:
        assigned = sum(r.abundance for r in full.at_rank(rank))
        assert assigned + full.unassigned.get(rank, 1.0 if not full.at_rank(rank) else 0.0) == (
            pytest.approx(1.0)
        )
