"""Compositional association statistics for a cohort.

Abundance tables are compositional: each sample's values sum to a constant fixed by sequencing
depth, not by biology. The association tests therefore work on log-ratios, never on raw
fractions:

1. **Prevalence filter** — taxa present (value > 0) in fewer than ``min_prevalence`` of the
   samples are dropped before any test; they carry almost no information and inflate the number
   of tests.
2. **CLR transform** with a documented zero handling (:func:`clr`).
3. **Per-feature linear model** ``clr(x_j) ~ outcome + covariates`` by ordinary least squares
   (statsmodels); the effect size is the outcome coefficient with its 95 % confidence interval.
4. **Benjamini–Hochberg** false-discovery rate across the features tested
   (:func:`benjamini_hochberg`).
5. **PERMANOVA** on Bray–Curtis distances for the outcome (scikit-bio).
6. **ANCOM-BC** (Lin & Peddada 2020, as implemented in scikit-bio) as a second method, and the
   agreement between the two (:func:`method_agreement`).

References
----------
Aitchison J (1986) *The Statistical Analysis of Compositional Data*. Chapman & Hall.
Benjamini Y, Hochberg Y (1995) Controlling the false discovery rate. *J R Stat Soc B* 57:289–300.
Anderson MJ (2001) A new method for non-parametric multivariate analysis of variance.
*Austral Ecology* 26:32–46.
Lin H, Peddada SD (2020) Analysis of compositions of microbiomes with bias correction.
*Nat Commun* 11:3514.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from gutbrain.errors import OptionError, ValidationError

__all__ = [
    "Agreement",
    "OutcomeKind",
    "ancombc_associations",
    "benjamini_hochberg",
    "clr",
    "design_matrix",
    "linear_associations",
    "method_agreement",
    "outcome_kind",
    "permanova_outcome",
    "presence_associations",
    "prevalence_filter",
]

logger = logging.getLogger(__name__)

OutcomeKind = Literal["binary", "continuous"]

_CONTROL = re.compile(r"^(control|controls|ctl|ctrl|healthy|hc|no|none|0|0\.0|false)$", re.I)

#: Columns of an association table (one row per feature).
ASSOCIATION_COLUMNS = (
    "feature",
    "method",
    "effect",
    "ci_low",
    "ci_high",
    "std_error",
    "pvalue",
    "qvalue",
    "prevalence",
    "mean_abundance",
    "n_samples",
)


def benjamini_hochberg(pvalues: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return Benjamini–Hochberg adjusted p-values (q-values).

    For ``m`` p-values sorted ascending :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,

    .. math:: q_{(i)} = \\min_{k \\ge i} \\min\\left(1, \\frac{m}{k} p_{(k)}\\right).

    ``NaN`` entries are passed through and do not count towards ``m``.

    Parameters
    ----------
    pvalues
        Raw p-values in [0, 1] (or NaN).

    Returns
    -------
    numpy.ndarray
        q-values in the input order.

    References
    ----------
    Benjamini Y, Hochberg Y (1995) *J R Stat Soc B* 57:289–300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        message = "p-values must lie in [0, 1]"
        raise ValidationError(message)
    values = p[ok]
    m = values.size
    if m == 0:
        return q
    order = np.argsort(values, kind="mergesort")
    ranked = values[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    q[ok] = adjusted
    return q


def prevalence_filter(table: pd.DataFrame, *, min_prevalence: float = 0.1) -> pd.DataFrame:
    """Keep the features (columns) present (> 0) in at least ``min_prevalence`` of the samples.

    Parameters
    ----------
    table
        Samples × features, non-negative.
    min_prevalence
        Fraction of samples, in [0, 1].
    """
    if not 0.0 <= min_prevalence <= 1.0:
        message = f"min_prevalence must be in [0, 1], got {min_prevalence}"
        raise OptionError(message)
    prevalence = (table > 0).mean(axis=0)
    kept = table.loc[:, prevalence >= min_prevalence]
    logger.info(
        "prevalence filter %.2f kept %d of %d features",
        min_prevalence,
        kept.shape[1],
        table.shape[1],
    )
    return kept


def clr(table: pd.DataFrame, *, counts: bool = True, pseudocount: float = 0.5) -> pd.DataFrame:
    """Centred log-ratio transform of each sample (row), with an explicit zero handling.

    .. math:: \\operatorname{clr}(x)_j = \\ln x_j - \\frac{1}{D} \\sum_{k=1}^{D} \\ln x_k

    Zero handling: for **counts**, ``pseudocount`` (default 0.5 reads, the Jeffreys-style choice)
    is added to every cell; for **fractions** (``counts=False``) each zero is replaced by half the
    smallest non-zero value of its sample, so the replacement scales with each sample's own
    resolution. A row that is all zero cannot be transformed and raises.

    Parameters
    ----------
    table
        Samples × features, non-negative.
    counts
        Whether the values are read counts (else fractions or other positive abundances).
    pseudocount
        Added to counts before the log; ignored for fractions.

    Returns
    -------
    pandas.DataFrame
        Same shape; each row sums to 0.

    References
    ----------
    Aitchison J (1986) *The Statistical Analysis of Compositional Data*.

    Examples
    --------
    >>> import pandas as pd
    >>> clr(pd.DataFrame([[1.0, 1.0, 4.0]]), counts=False).round(4).values.tolist()
    [[-0.4621, -0.4621, 0.9242]]
    """
    values = table.to_numpy(dtype=np.float64, copy=True)
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        message = "CLR needs finite, non-negative values"
        raise ValidationError(message)
    totals = values.sum(axis=1)
    if np.any(totals <= 0):
        empty = [str(s) for s, t in zip(table.index, totals, strict=True) if t <= 0]
        message = f"samples with no abundance cannot be CLR-transformed: {', '.join(empty[:10])}"
        raise ValidationError(message)
    if counts:
        values = values + pseudocount
    else:
        masked = np.where(values > 0, values, np.inf)
        floor = masked.min(axis=1, keepdims=True) / 2.0
        values = np.where(values > 0, values, floor)
    logs = np.log(values)
    logs -= logs.mean(axis=1, keepdims=True)
    return pd.DataFrame(logs, index=table.index, columns=table.columns)


def outcome_kind(values: pd.Series) -> OutcomeKind:
    """Return ``"binary"`` for a two-valued outcome, else ``"continuous"``.

    Raises
    ------
    ValidationError
        When the outcome is constant or is neither numeric nor two-level.
    """
    present = values.dropna()
    levels = pd.unique(present)
    if len(levels) < 2:
        message = f"outcome {values.name!r} takes fewer than two distinct values; nothing to test"
        raise ValidationError(message)
    if len(levels) == 2:
        return "binary"
    if not pd.api.types.is_numeric_dtype(present):
        message = (
            f"outcome {values.name!r} has {len(levels)} non-numeric levels; give a numeric score "
            "or a two-level (case/control) column"
        )
        raise ValidationError(message)
    return "continuous"


def design_matrix(
    metadata: pd.DataFrame, outcome: str, covariates: Sequence[str] = ()
) -> tuple[pd.DataFrame, str]:
    """Build the OLS design ``[const, outcome, covariates…]`` and name the outcome column.

    A binary outcome is coded 0/1 with a control-like level (``control``, ``ctl``, ``healthy``,
    ``hc``, ``no``, ``0``, ``false``, any case) as the reference, else the alphabetically first
    level; categorical covariates are dummy-coded with their first level dropped. Rows with a
    missing value in any used column are dropped.

    Returns
    -------
    tuple
        ``(design, outcome_column)``; ``design`` is indexed like ``metadata`` minus dropped rows.
    """
    columns = [outcome, *covariates]
    missing = [c for c in columns if c not in metadata.columns]
    if missing:
        message = (
            f"no column {', '.join(map(repr, missing))} in the cohort metadata; "
            f"available: {', '.join(map(str, metadata.columns))}"
        )
        raise ValidationError(message)
    frame = metadata[columns].dropna()
    kind = outcome_kind(frame[outcome])
    parts: list[pd.DataFrame] = [pd.DataFrame({"const": 1.0}, index=frame.index)]
    if kind == "binary":
        levels = sorted(pd.unique(frame[outcome]), key=str)
        controls = [v for v in levels if _CONTROL.match(str(v).strip())]
        if len(controls) == 1:
            levels = [controls[0], *(v for v in levels if v != controls[0])]
        reference = levels[0]
        name = f"{outcome}[{levels[1]}]"
        parts.append(
            pd.DataFrame({name: (frame[outcome] != reference).astype(float)}, index=frame.index)
        )
    else:
        name = outcome
        parts.append(frame[[outcome]].astype(float))
    for cov in covariates:
        col = frame[cov]
        if pd.api.types.is_numeric_dtype(col) and col.nunique() > 2:
            parts.append(col.astype(float).to_frame(cov))
        else:
            dummies = pd.get_dummies(col.astype(str), prefix=cov, drop_first=True, dtype=float)
            parts.append(dummies)
    design = pd.concat(parts, axis=1)
    return design, name


def linear_associations(
    transformed: pd.DataFrame,
    metadata: pd.DataFrame,
    outcome: str,
    *,
    covariates: Sequence[str] = (),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Fit ``feature ~ outcome + covariates`` by OLS for every feature; BH across features.

    Parameters
    ----------
    transformed
        Samples × features, already transformed (e.g. by :func:`clr`).
    metadata
        Samples × variables (indexed like ``transformed``).
    outcome
        Column of ``metadata`` tested; binary columns give case/control differences.
    covariates
        Adjustment columns.
    alpha
        Level of the two-sided confidence intervals (``1 - alpha``).

    Returns
    -------
    pandas.DataFrame
        One row per feature: ``feature, effect, ci_low, ci_high, std_error, pvalue, qvalue,
        n_samples``. ``effect`` is the change of the feature's CLR value per unit of the outcome
        (or case minus control), so ``exp(effect)`` is the fold change relative to the geometric
        mean of the sample's taxa.
    """
    import statsmodels.api as sm

    common = transformed.index.intersection(metadata.index)
    design, name = design_matrix(metadata.loc[common], outcome, covariates)
    y_all = transformed.loc[design.index]
    n = design.shape[0]
    if n <= design.shape[1]:
        message = (
            f"{n} samples with complete {outcome!r} and covariates for {design.shape[1]} model "
            "terms; more samples are needed"
        )
        raise ValidationError(message)
    x = design.to_numpy(dtype=np.float64)
    rows = []
    for feature in y_all.columns:
        y = y_all[feature].to_numpy(dtype=np.float64)
        fit = sm.OLS(y, x).fit()
        low, high = fit.conf_int(alpha=alpha)[1]
        rows.append(
            {
                "feature": str(feature),
                "effect": float(fit.params[1]),
                "ci_low": float(low),
                "ci_high": float(high),
                "std_error": float(fit.bse[1]),
                "pvalue": float(fit.pvalues[1]),
                "n_samples": n,
            }
        )
    result = pd.DataFrame(rows, columns=[*rows[0].keys()] if rows else None)
    if rows:
        result["qvalue"] = benjamini_hochberg(result["pvalue"].to_numpy())
    result.attrs["term"] = name
    return result


