"""Compact per-read state of a profiling run (issue 11, mem2): int32 hit columns that never
wrap, and first-pass hits let go before the second estimate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gutbrain.profile import pipeline
from gutbrain.profile.align import HitTable
from gutbrain.profile.collect import Collected
from gutbrain.reference.bundle import ReferenceBundle


def _table(**columns: Any) -> HitTable:
    n = 3
    base = {
        name: np.arange(n, dtype=np.int64)
        for name in (
            "read", "ref", "query_start", "query_end", "query_length", "ref_start", "ref_end",
            "matches", "block_length", "edit_distance",
        )
    }  # fmt: skip
    base.update(columns)
    return HitTable(**base, primary=np.array([1, 0, 1]))


def test_hit_columns_are_int32_and_never_wrap() -> None:
    table = _table(query_end=np.array([10, 2**31 - 1, 7]))
    assert {getattr(table, name).dtype for name in ("read", "ref", "query_end")} == {
        np.dtype(np.int32)
    }
    assert table.primary.dtype == np.bool_
    assert table.query_end.tolist() == [10, 2**31 - 1, 7]
    assert HitTable.concat([table, table.take(np.array([2]))]).read.dtype == np.int32
    with pytest.raises(OverflowError, match="ref_end"):
        _table(ref_end=np.array([0, 2**31, 1]))
    with pytest.raises(OverflowError, match="matches"):
        _table(matches=np.array([0, -(2**31) - 1, 1]))


def test_first_pass_hits_are_released_by_the_fit(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Collected] = []
    fit = pipeline.fit_abundances

    def spy(collected: Collected, *args: Any, **kwargs: Any) -> Any:
        seen.append(collected)
        assert not collected.hit_spool.closed
        return fit(collected, *args, **kwargs)

    monkeypatch.setattr(pipeline, "fit_abundances", spy)
    # random reads have no alignment: the ONT preset's second pass re-aligns them
    reads = make_reads("mix.fq.gz", {"7000004128190436": 6}, seed=2, random_reads=3)
    result = pipeline.profile_sample([reads], bundle=tiny_bundle, sample_id="s")
    assert result.assignment["unassigned_no_alignment"] == 3
    (collected,) = seen
    assert collected.hit_spool.closed
    with pytest.raises(RuntimeError, match="closed"):
        _ = collected.hits
