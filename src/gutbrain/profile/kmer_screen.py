"""K-mer pre-screen: assign reads whose species is clear from exact k-mer evidence, unaligned.

Base-level alignment of every read to its ~10 candidate references is what costs most of a
profile. Most 16S reads, though, share far more exact k-mers with one species than with any
other; those reads need no alignment to be placed. The screen finds them, in batches of reads
processed with numpy (no per-read Python work), and leaves everything else to minimap2.

**Index.** Every k-mer of the reference sequences (2-bit packed into a ``uint64``) is *sampled*
when a hash of its first 8 bases falls in ``1/scale`` of the hash space (a FracMinHash-like
sketch; Irber et al. 2022): a read k-mer is sampled exactly when the same k-mer of the reference
is, so the sample loses no matches, only resolution, and only sampled positions are packed in
full. Each sampled k-mer maps to the taxon units (species;
:class:`gutbrain.profile.taxonomy.TaxonIndex`) whose references hold it. A k-mer held by more
than ``max_units`` units (a conserved region) keeps no units: it only counts as *found* (the read
matches the reference there), never as evidence for a species. The index holds the references'
own strand; each read is looked up as it is and reverse-complemented, and the orientation with
the larger share of its k-mers found is the read's. Lookups bucket the k-mers' hashes by their
top bits (a table of bucket starts, then a few vectorised probes).

**Decision.** For a read with ``n`` sampled k-mers, ``found`` of them in the index and
``specific`` of those holding units, let ``best`` and ``second`` be the two largest numbers of
k-mers shared with one unit. The read is *decided* for the best unit when

- ``n >= min_kmers`` (enough evidence),
- ``found >= min_found * n`` (the read matches the reference over most of its length: low
  identity, non-16S and partial reads fail),
- ``best >= min_purity * specific`` (nearly all species-level evidence points to one unit:
  chimeras of two genera fail),
- ``best - second >= min_margin`` and ``best - second >= margin_fraction * best``
  (no near-tie), and
- the best unit is not one the caller asks to leave to alignment (members of a species group,
  whose merging rule needs alignment identities).

With ``kmer_rows`` (issue 11), a read that meets every condition but the margin against the
units outside its best unit's group is a candidate for a *k-mer row* in the EM
(:mod:`gutbrain.profile.kmer_rows` scores it and decides); every other read goes to minimap2
as before. With ``member_alignment`` (issue 11), a read that a group member in between left
undecided, with evidence and the margin over every unit outside the group, is marked for
alignment to the group's members only (:mod:`gutbrain.profile.member_align`).
A read that is an exact substring of one unit's
reference and of no other unit's is never decided for another unit: that unit holds every one of
the read's specific k-mers, so no other unit can have more (property test).

References
----------
Irber, L. et al. (2022). Lightweight compositional analysis of metagenomes with FracMinHash and
minimum metagenome covers. *bioRxiv* 2022.01.11.475838.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gutbrain._typing import IntArray
from gutbrain.errors import ErrorCode, OptionError, ReferenceDatabaseError
from gutbrain.profile.memory import release_freed_memory
from gutbrain.reference.bundle import ReferenceBundle, read_sequences
from gutbrain.reference.index import find_index, writable_index_folder

__all__ = [
    "KMER_INDEX_FORMAT",
    "KmerIndex",
    "ScreenResult",
    "ScreenSettings",
    "build_kmer_index",
    "ensure_kmer_index",
    "first_of_runs",
    "forget_bucket_tables",
    "kmer_row_errors",
    "reverse_complement",
    "sampled_kmers",
]

logger = logging.getLogger(__name__)

U64Array = npt.NDArray[np.uint64]

#: Bumped whenever the index layout or the sampling changes (part of the cache file name).
KMER_INDEX_FORMAT = 4

_CODE = np.full(256, 4, dtype=np.uint8)
for _letter, _value in zip(b"ACGTacgt", (0, 1, 2, 3, 0, 1, 2, 3), strict=True):
    _CODE[_letter] = _value
_CODE_TABLE = _CODE.tobytes()  # the same map for ``bytes.translate`` (issue 11: 3x faster)
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing (Knuth), odd: a bijection
_PREFIX = 8  # bases of the k-mer prefix whose hash decides sampling
_CHUNK_BASES = 500_000  # bases per vectorised chunk (bounds the temporary arrays to ~15 MB)
#: Strand probe (KmerIndex.strands): the k-mers a read's start must find on one strand, and by
#: what factor more than on the other, for the read to be screened on that strand alone.
_PROBE_MIN_FOUND = 3
_PROBE_RATIO = 4


@dataclass(frozen=True, slots=True)
class ScreenSettings:
    """K-mer size and sampling of the index, and the decision thresholds (module docstring)."""

    k: int = 21
    scale: int = 8
    max_units: int = 32
    min_kmers: int = 20
    min_found: float = 0.1
    min_purity: float = 0.5
    min_margin: int = 6
    margin_fraction: float = 0.2
    group_tie: float = 0.0
    group_apart: float = 2.0
    # issue 11: k-mer likelihood rows for the reads with evidence but no hard decision
    kmer_rows: bool = False
    row_candidates: int = 8
    row_k: int = 15
    row_scale: int = 4
    row_slope: float = 1.0
    row_min_bases: float = 4.0
    row_z: float = 2.0
    row_max_missing: float = 1.0
    # issue 11: align a group near-tie only to the group's members (gutbrain.profile.member_align)
    member_alignment: bool = False
    # issue 11: bases at the start of a read whose sampled k-mers, looked up on both strands,
    # tell which strand to screen (KmerIndex.strands); 0: screen both strands of every read
    strand_probe: int = 256

    def __post_init__(self) -> None:
        # k-mers are sampled by their first 8 bases, so below k=8 only scale 1 is consistent
        if (
            not (1 <= self.k <= 31)
            or self.scale < 1
            or self.max_units < 1
            or (self.k < _PREFIX and self.scale != 1)
            or not self.row_slope > 0
            or not 8 <= self.row_k <= 24
            or self.row_scale < 1
            or self.row_candidates < 1
            or not self.row_min_bases >= 0
            or not self.row_z >= 0
            or not self.row_max_missing >= 0
            or self.strand_probe < 0
        ):
            message = (
                f"k-mer screen settings k={self.k}, scale={self.scale}, "
                f"max_units={self.max_units}, row_k={self.row_k}, row_scale={self.row_scale}, "
                f"row_candidates={self.row_candidates}, row_slope={self.row_slope}, "
                f"row_min_bases={self.row_min_bases}, row_z={self.row_z}, "
                f"row_max_missing={self.row_max_missing}, strand_probe={self.strand_probe}: "
                "expected 1 <= k <= 31 (k >= 8 unless scale is 1), scale >= 1, "
                "max_units >= 1, 8 <= row_k <= 24, row_scale >= 1, row_candidates >= 1, "
                "row_slope > 0, row_min_bases >= 0, row_z >= 0, row_max_missing >= 0, "
                "strand_probe >= 0"
            )
            raise OptionError(message, code=ErrorCode.PROFILE_OPTIONS)

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary for provenance."""
        return asdict(self)


