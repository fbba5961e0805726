"""The edit-distance stage of the pre-screen: hand-computed distances, decisions, properties."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.errors import ValidationError
from gutbrain.profile.edit_screen import (
    EditSettings,
    UnitReferences,
    decide_by_edit_distance,
    edit_distance,
)
from gutbrain.profile.kmer_screen import ScreenResult, ScreenSettings, build_kmer_index
from gutbrain.profile.kmer_screen import reverse_complement as revcomp
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.reference.bundle import ReferenceBundle

# unit 0 and unit 1 differ at 5 substitutions (positions 4, 10, 16, 22, 28 of 32)
REF_A = "ACGTACGTTAGCCATGGTCAATCGGATCCTAG"
REF_B = "ACGTTCGTTATCCATGCTCAATAGGATCGTAG"


def _one_read_result(
    candidates: list[int], *, reverse: bool = False, runner: int = 0
) -> ScreenResult:
    """A screen result for one undecided, plausible read with ``candidates`` (most shared
    first), 10 k-mers shared with its best unit and ``runner`` with the best one outside its
    group."""
    one = np.array([-1], dtype=np.int64)
    zero = np.zeros(1, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    return ScreenResult(
        unit=one, best_unit=zero, best=np.array([10]), second=np.array([runner]), sampled=zero,
        found=zero,
        specific=zero, tied_read=empty, tied_unit=empty, plausible=np.array([True]),
        reverse=np.array([reverse]), candidate_read=np.zeros(len(candidates), dtype=np.int64),
        candidate_unit=np.array(candidates, dtype=np.int64),
    )  # fmt: skip


def _references(sequences: list[str], units: list[int]) -> UnitReferences:
    return UnitReferences(units, lambda i: sequences[i])


def test_edit_distance_known_answers() -> None:
    assert sum(a != b for a, b in zip(REF_A, REF_B, strict=True)) == 5
    assert edit_distance(REF_A, REF_B) == 5
    assert edit_distance(REF_A[3:20], REF_A) == 0  # substring: the reference's ends are free
    assert edit_distance("ACGGT", "TTACGTTT") == 1  # one inserted G
    assert edit_distance("ACT", "TTACGTTT") == 1  # one deleted G
    assert edit_distance(REF_A, REF_B, 4) is None  # above the band
    assert edit_distance(REF_A, REF_B, 5) == 5
    assert edit_distance("A", "C", -1) is None


def test_hand_computed_decisions() -> None:
    refs = _references([REF_A, REF_B], [0, 1])
    loose = EditSettings(min_margin=5, margin_fraction=0.0, max_divergence=0.5)
    # the read is REF_A: 0 edits to unit 0, 5 to unit 1 -> unit 0 when the margin is <= 5
    decided, added = decide_by_edit_distance(
        _one_read_result([1, 0]), [REF_A], refs, settings=loose
    )
    assert decided.unit.tolist() == [0]
    assert added.tolist() == [True]
    strict = replace(loose, min_margin=6)
    undecided, added = decide_by_edit_distance(
        _one_read_result([1, 0]), [REF_A], refs, settings=strict
    )
    assert undecided.unit.tolist() == [-1]
    assert added.tolist() == [False]
    # reverse strand: the read is reverse-complemented before scoring
    flipped, _ = decide_by_edit_distance(
        _one_read_result([0, 1], reverse=True), [revcomp(REF_B)], refs, settings=loose
    )
    assert flipped.unit.tolist() == [1]
    # in one species group the members must be 2 x 0.1 x 32 = 6.4 -> 7 edits apart
    grouped = np.array([0, 0], dtype=np.int64)
    in_group, _ = decide_by_edit_distance(
        _one_read_result([0, 1]), [REF_A], refs, settings=loose, unit_group=grouped,
        group_identity_margin=0.1,
    )  # fmt: skip
    assert in_group.unit.tolist() == [-1]
    apart, _ = decide_by_edit_distance(
        _one_read_result([0, 1]), [REF_A], refs, settings=loose, unit_group=grouped,
        group_identity_margin=0.07,
    )  # fmt: skip
    assert apart.unit.tolist() == [0]  # 2 x 0.07 x 32 = 4.48 -> 5 edits


def test_far_reads_many_candidates_and_ties_stay_with_alignment() -> None:
    refs = _references([REF_A, REF_B, REF_A], [0, 1, 2])
    loose = EditSettings(min_margin=1, margin_fraction=0.0, max_divergence=0.5)
    far = "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
    assert decide_by_edit_distance(_one_read_result([0, 1]), [far], refs, settings=loose)[
        0
    ].unit.tolist() == [-1]
    # units 0 and 2 hold the same sequence: a tie
    assert decide_by_edit_distance(_one_read_result([0, 2, 1]), [REF_A], refs, settings=loose)[
        0
    ].unit.tolist() == [-1]
    # a runner-up sharing >= 80 % of the best unit's k-mers: left to alignment unscored
    near = _one_read_result([0, 1], runner=8)
    assert decide_by_edit_distance(near, [REF_A], refs, settings=loose)[0].unit.tolist() == [-1]
    close = _one_read_result([0, 1], runner=7)
    assert decide_by_edit_distance(close, [REF_A], refs, settings=loose)[0].unit.tolist() == [0]
    few = replace(loose, max_candidates=1)
    assert decide_by_edit_distance(_one_read_result([0, 1]), [REF_A], refs, settings=few)[
        0
    ].unit.tolist() == [-1]
    # copies of one unit: the nearer copy counts
    copies = _references([REF_B, REF_A, REF_B], [0, 0, 1])
    assert decide_by_edit_distance(_one_read_result([1, 0]), [REF_A], copies, settings=loose)[
        0
    ].unit.tolist() == [0]


def test_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="edit-distance screen"):
        EditSettings(candidate_fraction=0.0)
    with pytest.raises(ValidationError, match="edit-distance screen"):
        EditSettings(max_divergence=1.0)


_DNA = st.text(alphabet="ACGT", min_size=60, max_size=120)


@given(
    references=st.lists(_DNA, min_size=2, max_size=6),
    picks=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 60), st.integers(30, 60)),
                   min_size=1, max_size=10),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_edit_stage_properties(
    references: list[str], picks: list[tuple[int, int, int]], seed: int
) -> None:
    units = [i // 2 for i in range(len(references))]  # references 2i, 2i+1 form unit i
    # the k-mer screen decides nothing: every read reaches the edit stage
    loose = ScreenSettings(
        k=11, scale=1, min_kmers=1, min_found=0.0, min_purity=0.0, min_margin=1000,
        margin_fraction=0.0,
    )  # fmt: skip
    index = build_kmer_index(references, units, settings=loose)
    by_unit = _references(references, units)
    edit = EditSettings(min_margin=2, margin_fraction=0.0, max_divergence=0.3)
    reads = []
    for ref, start, length in picks:
        source = references[ref % len(references)]
        read = source[start % len(source) :][:length]
        reads.append(revcomp(read) if (seed + start) % 2 else read)

    def run(batch: list[str]) -> npt.NDArray[np.int64]:
        screened = index.screen(batch, candidate_fraction=edit.candidate_fraction)
        result, added = decide_by_edit_distance(screened, batch, by_unit, settings=edit)
        assert result.unit.shape == (len(batch),)  # one outcome per read
        assert not (added & screened.decided).any()  # decided reads are left as they are
        assert np.array_equal(result.unit[screened.decided], screened.unit[screened.decided])
        return result.unit

    unit = run(reads)
    # a unique exact match is never contradicted
    for read, decided in zip(reads, unit.tolist(), strict=True):
        holders = {units[i] for i, r in enumerate(references) if read in r or revcomp(read) in r}
        if len(holders) == 1 and decided >= 0:
            assert decided == holders.pop()
    # batch order invariance
    order = np.random.default_rng(seed).permutation(len(reads))
    assert np.array_equal(run([reads[i] for i in order]), unit[order])


def test_profile_with_edit_stage_accounts_for_every_read(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads(
        "mix.fq.gz",
        {"7000004128190436": 20, "S000003122": 12, "S000436350": 8},
        seed=1,
        random_reads=3,
    )
    kmer_only = replace(PROFILE_PRESETS["ont"], edit_screen=None)
    plain = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=kmer_only
    )
    with_edit = replace(PROFILE_PRESETS["ont"], edit_screen=EditSettings())
    edited = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=with_edit
    )
    counts = edited.assignment
    assert counts["reads_screened"] >= plain.assignment["reads_screened"]
    assert counts["reads_screened"] + counts["reads_aligned"] == edited.qc.reads_kept
    assert len(edited.read_assignments) == counts["reads_in"]
    assert {r.taxon: round(r.reads) for r in edited.profile.at_rank("species")} == {
        r.taxon: round(r.reads) for r in plain.profile.at_rank("species")
    }
    assert edited.profile.provenance.parameters["edit_screen"] == EditSettings().as_dict()
    again = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=with_edit
    )
    assert again.read_assignments == edited.read_assignments
