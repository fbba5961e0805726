"""Taxon units, rank sums and the genus fallback."""

from __future__ import annotations

import functools
import itertools
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.profile.taxonomy import GroupMerge, TaxonIndex, resolve_reads


def _lin(genus: str, species: str | None) -> Lineage:
    return Lineage(superkingdom="Bacteria", family="F", genus=genus, species=species)


TAXONOMY = {
    "a1": _lin("Bacteroides", "Bacteroides fragilis"),
    "a2": _lin("Bacteroides", "Bacteroides fragilis"),
    "b": _lin("Bacteroides", "Bacteroides ovatus"),
    "c": _lin("Klebsiella", "Klebsiella pneumoniae"),
    "d": _lin("Klebsiella", None),
}


def test_copies_of_a_species_share_one_unit() -> None:
    index = TaxonIndex.from_references(["a1", "b", "a2", "c", "d"], TAXONOMY)
    assert index.n_units == 4
    assert index.ref_unit[0] == index.ref_unit[2]
    assert [g.genus for g in index.genera] == ["Bacteroides", "Klebsiella"]
    sums = index.genus_sums(np.array([0.1, 0.2, 0.3, 0.4]))
    assert sums == pytest.approx([0.3, 0.7])


def test_reference_without_taxonomy_is_a_reference_error() -> None:
    with pytest.raises(ReferenceDatabaseError, match="not in the bundle's taxonomy"):
        TaxonIndex.from_references(["a1", "zzz"], TAXONOMY)


def test_split_within_genus_falls_back_to_genus() -> None:
    index = TaxonIndex.from_references(["a1", "b", "c", "d"], TAXONOMY)
    # read 0: 0.5/0.5 between two Bacteroides -> genus fallback
    # read 1: 0.9 B. fragilis -> species
    # read 2: 0.5 B. fragilis / 0.5 Klebsiella -> neither species nor genus resolved
    # read 3: all on the unnamed Klebsiella unit -> genus only
    post = sp.csr_matrix(
        np.array(
            [
                [0.5, 0.5, 0.0, 0.0],
                [0.9, 0.1, 0.0, 0.0],
                [0.5, 0.0, 0.5, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ]
        )
    )
    res = resolve_reads(post, np.array([1.0, 2.0, 1.0, 1.0]), index, species_confidence=0.6)
    assert res.species_resolved.tolist() == [False, True, False, False]
    assert res.genus_resolved.tolist() == [True, True, False, True]
    assert res.species_reads == pytest.approx([1.8, 0.2, 0.0, 0.0])
    # genus reads over every read: Bacteroides 1 + 2 + 0.5, Klebsiella 0.5 + 1
    assert res.genus_reads == pytest.approx([3.5, 1.5])
    assert res.best_genus.tolist() == [0, 0, 0, 1] or res.best_genus[2] in (0, 1)


def test_one_genus_under_two_families_gives_one_genus_with_the_majority_lineage() -> None:
    taxonomy = {
        "x1": Lineage(family="Lachnospiraceae", genus="Blautia", species="Blautia obeum"),
        "x2": Lineage(family="Lachnospiraceae", genus="Blautia", species="Blautia wexlerae"),
        "x3": Lineage(family="Ruminococcaceae", genus="Blautia", species="Blautia sp."),
    }
    index = TaxonIndex.from_references(["x3", "x1", "x2"], taxonomy)
    assert len(index.genera) == 1
    assert index.genera[0] == Lineage(family="Lachnospiraceae", genus="Blautia")
    assert index.unit_genus.tolist() == [0, 0, 0]


def _merge(margin: float) -> GroupMerge:
    from gutbrain.profile.taxonomy import merge_contested_groups

    index = TaxonIndex.from_references(["a1", "b", "c"], TAXONOMY)
    group = (
        "Bacteroides fragilis group",
        _lin("Bacteroides", "Bacteroides fragilis group"),
        ("Bacteroides fragilis", "Bacteroides ovatus"),
    )
    # 10 reads, best unit 0 (fragilis) at identity 0.97, ovatus at 0.97 - margin, Klebsiella 0.8
    rows = np.repeat(np.arange(10), 3)
    units = np.tile([0, 1, 2], 10)
    identity = np.tile([0.97, 0.97 - margin, 0.80], 10)
    return merge_contested_groups(
        index,
        [group],
        candidates=[(rows, units, identity)],
        weights=np.ones(10),
        best_unit=np.zeros(10, dtype=np.int64),
    )


def test_group_merged_when_reads_do_not_separate_members() -> None:
    merge = _merge(0.001)
    assert merge.merged == 1
    k = merge.index.n_units - 1
    assert merge.index.units[k].species == "Bacteroides fragilis group"
    assert merge.members[k] == ("Bacteroides fragilis", "Bacteroides ovatus")
    assert merge.column.tolist() == [k, k, 2]
    # posterior mass of both members lands on the group, Klebsiella stays
    posterior = sp.csr_matrix(np.array([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]]))
    merged = merge.merge_posterior(posterior).toarray()
    assert merged[0, k] == pytest.approx(1.0)
    assert merged[1, 2] == pytest.approx(1.0)
    assert merge.merge_values(np.array([0.2, 0.3, 0.5]))[k] == pytest.approx(0.5)


def test_group_kept_apart_when_reads_separate_members() -> None:
    assert _merge(0.02).merged == 0


_FRAGILIS_GROUP = (
    "Bacteroides fragilis group",
    _lin("Bacteroides", "Bacteroides fragilis group"),
    ("Bacteroides fragilis", "Bacteroides ovatus"),
)


