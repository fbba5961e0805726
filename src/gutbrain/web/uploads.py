"""Uploads: stream a multipart form to disk, check it, validate it like the CLI, then keep it.

Starlette's own form parser is not used for uploads (RELIABILITY.md finding 8: file parts spool
to disk without any limit and the client's file name comes back verbatim). Instead:

1. :func:`receive_form` feeds the request body to python-multipart's streaming parser and
   writes each file part to its own temporary file under ``settings.tmp_dir``, counting bytes:
   as soon as a part passes its kind's cap the request fails with 413 and every temporary file
   is removed. Field and file counts and the size of plain fields are capped too (400/413).
   The client's file name is never used in a path; it is kept only as length-capped metadata.
2. :func:`check_content` looks at the bytes, never the name: a gzip layer is allowed only for
   reads and tables, and only one (gzip inside gzip, zip, bzip2, xz, zstd, HDF5 → 415); the
   decompressed size is capped (a gzip bomb → 413 ``GB-GZ-BOMB``); the first bytes must be
   FASTQ ``@`` / FASTA ``>`` for reads, text (TSV or BIOM-JSON) for tables, UTF-8 text for
   answers and markers (415 otherwise).
3. :func:`validate_files` runs the same strict readers as ``gutbrain run``
   (:func:`gutbrain.io.reads.check_reads`, :func:`gutbrain.io.tables.read_table`,
   :func:`gutbrain.io.answers.read_answers` / :func:`~gutbrain.io.answers.read_markers`); their
   messages name the form field and the (escaped) original file name instead of the temporary
   path.
4. :func:`keep_files` moves the checked files to ``uploads/<uuid4>`` (a rename on the same file
   system) and returns the store's :class:`~gutbrain.web.store.StoredFile` records; the caller
   removes them again if the store refuses the sample, so nothing is half-stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import unicodedata
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from gutbrain.errors import ErrorCode, GutbrainError
from gutbrain.io.answers import read_answers, read_markers
from gutbrain.io.reads import check_reads
from gutbrain.io.tables import read_table
from gutbrain.web.store import StoredFile

__all__ = [
    "FILE_KINDS",
    "MAX_FIELDS",
    "MAX_FIELD_BYTES",
    "MAX_FILES",
    "MAX_GZIP_RATIO",
    "MAX_NAME_LENGTH",
    "ReceivedFile",
    "ReceivedForm",
    "UploadError",
    "check_content",
    "display_name",
    "keep_files",
    "receive_form",
    "validate_files",
]

logger = logging.getLogger(__name__)

#: File fields of the upload form, and what each may hold.
FILE_KINDS: tuple[str, ...] = ("reads", "reads_r2", "table", "answers", "markers")
#: At most this many form parts of each sort (the form needs 5 files and ~10 fields).
MAX_FILES = 5
MAX_FIELDS = 20
#: Cap on one plain (non-file) field; the answers text box has its own cap from the settings.
MAX_FIELD_BYTES = 64 * 1024
#: The original file name is kept (as metadata only) up to this many characters.
MAX_NAME_LENGTH = 200
#: A gzip stream may expand to at most this many times its compressed size. FASTQ compresses
#: 3-8 times (the bundled example: 1.1 MB -> 8.7 MB, 7.9x); deflate can reach ~1,028 times.
MAX_GZIP_RATIO = 40
#: ...and never to more than this (bytes), whatever the compressed size.
MAX_DECOMPRESSED_BYTES = 32 * 1024**3
_CHUNK = 1 << 16

_GZIP = b"\x1f\x8b"
#: Containers and compressions refused outright (only one gzip layer is accepted).
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (_GZIP, "a gzip file inside a gzip file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"\x28\xb5\x2f\xfd", "a zstd file"),
    (b"\x89HDF", "an HDF5 file (BIOM 2.1 HDF5 is not accepted on the web: use BIOM-JSON or TSV)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_WHAT = {
    "reads": "reads (FASTQ/FASTA, gzip allowed)",
    "reads_r2": "second reads file (FASTQ/FASTA, gzip allowed)",
    "table": "abundance table (TSV or BIOM-JSON, gzip allowed)",
    "answers": "answers (YAML/JSON text)",
    "markers": "markers (YAML/JSON text)",
}


class UploadError(GutbrainError):
    """An upload refused; ``status`` is the HTTP status (400, 413, 415 or 422).

    The message names the form field and the escaped original file name, never a server path.
    """

    code = ErrorCode.UPLOAD
    exit_code = 65

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


def display_name(raw: str) -> str:
    """The client's file name as kept metadata: control characters replaced, length capped.

    It is never used in a path; templates escape it on display.

    >>> display_name("../../etc/x\\x00.fq")
    '../../etc/x\\ufffd.fq'
    >>> len(display_name("a" * 10_000))
    200
    """
    cleaned = "".join(
        "\ufffd" if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} else ch for ch in raw
    )
    if len(cleaned) > MAX_NAME_LENGTH:
        cleaned = cleaned[: MAX_NAME_LENGTH - 1] + "…"
    return cleaned or "(no name)"


@dataclass
class ReceivedFile:
    """One file part written to a temporary file; ``size`` and ``sha256`` of its raw bytes."""

    field: str
    original_name: str
    path: Path
    size: int = 0
    sha256: str = ""


@dataclass
class ReceivedForm:
    """The plain fields and the file parts of one upload form."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, ReceivedFile] = field(default_factory=dict)

    def remove_files(self) -> None:
        """Remove every temporary file of this form (idempotent)."""
        for received in self.files.values():
            with contextlib.suppress(FileNotFoundError):
                received.path.unlink()


