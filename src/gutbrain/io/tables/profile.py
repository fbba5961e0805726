"""gutbrain's own profile table (``profile.tsv``) and a lossless JSON form of a Profile.

``profile.tsv`` is UTF-8, tab-separated, one header line, then one row per taxon and per rank
(see ``docs/tables.md``)::

    sample  rank  taxon  taxid  superkingdom  phylum  class  order  family  genus  species
        reads  abundance  abundance_low  abundance_high  total_reads  copy_number_corrected  members

For every rank present there is one row whose ``taxon`` is ``unassigned`` (lineage cells empty),
so that the abundances of that rank's rows plus its unassigned row sum to 1. Several samples may
share one file (long format); :func:`read_profile_tsv` wants exactly one, :func:`read_profiles_tsv`
returns them all. Empty cells mean "unknown". Text cells that a spreadsheet would run as a formula
(leading ``=``, ``+``, ``-``, ``@``) or that begin with ``'`` are written with a leading ``'``,
which the reader removes again.

``members`` lists, for a *species group* row (a ``species``-rank row such as "Escherichia coli
group", for species 16S cannot separate), its member species separated by ``;``; it is empty for a
single species. Files written before the column existed still read (no members).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from gutbrain import __version__
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError
from gutbrain.io.files import atomic_write_text, check_input_file, sha256_file
from gutbrain.model import RANKS, Lineage, Profile, Provenance, Rank, SampleId, TaxId, TaxonRow

__all__ = [
    "PROFILE_COLUMNS",
    "SUM_TOLERANCE",
    "UNASSIGNED",
    "format_profile_tsv",
    "parse_members",
    "profile_from_dict",
    "profile_to_dict",
    "read_profile_tsv",
    "read_profiles_tsv",
    "spreadsheet_safe",
    "unassigned_reads",
    "write_profile_tsv",
]

logger = logging.getLogger(__name__)

#: Name of the per-rank row holding what could not be assigned at that rank.
UNASSIGNED = "unassigned"

#: Columns of ``profile.tsv``, in order.
PROFILE_COLUMNS: tuple[str, ...] = (
    "sample",
    "rank",
    "taxon",
    "taxid",
    *RANKS,  # superkingdom ... species
    "reads",
    "abundance",
    "abundance_low",
    "abundance_high",
    "total_reads",
    "copy_number_corrected",
    "members",
)
_REQUIRED = ("rank", "taxon", "abundance")
_FORMULA_START = ("=", "+", "-", "@", "'", "\t", "\r")
#: Tolerance on "a rank's rows plus unassigned sum to 1".
SUM_TOLERANCE = 1e-6


def _escape(text: str) -> str:
    if "\t" in text or "\n" in text or "\r" in text:
        message = f"text {text!r} contains a tab or line break and cannot be written to a TSV"
        raise InputFormatError(message)
    return "'" + text if text.startswith(_FORMULA_START) else text


def spreadsheet_safe(text: str) -> str:
    """Return ``text`` with a leading ``'`` when a spreadsheet would run it as a formula
    (it starts with ``=``, ``+``, ``-``, ``@``, a tab or CR) or it starts with ``'``.

    Examples
    --------
    >>> spreadsheet_safe("=HYPERLINK(1)"), spreadsheet_safe("S1")
    ("'=HYPERLINK(1)", 'S1')
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _fmt_number(value: float | int | None) -> str:
    if value is None:
        return ""
    number = float(value)
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


def unassigned_reads(profile: Profile, rank: Rank) -> float | None:
    """Unassigned reads at ``rank``: total minus the rank's reads when all are known (exact for
    integer counts), else the unassigned share times the total."""
    if profile.total_reads is None:
        return None
    rows = [r for r in profile.rows if r.rank == rank]
    if all(r.reads is not None for r in rows):
        left = profile.total_reads - sum(r.reads or 0.0 for r in rows)
        share = float(profile.unassigned.get(rank, 0.0)) * profile.total_reads
        if abs(left - share) <= 1e-6 * max(profile.total_reads, 1):
            return max(left, 0.0)
    return float(profile.unassigned.get(rank, 0.0)) * profile.total_reads


#: Lineage attribute per rank, superkingdom to species (``class`` is ``class_``).
_LINEAGE_FIELDS = tuple("class_" if r == "class" else r for r in RANKS)


