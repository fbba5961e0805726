"""The one door to minimap2 (through :mod:`mappy`): presets, index checks, parallel mapping.

Every alignment gutbrain makes goes through this module. Hits come back as a columnar
:class:`HitTable` (numpy arrays, one element per alignment) so nothing downstream loops over hits
in Python.

Error counts are derived from mappy's summary fields, without walking the CIGAR in Python:
for an alignment with ``M`` aligned columns (matches + mismatches ``X``), ``I`` inserted and
``D`` deleted bases, ``q_en - q_st = M + I``, ``r_en - r_st = M + D``, ``mlen = M - X`` and
``NM = X + I + D``. Hence ``NM = (q_en - q_st) - mlen + D``, so
``D = NM - (q_en - q_st) + mlen``, ``I = D + (q_en - q_st) - (r_en - r_st)`` and
``X = NM - I - D``; soft clips are ``q_st + (qlen - q_en)``. (mappy's ``blen`` is *not* used: it
was measured to omit the insertions on some alignments with mappy 2.31.) A test checks these
against the CIGAR of real alignments.

Parallelism uses forked worker processes. ``mappy.Aligner.map`` releases the GIL while it maps
(minimap2 pull request #195; ``benchmarks/bench_mappy_threads.py``: two threads map in ~0.6 of
one thread's wall time), but a whole profile run with a thread pool cost more CPU than with
forked workers (issue 11, docs/profile.md "Threads or processes"). The index is loaded once in
the parent; forked workers share it copy-on-write.

References
----------
Li, H. (2018). Minimap2: pairwise alignment for nucleotide sequences. *Bioinformatics* 34,
3094–3100.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.pool
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import mappy
import numpy as np
import numpy.typing as npt

from gutbrain.errors import ErrorCode, ReferenceDatabaseError

__all__ = [
    "ALIGNMENT_PRESETS",
    "HIFI_SCORING",
    "ONT_SCORING",
    "AlignmentSettings",
    "HitTable",
    "align_batches",
    "align_sequences",
    "mappy_version",
    "open_aligner",
    "open_sequence_aligner",
    "open_subset_aligner",
    "shares_index",
    "write_index",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlignmentSettings:
    """minimap2 options for one read technology.

    ``preset`` is a minimap2 preset (``lr:hq``, ``map-hifi``, ``sr``); ``k``/``w`` override its
    minimizer size and window (they must match a prebuilt index); ``best_n`` caps the
    secondary alignments per read (Emu keeps 50 with ``map-ont``; ``lr:hq`` caps repetitive
    seeds, so fewer, better candidates come back); ``bandwidth`` is the DP band.
    ``rescue_preset`` names an uncapped preset used, on the same index, only for reads the
    main preset leaves without any hit. ``max_chain_skip`` is minimap2's limit on
    non-improving predecessors tried per anchor while chaining. ``scoring`` is minimap2's
    ``(a, b, q, e, q2, e2)`` (match, mismatch, gap open/extend of the two affine gap costs);
    ``q2 == q, e2 == e`` makes the gap cost single-affine, which minimap2 aligns with a faster
    kernel (``ksw_extz2`` instead of ``ksw_extd2``).
    """

    preset: str
    k: int | None = None
    w: int | None = None
    best_n: int = 10
    bandwidth: int | None = None
    min_chain_score: int | None = None
    min_dp_score: int | None = None
    rescue_preset: str | None = None
    scoring: tuple[int, int, int, int, int, int] | None = None
    max_chain_skip: int | None = None

    def rescue_settings(self) -> AlignmentSettings | None:
        """Settings of the rescue aligner (same index, uncapped preset), if any."""
        if self.rescue_preset is None:
            return None
        return AlignmentSettings(self.rescue_preset, k=self.k, w=self.w, best_n=self.best_n)

    def aligner_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`mappy.Aligner`."""
        options: dict[str, Any] = {"preset": self.preset, "best_n": self.best_n}
        if self.k is not None:
            options["k"] = self.k
        if self.w is not None:
            options["w"] = self.w
        if self.bandwidth is not None:
            options["bw"] = self.bandwidth
            options["bw_long"] = self.bandwidth
        if self.min_chain_score is not None:
            options["min_chain_score"] = self.min_chain_score
        if self.min_dp_score is not None:
            options["min_dp_score"] = self.min_dp_score
        if self.scoring is not None:
            options["scoring"] = list(self.scoring)
        if self.max_chain_skip is not None:
            options["max_chain_skip"] = self.max_chain_skip
        return options

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary for provenance (JSON types: the scoring tuple becomes a list)."""
        return {
            f.name: list(value) if isinstance(value, tuple) else value
            for f in fields(self)
            for value in [getattr(self, f.name)]
        }


#: ``map-ont``/``lr:hq`` scoring with the long-gap cost (q2=24, e2=1) set to the short one
#: (q=4, e=2): single-affine gaps, faster DP kernel; 16S reads have no long indels to gain from.
ONT_SCORING: tuple[int, int, int, int, int, int] = (2, 4, 4, 2, 4, 2)
#: ``map-hifi`` scoring (a=1, b=4, q=6, e=2, q2=26, e2=1) made single-affine the same way.
HIFI_SCORING: tuple[int, int, int, int, int, int] = (1, 4, 6, 2, 6, 2)

#: Read technology -> minimap2 settings. ``lr:hq`` caps over-frequent minimizers (conserved 16S
#: regions), which is where Emu's ``map-ont`` spends its time. The DP band of 75 and the
#: single-affine scoring were measured on the benchmark sets (docs/profile-history.md): ~1.35x
#: faster with the same species and genus L1 within 0.001. ``max_chain_skip=2`` (minimap2's
#: default 25) stops the chaining DP's search for predecessors sooner: the same alignments on
#: the benchmark sets, 5 % (ONT) to 20 % (HiFi) less CPU.
ALIGNMENT_PRESETS: dict[str, AlignmentSettings] = {
    "ont": AlignmentSettings(
        "lr:hq",
        k=15,
        w=10,
        best_n=10,
        bandwidth=75,
        rescue_preset="map-ont",
        scoring=ONT_SCORING,
        max_chain_skip=2,
    ),
    # HiFi: map-hifi (k=19, w=19) kept the accuracy of the gut HiFi set at lr:hq's speed
    "hifi": AlignmentSettings(
        "map-hifi", best_n=10, bandwidth=75, scoring=HIFI_SCORING, max_chain_skip=2
    ),
    "short": AlignmentSettings("sr", best_n=20),
}


def mappy_version() -> str:
    """The mappy (minimap2) version string."""
    return str(getattr(mappy, "__version__", "unknown"))


#: A :class:`HitTable` integer column: built from any signed integers, stored as ``int32``
#: (issue 11).
HitColumn = npt.NDArray[np.signedinteger[Any]]
_INT32 = np.iinfo(np.int32)
_INT_COLUMNS = (
    "read",
    "ref",
    "query_start",
    "query_end",
    "query_length",
    "ref_start",
    "ref_end",
    "matches",
    "block_length",
    "edit_distance",
)


def _as_int32(values: npt.NDArray[Any], name: str) -> HitColumn:
    """``values`` as ``int32`` (no copy when they are already); ``OverflowError`` if any does
    not fit."""
    array = np.asarray(values)
    if array.dtype == np.int32:
        return array
    if array.size and (int(array.min()) < _INT32.min or int(array.max()) > _INT32.max):
        message = f"hit column {name!r} holds a value outside the int32 range"
        raise OverflowError(message)
    return array.astype(np.int32)


@dataclass(frozen=True, slots=True)
class HitTable:
    """Alignments in columns; row ``i`` of every array describes hit ``i``.

    ``read`` indexes the query batch given to the aligner; ``ref`` indexes the aligner's
    ``seq_names``. ``primary`` is minimap2's primary flag (supplementary alignments of a
    chimeric read are primary too, with disjoint query spans).

    The integer columns are stored as ``int32`` and ``primary`` as ``bool`` whatever they are
    built from (issue 11: 41 bytes per hit instead of 81; positions and indices fit, a value
    outside the ``int32`` range raises ``OverflowError`` rather than wrapping). Every value
    derived from them is the same as from ``int64`` columns: sums and products that could
    overflow are taken in ``float64`` (likelihoods) and reductions widen to the platform
    integer.
    """

    read: HitColumn
    ref: HitColumn
    query_start: HitColumn
    query_end: HitColumn
    query_length: HitColumn
    ref_start: HitColumn
    ref_end: HitColumn
    matches: HitColumn  # mappy mlen: matching bases
    block_length: HitColumn  # mappy blen (kept for reference; not used, see module docstring)
    edit_distance: HitColumn  # NM: mismatches + inserted + deleted bases
    primary: npt.NDArray[np.bool_]

    def __post_init__(self) -> None:
        # issue 11 (mem2): compact storage, checked so that nothing wraps silently
        for name in _INT_COLUMNS:
            object.__setattr__(self, name, _as_int32(getattr(self, name), name))
        if self.primary.dtype != np.bool_:
            object.__setattr__(self, "primary", np.asarray(self.primary, dtype=np.bool_))

    def __len__(self) -> int:
        return int(self.read.size)

    @classmethod
    def empty(cls) -> HitTable:
        """A table with no hits."""
        z = np.zeros(0, dtype=np.int32)
        return cls(z, z, z, z, z, z, z, z, z, z, np.zeros(0, dtype=bool))

    @classmethod
    def concat(cls, tables: Sequence[HitTable]) -> HitTable:
        """Concatenate tables row-wise (read indices are taken as they are)."""
        if not tables:
            return cls.empty()
        columns = {
            f.name: np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(cls)
        }
        return cls(**columns)

    def shifted(self, offset: int) -> HitTable:
        """The same hits with ``offset`` added to every read index."""
        return replace(self, read=self.read + offset)

    def take(self, index: npt.NDArray[Any]) -> HitTable:
        """Rows selected by an index or boolean mask."""
        return HitTable(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def deletions(self) -> HitColumn:
        """``D = NM - (q_en - q_st) + mlen``: reference bases missing from the read."""
        span = self.query_end - self.query_start
        result: HitColumn = np.maximum(self.edit_distance - span + self.matches, 0)
        return result

    @property
    def insertions(self) -> HitColumn:
        """``I = D + (q_en - q_st) - (r_en - r_st)``: read bases not in the reference."""
        diff = (self.query_end - self.query_start) - (self.ref_end - self.ref_start)
        result: HitColumn = np.maximum(self.deletions + diff, 0)
        return result

    @property
    def aligned_columns(self) -> HitColumn:
        """``M = (q_en - q_st) - I``: aligned read/reference base pairs (matches + mismatches)."""
        result: HitColumn = (self.query_end - self.query_start) - self.insertions
        return result

    @property
    def mismatches(self) -> HitColumn:
        """``X = NM - I - D`` (never negative)."""
        result: HitColumn = np.maximum(self.edit_distance - self.insertions - self.deletions, 0)
        return result

    @property
    def soft_clips(self) -> HitColumn:
        """Read bases outside the alignment: ``q_st + (qlen - q_en)``."""
        return self.query_start + (self.query_length - self.query_end)

    @property
    def identity(self) -> npt.NDArray[np.float64]:
        """BLAST-like identity ``mlen / (M + I + D)`` (matching bases over alignment columns)."""
        columns = self.aligned_columns + self.insertions + self.deletions
        result: npt.NDArray[np.float64] = self.matches / np.maximum(columns, 1)
        return result

    @property
    def query_coverage(self) -> npt.NDArray[np.float64]:
        """Fraction of the read inside the alignment."""
        return (self.query_end - self.query_start) / np.maximum(self.query_length, 1)


def open_aligner(
    reference: str | Path, *, settings: AlignmentSettings, threads: int = 1
) -> mappy.Aligner:
    """Load a minimap2 index (``.mmi``) or build one from a FASTA, and check it is usable.

    mappy fails quietly: a missing path gives a falsy Aligner and an empty or garbage reference
    a truthy one with no sequences (RELIABILITY.md §0 item 2), so both are checked here.

    Raises
    ------
    ReferenceDatabaseError
        When the reference cannot be opened or holds no sequences.
    """
    path = Path(reference)
    if not path.is_file():
        message = f"{path}: reference index or FASTA not found; rebuild the reference bundle"
        raise ReferenceDatabaseError(message)
    aligner = mappy.Aligner(str(path), n_threads=max(1, threads), **settings.aligner_options())
    if not aligner or aligner.n_seq == 0:
        message = (
            f"{path}: minimap2 loaded no reference sequences (empty, corrupt or not FASTA/.mmi); "
            "rebuild or re-import the reference"
        )
        raise ReferenceDatabaseError(message)
    return aligner


def open_subset_aligner(
    source: mappy.Aligner,
    names: Sequence[str],
    *,
    settings: AlignmentSettings,
    index_out: Path | None = None,
) -> mappy.Aligner:
    """Build an in-memory index of the references ``names`` only, with ``settings``.

    The sequences come from ``source``'s index (a ``.mmi`` keeps them), so the bundle's FASTA
    is not read again. A few hundred references index in milliseconds, where the whole
    reference takes seconds: the profiler's second pass uses this for the references its
    first estimate points to. The FASTA minimap2 reads is written to a temporary folder that
    is removed before this returns. With ``index_out``, minimap2 also writes the index there
    (issue 11, secondpass: an aligner with other mapping settings loads it with
    :func:`open_aligner` instead of indexing again, when :func:`shares_index` says the index
    options agree).

    Raises
    ------
    ReferenceDatabaseError
        When ``names`` is empty or names a sequence that ``source`` does not hold.
    """
    if not names:
        message = "no reference sequences given for a subset index"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    with tempfile.TemporaryDirectory(prefix="gutbrain-subset-") as tmp:
        fasta = Path(tmp) / "subset.fasta"
        with open(fasta, "w", encoding="ascii") as handle:
            for name in names:
                sequence = source.seq(name)
                if not sequence:
                    message = (
                        f"reference {name!r} has no sequence in the minimap2 index; "
                        "rebuild the index (gutbrain db index)"
                    )
                    raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
                handle.write(f">{name}\n{sequence}\n")
        out = {} if index_out is None else {"fn_idx_out": str(index_out)}  # issue 11 (secondpass)
        aligner = mappy.Aligner(str(fasta), **settings.aligner_options(), **out)
    if not aligner or aligner.n_seq != len(names):
        message = f"minimap2 could not index the {len(names)} references of a subset index"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    return aligner


#: minimap2 presets whose index is built on homopolymer-compressed sequence (``-H``).
_HPC_PRESETS = frozenset({"map-pb", "ava-pb"})


def shares_index(built: AlignmentSettings, other: AlignmentSettings) -> bool:
    """Whether an index built with ``built`` is the one ``other`` would build (issue 11,
    secondpass): both name ``k`` and ``w``, the same, and neither or both presets compress
    homopolymers. Mapping options (chaining, band, scoring, ``best_n``) may differ: minimap2
    takes them from the aligner, not from the index.

    Examples
    --------
    >>> ont = ALIGNMENT_PRESETS["ont"]
    >>> shares_index(ont, ont.rescue_settings())
    True
    >>> shares_index(ALIGNMENT_PRESETS["hifi"], ont)
    False
    """
    return (
        built.k is not None
        and built.w is not None
        and (built.k, built.w) == (other.k, other.w)
        and (built.preset in _HPC_PRESETS) == (other.preset in _HPC_PRESETS)
    )


def open_sequence_aligner(sequence: str, *, settings: AlignmentSettings) -> mappy.Aligner | None:
    """An in-memory minimap2 index of one reference sequence, with ``settings`` (issue 11:
    :mod:`gutbrain.profile.member_align`); ``None`` when minimap2 indexes nothing (an empty
    sequence). Its one sequence is named by mappy (``seq_names``)."""
    aligner = mappy.Aligner(seq=sequence, **settings.aligner_options())
    if not aligner or aligner.n_seq != 1:
        return None
    return aligner


def align_sequences(
    aligner: mappy.Aligner,
    sequences: Sequence[str],
    ref_index: dict[str, int] | None = None,
    *,
    rescue: mappy.Aligner | None = None,
) -> HitTable:
    """Map each sequence; return every hit (primary, supplementary and secondary).

    A read without any hit is mapped again with ``rescue`` (an aligner over the same index with
    an uncapped preset such as ``map-ont``), when given.
    """
    if ref_index is None:
        ref_index = {name: i for i, name in enumerate(aligner.seq_names)}
    buffer = mappy.ThreadBuffer()
    cols: list[list[int]] = [[] for _ in range(10)]
    primary: list[bool] = []
    (c_read, c_ref, c_qs, c_qe, c_ql, c_rs, c_re, c_ml, c_bl, c_nm) = cols
    for i, seq in enumerate(sequences):
        qlen = len(seq)
        found = list(aligner.map(seq, buf=buffer))
        if not found and rescue is not None:
            found = list(rescue.map(seq, buf=buffer))
        for hit in found:
            c_read.append(i)
            c_ref.append(ref_index[hit.ctg])
            c_qs.append(hit.q_st)
            c_qe.append(hit.q_en)
            c_ql.append(qlen)
            c_rs.append(hit.r_st)
            c_re.append(hit.r_en)
            c_ml.append(hit.mlen)
            c_bl.append(hit.blen)
            c_nm.append(hit.NM)
            primary.append(bool(hit.is_primary))
    a = [np.asarray(c, dtype=np.int64) for c in cols]
    return HitTable(
        read=a[0],
        ref=a[1],
        query_start=a[2],
        query_end=a[3],
        query_length=a[4],
        ref_start=a[5],
        ref_end=a[6],
        matches=a[7],
        block_length=a[8],
        edit_distance=a[9],
        primary=np.asarray(primary, dtype=bool),
    )


# --- process pool -------------------------------------------------------------------------
_WORKER_ALIGNER: mappy.Aligner | None = None
_WORKER_INDEX: dict[str, int] | None = None
_WORKER_RESCUE: mappy.Aligner | None = None


def _worker_init() -> None:
    """Workers leave interrupts to the parent, which tears the pool down.

    A worker killed by a signal meant for the whole job (Ctrl-C, ``kill -TERM -PGID``) while it
    waits for work dies holding the pool's task-queue lock, and ``Pool.terminate`` then waits
    for that lock forever. So workers leave the job's process group and ignore SIGINT; the
    parent's SIGTERM (``Pool.terminate``) still stops them at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _held_signals() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of acting on them; yields the list of signals held.

    Python runs signal handlers in the main thread between bytecodes, wherever it is: inside
    ``fork``'s at-fork hooks an exception is swallowed (the interrupt would be lost), and inside
    ``Pool.__init__`` it would leave the forked workers unguarded. Only the main thread may set
    handlers; elsewhere nothing is held.
    """
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    owner = os.getpid()

    def hold(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a worker before its initializer: the pool is stopping it
            if signum == signal.SIGTERM:
                os._exit(128 + signum)
            return
        held.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in _STOP_SIGNALS}
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _worker_pool(processes: int) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of forked workers, terminated on leaving (also on Ctrl-C or SIGTERM).

    Signals that arrive while the workers are forked are held (:func:`_held_signals`) and
    delivered again once the pool is guarded by the ``try``/``finally``.

    Issue 11 (secondpass): the parent's objects are frozen (``gc.freeze``, after a collection
    so that no garbage is frozen) while the workers are forked, so that the workers' garbage
    collections do not walk them: a walk writes to every object's header and makes the worker
    copy each page it touches (gut_ont_5k, ``--threads 2``: ~13,000 page faults in the workers
    without, ~3,700 with). The parent unfreezes them at once; only the workers' copies stay
    frozen.
    """
    context = multiprocessing.get_context("fork")
    with _held_signals() as held:
        gc.collect()
        gc.freeze()
        try:
            pool = context.Pool(processes=processes, initializer=_worker_init)
        finally:
            gc.unfreeze()
    try:
        for signum in dict.fromkeys(held):
            os.kill(os.getpid(), signum)
        yield pool
    finally:
        _stop_pool(pool)


