"""Strict read input (issue 2, RELIABILITY §2.2 rows F01–F30, §5.1).

Fixtures in ``fixtures/reads`` are named after their failure and rebuilt by ``make_fixtures.py``.
Bad files must raise an :class:`InputFormatError` with a stable code that names the file and the
line (or byte); good-but-odd files must parse to the expected reads.
"""

from __future__ import annotations

import gzip
import logging
import tempfile
import tracemalloc
from pathlib import Path
from unittest import mock

import mappy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.errors import (
    EmptyInputError,
    ErrorCode,
    InputFormatError,
    InputMissingError,
    InputWarning,
)
from gutbrain.io import reads as reads_module
from gutbrain.io.reads import (
    Read,
    ReadStats,
    check_reads,
    iter_reads,
    iter_sample_reads,
    sniff_compression,
)

FIXTURES = Path(__file__).parent / "fixtures" / "reads"

GOOD_READS = [
    Read("r1", "ACGTACGTAC", "IIIIIIIIII"),
    Read("r2", "GGGCCCAAAT", "##########"),
    Read("r3", "TTTT", "5555"),
]


def _fixture(name: str) -> Path:
    return FIXTURES / name


def _error(name: str, **kwargs: bool) -> InputFormatError:
    with pytest.raises(InputFormatError) as info:
        list(iter_reads(_fixture(name), **kwargs))
    return info.value


# -- the bad-input table ---------------------------------------------------------------------

#: fixture -> (code, line or None). line None = a whole-stream problem (no line applies).
BAD = {
    "fastq_empty.fq": ("GB-FQ-EMPTY", None),  # F01
    "fastq_empty.fq.gz": ("GB-FQ-EMPTY", None),  # F01 gzip of nothing
    "fastq_blank_lines_only.fq": ("GB-FQ-EMPTY", None),  # F01
    "fastq_truncated.fq.gz": ("GB-GZ-TRUNC", None),  # F02
    "gzip_crc_mismatch.fq.gz": ("GB-GZ-CRC", None),  # F03
    "gzip_corrupt_deflate.fq.gz": ("GB-GZ-CORRUPT", None),  # F03 corrupt block
    "gzip_trailing_garbage.fq.gz": ("GB-GZ-TRAIL", None),  # F04
    "xz_container.fq.xz": ("GB-FMT-UNKNOWN", None),  # F06
    "bam_container.bam": ("GB-FMT-UNKNOWN", None),  # F06
    "fastq_lone_cr.fq": ("GB-FQ-CR", 1),  # F07
    "fastq_invalid_alphabet.fq": ("GB-FQ-ALPHA", 2),  # F10
    "fasta_invalid_alphabet_space.fa": ("GB-FQ-ALPHA", 2),  # F10
    "fastq_missing_plus.fq": ("GB-FQ-PLUS", 3),  # F11
    "fastq_missing_sequence_line.fq": ("GB-FQ-PLUS", 2),  # F11 variant
    "fastq_plus_id_mismatch.fq": ("GB-FQ-PLUSID", 3),  # F12
    "fastq_header_without_at.fq": ("GB-FQ-HDR", 1),  # F13
    "fastq_bom.fq": ("GB-FQ-BOM", 1),  # F13
    "fastq_quality_length_mismatch.fq": ("GB-FQ-QLEN", 8),  # F14
    "fastq_quality_char_space.fq": ("GB-FQ-QCHAR", 4),  # F15
    "fastq_quality_char_del.fq": ("GB-FQ-QCHAR", 4),  # F15
    "fastq_quality_non_ascii.fq": ("GB-FQ-QCHAR", 4),  # F15
    "fastq_phred64.fq": ("GB-FQ-PHRED64", None),  # F16
    "fastq_duplicate_ids.fq": ("GB-FQ-DUPID", 9),  # F17
    "fasta_duplicate_ids.fa": ("GB-FQ-DUPID", 5),  # F17
    "binary_garbage.bin": ("GB-FMT-UNKNOWN", None),  # F22
    "fastq_blank_line_middle.fq": ("GB-FQ-BLANK", 5),  # F24
    "mixed_fasta_fastq.fq": ("GB-FQ-MIXED", 5),  # F26
    "mixed_fastq_in_fasta.fa": ("GB-FQ-MIXED", 3),  # F26
    "fastq_truncated_record.fq": ("GB-FQ-TRUNC", 7),
    "fastq_control_char_id.fq": ("GB-FQ-HDR", 1),  # F30
    "fastq_missing_id.fq": ("GB-FQ-HDR", 1),
}


