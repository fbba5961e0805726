"""Geometry of the longitudinal view's line charts (server-rendered SVG; templates escape).

Nothing here computes a statistic: a chart lays out values the runs already produced (one point
per analysed sample, at its collection date) on a canvas, with ticks and a table of the same
numbers, so the picture is never the only carrier of the values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from gutbrain.report.charts import PALETTE

__all__ = ["LineChart", "Point", "Row", "Series", "Tick", "line_chart", "nice_ticks"]

WIDTH = 480.0
HEIGHT = 220.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 466.0, 12.0, 190.0


@dataclass(frozen=True, slots=True)
class Point:
    """One sample's value on the canvas; ``label`` is its date, ``value_text`` its value."""

    x: float
    y: float
    label: str
    value_text: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick: position, label, and the label's ``text-anchor`` (so none is cut off)."""

    at: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the chart's value table (long format, so it fits a phone): date, series, value."""

    label: str
    series: str
    value: str


@dataclass(frozen=True, slots=True)
class LineChart:
    key: str
    title: str
    statements: tuple[str, ...]
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    rows: tuple[Row, ...]
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


def nice_ticks(low: float, high: float, *, count: int = 4) -> list[float]:
    """Round tick values covering ``[low, high]`` with a step of 1, 2 or 5 × 10^k.

    >>> nice_ticks(0.0, 27.0)
    [0.0, 10.0, 20.0, 30.0]
    >>> nice_ticks(2.5, 2.5)
    [2.0, 2.5, 3.0]
    """
    if high < low:
        low, high = high, low
    # a range within float resolution of its size (1e6 and 1e6 - 1e-10), or too narrow for a
    # normal float step (0 and 5e-324), is one value: its ticks would collapse onto each other
    if high - low <= max(1e-9 * max(abs(low), abs(high)), 1e-300):
        pad = abs(low) * 0.2 or 1.0
        low, high = low - pad, high + pad
    span = high - low
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0, 20.0) if m * magnitude >= raw)
    first = math.floor(low / step)
    if first * step > low:
        first -= 1
    last = math.ceil(high / step)
    if last * step < high:
        last += 1
    digits = max(0, 2 - math.floor(math.log10(step)))
    return [round(k * step, digits) for k in range(first, last + 1)]


def _text(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in {"-0", "0"} else text.replace("-", "−")


def line_chart(
    dates: Sequence[date],
    values: Mapping[str, Sequence[float | None]],
    *,
    key: str,
    title: str,
    statements: Sequence[str] = (),
    value_text: Callable[[float], str] = _text,
) -> LineChart:
    """Lay out one or more series of per-sample values against their collection dates.

    Parameters
    ----------
    dates
        Collection dates of the samples, in order (equal dates are allowed).
    values
        Series name -> one value per date (``None`` where a sample has no value).
    key
        A short identifier used in the page (``id="chart-<key>"``).
    title
        The chart title.
    statements
        The variability statements shown under it (one per series).
    value_text
        Formats a value for the table and the points' tooltips.

    Examples
    --------
    >>> from datetime import date
    >>> chart = line_chart([date(2026, 1, 1), date(2026, 2, 1)], {"Shannon": [2.0, 3.0]},
    ...                    key="shannon", title="Shannon")
    >>> [(p.x, p.y) for p in chart.series[0].points]
    [(48.0, 190.0), (466.0, 12.0)]
    """
    present = [v for series in values.values() for v in series if v is not None]
    ticks = nice_ticks(min(present), max(present)) if present else [0.0, 1.0]
    y_lo, y_hi = ticks[0], ticks[-1]
    days = [d.toordinal() for d in dates]
    d_lo, d_hi = (min(days), max(days)) if days else (0, 0)

    def fx(day: int) -> float:
        if d_hi == d_lo:
            return round((LEFT + RIGHT) / 2, 2)
        return round(LEFT + (day - d_lo) / (d_hi - d_lo) * (RIGHT - LEFT), 2)

    def fy(value: float) -> float:
        return round(BOTTOM - (value - y_lo) / (y_hi - y_lo) * (BOTTOM - TOP), 2)

    series = tuple(
        Series(
            name=name,
            colour=PALETTE[i % len(PALETTE)],
            points=tuple(
                Point(fx(day), fy(v), d.isoformat(), value_text(v))
                for day, d, v in zip(days, dates, series_values, strict=True)
                if v is not None
            ),
        )
        for i, (name, series_values) in enumerate(values.items())
    )
    shown = sorted(set(dates))
    if len(shown) > 4:  # first, last and two between, so labels never overlap
        shown = [shown[round(i * (len(shown) - 1) / 3)] for i in range(4)]
    anchors = ["middle"] * len(shown)
    if len(shown) > 1:
        anchors[0], anchors[-1] = "start", "end"
    x_ticks = tuple(
        Tick(fx(d.toordinal()), d.isoformat(), anchor)
        for d, anchor in zip(shown, anchors, strict=True)
    )
    y_ticks = tuple(Tick(fy(t), _text(t)) for t in ticks)
    rows = tuple(
        Row(d.isoformat(), name, value_text(v) if (v := series_values[i]) is not None else "–")
        for i, d in enumerate(dates)
        for name, series_values in values.items()
    )
    return LineChart(
        key=key,
        title=title,
        statements=tuple(statements),
        series=series,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        rows=rows,
    )
