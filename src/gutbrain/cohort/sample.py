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

from gutbrain.clinical.markers import assess_markers
from gutbrain.clinical.questionnaires import score_answers
from gutbrain.clinical.safety import safety_alerts
from gutbrain.cohort.tasks import (
    SAFETY_LEVELS,
    SafetyNotice,
    SampleError,
    SampleOutcome,
    SampleTask,
)
from gutbrain.ecology.alpha import alpha_diversity
from gutbrain.errors import GutbrainError, InputFormatError
from gutbrain.io.answers import Answers, Markers, read_answers, read_markers
from gutbrain.io.knowledge import load_knowledge
from gutbrain.io.tables import read_table
from gutbrain.model import Profile, ReadQC
from gutbrain.profile.pipeline import profile_sample
from gutbrain.reference.bundle import load_bundle
from gutbrain.result import Result
from gutbrain.workflow.interpret import interpret_profile

__all__ = ["process_sample", "profile_rows", "result_score_rows", "safety_notices"]

logger = logging.getLogger(__name__)


def profile_rows(profile: Profile) -> list[dict[str, str | float | None]]:
    """Flatten a :class:`Profile` into rows of :data:`gutbrain.cohort.store.PROFILE_SCHEMA`."""
    rows: list[dict[str, str | float | None]] = []
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


def result_score_rows(result: Result) -> list[dict[str, str | float | None]]:
    """Score rows from an interpretation :class:`gutbrain.result.Result`.

    Computable guild scores become ``kind="guild"`` rows (named by guild ID, value = summed
    abundance 0–1, detail = confidence); scorable questionnaires ``kind="instrument"`` (named by
    instrument, e.g. ``PHQ9``; detail = band); stool markers with a value ``kind="marker"``;
    every safety alert ``kind="alert"`` (named by alert ID, detail = level, no value).
    """
    rows: list[dict[str, str | float | None]] = []
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
    for alert in result.alerts:
        rows.append({"kind": "alert", "name": alert.alert_id, "value": None, "detail": alert.level})
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


def _personal_inputs(task: SampleTask) -> tuple[Answers | None, Markers | None]:
    """Read the sample's answers and markers; an error names file and line, never a value.

    A cohort's failure messages go into the catalogue, the runs table and the terminal, so a
    rejected answer (``item 9: 7 is out of range``) is reduced to where it is and which rule it
    broke; ``gutbrain interpret`` on that file shows the full message to whoever may see it.
    """
    spec = task.spec
    answers = markers = None
    for role, path in (("answers", spec.answers), ("markers", spec.markers)):
        if path is None:
            continue
        try:
            if role == "answers":
                answers = read_answers(path)
            else:
                markers = read_markers(path)
        except GutbrainError as exc:
            message = (
                f"the {role} file was rejected ({exc.code}); the details may hold personal "
                f"answers and are kept out of the cohort store: run `gutbrain interpret` with "
                f"this {role} file to see them"
            )
            line = getattr(exc, "line", None)
            raise InputFormatError(message, path=path, line=line, code=exc.code) from None
    return answers, markers


def safety_notices(answers: Answers | None, markers: Markers | None) -> tuple[SafetyNotice, ...]:
    """The crisis/urgent/prompt alerts of a sample's answers and markers (no profile needed)."""
    if answers is None and markers is None:
        return ()
    kb = load_knowledge()
    age = answers.age if answers is not None else None
    meds = answers.medications if answers is not None else None
    alerts = safety_alerts(
        answers=answers,
        questionnaires=score_answers(answers, kb) if answers is not None else (),
        markers=assess_markers(markers, kb, age=age, medications=meds) if markers else (),
    )
    return tuple(
        SafetyNotice(level=a.level, alert_id=a.alert_id, title=a.title)
        for a in alerts
        if a.level in SAFETY_LEVELS
    )


def process_sample(task: SampleTask) -> SampleOutcome:
    """Profile (or read) and interpret one sample; return its rows for the store.

    The answers and markers are read and their safety alerts worked out first, so a sample whose
    profile then fails still reports its alerts (:class:`SampleError` carries them).

    Raises
    ------
    GutbrainError
        When the answers or markers are rejected (message without their values).
    SampleError
        Wrapping whatever the readers, profiler or interpreter raise later; the runner records
        the cause as the sample's failure and reports the alerts.
    """
    answers, markers = _personal_inputs(task)
    notices = safety_notices(answers, markers)
    try:
        return _process(task, answers, markers, notices)
    except Exception as exc:
        if not notices:
            raise
        raise SampleError(notices) from exc


def _process(
    task: SampleTask,
    answers: Answers | None,
    markers: Markers | None,
    notices: tuple[SafetyNotice, ...],
) -> SampleOutcome:
    start = time.perf_counter()
    spec = task.spec
    sample_id = str(spec.sample_id)
    scores: list[dict[str, str | float | None]] = []
    qc: ReadQC | None = None
    if spec.reads:
        bundle = load_bundle(task.reference)
        preset = task.parameters.read_type(spec)
        assert preset is not None  # a reads sample always has a read type
        outcome = profile_sample(
            list(spec.reads),
            bundle=bundle,
            preset=preset,
            sample_id=sample_id,
            read_assignments=False,
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
    wanted = task.parameters.rank
    present = profile.ranks()
    if present:
        use_rank = next((r for r in present if r == wanted), present[-1])
        for name, value in _numeric_leaves(alpha_diversity(profile, rank=use_rank)):
            scores.append({"kind": "alpha", "name": name, "value": value, "detail": use_rank})
    result = interpret_profile(profile, answers=answers, markers=markers, qc=qc)
    scores.extend(result_score_rows(result))
    return SampleOutcome(
        sample_id,
        tuple(profile_rows(profile)),
        tuple(scores),
        seconds=time.perf_counter() - start,
        result_json=result.model_dump_json(),
        notices=notices,
    )