#: Seconds ``Pool.terminate`` may take before the workers are killed outright.
_STOP_SECONDS = 5.0


def _stop_pool(pool: multiprocessing.pool.Pool) -> None:
    """Terminate the pool; if that stalls (a worker died holding the task-queue lock, a known
    ``multiprocessing`` hazard), kill the workers with SIGKILL so the run can still end."""
    stopper = threading.Thread(target=pool.terminate, name="gutbrain-pool-stop", daemon=True)
    stopper.start()
    stopper.join(timeout=_STOP_SECONDS)
    if stopper.is_alive():
        logger.debug("worker pool did not stop in %.0f s; killing its workers", _STOP_SECONDS)
        for worker in list(getattr(pool, "_pool", [])):  # Pool keeps its processes there
            with contextlib.suppress(OSError, AttributeError):
                worker.kill()
        stopper.join(timeout=_STOP_SECONDS)


def _worker_align(sequences: list[str]) -> HitTable:
    assert _WORKER_ALIGNER is not None
    return align_sequences(_WORKER_ALIGNER, sequences, _WORKER_INDEX, rescue=_WORKER_RESCUE)


def align_batches(
    aligner: mappy.Aligner,
    batches: Iterable[list[str]],
    *,
    processes: int = 1,
    on_batch: Callable[[int], None] | None = None,
    rescue: mappy.Aligner | None = None,
) -> Iterator[HitTable]:
    """Map batches of sequences, in order, with up to ``processes`` forked worker processes.

    Batches are pulled lazily with a bounded number in flight, so memory stays bounded and an
    error raised by the batch iterator (a truncated file) surfaces here, in the caller.
    ``on_batch(n)`` is called with each finished batch's size. Yields one :class:`HitTable` per
    batch with batch-local read indices.
    """
    global _WORKER_ALIGNER, _WORKER_INDEX, _WORKER_RESCUE
    ref_index = {name: i for i, name in enumerate(aligner.seq_names)}
    use_pool = processes > 1 and "fork" in multiprocessing.get_all_start_methods()
    if not use_pool:
        for batch in batches:
            table = align_sequences(aligner, batch, ref_index, rescue=rescue)
            if on_batch is not None:
                on_batch(len(batch))
            yield table
        return
    _WORKER_ALIGNER, _WORKER_INDEX, _WORKER_RESCUE = aligner, ref_index, rescue
    try:
        # Leaving the ``with`` (also on Ctrl-C or SIGTERM in the parent) terminates the workers.
        with _worker_pool(processes) as pool:
            pending: collections.deque[tuple[int, Any]] = collections.deque()
            for batch in batches:
                pending.append((len(batch), pool.apply_async(_worker_align, (batch,))))
                while len(pending) >= 2 * processes:
                    size, job = pending.popleft()
                    table = job.get()
                    if on_batch is not None:
                        on_batch(size)
                    yield table
            while pending:
                size, job = pending.popleft()
                table = job.get()
                if on_batch is not None:
                    on_batch(size)
                yield table
    finally:
        _WORKER_ALIGNER, _WORKER_INDEX, _WORKER_RESCUE = None, None, None


def default_processes(threads: int) -> int:
    """Worker processes for ``threads`` requested (at most the CPUs available)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(threads, available))


def write_index(
    source: Path, target: Path, *, preset: str, k: int | None = None, w: int | None = None
) -> int:
    """Build a minimap2 index of the FASTA ``source`` into ``target``; return its sequence count.

    Returns 0 when mappy cannot read ``source`` (it fails quietly, see :func:`open_aligner`).
    """
    aligner = mappy.Aligner(fn_idx_in=str(source), preset=preset, k=k, w=w, fn_idx_out=str(target))
    n_seq = int(aligner.n_seq) if aligner else 0
    del aligner
    return n_seq
