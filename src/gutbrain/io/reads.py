"""Strict, streaming FASTQ/FASTA reader (plain, gzip, bgzip or multi-member gzip).

Why gutbrain has its own reader: the usual parsers accept broken files silently (mappy returns a
partial read set for a truncated ``.gz`` and glues the quality onto the sequence when a ``+`` line
is missing; dnaio accepts duplicate IDs, a space inside a quality string and an empty file). This
module rejects every such file with an :class:`~gutbrain.errors.InputFormatError` whose message
names the file, the line, the record, the decompressed byte offset, what was found and what was
expected, and carries a stable code (``GB-FQ-…``, ``GB-GZ-…``, ``GB-FMT-UNKNOWN``).

.. warning::

   **Do not commit anything until the iterator is exhausted.** Reads stream out as they are
   parsed, so a truncated or corrupt gzip file (``GB-GZ-TRUNC``, ``GB-GZ-CRC``), a duplicate ID
   or a Phred+64 file (``GB-FQ-PHRED64``, decided from the whole file) is only reported *after*
   earlier records were yielded. Callers must treat every read as provisional until the loop ends
   without an exception, and must write results only after that.

Accepted input
--------------
* Compression is sniffed from the first bytes, never from the file name: ``1f 8b`` is gzip
  (single member, multi-member such as ``cat a.gz b.gz``, or bgzip; zero padding after the last
  member is accepted), anything else must be plain text. bzip2, xz, zstd, zip, BAM and HDF5 are
  recognised and refused with ``GB-FMT-UNKNOWN``.
* FASTQ: strict four-line records (``@id``, sequence, ``+`` optionally repeating the header,
  quality of the same length, Phred+33, characters ``!``..``~``). Multi-line FASTQ is refused.
* FASTA: ``>id`` followed by zero or more sequence lines (wrapped sequences are joined).
* Sequences: IUPAC nucleotide codes ``ACGTRYKMSWBDHVN`` in either case; lowercase is upper-cased
  and counted. Anything else (``U``, ``-``, ``.``, ``*``, digits, spaces) is ``GB-FQ-ALPHA``.
* CRLF line endings are accepted (the ``\\r`` is stripped and counted); a lone ``\\r`` is refused.
  A missing final newline and trailing blank lines are accepted; a blank line between records
  is refused (``GB-FQ-BLANK``).
* Read IDs are the header up to the first whitespace; they must be non-empty, printable UTF-8 and
  at most :data:`MAX_ID_LENGTH` characters.

Duplicate read IDs
------------------
Rejected by default (``GB-FQ-DUPID``, naming both lines), also across the files of one sample in
:func:`iter_sample_reads`. With ``allow_duplicate_ids=True`` the later copies are *renamed*
(``r1`` -> ``r1_dup1``; the suffix number counts duplicates in the sample) so that downstream
read-keyed tables stay unambiguous, and one :class:`~gutbrain.errors.InputWarning` per file
reports how many were renamed. IDs are remembered as 64-bit hashes
(:class:`~gutbrain.io.keyindex.KeyIndex`: sorted runs, on disk from 65,536 IDs on, so memory
holds 2–4 bytes per read of its Bloom filter); on a hash match the files are re-scanned to
confirm the duplicate and find its first line, so a hash collision never causes a false error.
When renaming, only the sample's first duplicate is confirmed this way (one re-scan, not one per
duplicate); a later collision would only rename a read needlessly.

Memory
------
Lines are read with a hard cap (``max_line_length``, default 1,000,000 bytes; the same cap bounds
a joined FASTA sequence): a 10 GB line fails with ``GB-FQ-LINELEN`` after at most
``max_line_length`` + 1 MiB of buffering. Decompression is bounded to 1 MiB of output per step, so
a gzip bomb is also read in bounded memory.

Error codes
-----------
``GB-FQ-EMPTY`` no records; ``GB-FMT-UNKNOWN`` not FASTA/FASTQ (binary, other container);
``GB-GZ-TRUNC`` gzip ended early; ``GB-GZ-CRC`` gzip checksum/length mismatch; ``GB-GZ-CORRUPT``
invalid compressed data; ``GB-GZ-TRAIL`` garbage after the last gzip member; ``GB-FQ-BOM`` byte
order mark; ``GB-FQ-HDR`` bad header line; ``GB-FQ-IDLEN`` read ID too long; ``GB-FQ-MIXED``
FASTA and FASTQ records mixed; ``GB-FQ-PLUS`` missing ``+`` line; ``GB-FQ-PLUSID`` ``+`` line names
another read; ``GB-FQ-QLEN`` quality length differs from sequence length; ``GB-FQ-QCHAR`` quality
character outside ``!``..``~``; ``GB-FQ-PHRED64`` qualities look Phred+64; ``GB-FQ-ALPHA``
character outside the IUPAC alphabet; ``GB-FQ-DUPID`` duplicate read ID; ``GB-FQ-LINELEN`` line
or sequence longer than the cap; ``GB-FQ-BLANK`` blank line inside the file; ``GB-FQ-CR`` lone
carriage return; ``GB-FQ-TRUNC`` the file ends inside a record.
"""

from __future__ import annotations

