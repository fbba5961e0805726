"""Reference-cohort percentiles: where a sample's diversity and guild scores sit among real stools.

There is no universal normal range for gut diversity (values depend on region, pipeline and
depth), so gutbrain reports a *percentile within named reference cohorts*, each with its method
(16S region or shotgun) and size. The table is built by ``scripts/build_reference_percentiles.py``
from the stool samples of the shared cohort tables and packaged as
``gutbrain/data/reference_cohorts/percentiles.json``.

For each cohort and metric the file stores 101 quantiles :math:`q_0 \\dots q_{100}` (numpy's
linear interpolation) of the cohort's values. The percentile of a value :math:`x` is the mid-rank

.. math:: P(x) = 100 \\cdot \\frac{\\#\\{q_k < x\\} + \\tfrac12 \\#\\{q_k = x\\}}{101}

so ties (for example many samples with a guild score of 0) land in the middle of their run.

**Which cohorts.** Only cohorts of at least :data:`MIN_REFERENCE_SAMPLES` samples are used, and
never a cohort that holds the sample itself (its sample ids are stored in the table). Each cohort
has a ``method_kind`` (``16S``, ``shotgun`` or ``unknown``); the *headline* cohort, the single
number the summary and the findings quote, is the largest cohort of the sample's own method kind
(:func:`headline_cohort`). Observed richness is never compared (:data:`NOT_COMPARED`): counts of
genera depend on sequencing depth, and the cohorts' depths are not the sample's.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gutbrain.result import DiversityPercentile

__all__ = [
    "MIN_REFERENCE_SAMPLES",
    "NOT_COMPARED",
    "ReferenceCohort",
    "ReferenceTable",
    "headline_cohort",
    "load_reference",
    "method_kind_of",
    "percentile_of",
    "reference_percentiles",
]

logger = logging.getLogger(__name__)

#: Smallest reference cohort a sample is compared with.
MIN_REFERENCE_SAMPLES = 20

#: Metrics never turned into percentiles, with the reason shown instead.
NOT_COMPARED: Mapping[str, str] = {
    "observed": "Observed richness is not compared with reference cohorts: the number of genera "
    "seen depends on sequencing depth and pipeline, and this sample was not rarefied to each "
    "cohort's depth (relative-abundance cohorts have no depth to rarefy to).",
}


@dataclass(frozen=True, slots=True)
class ReferenceCohort:
    """One reference cohort: name, method, size, rank and per-metric quantiles."""

    key: str
    cohort: str
    method: str
    n_samples: int
    rank: str
    citation: str
    metrics: Mapping[str, tuple[float, ...]]
    metric_ranks: Mapping[str, str]
    note: str = ""
    method_kind: str = "unknown"
    sample_ids: frozenset[str] = frozenset()
    #: ``{genus: (median abundance, prevalence)}`` for the genera of the taxa of interest.
    genus_medians: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def usable_for(self, sample_id: str | None) -> bool:
        """Large enough (:data:`MIN_REFERENCE_SAMPLES`) and not holding ``sample_id``."""
        if self.n_samples < MIN_REFERENCE_SAMPLES:
            return False
        return sample_id is None or sample_id not in self.sample_ids


@dataclass(frozen=True, slots=True)
class ReferenceTable:
    """All reference cohorts and the table's version."""

    version: str
    cohorts: tuple[ReferenceCohort, ...]


def percentile_of(value: float, quantiles: Sequence[float]) -> float:
    """Mid-rank percentile of ``value`` among ``quantiles`` (module docstring).

    Examples
    --------
    >>> percentile_of(5.0, [float(q) for q in range(11)])
    50.0
    >>> percentile_of(-1.0, [0.0, 1.0]), percentile_of(9.0, [0.0, 1.0])
    (0.0, 100.0)
    """
    below = sum(1 for q in quantiles if q < value)
    equal = sum(1 for q in quantiles if q == value)
    return round(100.0 * (below + 0.5 * equal) / len(quantiles), 1)


