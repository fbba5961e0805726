"""Guild scores (hand-computed), coverage, confidence, taxa of interest, research-only rule."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.axis.scores import (
    BACKGROUND_ONLY_REASON,
    confidence_of,
    score_guild,
    score_guilds,
    taxa_of_interest,
)
from gutbrain.io.knowledge import load_knowledge
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow

KB = load_knowledge()


def make(
    genera: dict[str, float], *, unassigned: float = 0.0, families: dict[str, float] | None = None
) -> Profile:
    rows = [
        TaxonRow(rank="genus", lineage=Lineage(genus=g), abundance=a) for g, a in genera.items()
    ]
    unassigned_map: dict[str, float] = {"genus": unassigned}
    if families is not None:
        rows += [
            TaxonRow(rank="family", lineage=Lineage(family=f), abundance=a)
            for f, a in families.items()
        ]
        unassigned_map["family"] = 1.0 - sum(families.values())
    return Profile(
        sample_id=SampleId("s"),
        rows=tuple(rows),
        unassigned=unassigned_map,  # type: ignore[arg-type]
        provenance=Provenance(gutbrain_version="t", source="test"),
    )


def guild(profile: Profile, gid: str):  # type: ignore[no-untyped-def]
    return next(g for g in score_guilds(profile, KB) if g.guild_id == gid)


def mechanics(profile: Profile, gid: str):  # type: ignore[no-untyped-def]
    """Score a background-only guild as if it were reportable (tests the member matching)."""
    row = next(g for g in KB.guilds if g.guild == gid)
    return score_guild(profile, dataclasses.replace(row, report_use="report_ok"))


@pytest.mark.parametrize("gid", ["gaba", "lps", "mucin"])
def test_context_only_guilds_get_no_personal_value(gid: str) -> None:
    # the members are present, yet a context_only guild is never a personal score
    p = make(
        {"Escherichia": 0.2, "Bacteroides": 0.5, "Akkermansia": 0.2, "Desulfovibrio": 0.1},
        families={"Enterobacteriaceae": 0.2, "Bacteroidaceae": 0.5},
    )
    g = guild(p, gid)
    assert next(x for x in KB.guilds if x.guild == gid).report_use == "context_only"
    assert not g.computable
    assert g.background_only
    assert g.value is None
    assert g.percentiles == ()
    assert g.members == ()
    assert g.reason == BACKGROUND_ONLY_REASON


def test_report_ok_guilds_are_not_background_only() -> None:
    p = make({"Faecalibacterium": 0.3, "Bacteroides": 0.7})
    for g in score_guilds(p, KB):
        row = next(x for x in KB.guilds if x.guild == g.guild_id)
        assert g.background_only == (row.computable and row.report_use == "context_only")


def test_butyrate_sum_by_hand() -> None:
    # members present: Faecalibacterium 0.20, Roseburia 0.05, Coprococcus_1 0.03 (SILVA spelling),
    # "[Eubacterium] rectale group" 0.04 (genus group for Agathobacter) -> 0.32
    p = make(
        {
            "Faecalibacterium": 0.20,
            "Roseburia": 0.05,
            "Coprococcus_1": 0.03,
            "[Eubacterium] rectale group": 0.04,
            "Bacteroides": 0.38,
        },
        unassigned=0.30,
    )
    g = guild(p, "butyrate")
    assert g.value == pytest.approx(0.32)
    assert {m.matched_as for m in g.members} >= {"Faecalibacterium", "Coprococcus"}
    # coverage: 6 genus members + E. rectale (via its genus-rank group) checked at genus,
    # E. hallii not checkable (no species rank, no group row): 7 x (1 - 0.30) / 8 = 0.6125
    assert g.coverage == pytest.approx(0.6125)
    assert g.confidence == "moderate"


def test_species_members_unchecked_lower_coverage() -> None:
    p = make({"Faecalibacterium": 0.5}, unassigned=0.0)
    g = guild(p, "butyrate")
    # 6 of 8 members are genus-level; species members have no species rank and no genus group
    assert g.coverage == pytest.approx(6 / 8)
    assert any("Not checked" in c for c in g.caveats)


def test_not_computable_guilds_say_why() -> None:
    p = make({"Faecalibacterium": 0.5})
    for gid in ("acetate", "tryptophan", "serotonin"):
        g = guild(p, gid)
        assert not g.computable
        assert g.value is None
        assert g.reason


def test_profile_without_genus_not_computable() -> None:
    p = Profile(
        sample_id=SampleId("s"),
        rows=(TaxonRow(rank="phylum", lineage=Lineage(phylum="Firmicutes"), abundance=1.0),),
        unassigned={"phylum": 0.0},
        provenance=Provenance(gutbrain_version="t", source="test"),
    )
    g = guild(p, "butyrate")
    assert not g.computable
    assert "rank" in g.reason


def test_lps_family_and_genus() -> None:
    p = make(
        {"Escherichia": 0.02, "Desulfovibrio": 0.01, "Bacteroides": 0.97},
        families={"Enterobacteriaceae": 0.03, "Bacteroidaceae": 0.97},
    )
    g = mechanics(p, "lps")
    # Enterobacteriaceae (family) 0.03 + Desulfovibrio 0.01; Escherichia lies inside the family
    assert g.value == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("coverage", "label"),
    [
        (0.0, "none"),
        (0.1, "low"),
        (0.5, "moderate"),
        (0.79, "moderate"),
        (0.8, "high"),
        (1.0, "high"),
    ],
)
def test_confidence(coverage: float, label: str) -> None:
    assert confidence_of(coverage) == label


@settings(deadline=None, max_examples=50)
@given(st.floats(0.0, 0.5), st.floats(0.0, 0.4))
def test_butyrate_monotone_in_member_abundance(a: float, extra: float) -> None:
    low = guild(make({"Faecalibacterium": a, "Bacteroides": 1 - a}), "butyrate").value
    high = guild(
        make({"Faecalibacterium": a + extra, "Bacteroides": 1 - a - extra}), "butyrate"
    ).value
    assert high is not None
    assert low is not None
    assert high >= low


def test_research_only_taxa_never_shown() -> None:
    # Sellimonas, Lachnoclostridium, Subdoligranulum, Eggerthella: only research_only rows
    p = make(
        {
            "Sellimonas": 0.1,
            "Lachnoclostridium": 0.1,
            "Subdoligranulum": 0.1,
            "Eggerthella": 0.1,
            "Coprococcus": 0.1,
            "Bacteroides": 0.5,
        }
    )
    shown = taxa_of_interest(p, KB)
    ids = {t.knowledge_id for t in shown}
    research = {t.knowledge_id for t in KB.taxa if t.report_use == "research_only"}
    assert not ids & research
    assert "TX001" in ids
    assert all(t.source_ids and t.grade in "ABC" for t in shown)
    assert not {t.taxon for t in shown} & {"Sellimonas", "Lachnoclostridium", "Eggerthella"}


def test_family_member_found_through_genus_lineage() -> None:
    # no family rank: Enterobacteriaceae is summed from genus rows whose lineage says so
    rows = (
        TaxonRow(
            rank="genus",
            lineage=Lineage(family="Enterobacteriaceae", genus="Escherichia"),
            abundance=0.02,
        ),
        TaxonRow(
            rank="genus",
            lineage=Lineage(family="Enterobacteriaceae", genus="Klebsiella"),
            abundance=0.01,
        ),
        TaxonRow(
            rank="genus",
            lineage=Lineage(family="Desulfovibrionaceae", genus="Desulfovibrio"),
            abundance=0.005,
        ),
        TaxonRow(
            rank="genus",
            lineage=Lineage(family="Bacteroidaceae", genus="Bacteroides"),
            abundance=0.765,
        ),
    )
    p = Profile(
        sample_id=SampleId("s"),
        rows=rows,
        unassigned={"genus": 0.2},
        provenance=Provenance(gutbrain_version="t", source="test"),
    )
    g = mechanics(p, "lps")
    assert g.value == pytest.approx(0.035)
    assert g.coverage == pytest.approx(0.8)  # both members checked at genus, 1 - 0.2
    assert any("(in Enterobacteriaceae)" in m.taxon for m in g.members)
    assert "TX029" in {t.knowledge_id for t in taxa_of_interest(p, KB)}


def test_coverage_is_member_average() -> None:
    # species rank present but mostly unassigned: genus members keep their own resolution
    rows = (
        TaxonRow(rank="genus", lineage=Lineage(genus="Faecalibacterium"), abundance=0.9),
        TaxonRow(
            rank="species",
            lineage=Lineage(genus="Faecalibacterium", species="Faecalibacterium prausnitzii"),
            abundance=0.5,
        ),
    )
    p = Profile(
        sample_id=SampleId("s"),
        rows=rows,
        unassigned={"genus": 0.1, "species": 0.5},
        provenance=Provenance(gutbrain_version="t", source="test"),
    )
    g = guild(p, "butyrate")
    # 6 genus members x 0.9 + 2 species members x 0.5 -> 6.4 / 8 = 0.8
    assert g.coverage == pytest.approx(0.8)
    assert g.value == pytest.approx(0.9)


@settings(deadline=None, max_examples=30)
@given(
    st.permutations(
        [
            "Faecalibacterium",
            "Roseburia",
            "Bacteroides",
            "Akkermansia",
            "Desulfovibrio",
            "Coprococcus_3",
        ]
    )
)
def test_scores_invariant_to_row_order(order: list[str]) -> None:
    abundances = {
        "Faecalibacterium": 0.3,
        "Roseburia": 0.1,
        "Bacteroides": 0.25,
        "Akkermansia": 0.05,
        "Desulfovibrio": 0.02,
        "Coprococcus_3": 0.08,
    }
    base = {g.guild_id: g.value for g in score_guilds(make(abundances, unassigned=0.2), KB)}
    shuffled = make({k: abundances[k] for k in order}, unassigned=0.2)
    assert {g.guild_id: g.value for g in score_guilds(shuffled, KB)} == pytest.approx(base)


def test_species_only_profile_without_genus_lineage_lowers_coverage() -> None:
    # species names without a genus in their lineage: genus members cannot be checked
    rows = (
        TaxonRow(
            rank="species", lineage=Lineage(species="Faecalibacterium prausnitzii"), abundance=0.6
        ),
        TaxonRow(
            rank="species",
            lineage=Lineage(genus="Roseburia", species="Roseburia hominis"),
            abundance=0.4,
        ),
    )
    p = Profile(
        sample_id=SampleId("s"),
        rows=rows,
        unassigned={"species": 0.0},
        provenance=Provenance(gutbrain_version="t", source="test"),
    )
    g = guild(p, "butyrate")
    assert g.value == pytest.approx(0.4)  # only Roseburia is visible through the lineage
    # 6 genus members x 0.4 (share with a genus in the lineage) + 2 species members x 1.0
    # (species rank fully assigned) -> 4.4 / 8 = 0.55
    assert g.coverage == pytest.approx(0.55)
    assert g.confidence == "moderate"


def test_species_member_matches_through_a_species_group() -> None:
    from gutbrain.axis.scores import match_rows

    group = TaxonRow(
        rank="species",
        lineage=Lineage(genus="Escherichia", species="Escherichia coli group"),
        abundance=0.3,
        members=("Escherichia coli", "Escherichia fergusonii", "Shigella sonnei"),
    )
    other = TaxonRow(
        rank="species",
        lineage=Lineage(genus="Bacteroides", species="Bacteroides fragilis"),
        abundance=0.7,
    )
    p = Profile(
        sample_id=SampleId("s"),
        rows=(group, other),
        unassigned={"species": 0.0},
        provenance=Provenance(gutbrain_version="t", source="test"),
    )
    found = match_rows(p, "species", "Shigella sonnei")
    assert [(row.taxon, how) for row, how in found] == [
        ("Escherichia coli group", "Escherichia coli group (contains Shigella sonnei)")
    ]
    assert [row.taxon for row, _ in match_rows(p, "species", "Bacteroides fragilis")] == [
        "Bacteroides fragilis"
    ]
    assert match_rows(p, "species", "Escherichia albertii") == []