_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


@functools.lru_cache(maxsize=4)
def _prefix_keep(scale: int) -> npt.NDArray[np.bool_]:
    """Per 8-mer (2-bit packed): whether k-mers starting with it are sampled (cached: one
    table per scale for every chunk of a run; read-only)."""
    prefixes = np.arange(4**_PREFIX, dtype=np.uint64)
    hashed = (prefixes * _HASH_MULTIPLIER) >> np.uint64(32)
    result: npt.NDArray[np.bool_] = (hashed % np.uint64(scale)) == 0
    result.flags.writeable = False
    return result


def reverse_complement(sequence: str) -> str:
    """The reverse complement of a DNA sequence (other letters kept, reversed).

    Examples
    --------
    >>> reverse_complement("AACGN")
    'NCGTT'
    """
    return sequence.translate(_COMPLEMENT)[::-1]


def sampled_kmers(sequences: Sequence[str], *, k: int, scale: int) -> tuple[IntArray, U64Array]:
    """Sampled forward k-mers of ``sequences``: ``(sequence index, k-mer)`` per occurrence.

    K-mers are 2-bit packed (A=0, C=1, G=2, T=3, first base most significant); those holding
    a letter other than A/C/G/T are skipped. A k-mer is sampled when the hash of its first
    8 bases (``8-mer × 0x9E3779B97F4A7C15`` mod 2^64, top 32 bits) is divisible by ``scale``,
    so only those positions are packed in full. The index holds the reference strand; reads are
    looked up as they are and reverse-complemented (the strand with more k-mers found counts).

    Examples
    --------
    >>> read, kmer = sampled_kmers(["ACGTT", "AAN"], k=2, scale=1)
    >>> read.tolist(), [int(x) for x in kmer]  # AC, CG, GT, TT (AAN: one valid 2-mer, AA)
    ([0, 0, 0, 0, 1], [1, 6, 11, 15, 0])
    """
    reads: list[IntArray] = []
    kmers: list[U64Array] = []
    keep = _prefix_keep(scale)
    start = 0
    while start < len(sequences):
        stop, size = start, 0
        while stop < len(sequences) and (size < _CHUNK_BASES or stop == start):
            size += len(sequences[stop]) + 1
            stop += 1
        r, m = _sampled_chunk(sequences[start:stop], k=k, keep=keep)
        reads.append(r + start)
        kmers.append(m)
        start = stop
    if not reads:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(reads), np.concatenate(kmers)


