"""The collect stage of :func:`gutbrain.profile.pipeline.profile_sample`: stream, filter,
collapse and align the reads.

Reads are streamed and validated (:func:`gutbrain.io.reads.iter_sample_reads`; two mate files
are merged first, :mod:`gutbrain.profile.pairs`), filtered by the read QC preset, and collapsed
into distinct sequences (each is aligned once and counted with its multiplicity; HiFi data has
many duplicates). The k-mer pre-screen (:mod:`gutbrain.profile.kmer_screen`) places the
distinct reads whose species is clear without aligning them; minimap2 aligns the rest in
worker processes (:mod:`gutbrain.profile.align`). Nothing is returned until the reads are
exhausted, so a truncated input raises before anything is committed.
"""

from __future__ import annotations

import collections
import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain.io.keyindex import KeyIndex
from gutbrain.io.readqc import QCSettings, ReadFilter, check_reads_kept
from gutbrain.io.reads import ReadStats, iter_sample_reads
from gutbrain.model import ReadQC
from gutbrain.profile.align import HitTable, align_batches
from gutbrain.profile.aligners import Aligners
from gutbrain.profile.hit_spool import HitSpool
from gutbrain.profile.kmer_rows import RowScorer, kmer_row_hits
from gutbrain.profile.kmer_screen import KmerIndex
from gutbrain.profile.member_align import MemberAligner
from gutbrain.profile.pairs import MergeSettings, MergeStats, is_read_pair, merge_read_pairs
from gutbrain.profile.readstate import ReadLog, SequenceSpool
from gutbrain.profile.settings import ProfileSettings

__all__ = ["Collected", "collect_reads"]

logger = logging.getLogger(__name__)

_BATCH = 256
_SCREEN_BATCH = 512  # distinct reads per k-mer screen call (1,024: 12 MiB more peak, same CPU)
#: How the screen placed a distinct read (bits; none: left to mappy): decided outright (with
#: its ties), by k-mer likelihood rows, aligned to its species group's members only.
_DECIDED, _KMER_ROW, _MEMBERS = np.uint8(1), np.uint8(2), np.uint8(4)


@dataclass(frozen=True, slots=True)
class Collected:
    """A sample's reads after QC, collapsing, screening and alignment.

    ``log`` holds each distinct read's multiplicity and, only when read names were asked for,
    each input read's name and outcome (:class:`~gutbrain.profile.readstate.ReadLog`: nothing
    per input read otherwise). ``hit_spool`` holds the alignments of the ``n_unique`` distinct
    reads on disk (stand-ins for screened ones, ``screened`` per distinct read; issue 11: read
    back a window of reads at a time, :mod:`gutbrain.profile.hit_spool`); ``sequences`` keeps
    the reads on disk for a second pass (``None`` without one). ``pairs`` counts the mate
    merging of two mate files (``None`` otherwise).
    """

    log: ReadLog
    n_unique: int
    hit_spool: HitSpool  # issue 11: closed by the fit stage, the hits' last reader
    qc: ReadQC
    sequences: SequenceSpool | None  # distinct sequences on disk (only with a second pass)
    screened: npt.NDArray[np.bool_]  # per distinct read: assigned by the k-mer screen
    pairs: MergeStats | None = None
    #: per distinct read: placed by a k-mer likelihood row (a subset of ``screened``)
    kmer_rows: npt.NDArray[np.bool_] | None = None
    #: per distinct read: aligned to its species group's members only (issue 11; not screened)
    members: npt.NDArray[np.bool_] | None = None

    @property
    def hits(self) -> HitTable:
        """The distinct reads' first-pass hits in one table, ordered by read (tests and small
        samples; ``RuntimeError`` once the spool is closed)."""
        return self.hit_spool.load()

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """Per distinct read, how many kept input reads it stands for."""
        return self.log.weights()

    def pair_parameters(self) -> dict[str, Any]:
        """``{"read_pairs": merge rules}`` for provenance when mates were merged, else ``{}``."""
        if self.pairs is None:
            return {}
        rules = MergeSettings()
        return {
            "read_pairs": {
                "merge": "overlap, posterior base qualities (gutbrain.profile.pairs)",
                "min_overlap": rules.min_overlap,
                "max_differences": rules.max_differences,
                "min_difference_quality": rules.min_difference_quality,
                "max_expected_errors": rules.max_expected_errors,
                "unmerged": "profiled by the forward read",
            }
        }