def _rows_of(profile: Profile) -> list[list[str]]:
    lines: list[list[str]] = []
    sample = _escape(str(profile.sample_id))
    total = _fmt_number(profile.total_reads)
    corrected = "true" if profile.copy_number_corrected else "false"
    present = {row.rank for row in profile.rows} | set(profile.unassigned)
    for rank in (r for r in RANKS if r in present):
        for row in profile.at_rank(rank):
            lineage = row.lineage
            lines.append(
                [
                    sample,
                    rank,
                    _escape(row.taxon),
                    _escape(str(row.taxid)) if row.taxid is not None else "",
                    *(_escape(getattr(lineage, name) or "") for name in _LINEAGE_FIELDS),
                    _fmt_number(row.reads),
                    _fmt_number(row.abundance),
                    _fmt_number(row.abundance_low),
                    _fmt_number(row.abundance_high),
                    total,
                    corrected,
                    _escape(";".join(row.members)),
                ]
            )
        rest = float(profile.unassigned.get(rank, 0.0))
        reads = unassigned_reads(profile, rank)
        lines.append(
            [
                sample,
                rank,
                UNASSIGNED,
                "",
                *("" for _ in RANKS),
                _fmt_number(reads),
                _fmt_number(rest),
                "",
                "",
                total,
                corrected,
                "",
            ]
        )
    return lines


def format_profile_tsv(profiles: Sequence[Profile]) -> str:
    """Return the ``profile.tsv`` text of one or more profiles (long format).

    Parameters
    ----------
    profiles
        Profiles to write, in order; sample IDs must be distinct.

    Raises
    ------
    InputFormatError
        When two profiles share a sample ID or a name contains a tab or line break.
    """
    seen: set[str] = set()
    out = ["\t".join(PROFILE_COLUMNS)]
    for profile in profiles:
        if profile.sample_id in seen:
            message = f"sample {profile.sample_id!r} appears twice; sample IDs must be unique"
            raise InputFormatError(message, code=ErrorCode.TAB_DUPSAMPLE)
        seen.add(profile.sample_id)
        out.extend("\t".join(cells) for cells in _rows_of(profile))
    return "\n".join(out) + "\n"


def write_profile_tsv(profile: Profile | Sequence[Profile], path: str | Path) -> Path:
    """Write ``profile.tsv`` atomically and return its path.

    Parameters
    ----------
    profile
        One profile, or several for a long-format multi-sample table.
    path
        Destination file; its folder is created when missing.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputError
        When the file cannot be written.
    """
    profiles = [profile] if isinstance(profile, Profile) else list(profile)
    return atomic_write_text(path, format_profile_tsv(profiles))


def _parse_float(cell: str, *, path: Path, line: int, column: str) -> float | None:
    if cell == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        message = f"column {column!r}: {cell!r} is not a number"
        raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_NUM) from None
    if not math.isfinite(value):
        message = f"column {column!r}: {cell!r} is not a finite number"
        raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_NONFINITE)
    if value < 0:
        message = f"column {column!r}: {cell!r} is negative; expected a value >= 0"
        raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_NEG)
    return value


def parse_members(
    text: str, *, path: Path | None = None, line: int | None = None
) -> tuple[str, ...]:
    """Split a ``members`` cell (``;``-separated species) and check it.

    Raises
    ------
    InputFormatError
        ``GB-TAB-MEMBERS`` when a member is empty or named twice, naming the file and line.

    Examples
    --------
    >>> parse_members("Escherichia coli; Escherichia fergusonii")
    ('Escherichia coli', 'Escherichia fergusonii')
    >>> parse_members("")
    ()
    """
    if not text.strip():
        return ()
    members = tuple(part.strip() for part in text.split(";"))
    for i, member in enumerate(members):
        if not member:
            message = (
                f"members {text!r}: member {i + 1} is empty; expected species names separated "
                "by ';'"
            )
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_MEMBERS)
        if member in members[:i]:
            message = f"members {text!r}: {member!r} is named twice; name each species once"
            raise InputFormatError(message, path=path, line=line, code=ErrorCode.TAB_MEMBERS)
    return members


