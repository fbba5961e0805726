"""Paired Illumina reads: pair recognition, overlap merging, posterior qualities, errors."""

from __future__ import annotations

import gzip
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import InputFormatError
from gutbrain.io.reads import Read
from gutbrain.profile.pairs import (
    MergeSettings,
    MergeStats,
    is_read_pair,
    merge_pair,
    merge_read_pairs,
    pair_id,
)

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _rc(text: str) -> str:
    return text.translate(_COMPLEMENT)[::-1]


def _amplicon(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


def _pair(amplicon: str, read_length: int, quality: str = "I") -> tuple[Read, Read]:
    forward = amplicon[:read_length]
    reverse = _rc(amplicon[-read_length:])
    return (
        Read("r1", forward, quality * len(forward)),
        Read("r1", reverse, quality * len(reverse)),
    )


def test_error_free_v4_pair_merges_to_the_amplicon() -> None:
    amplicon = _amplicon(1, 253)
    forward, reverse = _pair(amplicon, 250)
    merged, outcome = merge_pair(forward, reverse)
    assert outcome == "merged"
    assert merged is not None
    assert merged.sequence == amplicon
    # Q40 + Q40 agreeing: posterior far above the Q41 cap; the 3 + 3 unpaired ends keep Q40
    assert merged.quality == "III" + "J" * 247 + "III"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    amplicon_length=st.integers(120, 290),
    read_length=st.integers(100, 250),
)
def test_error_free_pairs_with_enough_overlap_merge_exactly(
    seed: int, amplicon_length: int, read_length: int
) -> None:
    overlap = 2 * read_length - amplicon_length
    if overlap < 30 or read_length > amplicon_length:
        return  # no usable overlap, or read-through (staggered) pairs: not merged by design
    amplicon = _amplicon(seed, amplicon_length)
    merged, outcome = merge_pair(*_pair(amplicon, read_length))
    assert outcome == "merged"
    assert merged is not None
    assert merged.sequence == amplicon
    assert merged.quality is not None
    assert len(merged.quality) == amplicon_length


def _phred(p: float) -> int:
    return max(2, min(41, round(-10 * math.log10(p))))


def test_posterior_qualities_known_answers() -> None:
    # Hand calculation (Edgar & Flyvbjerg 2015, eqs. as used by vsearch):
    # agree Q10/Q10: p = (0.01/3) / (1 - 0.2 + 0.04/3) = 0.0040984 -> Q24
    # disagree Q30 (R1) vs Q10 (R2): p = 0.001 (1 - 0.1/3) / (0.101 - 0.0004/3) = 0.0095837 -> Q20
    amplicon = _amplicon(2, 60)
    reverse_seq = amplicon[20:]
    changed = list(reverse_seq)
    # position 30 of the amplicon is in the overlap (20..39): R2 reads another base there
    changed[10] = "A" if changed[10] != "A" else "C"
    quality_r1 = list("+" * 40)
    quality_r1[30] = "?"  # Q30 at the disagreeing base
    forward = Read("r", amplicon[:40], "".join(quality_r1))
    reverse = Read("r", _rc("".join(changed)), "+" * 40)
    merged, outcome = merge_pair(forward, reverse, MergeSettings(max_expected_errors=100.0))
    assert outcome == "merged"
    assert merged is not None
    assert merged.quality is not None
    assert merged.sequence == amplicon  # the Q30 base wins
    assert _phred(0.0040984) == 24
    assert ord(merged.quality[25]) - 33 == 24
    assert ord(merged.quality[30]) - 33 == _phred(0.0095837) == 20
    assert merged.quality[:20] == "+" * 20  # R1 alone before the overlap


def test_confident_mismatches_are_differences_low_quality_ones_are_not() -> None:
    amplicon = _amplicon(3, 253)
    forward, reverse = _pair(amplicon, 250)
    # 12 mismatches in R2's overlap at Q40: more than max_differences (10)
    bases = list(reverse.sequence)
    for i in range(20, 140, 10):
        bases[i] = "A" if bases[i] != "A" else "C"
    bad = Read("r1", "".join(bases), reverse.quality)
    assert merge_pair(forward, bad)[1] == "too_many_differences"
    # the same mismatches at Q2 in R2 (a typical tail): merged, R1's bases kept
    quality = list(reverse.quality or "")
    for i in range(20, 140, 10):
        quality[i] = "#"
    tail = Read("r1", "".join(bases), "".join(quality))
    merged, outcome = merge_pair(forward, tail)
    assert outcome == "merged"
    assert merged is not None
    assert merged.sequence == amplicon


