"""Opening reference source files as text (plain or gzip) with errors naming the file and line."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from gutbrain.errors import ErrorCode, ReferenceDatabaseError

__all__ = ["open_text", "text_lines"]


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
