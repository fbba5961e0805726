"""Sample sheets: one row per sample, validated up front with every bad row listed at once.

A sheet is a CSV or TSV file (the delimiter is taken from the extension, ``.csv`` or
``.tsv``/``.txt``, or sniffed from the header line) with a header row. Columns:

``sample_id`` (required)
    Unique per sheet; letters, digits, ``.``, ``_`` and ``-`` only (it names files in the store),
    at most 128 characters.
``reads``
    One or more FASTQ/FASTA paths separated by ``;``.
``reads_r2`` (optional)
    The reverse reads of a paired Illumina sample (one FASTQ); ``reads`` then names the forward
    reads (one FASTQ). The pair is merged before profiling (:mod:`gutbrain.profile.pairs`).
``preset`` (optional)
    The sample's read type (:class:`~gutbrain.model.ReadType`): ``ont``, ``hifi`` or ``short``;
    empty: the run's ``--preset`` (``cohort run --preset``, default ``ont``). Only reads use it.
``profile``
    An abundance table (TSV/BIOM/Emu/…) holding this sample.
``answers``, ``markers`` (optional)
    Questionnaire answers and stool-marker files for the interpretation.
anything else
    A covariate or outcome (``age``, ``sex``, ``BMI``, ``antibiotics``, ``PHQ9`` …). Numbers are
    read as numbers, empty cells as missing, everything else as text.

Each row needs exactly one of ``reads`` and ``profile``. Relative paths are resolved against the
sheet's folder. Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import check_input_file
from gutbrain.model import ReadType, SampleId

__all__ = ["RESERVED_COLUMNS", "SampleSheet", "SampleSpec", "read_sample_sheet"]

logger = logging.getLogger(__name__)

#: Columns with a fixed meaning; every other column is a covariate.
RESERVED_COLUMNS = ("sample_id", "reads", "reads_r2", "preset", "profile", "answers", "markers")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MAX_PROBLEMS_SHOWN = 50

Covariate = float | str | None


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """One validated row of a sample sheet (absolute paths)."""

    sample_id: SampleId
    reads: tuple[str, ...] = ()
    profile: str | None = None
    answers: str | None = None
    markers: str | None = None
    covariates: Mapping[str, Covariate] = field(default_factory=dict)
    line: int = 0
    preset: ReadType | None = None

    def input_files(self) -> dict[str, str]:
        """Return ``{role: path}`` for every input file (``reads.1``, ``profile``, …)."""
        files = {f"reads.{i + 1}": p for i, p in enumerate(self.reads)}
        for role in ("profile", "answers", "markers"):
            value = getattr(self, role)
            if value is not None:
                files[role] = value
        return files


@dataclass(frozen=True, slots=True)
class SampleSheet:
    """A validated sample sheet."""

    path: str
    samples: tuple[SampleSpec, ...]
    covariate_names: tuple[str, ...]


def _parse_value(text: str) -> Covariate:
    text = text.strip()
    if text == "" or text.upper() in {"NA", "NAN", "N/A"}:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else None


def _delimiter(path: Path, header: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix in {".tsv", ".tab", ".txt"}:
        return "\t"
    return "\t" if header.count("\t") >= header.count(",") else ","


def read_sample_sheet(path: str | Path, *, check_files: bool = True) -> SampleSheet:
    """Read and validate a sample sheet; report every bad row in one error.

    Parameters
    ----------
    path
        CSV or TSV sheet.
    check_files
        Check that every named input exists and is readable.

    Raises
    ------
    InputMissingError
        When the sheet itself cannot be read.
    EmptyInputError
        When it has no header or no samples.
    InputFormatError
        Listing every bad row (``line N: problem``) when any row is invalid.
    """
    sheet_path = check_input_file(path)
    base = sheet_path.parent.resolve()
    try:
        text = sheet_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}); save the sheet as UTF-8 CSV or TSV"
        raise InputFormatError(message, path=sheet_path, code=ErrorCode.ENCODING) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)]
    lines = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        message = "the sample sheet is empty; expected a header row and one row per sample"
        raise EmptyInputError(message, path=sheet_path)
    header_line, header_text = lines[0]
    delimiter = _delimiter(sheet_path, header_text)
    rows = list(csv.reader([line for _, line in lines], delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    problems: list[str] = []
    if "sample_id" not in header:
        message = (
            f"no 'sample_id' column in the header ({', '.join(header)}); expected sample_id plus "
            "reads or profile"
        )
        raise InputFormatError(message, path=sheet_path, line=header_line)
    if "reads" not in header and "profile" not in header:
        message = "the header needs a 'reads' or a 'profile' column"
        raise InputFormatError(message, path=sheet_path, line=header_line)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    empty_names = [i + 1 for i, h in enumerate(header) if not h]
    if duplicates or empty_names:
        message = (
            f"header has duplicate columns {duplicates} or unnamed columns at {empty_names}; "
            "give every column a unique name"
        )
        raise InputFormatError(message, path=sheet_path, line=header_line)
    covariate_names = tuple(h for h in header if h not in RESERVED_COLUMNS)

    samples: list[SampleSpec] = []
    seen: dict[str, int] = {}
    for (line_no, _), row in zip(lines[1:], rows[1:], strict=True):
        row_problems: list[str] = []
        if len(row) != len(header):
            problems.append(
                f"line {line_no}: {len(row)} fields, expected {len(header)} (as in the header)"
            )
            continue
        cells = {h: c.strip() for h, c in zip(header, row, strict=True)}
        sample_id = cells["sample_id"]
        if not _ID.match(sample_id):
            row_problems.append(
                f"sample_id {sample_id!r} is empty, too long or has characters other than "
                "letters, digits, '.', '_', '-'"
            )
        elif sample_id in seen:
            row_problems.append(f"sample_id {sample_id!r} already used on line {seen[sample_id]}")
        else:
            seen[sample_id] = line_no
        reads_cell = cells.get("reads", "")
        profile_cell = cells.get("profile", "")
        reads = tuple(p.strip() for p in reads_cell.split(";") if p.strip())
        if bool(reads) == bool(profile_cell):
            row_problems.append("give exactly one of 'reads' and 'profile'")
        reads_r2 = cells.get("reads_r2", "")
        if reads_r2 and len(reads) != 1:
            row_problems.append(
                f"'reads_r2' needs exactly one forward-read file in 'reads' (found {len(reads)})"
            )
        preset_cell = cells.get("preset", "")
        preset = ReadType(preset_cell) if preset_cell in set(ReadType) else None
        if preset_cell and preset is None:
            row_problems.append(f"preset {preset_cell!r} is not one of {', '.join(ReadType)}")

        def resolve(value: str, role: str, row_problems: list[str] = row_problems) -> str | None:
            if not value:
                return None
            candidate = Path(value)
            if not candidate.is_absolute():
                candidate = base / candidate
            if check_files:
                if not candidate.exists():
                    row_problems.append(f"{role} file {value!r} not found")
                elif not candidate.is_file():
                    row_problems.append(
                        f"{role} {value!r} is not a regular file (a folder, pipe or device); "
                        "give a file path"
                    )
                elif not _readable(candidate):
                    row_problems.append(f"{role} file {value!r} is not readable")
            return str(candidate)

        resolved_reads = tuple(r for r in (resolve(p, "reads") for p in reads) if r is not None)
        resolved_r2 = resolve(reads_r2, "reads_r2")
        if resolved_r2 is not None:
            resolved_reads = (*resolved_reads, resolved_r2)
        profile = resolve(profile_cell, "profile")
        answers = resolve(cells.get("answers", ""), "answers")
        markers = resolve(cells.get("markers", ""), "markers")
        if row_problems:
            problems.extend(f"line {line_no}: {p}" for p in row_problems)
            continue
        samples.append(
            SampleSpec(
                sample_id=SampleId(sample_id),
                reads=resolved_reads,
                profile=profile,
                answers=answers,
                markers=markers,
                covariates={c: _parse_value(cells[c]) for c in covariate_names},
                line=line_no,
                preset=preset,
            )
        )
    if problems:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = f"; … and {more} more" if more else ""
        message = (
            f"{len(problems)} problem(s) in the sample sheet: " + "; ".join(shown) + tail + "; fix "
            "these rows and run again"
        )
        raise InputFormatError(message, path=sheet_path)
    if not samples:
        message = "the sample sheet has a header but no samples"
        raise EmptyInputError(message, path=sheet_path)
    logger.info("sample sheet %s: %d samples", sheet_path.name, len(samples))
    return SampleSheet(
        path=str(sheet_path), samples=tuple(samples), covariate_names=covariate_names
    )


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError:
        return False
    return True
