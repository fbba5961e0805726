"""EM: known answers solved by hand and Hypothesis properties (RELIABILITY.md §5.3)."""

from __future__ import annotations

import itertools
import math
import tracemalloc
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
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


# --- the bootstrap in row chunks (issue 11, memory) --------------------------------------------
# The EM, posteriors and draws before issue 11's chunking, copied as the oracle: one pass over
# every stored entry, and a copy of the drawn rows per bootstrap replicate.
def _oracle_prepare(
    matrix: LikelihoodMatrix,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    csr = matrix.log_likelihood
    counts = np.diff(csr.indptr)
    row_of_entry = np.repeat(np.arange(csr.shape[0], dtype=np.int64), counts)
    row_max = np.full(csr.shape[0], -np.inf)
    np.maximum.at(row_max, row_of_entry, csr.data)
    scaled = sp.csr_matrix(
        (np.exp(csr.data - row_max[row_of_entry]), csr.indices, csr.indptr), shape=csr.shape
    )
    return scaled, row_max, matrix.weights, row_of_entry


def _oracle_step(
    prep: tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray], freq: np.ndarray
) -> tuple[np.ndarray, float]:
    scaled, row_max, weights, row_of_entry = prep
    data = scaled.data * freq[scaled.indices]
    row_sum = np.bincount(row_of_entry, weights=data, minlength=scaled.shape[0]).astype(np.float64)
    ok = row_sum > 0
    total_w = float(weights[ok].sum())
    with np.errstate(divide="ignore"):
        ll = float(np.sum(weights[ok] * (np.log(row_sum[ok]) + row_max[ok])))
    scale = np.zeros_like(row_sum)
    scale[ok] = weights[ok] / row_sum[ok]
    post = data * scale[row_of_entry]
    new = np.bincount(scaled.indices, weights=post, minlength=scaled.shape[1]).astype(np.float64)
    if total_w > 0:
        new /= total_w
    return new, ll


def _oracle_run_em(
    matrix: LikelihoodMatrix, initial: np.ndarray | None, max_iter: int, tol: float
) -> tuple[np.ndarray, tuple[float, ...], int, bool]:
    n_taxa = matrix.n_taxa
    if matrix.n_reads == 0 or n_taxa == 0:
        return np.zeros(n_taxa), (), 0, True
    prep = _oracle_prepare(matrix)
    freq = np.full(n_taxa, 1.0 / n_taxa) if initial is None else initial / float(np.sum(initial))
    trace: list[float] = []
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        new, ll = _oracle_step(prep, freq)
        trace.append(ll)
        freq = new
        if len(trace) >= 2 and trace[-1] - trace[-2] < tol:
            converged = True
            break
    trace.append(_oracle_step(prep, freq)[1])
    return freq, tuple(trace), iterations, converged


def _oracle_posteriors(matrix: LikelihoodMatrix, abundance: np.ndarray) -> sp.csr_matrix:
    scaled, _, _, row_of_entry = _oracle_prepare(matrix)
    data = scaled.data * abundance[scaled.indices]
    row_sum = np.bincount(row_of_entry, weights=data, minlength=matrix.n_reads)
    scale = np.zeros_like(row_sum)
    ok = row_sum > 0
    scale[ok] = 1.0 / row_sum[ok]
    return sp.csr_matrix(
        (data * scale[row_of_entry], scaled.indices, scaled.indptr), shape=scaled.shape
    )


def _oracle_draw(
    posterior: sp.csr_matrix, weights: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n_rows, n_taxa = posterior.shape
    row_of_entry = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(posterior.indptr))
    data = posterior.data
    cumulative = np.cumsum(data)
    start = np.concatenate(([0.0], cumulative))[posterior.indptr[:-1]]
    within = cumulative - start[row_of_entry]
    row_total = np.bincount(row_of_entry, weights=data, minlength=n_rows)
    threshold = rng.random(n_rows) * row_total
    hit = within >= threshold[row_of_entry] - 1e-15
    hit &= row_total[row_of_entry] > 0
    rows_hit, first = np.unique(row_of_entry[hit], return_index=True)
    chosen = posterior.indices[np.flatnonzero(hit)[first]]
    return np.bincount(chosen, weights=weights[rows_hit], minlength=n_taxa).astype(np.float64)


