"""Personal beta diversity: how far one sample's genus composition lies from a reference cohort.

For each packaged reference cohort (genus tables built by
``scripts/build_reference_percentiles.py`` from the shared cohort data, licences permitting:
``gutbrain/data/reference_cohorts/genus_tables.json.gz``) and each metric (Bray–Curtis and
robust Aitchison, :mod:`gutbrain.ecology.beta`, on genus proportions):

* the sample's **median distance** :math:`m_s = \\operatorname{median}_j d(s, j)` to the cohort's
  members :math:`j`;
* the members' own median distances :math:`m_i = \\operatorname{median}_{j \\ne i} d(i, j)` and
  the **mid-rank percentile** of :math:`m_s` among them,
  :math:`100 \\cdot (\\#\\{m_i < m_s\\} + \\tfrac12 \\#\\{m_i = m_s\\}) / n` (a high percentile:
  the sample is further from this cohort than most of its own members are);
* **PCoA** coordinates (classical scaling of the members' distances, :func:`classical_pcoa`) of
  the members, and the sample **added** to that ordination without moving it (Gower 1968,
  :func:`project_point`).

Genera are joined by name after :func:`genus_key` (brackets and SILVA's ``_1`` suffixes removed).
A cohort is used only with at least ``min_samples`` (20) samples and never when it holds the
sample itself. The sample's unassigned reads are left out (proportions of named genera).
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.linalg
from scipy.spatial.distance import cdist

from gutbrain.ecology.beta import aitchison, bray_curtis, rclr
from gutbrain.result import BetaDiversity

__all__ = [
    "BETA_REFERENCE_METRICS",
    "GenusCohort",
    "classical_pcoa",
    "genus_key",
    "load_genus_cohorts",
    "personal_beta",
    "project_point",
]

logger = logging.getLogger(__name__)

BetaMetric = Literal["bray_curtis", "aitchison"]

#: Metric id -> label.
BETA_REFERENCE_METRICS: Mapping[BetaMetric, str] = {
    "bray_curtis": "Bray–Curtis",
    "aitchison": "Aitchison (robust, rclr)",
}

_NUMBERED = re.compile(r"_\d+$")

Matrix = npt.NDArray[np.float64]


def genus_key(name: str) -> str:
    """Join key of a genus name across taxonomies.

    >>> genus_key("[Eubacterium]"), genus_key("Bacteroides_1"), genus_key(" Blautia ")
    ('Eubacterium', 'Bacteroides', 'Blautia')
    """
    text = name.strip().replace("[", "").replace("]", "")
    return _NUMBERED.sub("", text)


@dataclass(frozen=True, slots=True)
class GenusCohort:
    """A reference cohort's genus proportions: samples × genera (rows sum to the named share)."""

    key: str
    cohort: str
    method: str
    citation: str
    licence: str
    samples: tuple[str, ...]
    genera: tuple[str, ...]
    values: Matrix

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return len(self.samples)


def _parse(data: Mapping[str, Any]) -> tuple[GenusCohort, ...]:
    out = []
    for c in data["cohorts"]:
        genera = tuple(c["genera"])
        values = np.zeros((len(c["samples"]), len(genera)))
        for i, row in enumerate(c["values"]):
            for j, v in row:
                values[i, int(j)] = float(v)
        out.append(
            GenusCohort(
                key=c["key"],
                cohort=c["cohort"],
                method=c["method"],
                citation=c.get("citation", ""),
                licence=c.get("licence", ""),
                samples=tuple(c["samples"]),
                genera=genera,
                values=values,
            )
        )
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[GenusCohort, ...]:
    ref = resources.files("gutbrain.data").joinpath("reference_cohorts/genus_tables.json.gz")
    return _parse(json.loads(gzip.decompress(ref.read_bytes()).decode("utf-8")))


def load_genus_cohorts(path: str | Path | None = None) -> tuple[GenusCohort, ...]:
    """Load the reference genus tables (the packaged ones when ``path`` is ``None``)."""
    if path is None:
        return _packaged()
    return _parse(json.loads(gzip.decompress(Path(path).read_bytes()).decode("utf-8")))


def classical_pcoa(distances: Matrix, *, dimensions: int = 2) -> tuple[Matrix, Matrix, Matrix]:
    """Classical scaling: ``(coordinates n × k, eigenvalues k, proportion explained k)``.

    :math:`B = -\\tfrac12 J D^{(2)} J`, :math:`B = V \\Lambda V^T`, coordinates
    :math:`X = V \\Lambda^{1/2}` of the top axes; each axis' sign is fixed so its largest loading
    is positive. The proportion explained is over the positive eigenvalues (as scikit-bio).
    """
    d2 = distances**2
    n = d2.shape[0]
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ d2 @ j
    # only the top axes' vectors are needed: LAPACK's subset solver is ~30x faster than a full
    # eigendecomposition at a few hundred samples; all eigenvalues (no vectors) for the shares
    eigvals = np.linalg.eigvalsh(b)
    k = min(dimensions, n)
    top, eigvecs = scipy.linalg.eigh(b, subset_by_index=[n - k, n - 1])
    order = np.argsort(top)[::-1]
    lam = np.clip(top[order], 0.0, None)
    vecs = eigvecs[:, order]
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    coords: Matrix = vecs * np.sqrt(lam)
    positive = float(np.sum(eigvals[eigvals > 0]))
    explained: Matrix = lam / positive if positive > 0 else np.zeros_like(lam)
    return coords, lam, explained


