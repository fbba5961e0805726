"""Diversity and composition: alpha and beta diversity, ordination, rarefaction.

Terms: a *sample*'s *taxa* at one *rank* form a composition; alpha diversity describes one
sample (richness, evenness), beta diversity the difference between two, ordination places many
samples in a few axes. Rarefaction subsamples reads to a common depth; copy-number correction turns
16S read fractions into cell fractions. Methods and formulas: ``docs/ecology.md``.
"""

from __future__ import annotations

from gutbrain.ecology.alpha import ALPHA_METRICS, alpha_diversity, alpha_table, faith_pd
from gutbrain.ecology.beta import (
    BETA_METRICS,
    aitchison,
    beta_diversity,
    bray_curtis,
    jaccard,
    rclr,
    unifrac,
)
from gutbrain.ecology.copy_number import copy_number_correct, copy_numbers_by_taxon
from gutbrain.ecology.matrix import profiles_to_matrix
from gutbrain.ecology.ordination import Ordination, pcoa
from gutbrain.ecology.rarefaction import rarefaction_curve, rarefy, rarefy_counts
from gutbrain.ecology.summary import DiversityResult, diversity_summary
from gutbrain.ecology.tree import read_tree, taxon_tree

__all__ = [
    "ALPHA_METRICS",
    "BETA_METRICS",
    "DiversityResult",
    "Ordination",
    "aitchison",
    "alpha_diversity",
    "alpha_table",
    "beta_diversity",
    "bray_curtis",
    "copy_number_correct",
    "copy_numbers_by_taxon",
    "diversity_summary",
    "faith_pd",
    "jaccard",
    "pcoa",
    "profiles_to_matrix",
    "rarefaction_curve",
    "rarefy",
    "rarefy_counts",
    "rclr",
    "read_tree",
    "taxon_tree",
    "unifrac",
]
