"""The profiler's set-up indexes (issue 11): taxon units and present species groups, built once.

``TaxonIndex.from_references`` and ``aligners._present_groups`` were rewritten to work per
distinct lineage / per species instead of per reference / per (group, unit) pair. Each test below
checks the rewrite against a plain implementation of the definition (the previous code) on
random references whose lineages collide often (few names per rank).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.model import Lineage
from gutbrain.profile.aligners import _present_groups
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.groups import SpeciesGroup, SpeciesGroups

_NAMES = st.sampled_from([None, "A", "B"])
_GENERA = st.sampled_from([None, "Ga", "Gb", "Gc"])
_SPECIES = st.sampled_from([None, "s1", "s2", "s3", "s4", "s5"])
_LINEAGES = st.builds(
    Lineage,
    superkingdom=st.just("Bacteria"),
    phylum=_NAMES,
    family=_NAMES,
    genus=_GENERA,
    species=_SPECIES,
)


def _plain_taxon_index(names: Sequence[str], taxonomy: Mapping[str, Lineage]) -> TaxonIndex:
    """The definition, one reference at a time (the code before issue 11)."""

    def majority(counter: collections.Counter[Lineage]) -> Lineage:
        return min(counter.items(), key=lambda item: (-item[1], repr(item[0])))[0]

    keys: list[tuple[object, ...]] = []
    unit_lineages: dict[tuple[object, ...], collections.Counter[Lineage]] = {}
    genus_lineages: dict[str, collections.Counter[Lineage]] = {}
    for name in names:
        lineage = taxonomy[name]
        key: tuple[object, ...] = (
            ("species", lineage.genus, lineage.species)
            if lineage.species is not None
            else ("lineage", lineage)
        )
        keys.append(key)
        unit_lineages.setdefault(key, collections.Counter())[lineage] += 1
        if lineage.genus is not None:
            genus_lineages.setdefault(lineage.genus, collections.Counter())[
                replace(lineage, species=None)
            ] += 1
    unit_index = {key: j for j, key in enumerate(unit_lineages)}
    ref_unit = np.asarray([unit_index[key] for key in keys], dtype=np.int64)
    units = tuple(majority(counter) for counter in unit_lineages.values())
    genus_of: dict[str, int] = {}
    unit_genus = np.full(len(units), -1, dtype=np.int64)
    for j, unit in enumerate(units):
        if unit.genus is not None:
            unit_genus[j] = genus_of.setdefault(unit.genus, len(genus_of))
    genera = tuple(majority(genus_lineages[g]) for g in genus_of)
    return TaxonIndex(units, ref_unit, genera, unit_genus)


def _plain_present_groups(
    groups: SpeciesGroups, taxa: TaxonIndex
) -> tuple[tuple[str, Lineage, tuple[str, ...]], ...]:
    """The definition: every group scans every named unit (the code before issue 11)."""
    lineages = [unit for unit in taxa.units if unit.species is not None]
    present = {unit.species for unit in lineages}
    out = []
    for group in groups.groups:
        members = tuple(m for m in group.members if m in present)
        if len(members) >= 2:
            out.append((group.name, group.lineage(lineages), members))
    return tuple(out)


def _assert_same_index(got: TaxonIndex, expected: TaxonIndex) -> None:
    assert got.units == expected.units
    assert got.genera == expected.genera
    assert got.ref_unit.dtype == expected.ref_unit.dtype
    assert got.ref_unit.tolist() == expected.ref_unit.tolist()
    assert got.unit_genus.tolist() == expected.unit_genus.tolist()


@settings(max_examples=200, deadline=None)
@given(lineages=st.lists(_LINEAGES, max_size=40), data=st.data())
def test_taxon_index_matches_the_per_reference_definition(
    lineages: list[Lineage], data: st.DataObject
) -> None:
    taxonomy = {f"r{i}": lineage for i, lineage in enumerate(lineages)}
    names = data.draw(st.permutations(list(taxonomy)))
    _assert_same_index(
        TaxonIndex.from_references(names, taxonomy), _plain_taxon_index(names, taxonomy)
    )


@settings(max_examples=200, deadline=None)
@given(
    lineages=st.lists(_LINEAGES, min_size=1, max_size=40),
    groups=st.lists(
        st.tuples(
            _GENERA,
            st.lists(st.sampled_from(["s1", "s2", "s3", "s4", "s5", "absent"]), max_size=5),
        ),
        max_size=6,
    ),
)
def test_present_groups_match_the_scan_of_every_unit(
    lineages: list[Lineage], groups: list[tuple[str | None, list[str]]]
) -> None:
    taxonomy = {f"r{i}": lineage for i, lineage in enumerate(lineages)}
    taxa = TaxonIndex.from_references(list(taxonomy), taxonomy)
    species_groups = SpeciesGroups(
        tuple(
            SpeciesGroup(f"G{i:04d}", f"group {i}", genus, tuple(members))
            for i, (genus, members) in enumerate(groups)
        )
    )
    assert _present_groups(species_groups, taxa) == _plain_present_groups(species_groups, taxa)


def _plain_group_lineage(group: SpeciesGroup, taxonomy: Sequence[Lineage]) -> Lineage:
    """The definition: one ``replace`` per member lineage (the code before issue 11, refseq)."""
    found = [lineage for lineage in taxonomy if lineage.species in group.members]
    same_genus = [lineage for lineage in found if lineage.genus == group.genus] or found
    if not same_genus:
        return Lineage(genus=group.genus, species=group.name)
    counts = collections.Counter(replace(lineage, species=None) for lineage in same_genus)
    base = min(counts.items(), key=lambda item: (-item[1], repr(item[0])))[0]
    return replace(base, species=group.name)


@settings(max_examples=300, deadline=None)
@given(
    lineages=st.lists(_LINEAGES, max_size=30),
    genus=_GENERA,
    members=st.lists(st.sampled_from(["s1", "s2", "s3", "s4", "s5", "absent"]), max_size=5),
)
def test_group_lineage_matches_the_per_member_definition(
    lineages: list[Lineage], genus: str | None, members: list[str]
) -> None:
    # lineages collide often above species (few names per rank): majorities and their ties
    group = SpeciesGroup("G0001", "group", genus, tuple(members))
    assert group.lineage(lineages) == _plain_group_lineage(group, lineages)
