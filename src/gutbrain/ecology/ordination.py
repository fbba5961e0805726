"""Ordination: principal coordinates analysis (PCoA, Gower 1966) of a distance matrix.

Classical metric scaling through scikit-bio's ``pcoa`` (eigendecomposition of the double-centred
matrix :math:`-\\tfrac12 J D^{(2)} J`). Non-Euclidean distances (Bray–Curtis) give negative
eigenvalues; they are reported, not corrected, and proportions explained use the positive sum as
scikit-bio does.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gutbrain.errors import InputFormatError

__all__ = ["Ordination", "pcoa"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ordination:
    """PCoA result: sample coordinates, eigenvalues and the proportion each axis explains."""

    coordinates: pd.DataFrame  # samples × axes ("PC1", "PC2", …)
    eigenvalues: pd.Series
    proportion_explained: pd.Series


def pcoa(distances: pd.DataFrame, *, dimensions: int = 10) -> Ordination:
    """PCoA of a square, symmetric distance matrix.

    Parameters
    ----------
    distances
        Square DataFrame with the same sample IDs as index and columns.
    dimensions
        Axes to keep (at most n − 1).

    Raises
    ------
    InputFormatError
        When the matrix is not square/symmetric with a zero diagonal or has fewer than 3 samples.
    """
    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa as sk_pcoa

    d = distances.to_numpy(dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 3:
        message = f"PCoA needs a square distance matrix of at least 3 samples, got {d.shape}"
        raise InputFormatError(message)
    if not np.allclose(d, d.T) or np.any(np.diag(d) != 0):
        message = "PCoA needs a symmetric distance matrix with a zero diagonal"
        raise InputFormatError(message)
    keep = max(1, min(dimensions, d.shape[0] - 1))
    dm = DistanceMatrix(d, ids=[str(i) for i in distances.index])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # negative eigenvalues: expected, reported
        result = sk_pcoa(dm, dimensions=keep)
    coords = pd.DataFrame(result.samples.to_numpy()[:, :keep], index=distances.index)
    coords.columns = pd.Index([f"PC{k + 1}" for k in range(coords.shape[1])])
    eig = pd.Series(result.eigvals.to_numpy()[:keep], index=coords.columns)
    prop = pd.Series(result.proportion_explained.to_numpy()[:keep], index=coords.columns)
    if np.any(result.eigvals.to_numpy() < -1e-8):
        logger.info("PCoA: negative eigenvalues present (non-Euclidean distance); not corrected")
    return Ordination(coordinates=coords, eigenvalues=eig, proportion_explained=prop)