class _Builder:
    def __init__(self, sample: str) -> None:
        self.sample = sample
        self.rows: list[TaxonRow] = []
        self.unassigned: dict[Rank, float] = {}
        self.total_reads: int | None = None
        self.corrected = False


def read_profiles_tsv(path: str | Path) -> list[Profile]:
    """Read every sample of a ``profile.tsv`` file.

    Parameters
    ----------
    path
        A file written by :func:`write_profile_tsv` (or by hand in the same format; the
        ``sample`` column may be omitted for a single sample, which then takes the file's stem).

    Returns
    -------
    list of Profile
        One per sample, in order of first appearance. Provenance says ``import:profile``
        with the file's SHA-256.

    Raises
    ------
    InputMissingError
        When the file is missing or unreadable.
    EmptyInputError
        When the file is empty or has a header only.
    InputFormatError
        When a column is missing, a cell is malformed, a rank is unknown, a row is ragged, a
        taxon repeats within a rank, or a rank's rows plus unassigned do not sum to 1 (± 1e-6).
    """
    p = check_input_file(path)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_ENCODING) from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        message = "empty file; expected a header line and one row per taxon"
        raise EmptyInputError(message, path=p)
    header = lines[0].split("\t")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        message = (
            f"missing column(s) {', '.join(missing)}; expected a profile.tsv header with "
            f"{', '.join(PROFILE_COLUMNS)}"
        )
        raise InputFormatError(message, path=p, line=1)
    if len(lines) == 1:
        message = "header only; expected one row per taxon below it"
        raise EmptyInputError(message, path=p)
    col = {name: i for i, name in enumerate(header)}
    builders: dict[str, _Builder] = {}
    seen: set[tuple[str, str, str, Lineage]] = set()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            message = f"{len(cells)} cells, expected {len(header)} (one per header column)"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_RAGGED)

        def cell(name: str, cells: list[str] = cells) -> str:
            return _unescape(cells[col[name]].strip()) if name in col else ""

        sample = cell("sample") or p.stem
        rank_text = cell("rank")
        if rank_text not in RANKS:
            message = f"rank {rank_text!r} is not one of {', '.join(RANKS)}"
            raise InputFormatError(message, path=p, line=number)
        rank: Rank = rank_text
        taxon = cell("taxon")
        names: dict[str, str | None] = {r: cell(r) for r in RANKS}
        if not names.get(rank):
            names[rank] = taxon
        lineage = Lineage.from_mapping(names).truncated(rank)
        # A name may recur at one rank under different parents (a homonym in the reference
        # taxonomy, e.g. SILVA's "uncultured"): the taxon is its whole lineage.
        key = (sample, rank, taxon, lineage)
        if key in seen:
            message = (
                f"sample {sample!r}: taxon {taxon!r} repeats at rank {rank} with the same lineage"
            )
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_DUPTAXON)
        seen.add(key)
        b = builders.setdefault(sample, _Builder(sample))
        abundance = _parse_float(cell("abundance"), path=p, line=number, column="abundance")
        if abundance is None:
            message = "empty abundance; expected a fraction between 0 and 1"
            raise InputFormatError(message, path=p, line=number)
        total = _parse_float(cell("total_reads"), path=p, line=number, column="total_reads")
        if total is not None:
            b.total_reads = round(total)
        b.corrected = b.corrected or cell("copy_number_corrected").lower() in {"true", "1", "yes"}
        if taxon == UNASSIGNED:
            b.unassigned[rank] = abundance
            continue
        taxid = cell("taxid")
        members = parse_members(cell("members"), path=p, line=number)
        if members and rank != "species":
            message = f"members given on a {rank} row; only species-rank group rows have members"
            raise InputFormatError(message, path=p, line=number, code=ErrorCode.TAB_MEMBERS)
        b.rows.append(
            TaxonRow(
                rank=rank,
                lineage=lineage,
                abundance=abundance,
                reads=_parse_float(cell("reads"), path=p, line=number, column="reads"),
                abundance_low=_parse_float(
                    cell("abundance_low"), path=p, line=number, column="abundance_low"
                ),
                abundance_high=_parse_float(
                    cell("abundance_high"), path=p, line=number, column="abundance_high"
                ),
                taxid=TaxId(taxid) if taxid else None,
                members=members,
            )
        )
    provenance = Provenance(
        gutbrain_version=__version__,
        source="import:profile",
        inputs={p.name: sha256_file(p)},
    )
    profiles: list[Profile] = []
    for b in builders.values():
        ranks = {row.rank for row in b.rows} | set(b.unassigned)
        for rank in RANKS:
            if rank not in ranks:
                continue
            total_fraction = sum(r.abundance for r in b.rows if r.rank == rank)
            total_fraction += b.unassigned.get(rank, 0.0)
            if abs(total_fraction - 1.0) > SUM_TOLERANCE:
                message = (
                    f"sample {b.sample!r}, rank {rank}: abundances plus unassigned sum to "
                    f"{total_fraction:.8g}, expected 1 (± {SUM_TOLERANCE:g})"
                )
                raise InputFormatError(message, path=p, code=ErrorCode.TAB_SUM)
        profiles.append(
            Profile(
                sample_id=SampleId(b.sample),
                rows=tuple(b.rows),
                unassigned={r: b.unassigned.get(r, 0.0) for r in RANKS if r in ranks},
                provenance=provenance,
                total_reads=b.total_reads,
                copy_number_corrected=b.corrected,
            )
        )
    return profiles


