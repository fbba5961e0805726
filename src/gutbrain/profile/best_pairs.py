"""CSR matrices of the largest value per ``(row, column)`` from triplets given in row order,
built chunk by chunk (issue 11, memstream).

:meth:`gutbrain.profile.em.LikelihoodMatrix.from_triplets` sorts every triplet at once: its
temporaries (keys, sort order, sorted values, masks) are several times the triplets' size. The
estimate (:func:`gutbrain.profile.fit._estimate`) orders its alignments by EM row once and hands
them over here in row chunks (:mod:`gutbrain.profile.chunks`), so the temporaries stay the size
of one chunk whatever the number of reads; only the result (one entry per pair) grows.

:class:`BestPairs` keeps, per pair, the same entry as ``from_triplets``: the largest value, and
of equal values the first given (so even the sign of a zero is the same). Several value arrays
for the same triplets (the EM's and the contest's log-likelihoods) share one set of pairs: each
keeps its own largest value, and the matrices share their column indices and row pointers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray

__all__ = ["BestPairs", "best_per_pair"]


class BestPairs:
    """Accumulate ``(row, column, values...)`` triplets in row order; keep each pair's best.

    Rows must not decrease along the triplets, across calls to :meth:`add` too. A row may
    continue into the next chunk unless the chunk was added with ``rows_complete=True`` (its
    last row then has all its entries). ``n_values`` value arrays come with every chunk.

    Examples
    --------
    >>> pairs = BestPairs((2, 3))
    >>> pairs.add(np.array([0, 0]), np.array([2, 2]), np.array([-1.0, -0.5]))
    >>> pairs.add(np.array([0, 1]), np.array([0, 2]), np.array([-3.0, 0.0]))
    >>> (matrix,) = pairs.matrices()
    >>> matrix.toarray().tolist()
    [[-3.0, 0.0, -0.5], [0.0, 0.0, 0.0]]
    >>> matrix.indices.tolist(), matrix.data.tolist()
    ([0, 2, 2], [-3.0, -0.5, 0.0])
    """

    def __init__(self, shape: tuple[int, int], n_values: int = 1) -> None:
        if n_values < 1:
            message = f"n_values must be positive, got {n_values}"
            raise ValueError(message)
        self._shape = shape
        self._n_values = n_values
        self._column_type = np.int32 if shape[1] <= np.iinfo(np.int32).max else np.int64
        self._counts = np.zeros(shape[0], dtype=np.int64)
        self._indices: list[npt.NDArray[np.signedinteger[Any]]] = []
        self._data: list[list[FloatArray]] = [[] for _ in range(n_values)]
        self._next_row = 0  # rows below are complete
        self._carry: tuple[IntArray, IntArray, tuple[FloatArray, ...]] | None = None
        self._done = False

    def add(
        self,
        rows: npt.ArrayLike,
        cols: npt.ArrayLike,
        *values: npt.ArrayLike,
        rows_complete: bool = False,
    ) -> None:
        """Take one chunk of triplets (``ValueError`` for rows out of order or out of range,
        columns out of range, a NaN value, or a wrong number of value arrays)."""
        if self._done:
            message = "BestPairs.add after matrices()"
            raise RuntimeError(message)
        if len(values) != self._n_values:
            message = f"expected {self._n_values} value arrays, got {len(values)}"
            raise ValueError(message)
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        v = tuple(np.asarray(x, dtype=np.float64) for x in values)
        if any(x.shape != r.shape for x in (c, *v)):
            message = "triplet arrays differ in length"
            raise ValueError(message)
        if self._carry is not None:
            carried_rows, carried_cols, carried_values = self._carry
            self._carry = None
            r = np.concatenate((carried_rows, r))
            c = np.concatenate((carried_cols, c))
            v = tuple(np.concatenate(pair) for pair in zip(carried_values, v, strict=True))
        if r.size == 0:
            return
        self._check(r, c, v)
        split = r.size if rows_complete else int(np.searchsorted(r, r[-1], side="left"))
        if split < r.size:
            self._carry = (r[split:], c[split:], tuple(x[split:] for x in v))
        if split:
            self._keep_best(r[:split], c[:split], tuple(x[:split] for x in v))
        self._next_row = int(r[split - 1]) + 1 if split == r.size else int(r[-1])

    def matrices(self) -> list[sp.csr_matrix]:
        """One CSR matrix per value array (explicit zeros kept; the pairs' columns and row
        pointers shared). No more chunks can be added."""
        if self._carry is not None:
            rows, cols, values = self._carry
            self._carry = None
            self._keep_best(rows, cols, values)
        self._done = True
        n_rows = self._shape[0]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(self._counts, out=indptr[1:])
        indices = _joined(self._indices, self._column_type)
        first = sp.csr_matrix((_joined(self._data[0], np.float64), indices, indptr), self._shape)
        del indices, indptr  # the matrix holds them (or their smaller index type)
        out = [first]
        for parts in self._data[1:]:
            data = _joined(parts, np.float64)
            out.append(sp.csr_matrix((data, first.indices, first.indptr), shape=self._shape))
        return out

    def _check(self, rows: IntArray, cols: IntArray, values: tuple[FloatArray, ...]) -> None:
        n_rows, n_cols = self._shape
        if rows[0] < self._next_row or np.any(rows[1:] < rows[:-1]):
            message = "triplet rows are not in order"
            raise ValueError(message)
        if rows[-1] >= n_rows or cols.min() < 0 or cols.max() >= n_cols:
            message = f"triplet rows or columns outside a {n_rows} x {n_cols} matrix"
            raise ValueError(message)
        if any(np.isnan(x).any() for x in values):
            message = "a log-likelihood is NaN"
            raise ValueError(message)

    def _keep_best(self, rows: IntArray, cols: IntArray, values: tuple[FloatArray, ...]) -> None:
        """The best entry per pair of one chunk of complete rows."""
        n_cols = self._shape[1]
        key, best = best_per_pair(rows, cols, values, n_cols)
        for parts, value in zip(self._data, best, strict=True):
            parts.append(value)
        # columns as int32 when they fit (the matrix takes that index type unless it is too big)
        self._indices.append((key % n_cols).astype(self._column_type, copy=False))
        row = key // n_cols
        lo = int(row[0])
        self._counts[lo : int(row[-1]) + 1] += np.bincount(row - lo)


def best_per_pair(
    rows: IntArray, cols: IntArray, values: tuple[FloatArray, ...], n_cols: int
) -> tuple[IntArray, list[FloatArray]]:
    """The distinct ``(row, column)`` pairs of triplets in any order, as sorted keys
    ``row × n_cols + column``, and per value array each pair's largest value: of equal values
    the first given (a stable sort of the keys, so even the sign of a zero is kept).

    Examples
    --------
    >>> key, (best,) = best_per_pair(
    ...     np.array([1, 0, 1]), np.array([0, 1, 0]), (np.array([-2.0, -1.0, -0.5]),), 2
    ... )
    >>> key.tolist(), best.tolist()
    ([1, 2], [-1.0, -0.5])
    """
    key = rows * n_cols + cols
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    pair = np.cumsum(first) - 1
    del first
    best: list[FloatArray] = []
    for value in values:
        ordered = value[order]
        top = np.maximum.reduceat(ordered, starts)
        # of each pair's entries equal to its maximum, the first (stable order)
        chosen = np.flatnonzero(ordered == top[pair])
        keep = np.ones(chosen.size, dtype=bool)
        keep[1:] = pair[chosen[1:]] != pair[chosen[:-1]]
        best.append(ordered[chosen[keep]])
    return key[starts], best


def _joined(parts: list[npt.NDArray[Any]], dtype: type[np.generic]) -> npt.NDArray[Any]:
    """``parts`` concatenated (the list emptied as it goes: no part is kept twice)."""
    if not parts:
        return np.zeros(0, dtype=dtype)
    out = np.concatenate(parts).astype(dtype, copy=False)
    parts.clear()
    return out
