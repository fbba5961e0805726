"""Geometry of the report's inline SVG charts (numbers only; the templates draw and escape).

Nothing here computes a statistic: the functions lay out values the result already holds
(abundances, percentiles, scores) on a 0–100 axis and give each piece a colour, a label and a
number, so that colour is never the only carrier of meaning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PALETTE",
    "SCATTER_HEIGHT",
    "SCATTER_WIDTH",
    "Scatter",
    "Segment",
    "StackedBar",
    "Tick",
    "scatter",
    "stacked_bar",
]

#: Colour-blind-safe categorical palette (Paul Tol "muted" + "bright"), then grey for the rest.
PALETTE: tuple[str, ...] = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    "#4477AA",
)
OTHER_COLOUR = "#BBBBBB"
UNASSIGNED_COLOUR = "#FFFFFF"


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a 100 % stacked bar: ``x`` and ``width`` in percent of the bar."""

    number: int  # 1-based legend number, drawn on the bar when wide enough
    label: str
    fraction: float
    x: float
    width: float
    colour: str
    kind: str  # "taxon", "other" or "unassigned"


@dataclass(frozen=True, slots=True)
class StackedBar:
    """A 100 % stacked bar with its legend entries (same order as the segments)."""

    title: str
    segments: tuple[Segment, ...]


def stacked_bar(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unassigned: float = 0.0,
    max_segments: int = 8,
) -> StackedBar:
    """Lay out ``items`` (label, fraction of all reads) as a 100 % bar.

    The first ``max_segments`` items get their own colour; the rest are pooled as "other taxa"
    (``1 - sum(shown) - unassigned``, so the bar always closes at 100 %); ``unassigned`` is drawn
    last, white with a hatched outline.
    """
    shown = [(label, max(0.0, fraction)) for label, fraction in items[:max_segments]]
    unassigned = min(max(0.0, unassigned), 1.0)
    other = max(0.0, 1.0 - sum(f for _, f in shown) - unassigned)
    pieces: list[tuple[str, float, str, str]] = [
        (label, fraction, PALETTE[i % len(PALETTE)], "taxon")
        for i, (label, fraction) in enumerate(shown)
    ]
    if other > 0.0005:
        pieces.append(("other taxa", other, OTHER_COLOUR, "other"))
    if unassigned > 0.0005:
        pieces.append(("unassigned reads", unassigned, UNASSIGNED_COLOUR, "unassigned"))
    total = sum(p[1] for p in pieces) or 1.0
    segments = []
    x = 0.0
    for number, (label, fraction, colour, kind) in enumerate(pieces, start=1):
        width = 100.0 * fraction / total
        segments.append(
            Segment(number, label, fraction, round(x, 3), round(width, 3), colour, kind)
        )
        x += width
    return StackedBar(title=title, segments=tuple(segments))


#: Inline SVG canvas of the PCoA scatter (user units) and its plotting area.
SCATTER_WIDTH = 320.0
SCATTER_HEIGHT = 250.0
_PLOT_LEFT, _PLOT_RIGHT, _PLOT_TOP, _PLOT_BOTTOM = 52.0, 310.0, 12.0, 205.0


@dataclass(frozen=True, slots=True)
class Tick:
    """An axis tick: position on the canvas and its label."""

    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Scatter:
    """A PCoA scatter laid out on the canvas: cohort points, the sample's point, ticks."""

    title: str
    x_label: str
    y_label: str
    points: tuple[tuple[float, float], ...]
    sample: tuple[float, float]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    zero_x: float | None
    zero_y: float | None


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values inside ``[low, high]``: the widest step of 1, 2 or 5 × 10^k giving at
    least ``count`` ticks.

    >>> _nice_ticks(-0.33, 0.31), _nice_ticks(-10.5, 14.2)
    ([-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3], [-10.0, -5.0, 0.0, 5.0, 10.0])
    """
    span = high - low if high > low else 1.0
    magnitude = 10 ** math.floor(math.log10(span))
    best: list[float] = [low, high]
    for m in (5.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05):
        step = m * magnitude
        first = math.ceil(low / step - 1e-9)
        last = math.floor(high / step + 1e-9)
        ticks = [round(k * step, 10) for k in range(first, last + 1)]
        if len(ticks) >= count:
            return ticks
        best = ticks or best
    return best


def _label(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in {"-0", "0"} else text.replace("-", "−")


def scatter(
    points: Sequence[tuple[float, float]],
    sample: tuple[float, float],
    *,
    title: str,
    x_label: str,
    y_label: str,
) -> Scatter:
    """Map data coordinates onto the canvas (y up); the sample always lies inside the frame."""
    xs = [p[0] for p in points] + [sample[0]]
    ys = [p[1] for p in points] + [sample[1]]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    pad_x = (x_hi - x_lo) * 0.05 or 1.0
    pad_y = (y_hi - y_lo) * 0.05 or 1.0
    x_lo, x_hi, y_lo, y_hi = x_lo - pad_x, x_hi + pad_x, y_lo - pad_y, y_hi + pad_y

    def fx(x: float) -> float:
        return round(_PLOT_LEFT + (x - x_lo) / (x_hi - x_lo) * (_PLOT_RIGHT - _PLOT_LEFT), 2)

    def fy(y: float) -> float:
        return round(_PLOT_BOTTOM - (y - y_lo) / (y_hi - y_lo) * (_PLOT_BOTTOM - _PLOT_TOP), 2)

    return Scatter(
        title=title,
        x_label=x_label,
        y_label=y_label,
        points=tuple((fx(x), fy(y)) for x, y in points),
        sample=(fx(sample[0]), fy(sample[1])),
        x_ticks=tuple(Tick(fx(t), _label(t)) for t in _nice_ticks(x_lo, x_hi)),
        y_ticks=tuple(Tick(fy(t), _label(t)) for t in _nice_ticks(y_lo, y_hi)),
        zero_x=fx(0.0) if x_lo < 0 < x_hi else None,
        zero_y=fy(0.0) if y_lo < 0 < y_hi else None,
    )
