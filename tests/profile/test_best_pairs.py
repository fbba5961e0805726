"""The estimate's matrices built from triplets in row order, chunk by chunk (issue 11,
memstream): the same matrix as ``LikelihoodMatrix.from_triplets``, bit for bit, whatever the
chunks (gutbrain.profile.best_pairs, gutbrain.profile.entries)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.model import ReadType
from gutbrain.profile import chunks, entries
from gutbrain.profile.align import HitTable
from gutbrain.profile.best_pairs import BestPairs
from gutbrain.profile.contest import contest_log_likelihood
from gutbrain.profile.em import LikelihoodMatrix
from gutbrain.profile.entries import estimate_entries
from gutbrain.profile.fit import _estimate_em, _settle
from gutbrain.profile.likelihood import ErrorModel, alignment_log_likelihood
from gutbrain.profile.pipeline import PROFILE_PRESETS
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from tests.profile.profile_helpers import (
    FRAGILIS,
    VULGATUS,
    chimera_layout_hits,
    reference_sequences,
)


def csr_of_best_in_row_order(
    rows: list[int] | npt.NDArray[np.int64],
    cols: list[int] | npt.NDArray[np.int64],
    values: list[float] | npt.NDArray[np.float64],
    *,
    shape: tuple[int, int],
    chunk: int,
) -> sp.csr_matrix:
    """The matrix of :class:`BestPairs` over triplets in row order, added ``chunk`` at a time."""
    if chunk < 1:
        message = f"chunk must be positive, got {chunk}"
        raise ValueError(message)
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    pairs = BestPairs(shape)
    for start in range(0, r.size, chunk):
        stop = start + chunk
        pairs.add(r[start:stop], c[start:stop], v[start:stop])
    (matrix,) = pairs.matrices()
    return matrix


_VALUES = st.sampled_from([0.0, -0.0, -1.5, -3.0, 2.0, -math.inf])


def _assert_same_csr(got: sp.csr_matrix, want: sp.csr_matrix) -> None:
    """Same shape, pointers, columns and values bit for bit (the sign of a zero too)."""
    assert got.shape == want.shape
    assert got.indptr.dtype == want.indptr.dtype
    assert got.indices.dtype == want.indices.dtype
    assert got.data.dtype == want.data.dtype
    assert got.indptr.tolist() == want.indptr.tolist()
    assert got.indices.tolist() == want.indices.tolist()
    assert got.data.view(np.uint64).tolist() == want.data.view(np.uint64).tolist()


def _triplets(
    data: st.DataObject, n_rows: int, n_cols: int, n_values: int = 1
) -> list[tuple[int, int, tuple[float, ...]]]:
    triplet = st.tuples(
        st.integers(0, n_rows - 1),
        st.integers(0, n_cols - 1),
        st.tuples(*[_VALUES] * n_values),
    )
    return data.draw(st.lists(triplet, max_size=30))


def _from_triplets(
    triplets: list[tuple[int, int, tuple[float, ...]]], shape: tuple[int, int], k: int = 0
) -> sp.csr_matrix:
    return LikelihoodMatrix.from_triplets(
        [t[0] for t in triplets],
        [t[1] for t in triplets],
        [t[2][k] for t in triplets],
        n_reads=shape[0],
        n_taxa=shape[1],
    ).log_likelihood


@settings(max_examples=200, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 5)), data=st.data())
def test_row_order_chunks_of_any_size_give_the_from_triplets_matrix(
    shape: tuple[int, int], data: st.DataObject
) -> None:
    triplets = _triplets(data, *shape)
    # in row order, the pairs' entries keep their given order (a stable sort by row)
    ordered = sorted(triplets, key=lambda t: t[0])
    want = _from_triplets(triplets, shape)
    for chunk in range(1, len(ordered) + 2):
        got = csr_of_best_in_row_order(
            [t[0] for t in ordered],
            [t[1] for t in ordered],
            [t[2][0] for t in ordered],
            shape=shape,
            chunk=chunk,
        )
        _assert_same_csr(got, want)


@settings(max_examples=150, deadline=None)
@given(shape=st.tuples(st.integers(1, 6), st.integers(1, 5)), data=st.data())
def test_several_value_arrays_each_keep_their_own_best_on_shared_pairs(
    shape: tuple[int, int], data: st.DataObject
) -> None:
    triplets = sorted(_triplets(data, *shape, n_values=2), key=lambda t: t[0])
    rows = np.array([t[0] for t in triplets], dtype=np.int64)
    # chunks end at row boundaries here (rows_complete=True), as in the estimate
    cuts = sorted(data.draw(st.sets(st.integers(0, shape[0]), max_size=4)))
    bounds = [0, *np.searchsorted(rows, cuts).tolist(), rows.size]
    pairs = BestPairs(shape, n_values=2)
    for lo, hi in itertools.pairwise(bounds):
        pairs.add(
            rows[lo:hi],
            [t[1] for t in triplets[lo:hi]],
            [t[2][0] for t in triplets[lo:hi]],
            [t[2][1] for t in triplets[lo:hi]],
            rows_complete=True,
        )
    first, second = pairs.matrices()
    _assert_same_csr(first, _from_triplets(triplets, shape, 0))
    _assert_same_csr(second, _from_triplets(triplets, shape, 1))


def test_a_pair_split_across_chunks_keeps_its_first_largest_value() -> None:
    # by hand: row 0 spans three one-entry chunks; of -0.0 and 0.0 (equal) the first given
    got = csr_of_best_in_row_order(
        [0, 0, 0, 2], [1, 1, 0, 1], [-0.0, 0.0, -2.0, -1.0], shape=(3, 2), chunk=1
    )
    assert got.indptr.tolist() == [0, 2, 2, 3]
    assert got.indices.tolist() == [0, 1, 1]
    assert got.data.tolist() == [-2.0, 0.0, -1.0]
    assert math.copysign(1.0, got.data[1]) == -1.0
    # and the larger value wins whichever chunk it comes in
    later = csr_of_best_in_row_order(
        [1, 1, 1], [0, 0, 0], [-5.0, -4.0, -6.0], shape=(2, 1), chunk=2
    )
    assert later.toarray().tolist() == [[0.0], [-4.0]]
    assert later.nnz == 1


def test_no_triplets_give_an_empty_matrix_like_from_triplets() -> None:
    got = csr_of_best_in_row_order([], [], [], shape=(3, 2), chunk=4)
    _assert_same_csr(got, _from_triplets([], (3, 2)))


def test_bad_triplets_are_refused() -> None:
    with pytest.raises(ValueError, match="not in order"):
        csr_of_best_in_row_order([1, 0], [0, 0], [0.0, 0.0], shape=(2, 1), chunk=2)
    with pytest.raises(ValueError, match="not in order"):  # across chunks
        csr_of_best_in_row_order([1, 0], [0, 0], [0.0, 0.0], shape=(2, 1), chunk=1)
    pairs = BestPairs((2, 1))
    pairs.add([0], [0], [0.0], rows_complete=True)
    with pytest.raises(ValueError, match="not in order"):  # a complete row cannot go on
        pairs.add([0], [0], [1.0])
    with pytest.raises(ValueError, match="outside"):
        csr_of_best_in_row_order([2], [0], [0.0], shape=(2, 1), chunk=1)
    with pytest.raises(ValueError, match="not in order"):
        csr_of_best_in_row_order([-1], [0], [0.0], shape=(2, 1), chunk=1)
    with pytest.raises(ValueError, match="outside"):
        csr_of_best_in_row_order([0], [1], [0.0], shape=(2, 1), chunk=1)
    with pytest.raises(ValueError, match="NaN"):
        csr_of_best_in_row_order([0], [0], [math.nan], shape=(2, 1), chunk=1)
    with pytest.raises(ValueError, match="chunk"):
        csr_of_best_in_row_order([0], [0], [0.0], shape=(2, 1), chunk=0)
    with pytest.raises(ValueError, match="value arrays"):
        BestPairs((2, 1), n_values=2).add([0], [0], [0.0])
    with pytest.raises(ValueError, match="length"):
        BestPairs((2, 1)).add([0, 1], [0], [0.0])
    with pytest.raises(ValueError, match="positive"):
        BestPairs((2, 1), n_values=0)
    done = BestPairs((2, 1))
    done.matrices()
    with pytest.raises(RuntimeError, match="after"):
        done.add([0], [0], [0.0])


_MODEL = ErrorModel(math.log(0.02), math.log(0.01), math.log(0.015), math.log(0.05))


@st.composite
def _hits(draw: st.DrawFn, n_unique: int, n_refs: int) -> HitTable:
    """Random alignments (read = distinct read index, in any order)."""
    n = draw(st.integers(0, 25))
    ints = functools.partial(st.lists, min_size=n, max_size=n)
    length = np.array(draw(ints(st.integers(40, 60))))
    start = np.array(draw(ints(st.integers(0, 5))))
    end = length - np.array(draw(ints(st.integers(0, 5))))
    span = end - start
    matches = span - np.array(draw(ints(st.integers(0, 6))))
    return HitTable(
        read=np.array(draw(ints(st.integers(0, n_unique - 1))), dtype=np.int64),
        ref=np.array(draw(ints(st.integers(0, n_refs - 1))), dtype=np.int64),
        query_start=start,
        query_end=end,
        query_length=length,
        ref_start=np.zeros(n, dtype=np.int64),
        ref_end=span + np.array(draw(ints(st.integers(-3, 3)))),
        matches=matches,
        block_length=span,
        edit_distance=span - matches + np.array(draw(ints(st.integers(0, 4)))),
        primary=np.array(draw(ints(st.booleans())), dtype=bool),
    )


def _small_chunks(entries_per_chunk: int) -> AbstractContextManager[Any]:
    small = functools.partial(chunks.row_chunks, entries=entries_per_chunk)
    patches = contextlib.ExitStack()
    patches.enter_context(mock.patch.object(entries, "row_chunks", small))
    return patches


@settings(max_examples=100, deadline=None)
@given(data=st.data(), chunk=st.integers(1, 8))
def test_estimate_entries_equal_the_whole_table_computation(
    data: st.DataObject, chunk: int
) -> None:
    # the estimate's values before issue 11 (memstream): the eligible reads' hits copied out,
    # then every array over that whole table
    n_unique, n_units = 7, 3
    ref_unit = np.array([0, 1, 1, 2], dtype=np.int64)
    all_hits = data.draw(_hits(n_unique, ref_unit.size))
    has_hit = np.zeros(n_unique, dtype=bool)
    has_hit[all_hits.read] = True
    eligible = has_hit & np.array(data.draw(st.lists(st.booleans(), min_size=7, max_size=7)))
    hits = all_hits.take(eligible[all_hits.read])
    rows = np.flatnonzero(eligible)
    row_of_unique = np.full(n_unique, -1, dtype=np.int64)
    row_of_unique[rows] = np.arange(rows.size)
    read_rows = row_of_unique[hits.read]
    read_units = ref_unit[hits.ref]
    shape = {"n_reads": int(rows.size), "n_taxa": n_units}
    want = LikelihoodMatrix.from_triplets(
        read_rows, read_units, alignment_log_likelihood(hits, _MODEL, n_reads=n_unique), **shape
    ).log_likelihood
    want_contest = LikelihoodMatrix.from_triplets(
        read_rows, read_units, contest_log_likelihood(hits, _MODEL, n_reads=n_unique), **shape
    ).log_likelihood
    # the species-group rule takes each read's best identity per unit
    want_identity = LikelihoodMatrix.from_triplets(
        read_rows, read_units, hits.identity, **shape
    ).log_likelihood
    with _small_chunks(chunk):
        got = estimate_entries(
            all_hits,
            eligible=eligible,
            ref_unit=ref_unit,
            n_units=n_units,
            model=_MODEL,
            contest=True,
            groups=True,
        )
    _assert_same_csr(got.log_likelihood, want)
    assert got.contest is not None
    _assert_same_csr(got.contest, want_contest)
    assert got.alignments == len(hits)
    assert got.identity is not None
    _assert_same_csr(got.identity, want_identity)


def test_estimate_entries_by_hand_pass_over_the_other_reads() -> None:
    hits = HitTable(
        read=np.array([3, 1, 0, 3]),
        ref=np.array([0, 0, 1, 1]),
        query_start=np.zeros(4, dtype=np.int64),
        query_end=np.full(4, 50),
        query_length=np.full(4, 50),
        ref_start=np.zeros(4, dtype=np.int64),
        ref_end=np.full(4, 50),
        matches=np.array([50, 49, 10, 48]),
        block_length=np.full(4, 50),
        edit_distance=np.array([0, 1, 40, 2]),
        primary=np.ones(4, dtype=bool),
    )
    got = estimate_entries(
        hits,
        eligible=np.array([False, True, False, True]),  # read 0 (low identity) is not in the EM
        ref_unit=np.array([0, 1], dtype=np.int64),
        n_units=2,
        model=_MODEL,
        contest=False,
        groups=False,
    )
    assert got.contest is None
    assert got.identity is None
    assert got.alignments == 3
    # row 0 = read 1 (one mismatch), row 1 = read 3 (exact on unit 0, two mismatches on 1)
    assert got.log_likelihood.shape == (2, 2)
    assert got.log_likelihood.indptr.tolist() == [0, 1, 3]
    assert got.log_likelihood.indices.tolist() == [0, 0, 1]
    assert got.log_likelihood.data.tolist() == pytest.approx(
        [_MODEL.log_mismatch, 0.0, 2 * _MODEL.log_mismatch]
    )


def test_the_fit_counts_the_alignments_of_its_em_reads(tiny_bundle: ReferenceBundle) -> None:
    # Fit keeps the number of alignments (qc.json), not the hits: read 0 is a chimera (two
    # genera on disjoint halves), so only the four alignments of reads 1 and 2 are in the EM.
    # Read 1 aligns equally well to both Bacteroides: their species group is merged from the
    # identities the estimate took before letting the hits go
    index = TaxonIndex.from_references(list(reference_sequences()), tiny_bundle.taxonomy)
    fragilis = tiny_bundle.taxonomy[FRAGILIS]
    vulgatus = tiny_bundle.taxonomy[VULGATUS].species
    assert fragilis.species is not None
    assert vulgatus is not None
    members = tuple(sorted((fragilis.species, vulgatus)))
    windows = [chimera_layout_hits()]  # one window holding every read's hits
    settings = PROFILE_PRESETS[ReadType.ont]
    groups = [("Bacteroides group", fragilis, members)]
    em = _estimate_em(
        lambda: windows,
        np.ones(3),
        index,
        settings,
        None,
        False,
        np.zeros(3, dtype=bool),
        groups=True,
    )
    fit = _settle(em, index, settings, groups, None)
    assert fit.alignments == 4
    assert fit.row_of_read.tolist() == [-1, 0, 1]
    assert not hasattr(fit, "hits")
    assert fit.merge is not None
    assert sorted(fit.members.values()) == [members]
