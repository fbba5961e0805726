"""The longitudinal view's numbers: one summary per finished sample, and what a change means.

:func:`summary_from_result` keeps, from a run's ``result.json``, what the person's view plots
over time. :func:`variability_statement` says in plain words whether a metric changed notably
across the person's samples. No sourced figure for day-to-day variability within one person
exists in gutbrain's knowledge base, so none is invented: with fewer than three samples a change
cannot be told apart from that variation, and from three samples on the person's own spread is
the yardstick (see the function's Notes).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from gutbrain.web.store import SampleSummary

__all__ = [
    "DIVERSITY_RANK",
    "metric_label",
    "metric_value",
    "summary_from_result",
    "variability_statement",
]

logger = logging.getLogger(__name__)

#: The rank whose alpha diversity the timeline follows (one rank, so samples compare).
DIVERSITY_RANK = "genus"


def _short_name(name: str) -> str:
    """``"PHQ-9 (depressive symptoms, last 2 weeks)"`` -> ``"PHQ-9"``."""
    return name.split(" (", 1)[0].strip() or name


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def summary_from_result(
    result_json: Mapping[str, Any], sample_id: str, collected_on: dt.date
) -> SampleSummary:
    """What the longitudinal view plots for one sample, from its ``result.json`` (parsed).

    Parameters
    ----------
    result_json
        The run's result, as parsed JSON.
    sample_id, collected_on
        The portal's sample id and the day the stool sample was collected.

    Returns
    -------
    SampleSummary
        Shannon diversity and observed richness at the :data:`DIVERSITY_RANK` (``None`` when
        not computable), the share of every computable guild (by guild name), the total of every
        scorable questionnaire (by its short name, e.g. ``PHQ-9``), and the safety alerts in the
        result's order (level and title).
    """
    shannon: float | None = None
    richness: int | None = None
    for diversity in result_json.get("diversity", ()):
        if diversity.get("rank") == DIVERSITY_RANK and diversity.get("computable"):
            metrics = diversity.get("metrics", {})
            shannon = _number(metrics.get("shannon"))
            observed = _number(metrics.get("observed"))
            richness = None if observed is None else round(observed)
    guilds = {
        str(guild["name"]): value
        for guild in result_json.get("guilds", ())
        if guild.get("computable") and (value := _number(guild.get("value"))) is not None
    }
    scores = {
        _short_name(str(item["name"])): value
        for item in result_json.get("questionnaires", ())
        if item.get("scorable") and (value := _number(item.get("score"))) is not None
    }
    alerts = tuple(
        {"level": str(alert.get("level", "")), "title": str(alert.get("title", ""))}
        for alert in result_json.get("alerts", ())
    )
    return SampleSummary(
        sample_id=sample_id,
        collected_on=collected_on,
        shannon=shannon,
        observed_richness=richness,
        guild_shares=guilds,
        scores=scores,
        alerts=alerts,
    )


def metric_value(summary: SampleSummary, metric: str) -> float | None:
    """A summary's value of ``metric`` (``None`` when the sample has none).

    ``metric`` is ``"shannon"``, ``"observed_richness"``, ``"guild:<guild name>"`` or
    ``"score:<questionnaire short name>"``.

    Examples
    --------
    >>> s = SampleSummary("a" * 32, dt.date(2026, 1, 1), 2.5, 30, {"Butyrate producers": 0.1},
    ...                   {"PHQ-9": 7.0})
    >>> metric_value(s, "score:PHQ-9"), metric_value(s, "guild:Butyrate producers")
    (7.0, 0.1)
    """
    if metric == "shannon":
        return summary.shannon
    if metric == "observed_richness":
        return None if summary.observed_richness is None else float(summary.observed_richness)
    kind, _, name = metric.partition(":")
    if kind == "guild":
        return summary.guild_shares.get(name)
    if kind == "score":
        return summary.scores.get(name)
    message = f"unknown metric {metric!r}; use shannon, observed_richness, guild:NAME or score:NAME"
    raise ValueError(message)


def metric_label(metric: str) -> str:
    """Plain words for a metric (see :func:`metric_value`)."""
    if metric == "shannon":
        return f"Shannon diversity ({DIVERSITY_RANK} level)"
    if metric == "observed_richness":
        return f"number of {'genera' if DIVERSITY_RANK == 'genus' else 'taxa'} observed"
    kind, _, name = metric.partition(":")
    if kind == "guild":
        return f"share of {name}"
    if kind == "score":
        return f"{name} total"
    return metric


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def variability_statement(summaries: Sequence[SampleSummary], metric: str) -> str:
    """Whether ``metric`` changed notably across a person's samples, in plain words.

    Parameters
    ----------
    summaries
        The person's summaries (any order; they are put in collection-date order).
    metric
        See :func:`metric_value`.

    Returns
    -------
    str
        A few sentences that give the values' change, the verdict, and the rule used.

    Notes
    -----
    gutbrain's knowledge base holds no sourced figure for how much these numbers vary from day
    to day within one person, so the statement never uses one:

    * with fewer than three samples that have the metric, a change cannot be told apart from
      day-to-day variation, so none is called a trend;
    * from three samples on, the person's own spread is the yardstick: the median absolute
      difference between consecutive samples. A change is called notable only when, over at
      least two consecutive intervals in a row, the metric moves in the same direction each
      time by more than that spread.

    The rule is deliberately strict (with few samples it rarely calls anything notable); a
    steady drift made of small steps is reported as a fact ("every change went down") but not
    called notable.

    Examples
    --------
    >>> two = [
    ...     SampleSummary("a" * 32, dt.date(2026, 1, 1), 2.0, None),
    ...     SampleSummary("b" * 32, dt.date(2026, 2, 1), 2.6, None),
    ... ]
    >>> print(variability_statement(two, "shannon"))  # doctest: +NORMALIZE_WHITESPACE
    Shannon diversity (genus level) went from 2 (2026-01-01) to 2.6 (2026-02-01). One change
    between two samples cannot be told apart from ordinary day-to-day variation, so it is not a
    trend. Rule used: with fewer than three samples no change is called notable, because there is
    no sourced figure for how much this number varies from day to day within one person.
    """
    label = metric_label(metric)
    points = [
        (s.collected_on, value)
        for s in sorted(summaries, key=lambda s: s.collected_on)
        if (value := metric_value(s, metric)) is not None
    ]
    if not points:
        return f"No sample has a {label} yet."
    if len(points) == 1:
        day, value = points[0]
        return (
            f"Only one sample has a {label} ({_fmt(value)}, {day.isoformat()}); a change over "
            "time needs at least two, and a trend more than that."
        )
    if len(points) == 2:
        (day1, first), (day2, second) = points
        return (
            f"{label[0].upper()}{label[1:]} went from {_fmt(first)} ({day1.isoformat()}) to "
            f"{_fmt(second)} ({day2.isoformat()}). One change between two samples cannot be told "
            "apart from ordinary day-to-day variation, so it is not a trend. Rule used: with fewer "
            "than three samples no change is called notable, because there is no sourced figure "
            "for how much this number varies from day to day within one person."
        )
    return _spread_statement(points, label)


def _spread_statement(points: Sequence[tuple[dt.date, float]], label: str) -> str:
    diffs = [b - a for (_, a), (_, b) in itertools.pairwise(points)]
    spread = statistics.median(abs(d) for d in diffs)
    runs = _notable_runs(diffs, spread)
    first_day, first = points[0]
    last_day, last = points[-1]
    text = [
        f"{label[0].upper()}{label[1:]} over {len(points)} samples: {_fmt(first)} "
        f"({first_day.isoformat()}) to {_fmt(last)} ({last_day.isoformat()})."
    ]
    if runs:
        start, end = runs[-1]
        direction = "rise" if diffs[start] > 0 else "fall"
        (day_a, value_a), (day_b, value_b) = points[start], points[end + 1]
        text.append(
            f"Notable: a {direction} from {_fmt(value_a)} ({day_a.isoformat()}) to "
            f"{_fmt(value_b)} ({day_b.isoformat()}), over {end - start + 1} intervals in a row."
        )
    elif all(d > 0 for d in diffs) or all(d < 0 for d in diffs):
        way = "up" if diffs[0] > 0 else "down"
        text.append(
            f"Every change went {way}, but in steps no larger than this person's usual change "
            "between samples, so it is not called notable."
        )
    else:
        text.append("No change stands out from this person's usual variation between samples.")
    text.append(
        "Rule used: a change is called notable only when it goes the same way over at least two "
        "intervals in a row, each time by more than this person's usual change between "
        f"consecutive samples (the median of those changes: {_fmt(spread)}); there is no sourced "
        "figure for day-to-day variation within one person to compare with instead."
    )
    return " ".join(text)


def _notable_runs(diffs: Sequence[float], spread: float) -> list[tuple[int, int]]:
    """Runs (first, last interval index) of >= 2 same-direction intervals each beyond ``spread``."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for i, diff in enumerate(diffs):
        big = abs(diff) > spread
        same_way = start is not None and (diff > 0) == (diffs[start] > 0)
        if big and same_way:
            continue
        if start is not None and i - start >= 2:
            runs.append((start, i - 1))
        start = i if big else None
    if start is not None and len(diffs) - start >= 2:
        runs.append((start, len(diffs) - 1))
    return runs
