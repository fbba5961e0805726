"""Alignment error counts and Emu's per-alignment log-likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gutbrain.profile.align import ALIGNMENT_PRESETS, HitTable, align_sequences, open_aligner
from gutbrain.profile.likelihood import alignment_log_likelihood, estimate_error_model
from tests.profile.profile_helpers import REF_FASTA, mutate, reference_sequences


def _hits(**columns: list[int]) -> HitTable:
    n = len(columns["read"])
    base = {
        "ref": [0] * n,
        "query_start": [0] * n,
        "ref_start": [0] * n,
        "matches": [0] * n,
        "edit_distance": [0] * n,
    }
    base.update(columns)
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in base.items() if k != "primary"}
    primary = np.asarray(columns.get("primary", [True] * n), dtype=bool)
    return HitTable(primary=primary, **arrays)


def test_error_counts_agree_with_the_cigar() -> None:
    # mappy 2.31's own CIGAR is the known answer for I and D; X = NM - I - D
    aligner = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["ont"])
    rng = np.random.default_rng(5)
    refs = list(reference_sequences().values())
    reads = [mutate(refs[i % len(refs)], 0.06, rng) for i in range(12)]
    table = align_sequences(aligner, reads)
    assert len(table) >= 12
    i = 0
    for k, seq in enumerate(reads):
        for hit in aligner.map(seq):
            assert table.read[i] == k
            ins = sum(n for n, op in hit.cigar if op == 1)
            dels = sum(n for n, op in hit.cigar if op == 2)
            assert table.insertions[i] == ins
            assert table.deletions[i] == dels
            assert table.mismatches[i] == hit.NM - ins - dels
            assert table.soft_clips[i] == hit.q_st + len(seq) - hit.q_en
            i += 1


def test_error_model_from_primary_counts_by_hand() -> None:
    # primary: M = 50 aligned columns (48 matches, 2 mismatches), 1 inserted, 0 deleted,
    # 1 soft-clipped base: q 1..52 of 52 (M + I = 51), r 0..50 (M + D = 50), NM = 3.
    # secondary (ignored by the model): q 0..40, r 0..60, M = 40 with 5 mismatches, D = 20.
    hits = _hits(
        read=[0, 0],
        query_start=[1, 0],
        query_end=[52, 40],
        query_length=[52, 52],
        ref_end=[50, 60],
        block_length=[51, 60],
        matches=[48, 35],
        edit_distance=[3, 25],
        primary=[True, False],
    )
    assert hits.insertions.tolist() == [1, 0]
    assert hits.deletions.tolist() == [0, 20]
    assert hits.mismatches.tolist() == [2, 5]
    model = estimate_error_model(hits)
    # counts (X, I, D, S) = (2, 1, 0, 1), +1 pseudocount each -> (3, 2, 1, 2) / 8
    assert math.exp(model.log_mismatch) == pytest.approx(3 / 8)
    assert math.exp(model.log_insertion) == pytest.approx(2 / 8)
    assert math.exp(model.log_deletion) == pytest.approx(1 / 8)
    assert math.exp(model.log_soft_clip) == pytest.approx(2 / 8)


def test_length_normalisation_uses_each_reads_own_longest_alignment() -> None:
    # Emu bug class: "if align_len not in dict_longest_align" compared an int with a dict keyed
    # by read name, so the *last* alignment's length won. Here read 0's hits come longest-first
    # and read 1 (listed between them) is longer still: each hit must be scaled by the longest
    # alignment of its *own* read.
    hits = _hits(
        read=[0, 1, 0],
        query_end=[100, 200, 50],
        query_length=[100, 200, 100],
        ref_end=[100, 200, 50],
        block_length=[100, 200, 50],
        matches=[98, 200, 48],
        edit_distance=[2, 0, 2],
    )
    model = estimate_error_model(hits)
    ll = alignment_log_likelihood(hits, model, n_reads=2)
    raw_short = 2 * model.log_mismatch + 50 * model.log_soft_clip  # 50 clipped bases
    # read 0: longest = 100 columns; the short hit has 50 + 50 clipped = 100 columns -> ratio 1
    assert ll[2] == pytest.approx(raw_short * 100 / 100)
    assert ll[0] == pytest.approx(2 * model.log_mismatch)
    assert ll[1] == pytest.approx(0.0)


def test_length_normalisation_ignores_other_reads_and_hit_order() -> None:
    hits = _hits(
        read=[0, 0, 1],
        query_start=[0, 0, 0],
        query_end=[60, 100, 300],
        query_length=[60, 100, 300],
        ref_end=[60, 100, 300],
        block_length=[60, 100, 300],
        matches=[58, 99, 300],
        edit_distance=[2, 1, 0],
    )
    model = estimate_error_model(hits)
    ll = alignment_log_likelihood(hits, model, n_reads=2)
    # hit 0 has 60 columns, read 0's longest has 100: scaled by 100/60 (not by 300/60)
    assert ll[0] == pytest.approx(2 * model.log_mismatch * 100 / 60)
    reordered = hits.take(np.array([2, 1, 0]))
    ll2 = alignment_log_likelihood(reordered, model, n_reads=2)
    assert ll2[::-1] == pytest.approx(ll)