import itertools
import logging
import warnings
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError, InputWarning
from gutbrain.io.files import check_input_file
from gutbrain.io.keyindex import KeyIndex

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_LINE_LENGTH",
    "MAX_ID_LENGTH",
    "FastaRecord",
    "Read",
    "ReadStats",
    "check_reads",
    "iter_fasta",
    "iter_reads",
    "iter_sample_reads",
    "sniff_compression",
]

logger = logging.getLogger(__name__)

#: Default cap on one line (and on one joined FASTA sequence), in bytes.
DEFAULT_MAX_LINE_LENGTH = 1_000_000
#: Longest accepted read ID, in characters.
MAX_ID_LENGTH = 1024
#: Human-readable list used in ``GB-FMT-UNKNOWN`` messages.
ACCEPTED_FORMATS = "FASTQ or FASTA, plain text or gzip/bgzip (.fastq, .fq, .fasta, .fa, + .gz)"

_READ_SIZE = 1 << 18  # compressed bytes per read() call
_MAX_OUT = 1 << 20  # decompressed bytes per zlib step (bounds gzip bombs)
_IUPAC = b"ACGTRYKMSWBDHVNacgtrykmswbdhvn"
#: Every byte but white space: what a reference sequence line may hold (its caller checks the
#: alphabet, e.g. RNA ``U`` is allowed there).
_NOT_SPACE = bytes(b for b in range(256) if b not in b" \t\n\r\x0b\x0c")
_QUALITY_OK = bytes(range(33, 127))
_BOM = b"\xef\xbb\xbf"
_OTHER_CONTAINERS: tuple[tuple[bytes, str], ...] = (
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"BAM\x01", "BAM"),
    (b"\x89HDF", "HDF5"),
    (b"CRAM", "CRAM"),
)

Compression = Literal["gzip", "none"]


@dataclass(frozen=True, slots=True)
class Read:
    """One sequencing read.

    ``name`` is the header up to the first whitespace; ``sequence`` is upper-cased with any
    ``\\r`` stripped; ``quality`` is the Phred+33 string (same length as ``sequence``), ``None``
    for FASTA.
    """

    name: str
    sequence: str
    quality: str | None


@dataclass(slots=True)
class ReadStats:
    """Facts gathered while parsing, filled in as reads stream (final only after exhaustion).

    Pass one instance as ``stats=`` to :func:`iter_reads` / :func:`iter_sample_reads` to collect
    them; the read quality-control step copies ``lowercase_reads`` and ``crlf_lines`` from here.
    """

    files: int = 0
    records: int = 0
    lines: int = 0
    crlf_lines: int = 0
    lowercase_reads: int = 0
    renamed_duplicates: int = 0
    bytes_read: int = 0  # bytes read from disk (compressed size for gzip), for progress
    bytes_decompressed: int = 0
    formats: tuple[str, ...] = ()  # e.g. ("fastq+gzip",), one entry per file


@dataclass(frozen=True, slots=True)
class FastaRecord:
    """One record of a reference FASTA file (:func:`iter_fasta`).

    ``header`` is the whole header line after ``>`` (white space around it dropped),
    ``sequence`` the joined sequence lines as written (case kept), ``line`` the header's line.
    """

    header: str
    sequence: str
    line: int


class _StreamError(Exception):
    """Private: a compressed-stream failure, re-raised with record context by the parser."""

    def __init__(self, code: str, found: str, hint: str, decompressed: int) -> None:
        super().__init__(found)
        self.code = code
        self.found = found
        self.hint = hint
        self.decompressed = decompressed


def sniff_compression(path: str | Path) -> Compression:
    """Return ``"gzip"`` or ``"none"`` from the file's first bytes (never its name).

    Raises
    ------
    InputMissingError
        When the path is not a readable regular file.
    InputFormatError
        ``GB-FMT-UNKNOWN`` for another container (bzip2, xz, zstd, zip, BAM, HDF5, CRAM).
    """
    checked = check_input_file(path)
    with open(checked, "rb") as handle:
        head = handle.read(8)
    return _compression_of(head, checked)


def _compression_of(head: bytes, path: Path) -> Compression:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    for magic, label in _OTHER_CONTAINERS:
        if head.startswith(magic):
            message = (
                f"found a {label} file; expected {ACCEPTED_FORMATS}. "
                "Hint: convert it (e.g. decompress and re-compress with gzip) and retry"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.FMT_UNKNOWN)
    return "none"


def _raw_chunks(handle: BinaryIO, first: bytes, stats: ReadStats) -> Iterator[bytes]:
    if first:
        stats.bytes_read += len(first)
        yield first
    while chunk := handle.read(_READ_SIZE):
        stats.bytes_read += len(chunk)
        yield chunk


