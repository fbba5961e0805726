"""EM: known answers solved by hand and Hypothesis properties (RELIABILITY.md §5.3)."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.profile import em
from gutbrain.profile.em import (
    LikelihoodMatrix,
    bootstrap_abundances,
    collapse_rows,
    estimate_abundances,
    run_em,
)


def _matrix(likelihood: list[list[float]], weights: list[float] | None = None) -> LikelihoodMatrix:
    """Dense L(r|t) (0 = no candidate) -> LikelihoodMatrix of log L."""
    rows, cols, vals = [], [], []
    for r, line in enumerate(likelihood):
        for c, value in enumerate(line):
            if value > 0:
                rows.append(r)
                cols.append(c)
                vals.append(math.log(value))
    return LikelihoodMatrix.from_triplets(
        rows, cols, vals, n_reads=len(likelihood), n_taxa=len(likelihood[0]), weights=weights
    )


def test_two_reads_two_references_solved_by_hand() -> None:
    # l(f) = log(0.9 f + 0.1 (1-f)) + log(0.2 f + 0.8 (1-f)); dl/df = 0 gives
    # 0.8 (0.8 - 0.6 f) = 0.6 (0.1 + 0.8 f)  ->  f = 0.58 / 0.96 = 0.6041666...
    result = run_em(_matrix([[0.9, 0.1], [0.2, 0.8]]), tol=1e-13, max_iter=10_000)
    assert result.abundance[0] == pytest.approx(0.58 / 0.96, abs=1e-6)
    assert result.abundance.sum() == pytest.approx(1.0)
    expected_ll = math.log(0.1 + 0.8 * 0.58 / 0.96) + math.log(0.8 - 0.6 * 0.58 / 0.96)
    assert result.log_likelihood == pytest.approx(expected_ll, abs=1e-9)


def test_one_step_from_uniform_matches_hand_computation() -> None:
    # posteriors at f = (1/2, 1/2): read 1 -> (0.9, 0.1), read 2 -> (0.2, 0.8); M-step -> 0.55
    result = run_em(_matrix([[0.9, 0.1], [0.2, 0.8]]), max_iter=1, tol=0.0)
    assert result.abundance == pytest.approx([0.55, 0.45])
    assert result.log_likelihoods[0] == pytest.approx(math.log(0.5) + math.log(0.5))


def test_unique_reads_fix_abundance_exactly() -> None:
    # each read has one candidate: the MLE is the read share, whatever the likelihood values
    result = run_em(_matrix([[0.3, 0, 0], [0.001, 0, 0], [0, 0.7, 0], [0, 0, 1e-9]]))
    assert result.abundance == pytest.approx([0.5, 0.25, 0.25])


def test_weights_equal_duplicated_rows() -> None:
    weighted = run_em(_matrix([[0.9, 0.1], [0.2, 0.8]], weights=[3.0, 1.0]), tol=1e-12)
    duplicated = run_em(_matrix([[0.9, 0.1]] * 3 + [[0.2, 0.8]]), tol=1e-12)
    assert weighted.abundance == pytest.approx(duplicated.abundance, abs=1e-9)


def test_max_iterations_reported_when_not_converged() -> None:
    result = run_em(_matrix([[0.5, 0.5], [0.6, 0.4]]), max_iter=3, tol=-1.0)
    assert result.iterations == 3
    assert not result.converged


def test_single_taxon_converges_to_one() -> None:
    result = run_em(_matrix([[0.2], [0.5], [1.0]]))
    assert result.abundance == pytest.approx([1.0])
    assert result.converged


# --- Hypothesis ----------------------------------------------------------------------------
@st.composite
def sparse_problems(draw: st.DrawFn) -> tuple[list[list[float]], list[float]]:
    n_taxa = draw(st.integers(1, 6))
    n_reads = draw(st.integers(1, 25))
    rows = []
    for _ in range(n_reads):
        mask = draw(st.lists(st.booleans(), min_size=n_taxa, max_size=n_taxa))
        if not any(mask):
            mask[draw(st.integers(0, n_taxa - 1))] = True
        rows.append([math.exp(draw(st.floats(-40.0, 0.0))) if keep else 0.0 for keep in mask])
    weights = [float(draw(st.integers(1, 5))) for _ in range(n_reads)]
    return rows, weights


_FIXED = {"max_iter": 40, "tol": -math.inf}  # same number of steps for every variant


@settings(max_examples=60, deadline=None)
@given(sparse_problems())
def test_log_likelihood_never_decreases(problem: tuple[list[list[float]], list[float]]) -> None:
    rows, weights = problem
    trace = run_em(_matrix(rows, weights), **_FIXED).log_likelihoods
    for before, after in itertools.pairwise(trace):
        assert after >= before - 1e-9 * max(1.0, abs(before))


@settings(max_examples=60, deadline=None)
@given(sparse_problems())
def test_abundances_nonnegative_sum_to_one(problem: tuple[list[list[float]], list[float]]) -> None:
    rows, weights = problem
    f = run_em(_matrix(rows, weights)).abundance
    assert (f >= 0).all()
    assert f.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(sparse_problems(), st.randoms(use_true_random=False))
def test_invariant_to_read_order(
    problem: tuple[list[list[float]], list[float]], rnd: object
) -> None:
    rows, weights = problem
    order = list(range(len(rows)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    a = run_em(_matrix(rows, weights), **_FIXED).abundance
    b = run_em(_matrix([rows[i] for i in order], [weights[i] for i in order]), **_FIXED).abundance
    assert a == pytest.approx(b, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(sparse_problems(), st.randoms(use_true_random=False))
def test_invariant_to_reference_order(
    problem: tuple[list[list[float]], list[float]], rnd: object
) -> None:
    rows, weights = problem
    perm = list(range(len(rows[0])))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    a = run_em(_matrix(rows, weights), **_FIXED).abundance
    b = run_em(_matrix([[r[j] for j in perm] for r in rows], weights), **_FIXED).abundance
    assert a[perm] == pytest.approx(b, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(sparse_problems())
def test_duplicating_every_read_changes_nothing(
    problem: tuple[list[list[float]], list[float]],
) -> None:
    rows, weights = problem
    a = run_em(_matrix(rows, weights), **_FIXED).abundance
    b = run_em(_matrix(rows + rows, weights + weights), **_FIXED).abundance
    assert a == pytest.approx(b, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-30.0, 0.0), min_size=1, max_size=20), st.integers(2, 5))
def test_single_species_sample_converges_to_that_species(
    log_values: list[float], n_taxa: int
) -> None:
    # every read aligns best to taxon 0 by a margin; other taxa are weaker candidates
    rows = [[math.exp(v)] + [math.exp(v - 5.0)] * (n_taxa - 1) for v in log_values]
    est = estimate_abundances(_matrix(rows))
    assert est.abundance[0] == pytest.approx(1.0, abs=1e-6)
    assert est.taxa_kept == 1


# --- pruning and bootstrap -----------------------------------------------------------------
def test_pruning_drops_rare_taxon_and_reports_unexplained_reads() -> None:
    # 30 reads only on taxon 0, 1 read only on taxon 2; threshold 1/31 keeps taxon 2 (1/31),
    # min_abundance 0.05 drops it and its read becomes unexplained
    rows = [[1.0, 0.0, 0.0]] * 30 + [[0.0, 0.0, 1.0]]
    est = estimate_abundances(_matrix(rows), min_abundance=0.05)
    assert est.abundance == pytest.approx([1.0, 0.0, 0.0])
    assert est.explained.tolist() == [True] * 30 + [False]
    assert est.taxa_kept == 1


def test_empty_matrix_is_defined() -> None:
    est = estimate_abundances(LikelihoodMatrix.from_triplets([], [], [], n_reads=0, n_taxa=3))
    assert est.abundance.tolist() == [0.0, 0.0, 0.0]
    assert est.taxa_kept == 0


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rows = [[0.9, 0.1]] * 40 + [[0.2, 0.8]] * 60
    m = _matrix(rows)
    f = run_em(m, tol=1e-10).abundance
    a = bootstrap_abundances(m, f, replicates=30, seed=3)
    b = bootstrap_abundances(m, f, replicates=30, seed=3)
    assert np.array_equal(a, b)
    assert a.shape == (30, 2)
    assert np.allclose(a.sum(axis=1), 1.0)
    low, high = np.quantile(a[:, 0], [0.025, 0.975])
    assert low < f[0] < high


def _tied_matrix(n_tied: int, n_other: int, seed: int) -> LikelihoodMatrix:
    """Reads of taxa 0 and 1 with identical likelihoods (identical 16S), and reads of taxon 2."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for r in range(n_tied + n_other):
        tied = r < n_tied
        noise = float(rng.normal(-30.0, 3.0))
        for c in (0, 1, 2):
            own = (tied and c in (0, 1)) or (not tied and c == 2)
            value = noise if own else noise - 60.0  # others are well separated
            rows.append(r)
            cols.append(c)
            vals.append(value)
    return LikelihoodMatrix.from_triplets(rows, cols, vals, n_reads=n_tied + n_other, n_taxa=3)


