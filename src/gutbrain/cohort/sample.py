"""The per-sample task of a cohort: inputs → profile rows and score rows (runs on a worker).

A sample is either **reads** (profiled with :func:`gutbrain.profile.pipeline.profile_sample`
against the reference bundle) or a **profile/table** (read with :mod:`gutbrain.io.tables`), then
described (alpha diversity) and interpreted (:func:`gutbrain.workflow.interpret.interpret_profile`,
which gives guild scores and questionnaire scores). The task is pure: it reads its inputs and
returns plain values; it never opens the store.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

from gutbrain.cohort.runner import SampleOutcome, SampleTask
from gutbrain.ecology.alpha import alpha_diversity
from gutbrain.errors import InputFormatError
from gutbrain.io.tables import read_table
from gutbrain.model import Profile

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


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


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


def _numeric_leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        if math.isfinite(float(value)):
            yield prefix, float(value)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _numeric_leaves(item, f"{prefix}.{key}" if prefix else str(key))


def result_score_rows(result: Any) -> list[dict[str, Any]]:
    """Score rows from an interpretation :class:`gutbrain.result.Result`.

    Guild scores become ``kind="guild"`` rows named by guild; questionnaire totals
    ``kind="instrument"``; marker values ``kind="marker"``. Fields are looked up by name in the
    result's JSON form so the store keeps working when the result schema grows.
    """
    data = result.model_dump(mode="json") if hasattr(result, "model_dump") else dict(result)
    rows: list[dict[str, Any]] = []
    for kind, keys in (
        ("guild", ("guilds", "guild_scores")),
        ("module", ("modules", "module_scores")),
        ("instrument", ("instruments", "questionnaires", "instrument_scores")),
    ):
        for key in keys:
            block = data.get(key)
            if block is None and isinstance(data.get("scores"), Mapping):
                block = data["scores"].get(key)
            if block is None:
                continue
            items = block.items() if isinstance(block, Mapping) else enumerate(block)
            for name, item in items:
                if isinstance(item, Mapping):
                    label = str(item.get("name") or item.get("id") or item.get("guild") or name)
                    value = item.get("score", item.get("value", item.get("total")))
                    detail = item.get("grade") or item.get("evidence") or item.get("band")
                else:
                    label, value, detail = str(name), item, None
                if isinstance(value, int | float) and not isinstance(value, bool):
                    rows.append(
                        {
                            "kind": kind,
                            "name": label,
                            "value": float(value),
                            "detail": None if detail is None else str(detail),
                        }
                    )
            break
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
    qc: Any = None
    if spec.reads:
        profile_sample = importlib.import_module("gutbrain.profile.pipeline").profile_sample
        load_bundle = importlib.import_module("gutbrain.io.refdb").load_bundle
        bundle = load_bundle(task.reference)
        options = {k: v for k, v in task.parameters.items() if k in {"preset"}}
        outcome = profile_sample(list(spec.reads), bundle=bundle, **options)
        profile = outcome.profile
        if profile.sample_id != sample_id:
            import dataclasses

            profile = dataclasses.replace(profile, sample_id=spec.sample_id)
        qc = getattr(outcome, "qc", None)
        if qc is not None:
            for name in ("reads_in", "reads_kept", "bases_kept", "length_n50", "mean_quality"):
                value = getattr(qc, name, None)
                if isinstance(value, int | float):
                    scores.append({"kind": "qc", "name": name, "value": float(value)})
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
    interpret = _optional("gutbrain.workflow.interpret", "interpret_profile")
    if interpret is not None:
        answers = markers = None
        if spec.answers or spec.markers:
            answers_io = importlib.import_module("gutbrain.io.answers")
            answers = answers_io.read_answers(spec.answers) if spec.answers else None
            markers = answers_io.read_markers(spec.markers) if spec.markers else None
        result = interpret(profile, answers=answers, markers=markers, qc=qc)
        scores.extend(result_score_rows(result))
    return SampleOutcome(
        sample_id,
        tuple(profile_rows(profile)),
        tuple(scores),
        seconds=time.perf_counter() - start,
    )