def ancombc_associations(
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    outcome: str,
    *,
    covariates: Sequence[str] = (),
    pseudocount: float = 1.0,
) -> pd.DataFrame:
    """ANCOM-BC (scikit-bio) for the outcome; zeros handled by adding ``pseudocount``.

    Following the scikit-bio documentation (which mirrors the R package's ``pseudo=1``), one
    pseudocount is added to every cell of a count table. Covariates are adjustment terms. The
    returned effect is the bias-corrected natural-log fold change; q-values are
    Benjamini–Hochberg over the features tested.

    References
    ----------
    Lin H, Peddada SD (2020) *Nat Commun* 11:3514; scikit-bio ``skbio.stats.composition.ancombc``.
    """
    from skbio.stats.composition import ancombc

    common = table.index.intersection(metadata.index)
    design, name = design_matrix(metadata.loc[common], outcome, covariates)
    meta = pd.DataFrame(index=design.index)
    safe_terms: list[str] = []
    for i, column in enumerate(design.columns[1:]):
        term = f"v{i}"
        meta[term] = design[column]
        safe_terms.append(term)
    counts = table.loc[design.index] + pseudocount
    # scikit-bio 0.7.4 divides 0/0 in its variance step for some features (NaN results); the
    # NaN p-values are passed through, so the numpy warning is not needed.
    with np.errstate(divide="ignore", invalid="ignore"):
        result = ancombc(counts, meta, " + ".join(safe_terms), p_adjust="bh").result
    z = 1.959963984540054
    out = result.xs(safe_terms[0], level="Covariate")
    frame = pd.DataFrame(
        {
            "feature": out.index.astype(str),
            "effect": out["Log(FC)"].to_numpy(dtype=float),
            "std_error": out["SE"].to_numpy(dtype=float),
            "pvalue": out["pvalue"].to_numpy(dtype=float),
        }
    )
    frame["ci_low"] = frame["effect"] - z * frame["std_error"]
    frame["ci_high"] = frame["effect"] + z * frame["std_error"]
    frame["qvalue"] = benjamini_hochberg(frame["pvalue"].to_numpy())
    frame["n_samples"] = len(design)
    frame.attrs["term"] = name
    return frame