@settings(max_examples=15, deadline=None)
@given(
    n_tied=st.integers(min_value=40, max_value=300),
    n_other=st.integers(min_value=40, max_value=300),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_intervals_are_wide_for_tied_taxa_and_tight_for_separated(
    n_tied: int, n_other: int, seed: int
) -> None:
    # Two species with identical sequences: the reads cannot split their share, so each one's
    # interval must span most of it; a well-separated species keeps a read-resampling width.
    matrix = _tied_matrix(n_tied, n_other, seed)
    estimate = estimate_abundances(matrix)
    boot = bootstrap_abundances(matrix, estimate.abundance, replicates=60, seed=seed)
    low, high = np.quantile(boot, 0.025, axis=0), np.quantile(boot, 0.975, axis=0)
    tied_share = n_tied / (n_tied + n_other)
    for taxon in (0, 1):
        assert high[taxon] - low[taxon] >= 0.5 * tied_share
    # the sum of the tied pair is identifiable: as tight as taxon 2
    pair = boot[:, 0] + boot[:, 1]
    pair_width = np.quantile(pair, 0.975) - np.quantile(pair, 0.025)
    separated_width = high[2] - low[2]
    binomial = 4 * 1.96 * math.sqrt(tied_share * (1 - tied_share) / (n_tied + n_other))
    assert separated_width <= binomial
    assert pair_width <= binomial


# --- equivalence classes (issue 11) -----------------------------------------------------------
@st.composite
def problems_with_repeats(
    draw: st.DrawFn,
) -> tuple[list[list[float]], list[float], list[int]]:
    """A sparse problem and a list of row indices: each listed row is repeated as a new row."""
    likelihood, weights = draw(sparse_problems())
    repeats = draw(st.lists(st.integers(0, len(likelihood) - 1), max_size=20))
    return likelihood, weights, repeats


@settings(max_examples=80, deadline=None)
@given(problems_with_repeats(), st.sampled_from([None, 0.05, 0.3]))
def test_collapsing_identical_rows_gives_the_same_estimate(
    problem: tuple[list[list[float]], list[float], list[int]], min_abundance: float | None
) -> None:
    likelihood, weights, repeats = problem
    rows = likelihood + [likelihood[i] for i in repeats]
    w = weights + [weights[i] for i in repeats]
    matrix = _matrix(rows, weights=w)
    classes, of_row = collapse_rows(matrix)
    # identical rows share a class, different rows never do
    for a, b in itertools.combinations(range(len(rows)), 2):
        assert (of_row[a] == of_row[b]) == (rows[a] == rows[b])
    assert classes.weights.sum() == pytest.approx(sum(w))
    assert classes.n_reads <= len(likelihood)
    kwargs = {"min_abundance": min_abundance, "tol": 1e-10, "max_iter": 5000}
    merged = estimate_abundances(matrix, collapse=True, **kwargs)  # type: ignore[arg-type]
    plain = estimate_abundances(matrix, collapse=False, **kwargs)  # type: ignore[arg-type]
    assert merged.abundance == pytest.approx(plain.abundance, abs=1e-6)
    assert merged.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-9, abs=1e-6)
    assert (merged.explained == plain.explained).all()
    assert merged.taxa_kept == plain.taxa_kept
    assert merged.posterior.shape == plain.posterior.shape
    assert np.allclose(merged.posterior.toarray(), plain.posterior.toarray(), atol=1e-6)
    # and the EM on the collapsed rows alone never lowers its log-likelihood
    trace = np.array(run_em(classes, tol=0.0, max_iter=50).log_likelihoods)
    assert np.all(np.diff(trace) >= -1e-9 * np.maximum(1.0, np.abs(trace[:-1])))