def _sampled_chunk(
    sequences: Sequence[str], *, k: int, keep: npt.NDArray[np.bool_]
) -> tuple[IntArray, U64Array]:
    joined = ("\n".join(sequences) + "\n" * (k + _PREFIX)).encode("ascii", errors="replace")
    # issue 11 (speed only, same k-mers): bytes.translate and ndarray.take instead of fancy
    # indexing, and each k-mer's sequence from the sequence starts (np.repeat)
    codes = np.frombuffer(joined.translate(_CODE_TABLE), dtype=np.uint8)
    n = codes.size - k - _PREFIX
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    # 8-bit and 16-bit packing (half the memory traffic of 32-bit words)
    base = codes & np.uint8(3)
    two = (base[:-1] << np.uint8(2)) | base[1:]
    four = (two[:-2] << np.uint8(4)) | two[2:]
    # eight[i]: bases i..i+7 (padding reads as A)
    eight = (four[:-4].astype(np.uint16) << np.uint16(8)) | four[4:]
    sampled = keep.take(eight[:n])
    # a k-mer is valid when no non-ACGT letter (separators, N) lies inside it
    bad = np.flatnonzero(codes[: n + k - 1] > 3)  # the letters a k-mer starting below n holds
    if bad.size * k <= n:  # few such letters (16S): unmark the k starts each one hides
        hidden = (bad[:, np.newaxis] - np.arange(k)).ravel()
        sampled[hidden[(hidden >= 0) & (hidden < n)]] = False
        positions = np.flatnonzero(sampled)
    else:  # many: keep a start when the next such letter is at or after the k-mer's end
        candidates = np.flatnonzero(sampled)
        bad = np.append(bad, n + k - 1)
        positions = candidates[bad[np.searchsorted(bad, candidates)] >= candidates + k]
    kmer = np.zeros(positions.size, dtype=np.uint64)
    for j in range(0, k, _PREFIX):
        take = min(_PREFIX, k - j)
        part = eight.take(positions + j) >> np.uint16(2 * (_PREFIX - take))
        kmer = (kmer << np.uint64(2 * take)) | part.astype(np.uint64)
    lengths = np.fromiter((len(s) + 1 for s in sequences), dtype=np.int64, count=len(sequences))
    ends = np.cumsum(lengths)
    # positions are sorted: sequence i holds those below its end and at or after the previous
    per_sequence = np.diff(np.searchsorted(positions, ends), prepend=0)
    read = np.repeat(np.arange(len(sequences), dtype=np.int64), per_sequence)
    return read, kmer


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """Per read of a batch: the decided unit (``-1`` = align it) and the evidence behind it.

    ``(tied_read[i], tied_unit[i])`` are the other members of a decided read's species group
    that the read does not separate from its unit (the read is decided for the group).

    With ``settings.kmer_rows``, ``row`` marks the undecided reads that may get a *k-mer row*
    instead of an alignment (:mod:`gutbrain.profile.kmer_rows` scores and decides), and
    ``(row_read[i], row_unit[i])`` are their candidate units (one read's entries adjacent, best
    first). ``reverse`` marks the reads screened as their reverse complement.

    With ``settings.member_alignment``, ``members`` marks the undecided reads with good
    evidence whose best unit leads every unit outside its species group by the decision margin
    and that a member in between left to alignment: only the group's members are in question
    (:mod:`gutbrain.profile.member_align` aligns them to those members only).
    ``(member_read[i], member_unit[i])`` are their units to align to: the best unit and the
    members not separated from it (one read's entries adjacent, best first).
    """

    unit: IntArray
    best_unit: IntArray
    best: IntArray
    second: IntArray
    sampled: IntArray
    found: IntArray
    specific: IntArray
    tied_read: IntArray
    tied_unit: IntArray
    row: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    row_read: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row_unit: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    reverse: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    members: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    member_read: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    member_unit: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def decided(self) -> npt.NDArray[np.bool_]:
        """Reads assigned by the screen."""
        result: npt.NDArray[np.bool_] = self.unit >= 0
        return result