@pytest.mark.parametrize(("name", "expected"), sorted(BAD.items()))
def test_bad_fixture_rejected_with_code_file_and_location(
    name: str, expected: tuple[str, int | None]
) -> None:
    code, line = expected
    error = _error(name)
    assert error.code == code
    assert error.exit_code == 65
    assert error.path is not None
    assert error.path.endswith(name)
    assert error.line == line
    message = str(error)
    assert name in message
    assert "expected" in message
    if line is None:
        assert "byte" in message or code in {"GB-FQ-EMPTY", "GB-FMT-UNKNOWN", "GB-FQ-PHRED64"}
    else:
        assert f"{name}:{line}" in message
    assert "\n" not in message


def test_every_bad_fixture_is_in_the_table() -> None:
    names = {p.name for p in FIXTURES.iterdir() if p.suffix != ".py"}
    good = {n for n in names if n.startswith("good") or n.endswith("_named.fastq")}
    good |= {"plain_named.fq.gz"}
    assert names - good == set(BAD)


def test_empty_file_is_empty_input_error() -> None:
    error = _error("fastq_empty.fq")
    assert isinstance(error, EmptyInputError)
    assert "0 bytes" in str(error)


# -- accepted oddities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "good.fq",
        "good.fq.gz",
        "good_crlf.fq",  # F07
        "good_multimember.fq.gz",  # F05
        "good_bgzip.fq.gz",  # F05 bgzip blocks + empty EOF block
        "good_gzip_zero_padding.fq.gz",  # F04 zero padding is fine
        "gzip_named.fastq",  # F06 gzip named .fastq
        "plain_named.fq.gz",  # F06 text named .gz
        "good_trailing_blank_lines.fq",  # F24
        "good_no_final_newline.fq",  # F25
    ],
)
def test_good_variants_give_identical_reads(name: str) -> None:
    assert list(iter_reads(_fixture(name))) == GOOD_READS


def test_format_sniffed_from_magic_not_extension() -> None:
    assert sniff_compression(_fixture("gzip_named.fastq")) == "gzip"
    assert sniff_compression(_fixture("plain_named.fq.gz")) == "none"
    with pytest.raises(InputFormatError, match="xz") as info:
        sniff_compression(_fixture("xz_container.fq.xz"))
    assert info.value.code == "GB-FMT-UNKNOWN"
    assert "gzip" in str(info.value)  # lists the accepted formats
    assert "BAM" in str(_error("bam_container.bam"))


def test_crlf_equivalent_to_lf_and_counted() -> None:
    stats = ReadStats()
    crlf = list(iter_reads(_fixture("good_crlf.fq"), stats=stats))
    assert crlf == list(iter_reads(_fixture("good.fq")))
    assert stats.crlf_lines == 12


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_lone_carriage_return_on_any_line_of_a_record_names_that_line(
    which: int, tmp_path: Path
) -> None:
    # issue 11: the \r check runs only on lines holding one; every line of a record keeps it
    lines = ["@r2", "ACGT", "+r2", "IIII"]
    lines[which] = lines[which][:2] + "\r" + lines[which][2:]
    path = tmp_path / "cr.fq"
    path.write_bytes(("@r1\nACGT\n+\nIIII\n" + "\n".join(lines) + "\n").encode())
    with pytest.raises(InputFormatError) as info:
        list(iter_reads(path))
    assert info.value.code == "GB-FQ-CR"
    assert info.value.line == 5 + which
    assert str(path) in str(info.value)


def test_lowercase_and_iupac_accepted_upper_cased_and_counted() -> None:
    stats = ReadStats()
    got = list(iter_reads(_fixture("good_lowercase_iupac.fq"), stats=stats))
    assert got[0] == Read("a", "ACGTRYKMSWBDHVNN", "I" * 16)
    assert stats.lowercase_reads == 1


def test_invalid_alphabet_reports_column() -> None:
    assert "'J' at column 5" in str(_error("fastq_invalid_alphabet.fq"))
    assert "' ' at column 5" in str(_error("fasta_invalid_alphabet_space.fa"))


