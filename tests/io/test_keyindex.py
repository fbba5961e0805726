"""The compact key index behind read-ID and sequence de-duplication (issue 11, mem2): the same
decisions as a Python ``set``/``dict``, and keys that share a 64-bit word are never confused."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.io.keyindex import KeyIndex

_MASK = (1 << 64) - 1


def _keys(words: int) -> st.SearchStrategy[list[int]]:
    """Keys with many repeats and many low-word clashes (a few low and high words mixed)."""
    low = st.one_of(st.integers(0, 3), st.just(_MASK), st.integers(0, _MASK))
    if words == 1:
        key = st.one_of(low, st.integers(-(1 << 63), -1))  # hash() values are signed
    else:
        key = st.builds(lambda hi, lo: (hi << 64) | lo, st.integers(0, 3) | st.just(_MASK), low)
    return st.lists(key, max_size=120)


@settings(max_examples=150, deadline=None)
@given(words=st.sampled_from([1, 2]), batch=st.integers(1, 7), data=st.data())
def test_same_decisions_as_a_python_dict(words: int, batch: int, data: st.DataObject) -> None:
    keys = data.draw(_keys(words))
    index = KeyIndex(words=words, batch=batch)
    reference: dict[int, int] = {}
    for key in keys:
        canonical = key & _MASK if words == 1 else key
        expected = reference.get(canonical)
        assert index.number(key) == expected
        assert (key in index) == (expected is not None)
        if expected is None:
            reference[canonical] = len(reference)
            assert index.add(key) == reference[canonical]
        assert len(index) == len(reference)
    for key, number in reference.items():  # after the last merge too
        assert index.number(key) == number


@settings(max_examples=60, deadline=None)
@given(keys=_keys(1), batch=st.integers(1, 5))
def test_unnumbered_index_is_a_set(keys: list[int], batch: int) -> None:
    index = KeyIndex(numbered=False, batch=batch)
    seen: set[int] = set()
    for key in keys:
        assert (key in index) == (key & _MASK in seen)
        if key & _MASK not in seen:
            seen.add(key & _MASK)
            index.add(key)
    assert len(index) == len(seen)
    with pytest.raises(TypeError, match="numbered"):
        index.number(0)


def test_keys_sharing_a_word_stay_distinct() -> None:
    # a forced 64-bit collision: the low words are equal, the keys are not
    index = KeyIndex(words=2, batch=2)
    clashing = [(high << 64) | 0xDEADBEEF for high in (5, 1, 9, 3, 7)]
    for n, key in enumerate(clashing):
        assert index.number(key) is None
        assert index.add(key) == n
    assert [index.number(k) for k in clashing] == [0, 1, 2, 3, 4]
    assert index.number((2 << 64) | 0xDEADBEEF) is None
    assert index.nbytes == 24 * 4  # 4 merged (batch 2), 1 recent


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="words"):
        KeyIndex(words=3)
    with pytest.raises(ValueError, match="batch"):
        KeyIndex(batch=0)
    with pytest.raises(ValueError, match="wider"):
        KeyIndex(words=1).add(1 << 64)


@settings(max_examples=40, deadline=None)
@given(
    words=st.sampled_from([1, 2]),
    batch=st.integers(1, 4),
    keys=st.lists(st.integers(0, (1 << 128) - 1), min_size=40, max_size=200),
)
def test_many_merges_keep_geometric_runs(words: int, batch: int, keys: list[int]) -> None:
    # issue 11 (memflat): dozens of flushes and merges; every key keeps its number, and the
    # runs shrink strictly from oldest to newest, so there are at most log2(n / batch) + 1
    keys = list(dict.fromkeys(k & _MASK if words == 1 else k for k in keys))
    index = KeyIndex(words=words, batch=batch)
    for n, key in enumerate(keys):
        assert index.number(key) is None
        assert index.add(key) == n
        runs = index.runs
        assert all(a > b for a, b in itertools.pairwise(runs))
        assert len(runs) <= math.log2(max(1, (n + 1) // batch)) + 1
        assert sum(runs) == (n + 1) // batch * batch  # the rest are recent
    assert [index.number(k) for k in keys] == list(range(len(keys)))


def test_runs_by_hand() -> None:
    # batch 1: seven keys are runs of 4, 2 and 1 (binary 111); the eighth merges them all
    index = KeyIndex(batch=1)
    for key in range(7):
        index.add(key)
    assert list(index.runs) == [4, 2, 1]
    index.add(7)
    assert list(index.runs) == [8]
    assert [index.number(k) for k in range(8)] == list(range(8))
