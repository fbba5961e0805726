"""Alpha diversity: how many taxa a sample holds and how evenly.

Computed on the rows of one rank, *excluding* the unassigned share, with proportions
:math:`p_i = x_i / \\sum_j x_j` renormalised over the assigned taxa. Natural logarithms
throughout (Shannon in nats). Vectorised numpy code, tested against scikit-bio 0.7 to 1e-9.

Metrics (S = observed taxa, :math:`F_1, F_2` = singletons and doubletons):

- ``observed``: :math:`S = \\#\\{i : x_i > 0\\}`.
- ``chao1`` (bias-corrected, Chao 1987; as scikit-bio ``chao1`` and vegan ``estimateR``):
  :math:`S + F_1 (F_1 - 1) / (2 (F_2 + 1))`; needs integer counts, else ``None``.
- ``shannon`` (Shannon 1948): :math:`H = -\\sum p_i \\ln p_i`.
- ``simpson`` (Gini–Simpson): :math:`1 - \\sum p_i^2`; ``inverse_simpson``: :math:`1 / \\sum p_i^2`.
- ``pielou`` (Pielou 1966): :math:`J = H / \\ln S`; ``None`` when :math:`S < 2`.
- Faith's PD (Faith 1992): total branch length of the tree spanning the observed taxa and the
  root, see :func:`faith_pd`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.model import Profile, Rank

__all__ = ["ALPHA_METRICS", "alpha_diversity", "alpha_table", "faith_pd"]

logger = logging.getLogger(__name__)

#: Keys of :func:`alpha_diversity`.
ALPHA_METRICS: tuple[str, ...] = (
    "observed",
    "chao1",
    "shannon",
    "simpson",
    "inverse_simpson",
    "pielou",
)


def alpha_table(
    values: npt.ArrayLike, *, integer_counts: bool | None = None
) -> dict[str, npt.NDArray[np.float64]]:
    """Alpha metrics of every row of a samples × taxa array (vectorised).

    Parameters
    ----------
    values
        Non-negative abundances or counts, one row per sample.
    integer_counts
        Whether the values are read counts (Chao1 is NaN otherwise); default: decide from the
        values (all whole numbers).

    Returns
    -------
    dict
        ``{metric: array}`` for :data:`ALPHA_METRICS`; undefined values (empty sample, Chao1 without
        counts, Pielou with S < 2) are NaN.
    """
    x = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if x.size and (not np.all(np.isfinite(x)) or np.any(x < 0)):
        message = "diversity needs finite, non-negative values"
        raise InputFormatError(message, code=ErrorCode.TAB_NEG)
    totals = x.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / totals[:, None]
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
        shannon = 0.0 - (p * logp).sum(axis=1)  # not -(…): one taxon gives 0.0, never -0.0
        sum_sq = (p * p).sum(axis=1)
        observed = (x > 0).sum(axis=1).astype(np.float64)
        simpson = 1.0 - sum_sq
        inverse = 1.0 / sum_sq
        pielou = np.where(observed >= 2, shannon / np.log(np.maximum(observed, 2)), np.nan)
    empty = totals <= 0
    if integer_counts is None:
        integer_counts = bool(np.all(x == np.round(x)))
    if integer_counts:
        f1 = (x == 1).sum(axis=1)
        f2 = (x == 2).sum(axis=1)
        chao1 = observed + f1 * (f1 - 1) / (2.0 * (f2 + 1))
    else:
        chao1 = np.full(len(x), np.nan)
    out = {
        "observed": observed,
        "chao1": chao1.astype(np.float64),
        "shannon": shannon,
        "simpson": simpson,
        "inverse_simpson": inverse,
        "pielou": pielou,
    }
    for key, arr in out.items():
        if key != "observed":
            arr[empty] = np.nan
    return out


def _rank_values(profile: Profile, rank: Rank) -> tuple[npt.NDArray[np.float64], bool]:
    rows = profile.at_rank(rank)
    reads = [r.reads for r in rows]
    if rows and all(v is not None and float(v).is_integer() for v in reads):
        return np.array([float(v) for v in reads if v is not None]), True
    return np.array([r.abundance for r in rows], dtype=np.float64), False


def alpha_diversity(profile: Profile, *, rank: Rank = "species") -> dict[str, float | None]:
    """Alpha diversity of one profile at ``rank`` (unassigned share excluded).

    Parameters
    ----------
    profile
        The sample.
    rank
        Rank whose rows are the taxa.

    Returns
    -------
    dict
        ``observed``, ``chao1`` (``None`` without integer read counts), ``shannon`` (natural log),
        ``simpson`` (1 − Σp²), ``inverse_simpson``, ``pielou`` (``None`` when fewer than two taxa).
        With no taxa at ``rank`` every value but ``observed`` (0) is ``None``.

    Examples
    --------
    >>> from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow
    >>> rows = tuple(TaxonRow("genus", Lineage(genus=g), 0.5) for g in ("A", "B"))
    >>> p = Profile(SampleId("s"), rows, {"genus": 0.0}, Provenance("0", "doc"))
    >>> round(alpha_diversity(p, rank="genus")["shannon"], 6)  # ln 2
    0.693147
    """
    values, integer = _rank_values(profile, rank)
    table = alpha_table(
        values[None, :] if values.size else np.zeros((1, 0)), integer_counts=integer
    )
    out: dict[str, float | None] = {}
    for key in ALPHA_METRICS:
        value = float(table[key][0])
        out[key] = None if math.isnan(value) else value
    return out


def faith_pd(
    profiles: Sequence[Profile] | pd.DataFrame, tree: Any, *, rank: Rank = "species"
) -> dict[str, float]:
    """Faith's phylogenetic diversity (Faith 1992) of each sample, via scikit-bio.

    PD is the sum of the branch lengths of the tree connecting the root to every taxon present.

    Parameters
    ----------
    profiles
        Profiles, or a samples × taxa matrix from
        :func:`~gutbrain.ecology.matrix.profiles_to_matrix`.
    tree
        A :class:`skbio.TreeNode` whose tip names are the taxon names at ``rank`` (see
        :func:`gutbrain.ecology.tree.taxon_tree` to derive one from a reference tree).
    rank
        Rank of the taxa.

    Returns
    -------
    dict
        ``{sample ID: PD}``.

    Raises
    ------
    InputFormatError
        When a taxon present is not a tip of the tree.
    """
    from skbio.diversity.alpha import faith_pd as _faith

    from gutbrain.ecology.matrix import profiles_to_matrix
    from gutbrain.ecology.tree import check_taxa_in_tree

    matrix = (
        profiles if isinstance(profiles, pd.DataFrame) else profiles_to_matrix(profiles, rank=rank)
    )
    taxa = [str(c) for c in matrix.columns]
    check_taxa_in_tree(taxa, tree)
    return {
        str(sample): float(
            _faith((matrix.loc[sample].to_numpy() > 0).astype(int), taxa=taxa, tree=tree)
        )
        for sample in matrix.index
    }
