"""Simulated cohorts with a known answer, to measure the recall and FDR of the association tests.

The model: for sample ``i`` and taxon ``j`` the log-abundance is
:math:`\\mu_j + \\beta_j z_i + \\varepsilon_{ij}` with baseline :math:`\\mu_j \\sim N(0, 2^2)`,
sample noise :math:`\\varepsilon_{ij} \\sim N(0, \\sigma^2)`, the standardised outcome
:math:`z_i`, and :math:`\\beta_j = \\pm` ``effect`` for the ``n_shifted`` chosen taxa, 0 otherwise.
Abundances are the softmax of the log-abundances; counts are a multinomial draw at a depth drawn
log-uniformly between ``min_depth`` and ``max_depth``. A nuisance covariate ``age`` is drawn too,
independent of everything (a model with ``age`` as covariate must not find more).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gutbrain import __version__
from gutbrain.io.tables import write_profile_tsv
from gutbrain.model import Lineage, Profile, Provenance, Rank, SampleId, TaxonRow

__all__ = ["SimulatedCohort", "recall_and_fdr", "simulate_cohort", "write_cohort_files"]


@dataclass(frozen=True, slots=True)
class SimulatedCohort:
    """Counts (samples × taxa), metadata (outcome, age) and the truly shifted taxa."""

    counts: pd.DataFrame
    metadata: pd.DataFrame
    shifted: frozenset[str]
    effect_sign: dict[str, int]


def simulate_cohort(
    *,
    n_samples: int = 200,
    n_taxa: int = 100,
    n_shifted: int = 10,
    effect: float = 1.0,
    noise: float = 1.0,
    binary: bool = False,
    min_depth: int = 5_000,
    max_depth: int = 30_000,
    seed: int = 0,
) -> SimulatedCohort:
    """Draw a cohort in which ``n_shifted`` taxa shift with the outcome (see the module docstring).

    ``binary=True`` gives a case/control outcome (``case``/``control``, half each) and ``effect``
    is the log-fold change between the groups; otherwise a PHQ-9-like score 0–27 and ``effect``
    is the log change per standard deviation of the score.
    """
    rng = np.random.default_rng(seed)
    ids = [f"S{i:05d}" for i in range(n_samples)]
    taxa = [f"taxon_{j:04d}" for j in range(n_taxa)]
    if binary:
        cases = rng.permutation(np.arange(n_samples) < n_samples // 2)
        outcome: pd.Series = pd.Series(np.where(cases, "case", "control"), index=ids)
        z = cases.astype(float)
    else:
        score = np.clip(np.round(rng.gamma(2.0, 4.0, size=n_samples)), 0, 27)
        outcome = pd.Series(score, index=ids)
        z = (score - score.mean()) / score.std()
    chosen = rng.choice(n_taxa, size=n_shifted, replace=False)
    signs = rng.choice([-1, 1], size=n_shifted)
    beta = np.zeros(n_taxa)
    beta[chosen] = signs * effect
    mu = rng.normal(0.0, 2.0, size=n_taxa)
    logs = mu[None, :] + z[:, None] * beta[None, :] + rng.normal(0, noise, (n_samples, n_taxa))
    probs = np.exp(logs - logs.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    depth = np.exp(rng.uniform(np.log(min_depth), np.log(max_depth), size=n_samples)).astype(int)
    counts = np.vstack([rng.multinomial(d, p) for d, p in zip(depth, probs, strict=True)])
    metadata = pd.DataFrame(
        {"outcome": outcome, "age": rng.normal(45, 12, size=n_samples).round(1)}, index=ids
    )
    metadata.index.name = "sample_id"
    frame = pd.DataFrame(counts, index=ids, columns=taxa)
    frame.index.name = "sample_id"
    shifted = {taxa[j]: int(s) for j, s in zip(chosen, signs, strict=True)}
    return SimulatedCohort(frame, metadata, frozenset(shifted), shifted)


def recall_and_fdr(
    called: set[str] | frozenset[str], truth: set[str] | frozenset[str]
) -> tuple[float, float]:
    """Return ``(recall, false discovery proportion)`` of ``called`` against ``truth``.

    recall = |called ∩ truth| / |truth|; FDP = |called \\ truth| / max(|called|, 1).
    """
    true_positive = len(called & truth)
    recall = true_positive / len(truth) if truth else float("nan")
    fdp = (len(called) - true_positive) / max(len(called), 1)
    return recall, fdp


def write_cohort_files(
    counts: pd.DataFrame,
    metadata: pd.DataFrame,
    folder: str | Path,
    *,
    rank: Rank = "genus",
) -> Path:
    """Write one gutbrain ``profile.tsv`` per sample plus ``sheet.tsv``; return the sheet path.

    ``counts`` is samples × taxa (read counts); taxa are named at ``rank``. ``metadata`` columns
    become sheet covariates.
    """
    out = Path(folder)
    (out / "profiles").mkdir(parents=True, exist_ok=True)
    taxa = [str(c) for c in counts.columns]
    lineages = [Lineage.from_mapping({rank: t}) for t in taxa]
    source = Provenance(gutbrain_version=__version__, source="simulated")
    names = [str(c) for c in metadata.columns]
    meta = metadata.reindex(counts.index)
    lines = ["\t".join(["sample_id", "profile", *names])]
    values = counts.to_numpy(dtype=np.float64)
    for i, sample_id in enumerate(map(str, counts.index)):
        row = values[i]
        total = float(row.sum())
        rows = tuple(
            TaxonRow(rank, lineages[j], float(row[j]) / total, reads=float(row[j]))
            for j in np.flatnonzero(row > 0)
        )
        unassigned: dict[Rank, float] = {rank: 0.0}
        profile = Profile(SampleId(sample_id), rows, unassigned, source, total_reads=int(total))
        path = out / "profiles" / f"{sample_id}.profile.tsv"
        write_profile_tsv(profile, path)
        cells = ["" if pd.isna(v) else str(v) for v in meta.iloc[i].tolist()]
        lines.append("\t".join([sample_id, f"profiles/{path.name}", *cells]))
    sheet = out / "sheet.tsv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sheet
