"""Strict text-table reading: encodings, ragged rows, numeric cells with their line and column."""

from __future__ import annotations

import gzip
import logging
import math
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import check_input_file

__all__ = ["MAX_TABLE_BYTES", "parse_number", "read_rows", "read_text", "values_matrix"]

logger = logging.getLogger(__name__)

#: Largest decompressed table gutbrain reads (2 GiB); bigger files are refused before parsing.
MAX_TABLE_BYTES = 2 << 30


def read_bytes(path: Path) -> bytes:
    """Return the file's bytes, gunzipped when it starts with the gzip magic."""
    p = check_input_file(path)
    with open(p, "rb") as handle:
        head = handle.read(2)
    if head == b"\x1f\x8b":
        try:
            with gzip.open(p, "rb") as handle:
                data: bytes = handle.read(MAX_TABLE_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            message = f"damaged gzip file ({exc}); re-download or re-compress it"
            raise InputFormatError(message, path=p, code=ErrorCode.TAB_GZIP) from None
    else:
        data = p.read_bytes()
    if len(data) > MAX_TABLE_BYTES:
        message = f"larger than {MAX_TABLE_BYTES >> 30} GiB uncompressed; split the table"
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_SIZE)
    return data


def read_text(path: str | Path) -> str:
    """Return a table file's text (UTF-8, a BOM removed; gzip handled).

    Raises
    ------
    InputFormatError
        For UTF-16 or non-UTF-8 (e.g. Latin-1 spreadsheet exports), naming the likely encoding.
    """
    p = Path(path)
    data = read_bytes(p)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "UTF-16 text (a spreadsheet export?); save it as UTF-8 tab-separated text"
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_ENCODING)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = (
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8 (probably Latin-1 "
            "or Windows-1252); save the file as UTF-8"
        )
        raise InputFormatError(message, path=p, line=line, code=ErrorCode.TAB_ENCODING) from None


def read_rows(
    path: str | Path, *, comment: str | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Split a tab-separated file into its header and ``(line number, cells)`` rows.

    Lines starting with ``comment`` before the header are skipped; blank lines are skipped.

    Raises
    ------
    EmptyInputError
        When the file has no header, or a header only.
    InputFormatError
        When a row has more or fewer cells than the header (never padded).
    """
    p = Path(path)
    lines = read_text(p).splitlines()
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if header is None:
            if comment is not None and line.startswith(comment) and "\t" not in line:
                continue
            header = line.split("\t")
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            message = (
                f"{len(cells)} cells, expected {len(header)} as in the header; rows are never "
                "padded"
            )
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)
        rows.append((number, cells))
    if header is None:
        message = "empty file; expected a header line and one row per taxon"
        raise EmptyInputError(message, path=p)
    if not rows:
        message = "header only; expected one row per taxon below it"
        raise EmptyInputError(message, path=p)
    return header, rows


def parse_number(
    cell: str, *, path: Path, line: int, column: str, taxon: str | None = None
) -> float:
    """Parse one numeric cell; an empty cell, ``abc`` or ``1,5`` is an error with its location.

    Examples
    --------
    >>> parse_number(" 12.5 ", path=Path("t.tsv"), line=2, column="S1")
    12.5
    >>> parse_number("1,5", path=Path("t.tsv"), line=3, column="S1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gutbrain.errors.InputFormatError: t.tsv:3: column 'S1': '1,5' is not a number (a decimal...
    """
    text = cell.strip()
    where = f"taxon {taxon!r}, " if taxon is not None else ""
    try:
        value = float(text)
    except ValueError:
        hint = " (a decimal comma? use a point)" if "," in text else ""
        message = f"{where}column {column!r}: {text!r} is not a number{hint}"
        code = ErrorCode.TAB_NONFINITE if text == "" else ErrorCode.TAB_NUM
        raise InputFormatError(message, path=path, line=line, code=code) from None
    if not math.isfinite(value):
        message = f"{where}column {column!r}: {text!r} is not a finite number"
        raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_NONFINITE)
    return value


def values_matrix(
    rows: list[tuple[int, list[str]]],
    columns: list[int],
    header: list[str],
    *,
    path: Path,
    id_column: int = 0,
) -> npt.NDArray[np.float64]:
    """Return the numeric cells of ``columns`` as a rows × columns float array.

    Raises
    ------
    InputFormatError
        On the first non-numeric, empty, NaN or infinite cell, naming line and column.
    """
    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for i, (number, cells) in enumerate(rows):
        for k, c in enumerate(columns):
            cell = cells[c]
            try:
                value = float(cell)
                ok = math.isfinite(value)
            except ValueError:
                ok = False
            if not ok:
                taxon = cells[id_column].strip()
                value = parse_number(cell, path=path, line=number, column=header[c], taxon=taxon)
            out[i, k] = value
    return out