@dataclass(frozen=True, slots=True)
class KmerIndex:
    """Sampled k-mers of a reference and the taxon units holding each.

    ``hashes`` holds the k-mers' hashes (``k-mer × 0x9E3779B97F4A7C15`` mod 2^64, a
    bijection), sorted; the units of k-mer ``i`` are ``units[offsets[i]:offsets[i + 1]]``
    (empty for k-mers shared by more than ``settings.max_units`` units). ``unit_reference[u]``
    is the first reference (aligner order) of unit ``u``.
    """

    hashes: U64Array
    offsets: IntArray
    units: npt.NDArray[np.int32]
    unit_reference: IntArray
    settings: ScreenSettings

    @property
    def n_units(self) -> int:
        """Number of taxon units."""
        return int(self.unit_reference.size)

    def screen(
        self,
        sequences: Sequence[str],
        *,
        unit_group: npt.NDArray[np.int64] | None = None,
        group_identity_margin: float = 0.005,
    ) -> ScreenResult:
        """Decide the reads of ``sequences`` that k-mer evidence places (module docstring).

        ``unit_group`` gives each unit's species group (``-1``: none). A read whose best unit
        is in a group is compared with the best unit *outside* that group, and with each other
        member: the alignment rule calls a member contested when it matches the read within
        ``group_identity_margin`` (identity) of the best. In k-mers, ``d`` differing bases cost
        about ``d × e`` sampled k-mers, ``e = (k / scale) × found / sampled`` (k-mers per base
        times the share of the read's k-mers that survive its errors). With
        ``c = margin × length × e``, a member is *tied* (contested; the read is decided for the
        group) when it has fewer than ``group_tie × c`` k-mers less than the best,
        *separated* when it has at least ``group_apart × c`` (and the decision margin) less,
        and in between the read goes to alignment. ``group_tie`` is 0 by default (a read with
        a member near its best is aligned): 0.5 merged a group on gut_ont_5k that alignment
        keeps apart (the *L. casei* group; docs/profile-history.md).
        """
        s = self.settings
        n_reads = 2 * len(sequences)  # each read as it is, then its reverse complement
        # issue 11: a strand the probe rules out is screened as an empty sequence (no k-mers)
        forward, reverse = self.strands(sequences)
        both = [
            *(x if keep else "" for x, keep in zip(sequences, forward.tolist(), strict=True)),
            *(
                reverse_complement(x) if keep else ""
                for x, keep in zip(sequences, reverse.tolist(), strict=True)
            ),
        ]
        read, kmer = sampled_kmers(both, k=s.k, scale=s.scale)
        sampled = np.bincount(read, minlength=n_reads)
        hit, where = self._lookup(kmer * _HASH_MULTIPLIER)
        read, where = read[hit], where[hit]
        found = np.bincount(read, minlength=n_reads)
        first = self.offsets[where]
        count = self.offsets[where + 1] - first
        specific = np.bincount(read[count > 0], minlength=n_reads)
        total = int(count.sum())
        pair_read = np.repeat(read, count)
        shift = np.repeat(first - (np.cumsum(count) - count), count)
        pair_unit = self.units[shift + np.arange(total, dtype=np.int64)].astype(np.int64)
        key, shared = _sorted_unique(pair_read * self.n_units + pair_unit)
        key_read, key_unit = key // self.n_units, key % self.n_units
        order = np.lexsort((key_unit, -shared, key_read))
        key_read, key_unit, shared = key_read[order], key_unit[order], shared[order]
        head = np.ones(key_read.size, dtype=bool)
        head[1:] = key_read[1:] != key_read[:-1]
        heads = np.nonzero(head)[0]
        best_unit = np.full(n_reads, -1, dtype=np.int64)
        best = np.zeros(n_reads, dtype=np.int64)
        best_unit[key_read[heads]] = key_unit[heads]
        best[key_read[heads]] = shared[heads]
        # the best unit's own group counts as one with it; second = best count outside
        same = key_unit == best_unit[key_read]
        if unit_group is not None and unit_group.size:
            group = unit_group[key_unit]
            best_group = np.full(n_reads, -1, dtype=np.int64)
            best_group[key_read[heads]] = group[heads]
            same |= (group >= 0) & (group == best_group[key_read])
        others = np.nonzero(~same)[0]
        runner = others[first_of_runs(key_read[others])]
        second = np.zeros(n_reads, dtype=np.int64)
        second[key_read[runner]] = shared[runner]
        need = np.maximum(float(s.min_margin), s.margin_fraction * best)
        evidence = (sampled >= s.min_kmers) & (best_unit >= 0)
        evidence &= found >= s.min_found * sampled
        evidence &= best >= s.min_purity * specific
        ok = evidence & (best - second >= need)
        # members of the best unit's group: tied, separated, or in between (align the read)
        lengths = np.fromiter((len(x) for x in both), dtype=np.float64, count=n_reads)
        per_base = (s.k / s.scale) * found / np.maximum(sampled, 1)
        contest = group_identity_margin * lengths * per_base
        member = same & (key_unit != best_unit[key_read])
        behind = (best[key_read] - shared).astype(np.float64)
        tied = member & (behind < s.group_tie * contest[key_read])
        apart = member & (behind >= np.maximum(s.group_apart * contest[key_read], need[key_read]))
        unclear = np.zeros(n_reads, dtype=bool)
        unclear[key_read[member & ~tied & ~apart]] = True
        # issue 11 (members): only the group's members are in question
        to_members = evidence & ok & unclear & s.member_alignment
        ok &= ~unclear
        unit = np.where(ok, best_unit, -1)
        # the read's strand: the orientation with the larger share of its k-mers found (an
        # exact match has all of them), then the larger best count; ties: as it is
        half = len(sequences)
        share = found / np.maximum(sampled, 1)
        flip = (share[half:] > share[:half]) | (
            (share[half:] == share[:half]) & (best[half:] > best[:half])
        )
        pick = np.arange(half) + np.where(flip, half, 0)
        chosen = np.zeros(n_reads, dtype=bool)
        chosen[pick] = True
        tied &= ok[key_read] & chosen[key_read]
        # issue 11: candidates for k-mer rows (gutbrain.profile.kmer_rows) for the reads with
        # evidence that only a near-tie outside the best unit's group left undecided (a group
        # member in between still goes to alignment): the units sharing at least half the
        # best's k-mers, at most ``row_candidates`` of them (best first)
        row = evidence & ~ok & ~unclear & s.kmer_rows
        position = np.arange(key_read.size)
        rank = position - np.maximum.accumulate(np.where(head, position, 0))
        in_row = row[key_read] & chosen[key_read] & (2 * shared >= best[key_read])
        in_row &= rank < s.row_candidates
        in_members = to_members[key_read] & chosen[key_read]
        in_members &= (member & ~apart) | (key_unit == best_unit[key_read])
        return ScreenResult(
            unit[pick],
            best_unit[pick],
            best[pick],
            second[pick],
            sampled[pick],
            found[pick],
            specific[pick],
            key_read[tied] % max(half, 1),
            key_unit[tied],
            row[pick],
            key_read[in_row] % max(half, 1),
            key_unit[in_row],
            flip,
            to_members[pick],
            key_read[in_members] % max(half, 1),
            key_unit[in_members],
        )

    def strands(
        self, sequences: Sequence[str]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Which strands of each read to screen: ``(as it is, reverse complement)``.

        The index holds the reference strand, so a read's other strand finds almost none of
        its k-mers (on the four benchmark read sets: none, for every read the probe decides).
        The sampled k-mers of the read's first ``settings.strand_probe`` bases are looked up
        on both strands; a read finding at least ``_PROBE_MIN_FOUND`` on one strand and at
        least ``_PROBE_RATIO`` times as many as on the other is screened on that strand only,
        and any other read (a short or noisy start, no 16S) on both, as without the probe.
        The probe reads about a third of a strand and spares one (issue 11).
        """
        n = len(sequences)
        every = np.ones(n, dtype=bool)
        probe = self.settings.strand_probe
        if probe <= 0 or n == 0:
            return every, every
        heads = [x[:probe] for x in sequences]
        read, kmer = sampled_kmers(
            [*heads, *(reverse_complement(x) for x in heads)],
            k=self.settings.k,
            scale=self.settings.scale,
        )
        hit, _ = self._lookup(kmer * _HASH_MULTIPLIER)
        found = np.bincount(read[hit], minlength=2 * n)
        as_is, reversed_ = found[:n], found[n:]
        high, low = np.maximum(as_is, reversed_), np.minimum(as_is, reversed_)
        clear = (high >= _PROBE_MIN_FOUND) & (_PROBE_RATIO * low <= high)
        return ~clear | (as_is > reversed_), ~clear | (reversed_ > as_is)

    def _lookup(self, hashed: U64Array) -> tuple[npt.NDArray[np.bool_], IntArray]:
        """Whether each k-mer is in the index, and where: a table of bucket starts by the
        k-mers' top bits, then a few vectorised probes (a bucket holds ~1 k-mer); about 10x
        faster than ``searchsorted`` on unsorted queries."""
        bits = max(1, min(24, int(self.hashes.size).bit_length()))
        drop = np.uint64(64 - bits)
        table = _bucket_table(self.hashes, bits, drop)
        bucket = (hashed >> drop).astype(np.int64)
        # ndarray.take: the same gathers as fancy indexing, about twice as fast (issue 11)
        low, high = table.take(bucket), table[1:].take(bucket)
        hit = np.zeros(hashed.size, dtype=bool)
        where = low.copy()
        probe = np.flatnonzero(high > low)
        step = 0
        while probe.size:
            at = low.take(probe) + step
            match = self.hashes.take(at) == hashed.take(probe)
            found = probe[match]
            hit[found] = True
            where[found] = at[match]
            step += 1
            probe = probe[~match & (at + 1 < high.take(probe))]
        return hit, where

    def checksum(self) -> str:
        """SHA-256 of the index arrays and the settings that shape them (stored with the
        cached file; the decision thresholds are not part of the index)."""
        shape = (self.settings.k, self.settings.scale, self.settings.max_units, KMER_INDEX_FORMAT)
        digest = hashlib.sha256(repr(shape).encode())
        for array in (self.hashes, self.offsets, self.units, self.unit_reference):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


def kmer_row_errors(
    behind: npt.ArrayLike, per_base: npt.ArrayLike, *, slope: float
) -> npt.NDArray[np.float64]:
    """Estimated alignment errors a candidate costs a read beyond its best unit, from k-mers.

    A base where the candidate's reference differs from the read's best unit removes the
    sampled k-mers over it that survived the read's own errors: about ``e = (k / scale) ×
    found / sampled`` of them (``per_base``). A candidate ``behind`` k-mers short of the best
    therefore differs from the read at about ``behind / e`` more bases; ``slope`` converts
    those into error events of the alignment likelihood (calibrated against alignments of the
    benchmark reads, ``benchmarks/calibrate_kmer_rows.py``; docs/profile.md).

    Examples
    --------
    >>> kmer_row_errors([0, 5, 10], [2.5, 2.5, 2.5], slope=1.0).tolist()
    [0.0, 2.0, 4.0]
    """
    b = np.asarray(behind, dtype=np.float64)
    e = np.asarray(per_base, dtype=np.float64)
    result: npt.NDArray[np.float64] = slope * b / np.maximum(e, 1e-9)
    return result


def first_of_runs(sorted_values: npt.NDArray[np.generic]) -> npt.NDArray[np.bool_]:
    """Mask of the first element of each run of equal values."""
    head = np.ones(sorted_values.size, dtype=bool)
    head[1:] = sorted_values[1:] != sorted_values[:-1]
    return head


def _sorted_unique(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], IntArray]:
    """Sorted distinct values and their counts (sort-based: ``np.unique`` hashes 64-bit
    integers, measured ~5x slower here)."""
    ordered = np.sort(values)
    head = np.ones(ordered.size, dtype=bool)
    head[1:] = ordered[1:] != ordered[:-1]
    starts = np.nonzero(head)[0]
    return ordered[starts], np.diff(np.append(starts, ordered.size))


_TABLES: dict[tuple[int, int, int], tuple[U64Array, IntArray]] = {}


def forget_bucket_tables() -> None:
    """Drop the cached bucket table and the index array it holds (the screen is over)."""
    _TABLES.clear()


def _bucket_table(hashes: U64Array, bits: int, drop: np.uint64) -> IntArray:
    """``table[b]`` = first position of bucket ``b`` (hashes whose top ``bits`` bits are b);
    cached per index array (the entry holds the array: a freed array's ``id`` may be reused)."""
    key = (id(hashes), int(hashes.size), bits)
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is hashes:
        return cached[1]
    top = (hashes >> drop).astype(np.int64)
    table = np.searchsorted(top, np.arange((1 << bits) + 1, dtype=np.int64))
    _TABLES.clear()
    _TABLES[key] = (hashes, table)
    return table


def build_kmer_index(
    sequences: Iterable[str],
    reference_units: npt.ArrayLike,
    *,
    settings: ScreenSettings,
) -> KmerIndex:
    """Index the sampled k-mers of ``sequences`` (reference ``i`` belongs to unit
    ``reference_units[i]``).

    Examples
    --------
    >>> index = build_kmer_index(["ACGTACGGT", "ACGTACGGA"], [0, 1],
    ...                          settings=ScreenSettings(k=8, scale=1, max_units=1))
    >>> index.hashes.size, int((index.offsets[1:] - index.offsets[:-1]).sum())
    (3, 2)
    """
    ref_unit = np.asarray(reference_units, dtype=np.int64)
    n_units = int(ref_unit.max()) + 1 if ref_unit.size else 0
    unit_bits = max(1, int(n_units - 1).bit_length())
    if 2 * settings.k + unit_bits > 64:
        message = f"{n_units} taxon units do not fit a 64-bit k-mer key with k={settings.k}"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    keys: list[U64Array] = []
    batch: list[str] = []
    offset = 0

    def flush() -> None:
        nonlocal offset
        read, kmer = sampled_kmers(batch, k=settings.k, scale=settings.scale)
        unit = ref_unit[read + offset].astype(np.uint64)
        # issue 11 (refseq): duplicates are dropped once, after the one sort of all keys (a
        # sort per chunk removed only ~4 % of them at RefSeq 16S and cost ~0.07 s)
        keys.append((kmer << np.uint64(unit_bits)) | unit)
        offset += len(batch)
        batch.clear()

    size = 0
    for sequence in sequences:
        batch.append(sequence)
        size += len(sequence)
        if size >= _CHUNK_BASES:
            flush()
            size = 0
    if batch:
        flush()
    if offset != ref_unit.size:
        message = f"{offset} reference sequences but {ref_unit.size} taxon assignments"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    # distinct (k-mer, unit) keys, sorted in place. issue 11 (refseq): the chunks are copied in
    # (any order: the keys are sorted next) and their heap given back, duplicates are dropped
    # in place, and the units (32-bit) leave the keys before the k-mers are unpacked in place:
    # the build's arrays peak at 69 MiB, not 79, at the 25k-sequence RefSeq 16S reference
    key = np.empty(sum(chunk.size for chunk in keys), dtype=np.uint64)
    at = 0
    while keys:
        part = keys.pop()
        key[at : at + part.size] = part
        at += part.size
        del part
    release_freed_memory()  # the chunks' heap pages (glibc keeps freed small blocks)
    key.sort()
    key = _compact(key, first_of_runs(key))
    unit_of = key.astype(np.uint32)  # the low 32 bits: the unit and some k-mer bits
    unit_of &= np.uint32((1 << unit_bits) - 1)  # units fit 31 bits (stored as int32 below)
    key >>= np.uint64(unit_bits)  # each entry's k-mer (the units are kept in unit_of)
    # issue 11: few full-size temporaries (each new array of millions of keys costs page
    # faults as much as arithmetic); units are unpacked only for the k-mers that keep them
    starts = np.flatnonzero(first_of_runs(key))
    n_per = np.diff(starts, append=key.size)
    specific = n_per <= settings.max_units
    n_kept = np.where(specific, n_per, 0)
    # order the k-mers by hash: lookups bucket the hashes by their (uniform) top bits. The
    # hashes are distinct (a bijection of distinct k-mers), so any sort gives the one order.
    hashes = key.take(starts) * _HASH_MULTIPLIER
    del key
    order = np.argsort(hashes)
    offsets = np.zeros(starts.size + 1, dtype=np.int64)
    np.cumsum(n_kept.take(order), out=offsets[1:])
    # each k-mer's units (in unit order) move, as a block, to the k-mer's slot in hash order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    shift = offsets.take(rank) - (np.cumsum(n_kept) - n_kept)
    kept = unit_of[np.repeat(specific, n_per)]
    del unit_of
    units = np.empty(kept.size, dtype=np.int32)
    units[np.repeat(shift, n_kept) + np.arange(kept.size)] = kept
    _, unit_reference = np.unique(ref_unit, return_index=True)
    return KmerIndex(
        hashes=hashes.take(order),
        offsets=offsets,
        units=units,
        unit_reference=unit_reference.astype(np.int64),
        settings=settings,
    )


def _compact(values: U64Array, keep: npt.NDArray[np.bool_], *, block: int = 1 << 20) -> U64Array:
    """``values[keep]`` written over the front of ``values`` (returned as a view of it), block
    by block: a kept entry only moves towards the front, so no full-size copy is needed.

    Examples
    --------
    >>> values = np.array([5, 5, 6, 7, 7], dtype=np.uint64)
    >>> [int(x) for x in _compact(values, np.array([1, 0, 1, 1, 0], dtype=bool), block=2)]
    [5, 6, 7]
    """
    written = 0
    for start in range(0, values.size, block):
        part = values[start : start + block][keep[start : start + block]]  # a copy
        values[written : written + part.size] = part
        written += part.size
    return values[:written]


def _names_digest(reference_names: Sequence[str], reference_units: IntArray) -> str:
    digest = hashlib.sha256("\n".join(reference_names).encode())
    digest.update(np.ascontiguousarray(reference_units, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _file_name(bundle: ReferenceBundle, settings: ScreenSettings) -> str:
    return (
        f"{bundle.sha256[:16]}-kmer{KMER_INDEX_FORMAT}-k{settings.k}-s{settings.scale}"
        f"-u{settings.max_units}.npz"
    )


def ensure_kmer_index(
    bundle: ReferenceBundle,
    reference_names: Sequence[str],
    reference_units: IntArray,
    *,
    settings: ScreenSettings,
    sequences: Callable[[], Iterable[str]] | None = None,
) -> KmerIndex:
    """Load the cached k-mer index of ``bundle`` (beside its minimap2 indexes), building it once.

    The file name keys the manifest SHA-256, the index format and the k-mer settings; the file
    holds the SHA-256 of its arrays and of the reference names and units it was built for, and
    is rebuilt when either does not match (a damaged file, or a different taxon order).
    ``sequences()`` gives the references' sequences in ``reference_names`` order for a build
    (issue 11: the loaded minimap2 index's, :func:`gutbrain.profile.aligners.open_aligners`);
    without it they are read from the bundle's FASTA and checked against the names.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-INDEX`` when the bundle's sequences disagree with ``reference_names``.
    """
    name = _file_name(bundle, settings)
    names_digest = _names_digest(reference_names, reference_units)
    existing = find_index(bundle, name)
    if existing is not None:
        index = _load(existing, settings, names_digest)
        if index is not None:
            return index
        logger.warning("k-mer index %s is damaged or stale; rebuilding it", existing.name)
    if sequences is not None:  # issue 11: the caller's copy (no second FASTA read and parse)
        logger.info("building the k-mer screen index of %s", bundle.name)
        index = build_kmer_index(sequences(), reference_units, settings=settings)
    else:
        index = _build_from_bundle(bundle, reference_names, reference_units, settings)
    target = writable_index_folder(bundle) / name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.partial-", dir=target.parent, suffix=".npz")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                hashes=index.hashes,
                offsets=index.offsets,
                units=index.units,
                unit_reference=index.unit_reference,
                checksum=np.array(index.checksum()),
                names=np.array(names_digest),
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return index


def _load(path: Path, settings: ScreenSettings, names_digest: str) -> KmerIndex | None:
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            index = KmerIndex(
                hashes=data["hashes"],
                offsets=data["offsets"],
                units=data["units"],
                unit_reference=data["unit_reference"],
                settings=settings,
            )
            stored, names = str(data["checksum"]), str(data["names"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if names != names_digest or stored != index.checksum():
        return None
    return index


def _build_from_bundle(
    bundle: ReferenceBundle,
    reference_names: Sequence[str],
    reference_units: IntArray,
    settings: ScreenSettings,
) -> KmerIndex:
    expected = iter(reference_names)

    def sequences() -> Iterable[str]:
        for name, sequence in read_sequences(bundle):
            if next(expected, None) != name:
                message = (
                    f"{bundle.sequences_path}: reference {name!r} is not where the minimap2 "
                    "index has it; rebuild the index (gutbrain db index) or the bundle"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
            yield sequence

    logger.info("building the k-mer screen index of %s", bundle.name)
    return build_kmer_index(sequences(), reference_units, settings=settings)
