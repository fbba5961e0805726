"""Paired Illumina reads: recognise a pair of files and merge overlapping read pairs.

A sample given as two FASTQ files is a *pair* when their first records are mates: IDs that
differ only by a ``/1`` / ``/2`` suffix, or the same ID with Illumina comments ``1:…`` / ``2:…``
(``@ID 1:N:0:52`` / ``@ID 2:N:0:52``; the ID is the header up to the first space), or the same
ID without either marker when both reads are short (at most 1,000 bases: long reads are never
paired, and two long-read files that reuse read names stay a ``GB-FQ-DUPID`` error).

Merging (as ``vsearch --fastq_mergepairs`` and PEAR do, without their speed-ups): the reverse
read is reverse-complemented; every overlap of at least ``min_overlap`` bases in which the
reverse read starts within the forward read (no staggered read-through) is scored +1 per match
and -4 per *difference*, a mismatch where both bases have quality >= ``min_difference_quality``
(Q20); the best-scoring overlap is kept when it has at most ``max_differences`` differences.
(vsearch counts every mismatch; on the MiSeq V4 example pairs, whose reverse reads end in
Q2-Q15 stretches, that rejects 30 % of pairs whose high-quality bases agree, and counting only
confident mismatches keeps them. Low-quality mismatches still lower the merged quality.)

In the overlap, the merged base and its quality are the posterior ones (Edgar & Flyvbjerg
2015, the formulas vsearch uses): when both reads agree on a base, with error probabilities p1
and p2, the merged error probability is

    p = (p1 p2 / 3) / (1 - p1 - p2 + 4 p1 p2 / 3);

when they disagree, the base of the higher quality (smaller p_h) is kept with

    p = p_h (1 - p_l / 3) / (p_h + p_l - 4 p_h p_l / 3).

Qualities are capped at Q41 (vsearch's ``--fastq_qmaxout``) and floored at Q2. A merged read
whose expected number of errors (sum of p) exceeds ``max_expected_errors`` is not kept.

A pair that does not merge is profiled by its forward read alone (so no read is lost from the
sample's denominator); :class:`MergeStats` counts pairs, merged pairs and each reason.

References
----------
Edgar RC, Flyvbjerg H (2015) Error filtering, pair assembly and error correction for
next-generation sequencing reads. Bioinformatics 31:3476-3482. doi:10.1093/bioinformatics/btv401

Rognes T et al. (2016) VSEARCH: a versatile open source tool for metagenomics. PeerJ 4:e2584.
doi:10.7717/peerj.2584
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.reads import Read, ReadStats, iter_reads

__all__ = [
    "MAX_UNMARKED_MATE_LENGTH",
    "MergeSettings",
    "MergeStats",
    "is_read_pair",
    "merge_pair",
    "merge_read_pairs",
    "pair_id",
]

logger = logging.getLogger(__name__)

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate(b"ACGT"):
    _CODE[_base] = _i
_COMPLEMENT = bytes.maketrans(b"ACGTRYKMSWBDHVN", b"TGCAYRMKSWVHDBN")
_MAX_QUALITY = 41
_MIN_QUALITY = 2


@dataclass(frozen=True, slots=True)
class MergeSettings:
    """Thresholds of pair merging (vsearch's defaults; minimum overlap 16 rather than 10)."""

    min_overlap: int = 16
    max_differences: int = 10
    min_difference_quality: int = 20
    max_expected_errors: float = 2.0
    match_score: float = 1.0
    mismatch_score: float = -4.0


@dataclass(slots=True)
class MergeStats:
    """What happened to a sample's read pairs."""

    pairs: int = 0
    merged: int = 0
    no_overlap: int = 0
    too_many_differences: int = 0
    too_many_expected_errors: int = 0
    merged_lengths: list[int] = field(default_factory=list, repr=False)

    @property
    def merge_rate(self) -> float:
        """Merged pairs / pairs (0 for no pairs)."""
        return self.merged / self.pairs if self.pairs else 0.0

    def as_dict(self) -> dict[str, int]:
        """Counts for qc.json (``read_pairs``, ``read_pairs_merged``, …)."""
        return {
            "read_pairs": self.pairs,
            "read_pairs_merged": self.merged,
            "read_pairs_unmerged_no_overlap": self.no_overlap,
            "read_pairs_unmerged_differences": self.too_many_differences,
            "read_pairs_unmerged_expected_errors": self.too_many_expected_errors,
        }


def pair_id(name: str) -> str:
    """A read's ID without a ``/1`` or ``/2`` mate suffix.

    Examples
    --------
    >>> pair_id("M02273:28:1:2108:18106:16197/2"), pair_id("read7")
    ('M02273:28:1:2108:18106:16197', 'read7')
    """
    return name[:-2] if name.endswith(("/1", "/2")) else name


#: Mates without a /1 /2 suffix or an Illumina comment must both be at most this long: long
#: reads (ONT, PacBio) are never paired, and two files of long reads that reuse read names are
#: a GB-FQ-DUPID error, not a pair.
MAX_UNMARKED_MATE_LENGTH = 1000


def _first_read(path: Path) -> tuple[Read, str] | None:
    """The first read of ``path`` and the comment of its header (text after the first space)."""
    reads = iter_reads(path)
    try:
        read = next(reads, None)
    finally:
        close = getattr(reads, "close", None)
        if close is not None:
            close()
    if read is None:
        return None
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        header = handle.readline().decode("utf-8", errors="replace").rstrip("\r\n")
    parts = header[1:].split(None, 1)
    return read, parts[1] if len(parts) > 1 else ""


def is_read_pair(paths: Sequence[str | Path]) -> bool:
    """True when ``paths`` are two FASTQ files whose first reads are mates.

    Mates: IDs ``X/1`` and ``X/2``; or the same ID with Illumina comments ``1:…`` and ``2:…``
    (``@X 1:N:0:52`` / ``@X 2:N:0:52``); or the same ID without either marker when both reads
    are at most :data:`MAX_UNMARKED_MATE_LENGTH` bases (short reads).
    """
    if len(paths) != 2 or Path(paths[0]) == Path(paths[1]):
        return False
    first, second = (_first_read(Path(p)) for p in paths)
    if first is None or second is None:
        return False
    (read1, comment1), (read2, comment2) = first, second
    if read1.quality is None or read2.quality is None:
        return False
    if pair_id(read1.name) != pair_id(read2.name):
        return False
    if read1.name.endswith("/1") and read2.name.endswith("/2"):
        return True
    if read1.name != read2.name:
        return False
    if comment1.startswith("1:") and comment2.startswith("2:"):
        return True
    longest = max(len(read1.sequence), len(read2.sequence))
    return longest <= MAX_UNMARKED_MATE_LENGTH


def _phred_to_error(quality: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    return np.power(10.0, -(quality.astype(np.float64) - 33.0) / 10.0)


def _error_to_phred(error: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    phred = np.rint(-10.0 * np.log10(np.maximum(error, 1e-10)))
    return (np.clip(phred, _MIN_QUALITY, _MAX_QUALITY) + 33).astype(np.uint8)


def _per_overlap(
    forward: npt.NDArray[np.uint8],
    reverse: npt.NDArray[np.uint8],
    forward_mask: npt.NDArray[np.bool_] | None = None,
    reverse_mask: npt.NDArray[np.bool_] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(matches, compared positions) for each overlap length 1..min(len), among masked bases.

    Element ``k - 1`` is for overlap ``k``: the last ``k`` bases of ``forward`` against the
    first ``k`` bases of ``reverse``. Only A/C/G/T count as matches; only positions where both
    masks are true are counted (all positions without masks).
    """
    mask_a = forward_mask if forward_mask is not None else np.ones(forward.size, dtype=bool)
    mask_b = reverse_mask if reverse_mask is not None else np.ones(reverse.size, dtype=bool)
    matches = np.zeros(forward.size + reverse.size - 1)
    for code in range(4):
        a = ((forward == code) & mask_a).astype(np.float64)
        b = ((reverse == code) & mask_b).astype(np.float64)
        # correlate(a, b, "full")[j] = sum_n a[n + j - (len(b) - 1)] * b[n]
        matches += np.correlate(a, b, mode="full")
    compared = np.correlate(mask_a.astype(np.float64), mask_b.astype(np.float64), mode="full")
    # overlap k pairs a[len(a) - k + n] with b[n]: lag len(a) - k, index lag + len(b) - 1
    lags = np.arange(1, min(forward.size, reverse.size) + 1)
    at = forward.size - lags + reverse.size - 1
    return np.rint(matches[at]), np.rint(compared[at])


def merge_pair(
    forward: Read, reverse: Read, settings: MergeSettings | None = None
) -> tuple[Read | None, str]:
    """Merge one read pair; return ``(merged read or None, outcome)``.

    ``outcome`` is ``"merged"``, ``"no_overlap"``, ``"too_many_differences"`` or
    ``"too_many_expected_errors"``. The merged read keeps the forward read's name (without a
    ``/1`` suffix).
    """
    rules = settings if settings is not None else MergeSettings()
    if forward.quality is None or reverse.quality is None:
        message = "merge_pair needs FASTQ reads (with qualities)"
        raise ValueError(message)
    seq1 = np.frombuffer(forward.sequence.encode("ascii"), dtype=np.uint8)
    qual1 = np.frombuffer(forward.quality.encode("ascii"), dtype=np.uint8)
    rc = reverse.sequence.encode("ascii").translate(_COMPLEMENT)[::-1]
    seq2 = np.frombuffer(rc, dtype=np.uint8)
    qual2 = np.frombuffer(reverse.quality.encode("ascii")[::-1], dtype=np.uint8)
    code1, code2 = _CODE[seq1], _CODE[seq2]
    longest = min(seq1.size, seq2.size)
    if longest < rules.min_overlap:
        return None, "no_overlap"
    matches, _ = _per_overlap(code1, code2)
    confident1 = qual1 >= 33 + rules.min_difference_quality
    confident2 = qual2 >= 33 + rules.min_difference_quality
    sure_matches, sure = _per_overlap(code1, code2, confident1, confident2)
    differences = sure - sure_matches
    scores = rules.match_score * matches + rules.mismatch_score * differences
    scores[: rules.min_overlap - 1] = -np.inf
    best = int(np.argmax(scores))
    overlap = best + 1
    if scores[best] <= 0:
        return None, "no_overlap"
    if differences[best] > rules.max_differences:
        return None, "too_many_differences"
    start = seq1.size - overlap
    a_seq, a_qual = seq1[start:], qual1[start:]
    b_seq, b_qual = seq2[:overlap], qual2[:overlap]
    p1, p2 = _phred_to_error(a_qual), _phred_to_error(b_qual)
    agree = a_seq == b_seq
    both = p1 * p2
    p_agree = (both / 3.0) / (1.0 - p1 - p2 + 4.0 * both / 3.0)
    high_is_first = p1 <= p2
    p_high = np.where(high_is_first, p1, p2)
    p_low = np.where(high_is_first, p2, p1)
    p_disagree = p_high * (1.0 - p_low / 3.0) / (p_high + p_low - 4.0 * p_high * p_low / 3.0)
    merged_p = np.where(agree, p_agree, p_disagree)
    merged_base = np.where(agree | high_is_first, a_seq, b_seq)
    sequence = np.concatenate([seq1[:start], merged_base, seq2[overlap:]])
    errors = np.concatenate(
        [_phred_to_error(qual1[:start]), merged_p, _phred_to_error(qual2[overlap:])]
    )
    quality = np.concatenate([qual1[:start], _error_to_phred(merged_p), qual2[overlap:]])
    if float(errors.sum()) > rules.max_expected_errors:
        return None, "too_many_expected_errors"
    read = Read(
        name=pair_id(forward.name),
        sequence=sequence.tobytes().decode("ascii"),
        quality=quality.tobytes().decode("ascii"),
    )
    return read, "merged"


def merge_read_pairs(
    forward_path: str | Path,
    reverse_path: str | Path,
    *,
    settings: MergeSettings | None = None,
    stats: ReadStats | None = None,
    merge_stats: MergeStats | None = None,
) -> Iterator[Read]:
    """Stream merged reads of a pair of FASTQ files (unmerged pairs: the forward read).

    **Commit nothing until the iterator is exhausted** (as for :func:`iter_reads`).

    Raises
    ------
    InputFormatError
        ``GB-PAIR-ID`` when the n-th reads of the two files are not mates, ``GB-PAIR-COUNT``
        when one file has more reads than the other (both name the files and the record), and
        any read-parsing error of :func:`~gutbrain.io.reads.iter_reads`.
    """
    counts = merge_stats if merge_stats is not None else MergeStats()
    shared = stats if stats is not None else ReadStats()
    forward_reads = iter_reads(forward_path, stats=shared)
    reverse_reads = iter_reads(reverse_path, stats=shared)
    record = 0
    while True:
        forward = next(forward_reads, None)
        reverse = next(reverse_reads, None)
        record += 1
        if forward is None and reverse is None:
            break
        if forward is None or reverse is None:
            longer, extra = (reverse_path, reverse) if forward is None else (forward_path, forward)
            shorter = forward_path if forward is None else reverse_path
            name = extra.name if extra is not None else "?"
            message = (
                f"{longer}, record {record}: read {name!r} has no mate: {shorter} holds "
                f"{record - 1} reads; the two files of a pair must hold the same reads in the "
                "same order"
            )
            raise InputFormatError(message, code=ErrorCode.PAIR_COUNT)
        if pair_id(forward.name) != pair_id(reverse.name):
            message = (
                f"{forward_path} and {reverse_path}, record {record}: read {forward.name!r} "
                f"is paired with {reverse.name!r}; the two files of a pair must hold the same "
                "reads in the same order (same IDs, or IDs ending /1 and /2)"
            )
            raise InputFormatError(message, code=ErrorCode.PAIR_ID)
        counts.pairs += 1
        merged, outcome = merge_pair(forward, reverse, settings)
        if merged is not None:
            counts.merged += 1
            counts.merged_lengths.append(len(merged.sequence))
            yield merged
            continue
        if outcome == "no_overlap":
            counts.no_overlap += 1
        elif outcome == "too_many_differences":
            counts.too_many_differences += 1
        else:
            counts.too_many_expected_errors += 1
        yield Read(pair_id(forward.name), forward.sequence, forward.quality)
    logger.info(
        "read pairs: %d, merged %d (%.1f %%); unmerged pairs are profiled by their forward read",
        counts.pairs,
        counts.merged,
        100.0 * counts.merge_rate,
    )
