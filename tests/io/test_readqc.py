"""Read QC: filters, presets, statistics (issue 2, RELIABILITY F09/F18/F19/F20)."""

from __future__ import annotations

import gzip
import itertools
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.errors import ErrorCode, InputFormatError, OptionError
from gutbrain.io.readqc import (
    DROP_REASONS,
    QC_PRESETS,
    QCSettings,
    ReadFilter,
    Reservoir,
    length_n50,
    length_quantile,
    qc_reads,
    read_mean_quality,
    reservoir_sample,
)
from gutbrain.io.reads import Read

FIXTURES = Path(__file__).parent / "fixtures" / "reads"
ANY = QCSettings(min_length=0, max_length=10_000, min_mean_quality=None)


def test_read_mean_quality_is_error_probability_mean() -> None:
    # hand calculation: Q10 and Q20 -> p = (0.1 + 0.01) / 2 = 0.055 -> -10 log10(0.055)
    assert read_mean_quality("+5") == pytest.approx(-10 * math.log10(0.055))
    assert read_mean_quality("IIII") == pytest.approx(40.0)
    # one Q0 base among 9 Q40 bases: arithmetic mean 36, error-probability mean ~10
    assert read_mean_quality("!" + "I" * 9) == pytest.approx(-10 * math.log10(1.0009 / 10))
    assert math.isnan(read_mean_quality(""))


def test_ambiguous_and_quality_known_answers() -> None:
    # hand counts: "ACGTNRY" has 3 non-ACGT letters; lower-case letters are not A/C/G/T (the
    # parser upper-cases reads, a caller's own Read keeps them); a non-ASCII letter counts once
    rules = QCSettings(
        min_length=0, max_length=100, min_mean_quality=None, max_ambiguous_fraction=1
    )
    qc = ReadFilter(rules)
    for read in (Read("a", "ACGTNRY", None), Read("b", "acgT", None), Read("c", "AÇGT", None)):
        qc.classify(read)
    assert qc.summary().ambiguous_bases == 3 + 3 + 1
    # '5' = Q20 (p 0.01) and '+' = Q10 (p 0.1): p = (0.01 * 3 + 0.1) / 4 = 0.0325
    assert read_mean_quality("55+5") == pytest.approx(-10 * math.log10(0.0325), abs=1e-12)
    # all '!' (Q0, p 1) -> 0; all '~' (Q93)
    assert read_mean_quality("!!!") == 0.0
    assert read_mean_quality("~") == pytest.approx(93.0, abs=1e-12)
    with pytest.raises(UnicodeEncodeError):
        read_mean_quality("IÇ")


def _old_mean_quality(quality: str) -> float:
    """The implementation before issue 11 (numpy mean of the error probabilities)."""
    table = np.array([10.0 ** (-(max(c - 33, 0)) / 10.0) for c in range(256)])
    codes = np.frombuffer(quality.encode("ascii"), dtype=np.uint8)
    return -10.0 * math.log10(float(table[codes].mean()))


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ACGTNRYKMacgtn", max_size=300),
            # up to 2,000: numpy's pairwise sum splits blocks of 8 and 128 (long reads)
            st.text(alphabet=[chr(c) for c in range(33, 127)], min_size=1, max_size=2000),
        ),
        max_size=10,
    )
)
def test_fast_qc_equals_the_old_counts_bit_for_bit(specs: list[tuple[str, str]]) -> None:
    # the old implementation: four str.count passes and ndarray.mean; results must be identical
    # (not approximately: profile outputs are compared byte for byte)
    for sequence, quality in specs:
        assert read_mean_quality(quality) == _old_mean_quality(quality)
        old_ambiguous = len(sequence) - sum(sequence.count(base) for base in "ACGT")
        qc = ReadFilter(
            QCSettings(
                min_length=0, max_length=1000, min_mean_quality=None, max_ambiguous_fraction=1
            )
        )
        qc.classify(Read("r", sequence, None))
        assert qc.summary().ambiguous_bases == old_ambiguous


def test_n50_hand_examples() -> None:
    assert length_n50({2: 1, 3: 1, 4: 1, 5: 1}) == 4  # 14 bases; 5 + 4 = 9 >= 7
    assert length_n50({10: 2, 4: 1}) == 10  # 24 bases; 10 + 10 = 20 >= 12
    assert length_n50({100: 1, 1: 99}) == 100  # 199 bases; 100 >= 99.5
    assert length_n50({}) == 0
    assert length_n50({0: 5}) == 0


@given(st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=200))
def test_n50_matches_definition(lengths: list[int]) -> None:
    histogram: dict[int, int] = {}
    for length in lengths:
        histogram[length] = histogram.get(length, 0) + 1
    n50 = length_n50(histogram)
    total = sum(lengths)
    assert 2 * sum(x for x in lengths if x >= n50) >= total
    longer = [x for x in lengths if x > n50]
    assert 2 * sum(longer) < total


