"""Expectation–maximisation of taxon abundances over a sparse read × taxon likelihood matrix.

The model is Emu's (Curry et al. 2022): each read ``r`` was drawn from taxon ``t`` with
probability ``f_t`` (the abundance vector, summing to 1), and given its source produced the
observed alignment with likelihood ``L(r|t)``. The marginal log-likelihood of the data is

.. math::

    \\ell(f) = \\sum_r w_r \\log \\sum_t L(r|t) f_t

where ``w_r`` is the read's multiplicity (identical reads are collapsed into one row). One EM
step computes the posteriors ``P(t|r) = L(r|t) f_t / \\sum_u L(r|u) f_u`` (E-step) and sets
``f_t = \\sum_r w_r P(t|r) / \\sum_r w_r`` (M-step). Each step never decreases ``\\ell``
(Dempster, Laird & Rubin 1977).

Everything is vectorised with :mod:`scipy.sparse`: the likelihoods are shifted by their row
maximum once (``L'(r|t) = exp(log L(r|t) - max_u log L(r|u))``), so an iteration is one sparse
row-scaled product, with no per-read Python work.

References
----------
Curry, K. D. et al. (2022). Emu: species-level microbial community profiling of full-length 16S
rRNA Oxford Nanopore sequencing data. *Nature Methods* 19, 845–853.
Dempster, A. P., Laird, N. M. & Rubin, D. B. (1977). Maximum likelihood from incomplete data via
the EM algorithm. *J. R. Stat. Soc. B* 39, 1–38.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray
from gutbrain.profile.best_pairs import best_per_pair
from gutbrain.profile.chunks import CHUNK_ENTRIES, row_chunks

__all__ = [
    "AbundanceEstimate",
    "EMResult",
    "LikelihoodMatrix",
    "bootstrap_abundances",
    "collapse_rows",
    "estimate_abundances",
    "pool_single_rows",
    "posteriors",
    "run_em",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LikelihoodMatrix:
    """Sparse per-read log-likelihoods ``log L(r|t)`` with read multiplicities.

    ``log_likelihood`` is a CSR matrix (reads × taxa) whose *stored* entries are the candidate
    taxa of each read (a stored value may be any finite number, including 0); absent entries
    mean ``L(r|t) = 0``. Every row must store at least one entry. ``weights`` holds each row's
    multiplicity (1 for a single read, ``n`` for ``n`` identical collapsed reads).
    """

    log_likelihood: sp.csr_matrix
    weights: FloatArray

    @property
    def n_reads(self) -> int:
        """Number of rows (distinct reads)."""
        return int(self.log_likelihood.shape[0])

    @property
    def n_taxa(self) -> int:
        """Number of columns (candidate taxa)."""
        return int(self.log_likelihood.shape[1])

    @classmethod
    def from_triplets(
        cls,
        rows: npt.ArrayLike,
        cols: npt.ArrayLike,
        values: npt.ArrayLike,
        *,
        n_reads: int,
        n_taxa: int,
        weights: npt.ArrayLike | None = None,
    ) -> LikelihoodMatrix:
        """Build from ``(read, taxon, log L)`` triplets; duplicates keep their maximum.

        Keeping the best alignment of a read to a taxon (rather than summing) follows Emu.
        Rows must lie in ``0..n_reads - 1``, columns in ``0..n_taxa - 1``, values not NaN
        (``ValueError`` otherwise).
        """
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        shape = (n_reads, n_taxa)
        # issue 11 (memflat): _csr_of_best sorts once, with fewer temporaries
        build = _csr_of_best if r.size else _csr_with_explicit
        matrix = build(r, c, v, shape)
        w = (
            np.ones(n_reads, dtype=np.float64)
            if weights is None
            else np.asarray(weights, dtype=np.float64)
        )
        return cls(log_likelihood=matrix, weights=w)


def _csr_of_best(
    rows: IntArray, cols: IntArray, values: FloatArray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR matrix of the largest value per ``(row, column)``, explicit zeros kept (issue 11,
    memflat).

    The same matrix as sorting by ``(row, column, -value)`` and keeping each pair's first
    entry (of equal values, the first given): one stable sort of the ``(row, column)`` keys and
    a per-pair maximum (:func:`gutbrain.profile.best_pairs.best_per_pair`, which the estimate's
    chunked builder uses too), the result already in CSR order.
    """
    n_reads, n_taxa = shape
    if rows.min() < 0 or rows.max() >= n_reads or cols.min() < 0 or cols.max() >= n_taxa:
        message = f"triplet rows or columns outside a {n_reads} x {n_taxa} matrix"
        raise ValueError(message)
    if np.isnan(values).any():
        message = "a log-likelihood is NaN"
        raise ValueError(message)
    key, (data,) = best_per_pair(rows, cols, (values,), n_taxa)
    indptr = np.zeros(n_reads + 1, dtype=np.int64)
    np.cumsum(np.bincount(key // n_taxa, minlength=n_reads), out=indptr[1:])
    return sp.csr_matrix((data, key % n_taxa, indptr), shape=shape)


def _csr_with_explicit(
    rows: IntArray, cols: IntArray, values: FloatArray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR matrix that keeps explicit zeros (a log-likelihood of 0 is a real entry)."""
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    np.cumsum(indptr, out=indptr)
    return sp.csr_matrix((values, cols, indptr), shape=shape)


@dataclass(frozen=True, slots=True)
class EMResult:
    """Outcome of one EM run.

    ``abundance`` sums to 1 over the taxa (columns) of the matrix; ``log_likelihoods`` holds
    :math:`\\ell` after every iteration (non-decreasing up to rounding).
    """

    abundance: FloatArray
    log_likelihoods: tuple[float, ...]
    iterations: int
    converged: bool

    @property
    def log_likelihood(self) -> float:
        """The final log-likelihood."""
        return self.log_likelihoods[-1] if self.log_likelihoods else float("nan")


#: Stored entries per row chunk of the EM, posterior and draw passes (issue 11): their
#: per-entry temporaries stay this size whatever the number of reads. A module constant so
#: tests can force many chunks.
_CHUNK_ENTRIES = CHUNK_ENTRIES

#: One row chunk: rows ``start:stop`` and their stored entries ``lo:hi``.
_Chunk = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Row-max-scaled likelihoods ``L'(r|t) = exp(log L - max_u log L(r|u))`` in CSR layout.

    The scaled values and each entry's row (chunk-local, one array per chunk) are the
    per-entry arrays kept through an EM run or a whole bootstrap (the rows are kept because
    recomputing them in every step cost a fifth of the EM's time); every other per-entry
    array lives for one row chunk (issue 11).
    """

    scaled: FloatArray  # per stored entry
    indices: npt.NDArray[Any]  # column per stored entry
    indptr: npt.NDArray[Any]
    row_max: FloatArray
    n_taxa: int
    chunks: tuple[_Chunk, ...]
    # per chunk: each entry's row, counted from its start (int32)
    rows_of_entry: tuple[npt.NDArray[np.signedinteger[Any]], ...]

    @property
    def n_rows(self) -> int:
        return int(self.indptr.size) - 1


def _rows_of_chunk(
    indptr: npt.NDArray[Any], start: int, stop: int, dtype: type[np.signedinteger[Any]] = np.int64
) -> npt.NDArray[np.signedinteger[Any]]:
    """Row of each stored entry of rows ``start:stop``, counted from ``start``."""
    return np.repeat(np.arange(stop - start, dtype=dtype), np.diff(indptr[start : stop + 1]))


def _chunks_of(indptr: npt.NDArray[Any]) -> tuple[_Chunk, ...]:
    return tuple(
        (start, stop, int(indptr[start]), int(indptr[stop]))
        for start, stop in row_chunks(indptr, _CHUNK_ENTRIES)
    )


def _kept_counts(csr: sp.csr_matrix, keep: npt.NDArray[np.bool_]) -> IntArray:
    """Per row, how many of its stored entries are in the columns ``keep`` (row chunks)."""
    counts = np.zeros(int(csr.shape[0]), dtype=np.int64)
    for start, stop, lo, hi in _chunks_of(csr.indptr):
        mask = keep[csr.indices[lo:hi]]
        counts[start:stop] = np.bincount(
            _rows_of_chunk(csr.indptr, start, stop)[mask], minlength=stop - start
        )
    return counts


def _prepare(
    csr: sp.csr_matrix, keep: npt.NDArray[np.bool_] | None = None
) -> tuple[_Prepared, npt.NDArray[np.bool_]]:
    """Scale ``csr`` by its row maxima, row chunk by row chunk; return it and the kept rows.

    Without ``keep`` every row must store an entry (``RuntimeError`` otherwise) and all rows
    are kept. With a column mask ``keep``, the entries of other columns are left out and rows
    left without entries are dropped: the same values as preparing a copy of ``csr`` with only
    those entries and rows, without that copy and its per-entry temporaries.
    """
    n_rows, n_taxa = (int(n) for n in csr.shape)
    counts = np.diff(csr.indptr)
    if keep is None:
        if np.any(counts == 0):
            message = "every read row needs at least one candidate taxon; drop empty rows first"
            raise RuntimeError(message)
        rows_kept = np.ones(n_rows, dtype=bool)
        indices, indptr = csr.indices, csr.indptr
    else:
        counts = _kept_counts(csr, keep)
        rows_kept = counts > 0
        indptr = np.zeros(int(rows_kept.sum()) + 1, dtype=csr.indptr.dtype)
        np.cumsum(counts[rows_kept], out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=csr.indices.dtype)
    scaled = np.empty(indices.size, dtype=np.float64)
    row_max = np.full(n_rows, -np.inf)
    at = 0  # where the chunk's kept entries go
    for start, stop, lo, hi in _chunks_of(csr.indptr):
        row_of_entry = _rows_of_chunk(csr.indptr, start, stop)
        data = csr.data[lo:hi]
        if keep is not None:
            mask = keep[csr.indices[lo:hi]]
            row_of_entry, data = row_of_entry[mask], data[mask]
            indices[at : at + data.size] = csr.indices[lo:hi][mask]
        chunk_max = row_max[start:stop]  # a view: maximum.at fills row_max
        np.maximum.at(chunk_max, row_of_entry, data)
        np.exp(data - chunk_max[row_of_entry], out=scaled[at : at + data.size])
        at += data.size
    if keep is not None:
        row_max = row_max[rows_kept]
    chunks = _chunks_of(indptr)
    # issue 11: 4 bytes per entry (a chunk's rows are far fewer than 2**31), half of int64's
    rows_of_entry = tuple(
        _rows_of_chunk(indptr, start, stop, np.int32) for start, stop, _, _ in chunks
    )
    return _Prepared(scaled, indices, indptr, row_max, n_taxa, chunks, rows_of_entry), rows_kept


def _posterior_chunks(
    prep: _Prepared,
    freq: FloatArray,
    numerator: FloatArray | None,
    active: npt.NDArray[np.bool_] | None,
) -> Iterator[tuple[_Chunk, npt.NDArray[np.signedinteger[Any]], FloatArray, FloatArray]]:
    """Per row chunk: its row of each entry, ``numerator[r] P(t|r)`` per entry and row sums.

    ``P(t|r) = L'(r|t) f_t / sum_u L'(r|u) f_u`` (``numerator`` 1 when ``None``); rows with a
    zero sum, or outside ``active``, get 0. Every value depends on its own row alone, so it is
    bit-identical to one pass over all rows (issue 11).
    """
    for chunk, row_of_entry in zip(prep.chunks, prep.rows_of_entry, strict=True):
        start, stop, lo, hi = chunk
        post = prep.scaled[lo:hi] * freq[prep.indices[lo:hi]]
        row_sum = np.bincount(row_of_entry, weights=post, minlength=stop - start).astype(
            np.float64, copy=False
        )
        ok = row_sum > 0
        if active is not None:
            ok &= active[start:stop]
        scale = np.zeros_like(row_sum)
        scale[ok] = (1.0 if numerator is None else numerator[start:stop][ok]) / row_sum[ok]
        post *= scale[row_of_entry]
        yield chunk, row_of_entry, post, row_sum


def _step(
    prep: _Prepared,
    freq: FloatArray,
    weights: FloatArray,
    active: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, float]:
    """One EM step: return new abundances and the log-likelihood of ``freq``.

    Rows outside ``active`` count as absent: their (zero) weight adds exact zeros to the
    M-step sums and they are left out of the log-likelihood and weight sums, so the result is
    bit-identical to a step on the active rows alone. The per-taxon sums are accumulated
    chunk after chunk in entry order (``np.add.at``), the same floating-point sums as one
    ``np.bincount``; the sums over rows use whole per-row vectors (pairwise summation).
    """
    row_sum = np.empty(prep.n_rows)
    new = np.zeros(prep.n_taxa)
    for (start, stop, lo, hi), _, post, chunk_sum in _posterior_chunks(prep, freq, weights, active):
        row_sum[start:stop] = chunk_sum
        np.add.at(new, prep.indices[lo:hi], post)
    ok = row_sum > 0
    if active is not None:
        ok &= active
    weights_ok = weights[ok]
    total_w = float(weights_ok.sum())
    terms = row_sum[ok]  # w_r (log row_sum + row_max), in place: fewer per-row temporaries
    with np.errstate(divide="ignore"):
        np.log(terms, out=terms)
    terms += prep.row_max[ok]
    terms *= weights_ok
    ll = float(np.sum(terms))
    if total_w > 0:
        new /= total_w
    return new, ll


def _em(
    prep: _Prepared,
    weights: FloatArray,
    *,
    initial: FloatArray | None,
    max_iter: int,
    tol: float,
    active: npt.NDArray[np.bool_] | None = None,
) -> EMResult:
    """EM over prepared likelihoods (:func:`run_em`; rows outside ``active`` left out)."""
    n_taxa = prep.n_taxa
    freq = (
        np.full(n_taxa, 1.0 / n_taxa)
        if initial is None
        else np.asarray(initial, dtype=np.float64) / float(np.sum(initial))
    )
    trace: list[float] = []
    converged = False
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        new, ll = _step(prep, freq, weights, active)
        trace.append(ll)
        freq = new
        if len(trace) >= 2 and trace[-1] - trace[-2] < tol:
            converged = True
            break
    # report the log-likelihood of the returned abundances
    _, final_ll = _step(prep, freq, weights, active)
    trace.append(final_ll)
    return EMResult(freq, tuple(trace), iterations, converged)


def run_em(
    matrix: LikelihoodMatrix,
    *,
    initial: FloatArray | None = None,
    max_iter: int = 1000,
    tol: float = 0.01,
) -> EMResult:
    """Run EM until the log-likelihood gains less than ``tol`` in one iteration.

    Parameters
    ----------
    matrix
        Read × taxon log-likelihoods and read multiplicities.
    initial
        Starting abundances (default uniform, as Emu). Zero entries stay zero.
    max_iter
        Iteration cap; ``converged`` is false when it is reached.
    tol
        Stop when :math:`\\ell` increases by less than this (Emu's default 0.01).

    Returns
    -------
    EMResult
        Abundances over the matrix's columns, the log-likelihood trace and iteration count.
    """
    n_taxa = matrix.n_taxa
    if matrix.n_reads == 0 or n_taxa == 0:
        return EMResult(np.zeros(n_taxa), (), 0, True)
    prep, _ = _prepare(matrix.log_likelihood)
    return _em(prep, matrix.weights, initial=initial, max_iter=max_iter, tol=tol)


def posteriors(
    matrix: LikelihoodMatrix,
    abundance: FloatArray,
    keep: npt.NDArray[np.bool_] | None = None,
) -> sp.csr_matrix:
    """Return ``P(t|r)`` as a CSR matrix with the sparsity of ``matrix`` (rows sum to 1 or 0).

    With a column mask ``keep``: over the entries of those columns and the rows holding one
    (in order; no restricted copy of ``matrix``).
    """
    prep, rows_kept = _prepare(matrix.log_likelihood, keep)
    data = np.empty(prep.scaled.size)
    for (_, _, lo, hi), _, post, _ in _posterior_chunks(prep, abundance, None, None):
        data[lo:hi] = post
    shape = (int(np.count_nonzero(rows_kept)), matrix.n_taxa)
    return sp.csr_matrix((data, prep.indices, prep.indptr), shape=shape)


def pool_single_rows(matrix: LikelihoodMatrix, keep: npt.NDArray[np.bool_]) -> LikelihoodMatrix:
    """``matrix`` over the taxa ``keep``, its rows of a single candidate pooled per taxon.

    The rows with two or more entries among ``keep`` come first, in their order, with only
    those entries; then one row per taxon for the rows whose only entry among ``keep`` is that
    taxon (log L 0, weight the sum of theirs, in taxon order); rows without an entry among
    ``keep`` are left out. A pooled matrix is given back as it is.

    Such a row's read belongs to its taxon whatever the abundances, so for the bootstrap
    (:func:`bootstrap_abundances`) the pooled rows are equivalent to the reads: a multinomial
    redraw of the reads gives each taxon's pooled row the binomial share it gives their sum,
    and their assignment needs no draw. Rows are taken in chunks (issue 11): no per-entry
    temporary of the whole matrix.
    """
    csr = matrix.log_likelihood
    n_taxa = int(csr.shape[1])
    counts = _kept_counts(csr, keep)
    single = counts == 1
    if int(counts.sum()) == csr.nnz and _already_pooled(csr, single):
        return matrix
    multi = counts >= 2
    indices = np.empty(int(counts[multi].sum()), dtype=csr.indices.dtype)
    data = np.empty(indices.size, dtype=np.float64)
    pooled = np.zeros(n_taxa)
    present = np.zeros(n_taxa, dtype=bool)
    at = 0
    for start, stop, lo, hi in _chunks_of(csr.indptr):
        row_of_entry = _rows_of_chunk(csr.indptr, start, stop)
        cols = csr.indices[lo:hi]
        mask = keep[cols]
        one = mask & single[start:stop][row_of_entry]
        np.add.at(pooled, cols[one], matrix.weights[start:stop][row_of_entry[one]])
        present[cols[one]] = True
        mask &= multi[start:stop][row_of_entry]
        n = int(np.count_nonzero(mask))
        indices[at : at + n] = cols[mask]
        data[at : at + n] = csr.data[lo:hi][mask]
        at += n
    taxa = np.flatnonzero(present)
    row_counts = np.concatenate((counts[multi], np.ones(taxa.size, dtype=np.int64)))
    indptr = np.zeros(row_counts.size + 1, dtype=np.int64)
    np.cumsum(row_counts, out=indptr[1:])
    log_likelihood = sp.csr_matrix(
        (
            np.concatenate((data, np.zeros(taxa.size))),
            np.concatenate((indices, taxa.astype(indices.dtype))),
            indptr,
        ),
        shape=(row_counts.size, n_taxa),
    )
    return LikelihoodMatrix(log_likelihood, np.concatenate((matrix.weights[multi], pooled[taxa])))


def _already_pooled(csr: sp.csr_matrix, single: npt.NDArray[np.bool_]) -> bool:
    """Whether the ``single`` rows are the last ones, one per taxon in taxon order, log L 0."""
    n_single = int(np.count_nonzero(single))
    n_rows = single.size
    if not single[n_rows - n_single :].all():
        return False
    lo = int(csr.indptr[n_rows - n_single])
    taxa, values = csr.indices[lo:], csr.data[lo:]
    return bool(np.all(np.diff(taxa) > 0) and np.all(values == 0.0))


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0xBF58476D1CE4E5B9))


def collapse_rows(matrix: LikelihoodMatrix) -> tuple[LikelihoodMatrix, IntArray]:
    """Merge rows with identical candidates and identical log-likelihoods into weighted rows.

    Rows ``r`` and ``r'`` with the same stored columns and bit-identical values have the same
    posterior for every abundance vector, so one row of weight ``w_r + w_r'`` contributes the
    same to the M-step and to ℓ (equivalence classes; reads decided by the k-mer
    screen, one candidate with log L = 0, collapse to one row per taxon). Returns the collapsed
    matrix (rows in order of first occurrence) and, per original row, its class.

    Rows are grouped by a 64-bit hash of their entries and entry count and then compared entry
    by entry, so a hash collision never merges different rows.
    """
    csr = matrix.log_likelihood
    n = csr.shape[0]
    counts = np.diff(csr.indptr).astype(np.int64)
    if n == 0:
        return matrix, np.zeros(0, dtype=np.int64)
    # issue 11 (memflat): the per-entry work in row chunks (gutbrain.profile.chunks); a row's
    # hash is a sum modulo 2**64, so it does not depend on the chunks
    row_hash = np.empty(n, dtype=np.uint64)
    for start, stop in row_chunks(csr.indptr):
        lo, hi = int(csr.indptr[start]), int(csr.indptr[stop])
        with np.errstate(over="ignore"):
            x = csr.indices[lo:hi].astype(np.uint64) * _MIX[0]
            x ^= np.ascontiguousarray(csr.data[lo:hi], dtype=np.float64).view(np.uint64) * _MIX[1]
            x ^= x >> np.uint64(29)
            x *= _MIX[2]
            x ^= x >> np.uint64(32)
            cumulative = np.zeros(hi - lo + 1, dtype=np.uint64)
            np.cumsum(x, dtype=np.uint64, out=cumulative[1:])
            ends = csr.indptr[start : stop + 1] - lo
            row_hash[start:stop] = cumulative[ends[1:]] - cumulative[ends[:-1]]
        del x, cumulative
    # the entry count mixed into the hash: one 64-bit key per row (a 1-D unique: a third of
    # the temporaries of a unique over (hash, count) pairs; issue 11); equal counts are
    # checked below with the entries
    with np.errstate(over="ignore"):
        row_hash ^= counts.astype(np.uint64) * _MIX[1]
    _, first, inverse = np.unique(row_hash, return_index=True, return_inverse=True)
    del row_hash
    rep = first[inverse.reshape(-1)]  # per row: the first row with its key
    del first, inverse
    # exact check: the same number of entries, each equal to the representative's entry at the
    # same position
    collided = counts != counts[rep]
    for start, stop in row_chunks(csr.indptr):
        lo, hi = int(csr.indptr[start]), int(csr.indptr[stop])
        row_of_entry = np.repeat(np.arange(start, stop, dtype=np.int64), counts[start:stop])
        entry = np.arange(lo, hi, dtype=np.int64)
        same_count = ~collided[row_of_entry]  # a mirror entry exists
        row_of_entry, entry = row_of_entry[same_count], entry[same_count]
        mirror = csr.indptr[rep[row_of_entry]] + entry - csr.indptr[row_of_entry]
        differs = (csr.indices[entry] != csr.indices[mirror]) | (
            csr.data[entry].view(np.uint64) != csr.data[mirror].view(np.uint64)
        )
        collided[row_of_entry[differs]] = True
    rep = np.where(collided, np.arange(n, dtype=np.int64), rep)  # collisions stay alone
    leaders, cls = np.unique(rep, return_inverse=True)
    cls = cls.reshape(-1).astype(np.int64)
    weights = np.bincount(cls, weights=matrix.weights, minlength=leaders.size).astype(np.float64)
    collapsed = LikelihoodMatrix(csr[leaders], weights)
    return collapsed, cls


@dataclass(frozen=True, slots=True)
class AbundanceEstimate:
    """EM with Emu's pruning: the final abundances and what it took."""

    abundance: FloatArray  # over all columns; zero for dropped taxa
    # P(t|r) of the final run (rows of reads still explained); None once let go
    # (:meth:`without_posterior`)
    posterior: sp.csr_matrix | None
    explained: npt.NDArray[np.bool_]  # reads with a candidate among the kept taxa
    iterations: int
    log_likelihood: float
    converged: bool
    taxa_kept: int
    prune_threshold: float

    def without_posterior(self) -> AbundanceEstimate:
        """This estimate with its posteriors let go (issue 11: a settled fit keeps only what
        its outputs read)."""
        return replace(self, posterior=None)


def estimate_abundances(
    matrix: LikelihoodMatrix,
    *,
    min_abundance: float | None = None,
    max_iter: int = 1000,
    tol: float = 0.01,
    collapse: bool = True,
) -> AbundanceEstimate:
    """Run EM, drop taxa below a minimum abundance, and re-run on the survivors (as Emu).

    The first pruning threshold is Emu's: ``1/n`` reads, or ``10/n`` when ``n > 1000``
    (Curry et al. 2022, ``emu`` 3.x). ``min_abundance``, when larger, is applied afterwards
    with another EM run. Reads whose candidates were all dropped are reported as not
    explained (``explained`` false); their weight leaves the abundance denominator.
    With ``collapse`` the EM runs on equivalence classes of identical rows
    (:func:`collapse_rows`; the same estimate, less memory and time) and the posteriors are
    given back per original row.

    Returns
    -------
    AbundanceEstimate
        Final abundances (zero for dropped taxa), posteriors and run statistics.
    """
    if collapse and matrix.n_reads:
        classes, of_row = collapse_rows(matrix)
        if classes.n_reads < matrix.n_reads:
            est = estimate_abundances(
                classes, min_abundance=min_abundance, max_iter=max_iter, tol=tol, collapse=False
            )
            return _replace_rows(est, of_row)
    n = float(matrix.weights.sum())
    if matrix.n_reads == 0 or n == 0:
        empty = sp.csr_matrix(matrix.log_likelihood.shape)
        return AbundanceEstimate(
            np.zeros(matrix.n_taxa), empty, np.zeros(matrix.n_reads, bool), 0, 0.0, True, 0, 0.0
        )
    threshold = 10.0 / n if n > 1000 else 1.0 / n
    first = run_em(matrix, max_iter=max_iter, tol=tol)
    iterations = first.iterations
    converged = first.converged
    freq = first.abundance
    thresholds = [threshold]
    if min_abundance is not None and min_abundance > threshold:
        thresholds.append(min_abundance)
    for cut in thresholds:
        # each cut keeps a subset of the taxa the one before kept (the others are at 0), so
        # restricting the whole matrix equals restricting the last restriction
        keep = freq >= cut
        if not keep.any():
            keep = freq >= freq.max()
        # issue 11: the EM on the kept taxa's entries and the rows holding one, prepared
        # straight from the matrix (no restricted copy, nor one without its empty rows)
        prep, explained = _prepare(matrix.log_likelihood, keep)
        result = _em(
            prep,
            matrix.weights[explained],
            initial=np.where(keep, freq, 0.0),
            max_iter=max_iter,
            tol=tol,
        )
        del prep
        freq = result.abundance
        iterations += result.iterations
        converged = converged and result.converged
    posterior = _expand_rows(posteriors(matrix, freq, keep), explained)
    logger.debug("EM: %d iterations, %d taxa kept", iterations, int((freq > 0).sum()))
    return AbundanceEstimate(
        abundance=freq,
        posterior=posterior,
        explained=explained,
        iterations=iterations,
        log_likelihood=result.log_likelihood,
        converged=converged,
        taxa_kept=int((freq > 0).sum()),
        prune_threshold=max(thresholds),
    )


def _replace_rows(estimate: AbundanceEstimate, of_row: IntArray) -> AbundanceEstimate:
    """``estimate`` of collapsed classes given back per original row (row ``i`` = class
    ``of_row[i]``)."""
    posterior = estimate.posterior
    assert posterior is not None  # set by every estimate until let go
    counts = np.diff(posterior.indptr)[of_row]
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    starts = posterior.indptr[of_row]
    entry = np.repeat(starts - indptr[:-1], counts) + np.arange(int(indptr[-1]), dtype=np.int64)
    expanded = sp.csr_matrix(
        (posterior.data[entry], posterior.indices[entry], indptr),
        shape=(of_row.size, posterior.shape[1]),
    )
    return AbundanceEstimate(
        abundance=estimate.abundance,
        posterior=expanded,
        explained=estimate.explained[of_row],
        iterations=estimate.iterations,
        log_likelihood=estimate.log_likelihood,
        converged=estimate.converged,
        taxa_kept=estimate.taxa_kept,
        prune_threshold=estimate.prune_threshold,
    )


def _expand_rows(sub: sp.csr_matrix, mask: npt.NDArray[np.bool_]) -> sp.csr_matrix:
    """Place the rows of ``sub`` at the true positions of ``mask`` (other rows empty)."""
    counts = np.zeros(mask.size, dtype=np.int64)
    counts[mask] = np.diff(sub.indptr)
    indptr = np.concatenate(([0], np.cumsum(counts)))
    return sp.csr_matrix((sub.data, sub.indices, indptr), shape=(mask.size, sub.shape[1]))


def _draw_assignments(
    prep: _Prepared,
    abundance: FloatArray,
    weights: FloatArray,
    active: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> FloatArray:
    """Draw one taxon per active row from its posterior; return per-taxon summed row weights.

    Collapsed identical reads (one row, weight ``n``) share one draw: they carry the same
    evidence, so their assignment is one uncertain event, not ``n`` independent ones.
    The uniform draws are made once for the active rows, in row order; the running sum of the
    posteriors is carried from chunk to chunk (rows outside ``active`` add exact zeros to it),
    so every comparison is the one of a single pass over the active rows (issue 11).
    """
    threshold = np.zeros(prep.n_rows)
    threshold[active] = rng.random(int(np.count_nonzero(active)))
    out = np.zeros(prep.n_taxa)
    carried = 0.0  # the running sum of the posteriors of earlier chunks
    for (start, stop, lo, hi), row_of_entry, post, _ in _posterior_chunks(
        prep, abundance, None, active
    ):
        cumulative = np.empty(post.size + 1)
        cumulative[0] = carried
        cumulative[1:] = post
        np.cumsum(cumulative, out=cumulative)
        carried = float(cumulative[-1])
        row_start = cumulative[prep.indptr[start:stop] - lo]  # the sum before each row
        within = row_start[row_of_entry]  # the running sum within the row, in place
        np.subtract(cumulative[1:], within, out=within)
        del cumulative
        row_total = np.bincount(row_of_entry, weights=post, minlength=stop - start)
        bound = (threshold[start:stop] * row_total)[row_of_entry]
        bound -= 1e-15
        hit = within >= bound
        del within, bound
        hit &= (row_total > 0)[row_of_entry]
        entry = np.flatnonzero(hit)
        first = np.ones(entry.size, dtype=bool)  # the first hit entry of each row
        first[1:] = row_of_entry[entry[1:]] != row_of_entry[entry[:-1]]
        entry = entry[first]
        np.add.at(out, prep.indices[lo:hi][entry], weights[start:stop][row_of_entry[entry]])
    return out


def bootstrap_abundances(
    matrix: LikelihoodMatrix,
    abundance: FloatArray,
    *,
    replicates: int = 100,
    seed: int = 0,
    max_iter: int = 200,
    tol: float = 0.01,
) -> FloatArray:
    """Bootstrap the EM over reads and over assignments; return ``replicates × taxa`` abundances.

    Each replicate

    1. redraws the reads with replacement (multinomial weights over the rows, respecting
       multiplicities; Efron & Tibshirani 1993), the reads of a single candidate among the
       kept taxa pooled per taxon (:func:`pool_single_rows`: the same distribution, one draw
       per taxon instead of one per read);
    2. re-runs EM on the taxa kept in ``abundance`` from a *random* start (each taxon's point
       estimate times an Exp(1) draw, i.e. a flat Dirichlet reweighting), so that abundances the
       reads cannot identify (taxa whose likelihoods tie on every read, e.g. identical 16S
       sequences) land anywhere along the tie instead of repeating the point estimate, while
       identifiable ones return to it;
    3. draws each read's taxon from that replicate's posterior ``P(t|r)`` and counts them, so
       reads split between sister taxa widen the interval of both (assignment ambiguity).

    Percentiles of the replicates give confidence intervals; a taxon whose reads are contested
    with a sister therefore never gets a tight interval, while a well-separated taxon keeps the
    read-resampling width. The generator is seeded, so results are reproducible.

    Memory (issue 11): the likelihoods of the kept taxa are scaled once for all replicates
    (kept with their columns and rows: 16 bytes per stored entry of the pooled rows, so
    reads placed for one taxon, most of an ONT sample's, cost nothing per read); a replicate's EM,
    posteriors and draws then run over row chunks (:func:`gutbrain.profile.chunks.row_chunks`)
    with the undrawn rows left in place at zero weight, so no per-replicate array grows with
    the number of entries. The replicates are bit-identical to running EM on a copy of the
    drawn rows (for finite log-likelihoods), at the cost of EM steps over every row.

    References
    ----------
    Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall.
    """
    keep = abundance > 0
    out = np.zeros((replicates, matrix.n_taxa))
    pooled = pool_single_rows(matrix, keep)
    prep, rows_kept = _prepare(pooled.log_likelihood, keep)
    if prep.n_rows == 0 or replicates <= 0:
        return out
    weights = pooled.weights[rows_kept]
    del pooled
    rng = np.random.default_rng(seed)
    total = round(float(weights.sum()))
    p = weights / weights.sum()
    del weights  # only p is needed from here
    kept = np.flatnonzero(keep)
    for b in range(replicates):
        w = rng.multinomial(total, p).astype(np.float64)
        drawn_rows = w > 0
        start = np.zeros(matrix.n_taxa)
        start[kept] = abundance[kept] * rng.exponential(size=kept.size)
        fitted = (
            _em(prep, w, initial=start, max_iter=max_iter, tol=tol, active=drawn_rows).abundance
            if drawn_rows.any()
            else np.zeros(matrix.n_taxa)
        )
        drawn = _draw_assignments(prep, fitted, w, drawn_rows, rng)
        out[b] = drawn / drawn.sum() if drawn.sum() > 0 else fitted
    return out
