"""Per-alignment log-likelihoods from alignment error counts (Emu's model).

For every alignment the error counts ``n_X`` (mismatches), ``n_I`` (insertions), ``n_D``
(deletions) and ``n_S`` (soft-clipped bases) are weighed by the log-probability of each error
type, estimated from the sample's own *primary* alignments:

.. math::

    p_e = \\frac{c_e + 1}{\\sum_{e'} (c_{e'} + 1)}, \\quad
    \\log L(r|s) = \\Big(\\sum_{e \\in \\{X, I, D, S\\}} n_e \\log p_e\\Big)
                  \\cdot \\frac{\\max_{a \\in r} \\lambda_a}{\\lambda}

where ``c_e`` sums type-``e`` errors over primary alignments (a +1 pseudocount replaces Emu's
removal of error types that never occur) and ``λ = M + I + D + S`` is the alignment's column
count; the factor rescales a partial alignment to the read's longest alignment, so a short
alignment with few errors does not beat a full-length one (Curry et al. 2022).

Emu computed the per-read maximum with ``if align_len not in dict_longest_align`` — an integer
looked up in a dict keyed by read name, always false — so its "longest" was the last
alignment's length. Here the maximum is taken over read *indices* with ``np.maximum.at``.

References
----------
Curry, K. D. et al. (2022). Emu: species-level microbial community profiling of full-length 16S
rRNA Oxford Nanopore sequencing data. *Nature Methods* 19, 845–853.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gutbrain._typing import FloatArray
from gutbrain.profile.align import HitTable

__all__ = [
    "ErrorModel",
    "alignment_log_likelihood",
    "error_counts",
    "error_model_of_counts",
    "estimate_error_model",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """Log-probabilities of the four error types among all errors (natural log)."""

    log_mismatch: float
    log_insertion: float
    log_deletion: float
    log_soft_clip: float

    def as_dict(self) -> dict[str, float]:
        """Probabilities (not logs) for reports and provenance."""
        return {
            "mismatch": float(np.exp(self.log_mismatch)),
            "insertion": float(np.exp(self.log_insertion)),
            "deletion": float(np.exp(self.log_deletion)),
            "soft_clip": float(np.exp(self.log_soft_clip)),
        }


def estimate_error_model(hits: HitTable, *, weights: FloatArray | None = None) -> ErrorModel:
    """Estimate error-type probabilities from the primary alignments of ``hits``.

    ``weights`` (one per read index) counts collapsed identical reads more than once.
    A +1 pseudocount per type keeps every probability positive.
    """
    return error_model_of_counts(error_counts(hits, weights=weights))


def error_counts(hits: HitTable, *, weights: FloatArray | None = None) -> FloatArray:
    """Weighted mismatches, insertions, deletions and soft-clipped bases of the primary
    alignments of ``hits``: the error model's counts.

    Counts of several tables add up to the counts of their union exactly (issue 11: the
    estimate counts window by window): they are integers, and so are the weights.
    """
    primary = hits.primary
    w = np.ones(int(primary.sum())) if weights is None else weights[hits.read[primary]]
    return np.array(
        [
            float(np.dot(w, hits.mismatches[primary])),
            float(np.dot(w, hits.insertions[primary])),
            float(np.dot(w, hits.deletions[primary])),
            float(np.dot(w, hits.soft_clips[primary])),
        ]
    )


def error_model_of_counts(counts: FloatArray) -> ErrorModel:
    """The model of :func:`error_counts`' four counts: ``p_e = (c_e + 1) / Σ (c_e' + 1)``."""
    p = (counts + 1.0) / float(np.sum(counts + 1.0))
    log_p = np.log(p)
    return ErrorModel(*(float(x) for x in log_p))


def alignment_log_likelihood(hits: HitTable, model: ErrorModel, *, n_reads: int) -> FloatArray:
    """Return ``log L(r|s)`` for every hit (see the module docstring for the formula).

    ``n_reads`` is the number of read indices the hits refer to (``hits.read < n_reads``).
    """
    if len(hits) == 0:
        return np.zeros(0)
    score = (
        hits.mismatches * model.log_mismatch
        + hits.insertions * model.log_insertion
        + hits.deletions * model.log_deletion
        + hits.soft_clips * model.log_soft_clip
    )
    columns = (hits.aligned_columns + hits.insertions + hits.deletions + hits.soft_clips).astype(
        np.float64
    )
    longest = np.zeros(n_reads)
    np.maximum.at(longest, hits.read, columns)
    ratio = longest[hits.read] / np.maximum(columns, 1.0)
    result: FloatArray = score * ratio
    return result
