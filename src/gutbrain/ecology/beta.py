"""Beta diversity: how different two samples' compositions are.

All measures take a samples × taxa matrix (``pandas.DataFrame`` from
:func:`~gutbrain.ecology.matrix.profiles_to_matrix`) and return a square
:class:`pandas.DataFrame` of distances. Each sample is first closed to proportions
:math:`p_{ij} = x_{ij} / \\sum_k x_{ik}` (so relative and count tables agree); all-zero samples
are refused (exclude them first; the importers already do).

- ``bray_curtis`` (Bray & Curtis 1957):
  :math:`\\sum_k |p_{ik} - p_{jk}| / \\sum_k (p_{ik} + p_{jk})`
  (on proportions, half the L1 distance).
- ``jaccard`` (Jaccard 1912) on presence/absence: :math:`1 - |A \\cap B| / |A \\cup B|`.
- ``aitchison`` (robust, Martino et al. 2019; vegan 2.6 ``vegdist(method="robust.aitchison")``):
  Euclidean distance between rclr-transformed samples, where
  :math:`\\mathrm{rclr}(x)_k = \\ln x_k - \\frac{1}{|S|}\\sum_{l \\in S} \\ln x_l` over the
  sample's non-zero taxa :math:`S`, and zeros stay 0 (no pseudocount).
- ``weighted_unifrac`` / ``unweighted_unifrac`` (Lozupone & Knight 2005; Lozupone et al. 2007)
  through scikit-bio with a tree whose tips are the taxa (normalised weighted UniFrac).

Bray–Curtis, Jaccard and Aitchison use scipy's ``pdist`` on our transforms and are tested against
scikit-bio 0.7's ``beta_diversity`` to 1e-9.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from gutbrain.errors import ErrorCode, InputFormatError, OptionError

__all__ = [
    "BETA_METRICS",
    "aitchison",
    "beta_diversity",
    "bray_curtis",
    "jaccard",
    "rclr",
    "unifrac",
]

logger = logging.getLogger(__name__)

#: Metric names :func:`beta_diversity` accepts.
BETA_METRICS: tuple[str, ...] = (
    "bray_curtis",
    "jaccard",
    "aitchison",
    "weighted_unifrac",
    "unweighted_unifrac",
)


def _proportions(matrix: pd.DataFrame) -> npt.NDArray[np.float64]:
    x = matrix.to_numpy(dtype=np.float64)
    if x.size and (not np.all(np.isfinite(x)) or np.any(x < 0)):
        message = "beta diversity needs finite, non-negative values"
        raise InputFormatError(message, code=ErrorCode.TAB_NEG)
    totals = x.sum(axis=1)
    if np.any(totals <= 0):
        empty = [str(s) for s in matrix.index[totals <= 0][:5]]
        message = f"all-zero sample(s) {', '.join(empty)}; exclude them before beta diversity"
        raise InputFormatError(message, code=ErrorCode.TAB_EMPTYSAMPLE)
    result: npt.NDArray[np.float64] = x / totals[:, None]
    return result


def _square(matrix: pd.DataFrame, condensed: npt.NDArray[np.float64]) -> pd.DataFrame:
    ids = [str(s) for s in matrix.index]
    return pd.DataFrame(squareform(condensed), index=ids, columns=ids)


def bray_curtis(matrix: pd.DataFrame) -> pd.DataFrame:
    """Bray–Curtis dissimilarity on proportions (see module docstring).

    Examples
    --------
    >>> m = pd.DataFrame([[6, 4, 0], [2, 2, 6]], index=["a", "b"], columns=["X", "Y", "Z"])
    >>> round(float(bray_curtis(m).loc["a", "b"]), 6)   # (|.6-.2| + |.4-.2| + |0-.6|) / 2
    0.6
    """
    p = _proportions(matrix)
    return _square(matrix, pdist(p, metric="braycurtis"))


def jaccard(matrix: pd.DataFrame) -> pd.DataFrame:
    """Jaccard distance on presence/absence (see module docstring).

    Examples
    --------
    >>> m = pd.DataFrame([[6, 4, 0], [2, 2, 6]], index=["a", "b"], columns=["X", "Y", "Z"])
    >>> round(float(jaccard(m).loc["a", "b"]), 6)   # 1 - |{X, Y}| / |{X, Y, Z}|
    0.333333
    """
    present = _proportions(matrix) > 0
    return _square(matrix, pdist(present, metric="jaccard"))


def rclr(matrix: pd.DataFrame) -> pd.DataFrame:
    """Robust centred log-ratio transform: CLR over each sample's non-zero taxa, zeros kept 0."""
    p = _proportions(matrix)
    positive = p > 0
    logs = np.log(np.where(positive, p, 1.0))
    means = (logs * positive).sum(axis=1) / positive.sum(axis=1)
    out = np.where(positive, logs - means[:, None], 0.0)
    return pd.DataFrame(out, index=matrix.index, columns=matrix.columns)


def aitchison(matrix: pd.DataFrame) -> pd.DataFrame:
    """Robust Aitchison distance: Euclidean distance of :func:`rclr` (see module docstring)."""
    return _square(matrix, pdist(rclr(matrix).to_numpy(), metric="euclidean"))


def unifrac(matrix: pd.DataFrame, tree: Any, *, weighted: bool) -> pd.DataFrame:
    """UniFrac via scikit-bio; ``tree`` tips must be the matrix's taxa.

    Values are closed to proportions and scaled to integers (× 10⁹, rounded) because scikit-bio's
    UniFrac wants counts; on count tables this is exact up to that rounding.
    """
    from skbio.diversity import beta_diversity as sk_beta

    from gutbrain.ecology.tree import check_taxa_in_tree

    taxa = [str(c) for c in matrix.columns]
    check_taxa_in_tree(taxa, tree)
    p = _proportions(matrix)
    counts = np.round(p * 1e9).astype(np.int64)
    metric = "weighted_unifrac" if weighted else "unweighted_unifrac"
    kwargs: dict[str, Any] = {"taxa": taxa, "tree": tree}
    if weighted:
        kwargs["normalized"] = True
    dm = sk_beta(metric, counts, ids=[str(s) for s in matrix.index], **kwargs)
    ids = list(dm.ids)
    return pd.DataFrame(dm.data, index=ids, columns=ids)


def beta_diversity(matrix: pd.DataFrame, metric: str, *, tree: Any | None = None) -> pd.DataFrame:
    """Distance matrix by metric name (one of :data:`BETA_METRICS`).

    Raises
    ------
    InputFormatError
        ``GB-TREE`` for a UniFrac metric without a tree.
    OptionError
        For an unknown metric.
    """
    if metric == "bray_curtis":
        return bray_curtis(matrix)
    if metric == "jaccard":
        return jaccard(matrix)
    if metric == "aitchison":
        return aitchison(matrix)
    if metric in ("weighted_unifrac", "unweighted_unifrac"):
        if tree is None:
            message = f"{metric} needs a phylogenetic tree (--tree)"
            raise InputFormatError(message, code=ErrorCode.TREE)
        return unifrac(matrix, tree, weighted=metric == "weighted_unifrac")
    message = f"unknown beta metric {metric!r}; expected one of {', '.join(BETA_METRICS)}"
    raise OptionError(message)
