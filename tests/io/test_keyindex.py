"""The compact key index behind read-ID and sequence de-duplication (issue 11, mem2): the same
decisions as a Python ``set``/``dict``, and keys that share a 64-bit word are never confused."""

from __future__ import annotations

import itertools
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.io import keyindex
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
    with pytest.raises(ValueError, match="spill"):
        KeyIndex(spill=0)
    with pytest.raises(ValueError, match="block"):
        KeyIndex(block=0)
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


# -- runs on disk (issue 11: constant memory) ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    words=st.sampled_from([1, 2]),
    numbered=st.booleans(),
    batch=st.integers(1, 5),
    spill=st.integers(1, 9),
    block=st.integers(1, 4),
    chunk=st.integers(1, 6),
    data=st.data(),
)
def test_runs_on_disk_give_the_same_decisions_as_a_python_dict(
    words: int,
    numbered: bool,
    batch: int,
    spill: int,
    block: int,
    chunk: int,
    data: st.DataObject,
) -> None:
    # many low-word clashes (keys of a few low words), so equal low words cross block ends;
    # merges read their runs a few keys at a time
    keys = data.draw(_keys(words))
    with mock.patch.object(keyindex, "_CHUNK", chunk):
        _check_against_a_dict(keys, words, numbered, batch, spill, block)


def _check_against_a_dict(
    keys: list[int], words: int, numbered: bool, batch: int, spill: int, block: int
) -> None:
    index = KeyIndex(words=words, numbered=numbered, batch=batch, spill=spill, block=block)
    reference: dict[int, int] = {}
    for key in keys:
        canonical = key & _MASK if words == 1 else key
        expected = reference.get(canonical)
        if numbered:
            assert index.number(key) == expected
        assert (key in index) == (expected is not None)
        if expected is None:
            reference[canonical] = len(reference)
            assert index.add(key) == reference[canonical]
    for key, number in reference.items():
        assert key in index
        if numbered:
            assert index.number(key) == number
    # merged runs (larger than a batch) go to disk from the spill size on; a batch stays
    for size, on_disk in zip(index.runs, index.runs_on_disk, strict=True):
        assert on_disk == (size > batch and size >= spill)
    # the Bloom filter was sized for every key on disk (8 bits per key at the least)
    disk_keys = sum(s for s, d in zip(index.runs, index.runs_on_disk, strict=True) if d)
    assert index._bloom.capacity >= disk_keys
    index.close()
    assert len(index) == 0
    assert index.runs == ()


def test_a_run_reaching_the_spill_size_goes_to_disk_and_memory_stays_small() -> None:
    # 2-word numbered keys, 24 bytes each in memory; on disk the index keeps its fences (8
    # bytes per block of 64) and a Bloom filter (16 to 32 bits per key when rebuilt)
    keys = [
        (i * 0x9E3779B97F4A7C15 & _MASK) << 64 | (i * 0xC2B2AE3D27D4EB4F & _MASK)
        for i in range(1, 20_001)
    ]
    in_memory = KeyIndex(words=2, batch=1000, spill=None)
    on_disk = KeyIndex(words=2, batch=1000, spill=4000, block=64)
    for n, key in enumerate(keys):
        assert in_memory.add(key) == on_disk.add(key) == n
    assert in_memory.runs == on_disk.runs == (16_000, 4_000)
    assert on_disk.runs_on_disk == (True, True)
    assert in_memory.nbytes == 24 * 20_000
    assert on_disk.nbytes <= 8 * 20_000 / 64 + 4 * 20_000 + 8  # fences + Bloom
    assert [on_disk.number(k) for k in keys[::97]] == list(range(0, 20_000, 97))
    absent = [k + 1 for k in keys[:500]]
    assert not any(k in on_disk for k in absent)


def test_the_bloom_hashes_of_python_and_numpy_agree() -> None:
    rng = np.random.default_rng(5)
    low = rng.integers(0, 2**64, size=300, dtype=np.uint64)
    high = rng.integers(0, 2**64, size=300, dtype=np.uint64)
    first, step = keyindex._probes_of(keyindex._Chunk(low, high, None))
    one_by_one = [keyindex._probes(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True)]
    assert one_by_one == list(zip(first.tolist(), step.tolist(), strict=True))
    # one-word keys hash as if their high word were 0
    first1, _ = keyindex._probes_of(keyindex._Chunk(low, None, None))
    assert first1.tolist() == [keyindex._probes(int(lo), 0)[0] for lo in low]
