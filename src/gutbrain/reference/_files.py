"""Opening reference source files (plain or gzip) with errors naming the file and line.

FASTA goes through the one FASTA parser (:func:`gutbrain.io.reads.iter_fasta`); its errors come
back as :class:`~gutbrain.errors.ReferenceDatabaseError` with the reference codes.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gutbrain.errors import (
    EmptyInputError,
    ErrorCode,
    InputFormatError,
    InputMissingError,
    ReferenceDatabaseError,
)
from gutbrain.io.reads import FastaRecord, iter_fasta

__all__ = ["fasta_records", "open_text", "text_lines"]


def open_text(path: Path, *, what: str, code: str) -> IO[str]:
    if not path.exists():
        message = f"{path}: {what} not found; check the path"
        raise ReferenceDatabaseError(message, code=code)
    if not path.is_file():
        message = f"{path}: {what} is not a regular file"
        raise ReferenceDatabaseError(message, code=code)
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
    except OSError as exc:
        message = f"{path}: {what} cannot be read ({exc.strerror or exc})"
        raise ReferenceDatabaseError(message, code=code) from exc
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def text_lines(path: Path, *, what: str, code: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line without end-of-line)``; decode and gzip errors are reported."""
    number = 0
    try:
        with open_text(path, what=what, code=code) as handle:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        message = f"{path}:{number + 1}: {what} is truncated or not valid gzip ({exc})"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FORMAT) from exc
    except UnicodeDecodeError as exc:
        message = f"{path}:{number + 1}: {what} is not text (binary data); expected UTF-8 text"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_FORMAT) from exc


def fasta_records(
    path: Path, *, code: str = ErrorCode.REF_SEQFILE, allow_empty: bool = False
) -> Iterator[FastaRecord]:
    """Stream a reference FASTA file (:func:`~gutbrain.io.reads.iter_fasta`), reference errors.

    Raises
    ------
    ReferenceDatabaseError
        ``code`` when the file is missing or unreadable, ``GB-REF-FORMAT`` when it is not FASTA
        (no ``>`` header first, binary, truncated or damaged gzip), ``GB-REF-EMPTY`` when it holds
        no record (unless ``allow_empty``).
    """
    try:
        yield from iter_fasta(path)
    except InputMissingError as exc:
        raise ReferenceDatabaseError(str(exc), code=code) from None
    except EmptyInputError:
        if allow_empty:
            return
        message = f"{path}: no FASTA records; expected '>id' header lines followed by sequence"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_EMPTY) from None
    except InputFormatError as exc:
        raise ReferenceDatabaseError(str(exc), code=ErrorCode.REF_FORMAT) from None