def _oracle_restrict(matrix: LikelihoodMatrix, keep: np.ndarray) -> LikelihoodMatrix:
    """The entries of the columns ``keep`` and the rows holding one, row by row."""
    csr = matrix.log_likelihood
    rows, data, cols, weights = [], [], [], []
    for r in range(csr.shape[0]):
        lo, hi = csr.indptr[r], csr.indptr[r + 1]
        pairs = zip(csr.indices[lo:hi], csr.data[lo:hi], strict=True)
        mine = [(c, v) for c, v in pairs if keep[c]]
        if mine:
            rows.append(len(mine))
            cols += [c for c, _ in mine]
            data += [v for _, v in mine]
            weights.append(matrix.weights[r])
    indptr = np.concatenate(([0], np.cumsum(rows, dtype=np.int64)))
    kept = sp.csr_matrix((np.asarray(data, float), np.asarray(cols, np.int64), indptr),
                         shape=(len(rows), csr.shape[1]))  # fmt: skip
    return LikelihoodMatrix(kept, np.asarray(weights, dtype=np.float64))


def _oracle_pool(matrix: LikelihoodMatrix, keep: np.ndarray) -> LikelihoodMatrix:
    """The pooled rows of ``pool_single_rows``, row by row in Python: rows of two or more kept
    entries in order, then one row per taxon for the single ones (weights added in row order)."""
    csr = matrix.log_likelihood
    rows, cols, vals, weights = [], [], [], []
    pooled: dict[int, float] = {}
    for r in range(matrix.n_reads):
        entries = [
            (int(c), float(v))
            for c, v in zip(
                csr.indices[csr.indptr[r] : csr.indptr[r + 1]],
                csr.data[csr.indptr[r] : csr.indptr[r + 1]],
                strict=True,
            )
            if keep[c]
        ]
        if len(entries) == 1:
            taxon = entries[0][0]
            pooled[taxon] = pooled.get(taxon, 0.0) + float(matrix.weights[r])
        elif entries:
            for c, v in entries:
                rows.append(len(weights))
                cols.append(c)
                vals.append(v)
            weights.append(float(matrix.weights[r]))
    for taxon in sorted(pooled):
        rows.append(len(weights))
        cols.append(taxon)
        vals.append(0.0)
        weights.append(pooled[taxon])
    return LikelihoodMatrix.from_triplets(
        rows, cols, vals, n_reads=len(weights), n_taxa=matrix.n_taxa, weights=weights
    )


def _oracle_bootstrap(
    matrix: LikelihoodMatrix,
    abundance: np.ndarray,
    *,
    replicates: int,
    seed: int,
    max_iter: int,
    tol: float,
    pool: bool = True,
) -> np.ndarray:
    """The bootstrap as documented, one pass and a copy of the drawn rows per replicate; with
    ``pool`` over the pooled rows (issue 11), without it over every read's row (before)."""
    keep = abundance > 0
    sub = _oracle_restrict(matrix, keep)
    if pool:
        sub = _oracle_pool(sub, keep)
    out = np.zeros((replicates, matrix.n_taxa))
    if sub.n_reads == 0 or replicates <= 0:
        return out
    rng = np.random.default_rng(seed)
    total = round(float(sub.weights.sum()))
    p = sub.weights / sub.weights.sum()
    kept = np.flatnonzero(keep)
    for b in range(replicates):
        w = rng.multinomial(total, p).astype(np.float64)
        rows = w > 0
        boot = LikelihoodMatrix(sub.log_likelihood[rows], w[rows])
        start = np.zeros(matrix.n_taxa)
        start[kept] = abundance[kept] * rng.exponential(size=kept.size)
        fitted = _oracle_run_em(boot, start, max_iter, tol)[0]
        drawn = _oracle_draw(_oracle_posteriors(boot, fitted), boot.weights, rng)
        out[b] = drawn / drawn.sum() if drawn.sum() > 0 else fitted
    return out


@st.composite
def csr_problems(draw: st.DrawFn) -> tuple[LikelihoodMatrix, np.ndarray]:
    """A random likelihood matrix (rows of one to all taxa, integer and fractional weights
    incl. > 1, tied and spread log-likelihoods) and an abundance vector with some zeros."""
    n_taxa = draw(st.integers(1, 8))
    n_reads = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    per_row = rng.integers(1, n_taxa + 1, n_reads)
    per_row[rng.random(n_reads) < 0.3] = 1  # many rows of one entry
    rows = np.repeat(np.arange(n_reads), per_row)
    cols = np.concatenate([rng.choice(n_taxa, k, replace=False) for k in per_row])
    values = draw(st.sampled_from(["spread", "ties"]))
    vals = (
        rng.normal(-20.0, 15.0, rows.size)
        if values == "spread"
        else rng.choice([0.0, -1.0, -7.5], rows.size)
    )
    kind = draw(st.sampled_from(["ones", "integers", "fractions"]))
    weights = {
        "ones": np.ones(n_reads),
        "integers": rng.integers(1, 6, n_reads).astype(np.float64),
        "fractions": rng.uniform(0.2, 4.0, n_reads),
    }[kind]
    matrix = LikelihoodMatrix.from_triplets(
        rows, cols, vals, n_reads=n_reads, n_taxa=n_taxa, weights=weights
    )
    abundance = rng.dirichlet(np.ones(n_taxa))
    abundance[rng.random(n_taxa) < draw(st.sampled_from([0.0, 0.3, 0.7]))] = 0.0
    return matrix, abundance