def test_collapse_keeps_rows_that_differ_only_in_value() -> None:
    matrix = _matrix([[0.5, 0.5], [0.5, 0.5000001], [0.5, 0.5], [0, 0.2]], weights=[1, 2, 3, 4])
    classes, of_row = collapse_rows(matrix)
    assert of_row.tolist() == [0, 1, 0, 2]
    assert classes.weights.tolist() == [4.0, 2.0, 4.0]
    assert classes.log_likelihood.toarray() == pytest.approx(
        matrix.log_likelihood[[0, 1, 3]].toarray()
    )


@settings(max_examples=150, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 5)),
    data=st.data(),
)
def test_from_triplets_keeps_the_first_largest_value_per_pair(
    shape: tuple[int, int], data: st.DataObject
) -> None:
    # issue 11 (memflat): the leaner construction against a plain dict; values with repeats,
    # signed zeros and -inf, so "the first of equal maxima" is checked bit for bit
    n_reads, n_taxa = shape
    triplet = st.tuples(
        st.integers(0, n_reads - 1),
        st.integers(0, n_taxa - 1),
        st.sampled_from([0.0, -0.0, -1.5, -3.0, 2.0, -math.inf]),
    )
    triplets = data.draw(st.lists(triplet, max_size=30))
    best: dict[tuple[int, int], float] = {}
    for r, c, v in triplets:
        if (r, c) not in best or v > best[r, c]:
            best[r, c] = v
    matrix = LikelihoodMatrix.from_triplets(
        [t[0] for t in triplets],
        [t[1] for t in triplets],
        [t[2] for t in triplets],
        n_reads=n_reads,
        n_taxa=n_taxa,
    ).log_likelihood
    got = {}
    for r in range(n_reads):
        for k in range(matrix.indptr[r], matrix.indptr[r + 1]):
            got[r, int(matrix.indices[k])] = float(matrix.data[k])
        assert list(matrix.indices[matrix.indptr[r] : matrix.indptr[r + 1]]) == sorted(
            c for rr, c in best if rr == r
        )
    assert got == best
    assert all(math.copysign(1.0, got[k]) == math.copysign(1.0, best[k]) for k in best)


