"""The estimate's per-read steps in row chunks (issue 11, memflat): chunks of any size give the
result of one pass over every row, bit for bit (gutbrain.profile.chunks)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.model import Lineage
from gutbrain.profile import chunks, contest, em, taxonomy
from gutbrain.profile.chunks import row_chunks
from gutbrain.profile.contest import ContestSettings, join_contested_species
from gutbrain.profile.em import LikelihoodMatrix, collapse_rows
from gutbrain.profile.taxonomy import GroupMerge, ReadResolution, TaxonIndex, resolve_reads

_INDEX = TaxonIndex.from_references(
    ["r0", "r1", "r2", "r3", "r4"],
    {
        "r0": Lineage(superkingdom="Bacteria", family="F", genus="Neisseria", species="N. a"),
        "r1": Lineage(superkingdom="Bacteria", family="F", genus="Neisseria", species="N. b"),
        "r2": Lineage(superkingdom="Bacteria", family="F", genus="Neisseria", species="N. c"),
        "r3": Lineage(superkingdom="Bacteria", family="F", genus="Klebsiella", species="K. d"),
        "r4": Lineage(superkingdom="Bacteria", family="F", genus="Klebsiella", species=None),
    },
)
_TAXIDS = {"N. a": "1", "N. b": "2", "N. c": "3", "K. d": "4"}


@contextmanager
def _chunks_of(entries: int) -> Iterator[None]:
    """Every chunked step runs on chunks of at most ``entries`` entries."""
    small: Callable[..., Iterator[tuple[int, int]]] = functools.partial(
        chunks.row_chunks, entries=entries
    )
    with (
        mock.patch.object(taxonomy, "row_chunks", small),
        mock.patch.object(contest, "row_chunks", small),
        mock.patch.object(em, "row_chunks", small),
    ):
        yield


def _matrix(data: st.DataObject, values: st.SearchStrategy[float]) -> sp.csr_matrix:
    """A random reads x units CSR matrix (every row stores at least one entry)."""
    n_rows = data.draw(st.integers(0, 12))
    n_units = _INDEX.n_units
    rows = [
        data.draw(st.dictionaries(st.integers(0, n_units - 1), values, min_size=1, max_size=4))
        for _ in range(n_rows)
    ]
    indptr = np.cumsum([0, *(len(r) for r in rows)]).astype(np.int64)
    indices = np.array([c for r in rows for c in sorted(r)], dtype=np.int32)
    stored = np.array([r[c] for r in rows for c in sorted(r)], dtype=np.float64)
    return sp.csr_matrix((stored, indices, indptr), shape=(n_rows, n_units))


def _weights(data: st.DataObject, n: int) -> npt.NDArray[np.float64]:
    """``n`` read multiplicities."""
    return np.array(data.draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)), np.float64)


@settings(max_examples=100, deadline=None)
@given(
    indptr=st.lists(st.integers(0, 5), max_size=20).map(lambda c: np.cumsum([0, *c])),
    entries=st.integers(1, 8),
)
def test_row_chunks_cover_every_row_once(indptr: npt.NDArray[np.int64], entries: int) -> None:
    spans = list(row_chunks(indptr, entries=entries))
    stops = [stop for _, stop in spans]
    assert [start for start, _ in spans] == ([0, *stops[:-1]] if spans else [])
    assert (spans[-1][1] if spans else 0) == indptr.size - 1
    for start, stop in spans:
        assert stop > start
        assert stop == start + 1 or indptr[stop] - indptr[start] <= entries


def test_row_chunks_by_hand() -> None:
    # rows of 2, 1, 4, 0, 1 entries in chunks of 3: (2 + 1), (4, alone), (0 + 1)
    assert list(row_chunks(np.array([0, 2, 3, 7, 7, 8]), entries=3)) == [(0, 2), (2, 3), (3, 5)]
    with pytest.raises(ValueError, match="positive"):
        list(row_chunks(np.array([0, 1]), entries=0))


_POSTERIOR = st.sampled_from([0.05, 0.1, 0.25, 1 / 3, 0.5, 0.7, 1.0])


@settings(max_examples=100, deadline=None)
@given(data=st.data(), entries=st.integers(1, 5), confidence=st.sampled_from([0.3, 0.5, 0.9]))
def test_resolve_reads_in_chunks_is_one_pass(
    data: st.DataObject, entries: int, confidence: float
) -> None:
    posterior = _matrix(data, _POSTERIOR)
    weights = _weights(data, posterior.shape[0])
    whole = resolve_reads(posterior, weights, _INDEX, species_confidence=confidence)
    with _chunks_of(entries):
        chunked = resolve_reads(posterior, weights, _INDEX, species_confidence=confidence)
    _assert_same_resolution(whole, chunked)


def _assert_same_resolution(whole: ReadResolution, chunked: ReadResolution) -> None:
    """Every field of the two resolutions is the same, bit for bit and dtype."""
    for field in ("species_reads", "genus_reads", "species_resolved", "genus_resolved",
                  "best_unit", "best_genus"):  # fmt: skip
        a, b = getattr(whole, field), getattr(chunked, field)
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes(), field


def _neisseria_group() -> GroupMerge:
    """``_INDEX`` with N. a and N. b reported as one group (a unit appended)."""
    group = Lineage(superkingdom="Bacteria", family="F", genus="Neisseria", species="N. ab group")
    index = TaxonIndex(
        (*_INDEX.units, group),
        _INDEX.ref_unit,
        _INDEX.genera,
        np.append(_INDEX.unit_genus, _INDEX.unit_genus[0]),
    )
    column = np.array([5, 5, 2, 3, 4], dtype=np.int64)
    return GroupMerge(index, column, {5: ("N. a", "N. b")})


@settings(max_examples=100, deadline=None)
@given(data=st.data(), entries=st.integers(1, 5), confidence=st.sampled_from([0.3, 0.5, 0.9]))
def test_merged_resolution_in_chunks_is_the_resolution_of_the_merged_matrix(
    data: st.DataObject, entries: int, confidence: float
) -> None:
    # issue 11: the group rows' columns merged a chunk at a time, not in a copy of every row
    posterior = _matrix(data, _POSTERIOR)
    weights = _weights(data, posterior.shape[0])
    merge = _neisseria_group()
    whole = resolve_reads(
        merge.merge_posterior(posterior), weights, merge.index, species_confidence=confidence
    )
    with _chunks_of(entries):
        chunked = resolve_reads(
            posterior, weights, merge.index, species_confidence=confidence, merged_by=merge
        )
    _assert_same_resolution(whole, chunked)


def test_resolve_reads_by_hand_across_chunks() -> None:
    # read 0: N. a 0.9 (species); read 1: N. b 0.4 / N. c 0.4 / K. d 0.2 (genus Neisseria 0.8);
    # chunks of one entry split read 1 from read 0 and still give the same counts
    posterior = sp.csr_matrix(
        (np.array([0.9, 0.1, 0.4, 0.4, 0.2]), np.array([0, 3, 1, 2, 3]), np.array([0, 2, 5])),
        shape=(2, 5),
    )
    with _chunks_of(1):
        got = resolve_reads(posterior, np.array([2.0, 3.0]), _INDEX, species_confidence=0.5)
    assert got.species_resolved.tolist() == [True, False]
    assert got.best_unit.tolist() == [0, 2]  # the last of the tied best (as before)
    assert got.species_reads.tolist() == pytest.approx([1.8, 0.0, 0.0, 0.2, 0.0])
    neisseria, klebsiella = (_INDEX.genera.index(g) for g in _genera("Neisseria", "Klebsiella"))
    assert got.genus_reads[neisseria] == pytest.approx(2 * 0.9 + 3 * 0.8)
    assert got.genus_reads[klebsiella] == pytest.approx(2 * 0.1 + 3 * 0.2)


def _genera(*names: str) -> list[Lineage]:
    return [next(g for g in _INDEX.genera if g.genus == name) for name in names]


_LOG_L = st.sampled_from([-20.0, -20.5, -21.0, -22.0, -30.0, -80.0])


@settings(max_examples=100, deadline=None)
@given(data=st.data(), entries=st.integers(1, 5))
def test_contests_in_chunks_are_one_pass(data: st.DataObject, entries: int) -> None:
    matrix = _matrix(data, _LOG_L)
    n = matrix.shape[0]
    weights = _weights(data, n)
    best = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)), np.int64)
    args = (GroupMerge.identity(_INDEX), matrix, weights, best)
    options = {"threshold": 1.4, "taxids": _TAXIDS, "settings": ContestSettings(min_share=0.1)}
    whole = join_contested_species(*args, **options)  # type: ignore[arg-type]
    with _chunks_of(entries):
        chunked = join_contested_species(*args, **options)  # type: ignore[arg-type]
    assert chunked.column.tolist() == whole.column.tolist()
    assert dict(chunked.members) == dict(whole.members)
    assert chunked.adhoc == whole.adhoc
    assert [u.species for u in chunked.index.units] == [u.species for u in whole.index.units]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), entries=st.integers(1, 5))
def test_collapse_rows_in_chunks_is_one_pass(data: st.DataObject, entries: int) -> None:
    csr = _matrix(data, st.sampled_from([0.0, -0.0, -1.0, -2.5, -math.inf]))
    weights = _weights(data, csr.shape[0])
    matrix = LikelihoodMatrix(csr, weights)
    whole, of_row = collapse_rows(matrix)
    with _chunks_of(entries):
        chunked, chunked_of_row = collapse_rows(matrix)
    assert chunked_of_row.tolist() == of_row.tolist()
    assert chunked.weights.tobytes() == whole.weights.tobytes()
    for attribute in ("indptr", "indices", "data"):
        a = getattr(chunked.log_likelihood, attribute)
        assert a.tobytes() == getattr(whole.log_likelihood, attribute).tobytes()