@settings(max_examples=120, deadline=None)
@given(
    csr_problems(),
    st.sampled_from([1, 2, 3, 7, 64, 1 << 16]),
    st.integers(0, 2**16),
    st.sampled_from([0.01, 1e-9]),
)
def test_chunked_bootstrap_equals_the_single_pass_bit_for_bit(
    problem: tuple[LikelihoodMatrix, np.ndarray], chunk: int, seed: int, tol: float
) -> None:
    # issue 11: the same seed gives exactly the replicates of the former algorithm (one pass
    # over all entries, a copy of the drawn rows per replicate) on the pooled rows, with
    # chunks of a few entries
    matrix, abundance = problem
    kwargs = {"replicates": 6, "seed": seed, "max_iter": 40, "tol": tol}
    expected = _oracle_bootstrap(matrix, abundance, **kwargs)  # type: ignore[arg-type]
    with mock.patch.object(em, "_CHUNK_ENTRIES", chunk):
        got = bootstrap_abundances(matrix, abundance, **kwargs)  # type: ignore[arg-type]
    assert np.array_equal(got, expected)


@settings(max_examples=120, deadline=None)
@given(csr_problems(), st.sampled_from([1, 2, 3, 7, 1 << 16]))
def test_pooled_rows_equal_pooling_read_by_read_and_pool_once(
    problem: tuple[LikelihoodMatrix, np.ndarray], chunk: int
) -> None:
    matrix, abundance = problem
    keep = abundance > 0
    expected = _oracle_pool(matrix, keep)
    with mock.patch.object(em, "_CHUNK_ENTRIES", chunk):
        got = em.pool_single_rows(matrix, keep)
        again = em.pool_single_rows(got, keep)
    for a, b in ((got, expected), (again, expected)):
        assert np.array_equal(a.log_likelihood.indptr, b.log_likelihood.indptr)
        assert np.array_equal(a.log_likelihood.indices, b.log_likelihood.indices)
        assert np.array_equal(a.log_likelihood.data, b.log_likelihood.data)
        assert np.array_equal(a.weights, b.weights)
    assert again is got  # a pooled matrix is given back as it is, not copied


@settings(max_examples=60, deadline=None)
@given(csr_problems(), st.integers(0, 2**16), st.data())
def test_bootstrap_does_not_see_how_single_candidate_reads_are_split_or_ordered(
    problem: tuple[LikelihoodMatrix, np.ndarray], seed: int, data: st.DataObject
) -> None:
    # reads placed for one taxon are pooled: splitting one such row's weight over several
    # rows, or shuffling the rows, leaves every replicate as it is
    matrix, abundance = problem
    csr = matrix.log_likelihood
    keep = abundance > 0
    rows = [
        (
            csr.indices[csr.indptr[r] : csr.indptr[r + 1]],
            csr.data[csr.indptr[r] : csr.indptr[r + 1]],
        )
        for r in range(matrix.n_reads)
    ]
    weights = [float(w) for w in matrix.weights]
    singles = [r for r, (cols, _) in enumerate(rows) if int(keep[cols].sum()) == 1]
    if singles:
        split = data.draw(st.sampled_from(singles))
        rows.append(rows[split])
        weights[split], extra = weights[split] / 2, weights[split] / 2
        weights.append(extra)
    others = [r for r in range(matrix.n_reads) if r not in singles]
    moved = data.draw(st.permutations([*singles, *range(matrix.n_reads, len(rows))]))
    order = others + list(moved)
    triplets = [
        (i, int(c), float(v)) for i, r in enumerate(order) for c, v in zip(*rows[r], strict=True)
    ]
    other = LikelihoodMatrix.from_triplets(
        [t[0] for t in triplets],
        [t[1] for t in triplets],
        [t[2] for t in triplets],
        n_reads=len(order),
        n_taxa=matrix.n_taxa,
        weights=[weights[r] for r in order],
    )
    kwargs = {"replicates": 4, "seed": seed, "max_iter": 30, "tol": 0.01}
    a = bootstrap_abundances(matrix, abundance, **kwargs)  # type: ignore[arg-type]
    b = bootstrap_abundances(other, abundance, **kwargs)  # type: ignore[arg-type]
    assert np.allclose(a, b, rtol=0, atol=1e-12)


