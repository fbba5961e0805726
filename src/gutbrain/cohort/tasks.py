"""What travels between the cohort runner and a worker: a sample's task and its outcome.

The runner (:mod:`gutbrain.cohort.runner`) builds a :class:`SampleTask` per sample and submits
it to Dask; the per-sample function (:func:`gutbrain.cohort.sample.process_sample`, or a
stand-in) returns a :class:`SampleOutcome`, or raises; :func:`~gutbrain.cohort.runner.
run_sample_safely` turns the exception into a :class:`SampleFailure`. These records live here, on
their own, so the runner and the sample function both import them and neither imports the other
at module level (the import-linter contract "cohort: runner -> sample -> tasks" keeps it so).
Every value is plain and picklable: tasks cross process boundaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from gutbrain.cohort.sheet import SampleSpec
from gutbrain.model import Rank, ReadType
from gutbrain.result import TERMINAL_ALERT_LEVELS

__all__ = [
    "SAFETY_LEVELS",
    "SafetyNotice",
    "SampleError",
    "SampleFailure",
    "SampleFunction",
    "SampleOutcome",
    "SampleParameters",
    "SampleTask",
    "StoreRow",
]

#: One row of a store table (:data:`gutbrain.cohort.store.PROFILE_SCHEMA` or ``SCORE_SCHEMA``):
#: column -> text, number or missing.
StoreRow = Mapping[str, str | float | None]

#: Alert levels a cohort run reports on the terminal (the others stay in the sample's result).
SAFETY_LEVELS = TERMINAL_ALERT_LEVELS


@dataclass(frozen=True, slots=True)
class SafetyNotice:
    """A sample's safety alert as the coordinator reports it: no answer or marker values.

    ``title`` is the alert's fixed headline (e.g. "Blood in stool: contact a doctor urgently");
    the full message stays in the sample's result, where the person's report shows it.
    """

    level: str
    alert_id: str
    title: str


class SampleError(Exception):
    """Raised by a sample function whose sample failed *after* its safety alerts were known.

    The cause (``__cause__``) is the real error; ``notices`` travel with the failure so a sample
    that cannot be profiled still has its alerts reported.
    """

    def __init__(self, notices: Sequence[SafetyNotice]) -> None:
        super().__init__("sample failed")
        self.notices = tuple(notices)


@dataclass(frozen=True, slots=True)
class SampleParameters:
    """The settings of a cohort's per-sample path (``cohort run`` options); part of the task key.

    ``preset`` is the read type reads samples are profiled with unless the sheet gives the sample
    its own (:meth:`read_type`); ``rank`` is the rank of the alpha-diversity scores (the
    narrowest rank present when the profile lacks it).
    """

    preset: ReadType = ReadType.ont
    rank: Rank = "genus"

    def read_type(self, spec: SampleSpec) -> ReadType | None:
        """The read type ``spec`` is profiled with: the sheet's, else the run's; ``None`` for a
        profile/table sample (nothing is profiled)."""
        if not spec.reads:
            return None
        return spec.preset or self.preset

    def key_entries(self, spec: SampleSpec) -> dict[str, dict[str, str] | str]:
        """What these parameters add to ``spec``'s task key (see :mod:`gutbrain.cohort.runner`).

        ``{"parameters": {"rank": …}}``, plus ``"preset"`` when the sheet sets one, or when a
        reads sample takes a run preset other than ``ont``. So the keys of stores written before
        ``cohort run --preset`` existed (always ONT) stay valid, a table sample's key does not
        depend on the preset, and a re-run with another read type redoes the reads samples.
        """
        entries: dict[str, dict[str, str] | str] = {"parameters": {"rank": self.rank}}
        if spec.preset:
            entries["preset"] = str(spec.preset)
        elif spec.reads and self.preset != ReadType.ont:
            entries["preset"] = str(self.preset)
        return entries


@dataclass(frozen=True, slots=True)
class SampleTask:
    """What a worker needs to process one sample (plain, picklable values)."""

    spec: SampleSpec
    task_key: str
    reference: str | None
    parameters: SampleParameters = field(default_factory=SampleParameters)


@dataclass(frozen=True, slots=True)
class SampleOutcome:
    """A finished sample as returned by a worker: profile rows and score rows (plain dicts)."""

    sample_id: str
    profile_rows: tuple[StoreRow, ...]
    score_rows: tuple[StoreRow, ...]
    seconds: float = 0.0
    result_json: str | None = None
    notices: tuple[SafetyNotice, ...] = ()


@dataclass(frozen=True, slots=True)
class SampleFailure:
    """A sample whose processing raised; ``code`` is the GutbrainError code or the type name."""

    sample_id: str
    code: str
    message: str
    notices: tuple[SafetyNotice, ...] = ()


#: The per-sample function a cohort runs on its workers.
SampleFunction = Callable[[SampleTask], SampleOutcome]
