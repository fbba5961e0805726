"""The hits on disk come back unchanged, a window of reads at a time (issue 11)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.profile.align import HitTable
from gutbrain.profile.hit_spool import HitSpool, joined_windows

_INT32 = st.integers(-(2**31), 2**31 - 1)
_READ = st.integers(0, 40)
_ROW = st.tuples(_READ, *[_INT32] * 9, st.booleans())


def _table(rows: list[tuple[int | bool, ...]]) -> HitTable:
    columns = [np.array([row[i] for row in rows], dtype=np.int64) for i in range(10)]
    return HitTable(*columns, np.array([row[10] for row in rows], dtype=bool))


def _rows(table: HitTable) -> list[tuple[int, ...]]:
    columns = [getattr(table, f.name).tolist() for f in dataclasses.fields(HitTable)]
    return list(zip(*columns, strict=True))


def _by_read(rows: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    return sorted(rows, key=lambda row: row[0])  # stable: a read's rows keep their order


@given(st.lists(st.lists(_ROW, max_size=25), max_size=5), st.integers(1, 50))
def test_windows_give_every_hit_once_by_read_in_appended_order(
    appends: list[list[tuple[int | bool, ...]]], window: int
) -> None:
    spool = HitSpool(window=window)
    for rows in appends:
        spool.append(_table(rows))
    tables = list(spool.windows())
    appended = [tuple(int(v) for v in row) for rows in appends for row in rows]
    assert [row for table in tables for row in _rows(table)] == _by_read(appended)
    assert len(spool) == len(appended)
    for table in tables:  # each window: its reads' hits only, none empty
        assert len(table)
        assert len(set((table.read // window).tolist())) == 1
    assert _rows(spool.load()) == _by_read(appended)
    back = spool.load()
    for field in dataclasses.fields(HitTable):
        assert getattr(back, field.name).dtype == np.dtype(
            np.bool_ if field.name == "primary" else np.int32
        )


@given(
    st.lists(_ROW, max_size=30),
    st.lists(_ROW, max_size=10),
    st.lists(st.booleans(), min_size=41, max_size=41),
    st.integers(1, 50),
)
def test_joined_windows_are_the_kept_hits_of_both_spools_by_read(
    first: list[tuple[int | bool, ...]],
    second: list[tuple[int | bool, ...]],
    skip: list[bool],
    window: int,
) -> None:
    a, b = HitSpool(window=window), HitSpool(window=window)
    a.append(_table(first))
    b.append(_table(second))
    mask = np.array(skip)
    got = [row for table in joined_windows((a, mask), (b, None)) for row in _rows(table)]
    kept = [tuple(int(v) for v in row) for row in first if not skip[int(row[0])]]
    assert got == _by_read(_by_read(kept) + _by_read([tuple(int(v) for v in r) for r in second]))


def test_spools_of_different_windows_are_not_joined() -> None:
    with pytest.raises(ValueError, match="different windows"):
        list(joined_windows((HitSpool(window=2), None), (HitSpool(window=3), None)))


def test_a_closed_spool_is_not_read_nor_written() -> None:
    spool = HitSpool()
    spool.append(_table([(1, *range(9), True)]))
    assert len(spool.load()) == 1
    spool.close()
    assert spool.closed
    with pytest.raises(RuntimeError, match="closed"):
        spool.load()
    with pytest.raises(RuntimeError, match="closed"):
        spool.append(HitTable.empty())