def test_pooled_bootstrap_has_the_distribution_of_the_per_read_one() -> None:
    # 300 reads placed for taxon 0, 100 for taxon 1, 100 split 0.7 / 0.3 between 1 and 2:
    # the pooled bootstrap (one draw per taxon for the placed reads) and the per-read one
    # (before issue 11) give the same quantiles up to Monte Carlo error (2,000 replicates each,
    # standard error of a 2.5 % quantile of these shares ~0.004)
    rows = [[1.0, 0.0, 0.0]] * 300 + [[0.0, 1.0, 0.0]] * 100 + [[0.0, 0.7, 0.3]] * 100
    matrix = _matrix(rows)
    abundance = estimate_abundances(matrix, tol=1e-10).abundance
    kwargs = {"replicates": 2000, "max_iter": 200, "tol": 0.01}
    pooled = bootstrap_abundances(matrix, abundance, seed=11, **kwargs)  # type: ignore[arg-type]
    per_read = _oracle_bootstrap(matrix, abundance, seed=12, pool=False, **kwargs)  # type: ignore[arg-type]
    for q in (0.025, 0.5, 0.975):
        assert np.allclose(
            np.quantile(pooled, q, axis=0), np.quantile(per_read, q, axis=0), atol=0.012
        )
    assert np.allclose(pooled.std(axis=0), per_read.std(axis=0), rtol=0.1, atol=1e-3)


@settings(max_examples=80, deadline=None)
@given(csr_problems(), st.sampled_from([1, 2, 5, 64]), st.booleans())
def test_chunked_em_and_posteriors_equal_the_single_pass_bit_for_bit(
    problem: tuple[LikelihoodMatrix, np.ndarray], chunk: int, from_estimate: bool
) -> None:
    matrix, abundance = problem
    initial = abundance if from_estimate and abundance.sum() > 0 else None
    expected = _oracle_run_em(matrix, initial, 60, 1e-9)
    with mock.patch.object(em, "_CHUNK_ENTRIES", chunk):
        result = run_em(matrix, initial=initial, max_iter=60, tol=1e-9)
        post = em.posteriors(matrix, expected[0])
    assert np.array_equal(result.abundance, expected[0])
    assert result.log_likelihoods == expected[1]
    assert (result.iterations, result.converged) == expected[2:]
    oracle = _oracle_posteriors(matrix, expected[0])
    assert np.array_equal(post.data, oracle.data)
    assert np.array_equal(post.indices, oracle.indices)
    assert np.array_equal(post.indptr, oracle.indptr)


@settings(max_examples=80, deadline=None)
@given(csr_problems(), st.integers(0, 2**16), st.sampled_from([1, 3, 64]))
def test_em_with_zero_weight_rows_left_in_place_equals_em_on_a_copy_of_the_others(
    problem: tuple[LikelihoodMatrix, np.ndarray], seed: int, chunk: int
) -> None:
    # the bootstrap leaves undrawn rows in place at weight 0: the abundances and the whole
    # log-likelihood trace must be those of EM on a copy of the drawn rows alone
    matrix, _ = problem
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 3, matrix.n_reads).astype(np.float64)
    drawn = w > 0
    if not drawn.any():
        w[0], drawn[0] = 2.0, True
    initial = rng.exponential(size=matrix.n_taxa)
    expected = _oracle_run_em(
        LikelihoodMatrix(matrix.log_likelihood[drawn], w[drawn]), initial, 50, 1e-9
    )
    with mock.patch.object(em, "_CHUNK_ENTRIES", chunk):
        prep, _ = em._prepare(matrix.log_likelihood)
        result = em._em(prep, w, initial=initial, max_iter=50, tol=1e-9, active=drawn)
    assert np.array_equal(result.abundance, expected[0])
    assert result.log_likelihoods == expected[1]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 40), st.integers(1, 700), st.integers(0, 2**32 - 1))