def presence_associations(
    table: pd.DataFrame,
    metadata: pd.DataFrame,
    outcome: str,
    *,
    min_present: int = 3,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Case/control test of each taxon's *presence* (> 0): Fisher's exact test, two-sided.

    For a taxon present in ``a`` of the cases, absent in ``b``, present in ``c`` of the controls
    and absent in ``d``, the effect is the log odds ratio with the Haldane–Anscombe correction,
    :math:`\\ln\\frac{(a+½)(d+½)}{(b+½)(c+½)}`, with Woolf's interval
    :math:`\\pm z_{1-\\alpha/2}\\sqrt{\\sum 1/(n+½)}`. Rare taxa carry presence/absence signals a
    mean shift of log-ratios misses (a taxon found in 10 % of cases and no controls), so no
    prevalence filter applies beyond ``min_present`` samples overall. No covariates.

    References
    ----------
    Fisher RA (1922) *J R Stat Soc* 85:87–94; Woolf B (1955) *Ann Hum Genet* 19:251–253.
    """
    from scipy.stats import fisher_exact, norm

    common = table.index.intersection(metadata.index)
    design, name = design_matrix(metadata.loc[common], outcome)
    if outcome_kind(metadata.loc[design.index, outcome]) != "binary":
        message = f"the presence test needs a two-level outcome; {outcome!r} is continuous"
        raise ValidationError(message)
    case = design[name].to_numpy() == 1.0
    present = (table.loc[design.index] > 0).to_numpy()
    z = float(norm.ppf(1 - alpha / 2))
    rows = []
    for j, feature in enumerate(table.columns):
        column = present[:, j]
        if column.sum() < min_present:
            continue
        a = int(np.sum(column & case))
        b = int(np.sum(~column & case))
        c = int(np.sum(column & ~case))
        d = int(np.sum(~column & ~case))
        p = float(fisher_exact([[a, b], [c, d]]).pvalue)
        log_or = math.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
        se = math.sqrt(sum(1.0 / (n + 0.5) for n in (a, b, c, d)))
        rows.append(
            {
                "feature": str(feature),
                "effect": log_or,
                "ci_low": log_or - z * se,
                "ci_high": log_or + z * se,
                "std_error": se,
                "pvalue": min(p, 1.0),
                "n_samples": len(design),
                "present_cases": a,
                "present_controls": c,
            }
        )
    result = pd.DataFrame(rows)
    if rows:
        result["qvalue"] = benjamini_hochberg(result["pvalue"].to_numpy())
    result.attrs["term"] = name
    return result


def permanova_outcome(
    abundance: pd.DataFrame,
    metadata: pd.DataFrame,
    outcome: str,
    *,
    permutations: int = 999,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """PERMANOVA (scikit-bio) of Bray–Curtis distances between samples grouped by the outcome.

    A continuous outcome is split at its median (≤ median vs > median), since PERMANOVA tests
    groups. Bray–Curtis between rows ``u`` and ``v`` of relative abundances is
    :math:`\\sum_j |u_j - v_j| / \\sum_j (u_j + v_j)`.

    Returns
    -------
    dict
        ``test``, ``grouping``, ``n_samples``, ``n_groups``, ``pseudo_F``, ``pvalue``,
        ``permutations``, ``r_squared`` (the share of the total sum of squares between groups).

    References
    ----------
    Anderson MJ (2001) *Austral Ecology* 26:32–46.
    """
    from scipy.spatial.distance import pdist, squareform
    from skbio import DistanceMatrix
    from skbio.stats.distance import permanova

    common = abundance.index.intersection(metadata.index)
    values = metadata.loc[common, outcome].dropna()
    kind = outcome_kind(values)
    if kind == "continuous":
        numeric = values.astype(float)
        grouping = pd.Series(
            np.where(numeric > numeric.median(), "above_median", "at_or_below_median"),
            index=numeric.index,
        )
        how = "median split"
    else:
        grouping = values.astype(str)
        how = "levels"
    data = abundance.loc[grouping.index].to_numpy(dtype=np.float64)
    totals = data.sum(axis=1, keepdims=True)
    data = np.divide(data, totals, out=np.zeros_like(data), where=totals > 0)
    dm = DistanceMatrix(squareform(pdist(data, "braycurtis")), ids=[str(i) for i in grouping.index])
    res = permanova(dm, grouping.to_numpy(), permutations=permutations, seed=seed)
    f_stat = float(res["test statistic"])
    n = int(res["sample size"])
    k = int(res["number of groups"])
    r2 = (f_stat * (k - 1)) / (f_stat * (k - 1) + (n - k)) if math.isfinite(f_stat) else math.nan
    return {
        "test": "PERMANOVA (Bray-Curtis)",
        "grouping": how,
        "n_samples": n,
        "n_groups": k,
        "pseudo_F": f_stat,
        "pvalue": float(res["p-value"]),
        "permutations": int(res["number of permutations"]),
        "r_squared": float(r2),
    }


@dataclass(frozen=True, slots=True)
class Agreement:
    """How two association methods agree on the features both tested.

    ``kappa`` is Cohen's kappa on the significant/not-significant calls; ``sign_agreement`` is
    the fraction of features significant in both whose effects have the same sign;
    ``spearman`` correlates the two effect estimates.
    """

    n_features: int
    significant_both: int
    significant_first_only: int
    significant_second_only: int
    kappa: float
    sign_agreement: float
    spearman: float


def method_agreement(
    first: pd.DataFrame, second: pd.DataFrame, *, max_qvalue: float = 0.05
) -> Agreement:
    """Compare two association tables (columns ``feature, effect, qvalue``).

    Cohen's kappa: :math:`\\kappa = (p_o - p_e)/(1 - p_e)` with observed agreement :math:`p_o`
    and chance agreement :math:`p_e = p_1 p_2 + (1-p_1)(1-p_2)` from the two call rates.
    """
    from scipy.stats import spearmanr

    merged = first.merge(second, on="feature", suffixes=("_a", "_b"))
    n = len(merged)
    sig_a = (merged["qvalue_a"] <= max_qvalue).to_numpy()
    sig_b = (merged["qvalue_b"] <= max_qvalue).to_numpy()
    both = int(np.sum(sig_a & sig_b))
    if n == 0:
        return Agreement(0, 0, 0, 0, math.nan, math.nan, math.nan)
    p_o = float(np.mean(sig_a == sig_b))
    pa, pb = float(np.mean(sig_a)), float(np.mean(sig_b))
    p_e = pa * pb + (1 - pa) * (1 - pb)
    kappa = (p_o - p_e) / (1 - p_e) if p_e < 1 else 1.0
    same_sign = np.sign(merged["effect_a"]) == np.sign(merged["effect_b"])
    sign = float(np.mean(same_sign[sig_a & sig_b])) if both else math.nan
    rho = float(spearmanr(merged["effect_a"], merged["effect_b"]).statistic) if n > 2 else math.nan
    return Agreement(
        n_features=n,
        significant_both=both,
        significant_first_only=int(np.sum(sig_a & ~sig_b)),
        significant_second_only=int(np.sum(~sig_a & sig_b)),
        kappa=float(kappa),
        sign_agreement=sign,
        spearman=rho,
    )