class _FormReader:
    """python-multipart callbacks that write file parts to capped temporary files."""

    def __init__(
        self,
        *,
        tmp_dir: Path,
        file_caps: Mapping[str, int],
        field_caps: Mapping[str, int],
        csrf: Callable[[str], bool] | None,
    ) -> None:
        self.form = ReceivedForm()
        self._csrf = csrf
        self._tmp_dir = tmp_dir
        self._file_caps = file_caps
        self._field_caps = field_caps
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._file: ReceivedFile | None = None
        self._handle: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._value = bytearray()
        self._fields = 0
        self._files = 0

    # headers ------------------------------------------------------------------------------
    def on_part_begin(self) -> None:
        self._disposition = b""
        self._value = bytearray()
        self._file = None
        self._handle = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise UploadError("a form part has no name", status=400, code=ErrorCode.UPLOAD_FORM)
        self._name = raw_name.decode("utf-8", errors="replace")
        if self._csrf is not None and (self._name != "csrf" or b"filename" in options):
            # The token comes first, so a forged upload is refused before a byte is stored.
            raise UploadError("the form's CSRF token is missing", status=403, code=ErrorCode.CSRF)
        if b"filename" not in options:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                message = f"too many form fields (at most {MAX_FIELDS})"
                raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM)
            return
        self._files += 1
        if self._files > MAX_FILES:
            message = f"too many files in one upload (at most {MAX_FILES})"
            raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM)
        if self._name not in self._file_caps:
            message = f"unexpected file field {display_name(self._name)!r}"
            raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM)
        if self._name in self.form.files:
            message = f"the {self._name} field holds more than one file; send one"
            raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM)
        original = display_name(options[b"filename"].decode("utf-8", errors="replace"))
        descriptor, name = tempfile.mkstemp(prefix=".upload-", dir=self._tmp_dir)
        self._file = ReceivedFile(self._name, original, Path(name))
        self.form.files[self._name] = self._file
        self._handle = os.fdopen(descriptor, "wb")
        self._digest = hashlib.sha256()

    # body ---------------------------------------------------------------------------------
    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None and self._handle is not None:
            self._file.size += len(chunk)
            cap = self._file_caps[self._file.field]
            if self._file.size > cap:
                message = (
                    f"the {self._file.field} file {self._file.original_name!r} is larger than "
                    f"the limit of {cap:,} bytes"
                )
                raise UploadError(message, status=413, code=ErrorCode.UPLOAD_TOO_LARGE)
            self._handle.write(chunk)
            self._digest.update(chunk)
            return
        self._value += chunk
        cap = self._field_caps.get(self._name, MAX_FIELD_BYTES)
        if len(self._value) > cap:
            message = f"the form field {display_name(self._name)!r} is longer than {cap:,} bytes"
            raise UploadError(message, status=413, code=ErrorCode.UPLOAD_TOO_LARGE)

    def on_part_end(self) -> None:
        if self._file is not None and self._handle is not None:
            self._handle.close()
            self._handle = None
            self._file.sha256 = self._digest.hexdigest()
            if self._file.size == 0 and self._file.original_name == "(no name)":
                # A browser sends an empty, nameless part for a file input left empty.
                self._file.path.unlink()
                del self.form.files[self._file.field]
            self._file = None
            return
        try:
            text = bytes(self._value).decode("utf-8")
        except UnicodeDecodeError:
            message = f"the form field {display_name(self._name)!r} is not UTF-8 text"
            raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM) from None
        if self._name in self.form.fields:
            message = f"the form field {display_name(self._name)!r} is given twice"
            raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM)
        if self._csrf is not None:
            if not self._csrf(text):
                raise UploadError("the form's CSRF token is wrong", status=403, code=ErrorCode.CSRF)
            self._csrf = None
        self.form.fields[self._name] = text

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