@given(
    st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=300),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_quantile_matches_numpy_linear(lengths: list[int], probability: float) -> None:
    """Peer tool: numpy.quantile(method="linear") (numpy 2.x)."""
    histogram: dict[int, int] = {}
    for length in lengths:
        histogram[length] = histogram.get(length, 0) + 1
    expected = float(np.quantile(np.array(lengths), probability))
    assert length_quantile(histogram, probability) == pytest.approx(expected, abs=1e-9)


def test_settings_validated() -> None:
    with pytest.raises(OptionError) as info:
        QCSettings(min_length=500, max_length=100, min_mean_quality=-1)
    assert info.value.code == "GB-QC-SETTINGS"
    assert "max_length 100 < min_length 500" in str(info.value)
    with pytest.raises(OptionError):
        QCSettings(min_length=1, max_length=2, min_mean_quality=None, max_ambiguous_fraction=2)


def test_presets_fit_their_read_types() -> None:
    assert set(QC_PRESETS) == {"ont", "hifi", "short"}
    ont, hifi, short = QC_PRESETS["ont"], QC_PRESETS["hifi"], QC_PRESETS["short"]
    for full_length in (ont, hifi):  # full-length 16S amplicon is ~1,500 bp
        assert full_length.min_length <= 1400
        assert full_length.max_length >= 1700
    assert short.min_length <= 250 <= short.max_length  # MiSeq 2x250 V4
    assert ont.min_mean_quality == 7.0
    assert hifi.min_mean_quality == 10.0  # the instrument already filters HiFi at Q20


def test_drop_reasons_first_match_and_accounting() -> None:
    rules = QCSettings(min_length=5, max_length=10, min_mean_quality=20, max_ambiguous_fraction=0.2)
    reads = [
        Read("short_and_bad", "ACG", "!!!"),
        Read("long", "A" * 11, "I" * 11),
        Read("ambiguous", "ACGTNN", "IIIIII"),  # 2/6 > 0.2
        Read("ok_ambiguous", "ACGTACGTN", "IIIIIIIII"),  # 1/9 <= 0.2
        Read("low", "ACGTAC", "+++++5"),  # mean Q < 20
        Read("empty", "", ""),
        Read("fine", "ACGTACG", "IIIIIII"),
    ]
    qc = ReadFilter(rules)
    kept = [r.name for r in qc.filter(reads)]
    assert kept == ["ok_ambiguous", "fine"]
    summary = qc.summary()
    assert summary.dropped == {
        "too_short": 2,
        "too_long": 1,
        "too_many_ambiguous": 1,
        "low_quality": 1,
    }
    assert summary.reads_in == 7 == summary.reads_kept + sum(summary.dropped.values())
    assert summary.bases_kept == 16
    assert summary.ambiguous_bases == 3
    assert summary.mean_quality == pytest.approx(40.0)
    assert summary.length_quantiles["min"] == 7
    assert summary.length_quantiles["max"] == 9
    assert summary.length_quantiles["median"] == 8.0
    assert qc.input_length_quantiles()["max"] == 11


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ACGTN", max_size=30),
            st.integers(min_value=33, max_value=73),
        ),
        max_size=40,
    ),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0, max_value=30),
    st.one_of(st.none(), st.floats(min_value=0, max_value=40)),
)
def test_read_accounting_adds_up(
    specs: list[tuple[str, int]], low: int, span: int, floor: float | None
) -> None:
    rules = QCSettings(min_length=low, max_length=low + span, min_mean_quality=floor)
    reads = [Read(f"r{i}", s, chr(q) * len(s)) for i, (s, q) in enumerate(specs)]
    qc = ReadFilter(rules)
    kept = list(qc.filter(reads))
    summary = qc.summary()
    assert summary.reads_in == len(reads)
    assert summary.reads_kept == len(kept)
    assert summary.reads_in == summary.reads_kept + sum(summary.dropped.values())
    assert set(summary.dropped) == set(DROP_REASONS)
    assert summary.bases_kept == sum(len(r.sequence) for r in kept)
    assert all(low <= len(r.sequence) <= low + span for r in kept)


def test_fasta_reads_skip_quality_filter() -> None:
    qc = ReadFilter(QCSettings(min_length=1, max_length=100, min_mean_quality=30))
    assert [r.name for r in qc.filter([Read("s", "ACGT", None)])] == ["s"]
    assert qc.summary().mean_quality is None


def test_qc_reads_known_answer_on_fixture() -> None:
    # good.fq: lengths 10, 10, 4; qualities all 'I' (Q40), all '#' (Q2), all '5' (Q20)
    calls: list[tuple[float, float | None]] = []
    summary = qc_reads(
        [FIXTURES / "good.fq"], settings=ANY, progress=lambda d, t: calls.append((d, t))
    )
    assert summary.reads_in == summary.reads_kept == 3
    assert summary.bases_kept == 24
    assert summary.length_n50 == 10
    assert summary.mean_quality == pytest.approx((40 + 2 + 20) / 3)
    size = float((FIXTURES / "good.fq").stat().st_size)
    assert calls[-1] == (size, size)
    assert summary.crlf_lines is False


