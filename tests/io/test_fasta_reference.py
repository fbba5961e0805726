"""One FASTA parser: reference FASTA goes through the reads parser (``iter_fasta``)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import EmptyInputError, InputFormatError, ReferenceDatabaseError
from gutbrain.io.reads import FastaRecord, iter_fasta
from gutbrain.reference.bundle import ReferenceBundle, read_sequences
from gutbrain.reference.formats import import_bundle, read_fasta

SRC = Path(__file__).resolve().parents[2] / "src" / "gutbrain"
REF = Path(__file__).resolve().parents[1] / "reference" / "fixtures"

_HEADERS = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
_SEQUENCES = st.text(alphabet="ACGTUNacgtun", min_size=1, max_size=200)


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(st.tuples(_HEADERS, _SEQUENCES), min_size=1, max_size=6),
    width=st.integers(min_value=1, max_value=80),
    crlf=st.booleans(),
    compress=st.booleans(),
    blank_between=st.booleans(),
)
def test_records_round_trip_whatever_the_layout(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[str, str]],
    width: int,
    crlf: bool,
    compress: bool,
    blank_between: bool,
) -> None:
    end = "\r\n" if crlf else "\n"
    lines: list[str] = []
    expected = []
    for header, sequence in records:
        expected.append((header, sequence, len(lines) + 1))
        lines.append(f">{header}")
        lines.extend(sequence[i : i + width] for i in range(0, len(sequence), width))
        if blank_between:
            lines.append("  ")
    data = (end.join(lines) + end).encode("utf-8")
    path = tmp_path_factory.mktemp("fa") / "ref.fa"
    path.write_bytes(gzip.compress(data) if compress else data)
    got = [(r.header, r.sequence, r.line) for r in iter_fasta(path)]
    assert got == expected


def test_reference_mode_keeps_headers_case_and_rna_and_skips_space(tmp_path: Path) -> None:
    path = tmp_path / "ref.fa"
    path.write_bytes(
        b"\xef\xbb\xbf\n>AB1.1 Bacteria;Bacillota;Blautia obeum \nacgu\n\n ACGT \n>e\n"
    )
    assert list(iter_fasta(path)) == [
        FastaRecord("AB1.1 Bacteria;Bacillota;Blautia obeum", "acguACGT", 2),
        FastaRecord("e", "", 6),
    ]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"@r1\nACGT\n+\nIIII\n", "GB-FQ-HDR"),
        (b"ACGT\n>r1\nACGT\n", "GB-FQ-HDR"),
        (b"\x00\x01\x02binary", "GB-FMT-UNKNOWN"),
        (b">r1 \xff\xfe\nACGT\n", "GB-FQ-HDR"),
        (b">r1\n" + b"A" * 2000 + b"\n", "GB-FQ-LINELEN"),
    ],
)
def test_not_fasta_is_refused_with_file_and_line(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(InputFormatError) as info:
        list(iter_fasta(path, max_line_length=1000))
    assert info.value.code == code
    assert info.value.path == str(path)


def test_empty_and_truncated_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.fa"
    empty.write_bytes(b"\n\n")
    with pytest.raises(EmptyInputError):
        list(iter_fasta(empty))
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(gzip.compress(b">r1\nACGT\n" * 2000)[:-40])
    with pytest.raises(InputFormatError) as info:
        list(iter_fasta(cut))
    assert info.value.code == "GB-GZ-TRUNC"


def test_reference_readers_map_parse_errors_to_reference_codes(tmp_path: Path) -> None:
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes(gzip.compress(b">r1 x\nACGT\n" * 2000)[:-40])
    with pytest.raises(ReferenceDatabaseError) as info:
        list(read_fasta(cut))
    assert info.value.code == "GB-REF-FORMAT"
    assert "cut.fa.gz" in str(info.value)
    assert "compressed stream ended early" in str(info.value)


def test_a_damaged_bundle_sequence_file_is_a_reference_error(tmp_path: Path) -> None:
    bundle: ReferenceBundle = import_bundle(
        REF / "tiny.fasta",
        REF / "tiny_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        version="1",
        out=tmp_path / "tiny",
    )
    assert [name for name, _ in read_sequences(bundle)]
    data = bundle.sequences_path.read_bytes()
    bundle.sequences_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReferenceDatabaseError) as info:
        list(read_sequences(bundle))
    assert info.value.code == "GB-REF-FORMAT"


def test_only_the_reads_module_parses_fasta() -> None:
    parse = re.compile(r"""startswith\(b?['"]>['"]\)|\[:1\] == b['"]>['"]""")
    parsers = sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if parse.search(path.read_text(encoding="utf-8"))
    )
    assert parsers == ["io/reads.py"]
