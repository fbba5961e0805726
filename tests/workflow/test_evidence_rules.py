"""Issue 12 evidence rules on real LRAS, American Gut and Tengeler samples (result.json level).

Each test names the rule it checks; the HTML side is in tests/report and tests/browser.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from gutbrain.gutbrain_axis.reference import MIN_REFERENCE_SAMPLES, load_reference
from gutbrain.io.answers import Answers
from gutbrain.io.tables import read_table
from gutbrain.model import Profile
from gutbrain.result import Result
from gutbrain.workflow.interpret import interpret_profile

BACKGROUND_ONLY = {"gaba", "lps", "mucin"}


@functools.lru_cache(maxsize=1)
def _samples(shared: Path) -> dict[str, tuple[Profile, ...]]:
    data = shared / "data"
    lras = data / "lras_human_fecal_fulllength16s_asvs"
    ag = data / "american_gut_2014_debug_subset"
    ten = data / "mia_tengeler2020_adhd_microbiota"
    stool = {
        line.split("\t")[0]
        for line in (ag / "AG_100nt_sample_metadata.tsv").read_text().splitlines()
        if "UBERON:feces" in line
    }
    agp = [
        p
        for p in read_table(ag / "AG_100nt_otu_table.tsv.gz")
        if p.sample_id in stool and (p.total_reads or 0) >= 1000
    ]
    return {
        "lras": tuple(
            read_table(
                lras / "lras_fecal_asv_counts.tsv.gz",
                taxonomy=lras / "lras_fecal_asv_taxonomy_silva128.tsv.gz",
            )
        ),
        "agp": tuple(agp[:4]),
        "tengeler": tuple(
            read_table(
                ten / "tengeler2020_counts.tsv.gz", taxonomy=ten / "tengeler2020_taxonomy.tsv"
            )[:4]
        ),
    }


@functools.lru_cache(maxsize=64)
def _result(shared: Path, cohort: str, index: int) -> Result:
    return interpret_profile(_samples(shared)[cohort][index])


CASES = [("lras", i) for i in range(9)] + [("agp", i) for i in range(4)]
CASES += [("tengeler", i) for i in range(4)]


@pytest.mark.parametrize(("cohort", "index"), CASES)
def test_context_only_guilds_have_no_personal_value(
    shared_dir: Path, cohort: str, index: int
) -> None:
    """Rule 1: GABA, mucin, LPS guilds carry no value or percentiles in result.json."""
    data = json.loads(_result(shared_dir, cohort, index).model_dump_json())
    guilds = {g["guild_id"]: g for g in data["guilds"]}
    for gid in BACKGROUND_ONLY:
        g = guilds[gid]
        assert g["value"] is None
        assert g["percentiles"] == []
        assert g["computable"] is False
        assert g["background_only"] is True
        assert "context_only" in g["reason"]


@pytest.mark.parametrize(("cohort", "index"), CASES)
def test_percentiles_only_against_large_cohorts_without_the_sample(
    shared_dir: Path, cohort: str, index: int
) -> None:
    """Rule 2: >= 20 samples, never a cohort holding the sample, no observed percentiles."""
    result = _result(shared_dir, cohort, index)
    table = load_reference()
    holding = {c.cohort for c in table.cohorts if result.sample_id in c.sample_ids}
    if cohort == "agp":
        assert holding == {"American Gut 2014 subset (stool)"}  # the sample is in it
    every = [p for d in result.diversity for p in d.percentiles]
    every += [p for g in result.guilds for p in g.percentiles]
    assert every
    for p in every:
        assert p.n_samples >= MIN_REFERENCE_SAMPLES
        assert p.cohort not in holding
        assert "LRAS" not in p.cohort
        assert "GlobalPatterns" not in p.cohort
        assert p.metric != "observed"
    for d in result.diversity:
        if d.computable:
            assert "observed" in d.not_compared
            assert "depth" in d.not_compared["observed"]


@pytest.mark.parametrize(("cohort", "index"), CASES)
def test_one_headline_cohort_and_the_same_number_everywhere(
    shared_dir: Path, cohort: str, index: int
) -> None:
    """Rule 2: one named method-matched cohort (the largest usable 16S cohort) is quoted."""
    result = _result(shared_dir, cohort, index)
    table = load_reference()
    usable = [
        c
        for c in table.cohorts
        if c.method_kind == "16S"
        and c.n_samples >= MIN_REFERENCE_SAMPLES
        and result.sample_id not in c.sample_ids
    ]
    largest = max(usable, key=lambda c: c.n_samples)
    genus = next(d for d in result.diversity if d.rank == "genus")
    heads = [p for p in genus.percentiles if p.headline]
    assert {p.cohort for p in heads} == {largest.cohort}
    assert len([p for p in heads if p.metric == "shannon"]) == 1
    shannon = next(p for p in heads if p.metric == "shannon")
    finding = next(f for f in result.findings if f.finding_id == "diversity-percentile")
    assert f"percentile {shannon.percentile:.0f} of {largest.cohort}" in finding.text
    for g in result.guilds:
        assert len([p for p in g.percentiles if p.headline]) <= 1
        assert all(p.cohort == largest.cohort for p in g.percentiles if p.headline)


@pytest.mark.parametrize(("cohort", "index"), CASES)
def test_no_recommendations_without_answers(shared_dir: Path, cohort: str, index: int) -> None:
    """Rule 4: the microbiome alone never triggers advice (e.g. LRAS R_3.1, low butyrate)."""
    assert _result(shared_dir, cohort, index).recommendations == ()


def test_recommendations_come_only_from_the_answers(shared_dir: Path) -> None:
    """Rule 4: every recommendation's basis is one of the person's own answers."""
    profile = _samples(shared_dir)["lras"][0]
    answers = Answers.model_validate(
        {"diet": {"plant_types_per_week": 12, "fibre_g_per_day": 18}, "hydration_l_per_day": 3}
    )
    result = interpret_profile(profile, answers=answers)
    ids = {r.recommendation_id for r in result.recommendations}
    assert ids == {"plant-variety", "fibre"}
    for rec in result.recommendations:
        assert rec.based_on
        for basis in rec.based_on:
            assert "percentile" not in basis
            assert basis.startswith(("plant types per week: 12", "fibre: 18 g/day"))


@pytest.mark.parametrize(("cohort", "index"), CASES)
def test_personal_beta_diversity_against_each_usable_cohort(
    shared_dir: Path, cohort: str, index: int
) -> None:
    """Rule 5: one entry per usable cohort and metric; never the sample's own cohort."""
    result = _result(shared_dir, cohort, index)
    data = json.loads(result.model_dump_json())
    beta = data["beta_diversity"]
    keys = {b["cohort_key"] for b in beta}
    expected = {"american_gut", "tito2024"} - ({"american_gut"} if cohort == "agp" else set())
    assert keys == expected
    for key in keys:
        assert {b["metric"] for b in beta if b["cohort_key"] == key} == {
            "bray_curtis",
            "aitchison",
        }
    for b in beta:
        assert b["n_samples"] >= MIN_REFERENCE_SAMPLES
        assert len(b["cohort_points"]) == b["n_samples"]
        assert len(b["sample_point"]) == 2
        assert 0 <= b["percentile"] <= 100
        if b["metric"] == "bray_curtis":
            assert 0 <= b["median_distance"] <= 1


@pytest.mark.parametrize(("cohort", "index"), [("lras", 0), ("agp", 0), ("tengeler", 0)])
def test_full_profile_is_in_the_result(shared_dir: Path, cohort: str, index: int) -> None:
    """Rule 5: the complete genus (and species) list, not only the top 25."""
    result = _result(shared_dir, cohort, index)
    for rank, rows in result.profile.all_taxa.items():
        assert len(rows) == result.profile.n_taxa[rank]
        assert [t.name for t in rows[:25]] == [t.name for t in result.profile.top_taxa[rank]]
    assert "genus" in result.profile.all_taxa