def test_expected_errors_limit() -> None:
    amplicon = _amplicon(4, 253)
    forward, reverse = _pair(amplicon, 250, quality="+")  # Q10 everywhere
    # the 3 + 3 unpaired ends alone hold 0.6 expected errors; the overlap adds ~1.0
    assert merge_pair(forward, reverse, MergeSettings(max_expected_errors=1.0))[1] == (
        "too_many_expected_errors"
    )
    assert merge_pair(forward, reverse, MergeSettings(max_expected_errors=2.0))[1] == "merged"


def test_unrelated_reads_do_not_merge() -> None:
    forward = Read("r", _amplicon(5, 250), "I" * 250)
    reverse = Read("r", _amplicon(6, 250), "I" * 250)
    assert merge_pair(forward, reverse)[1] == "no_overlap"


def _write_fastq(path: Path, reads: list[tuple[str, str, str]]) -> Path:
    text = "".join(f"@{header}\n{seq}\n+\n{qual}\n" for header, seq, qual in reads)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


def _pair_files(
    tmp_path: Path, n: int, *, style: str = "illumina", length: int = 253
) -> tuple[Path, Path]:
    r1, r2 = [], []
    for i in range(n):
        forward, reverse = _pair(_amplicon(100 + i, length), 250)
        if style == "illumina":
            h1, h2 = f"M1:1:{i} 1:N:0:52", f"M1:1:{i} 2:N:0:52"
        else:
            h1, h2 = f"read{i}/1", f"read{i}/2"
        r1.append((h1, forward.sequence, forward.quality or ""))
        r2.append((h2, reverse.sequence, reverse.quality or ""))
    return _write_fastq(tmp_path / "s_R1.fq.gz", r1), _write_fastq(tmp_path / "s_R2.fq.gz", r2)


@pytest.mark.parametrize("style", ["illumina", "slash"])
def test_pair_files_are_recognised_and_merged(tmp_path: Path, style: str) -> None:
    r1, r2 = _pair_files(tmp_path, 5, style=style)
    assert is_read_pair([r1, r2])
    assert not is_read_pair([r1])
    assert not is_read_pair([r1, r1])
    stats = MergeStats()
    merged = list(merge_read_pairs(r1, r2, merge_stats=stats))
    assert [len(read.sequence) for read in merged] == [253] * 5
    assert merged[0].name == ("M1:1:0" if style == "illumina" else "read0")
    assert (stats.pairs, stats.merged, stats.merge_rate) == (5, 5, 1.0)


def test_two_unrelated_files_are_not_a_pair(tmp_path: Path) -> None:
    a = _write_fastq(tmp_path / "a.fq.gz", [("x1", "ACGT", "IIII")])
    b = _write_fastq(tmp_path / "b.fq.gz", [("y1", "ACGT", "IIII")])
    assert not is_read_pair([a, b])
    fasta = tmp_path / "c.fa"
    fasta.write_text(">x1\nACGT\n")
    assert not is_read_pair([a, fasta])


def test_unmerged_pairs_keep_their_forward_read(tmp_path: Path) -> None:
    r1, r2 = _pair_files(tmp_path, 3, length=600)  # 600-bp amplicon: 2 x 250 cannot overlap
    stats = MergeStats()
    reads = list(merge_read_pairs(r1, r2, merge_stats=stats))
    assert [len(read.sequence) for read in reads] == [250, 250, 250]
    assert (stats.merged, stats.no_overlap) == (0, 3)


def test_mismatched_ids_name_both_files_and_the_record(tmp_path: Path) -> None:
    r1, _ = _pair_files(tmp_path, 3)
    _, reverse = _pair(_amplicon(1, 253), 250)
    q = reverse.quality or ""
    r2 = _write_fastq(
        tmp_path / "other_R2.fq.gz",
        [("M1:1:0 2:N:0", reverse.sequence, q), ("M1:1:9 2:N:0", reverse.sequence, q)],
    )
    expected = r"record 2: read 'M1:1:1' is paired with 'M1:1:9'"
    with pytest.raises(InputFormatError, match=expected) as info:
        list(merge_read_pairs(r1, r2))
    assert info.value.code == "GB-PAIR-ID"
    assert "s_R1.fq.gz" in str(info.value)
    assert "other_R2.fq.gz" in str(info.value)