def test_per_taxon_sums_added_chunk_after_chunk_equal_one_bincount(
    n: int, n_taxa: int, chunk: int, seed: int
) -> None:
    # the M-step's and the draw's per-taxon sums rely on np.add.at continuing the running
    # total in entry order exactly as one np.bincount accumulates it (checked on this numpy)
    rng = np.random.default_rng(seed)
    taxa = rng.integers(0, n_taxa, n)
    values = rng.random(n) * np.exp(rng.normal(0.0, 20.0, n))
    total = np.zeros(n_taxa)
    for start in range(0, n, chunk):
        np.add.at(total, taxa[start : start + chunk], values[start : start + chunk])
    assert np.array_equal(total, np.bincount(taxa, weights=values, minlength=n_taxa))


def _wide_matrix(n_rows: int, per_row: int, n_taxa: int = 40) -> LikelihoodMatrix:
    rng = np.random.default_rng(1)
    rows = np.repeat(np.arange(n_rows), per_row)
    first = np.repeat(rng.integers(0, n_taxa, n_rows), per_row)
    cols = (first + np.tile(np.arange(per_row), n_rows)) % n_taxa
    return LikelihoodMatrix.from_triplets(
        rows, cols, rng.normal(-30.0, 8.0, rows.size), n_reads=n_rows, n_taxa=n_taxa
    )


def _bootstrap_peak(matrix: LikelihoodMatrix) -> int:
    abundance = np.full(matrix.n_taxa, 1.0 / matrix.n_taxa)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        bootstrap_abundances(matrix, abundance, replicates=2, seed=0, max_iter=5)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_bootstrap_temporaries_do_not_grow_with_the_entries() -> None:
    """The same 20,000 rows with 2 and then 8 entries each (40,000 -> 160,000 entries), chunks
    of 4,096 entries: the traced peak of the bootstrap grows by 19.7 bytes per added entry,
    the scaled likelihoods, columns and rows kept for all replicates (8 + 4 + 8 bytes); the
    former algorithm (a copy of the drawn rows and unchunked EM, posteriors and draws per
    replicate) grew by 51.2 bytes per added entry (numpy 2.4, measured for issue 11)."""
    with mock.patch.object(em, "_CHUNK_ENTRIES", 4096):
        small, large = _wide_matrix(20_000, 2), _wide_matrix(20_000, 8)
        growth = (_bootstrap_peak(large) - _bootstrap_peak(small)) / (
            large.log_likelihood.nnz - small.log_likelihood.nnz
        )
    assert growth < 24.0


class _FixedUniforms:
    """A stand-in generator whose ``random(n)`` gives preset values."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def random(self, n: int) -> np.ndarray:
        assert n == self.values.size
        return self.values


@pytest.mark.parametrize("chunk", [1, 7, 300])
def test_draws_on_the_boundaries_of_the_running_sum_equal_the_single_pass(chunk: int) -> None:
    # every row's uniform is put on the running sum at one of its entries (up to rounding,
    # well inside the 1e-15 slack): the drawn taxa are the single pass's only if each chunk
    # continues the running sum of the earlier ones exactly (3,000 rows: the running sum
    # reaches 3,000, where one rounding step is 4.5e-13)
    rng = np.random.default_rng(5)
    n_rows, n_taxa = 3000, 6
    per_row = rng.integers(1, n_taxa + 1, n_rows)
    rows = np.repeat(np.arange(n_rows), per_row)
    cols = np.concatenate([rng.choice(n_taxa, k, replace=False) for k in per_row])
    matrix = LikelihoodMatrix.from_triplets(
        rows,
        cols,
        rng.normal(-3.0, 2.0, rows.size),
        n_reads=n_rows,
        n_taxa=n_taxa,
        weights=rng.integers(1, 4, n_rows).astype(np.float64),
    )
    abundance = rng.dirichlet(np.ones(n_taxa))
    posterior = _oracle_posteriors(matrix, abundance)
    cumulative = np.cumsum(posterior.data)
    start = np.concatenate(([0.0], cumulative))[posterior.indptr[:-1]]
    row_total = np.add.reduceat(posterior.data, posterior.indptr[:-1])
    pick = posterior.indptr[:-1] + (rng.random(n_rows) * per_row).astype(np.int64)
    uniforms = (cumulative[pick] - start) / row_total
    expected = _oracle_draw(posterior, matrix.weights, _FixedUniforms(uniforms))  # type: ignore[arg-type]
    with mock.patch.object(em, "_CHUNK_ENTRIES", chunk):
        prep, _ = em._prepare(matrix.log_likelihood)
        got = em._draw_assignments(
            prep,
            abundance,
            matrix.weights,
            np.ones(n_rows, dtype=bool),
            _FixedUniforms(uniforms),  # type: ignore[arg-type]
        )
    assert np.array_equal(got, expected)