def test_qc_reads_counts_crlf_and_lowercase() -> None:
    assert qc_reads([FIXTURES / "good_crlf.fq"], settings=ANY).crlf_lines is True
    summary = qc_reads([FIXTURES / "good_lowercase_iupac.fq"], settings=ANY)
    assert summary.lowercase_reads == 1
    assert summary.ambiguous_bases == 12  # RYKMSWBDHVNN


def test_zero_length_records_are_too_short() -> None:
    summary = qc_reads(
        [FIXTURES / "good_empty_record.fa"],
        settings=QCSettings(min_length=0, max_length=10, min_mean_quality=None),
    )
    assert summary.dropped["too_short"] == 1
    assert summary.reads_kept == 1


def test_no_reads_left_is_an_error_unless_asked() -> None:
    rules = QCSettings(min_length=800, max_length=2000, min_mean_quality=None)
    with pytest.raises(InputFormatError) as info:
        qc_reads([FIXTURES / "good.fq"], settings=rules)
    assert info.value.code == "GB-QC-NOREADS"
    assert "0 of 3 reads passed length 800-2000 bp" in str(info.value)
    assert "3 too_short" in str(info.value)
    summary = qc_reads([FIXTURES / "good.fq"], settings=rules, require_reads=False)
    assert summary.reads_kept == 0
    assert summary.length_quantiles == {}
    assert summary.length_n50 == 0


def test_bad_input_raises_before_any_figures() -> None:
    with pytest.raises(InputFormatError) as info:
        qc_reads([FIXTURES / "fastq_truncated.fq.gz"], settings=ANY)
    assert info.value.code == "GB-GZ-TRUNC"


def test_short_preset_on_real_miseq_reads(shared_dir: Path) -> None:
    """Independent pure-Python recount of the short preset on the dada2 MiSeq example."""
    path = shared_dir / "data" / "miseq_v4_gut_example_reads" / "sam1F.fastq.gz"
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    qualities = lines[3::4]
    expected_low = 0
    for quality in qualities:
        errors = [10 ** (-(ord(c) - 33) / 10) for c in quality]
        if -10 * math.log10(sum(errors) / len(errors)) < 15:
            expected_low += 1
    summary = qc_reads([path], settings=QC_PRESETS["short"])
    assert summary.reads_in == 1500
    assert summary.dropped["low_quality"] == expected_low
    assert summary.reads_kept == 1500 - expected_low
    assert summary.length_n50 == 250


# -- reservoir subsample (RELIABILITY F27, --max-reads) -----------------------------------------


@given(
    n=st.integers(min_value=0, max_value=300),
    size=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_reservoir_exact_size_stream_order_and_seeded(n: int, size: int, seed: int) -> None:
    sample = reservoir_sample(range(n), size, seed=seed)
    assert len(sample) == min(n, size)
    assert sample == sorted(set(sample))  # distinct items, in stream order
    assert all(0 <= item < n for item in sample)
    assert reservoir_sample(iter(range(n)), size, seed=seed) == sample  # same seed, same sample


def test_reservoir_seed_changes_the_sample() -> None:
    samples = {tuple(reservoir_sample(range(1000), 10, seed=seed)) for seed in range(20)}
    assert len(samples) == 20


def test_reservoir_every_subset_equally_likely() -> None:
    """n = 5, size = 2: each of the C(5, 2) = 10 subsets has probability 1/10.

    Pearson's chi-square over 4,000 seeded trials (9 degrees of freedom) stays below 27.88, the
    0.1 % critical value; a sampler that favoured early or late items fails by far (keeping the
    first two items always gives chi-square 36,000).
    """
    trials = 4000
    counts = Counter(tuple(reservoir_sample(range(5), 2, seed=seed)) for seed in range(trials))
    assert set(counts) == set(itertools.combinations(range(5), 2))
    expected = trials / 10
    chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
    assert chi_square < 27.88


def test_reservoir_skip_ahead_keeps_positions_uniform() -> None:
    """n = 60, size = 3 (Algorithm L skips most items): each position kept with p = 1/20.

    3,000 trials, 60 positions: chi-square (59 degrees of freedom) below 98.3, the 0.1 % value.
    """
    trials = 3000
    counts = Counter(
        item for seed in range(trials) for item in reservoir_sample(range(60), 3, seed=seed)
    )
    expected = trials * 3 / 60
    chi_square = sum((counts[i] - expected) ** 2 / expected for i in range(60))
    assert chi_square < 98.3


def test_reservoir_size_must_be_positive() -> None:
    with pytest.raises(OptionError, match="subsample size 0") as info:
        Reservoir(0, seed=1)
    assert info.value.code == ErrorCode.QC_SETTINGS


def test_qc_reads_subsamples_only_kept_reads() -> None:
    settings = QCSettings(min_length=5, max_length=10_000, min_mean_quality=None)
    reservoir: Reservoir[Read] = Reservoir(2, seed=3)
    qc = qc_reads([FIXTURES / "good.fq"], settings=settings, subsample=reservoir)
    assert (qc.reads_in, qc.reads_kept) == (3, 2)  # r3 (4 bp) is too short
    assert reservoir.seen == 2
    assert [r.name for r in reservoir.items()] == ["r1", "r2"]