def _gzip_chunks(raw: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress every gzip member; detect truncation, checksum errors and trailing garbage."""
    produced = 0
    pending = b""
    members = 0
    while True:
        # between members: skip zero padding, require a gzip magic or end of file
        while len(pending) < 2:
            more = next(raw, b"")
            if not more:
                break
            pending += more
        if not pending:
            return
        if members and pending[:2] != b"\x1f\x8b":
            stripped = pending.lstrip(b"\x00")  # zero padding after a member is accepted
            while len(stripped) < 2:
                more = next(raw, b"")
                if not more:
                    break
                stripped = (stripped + more).lstrip(b"\x00")
            if not stripped:
                return
            if stripped[:2] != b"\x1f\x8b":
                found = f"non-gzip data {stripped[:8]!r} after gzip member {members}"
                hint = "the file has trailing garbage; re-create or re-download it"
                raise _StreamError(ErrorCode.GZ_TRAIL, found, hint, produced)
            pending = stripped
        members += 1
        decoder = zlib.decompressobj(31)
        while not decoder.eof:
            if not pending:
                pending = next(raw, b"")
                if not pending:
                    found = f"compressed stream ended early in gzip member {members}"
                    raise _StreamError(
                        ErrorCode.GZ_TRUNC,
                        found,
                        "the file is incomplete (interrupted copy or download?); fetch it again",
                        produced,
                    )
            try:
                out = decoder.decompress(pending, _MAX_OUT)
            except zlib.error as exc:
                text = str(exc)
                if "incorrect data check" in text or "incorrect length check" in text:
                    code, found = ErrorCode.GZ_CRC, f"gzip checksum mismatch ({text})"
                else:
                    code, found = ErrorCode.GZ_CORRUPT, f"invalid gzip data ({text})"
                raise _StreamError(
                    code, found, "the file is damaged; fetch or re-create it", produced
                ) from None
            pending = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
            if out:
                produced += len(out)
                yield out


class _Parser:
    """One file's parse state; ``records()`` yields reads and raises on the first problem."""

    def __init__(
        self,
        path: Path,
        *,
        max_line_length: int,
        allow_duplicate_ids: bool,
        seen: KeyIndex | None,  # issue 11 (mem2): compact set of ID hashes
        stats: ReadStats,
        on_duplicate: Callable[[_Parser, bytes, int, int], str | None] | None,
        reference: bool = False,
    ) -> None:
        self.path = path
        self.reference = reference
        self.sequence_bytes = _NOT_SPACE if reference else _IUPAC
        self.max_line_length = max_line_length
        self.allow_duplicate_ids = allow_duplicate_ids
        self.seen = seen
        self.stats = stats
        self.on_duplicate = on_duplicate
        self.record = 0
        self.header_line = 0  # line of the header of the record last yielded
        self.header_offset = 0  # decompressed byte offset of that header
        self.lines_read = 0
        self.bytes_before = 0
        self.decompressed = 0
        self.renamed = 0
        self.yielded = 0
        self.first_duplicate: str | None = None

    # -- errors -----------------------------------------------------------------------------

    def _fail(
        self,
        code: str,
        found: str,
        expected: str,
        *,
        line: int | None,
        byte: int | None = None,
        name: str | None = None,
        hint: str = "",
        empty: bool = False,
        whole_file: bool = False,
    ) -> InputFormatError:
        details = []
        if name is not None:
            details.append(f"read {_show(name)}")
        if byte is not None:
            details.append(f"decompressed byte {byte:,}")
        where = f"({', '.join(details)}) " if details else ""
        message = f"{where}{found}; expected {expected}"
        if hint:
            message += f". Hint: {hint}"
        record = self.record if self.record and not whole_file else None
        cls = EmptyInputError if empty else InputFormatError
        return cls(message, path=self.path, line=line, record=record, code=code)

    # -- bytes to lines -----------------------------------------------------------------------

    def _line_batches(self, chunks: Iterator[bytes]) -> Iterator[list[bytes]]:
        rest = b""
        cap = self.max_line_length
        for chunk in chunks:
            data = rest + chunk if rest else chunk
            parts = data.split(b"\n")
            rest = parts.pop()
            if parts and max(map(len, parts)) > cap:
                index = next(i for i, part in enumerate(parts) if len(part) > cap)
                offset = self.bytes_before + sum(len(p) + 1 for p in parts[:index])
                raise self._too_long(self.lines_read + index + 1, offset, len(parts[index]))
            if len(rest) > cap:
                offset = self.bytes_before + sum(len(p) + 1 for p in parts)
                raise self._too_long(self.lines_read + len(parts) + 1, offset, len(rest))
            self.lines_read += len(parts)
            self.bytes_before += len(data) - len(rest)
            if parts:
                yield parts
        if rest:
            self.lines_read += 1
            yield [rest]

    def _too_long(self, line: int, offset: int, length: int) -> InputFormatError:
        found = f"a line of more than {self.max_line_length:,} bytes (at least {length:,})"
        return self._fail(
            ErrorCode.FQ_LINELEN,
            found,
            f"lines of at most {self.max_line_length:,} bytes",
            line=line,
            byte=offset,
            hint="this is not a read file, or it lacks line breaks",
        )

    # -- top level ----------------------------------------------------------------------------

    def records(self) -> Generator[Read, None, None]:
        path = self.path
        with open(path, "rb") as handle:
            head = handle.read(_READ_SIZE)
            if not head:
                raise self._fail(
                    ErrorCode.FQ_EMPTY,
                    "an empty file (0 bytes)",
                    "FASTQ or FASTA records",
                    line=None,
                    empty=True,
                    hint="check that the sequencing export finished",
                )
            compression = _compression_of(head, path)
            raw = _raw_chunks(handle, head, self.stats)
            chunks = _gzip_chunks(raw) if compression == "gzip" else raw
            try:
                first = next(chunks, b"")
                if not first:
                    raise self._fail(
                        ErrorCode.FQ_EMPTY,
                        "a gzip file that decompresses to nothing",
                        "FASTQ or FASTA records",
                        line=None,
                        empty=True,
                    )
                if self.reference and first.startswith(_BOM):
                    first = first[len(_BOM) :] or next(chunks, b"\n")
                kind = self._sniff_content(first, compression)
                if self.reference and kind == "fastq":
                    raise self._fail(
                        ErrorCode.FQ_HDR,
                        "a FASTQ header '@'",
                        "a FASTA file whose first header starts with '>'",
                        line=1,
                        byte=0,
                    )
                batches = self._line_batches(itertools.chain((first,), chunks))
                lines = itertools.chain.from_iterable(batches)
                if kind == "fastq":
                    yield from self._fastq(lines)
                else:
                    yield from self._fasta(lines)
            except _StreamError as exc:
                self.stats.bytes_decompressed += exc.decompressed
                found = f"{exc.found}, after {self.yielded:,} complete records"
                raise self._fail(
                    exc.code,
                    found,
                    "a complete, intact gzip stream",
                    line=None,
                    byte=exc.decompressed,
                    hint=exc.hint,
                ) from None
            self.stats.formats = (*self.stats.formats, f"{kind}+{compression}")
        self.stats.files += 1
        self.stats.bytes_decompressed += self.bytes_before
        if self.record == 0:
            raise self._fail(
                ErrorCode.FQ_EMPTY,
                "no records (only blank lines)",
                "FASTQ or FASTA records",
                line=None,
                empty=True,
            )
        if self.renamed:
            message = (
                f"{path}: {self.renamed:,} duplicate read IDs renamed with a _dupN suffix "
                f"(first: {self.first_duplicate})"
            )
            warnings.warn(message, InputWarning, stacklevel=3)

    def _sniff_content(self, first: bytes, compression: str) -> Literal["fastq", "fasta"]:
        lead = first[:1]
        if lead == b"@":
            return "fastq"
        if lead == b">":
            return "fasta"
        inner = " inside gzip" if compression == "gzip" else ""
        if first.startswith(_BOM):
            raise self._fail(
                ErrorCode.FQ_BOM,
                "a UTF-8 byte order mark (EF BB BF) before the first header",
                "'@' (FASTQ) or '>' (FASTA) as the very first byte",
                line=1,
                byte=0,
                hint="re-save the file without a BOM (a text editor added it)",
            )
        if compression == "gzip" and first.startswith(b"\x1f\x8b"):
            raise self._fail(
                ErrorCode.FMT_UNKNOWN,
                "a gzip file inside gzip (compressed twice)",
                ACCEPTED_FORMATS,
                line=None,
                hint="decompress it once (gunzip) and retry",
            )
        for magic, label in _OTHER_CONTAINERS:
            if first.startswith(magic):
                raise self._fail(
                    ErrorCode.FMT_UNKNOWN,
                    f"a {label} file{inner}",
                    ACCEPTED_FORMATS,
                    line=None,
                    hint="convert it to FASTQ first",
                )
        if lead in (b"\n", b"\r"):
            return "fastq" if _first_marker(first) == b"@" else "fasta"
        byte = first[0]
        if 32 <= byte < 127 or byte in (9,):
            found = f"{chr(byte)!r} as the first character{inner}"
            raise self._fail(
                ErrorCode.FQ_HDR,
                found,
                "'@' (FASTQ) or '>' (FASTA)",
                line=1,
                byte=0,
                hint=f"this does not look like a read file; expected {ACCEPTED_FORMATS}",
            )
        found = f"not FASTA/FASTQ{inner}: first byte 0x{byte:02x} (binary data)"
        raise self._fail(ErrorCode.FMT_UNKNOWN, found, ACCEPTED_FORMATS, line=None)

    # -- shared record pieces -------------------------------------------------------------------

    def _strip_cr(self, line: bytes, lineno: int, offset: int) -> bytes:
        if line[-1:] == b"\r":
            line = line[:-1]
            self.stats.crlf_lines += 1
        if b"\r" in line:
            raise self._fail(
                ErrorCode.FQ_CR,
                "a carriage return (\\r) inside a line",
                "\\n or \\r\\n line endings",
                line=lineno,
                byte=offset + line.index(b"\r"),
                hint="old Mac line endings? convert with dos2unix -c mac",
            )
        return line

    def _parse_name(self, header: bytes, lineno: int, offset: int) -> tuple[bytes, str]:
        parts = header[1:].split(None, 1)
        if not parts or header[1:2].isspace():
            raise self._fail(
                ErrorCode.FQ_HDR,
                f"header {_show_bytes(header)} without a read ID",
                f"'{chr(header[0])}' immediately followed by an ID",
                line=lineno,
                byte=offset,
            )
        name_bytes = parts[0]
        try:
            name = name_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise self._fail(
                ErrorCode.FQ_HDR,
                f"read ID {_show_bytes(name_bytes)} that is not valid UTF-8",
                "a UTF-8 (ideally ASCII) read ID",
                line=lineno,
                byte=offset,
            ) from None
        if not name.isprintable():
            raise self._fail(
                ErrorCode.FQ_HDR,
                f"control character in read ID {_show_bytes(name_bytes)}",
                "printable characters only",
                line=lineno,
                byte=offset,
            )
        if len(name) > MAX_ID_LENGTH:
            raise self._fail(
                ErrorCode.FQ_IDLEN,
                f"a read ID of {len(name):,} characters",
                f"at most {MAX_ID_LENGTH:,}",
                line=lineno,
                byte=offset,
            )
        return name_bytes, name

    def _check_alphabet(self, seq: bytes, lineno: int, offset: int, name: str) -> None:
        bad = seq.translate(None, _IUPAC)
        if bad:
            column = next(i for i, b in enumerate(seq) if b not in _IUPAC) + 1
            char = seq[column - 1 : column]
            raise self._fail(
                ErrorCode.FQ_ALPHA,
                f"{_show_bytes(char)} at column {column} of the sequence",
                "IUPAC nucleotide codes ACGTRYKMSWBDHVN (any case)",
                line=lineno,
                byte=offset + column - 1,
                name=name,
            )

    def _unique_name(self, name_bytes: bytes, name: str, lineno: int, offset: int) -> str:
        """Remember a read ID; on a repeat fail or rename (see :meth:`_duplicate`)."""
        assert self.seen is not None
        key = hash(name_bytes)
        if key in self.seen:
            return self._duplicate(name_bytes, name, lineno, offset)
        self.seen.add(key)
        return name

    def _duplicate(self, name_bytes: bytes, name: str, lineno: int, offset: int) -> str:
        """Handle a hash hit; return the name to use (maybe renamed)."""
        assert self.seen is not None
        if self.on_duplicate is None:
            return name
        first = self.on_duplicate(self, name_bytes, self.record, lineno)
        if first is None:  # 64-bit hash collision, not a duplicate
            return name
        if not self.allow_duplicate_ids:
            raise self._fail(
                ErrorCode.FQ_DUPID,
                f"read ID {_show(name)} seen before at {first}",
                "unique read IDs",
                line=lineno,
                byte=offset,
                name=name,
                hint="rerun with --allow-duplicate-ids to rename the copies, or fix the export",
            )
        self.stats.renamed_duplicates += 1
        self.renamed += 1
        if self.first_duplicate is None:
            self.first_duplicate = f"{_show(name)} at line {lineno}, first seen at {first}"
        k = self.stats.renamed_duplicates
        while True:
            new = f"{name}_dup{k}"
            key = hash(new.encode("utf-8"))
            if key not in self.seen:
                self.seen.add(key)
                return new
            k += 1

    # -- FASTQ --------------------------------------------------------------------------------

    def _fastq(self, lines: Iterator[bytes]) -> Iterator[Read]:
        stats = self.stats
        seen = self.seen
        strip = self._strip_cr
        lineno = 0
        offset = 0
        phred64_possible = True
        quality_max = 0
        all_zero = True
        for raw_header in lines:
            lineno += 1
            header_offset = offset
            # issue 11: _strip_cr only for lines holding a \r (one C scan, no call per line)
            header = strip(raw_header, lineno, offset) if b"\r" in raw_header else raw_header
            if not header:
                self._trailing_blanks(lines, lineno, offset)
                break
            if header[0] != 64:  # '@'
                self._bad_fastq_header(header, lineno, offset)
            self.record += 1
            name_bytes, name = self._parse_name(header, lineno, offset)
            offset += len(raw_header) + 1
            raw_seq = next(lines, None)
            if raw_seq is None:
                raise self._eof_inside(lineno + 1, offset, name, "a sequence line")
            seq = strip(raw_seq, lineno + 1, offset) if b"\r" in raw_seq else raw_seq
            if seq.translate(None, _IUPAC):
                self._fastq_sequence_problem(seq, lineno + 1, offset, name)
            offset += len(raw_seq) + 1
            raw_plus = next(lines, None)
            if raw_plus is None:
                raise self._eof_inside(lineno + 2, offset, name, "a '+' line")
            plus = strip(raw_plus, lineno + 2, offset) if b"\r" in raw_plus else raw_plus
            if plus[:1] != b"+":
                found = f"{_show_bytes(plus[:20])} where the '+' line belongs"
                raise self._fail(
                    ErrorCode.FQ_PLUS,
                    found,
                    "a line starting with '+'",
                    line=lineno + 2,
                    byte=offset,
                    name=name,
                    hint="records must be exactly 4 lines (multi-line FASTQ is not supported)",
                )
            if len(plus) > 1 and plus[1:] != header[1:] and plus[1:] != name_bytes:
                found = f"'+' line naming {_show_bytes(plus[1:])}"
                raise self._fail(
                    ErrorCode.FQ_PLUSID,
                    found,
                    "'+' alone or repeating the header",
                    line=lineno + 2,
                    byte=offset,
                    name=name,
                )
            offset += len(raw_plus) + 1
            raw_qual = next(lines, None)
            if raw_qual is None:
                raise self._eof_inside(lineno + 3, offset, name, "a quality line")
            qual = strip(raw_qual, lineno + 3, offset) if b"\r" in raw_qual else raw_qual
            if len(qual) != len(seq):
                found = f"quality length {len(qual):,} != sequence length {len(seq):,}"
                raise self._fail(
                    ErrorCode.FQ_QLEN,
                    found,
                    "one quality character per base",
                    line=lineno + 3,
                    byte=offset,
                    name=name,
                    hint="the file is damaged or was cut; re-export it",
                )
            if qual.translate(None, _QUALITY_OK):
                column = next(i for i, b in enumerate(qual) if not 33 <= b <= 126) + 1
                found = (
                    f"quality character {_show_bytes(qual[column - 1 : column])} at column {column}"
                )
                raise self._fail(
                    ErrorCode.FQ_QCHAR,
                    found,
                    "Phred+33 characters '!'..'~' (ASCII 33-126)",
                    line=lineno + 3,
                    byte=offset + column - 1,
                    name=name,
                )
            if phred64_possible and qual:
                if min(qual) < 64:
                    phred64_possible = False
                else:
                    quality_max = max(quality_max, max(qual))
            if all_zero and qual.strip(b"!"):
                all_zero = False
            offset += len(raw_qual) + 1
            upper = seq.upper()
            if upper != seq:
                stats.lowercase_reads += 1
            if seen is not None:
                name = self._unique_name(name_bytes, name, lineno, header_offset)
            self.header_line = lineno
            self.header_offset = header_offset
            lineno += 3
            stats.records += 1
            stats.lines = lineno
            self.yielded += 1
            yield Read(name, upper.decode("ascii"), qual.decode("ascii"))
        if phred64_possible and 75 <= quality_max <= 104:
            found = (
                f"quality characters from '@' (64) up to {chr(quality_max)!r} ({quality_max}) "
                "and none below '@'"
            )
            raise self._fail(
                ErrorCode.FQ_PHRED64,
                found,
                "Phred+33 qualities",
                line=None,
                whole_file=True,
                hint="this looks like old Illumina Phred+64; convert it (seqtk seq -V -Q64)",
            )
        if all_zero and self.record:
            logger.warning(
                "%s: every quality character is '!' (Q0); quality filters cannot work", self.path
            )

    def _bad_fastq_header(self, header: bytes, lineno: int, offset: int) -> None:
        if header[0] == 62:  # '>'
            raise self._fail(
                ErrorCode.FQ_MIXED,
                "a FASTA header '>' in a FASTQ file",
                "every record to start with '@'",
                line=lineno,
                byte=offset,
                hint="do not concatenate FASTA and FASTQ files",
            )
        raise self._fail(
            ErrorCode.FQ_HDR,
            f"{_show_bytes(header[:20])} where a header belongs",
            "a header line starting with '@'",
            line=lineno,
            byte=offset,
            hint="the previous record may have extra lines (multi-line FASTQ is not supported)",
        )

    def _fastq_sequence_problem(self, seq: bytes, lineno: int, offset: int, name: str) -> None:
        if seq[:1] == b"+":
            raise self._fail(
                ErrorCode.FQ_PLUS,
                "a '+' line where the sequence belongs",
                "header, sequence, '+' and quality lines",
                line=lineno,
                byte=offset,
                name=name,
            )
        self._check_alphabet(seq, lineno, offset, name)

    def _eof_inside(self, lineno: int, offset: int, name: str, what: str) -> InputFormatError:
        return self._fail(
            ErrorCode.FQ_TRUNC,
            "end of file inside the record",
            what,
            line=lineno,
            byte=offset,
            name=name,
            hint="the file was cut short; re-export or re-copy it",
        )

    def _trailing_blanks(self, lines: Iterator[bytes], lineno: int, offset: int) -> None:
        """After a blank line only blank lines may follow (trailing blank lines are fine)."""
        blank_line = lineno
        for extra in lines:
            lineno += 1
            if extra.strip(b"\r"):
                where = "before the first record" if self.record == 0 else "between records"
                raise self._fail(
                    ErrorCode.FQ_BLANK,
                    f"a blank line {where} (line {blank_line})",
                    "no blank lines except at the end of the file",
                    line=blank_line,
                    byte=offset,
                    hint="remove the empty line",
                )

    # -- FASTA --------------------------------------------------------------------------------

    def _fasta(self, lines: Iterator[bytes]) -> Iterator[Read]:
        stats = self.stats
        strip = self._strip_cr
        cap = self.max_line_length
        reference = self.reference
        allowed = self.sequence_bytes
        lineno = 0
        offset = 0
        name: str | None = None
        name_bytes = b""
        header_line = 0
        header_offset = 0
        parts: list[bytes] = []
        length = 0
        lower = False
        for raw in lines:
            lineno += 1
            line = strip(raw, lineno, offset) if b"\r" in raw else raw
            if line[:1] == b">":
                if name is not None:
                    yield self._fasta_record(
                        name, name_bytes, parts, lower, header_line, header_offset
                    )
                self.record += 1
                if reference:
                    name_bytes, name = b"", self._full_header(line, lineno, offset)
                else:
                    name_bytes, name = self._parse_name(line, lineno, offset)
                header_line, header_offset = lineno, offset
                parts, length, lower = [], 0, reference  # a reference keeps its case
            elif not line:
                if not reference:
                    self._trailing_blanks(lines, lineno, offset)
                    break
            elif name is None and not (reference and line.isspace()):
                raise self._fail(
                    ErrorCode.FQ_HDR,
                    f"{_show_bytes(line[:20])} where a header belongs",
                    "a header line starting with '>'",
                    line=lineno,
                    byte=offset,
                )
            elif name is not None:
                if line.translate(None, allowed):
                    if reference:  # white space around a reference sequence line is dropped
                        line = line.strip()
                    elif line[:1] in (b"@", b"+"):
                        raise self._fail(
                            ErrorCode.FQ_MIXED,
                            f"a FASTQ-style line {_show_bytes(line[:20])}",
                            "FASTA sequence lines",
                            line=lineno,
                            byte=offset,
                            name=name,
                            hint="do not concatenate FASTA and FASTQ files",
                        )
                    else:
                        self._check_alphabet(line, lineno, offset, name)
                length += len(line)
                if length > cap:
                    found = f"a sequence longer than {cap:,} bases"
                    raise self._fail(
                        ErrorCode.FQ_LINELEN,
                        found,
                        f"at most {cap:,} bases per record",
                        line=lineno,
                        byte=offset,
                        name=name,
                    )
                if not lower and not line.isupper():
                    lower = True
                parts.append(line)
            offset += len(raw) + 1
        if name is not None:
            yield self._fasta_record(name, name_bytes, parts, lower, header_line, header_offset)
        stats.lines = lineno

    def _fasta_record(
        self,
        name: str,
        name_bytes: bytes,
        parts: list[bytes],
        lower: bool,
        header_line: int,
        header_offset: int,
    ) -> Read:
        if lower:
            self.stats.lowercase_reads += 1
        if self.seen is not None:
            name = self._unique_name(name_bytes, name, header_line, header_offset)
        self.header_line = header_line
        self.header_offset = header_offset
        self.stats.records += 1
        self.yielded += 1
        if self.reference:  # case kept; the caller checks the alphabet
            return Read(name, b"".join(parts).decode("ascii", errors="replace"), None)
        sequence = b"".join(parts).upper().decode("ascii")
        return Read(name, sequence, None)

    def _full_header(self, header: bytes, lineno: int, offset: int) -> str:
        """A reference FASTA header: all text after ``>``, white space around it dropped."""
        try:
            return header[1:].decode("utf-8").strip()
        except UnicodeDecodeError:
            raise self._fail(
                ErrorCode.FQ_HDR,
                f"header {_show_bytes(header)} that is not valid UTF-8",
                "a UTF-8 header line",
                line=lineno,
                byte=offset,
            ) from None


def _first_marker(data: bytes) -> bytes:
    stripped = data.lstrip(b"\r\n")
    return stripped[:1]


def _show(name: str, limit: int = 60) -> str:
    text = name if len(name) <= limit else name[:limit] + "…"
    return '"' + text.replace('"', '\\"') + '"'


def _show_bytes(data: bytes, limit: int = 40) -> str:
    text = repr(data[:limit])[1:]
    return text + ("…" if len(data) > limit else "")


class _Sample:
    """Duplicate-ID bookkeeping across the files of one sample."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        allow_duplicate_ids: bool,
        max_line_length: int,
        stats: ReadStats,
    ) -> None:
        self.paths = paths
        self.allow_duplicate_ids = allow_duplicate_ids
        self.max_line_length = max_line_length
        self.stats = stats
        self.seen = KeyIndex(numbered=False)  # issue 11: 8 bytes per read ID, on disk when many
        self.done: list[Path] = []

    def reads(self) -> Iterator[Read]:
        for path in self.paths:
            parser = _Parser(
                path,
                max_line_length=self.max_line_length,
                allow_duplicate_ids=self.allow_duplicate_ids,
                seen=self.seen,
                stats=self.stats,
                on_duplicate=self._confirm,
            )
            yield from parser.records()
            self.done.append(path)

    def _confirm(self, parser: _Parser, name_bytes: bytes, record: int, line: int) -> str | None:
        """Re-scan earlier records for ``name_bytes``; return "file:line" or None (collision).

        When renaming is allowed, only the sample's first duplicate is confirmed (for the
        warning's "first seen at"); later hash hits are renamed without a re-scan, so a file full
        of duplicates costs one re-scan, not one per read, and a read whose ID equals an earlier
        *generated* name (``r1_dup1``) is renamed too. A 64-bit hash collision then merely renames
        a read that did not need it.
        """
        if parser.allow_duplicate_ids and self.stats.renamed_duplicates:
            return "an earlier record"
        name = name_bytes.decode("utf-8")
        # the same path may be given twice: only the current pass stops at ``record``
        scans = [(path, False) for path in self.done] + [(parser.path, True)]
        for path, current in scans:
            scan = _Parser(
                path,
                max_line_length=self.max_line_length,
                allow_duplicate_ids=True,
                seen=None,
                stats=ReadStats(),
                on_duplicate=None,
            )
            records = scan.records()
            try:
                for read in records:
                    if current and scan.record >= record:
                        break
                    if read.name == name:
                        return f"{path}:{scan.header_line}"
            finally:
                records.close()
        return None


def iter_reads(
    path: str | Path,
    *,
    allow_duplicate_ids: bool = False,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    stats: ReadStats | None = None,
) -> Iterator[Read]:
    """Stream the reads of one FASTQ/FASTA file (plain or gzip), validating strictly.

    **Commit nothing until the iterator is exhausted**: a truncated gzip, a duplicate ID or a
    Phred+64 file raises only after earlier reads were yielded.

    Parameters
    ----------
    path
        The read file. Compression and format are sniffed from its bytes, not its name.
    allow_duplicate_ids
        Rename repeated IDs (``_dupN`` suffix) with an :class:`~gutbrain.errors.InputWarning`
        instead of failing with ``GB-FQ-DUPID``.
    max_line_length
        Cap on any line and on a joined FASTA sequence, in bytes.
    stats
        Optional collector of parse facts (records, CRLF lines, lowercase reads, bytes read).

    Yields
    ------
    Read
        Upper-cased sequence, ID up to the first whitespace, quality (``None`` for FASTA).

    Raises
    ------
    InputMissingError
        The path is missing, not a regular file or unreadable.
    EmptyInputError
        ``GB-FQ-EMPTY``: the file holds no records.
    InputFormatError
        Any other malformed input (see the module docstring for codes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "r.fq").write_text("@r1 x\\nacgN\\n+\\nIIII\\n")
    >>> list(iter_reads(folder / "r.fq"))
    [Read(name='r1', sequence='ACGN', quality='IIII')]
    """
    return iter_sample_reads(
        [path],
        allow_duplicate_ids=allow_duplicate_ids,
        max_line_length=max_line_length,
        stats=stats,
    )


def iter_sample_reads(
    paths: Sequence[str | Path],
    *,
    allow_duplicate_ids: bool = False,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
    stats: ReadStats | None = None,
) -> Iterator[Read]:
    """Stream the reads of several files of one sample, in order, as by :func:`iter_reads`.

    Every path is checked (exists, regular, readable) before the first read is yielded; read IDs
    must be unique across all files. Same parameters, errors and warning as :func:`iter_reads`:
    **commit nothing until the iterator is exhausted.**
    """
    checked = [check_input_file(p) for p in paths]
    if not checked:
        message = "no read files given; expected at least one FASTQ/FASTA path"
        raise EmptyInputError(message, code=ErrorCode.NO_READ_FILES)
    _check_cap(max_line_length)
    sample = _Sample(
        checked,
        allow_duplicate_ids=allow_duplicate_ids,
        max_line_length=max_line_length,
        stats=stats if stats is not None else ReadStats(),
    )
    return sample.reads()


def check_reads(
    paths: Iterable[str | Path],
    *,
    allow_duplicate_ids: bool = False,
    max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
) -> ReadStats:
    """Validate read files completely without keeping reads; return the parse facts.

    Use this as the "validate before compute" pass at ingest. Raises exactly what
    :func:`iter_sample_reads` raises.
    """
    stats = ReadStats()
    for _ in iter_sample_reads(
        list(paths),
        allow_duplicate_ids=allow_duplicate_ids,
        max_line_length=max_line_length,
        stats=stats,
    ):
        pass
    return stats


def iter_fasta(
    path: str | Path, *, max_line_length: int = DEFAULT_MAX_LINE_LENGTH
) -> Iterator[FastaRecord]:
    """Stream the records of a FASTA file of *reference* sequences (plain or gzip).

    The reads parser in a reference mode, so a reference file gets the same compression sniffing,
    gzip integrity checks (``GB-GZ-…``), line cap (``GB-FQ-LINELEN``), header and binary-data
    errors naming file, line and byte as a read file. What differs: the whole header is kept
    (not only the ID), sequences keep their case and are not checked against an alphabet (the
    caller does: a reference may hold RNA ``U``), IDs may repeat (the caller decides), blank lines
    anywhere and white space around a line are skipped, and a UTF-8 byte order mark is accepted.

    **Commit nothing until the iterator is exhausted** (as for :func:`iter_reads`).

    Raises
    ------
    InputFormatError
        What :func:`iter_reads` raises (missing file, ``GB-FQ-EMPTY``, damaged gzip …), and
        ``GB-FQ-HDR`` when the first header does not start with ``>`` or a header is not UTF-8.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ref.fa").write_text(">r1 Blautia obeum\\nacgu\\n\\nAC \\n")
    >>> list(iter_fasta(folder / "ref.fa"))
    [FastaRecord(header='r1 Blautia obeum', sequence='acguAC', line=1)]
    """
    checked = check_input_file(path)
    _check_cap(max_line_length)
    return _fasta_records(checked, max_line_length)


def _check_cap(max_line_length: int) -> None:
    if max_line_length < 1:
        message = f"max_line_length must be positive, got {max_line_length}"
        raise ValueError(message)


def _fasta_records(path: Path, max_line_length: int) -> Iterator[FastaRecord]:
    parser = _Parser(
        path,
        max_line_length=max_line_length,
        allow_duplicate_ids=True,
        seen=None,
        stats=ReadStats(),
        on_duplicate=None,
        reference=True,
    )
    for record in parser.records():
        yield FastaRecord(record.name, record.sequence, parser.header_line)