def test_from_triplets_rejects_bad_entries() -> None:
    with pytest.raises(ValueError, match="outside"):
        LikelihoodMatrix.from_triplets([2], [0], [0.0], n_reads=2, n_taxa=1)
    with pytest.raises(ValueError, match="outside"):
        LikelihoodMatrix.from_triplets([0], [-1], [0.0], n_reads=2, n_taxa=1)
    with pytest.raises(ValueError, match="NaN"):
        LikelihoodMatrix.from_triplets([0], [0], [math.nan], n_reads=2, n_taxa=1)


@settings(max_examples=60, deadline=None)
@given(problems_with_repeats())
def test_collapse_never_merges_different_rows_when_every_hash_collides(
    problem: tuple[list[list[float]], list[float], list[int]],
) -> None:
    # every row hashes alike (forced collision, rows of any entry count): the entry-by-entry
    # check alone must keep different rows apart, and a class is still one row's repeats
    likelihood, weights, repeats = problem
    rows = likelihood + [likelihood[i] for i in repeats]
    matrix = _matrix(rows, weights=weights + [weights[i] for i in repeats])
    with mock.patch.object(em, "_MIX", (np.uint64(0), np.uint64(0), np.uint64(0))):
        classes, of_row = collapse_rows(matrix)
    for a, b in itertools.combinations(range(len(rows)), 2):
        if of_row[a] == of_row[b]:
            assert rows[a] == rows[b]
    assert classes.weights.sum() == pytest.approx(matrix.weights.sum())
    for c in range(classes.n_reads):
        members = np.flatnonzero(of_row == c)
        assert classes.log_likelihood[c].toarray() == pytest.approx(
            matrix.log_likelihood[int(members[0])].toarray()
        )
