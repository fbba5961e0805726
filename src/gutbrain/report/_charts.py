"""Geometry of the report's inline SVG charts (numbers only; the templates draw and escape).

Nothing here computes a statistic: the functions lay out values the result already holds
(abundances, percentiles, scores) on a 0–100 axis and give each piece a colour, a label and a
number, so that colour is never the only carrier of meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PALETTE", "Segment", "StackedBar", "stacked_bar"]

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
