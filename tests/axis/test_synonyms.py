"""Explicit synonym table: reclassifications and reference spellings resolve to one name."""

from __future__ import annotations

import pytest

from gutbrain.axis.synonyms import canonical_name, clean_name, same_taxon


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Eubacterium rectale", "Agathobacter rectalis"),
        ("[Eubacterium] rectale", "Agathobacter rectalis"),
        ("s__Eubacterium_rectale", "Agathobacter rectalis"),
        ("Eubacterium hallii", "Anaerobutyricum hallii"),
        ("Ruminococcus gnavus", "Mediterraneibacter gnavus"),
        ("[Ruminococcus] gnavus", "Mediterraneibacter gnavus"),
        ("Ruminococcus obeum", "Blautia obeum"),
        ("Lactobacillus reuteri", "Limosilactobacillus reuteri"),
        ("Lactobacillus rhamnosus", "Lacticaseibacillus rhamnosus"),
        ("Lactobacillus plantarum", "Lactiplantibacillus plantarum"),
        ("Clostridium cluster XIVa", "Lachnospiraceae"),
        ("Clostridium cluster IV", "Ruminococcaceae"),
        ("Bacillota", "Firmicutes"),
        ("[Eubacterium] rectale group", "Agathobacter"),
    ],
)
def test_reclassifications(old: str, new: str) -> None:
    assert canonical_name(old) == new


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Coprococcus_1", "Coprococcus"),
        ("Clostridium_sensu_stricto_1", "Clostridium"),
        ("Escherichia-Shigella", "Escherichia"),
        ("Escherichia/Shigella", "Escherichia"),
        ("Ruminococcaceae_UCG-002", "Ruminococcaceae UCG-002"),
        ("g__Faecalibacterium", "Faecalibacterium"),
        ("Faecalibacterium.prausnitzii", "Faecalibacterium prausnitzii"),
        ("Prevotella_9", "Prevotella"),
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


def test_lactobacillus_split_matches_old_genus_only() -> None:
    assert same_taxon("Lactobacillus", "Limosilactobacillus")
    assert same_taxon("Lacticaseibacillus", "Lactobacillus")
    assert not same_taxon("Limosilactobacillus", "Lacticaseibacillus")
    assert not same_taxon("Lactobacillaceae", "Lactobacillus")


def test_unrelated_names_differ() -> None:
    assert not same_taxon("Coprococcus", "Coprobacillus")
    assert not same_taxon("Ruminococcus", "Ruminococcaceae")