def test_different_read_counts(tmp_path: Path) -> None:
    (tmp_path / "three").mkdir()
    (tmp_path / "four").mkdir()
    _, r2 = _pair_files(tmp_path / "three", 3)
    r1, _ = _pair_files(tmp_path / "four", 4)
    with pytest.raises(InputFormatError, match=r"record 4: read 'M1:1:3' has no mate") as info:
        list(merge_read_pairs(r1, r2))
    assert info.value.code == "GB-PAIR-COUNT"
    assert "holds 3 reads" in str(info.value)
    assert "four" in str(info.value)


def test_pair_id() -> None:
    assert pair_id("a/1") == pair_id("a/2") == pair_id("a") == "a"
    assert pair_id("a/3") == "a/3"


@pytest.mark.slow
def test_miseq_v4_example_pairs(shared_dir: Path) -> None:
    """The dada2 MiSeq 2x250 V4 example (1,500 pairs per sample): V4 amplicons are ~253 bp."""
    folder = shared_dir / "data" / "miseq_v4_gut_example_reads"
    for sample in ("sam1", "sam2"):
        r1, r2 = folder / f"{sample}F.fastq.gz", folder / f"{sample}R.fastq.gz"
        assert is_read_pair([r1, r2])
        stats = MergeStats()
        reads = list(merge_read_pairs(r1, r2, merge_stats=stats))
        assert len(reads) == stats.pairs == 1500
        # measured 0.877 (sam1) and 0.890 (sam2); a floor, not the measured value
        assert stats.merge_rate > 0.8
        lengths = sorted(stats.merged_lengths)
        assert lengths[len(lengths) // 2] == 253


@pytest.mark.slow
def test_profile_of_a_miseq_pair_is_the_profile_of_its_merged_reads(shared_dir: Path) -> None:
    # `gutbrain profile R1 R2`: the same IDs in both files are mates, not duplicate IDs
    from gutbrain.profile.pipeline import profile_sample
    from gutbrain.reference.bundle import load_bundle

    folder = shared_dir / "data" / "miseq_v4_gut_example_reads"
    r1, r2 = folder / "sam1F.fastq.gz", folder / "sam1R.fastq.gz"
    bundle = load_bundle(None)
    paired = profile_sample([r1, r2], bundle=bundle, preset="short", confidence_intervals=False)
    assert paired.assignment["read_pairs"] == 1500
    assert paired.assignment["reads_in"] == 1500
    merged = paired.assignment["read_pairs_merged"]
    assert merged > 1200
    assert paired.profile.provenance.parameters["read_pairs"]["min_overlap"] == 16
    genera = {row.taxon: row.abundance for row in paired.profile.at_rank("genus")}
    # the data's provenance note: ~85 % Bacteroidaceae by best hit, ~5 % Porphyromonadaceae
    assert genera["Bacteroides"] > 0.75
    assert 0.02 < genera["Parabacteroides"] < 0.10


def test_unmarked_same_ids_pair_only_short_reads(tmp_path: Path) -> None:
    # same IDs, no /1 /2 and no Illumina comment: short reads are mates, long reads are not
    forward, reverse = _pair(_amplicon(7, 253), 250)
    a = _write_fastq(tmp_path / "a.fq.gz", [("r1", forward.sequence, forward.quality or "")])
    b = _write_fastq(tmp_path / "b.fq.gz", [("r1", reverse.sequence, reverse.quality or "")])
    assert is_read_pair([a, b])
    long_forward, long_reverse = _pair(_amplicon(8, 1500), 1400)
    c = _write_fastq(tmp_path / "c.fq.gz", [("r1", long_forward.sequence, "I" * 1400)])
    d = _write_fastq(tmp_path / "d.fq.gz", [("r1", long_reverse.sequence, "I" * 1400)])
    assert not is_read_pair([c, d])
    # long reads with Illumina-style mate comments are still recognised by the comments
    e = _write_fastq(tmp_path / "e.fq.gz", [("r1 1:N:0:1", long_forward.sequence, "I" * 1400)])
    f = _write_fastq(tmp_path / "f.fq.gz", [("r1 2:N:0:1", long_reverse.sequence, "I" * 1400)])
    assert is_read_pair([e, f])
