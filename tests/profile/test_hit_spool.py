"""The first pass's hits parked on disk during the EM come back unchanged (issue 11)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.profile.align import HitTable
from gutbrain.profile.hit_spool import HitSpool

_INT32 = st.integers(-(2**31), 2**31 - 1)


@given(st.lists(st.tuples(*[_INT32] * 10, st.booleans()), max_size=60))
def test_a_parked_table_comes_back_column_for_column(rows: list[tuple[object, ...]]) -> None:
    columns = [np.array([row[i] for row in rows]) for i in range(11)]
    table = HitTable(
        *(np.asarray(c, dtype=np.int64) for c in columns[:10]), np.asarray(columns[10], dtype=bool)
    )
    back = HitSpool(table).load()
    for field in dataclasses.fields(HitTable):
        got, expected = getattr(back, field.name), getattr(table, field.name)
        assert got.dtype == expected.dtype
        assert got.tolist() == expected.tolist()


@given(st.lists(st.tuples(_INT32, st.booleans()), max_size=40))
def test_chosen_rows_come_back_as_take_gives_them(rows: list[tuple[int, bool]]) -> None:
    values = np.array([r for r, _ in rows], dtype=np.int64)
    table = HitTable(*([values] * 10), np.array([k for _, k in rows], dtype=bool))
    chosen = table.primary.copy()
    back = HitSpool(table).load(rows=chosen)
    expected = table.take(chosen)
    for field in dataclasses.fields(HitTable):
        assert getattr(back, field.name).tolist() == getattr(expected, field.name).tolist()


def test_a_closed_spool_is_not_read() -> None:
    parked = HitSpool(HitTable.empty())
    assert len(parked.load()) == 0
    parked.close()
    with pytest.raises(RuntimeError, match="closed"):
        parked.load()