def collect_reads(
    paths: Sequence[Path],
    aligners: Aligners,
    *,
    settings: ProfileSettings,
    qc_settings: QCSettings,
    processes: int,
    progress: Callable[[float, float | None], None] | None = None,
    keep_names: bool = True,
) -> Collected:
    """Stream the reads of ``paths`` (one sample) through QC, the screen and the aligner.

    Raises
    ------
    InputFormatError, InputMissingError, EmptyInputError
        Unreadable or malformed reads; ``GB-QC-NOREADS`` when no read passes QC.
    """
    stats = ReadStats()
    qc_filter = ReadFilter(qc_settings, stats=stats)
    # two FASTQ files whose reads are mates: merged pairs (gutbrain.profile.pairs)
    pairs = MergeStats() if is_read_pair(paths) else None
    collected = _collect(
        paths,
        aligner=aligners.aligner,
        rescue=aligners.rescue,
        settings=settings,
        qc_filter=qc_filter,
        stats=stats,
        processes=processes,
        progress=progress,
        pairs=pairs,
        screen=aligners.screen,
        keep_names=keep_names,
        ref_unit=aligners.taxa.ref_unit,
    )
    check_reads_kept(collected.qc, settings=qc_settings, source=paths[0])
    return collected


def _collect(
    read_paths: Sequence[str | Path],
    *,
    aligner: Any,
    rescue: Any,
    settings: ProfileSettings,
    qc_filter: ReadFilter,
    stats: ReadStats,
    processes: int,
    progress: Callable[[float, float | None], None] | None,
    pairs: MergeStats | None = None,
    screen: tuple[KmerIndex, npt.NDArray[np.int64]] | None = None,
    keep_names: bool = True,
    ref_unit: npt.NDArray[np.int64] | None = None,
) -> Collected:
    total_bytes = float(sum(Path(p).stat().st_size for p in read_paths)) or None
    # issue 11: no per-read Python objects past their batch (names only for read_assignments)
    log = ReadLog(keep_names=keep_names)
    # issue 11: 128-bit sequence digests in sorted runs (24 bytes per distinct read), on disk
    # when many (gutbrain.io.keyindex)
    seen = KeyIndex(words=2)
    # distinct-read ids of each sub-batch sent to mappy, in order (tables come back in order)
    pending: collections.deque[npt.NDArray[np.int64]] = collections.deque()
    # issue 11: every hit goes to disk as it comes (mappy's tables, stand-ins, member hits)
    spool = HitSpool()
    # issue 11: how each distinct read was placed, one byte each (_DECIDED, _KMER_ROW, _MEMBERS)
    placed_by = bytearray()
    scorer = _row_scorer(aligner, screen, ref_unit)
    # issue 11 (members): group near-ties aligned to the group's members only
    to_members = (
        MemberAligner.for_index(aligner, ref_unit, settings.alignment)
        if screen is not None and screen[0].settings.member_alignment and ref_unit is not None
        else None
    )
    sequences = SequenceSpool() if settings.second_pass is not None else None

    def aligned(batch: list[str], start: int) -> list[str]:
        """The reads of ``batch`` (distinct reads ``start``...) the screen leaves to mappy."""
        ids = np.arange(start, start + len(batch), dtype=np.int64)
        how = np.zeros(len(batch), dtype=np.uint8)  # the batch's share of placed_by
        if screen is not None:
            index, unit_group = screen
            result = index.screen(
                batch,
                unit_group=unit_group,
                group_identity_margin=settings.group_identity_margin,
            )
            chosen = result.decided
            if scorer is not None and result.row.any():  # issue 11: k-mer likelihood rows
                placed = scorer.rows(
                    result,
                    batch,
                    unit_group=unit_group,
                    group_identity_margin=settings.group_identity_margin,
                )
                if placed.row.any():
                    spool.append(kmer_row_hits(placed, ids, batch, index.unit_reference))
                    how[placed.row] |= _KMER_ROW
                    chosen = chosen | placed.row
            if result.decided.any():
                lengths = np.fromiter((len(s) for s in batch), dtype=np.int64)
                hard = result.decided
                which = np.concatenate([np.nonzero(hard)[0], result.tied_read])
                units = np.concatenate([result.unit[hard], result.tied_unit])
                spool.append(
                    _screened_hits(
                        ids[which],
                        index.unit_reference[units],
                        lengths[which],
                        primary=np.arange(which.size) < int(hard.sum()),
                    )
                )
                how[which] |= _DECIDED
            if to_members is not None and result.members.any():  # issue 11 (members)
                done = to_members.align(batch, result)
                spool.append(replace(done.hits, read=ids[done.hits.read]))
                how[done.hits.read] |= _MEMBERS
                chosen = chosen | done.aligned
            if chosen.any():
                batch = [s for s, c in zip(batch, chosen.tolist(), strict=True) if not c]
                ids = ids[~chosen]
        placed_by.extend(how.tobytes())
        pending.extend(ids[i : i + _BATCH] for i in range(0, ids.size, _BATCH))
        return batch

    def batches() -> Iterator[list[str]]:
        batch: list[str] = []
        start = 0
        size = _SCREEN_BATCH if screen is not None else _BATCH
        reads = (
            merge_read_pairs(read_paths[0], read_paths[1], stats=stats, merge_stats=pairs)
            if pairs is not None
            else iter_sample_reads(list(read_paths), stats=stats)
        )
        for read in reads:
            reason = qc_filter.classify(read)
            if reason is not None:
                log.dropped(read.name, reason)
                continue
            key = _digest(read.sequence)
            index = seen.number(key)
            if index is None:
                index = seen.add(key)
                batch.append(read.sequence)
                if sequences is not None:
                    sequences.append(read.sequence)
            log.kept(read.name, index)
            if len(batch) >= size:
                yield from _sub_batches(aligned(batch, start))
                start += len(batch)
                batch = []
        if batch:
            yield from _sub_batches(aligned(batch, start))

    def on_batch(_: int) -> None:
        if progress is not None:
            progress(float(stats.bytes_read), total_bytes)

    # each table renumbered to distinct reads and written to the spool as it arrives
    for table in align_batches(
        aligner, batches(), processes=processes, on_batch=on_batch, rescue=rescue
    ):
        spool.append(replace(table, read=pending.popleft()[table.read]))
    if pending:
        message = f"{len(pending)} alignment batches did not come back"
        raise RuntimeError(message)
    how_placed = np.frombuffer(placed_by, dtype=np.uint8)
    members = (how_placed & _MEMBERS) > 0
    kmer_rows = (how_placed & _KMER_ROW) > 0
    screened = (how_placed & (_DECIDED | _KMER_ROW)) > 0  # k-mer rows are screened reads too
    del how_placed
    if progress is not None:
        progress(float(total_bytes or 0.0), total_bytes)
    return Collected(
        log=log,
        n_unique=len(seen),
        hit_spool=spool,
        qc=qc_filter.summary(),
        sequences=sequences,
        screened=screened,
        pairs=pairs,
        kmer_rows=kmer_rows,
        members=members,
    )


