"""The per-sample task of a cohort: inputs → profile rows and score rows (runs on a worker).

A sample is either **reads** (profiled with :func:`gutbrain.profile.pipeline.profile_sample`
against the reference bundle) or a **profile/table** (read with :mod:`gutbrain.io.tables`), then
described (alpha diversity) and interpreted (:func:`gutbrain.workflow.interpret.interpret_profile`,
which gives guild scores and questionnaire scores). The task is pure: it reads its inputs and
returns plain values; it never opens the store.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from gutbrain.cohort.runner import SampleOutcome, SampleTask
from gutbrain.ecology.alpha import alpha_diversity
from gutbrain.errors import InputFormatError
from gutbrain.io.answers import read_answers, read_markers
from gutbrain.io.refdb import load_bundle
from gutbrain.io.tables import read_table
from gutbrain.model import Profile, ReadQC
from gutbrain.profile.pipeline import profile_sample
from gutbrain.result import Result
from gutbrain.workflow.interpret import interpret_profile

__all__ = ["process_sample", "profile_rows", "result_score_rows"]

logger = logging.getLogger(__name__)


def profile_rows(profile: Profile) -> list[dict[str, Any]]:
    """Flatten a :class:`Profile` into rows of :data:`gutbrain.cohort.store.PROFILE_SCHEMA`."""
    rows: list[dict[str, Any]] = []
    for row in profile.rows:
        lineage = row.lineage.as_dict()
        rows.append(
            {
                "sample_id": str(profile.sample_id),
                "rank": row.rank,
                "taxon": row.taxon,
                **lineage,
                "abundance": float(row.abundance),
                "reads": None if row.reads is None else float(row.reads),
                "taxid": row.taxid,
            }
        )
    return rows


def _read_profile(path: str, sample_id: str) -> Profile:
    profiles = read_table(path)
    matching = [p for p in profiles if str(p.sample_id) == sample_id]
    if matching:
        return matching[0]
    if len(profiles) == 1:
        return profiles[0]
    names = ", ".join(str(p.sample_id) for p in profiles[:10])
    message = (
        f"holds {len(profiles)} samples ({names}…) and none is called {sample_id!r}; name the "
        "sample in the sheet as in the table"
    )
    raise InputFormatError(message, path=path)


def _numeric_leaves(values: Mapping[str, float | None]) -> Iterator[tuple[str, float]]:
    for name, value in values.items():
        if value is not None and math.isfinite(float(value)):
            yield name, float(value)


def result_score_rows(result: Result) -> list[dict[str, Any]]:
    """Score rows from an interpretation :class:`gutbrain.result.Result`.

    Computable guild scores become ``kind="guild"`` rows (named by guild ID, value = summed
    abundance 0–1, detail = confidence); scorable questionnaires ``kind="instrument"`` (named by
    instrument, e.g. ``PHQ9``; detail = band); stool markers with a value ``kind="marker"``.
    """
    rows: list[dict[str, Any]] = []
    for guild in result.guilds:
        if guild.computable and guild.value is not None:
            rows.append(
                {
                    "kind": "guild",
                    "name": guild.guild_id,
                    "value": float(guild.value),
                    "detail": f"coverage {guild.coverage:.3f}",
                }
            )
    for q in result.questionnaires:
        if q.scorable and q.score is not None:
            rows.append(
                {
                    "kind": "instrument",
                    "name": q.instrument,
                    "value": float(q.score),
                    "detail": q.band,
                }
            )
    for m in result.markers:
        if m.value is not None:
            rows.append(
                {
                    "kind": "marker",
                    "name": m.marker,
                    "value": float(m.value),
                    "detail": f"{m.operator} {m.unit}",
                }
            )
    return rows


def process_sample(task: SampleTask) -> SampleOutcome:
    """Profile (or read) and interpret one sample; return its rows for the store.

    Raises
    ------
    GutbrainError
        Whatever the readers, profiler or interpreter raise for this sample's inputs; the runner
        records it as the sample's failure.
    """
    start = time.perf_counter()
    spec = task.spec
    sample_id = str(spec.sample_id)
    scores: list[dict[str, Any]] = []
    qc: ReadQC | None = None
    if spec.reads:
        bundle = load_bundle(task.reference)
        preset = spec.preset or str(task.parameters.get("preset", "ont"))
        outcome = profile_sample(
            list(spec.reads), bundle=bundle, preset=preset, sample_id=sample_id
        )
        profile = outcome.profile
        qc = outcome.qc
        for name in ("reads_in", "reads_kept", "bases_kept", "length_n50"):
            scores.append({"kind": "qc", "name": name, "value": float(getattr(qc, name))})
        if qc.mean_quality is not None:
            scores.append({"kind": "qc", "name": "mean_quality", "value": float(qc.mean_quality)})
    else:
        assert spec.profile is not None
        profile = _read_profile(spec.profile, sample_id)
    if profile.total_reads is not None:
        scores.append({"kind": "qc", "name": "total_reads", "value": float(profile.total_reads)})
    for rank, value in profile.unassigned.items():
        scores.append({"kind": "unassigned", "name": str(rank), "value": float(value)})
    wanted = str(task.parameters.get("rank", "genus"))
    present = profile.ranks()
    if present:
        use_rank = next((r for r in present if r == wanted), present[-1])
        for name, value in _numeric_leaves(alpha_diversity(profile, rank=use_rank)):
            scores.append({"kind": "alpha", "name": name, "value": value, "detail": use_rank})
    answers = read_answers(spec.answers) if spec.answers else None
    markers = read_markers(spec.markers) if spec.markers else None
    result = interpret_profile(profile, answers=answers, markers=markers, qc=qc)
    scores.extend(result_score_rows(result))
    return SampleOutcome(
        sample_id,
        tuple(profile_rows(profile)),
        tuple(scores),
        seconds=time.perf_counter() - start,
        result_json=result.model_dump_json(),
    )