def project_point(distances: Matrix, new: Matrix, coords: Matrix, eigvals: Matrix) -> Matrix:
    """Coordinates of a new point in an existing PCoA (Gower 1968), members unchanged.

    With :math:`D^{(2)}` the members' squared distances and :math:`d^{(2)}` the new point's,
    :math:`b_i = -\\tfrac12 (d^{(2)}_i - \\bar D^{(2)}_{i\\cdot} - \\bar d^{(2)} + \\bar D^{(2)})`
    and :math:`y_k = \\sum_i b_i x_{ik} / \\lambda_k`. A member projected with its own distances
    lands on its own coordinates.
    """
    d2 = distances**2
    n2 = new**2
    b = -0.5 * (n2 - d2.mean(axis=1) - n2.mean() + d2.mean())
    safe = np.where(eigvals > 0, eigvals, np.inf)
    point: Matrix = (b @ coords) / safe
    return point


def _mid_rank(value: float, values: Matrix) -> float:
    below = float(np.sum(values < value))
    equal = float(np.sum(values == value))
    return round(100.0 * (below + 0.5 * equal) / len(values), 1)


_Geometry = tuple[Matrix, Matrix, Matrix, Matrix, Matrix]


@functools.lru_cache(maxsize=16)
def _cohort_geometry(key: str, metric: str) -> _Geometry:
    """Members' distances, own medians, PCoA coordinates and eigenvalues (cached per process)."""
    cohort = next(c for c in _packaged() if c.key == key)
    return _geometry(cohort, metric)


def _geometry(cohort: GenusCohort, metric: str) -> _Geometry:
    frame = pd.DataFrame(cohort.values, index=list(cohort.samples), columns=list(cohort.genera))
    dist = (bray_curtis if metric == "bray_curtis" else aitchison)(frame).to_numpy()
    masked = dist + np.diag(np.full(len(dist), np.nan))
    medians = np.nanmedian(masked, axis=1)
    coords, eig, explained = classical_pcoa(dist)
    return dist, medians, coords, eig, explained


def _distances_to(cohort: GenusCohort, sample: Mapping[str, float], metric: str) -> Matrix:
    """Distances from the sample to every member (the same transforms as ``ecology.beta``)."""
    extra = sorted(set(sample) - set(cohort.genera))
    columns = list(cohort.genera) + extra
    members = np.hstack([cohort.values, np.zeros((cohort.n_samples, len(extra)))])
    both = pd.DataFrame(
        np.vstack([[sample.get(g, 0.0) for g in columns], members]),
        columns=columns,
    )
    if metric == "bray_curtis":
        x = both.to_numpy()
        x = x / x.sum(axis=1, keepdims=True)
    else:
        x = rclr(both).to_numpy()
    result: Matrix = cdist(
        x[:1], x[1:], metric="braycurtis" if metric == "bray_curtis" else "euclidean"
    )[0]
    return result


def personal_beta(
    genus_abundances: Mapping[str, float],
    *,
    sample_id: str | None,
    cohorts: Sequence[GenusCohort] | None = None,
    min_samples: int = 20,
) -> tuple[BetaDiversity, ...]:
    """Beta diversity of one sample against every usable reference cohort (module docstring).

    ``genus_abundances`` maps genus names to abundance (any scale; closed to proportions).
    Returns nothing when the sample has no named genus.
    """
    sample: dict[str, float] = {}
    for name, value in genus_abundances.items():
        if value > 0:
            key = genus_key(name)
            sample[key] = sample.get(key, 0.0) + float(value)
    if not sample:
        return ()
    packaged = cohorts is None
    out: list[BetaDiversity] = []
    for cohort in cohorts if cohorts is not None else _packaged():
        if cohort.n_samples < min_samples or (
            sample_id is not None and sample_id in cohort.samples
        ):
            continue
        for metric, label in BETA_REFERENCE_METRICS.items():
            geometry = (
                _cohort_geometry(cohort.key, metric) if packaged else _geometry(cohort, metric)
            )
            dist, medians, coords, eig, explained = geometry
            to_members = _distances_to(cohort, sample, metric)
            own = float(np.median(to_members))
            point = project_point(dist, to_members, coords, eig)
            out.append(
                BetaDiversity(
                    cohort=cohort.cohort,
                    cohort_key=cohort.key,
                    method=cohort.method,
                    n_samples=cohort.n_samples,
                    rank="genus",
                    metric=metric,
                    metric_label=label,
                    median_distance=round(own, 6),
                    percentile=_mid_rank(own, medians),
                    member_median_range=(
                        round(float(np.min(medians)), 6),
                        round(float(np.max(medians)), 6),
                    ),
                    axis_explained=(round(float(explained[0]), 4), round(float(explained[1]), 4)),
                    cohort_points=tuple(
                        (round(float(x), 5), round(float(y), 5)) for x, y in coords[:, :2]
                    ),
                    sample_point=(round(float(point[0]), 5), round(float(point[1]), 5)),
                    citation=cohort.citation,
                )
            )
    return tuple(out)