def _digest(sequence: str) -> int:
    """A distinct read's key: the 128-bit BLAKE2b digest of its sequence (issue 11, mem2).

    Reads with equal digests are collapsed without comparing the sequences: for two different
    sequences the chance is 2**-128, and for a sample of n distinct reads about n**2 / 2**129
    (1e-21 for a billion reads), far below the rate of hardware memory errors.
    """
    return int.from_bytes(hashlib.blake2b(sequence.encode("ascii"), digest_size=16).digest())


def _row_scorer(
    aligner: Any, screen: tuple[KmerIndex, npt.NDArray[np.int64]] | None, ref_unit: Any
) -> RowScorer | None:
    """The k-mer row scorer (issue 11; :mod:`gutbrain.profile.kmer_rows`) when the screen's
    settings ask for rows; reference sequences come from the loaded minimap2 index."""
    if screen is None or not screen[0].settings.kmer_rows or ref_unit is None:
        return None
    names = list(aligner.seq_names)

    def reference(i: int) -> str:
        sequence = aligner.seq(names[i])  # None for an index without sequences: no k-mers
        return str(sequence) if sequence is not None else ""

    return RowScorer(reference, np.asarray(ref_unit, dtype=np.int64), screen[0].settings)


def _sub_batches(batch: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(batch), _BATCH):
        yield batch[i : i + _BATCH]


def _screened_hits(
    reads: npt.NDArray[np.int64],
    references: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    *,
    primary: npt.NDArray[np.bool_],
) -> HitTable:
    """Stand-in hits of screened reads: a unit's first reference, whole read, no errors; one
    primary per read (its unit), secondary ones for the group members it ties with.

    Screened reads are left out of the error model and their candidates get log L = 0
    (:func:`_estimate`); the stand-ins carry the units through classification, EM and the
    species-group rule (tied members match with equal identity: contested).
    """
    zero = np.zeros(reads.size, dtype=np.int64)
    return HitTable(
        read=reads,
        ref=references.astype(np.int64),
        query_start=zero,
        query_end=lengths,
        query_length=lengths,
        ref_start=zero,
        ref_end=lengths,
        matches=lengths,
        block_length=lengths,
        edit_distance=zero,
        primary=primary,
    )