def _merge_with_copies(identity: list[float]) -> GroupMerge:
    """10 reads aligned to a1 and a2 (two 16S copies of B. fragilis), b (B. ovatus) and c
    (Klebsiella) at ``identity``; every read's best unit is B. fragilis."""
    from gutbrain.profile.taxonomy import merge_contested_groups

    index = TaxonIndex.from_references(["a1", "a2", "b", "c"], TAXONOMY)
    return merge_contested_groups(
        index,
        [_FRAGILIS_GROUP],
        candidates=[
            (
                np.repeat(np.arange(10), 4),
                np.tile(index.ref_unit[[0, 1, 2, 3]], 10),
                np.tile(identity, 10),
            )
        ],
        weights=np.ones(10),
        best_unit=np.full(10, index.ref_unit[0], dtype=np.int64),
    )


def test_two_copies_of_one_member_do_not_contest_each_other() -> None:
    # the copies are 0.001 apart, B. ovatus 0.07 behind: the reads separate the members
    assert _merge_with_copies([0.97, 0.969, 0.90, 0.80]).merged == 0
    # the member's best copy is its identity: B. ovatus within the margin of it is contested
    assert _merge_with_copies([0.95, 0.97, 0.967, 0.80]).merged == 1
    # ... and outside the margin of it, not (though within the margin of the lesser copy)
    assert _merge_with_copies([0.95, 0.97, 0.952, 0.80]).merged == 0


@given(
    reads=st.lists(
        st.tuples(st.floats(0.8, 1.0), st.floats(0.8, 1.0), st.floats(0.0, 0.05), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_a_lesser_copy_of_a_member_never_changes_the_decision(
    reads: list[tuple[float, float, float, bool]],
) -> None:
    """Adding a hit to another reference of a member, no better than that member's best, leaves
    the group rule's decision as it was (reads: B. fragilis identity, B. ovatus identity, how
    far below B. fragilis the second copy is, which of the two is the read's best unit)."""
    from gutbrain.profile.taxonomy import merge_contested_groups

    index = TaxonIndex.from_references(["a1", "a2", "b"], TAXONOMY)
    fragilis, ovatus = int(index.ref_unit[0]), int(index.ref_unit[2])
    n = len(reads)
    best = np.array([fragilis if first else ovatus for *_, first in reads], dtype=np.int64)

    def merged(with_copy: bool) -> int:
        rows, units, identity = [], [], []
        for r, (a, b, below, _) in enumerate(reads):
            rows += [r, r]
            units += [fragilis, ovatus]
            identity += [a, b]
            if with_copy:
                rows.append(r)
                units.append(fragilis)
                identity.append(a - below)
        return merge_contested_groups(
            index,
            [_FRAGILIS_GROUP],
            candidates=[(np.array(rows), np.array(units), np.array(identity))],
            weights=np.ones(n),
            best_unit=best,
        ).merged

    assert merged(with_copy=True) == merged(with_copy=False)


@given(
    reads=st.lists(
        st.lists(
            st.tuples(st.integers(0, 3), st.sampled_from([0.9, 0.95, 0.951, 0.96, 0.99])),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=30,
    ),
    weights=st.lists(st.sampled_from([1.0, 2.0, 0.3, 7.1]), min_size=30, max_size=30),
    cuts=st.sets(st.integers(1, 29)),
)
def test_contested_weight_is_the_same_a_row_range_at_a_time(
    reads: list[list[tuple[int, float]]], weights: list[float], cuts: set[int]
) -> None:
    """Issue 11: the group rule's candidates in row chunks (any cut between rows) add the
    same contested weight, bit for bit, as one chunk of every candidate."""
    from gutbrain.profile import taxonomy

    # units 0-2 belong to group 0, unit 3 to none
    unit_group = np.array([0, 0, 0, -1], dtype=np.int64)
    rows = np.array([r for r, hits in enumerate(reads) for _ in hits], dtype=np.int64)
    units = np.array([u for hits in reads for u, _ in hits], dtype=np.int64)
    identity = np.array([i for hits in reads for _, i in hits])
    best_group = np.array([0 if r % 3 else -1 for r in range(len(reads))], dtype=np.int64)
    w = np.array(weights[: len(reads)])

    def contested(chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
        out = np.zeros(1)
        for chunk in chunks:
            taxonomy._add_contested(
                out,
                chunk,
                unit_group=unit_group,
                best_group=best_group,
                weights=w,
                min_identity_margin=0.005,
            )
        return out

    bounds = [0, *sorted(c for c in cuts if c < len(reads)), len(reads)]
    at = np.searchsorted(rows, bounds)
    pieces = [(rows[a:b], units[a:b], identity[a:b]) for a, b in itertools.pairwise(at)]
    whole = contested([(rows, units, identity)])
    assert contested(pieces).tobytes() == whole.tobytes()
    # the estimate's chunks of its matrix of best identities per pair: every entry, in order
    best: dict[tuple[int, int], float] = {}
    for r, u, i in zip(rows.tolist(), units.tolist(), identity.tolist(), strict=True):
        best[r, u] = max(i, best.get((r, u), 0.0))
    pairs = sorted(best)
    matrix = sp.csr_matrix(
        ([best[p] for p in pairs], ([r for r, _ in pairs], [u for _, u in pairs])),
        shape=(len(reads), 4),
    )
    with mock.patch.object(
        taxonomy, "row_chunks", functools.partial(taxonomy.row_chunks, entries=2)
    ):
        chunks = list(taxonomy.candidate_chunks(matrix))
    got = [(r, u, i) for c in chunks for r, u, i in zip(*(a.tolist() for a in c), strict=True)]
    assert got == [(r, u, best[r, u]) for r, u in pairs]
    assert (
        contested(chunks).tobytes()
        == contested([tuple(np.concatenate(a) for a in zip(*chunks, strict=True))]).tobytes()
    )
