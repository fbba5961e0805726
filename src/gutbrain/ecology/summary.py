"""All of a cohort's diversity in one call: alpha, beta, PCoA, optional rarefaction and tree."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gutbrain.ecology.alpha import ALPHA_METRICS, alpha_table, faith_pd
from gutbrain.ecology.beta import beta_diversity
from gutbrain.ecology.matrix import profiles_to_matrix
from gutbrain.ecology.ordination import Ordination, pcoa
from gutbrain.ecology.rarefaction import rarefaction_curve, rarefy
from gutbrain.errors import ErrorCode, InputFormatError, OptionError
from gutbrain.model import Profile, Rank

__all__ = ["DiversityResult", "diversity_summary"]

logger = logging.getLogger(__name__)

#: ``callback(done, total)`` for long work.
ProgressCallback = Callable[[float, float | None], None]


@dataclass(frozen=True, slots=True)
class DiversityResult:
    """Alpha table (samples × metrics), distance matrices and ordinations by metric."""

    rank: Rank
    alpha: pd.DataFrame
    beta: dict[str, pd.DataFrame] = field(default_factory=dict)
    ordination: dict[str, Ordination] = field(default_factory=dict)
    used_counts: bool = False
    rarefied_depth: int | None = None
    excluded: dict[str, str] = field(default_factory=dict)  # sample -> reason
    rarefaction: pd.DataFrame | None = None  # long table: sample, depth, observed_mean/sd


def diversity_summary(
    profiles: Sequence[Profile],
    *,
    rank: Rank = "species",
    metrics: Sequence[str] = ("bray_curtis", "jaccard", "aitchison"),
    tree: Any | None = None,
    rarefy_depth: int | None = None,
    seed: int | None = None,
    curve_points: int | None = None,
    progress: ProgressCallback | None = None,
) -> DiversityResult:
    """Compute alpha diversity, beta distances and PCoA for ``profiles`` at ``rank``.

    Samples with no taxa at ``rank`` are excluded with a reason (never a NaN row). Counts are
    used when every profile has integer reads and none is copy-number corrected; rarefaction
    (``rarefy_depth`` with ``seed``) needs counts and drops shallower samples. With ``tree``
    (tips = taxa), Faith PD and both UniFrac variants are added. ``curve_points`` (with ``seed``
    and counts) adds rarefaction curves of the unrarefied counts at that many depths, spaced
    geometrically from 1 to the deepest sample (10 draws per depth).

    Raises
    ------
    InputFormatError
        When rarefaction is asked without counts, or no sample is left.
    OptionError
        When rarefaction is asked without a seed.
    """
    excluded: dict[str, str] = {}
    kept: list[Profile] = []
    for profile in profiles:
        if profile.at_rank(rank):
            kept.append(profile)
        else:
            excluded[str(profile.sample_id)] = f"no taxa at rank {rank}"
    if not kept:
        message = f"no sample has taxa at rank {rank}; choose another --rank"
        raise InputFormatError(message)
    use_counts = all(
        not p.copy_number_corrected
        and all(r.reads is not None and float(r.reads).is_integer() for r in p.at_rank(rank))
        for p in kept
    )
    matrix = profiles_to_matrix(kept, rank=rank, counts=use_counts)
    curves = None
    if curve_points is not None:
        if not use_counts or seed is None:
            message = "rarefaction curves need integer read counts and a seed (--seed)"
            raise InputFormatError(message, code=ErrorCode.TAB_NOTCOUNT)
        deepest = float(matrix.to_numpy().sum(axis=1).max())
        depths = np.unique(np.round(np.geomspace(1, max(deepest, 1), max(curve_points, 2))))
        curves = rarefaction_curve(matrix, [int(d) for d in depths], seed=seed)
    if rarefy_depth is not None:
        if not use_counts:
            message = (
                "rarefaction needs integer read counts in every profile (and no copy-number "
                "correction)"
            )
            raise InputFormatError(message, code=ErrorCode.TAB_NOTCOUNT)
        if seed is None:
            message = "rarefaction needs a seed (--seed) so that it can be repeated"
            raise OptionError(message)
        before = set(matrix.index)
        matrix = rarefy(matrix, rarefy_depth, seed=seed)
        for sample in sorted(before - set(matrix.index)):
            excluded[str(sample)] = f"fewer than {rarefy_depth} reads"
        if matrix.empty:
            message = f"no sample has {rarefy_depth} reads; lower --rarefy"
            raise InputFormatError(message)
    all_metrics = list(metrics)
    if tree is not None:
        all_metrics += [m for m in ("weighted_unifrac", "unweighted_unifrac") if m not in metrics]
    steps = 1 + 2 * len(all_metrics)
    done = 0
    table = alpha_table(matrix.to_numpy(), integer_counts=use_counts)
    alpha = pd.DataFrame({k: table[k] for k in ALPHA_METRICS}, index=matrix.index)
    if tree is not None:
        pd_values = faith_pd(matrix, tree, rank=rank)
        alpha["faith_pd"] = [pd_values[str(s)] for s in matrix.index]
    done += 1
    if progress is not None:
        progress(done, steps)
    beta: dict[str, pd.DataFrame] = {}
    ordination: dict[str, Ordination] = {}
    if len(matrix) >= 2:
        for metric in all_metrics:
            beta[metric] = beta_diversity(matrix, metric, tree=tree)
            done += 1
            if progress is not None:
                progress(done, steps)
            if len(matrix) >= 3:
                ordination[metric] = pcoa(beta[metric])
            done += 1
            if progress is not None:
                progress(done, steps)
    logger.info(
        "diversity at %s: %d samples (%d excluded), %d taxa, %s",
        rank,
        len(matrix),
        len(excluded),
        matrix.shape[1],
        "counts" if use_counts else "abundances",
    )
    return DiversityResult(
        rank=rank,
        alpha=alpha,
        beta=beta,
        ordination=ordination,
        used_counts=use_counts,
        rarefied_depth=rarefy_depth,
        excluded=excluded,
        rarefaction=curves,
    )