async def receive_form(
    content_type: str,
    body: AsyncIterator[bytes],
    *,
    tmp_dir: Path,
    file_caps: Mapping[str, int],
    field_caps: Mapping[str, int] | None = None,
    csrf: Callable[[str], bool] | None = None,
) -> ReceivedForm:
    """Stream a ``multipart/form-data`` body to capped temporary files in ``tmp_dir``.

    Parameters
    ----------
    content_type
        The request's ``Content-Type`` header.
    body
        The request body, chunk by chunk (``request.stream()``).
    tmp_dir
        Where file parts are written (on the same file system as the uploads folder).
    file_caps
        File field name -> most bytes allowed; any other file field is refused.
    field_caps
        Plain field name -> most bytes allowed (default :data:`MAX_FIELD_BYTES`).
    csrf
        When given, the first part must be a plain field ``csrf`` whose value this accepts;
        otherwise 403 before any file byte is written.

    Raises
    ------
    UploadError
        415 for another content type, 413 as soon as a part passes its cap, 400 for a malformed
        form or too many parts, 403 for a missing or wrong CSRF token. Every temporary file is
        removed before it is raised.
    """
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or b"boundary" not in options:
        message = "expected a multipart/form-data upload form"
        raise UploadError(message, status=415, code=ErrorCode.UPLOAD_TYPE)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    reader = _FormReader(
        tmp_dir=tmp_dir, file_caps=file_caps, field_caps=field_caps or {}, csrf=csrf
    )
    parser = MultipartParser(
        options[b"boundary"],
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        reader.close()
        reader.form.remove_files()
        message = (
            "the upload form is malformed, or a part header is longer than 4 KiB "
            "(a file name that long is refused: rename the file)"
        )
        raise UploadError(message, status=400, code=ErrorCode.UPLOAD_FORM) from None
    except BaseException:
        reader.close()
        reader.form.remove_files()
        raise
    return reader.form


def _label(received: ReceivedFile) -> str:
    return f"{received.field} file {received.original_name!r}"


def _gunzip_head(path: Path, *, cap: int, label: str) -> bytes:
    """The first decompressed bytes of a gzip file, after checking its whole decompressed size.

    Raises :class:`UploadError` 413 ``GB-GZ-BOMB`` as soon as more than ``cap`` bytes come out.
    A corrupt stream stops the count; the strict reader reports it with its own code.
    """
    head = b""
    total = 0
    with path.open("rb") as handle:
        decompressor = zlib.decompressobj(wbits=31)
        while True:
            data = handle.read(_CHUNK)
            if not data:
                break
            while data:
                try:
                    out = decompressor.decompress(data, _CHUNK)
                except zlib.error:
                    return head
                total += len(out)
                if len(head) < 512:
                    head += out[: 512 - len(head)]
                if total > cap:
                    message = (
                        f"the {label} expands to more than {cap:,} bytes when decompressed "
                        f"(at most {MAX_GZIP_RATIO} times its size); refused as a possible "
                        "gzip bomb"
                    )
                    raise UploadError(message, status=413, code=ErrorCode.GZ_BOMB)
                if decompressor.unconsumed_tail:
                    data = decompressor.unconsumed_tail
                elif decompressor.eof:  # the next gzip member (bgzip, cat a.gz b.gz)
                    data = decompressor.unused_data
                    decompressor = zlib.decompressobj(wbits=31)
                else:
                    data = b""
    return head


def _refused(head: bytes) -> str | None:
    for magic, what in _REFUSED_MAGIC:
        if head.startswith(magic):
            return what
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut by the end of the sample is fine
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


def check_content(received: ReceivedFile) -> None:
    """Check a received file's bytes against its field's kind (magic bytes, one gzip layer).

    Raises
    ------
    UploadError
        415 when the bytes are not what the field takes, 413 for a gzip bomb, 422 when empty.
    """
    label = _label(received)
    with received.path.open("rb") as handle:
        head = handle.read(512)
    if not head:
        raise UploadError(f"the {label} is empty", status=422, code=ErrorCode.EMPTY)
    compressed = head.startswith(_GZIP)
    if compressed:
        if received.field in ("answers", "markers"):
            message = f"the {label} is compressed; upload the {_WHAT[received.field]} as is"
            raise UploadError(message, status=415, code=ErrorCode.UPLOAD_TYPE)
        cap = min(max(received.size, 1) * MAX_GZIP_RATIO, MAX_DECOMPRESSED_BYTES)
        head = _gunzip_head(received.path, cap=cap, label=label)
    refused = _refused(head)
    if refused is not None:
        message = f"the {label} is {refused}; expected {_WHAT[received.field]}"
        raise UploadError(message, status=415, code=ErrorCode.UPLOAD_TYPE)
    first = head.lstrip()[:1]
    ok = first in (b"@", b">") if received.field in ("reads", "reads_r2") else _is_text(head)
    if not ok:
        message = (
            f"the {label} does not start like {_WHAT[received.field]} "
            f"(first bytes {head[:8]!r}); check that this is the right file"
        )
        raise UploadError(message, status=415, code=ErrorCode.UPLOAD_TYPE)


def _rename_in_message(exc: GutbrainError, received: ReceivedFile) -> str:
    """The reader's message with the temporary path replaced by the field and original name."""
    text = str(exc)
    for form in (str(received.path), received.path.name):
        text = text.replace(form, _label(received))
    return text


def validate_files(files: Mapping[str, ReceivedFile]) -> None:
    """Validate the received files with the CLI's strict readers (before anything is kept).

    Raises
    ------
    UploadError
        422 with the reader's code and message (naming the field, the original file name, the
        line and record) when a file is invalid, or when a table holds more or fewer than one
        sample.
    """
    reads = [files[k] for k in ("reads", "reads_r2") if k in files]
    current: ReceivedFile | None = None
    try:
        if reads:
            current = reads[0]
            check_reads([r.path for r in reads])
        if "table" in files:
            current = files["table"]
            profiles = read_table(current.path)
            if len(profiles) != 1:
                message = (
                    f"the {_label(current)} holds {len(profiles)} samples; upload a table "
                    "with exactly one sample"
                )
                raise UploadError(message, status=422, code=ErrorCode.UPLOAD_SAMPLES)
        if "answers" in files:
            current = files["answers"]
            _add_text_suffix(current)
            read_answers(current.path)
        if "markers" in files:
            current = files["markers"]
            _add_text_suffix(current)
            read_markers(current.path)
    except UploadError:
        raise
    except GutbrainError as exc:
        assert current is not None
        text = _rename_in_message(exc, current)
        for other in reads:  # a reads error may name the second file
            text = text.replace(str(other.path), _label(other))
        raise UploadError(text, status=422, code=exc.code) from None


def text_suffix(path: Path) -> str:
    """``.json`` when a text file starts with ``{`` (JSON), else ``.yaml``; the readers use it."""
    with path.open("rb") as handle:
        head = handle.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    return ".json" if head.startswith(b"{") else ".yaml"


def _add_text_suffix(received: ReceivedFile) -> None:
    """Rename an answers/markers temporary file to end in ``.json`` or ``.yaml``."""
    if received.path.suffix in (".json", ".yaml"):
        return
    target = received.path.with_name(received.path.name + text_suffix(received.path))
    os.replace(received.path, target)
    received.path = target


def keep_files(files: Mapping[str, ReceivedFile], uploads_dir: Path) -> list[StoredFile]:
    """Move checked files to ``uploads_dir/<uuid4>`` and describe them for the store.

    The client's name is never part of the path; answers and markers keep the ``.json`` or
    ``.yaml`` suffix :func:`validate_files` chose from their content (the readers tell JSON from
    YAML by it).
    On error every file moved so far is removed again.
    """
    uploads_dir.mkdir(parents=True, exist_ok=True)
    kept: list[StoredFile] = []
    try:
        for kind in FILE_KINDS:
            received = files.get(kind)
            if received is None:
                continue
            suffix = received.path.suffix if kind in ("answers", "markers") else ""
            target = uploads_dir / f"{uuid.uuid4().hex}{suffix}"
            os.replace(received.path, target)
            kept.append(
                StoredFile(
                    kind=kind,
                    path=target,
                    original_name=received.original_name,
                    size=received.size,
                    sha256=received.sha256,
                )
            )
    except BaseException:
        remove_kept(kept)
        raise
    return kept


def remove_kept(kept: list[StoredFile]) -> None:
    """Remove files moved by :func:`keep_files` (the store refused the sample)."""
    for stored in kept:
        with contextlib.suppress(FileNotFoundError):
            stored.path.unlink()
