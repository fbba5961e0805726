"""Geometry of the longitudinal view's line charts (gutbrain.web.charts)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from gutbrain.web import charts

_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
@example(1e6, 999999.9999999999)  # a span below the float resolution at 1e6 (found by Hypothesis)
@example(0.0, 5e-324)  # a span too narrow for a normal float step
def test_nice_ticks_cover_the_range(low: float, high: float) -> None:
    ticks = charts.nice_ticks(low, high)
    assert ticks == sorted(ticks)
    assert len(ticks) >= 2
    step = ticks[1] - ticks[0]
    assert ticks[0] <= min(low, high) + 1e-6 * step
    assert ticks[-1] >= max(low, high) - 1e-6 * step


@given(
    st.lists(
        st.tuples(st.integers(0, 3000), st.one_of(st.none(), _values)), min_size=1, max_size=12
    )
)
def test_points_stay_in_the_frame_and_follow_the_dates(
    rows: list[tuple[int, float | None]],
) -> None:
    rows = sorted(rows, key=lambda r: r[0])
    dates = [date(2020, 1, 1) + timedelta(days=d) for d, _ in rows]
    chart = charts.line_chart(dates, {"m": [v for _, v in rows]}, key="m", title="M")
    points = chart.series[0].points
    assert len(points) == sum(v is not None for _, v in rows)
    for p in points:
        assert chart.left <= p.x <= chart.right
        assert chart.top - 1e-6 <= p.y <= chart.bottom + 1e-6
    xs = [p.x for p in points]
    assert xs == sorted(xs)
    assert len(chart.rows) == len(rows)  # one series: one row per date


def test_higher_values_are_drawn_higher_and_known_positions() -> None:
    # Hand calculation: ticks 0..30 for values 0 and 27 over a 418-unit-wide, 178-high frame.
    chart = charts.line_chart(
        [date(2026, 1, 1), date(2026, 1, 11), date(2026, 1, 21)],
        {"PHQ-9": [0.0, 27.0, None]},
        key="scores",
        title="Scores",
        statements=["one change is not a trend"],
    )
    (series,) = chart.series
    first, second = series.points
    assert (first.x, first.y) == (48.0, 190.0)
    assert second.x == 257.0  # 48 + 10/20 * 418
    assert second.y == round(190 - 27 / 30 * 178, 2)
    assert [(r.label, r.series, r.value) for r in chart.rows] == [
        ("2026-01-01", "PHQ-9", "0"),
        ("2026-01-11", "PHQ-9", "27"),
        ("2026-01-21", "PHQ-9", "–"),
    ]
    assert [t.label for t in chart.y_ticks] == ["0", "10", "20", "30"]
