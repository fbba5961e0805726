"""Rarefaction: subsampling reads without replacement to a common depth (Sanders 1968).

Draws use numpy's ``Generator.multivariate_hypergeometric`` (exact sampling without replacement)
from a seeded :class:`numpy.random.Generator`, so a seed gives the same table on every machine
with the same numpy. Samples with fewer reads than the depth are dropped, and named.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from gutbrain.errors import ErrorCode, InputFormatError, LowDepthWarning, OptionError

__all__ = ["rarefaction_curve", "rarefy", "rarefy_counts"]

logger = logging.getLogger(__name__)


def _as_counts(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    x = np.asarray(values, dtype=np.float64)
    if x.size and (not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x))):
        message = "rarefaction needs non-negative integer read counts"
        raise InputFormatError(message, code=ErrorCode.TAB_NOTCOUNT)
    return x.astype(np.int64)


def rarefy_counts(
    counts: npt.ArrayLike, depth: int, *, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Subsample one sample's counts to ``depth`` reads without replacement.

    Raises
    ------
    InputFormatError
        When counts are not integers or the sample has fewer than ``depth`` reads.
    """
    x = _as_counts(counts)
    total = int(x.sum())
    if depth < 0 or depth > total:
        message = f"cannot rarefy {total} reads to depth {depth}"
        raise InputFormatError(message)
    drawn: npt.NDArray[np.int64] = rng.multivariate_hypergeometric(x, depth).astype(np.int64)
    return drawn


def rarefy(matrix: pd.DataFrame, depth: int, *, seed: int) -> pd.DataFrame:
    """Rarefy every sample (row) of a count matrix to ``depth`` reads.

    Samples with fewer reads are dropped with a :class:`~gutbrain.errors.LowDepthWarning`
    naming them. Taxa absent from every rarefied sample are kept (as zeros) so columns match
    the input.

    Examples
    --------
    >>> m = pd.DataFrame([[30, 10, 0], [5, 5, 10]], index=["a", "b"], columns=["X", "Y", "Z"])
    >>> rarefied = rarefy(m, 20, seed=1)
    >>> rarefied.sum(axis=1).tolist(), rarefied.equals(rarefy(m, 20, seed=1))
    ([20, 20], True)
    """
    if depth <= 0:
        message = f"rarefaction depth must be positive, got {depth}"
        raise OptionError(message)
    rng = np.random.default_rng(seed)
    x = _as_counts(matrix.to_numpy())
    totals = x.sum(axis=1)
    keep = totals >= depth
    if not keep.all():
        dropped = [str(s) for s in matrix.index[~keep]]
        message = (
            f"{len(dropped)} sample(s) below rarefaction depth {depth} dropped: "
            f"{', '.join(dropped[:10])}{' …' if len(dropped) > 10 else ''}"
        )
        warnings.warn(message, LowDepthWarning, stacklevel=2)
    rows = [rarefy_counts(x[i], depth, rng=rng) for i in np.flatnonzero(keep)]
    data = np.vstack(rows) if rows else np.zeros((0, x.shape[1]), dtype=np.int64)
    return pd.DataFrame(data, index=matrix.index[keep], columns=matrix.columns)


def rarefaction_curve(
    matrix: pd.DataFrame,
    depths: Sequence[int],
    *,
    seed: int,
    iterations: int = 10,
) -> pd.DataFrame:
    """Mean observed taxa at each depth (over ``iterations`` seeded draws) for every sample.

    Returns
    -------
    pandas.DataFrame
        Long format with columns ``sample``, ``depth``, ``observed_mean``, ``observed_sd``;
        depths above a sample's total are skipped.
    """
    rng = np.random.default_rng(seed)
    x = _as_counts(matrix.to_numpy())
    records: list[dict[str, object]] = []
    for i, sample in enumerate(matrix.index):
        total = int(x[i].sum())
        for depth in sorted(set(int(d) for d in depths)):
            if depth <= 0 or depth > total:
                continue
            observed = [
                int(np.count_nonzero(rng.multivariate_hypergeometric(x[i], depth)))
                for _ in range(iterations)
            ]
            records.append(
                {
                    "sample": str(sample),
                    "depth": depth,
                    "observed_mean": float(np.mean(observed)),
                    "observed_sd": float(np.std(observed, ddof=1)) if iterations > 1 else 0.0,
                }
            )
    return pd.DataFrame.from_records(
        records, columns=["sample", "depth", "observed_mean", "observed_sd"]
    )