def test_quality_char_out_of_range_including_space_reports_column() -> None:
    assert "' ' at column 3" in str(_error("fastq_quality_char_space.fq"))


def test_quality_length_mismatch_reports_record_and_lengths() -> None:
    error = _error("fastq_quality_length_mismatch.fq")
    assert error.record == 2
    assert 'read "r2"' in str(error)
    assert "quality length 5 != sequence length 10" in str(error)


def test_bom_gets_its_own_message() -> None:
    assert "byte order mark" in str(_error("fastq_bom.fq"))


def test_binary_garbage_reports_first_byte() -> None:
    assert "first byte 0x00" in str(_error("binary_garbage.bin"))


def test_plus_line_may_repeat_the_header() -> None:
    assert [r.name for r in iter_reads(_fixture("good_plus_repeats_header.fq"))] == ["r1"]


def test_multiline_fasta_joined_and_empty_record_kept_for_qc() -> None:
    got = list(iter_reads(_fixture("good_multiline.fa")))
    assert got == [
        Read("s1", "ACGTACGTACGTAC", None),
        Read("s2", "ACGTN", None),
        Read("s3", "TTTT", None),
    ]
    assert list(iter_reads(_fixture("good_empty_record.fa"))) == [
        Read("s1", "", None),
        Read("s2", "ACGT", None),
    ]


def test_zero_length_fastq_record_is_a_read() -> None:
    got = list(iter_reads(_fixture("good_zero_length_record.fq")))
    assert got[0] == Read("empty", "", "")


def test_all_zero_qualities_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gutbrain.io.reads"):
        assert len(list(iter_reads(_fixture("good_all_zero_quality.fq")))) == 2
    assert "Q0" in caplog.text


def test_phred64_hint_names_conversion() -> None:
    assert "Phred+64" in str(_error("fastq_phred64.fq"))


# -- truncation: nothing may be committed before the end -------------------------------------


def test_truncated_gzip_fails_only_after_yielding_some_reads() -> None:
    yielded = []
    with pytest.raises(InputFormatError) as info:
        for read in iter_reads(_fixture("fastq_truncated.fq.gz")):
            yielded.append(read)
    assert 0 < len(yielded) < 60
    assert info.value.code == "GB-GZ-TRUNC"
    assert f"after {len(yielded)} complete records" in str(info.value)


def test_mappy_accepts_truncated_gzip_silently() -> None:
    """Why gutbrain must not parse with mappy (RELIABILITY §0.1): it returns a partial set."""
    records = list(mappy.fastx_read(str(_fixture("fastq_truncated.fq.gz"))))
    assert 0 < len(records) < 60


# -- duplicate IDs -----------------------------------------------------------------------------


def test_duplicate_ids_rejected_with_both_lines() -> None:
    message = str(_error("fastq_duplicate_ids.fq"))
    assert "fastq_duplicate_ids.fq:9" in message
    assert "fastq_duplicate_ids.fq:1" in message


def test_allow_duplicate_ids_renames_with_warning() -> None:
    with pytest.warns(InputWarning, match="1 duplicate read IDs renamed"):
        got = list(iter_reads(_fixture("fastq_duplicate_ids.fq"), allow_duplicate_ids=True))
    assert [r.name for r in got] == ["r1", "r2", "r1_dup1"]


def test_duplicate_ids_across_files_of_one_sample() -> None:
    good = _fixture("good.fq")
    with pytest.raises(InputFormatError) as info:
        list(iter_sample_reads([good, _fixture("good.fq.gz")]))
    assert info.value.code == "GB-FQ-DUPID"
    assert f"{good}:1" in str(info.value)
    assert str(info.value).startswith(f"{_fixture('good.fq.gz')}:1")