def read_profile_tsv(path: str | Path) -> Profile:
    """Read a single-sample ``profile.tsv`` (see :func:`read_profiles_tsv`).

    Raises
    ------
    InputFormatError
        When the file holds more than one sample, or as :func:`read_profiles_tsv`.
    """
    profiles = read_profiles_tsv(path)
    if len(profiles) != 1:
        names = ", ".join(repr(str(p.sample_id)) for p in profiles[:5])
        message = (
            f"{len(profiles)} samples ({names}...); expected one — use read_profiles_tsv "
            "for a multi-sample table"
        )
        raise InputFormatError(message, path=path)
    return profiles[0]


# ----------------------------------------------------------------------------- JSON form


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """Return a JSON-ready dict holding every field of ``profile`` (lossless)."""
    return {
        "sample_id": str(profile.sample_id),
        "total_reads": profile.total_reads,
        "copy_number_corrected": profile.copy_number_corrected,
        "unassigned": dict(profile.unassigned),
        "rows": [
            {
                "rank": row.rank,
                "lineage": row.lineage.as_dict(),
                "abundance": row.abundance,
                "reads": row.reads,
                "abundance_low": row.abundance_low,
                "abundance_high": row.abundance_high,
                "taxid": row.taxid,
                "members": list(row.members),
            }
            for row in profile.rows
        ],
        "provenance": profile.provenance.as_dict(),
    }


def profile_from_dict(data: Mapping[str, Any]) -> Profile:
    """Inverse of :func:`profile_to_dict`.

    Raises
    ------
    KeyError, TypeError
        When ``data`` lacks a field; callers turn these into :class:`InputFormatError`.
    """
    prov = data["provenance"]
    rows = tuple(
        TaxonRow(
            rank=cast(Rank, row["rank"]),
            lineage=Lineage.from_mapping(row["lineage"]),
            abundance=float(row["abundance"]),
            reads=None if row["reads"] is None else float(row["reads"]),
            abundance_low=None if row["abundance_low"] is None else float(row["abundance_low"]),
            abundance_high=None if row["abundance_high"] is None else float(row["abundance_high"]),
            taxid=None if row["taxid"] is None else TaxId(str(row["taxid"])),
            members=tuple(str(m) for m in row.get("members", ())),
        )
        for row in data["rows"]
    )
    return Profile(
        sample_id=SampleId(str(data["sample_id"])),
        rows=rows,
        unassigned={cast(Rank, k): float(v) for k, v in data["unassigned"].items()},
        provenance=Provenance(
            gutbrain_version=str(prov["gutbrain_version"]),
            source=str(prov["source"]),
            inputs=dict(prov["inputs"]),
            parameters=dict(prov["parameters"]),
            reference=dict(prov["reference"]),
            tools=dict(prov["tools"]),
            citations=tuple(prov["citations"]),
        ),
        total_reads=None if data["total_reads"] is None else int(data["total_reads"]),
        copy_number_corrected=bool(data["copy_number_corrected"]),
    )
