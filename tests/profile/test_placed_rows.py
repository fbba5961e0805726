"""Reads the k-mer screen placed for one unit share one EM row per unit (issue 11,
``fit._estimate_em(placed=...)``): every read's outcome, the estimate, the reads per taxon and
the bootstrap are those of one row per read."""

from __future__ import annotations

import numpy as np
import pytest

from gutbrain.model import ReadType
from gutbrain.profile.align import HitTable
from gutbrain.profile.em import bootstrap_abundances
from gutbrain.profile.fit import STATUS_LABELS, Fit, _estimate_em, _settle
from gutbrain.profile.pipeline import PROFILE_PRESETS
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from tests.profile.profile_helpers import (
    BIFIDO,
    FRAGILIS,
    KLEBSIELLA,
    VULGATUS,
    reference_sequences,
)

LENGTH = 1400

#: (read, reference, errors); a read with one hit and no errors is a stand-in when screened
LAYOUT = [
    (0, KLEBSIELLA, 0),
    (1, BIFIDO, 0),
    (2, KLEBSIELLA, 20),  # aligned, two candidates
    (2, BIFIDO, 24),
    (3, KLEBSIELLA, 0),
    (4, FRAGILIS, 15),  # aligned to both Bacteroides
    (4, VULGATUS, 15),
    (5, KLEBSIELLA, 0),
    (6, BIFIDO, 0),
    (7, FRAGILIS, 0),  # screened, tied with its group member: two stand-ins, its own row
    (7, VULGATUS, 0),
    (8, KLEBSIELLA, 0),
    (9, KLEBSIELLA, 30),  # aligned, one candidate
    (10, FRAGILIS, 0),
    (11, FRAGILIS, 0),
]
SCREENED = [0, 1, 3, 5, 6, 7, 8, 10, 11]
WEIGHTS = np.array([3.0, 1.0, 2.0, 1.0, 4.0, 2.0, 1.0, 1.0, 5.0, 1.0, 2.0, 1.0])


def _hits() -> HitTable:
    names = list(reference_sequences())
    n = len(LAYOUT)
    errors = np.array([e for _, _, e in LAYOUT])
    length = np.full(n, LENGTH)
    first = np.ones(n, dtype=bool)
    first[1:] = np.diff([r for r, _, _ in LAYOUT]) != 0
    return HitTable(
        read=np.array([r for r, _, _ in LAYOUT]),
        ref=np.array([names.index(ref) for _, ref, _ in LAYOUT]),
        query_start=np.zeros(n, dtype=np.int64),
        query_end=length,
        query_length=length,
        ref_start=np.zeros(n, dtype=np.int64),
        ref_end=length,
        matches=length - errors,
        block_length=length,
        edit_distance=errors,
        primary=first,
    )


def _fit(bundle: ReferenceBundle, *, pooled: bool, min_abundance: float | None) -> Fit:
    index = TaxonIndex.from_references(list(reference_sequences()), bundle.taxonomy)
    fragilis = bundle.taxonomy[FRAGILIS]
    vulgatus = bundle.taxonomy[VULGATUS].species
    assert fragilis.species is not None
    assert vulgatus is not None
    groups = [("Bacteroides group", fragilis, tuple(sorted((fragilis.species, vulgatus))))]
    screened = np.zeros(WEIGHTS.size, dtype=bool)
    screened[SCREENED] = True
    settings = PROFILE_PRESETS[ReadType.ont]
    windows = [_hits()]
    em = _estimate_em(
        lambda: windows,
        WEIGHTS,
        index,
        settings,
        min_abundance,
        False,
        screened,
        groups=True,
        placed=screened if pooled else None,
    )
    return _settle(em, index, settings, groups, None)


@pytest.mark.parametrize("min_abundance", [None, 0.15])
def test_placed_reads_sharing_a_row_per_unit_change_no_outcome(
    tiny_bundle: ReferenceBundle, min_abundance: float | None
) -> None:
    pooled = _fit(tiny_bundle, pooled=True, min_abundance=min_abundance)
    plain = _fit(tiny_bundle, pooled=False, min_abundance=min_abundance)
    # Klebsiella's 4 placed reads, Bifidobacterium's 2 and B. fragilis's 2 take one row each
    assert plain.n_rows == 12
    assert pooled.n_rows == plain.n_rows - (4 - 1) - (2 - 1) - (2 - 1)
    assert pooled.row_of_read[[0, 3, 5, 8]].tolist() == [pooled.row_of_read[0]] * 4
    assert pooled.row_of_read[7] not in pooled.row_of_read[[10, 11]]  # two stand-ins: its own
    assert [STATUS_LABELS[c] for c in pooled.status] == [STATUS_LABELS[c] for c in plain.status]
    assert pooled.alignments == plain.alignments == len(LAYOUT)
    assert np.allclose(pooled.estimate.abundance, plain.estimate.abundance, rtol=0, atol=1e-15)
    for got, expected in (
        (pooled.resolution.species_reads, plain.resolution.species_reads),
        (pooled.resolution.genus_reads, plain.resolution.genus_reads),
    ):
        assert np.allclose(got, expected, rtol=0, atol=1e-12)
    # each read's resolved unit and genus, through its row
    for field in ("best_unit", "best_genus"):
        assert np.array_equal(
            getattr(pooled.resolution, field)[pooled.row_of_read],
            getattr(plain.resolution, field)[plain.row_of_read],
        )
    assert pooled.members == plain.members
    # the bootstrap pools single-candidate rows itself: the same replicates
    for fit in (pooled, plain):
        assert fit.bootstrap_rows.n_reads == pooled.bootstrap_rows.n_reads
    boot = [
        bootstrap_abundances(f.bootstrap_rows, f.estimate.abundance, replicates=5, seed=4)
        for f in (pooled, plain)
    ]
    assert np.array_equal(boot[0], boot[1])


def test_a_pruned_unit_prunes_every_placed_read_of_it(tiny_bundle: ReferenceBundle) -> None:
    # Bifidobacterium holds 2 of 24 reads (read 2 leans to Klebsiella): below 15 % it is
    # dropped, and both of its placed reads, sharing its row, are reported pruned
    fit = _fit(tiny_bundle, pooled=True, min_abundance=0.15)
    labels = [STATUS_LABELS[c] for c in fit.status]
    assert labels[1] == labels[6] == "unassigned_below_min_abundance"
    assert labels[0] == "assigned_species"
