"""Known-answer tests of the cohort statistics (hand calculations and peer tools)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.cohort.simulate import recall_and_fdr, simulate_cohort
from gutbrain.cohort.stats import (
    ancombc_associations,
    benjamini_hochberg,
    clr,
    design_matrix,
    linear_associations,
    method_agreement,
    outcome_kind,
    permanova_outcome,
    presence_associations,
    prevalence_filter,
)
from gutbrain.errors import ValidationError


def test_benjamini_hochberg_hand_computed() -> None:
    # sorted p: .01 .03 .04 .2 ; m/k*p: .04 .06 .0533 .2 ; running min from the top:
    # .04 .0533 .0533 .2 ; back in input order (.01, .04, .03, .2):
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2])


def test_benjamini_hochberg_matches_statsmodels_and_passes_nan() -> None:
    from statsmodels.stats.multitest import multipletests  # statsmodels 0.15 as peer tool

    rng = np.random.default_rng(1)
    p = rng.uniform(size=40) ** 2
    expected = multipletests(p, method="fdr_bh")[1]
    with_nan = np.concatenate([p, [np.nan]])
    q = benjamini_hochberg(with_nan)
    assert q[:-1] == pytest.approx(expected)
    assert math.isnan(q[-1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_benjamini_hochberg_properties(p: list[float]) -> None:
    q = benjamini_hochberg(p)
    arr = np.asarray(p)
    assert np.all(q >= arr - 1e-12)
    assert np.all(q <= 1.0)
    order = np.argsort(arr, kind="mergesort")
    assert np.all(np.diff(q[order]) >= -1e-12)  # monotone in p


def test_benjamini_hochberg_rejects_out_of_range() -> None:
    with pytest.raises(ValidationError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])


def test_clr_hand_computed_fractions_and_counts() -> None:
    # [1, 1, 4]: logs 0, 0, ln 4; mean ln4/3
    got = clr(pd.DataFrame([[1.0, 1.0, 4.0]]), counts=False).to_numpy()[0]
    ln4 = math.log(4)
    assert got == pytest.approx([-ln4 / 3, -ln4 / 3, 2 * ln4 / 3])
    # counts [0, 1] + 0.5 -> [0.5, 1.5]; clr = ±ln(3)/2
    got = clr(pd.DataFrame([[0, 1]]), counts=True).to_numpy()[0]
    assert got == pytest.approx([-math.log(3) / 2, math.log(3) / 2])
    # fractions [0, 0.2, 0.8]: the zero becomes 0.1 (half the smallest non-zero)
    got = clr(pd.DataFrame([[0.0, 0.2, 0.8]]), counts=False).to_numpy()[0]
    logs = np.log([0.1, 0.2, 0.8])
    assert got == pytest.approx(logs - logs.mean())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 1000), min_size=3, max_size=3).filter(lambda r: sum(r) > 0),
        min_size=1,
        max_size=6,
    ),
    st.floats(0.1, 100),
)
def test_clr_rows_sum_to_zero_and_scale_invariant_without_zeros(
    rows: list[list[int]], scale: float
) -> None:
    table = pd.DataFrame(rows, dtype=float)
    out = clr(table, counts=False)
    assert np.allclose(out.sum(axis=1), 0.0, atol=1e-9)
    assert np.allclose(clr(table * scale, counts=False), out, atol=1e-9)


def test_clr_rejects_empty_sample() -> None:
    with pytest.raises(ValidationError, match="S2"):
        clr(pd.DataFrame([[1, 2], [0, 0]], index=["S1", "S2"]))


def test_prevalence_filter() -> None:
    table = pd.DataFrame({"a": [1, 0, 0, 0], "b": [1, 1, 0, 0], "c": [1, 1, 1, 1]})
    assert list(prevalence_filter(table, min_prevalence=0.5).columns) == ["b", "c"]
    assert list(prevalence_filter(table, min_prevalence=0.0).columns) == ["a", "b", "c"]


def test_ols_matches_closed_form() -> None:
    # y = [1, 3, 2, 5] on x = [0, 1, 2, 3]: Sxx = 5, Sxy = 5.5, slope 1.1, SSE 2.7,
    # s^2 = 2.7 / 2, SE = sqrt(1.35 / 5); t_{0.975, 2} = 4.302652729911275 (scipy 1.x)
    from scipy import stats

    meta = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}, index=list("ABCD"))
    y = pd.DataFrame({"taxon": [1.0, 3.0, 2.0, 5.0]}, index=list("ABCD"))
    out = linear_associations(y, meta, "x").iloc[0]
    se = math.sqrt(1.35 / 5)
    assert out["effect"] == pytest.approx(1.1)
    assert out["std_error"] == pytest.approx(se)
    assert out["ci_low"] == pytest.approx(1.1 - 4.302652729911275 * se)
    assert out["ci_high"] == pytest.approx(1.1 + 4.302652729911275 * se)
    assert out["pvalue"] == pytest.approx(2 * stats.t.sf(1.1 / se, df=2))
    assert out["n_samples"] == 4


def test_binary_outcome_effect_is_group_difference_with_covariate_dummies() -> None:
    meta = pd.DataFrame(
        {
            "status": ["ADHD", "ADHD", "Control", "Control", "ADHD", "Control"],
            "sex": ["f", "m", "f", "m", "f", "m"],
        },
        index=list("ABCDEF"),
    )
    design, term = design_matrix(meta, "status", ["sex"])
    assert term == "status[ADHD]"  # the control-like level is the reference
    assert list(design.columns) == ["const", "status[ADHD]", "sex_m"]
    y = pd.DataFrame({"t": [1.0, 1.0, 3.0, 3.0, 1.0, 3.0]}, index=list("ABCDEF"))
    out = linear_associations(y, meta, "status", covariates=["sex"]).iloc[0]
    assert out["effect"] == pytest.approx(-2.0)
    meta["status"] = meta["status"].map({"ADHD": "b", "Control": "a"})
    assert design_matrix(meta, "status")[1] == "status[b]"  # else alphabetical first level


def test_outcome_kind_and_missing_column() -> None:
    assert outcome_kind(pd.Series([0, 1, 0])) == "binary"
    assert outcome_kind(pd.Series([0.0, 3.0, 7.0])) == "continuous"
    with pytest.raises(ValidationError, match="fewer than two"):
        outcome_kind(pd.Series([1, 1], name="PHQ9"))
    with pytest.raises(ValidationError, match="'PHQ9'"):
        design_matrix(pd.DataFrame({"age": [1, 2]}), "PHQ9")


def _hand_pseudo_f(dist: np.ndarray, groups: np.ndarray) -> float:
    # Anderson (2001), eqs. for SST, SSW with squared distances
    n = len(groups)
    levels = np.unique(groups)
    sst = (dist[np.triu_indices(n, 1)] ** 2).sum() / n
    ssw = 0.0
    for g in levels:
        idx = np.flatnonzero(groups == g)
        sub = dist[np.ix_(idx, idx)]
        ssw += (sub[np.triu_indices(len(idx), 1)] ** 2).sum() / len(idx)
    a = len(levels)
    return ((sst - ssw) / (a - 1)) / (ssw / (n - a))


def test_permanova_pseudo_f_matches_anderson_formula() -> None:
    from scipy.spatial.distance import pdist, squareform

    table = pd.DataFrame(
        [[10, 0, 5], [8, 1, 6], [9, 2, 4], [1, 10, 3], [0, 12, 5], [2, 9, 4]],
        index=list("ABCDEF"),
        dtype=float,
    )
    meta = pd.DataFrame({"g": ["x", "x", "x", "y", "y", "y"]}, index=list("ABCDEF"))
    rel = table.div(table.sum(axis=1), axis=0).to_numpy()
    dist = squareform(pdist(rel, "braycurtis"))
    expected = _hand_pseudo_f(dist, meta["g"].to_numpy())
    out = permanova_outcome(table, meta, "g", permutations=99)
    assert out["pseudo_F"] == pytest.approx(expected)
    assert out["n_groups"] == 2
    assert 0.0 < float(out["pvalue"]) <= 1.0


def test_method_agreement_hand_computed() -> None:
    a = pd.DataFrame(
        {"feature": list("abcd"), "effect": [1.0, -1.0, 0.1, 0.2], "qvalue": [0.01, 0.01, 0.5, 0.6]}
    )
    b = pd.DataFrame(
        {"feature": list("abcd"), "effect": [0.8, -0.5, 0.3, 0.1], "qvalue": [0.02, 0.3, 0.5, 0.6]}
    )
    out = method_agreement(a, b)
    # calls a: 1100, b: 1000 -> p_o = 3/4, p_e = .5*.25 + .5*.75 = .5, kappa = .5
    assert out.significant_both == 1
    assert out.significant_first_only == 1
    assert out.significant_second_only == 0
    assert out.kappa == pytest.approx(0.5)
    assert out.sign_agreement == pytest.approx(1.0)


def test_simulated_cohort_recall_and_fdr() -> None:
    sim = simulate_cohort(n_samples=120, n_taxa=60, n_shifted=8, effect=1.0, seed=3)
    table = prevalence_filter(sim.counts, min_prevalence=0.1)
    res = linear_associations(clr(table), sim.metadata, "outcome", covariates=["age"])
    called = set(res.loc[res["qvalue"] <= 0.05, "feature"])
    recall, fdp = recall_and_fdr(called, sim.shifted)
    assert recall >= 0.75
    assert fdp <= 0.25
    for feature in called & sim.shifted:  # the sign is right too
        effect = res.set_index("feature").loc[feature, "effect"]
        assert np.sign(effect) == sim.effect_sign[feature]


def test_ancombc_finds_a_strong_case_control_shift() -> None:
    sim = simulate_cohort(n_samples=60, n_taxa=25, n_shifted=3, effect=2.0, binary=True, seed=5)
    res = ancombc_associations(sim.counts, sim.metadata, "outcome")
    called = set(res.loc[res["qvalue"] <= 0.05, "feature"])
    recall, _ = recall_and_fdr(called, sim.shifted)
    assert recall >= 2 / 3
    assert res.attrs["term"] == "outcome[case]"
    assert (res["ci_low"] <= res["effect"]).all()


def test_presence_fisher_hand_computed() -> None:
    from scipy.stats import fisher_exact  # scipy as peer for the exact p-value

    # taxon t: present in 4 of 5 cases, 1 of 5 controls -> a=4, b=1, c=1, d=4
    table = pd.DataFrame({"t": [3, 1, 2, 5, 0, 0, 0, 7, 0, 0], "rare": [1] + [0] * 9})
    meta = pd.DataFrame({"g": ["case"] * 5 + ["control"] * 5})
    out = presence_associations(table, meta, "g").set_index("feature")
    assert list(out.index) == ["t"]  # "rare" is present in fewer than 3 samples
    row = out.loc["t"]
    assert (row["present_cases"], row["present_controls"]) == (4, 1)
    assert row["effect"] == pytest.approx(math.log(4.5 * 4.5 / (1.5 * 1.5)))
    se = math.sqrt(2 / 4.5 + 2 / 1.5)
    assert row["std_error"] == pytest.approx(se)
    assert row["ci_low"] == pytest.approx(row["effect"] - 1.959963984540054 * se)
    assert row["pvalue"] == pytest.approx(fisher_exact([[4, 1], [1, 4]]).pvalue)
    assert row["pvalue"] == pytest.approx(0.20634920634920634)  # hand: 2 * (25 + 1) / 252
    with pytest.raises(ValidationError, match="two-level"):
        presence_associations(table, pd.DataFrame({"g": np.arange(10.0)}), "g")