def test_hash_collision_is_not_reported_as_duplicate() -> None:
    sample = reads_module._Sample(
        [_fixture("good.fq")],
        allow_duplicate_ids=False,
        max_line_length=1000,
        stats=ReadStats(),
    )
    sample.seen.add(hash(b"r2"))  # pretend an earlier, different ID had r2's hash
    assert [r.name for r in sample.reads()] == ["r1", "r2", "r3"]


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.sampled_from(["r1", "r2", "r10", "a", "bb", "ccc", "x_1"]), max_size=12),
    narrow=st.booleans(),
)
def test_duplicate_id_decisions_match_a_set(names: list[str], narrow: bool) -> None:
    """issue 11 (mem2): the compact ID store rejects exactly the IDs a Python set has seen,
    also when the hash is forced to collide for different IDs (``narrow``: 3 values)."""
    first_repeat = next((i for i, n in enumerate(names) if n in names[:i]), None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.fq"
        path.write_text("".join(f"@{n}\nACGT\n+\nIIII\n" for n in names))
        with mock.patch.object(
            reads_module, "hash", (lambda b: len(b) % 3) if narrow else hash, create=True
        ):
            if not names:
                with pytest.raises(EmptyInputError):
                    list(iter_reads(path))
            elif first_repeat is None:
                assert [r.name for r in iter_reads(path)] == names
            else:
                with pytest.raises(InputFormatError) as info:
                    list(iter_reads(path))
                assert info.value.code == "GB-FQ-DUPID"
                assert f"ids.fq:{4 * first_repeat + 1}" in str(info.value)


# -- missing input, bounded memory -------------------------------------------------------------


def test_missing_path_and_folder_are_input_missing(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError):
        iter_reads(tmp_path / "nope.fq")
    with pytest.raises(InputMissingError):
        iter_reads(tmp_path)
    with pytest.raises(EmptyInputError) as info:
        iter_sample_reads([])
    assert info.value.code == ErrorCode.NO_READ_FILES  # as profile_sample, run_sample and `run`


def test_device_path_is_input_missing() -> None:
    """F29: /dev/zero would never end; it is refused before reading."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    with pytest.raises(InputMissingError):
        iter_reads("/dev/zero")


def test_gzip_compressed_twice_is_named(tmp_path: Path) -> None:
    path = tmp_path / "twice.fq.gz"
    path.write_bytes(gzip.compress(gzip.compress(b"@r1\nACGT\n+\nIIII\n")))
    with pytest.raises(InputFormatError, match="compressed twice") as info:
        list(iter_reads(path))
    assert info.value.code == "GB-FMT-UNKNOWN"


def test_line_length_cap_bounded_memory(tmp_path: Path) -> None:
    """F23: a 40 MB line (plain) and a 40 MB line inside gzip fail after ~1 MB of buffering."""
    plain = tmp_path / "long.fq"
    with open(plain, "wb") as handle:
        handle.write(b"@r1\n")
        block = b"A" * (1 << 20)
        for _ in range(40):
            handle.write(block)
    packed = tmp_path / "long.fq.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    for path in (plain, packed):
        tracemalloc.start()
        try:
            with pytest.raises(InputFormatError) as info:
                list(iter_reads(path))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert info.value.code == "GB-FQ-LINELEN"
        assert info.value.line == 2
        assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_fasta_sequence_cap_applies_to_joined_lines(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.fa"
    path.write_text(">s1\n" + "ACGTACGTAC\n" * 30)
    with pytest.raises(InputFormatError) as info:
        list(iter_reads(path, max_line_length=100))
    assert info.value.code == "GB-FQ-LINELEN"
    assert info.value.line == 12  # 11 lines = 110 bases > 100


def test_check_reads_reports_stats() -> None:
    stats = check_reads([_fixture("good.fq"), _fixture("good_multiline.fa")])
    assert stats.records == 6
    assert stats.files == 2
    assert stats.formats == ("fastq+none", "fasta+none")


# -- properties ------------------------------------------------------------------------------

_NAME = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12
)
_SEQ = st.text(alphabet="ACGTRYKMSWBDHVNacgtn", max_size=40)


@st.composite
def _records(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    names = draw(st.lists(_NAME, min_size=1, max_size=8, unique=True))
    out = []
    for name in names:
        seq = draw(_SEQ)
        qual = draw(
            st.text(
                alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                min_size=len(seq),
                max_size=len(seq),
            )
        )
        out.append((name, seq, qual))
    return out


def _write(records: list[tuple[str, str, str]], *, fastq: bool, newline: str, wrap: int) -> bytes:
    lines: list[str] = []
    if fastq:
        lines += ["@low_quality_anchor", "A", "+", "!"]  # rules out the Phred+64 heuristic
        for name, seq, qual in records:
            lines += [f"@{name} description", seq, "+", qual]
    else:
        for name, seq, _ in records:
            lines.append(f">{name}")
            lines += [seq[i : i + wrap] for i in range(0, len(seq), wrap)]
    return (newline.join(lines) + newline).encode("ascii")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=_records(),
    fastq=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    wrap=st.integers(min_value=1, max_value=50),
    compress=st.booleans(),
)
def test_roundtrip_generated_records(
    records: list[tuple[str, str, str]], fastq: bool, newline: str, wrap: int, compress: bool
) -> None:
    data = _write(records, fastq=fastq, newline=newline, wrap=wrap)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reads"
        path.write_bytes(gzip.compress(data) if compress else data)
        got = list(iter_reads(path))
    if fastq:
        assert got[0].name == "low_quality_anchor"
        got = got[1:]
    expected = [Read(n, s.upper(), q if fastq else None) for n, s, q in records]
    assert got == expected


def _valid(read: Read) -> bool:
    ok_seq = read.sequence == read.sequence.upper() and set(read.sequence) <= set("ACGTRYKMSWBDHVN")
    ok_qual = read.quality is None or (
        len(read.quality) == len(read.sequence) and all(33 <= ord(c) <= 126 for c in read.quality)
    )
    return bool(read.name) and read.name.isprintable() and ok_seq and ok_qual


_BASE_FILES = {
    "fastq": (FIXTURES / "good.fq").read_bytes(),
    "fasta": (FIXTURES / "good_multiline.fa").read_bytes(),
    "gzip": (FIXTURES / "good.fq.gz").read_bytes(),
}


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(sorted(_BASE_FILES)),
    position=st.integers(min_value=0, max_value=10_000),
    byte=st.integers(min_value=0, max_value=255),
    action=st.sampled_from(["replace", "delete", "insert"]),
)
def test_any_single_byte_corruption_is_error_or_valid_records(
    kind: str, position: int, byte: int, action: str
) -> None:
    data = bytearray(_BASE_FILES[kind])
    position %= len(data)
    if action == "replace":
        data[position] = byte
    elif action == "delete":
        del data[position]
    else:
        data.insert(position, byte)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reads"
        path.write_bytes(bytes(data))
        try:
            got = list(iter_reads(path))
        except InputFormatError:
            return
    assert got
    assert all(_valid(read) for read in got)


def test_same_file_given_twice_is_a_duplicate() -> None:
    """Regression: the re-scan stopped in the first copy of the path and called it a collision."""
    good = _fixture("good.fq")
    with pytest.raises(InputFormatError) as info:
        list(iter_sample_reads([good, good]))
    assert info.value.code == "GB-FQ-DUPID"
    assert f"seen before at {good}:1" in str(info.value)


def test_renaming_many_duplicates_rescans_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: every renamed duplicate re-scanned the earlier files (quadratic time)."""
    text = "".join(f"@r{i}\nACGT\n+\nIIII\n" for i in range(200))
    first, second = tmp_path / "a.fq", tmp_path / "b.fq"
    first.write_text(text)
    second.write_text(text)
    parsers = 0
    original = reads_module._Parser.__init__

    def counting(self: reads_module._Parser, *args: object, **kwargs: object) -> None:
        nonlocal parsers
        parsers += 1
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reads_module._Parser, "__init__", counting)
    with pytest.warns(InputWarning, match="200 duplicate read IDs renamed"):
        got = list(iter_sample_reads([first, second], allow_duplicate_ids=True))
    assert [r.name for r in got[200:203]] == ["r0_dup1", "r1_dup2", "r2_dup3"]
    assert len({r.name for r in got}) == 400
    assert parsers <= 4  # two files + the confirming re-scan of the first duplicate


def test_read_named_like_a_generated_name_is_renamed_too(tmp_path: Path) -> None:
    """Regression: 'r1_dup1' in a later file matched no earlier *input* ID, was taken for a hash
    collision and kept, so two reads were named r1_dup1."""
    first, second = tmp_path / "a.fq", tmp_path / "b.fq"
    first.write_text("@r1\nACGT\n+\nIIII\n@r1\nACGT\n+\nIIII\n")
    second.write_text("@r1_dup1\nACGT\n+\nIIII\n")
    with pytest.warns(InputWarning):
        names = [r.name for r in iter_sample_reads([first, second], allow_duplicate_ids=True)]
    assert len(set(names)) == 3
    assert names[:2] == ["r1", "r1_dup1"]
