"""Stacked-bar geometry: known answer by hand and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.report.charts import OTHER_COLOUR, stacked_bar


def test_known_layout_by_hand() -> None:
    # 0.5 + 0.3 shown, 0.1 unassigned -> "other" = 1 - 0.8 - 0.1 = 0.1; widths 50/30/10/10 %.
    bar = stacked_bar("t", [("a", 0.5), ("b", 0.3)], unassigned=0.1)
    assert [s.label for s in bar.segments] == ["a", "b", "other taxa", "unassigned reads"]
    assert [s.width for s in bar.segments] == pytest.approx([50.0, 30.0, 10.0, 10.0])
    assert [s.x for s in bar.segments] == pytest.approx([0.0, 50.0, 80.0, 90.0])
    assert bar.segments[2].colour == OTHER_COLOUR
    assert [s.number for s in bar.segments] == [1, 2, 3, 4]


def test_items_beyond_max_segments_are_pooled() -> None:
    items = [(f"t{i}", 0.1) for i in range(10)]
    bar = stacked_bar("t", items, max_segments=8)
    assert len(bar.segments) == 9
    assert bar.segments[-1].label == "other taxa"
    assert bar.segments[-1].fraction == pytest.approx(0.2)


@given(
    st.lists(st.floats(min_value=0.0, max_value=0.3), min_size=1, max_size=12),
    st.floats(min_value=0.0, max_value=0.5),
)
def test_segments_tile_the_bar(fractions: list[float], unassigned: float) -> None:
    total = sum(fractions) + unassigned
    scale = 1.0 / total if total > 1.0 else 1.0
    items = [(f"t{i}", f * scale) for i, f in enumerate(fractions)]
    bar = stacked_bar("t", items, unassigned=unassigned * scale)
    widths = [s.width for s in bar.segments]
    if bar.segments:
        assert sum(widths) == pytest.approx(100.0, abs=0.01)
    assert all(w >= 0 for w in widths)
    xs = [s.x for s in bar.segments]
    assert xs == sorted(xs)