def _parse(data: Mapping[str, Any]) -> ReferenceTable:
    cohorts = []
    for c in data["cohorts"]:
        cohorts.append(
            ReferenceCohort(
                key=c["key"],
                cohort=c["cohort"],
                method=c["method"],
                n_samples=int(c["n_samples"]),
                rank=c["rank"],
                citation=c.get("citation", ""),
                metrics={k: tuple(v["quantiles"]) for k, v in c["metrics"].items()},
                metric_ranks={k: v.get("ranks_used", c["rank"]) for k, v in c["metrics"].items()},
                note=c.get("note", ""),
                method_kind=c.get("method_kind", "unknown"),
                sample_ids=frozenset(c.get("sample_ids", ())),
                genus_medians={
                    g: (float(v["median"]), float(v["prevalence"]))
                    for g, v in c.get("genus_medians", {}).items()
                },
            )
        )
    return ReferenceTable(version=str(data["version"]), cohorts=tuple(cohorts))


@functools.lru_cache(maxsize=1)
def _packaged() -> ReferenceTable:
    path = resources.files("gutbrain.data").joinpath("reference_cohorts/percentiles.json")
    return _parse(json.loads(path.read_text(encoding="utf-8")))


def load_reference(path: str | Path | None = None) -> ReferenceTable:
    """Load the reference percentile table (the packaged one when ``path`` is ``None``)."""
    if path is None:
        return _packaged()
    return _parse(json.loads(Path(path).read_text(encoding="utf-8")))


def method_kind_of(profile_source: str) -> str:
    """``shotgun`` for profiles imported from shotgun profilers, else ``16S``.

    >>> method_kind_of("import:metaphlan"), method_kind_of("gutbrain profile")
    ('shotgun', '16S')
    """
    return "shotgun" if profile_source in {"import:metaphlan", "import:cami"} else "16S"


def headline_cohort(
    table: ReferenceTable, *, method_kind: str, sample_id: str | None, rank: str = "genus"
) -> ReferenceCohort | None:
    """The largest usable cohort of ``method_kind`` at ``rank`` (``None`` when there is none).

    Ties on size go to the cohort listed first, so the choice is deterministic.
    """
    usable = [
        c
        for c in table.cohorts
        if c.rank == rank and c.method_kind == method_kind and c.usable_for(sample_id)
    ]
    return max(usable, key=lambda c: c.n_samples) if usable else None


def reference_percentiles(
    metric: str,
    value: float,
    *,
    rank: str,
    table: ReferenceTable,
    ranks_used: str | None = None,
    sample_id: str | None = None,
    headline: str | None = None,
) -> tuple[DiversityPercentile, ...]:
    """Percentiles of ``value`` for ``metric`` in every usable cohort that has it at ``rank``.

    Cohorts smaller than :data:`MIN_REFERENCE_SAMPLES` or holding ``sample_id`` are skipped, and
    metrics in :data:`NOT_COMPARED` give none. ``ranks_used`` (for guild scores) marks a cohort
    not comparable when its scores used other ranks than the sample's. The cohort whose key is
    ``headline`` is flagged ``headline=True`` (see :func:`headline_cohort`).
    """
    if metric in NOT_COMPARED:
        return ()
    out = []
    for cohort in table.cohorts:
        quantiles = cohort.metrics.get(metric)
        if quantiles is None or cohort.rank != rank or not cohort.usable_for(sample_id):
            continue
        comparable = ranks_used is None or cohort.metric_ranks.get(metric) == ranks_used
        note = cohort.note
        if not comparable:
            note = (note + " " if note else "") + (
                f"Scored at other ranks ({cohort.metric_ranks.get(metric)}) than this sample "
                f"({ranks_used}); read as approximate."
            )
        out.append(
            DiversityPercentile(
                metric=metric,
                value=value,
                percentile=percentile_of(value, quantiles),
                cohort=cohort.cohort,
                method=cohort.method,
                rank=rank,
                n_samples=cohort.n_samples,
                comparable=comparable,
                note=note,
                cohort_key=cohort.key,
                method_kind=cohort.method_kind,
                headline=comparable and cohort.key == headline,
            )
        )
    return tuple(out)
