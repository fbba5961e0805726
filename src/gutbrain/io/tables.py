"""Abundance tables in and out: gutbrain's ``profile.tsv``, BIOM, and other pipelines' outputs.

Every table becomes a list of :class:`~gutbrain.model.Profile` (one per sample) and any list of
profiles can be written back as BIOM 2.1, ``profile.tsv`` or the CAMI profiling format. The
formats and their rules are described in ``docs/tables.md``; the bad-table checks follow
RELIABILITY.md §2.4 (T01–T09, T13–T15).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.files import check_input_file
from gutbrain.io.tables_biom import profiles_to_biom, write_profile_biom
from gutbrain.io.tables_cami import format_cami, read_cami, write_cami
from gutbrain.io.tables_matrix import RELATIVE_TOLERANCE, TaxonMatrix, ValueType, matrix_to_profiles
from gutbrain.io.tables_profile import (
    PROFILE_COLUMNS,
    UNASSIGNED,
    format_profile_tsv,
    profile_from_dict,
    profile_to_dict,
    read_profile_tsv,
    read_profiles_tsv,
    spreadsheet_safe,
    write_profile_tsv,
)
from gutbrain.io.tables_readers import (
    FORMATS,
    detect_format,
    read_biom,
    read_bracken,
    read_emu,
    read_kraken,
    read_metaphlan,
    read_plain_tsv,
    read_taxonomy,
)
from gutbrain.model import Profile, Rank

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "PROFILE_COLUMNS",
    "RELATIVE_TOLERANCE",
    "UNASSIGNED",
    "TaxonMatrix",
    "ValueType",
    "detect_format",
    "format_cami",
    "format_profile_tsv",
    "matrix_to_profiles",
    "profile_from_dict",
    "profile_to_dict",
    "profiles_to_biom",
    "read_biom",
    "read_bracken",
    "read_cami",
    "read_emu",
    "read_kraken",
    "read_metaphlan",
    "read_plain_tsv",
    "read_profile_tsv",
    "read_profiles_tsv",
    "read_table",
    "read_taxonomy",
    "spreadsheet_safe",
    "write_cami",
    "write_profile_biom",
    "write_profile_tsv",
    "write_table",
]

logger = logging.getLogger(__name__)

#: Formats :func:`write_table` writes.
EXPORT_FORMATS: tuple[str, ...] = ("biom", "tsv", "cami")


def read_table(
    path: str | Path,
    *,
    format: str = "auto",
    taxonomy: str | Path | None = None,
    rank: Rank | None = None,
    value_type: ValueType = "auto",
) -> list[Profile]:
    """Read an abundance table of any supported format: one :class:`Profile` per sample.

    Parameters
    ----------
    path
        The table (gzip allowed).
    format
        ``auto`` (detected from the content), or one of :data:`FORMATS`: ``biom`` (1.0 JSON or
        2.1 HDF5), ``tsv`` (taxa × samples), ``profile`` (gutbrain ``profile.tsv``), ``emu``,
        ``kraken``, ``bracken``, ``metaphlan``, ``cami`` (CAMI profiling format),
        ``qiime-taxonomy`` (a QIIME 2 feature table, BIOM or TSV, with ``taxonomy``).
    taxonomy
        A taxonomy table for BIOM/TSV feature IDs (QIIME 2 ``taxonomy.tsv`` or rank columns).
    rank
        For BIOM/TSV tables without any lineage: the rank the IDs name. ``None`` (the default)
        detects it: species when any ID is a binomial, otherwise genus (families, orders and
        domains recognised by their suffix). Either way, IDs that are mostly ASV/OTU feature IDs
        are refused (``GB-TAB-NEEDS-TAXONOMY``): give ``taxonomy``.
    value_type
        For BIOM/TSV: ``counts``, ``fractions``, ``percent``, ``quantities`` or ``auto``.

    Returns
    -------
    list of Profile
        Provenance ``source`` is ``import:<format>``, ``inputs`` maps file names to SHA-256.

    Raises
    ------
    InputMissingError
        When a file is missing or unreadable.
    InputFormatError
        When the format is unknown, a ``taxonomy`` is given for a format that carries its own
        lineages (``GB-TAB-TAXONOMY``), or the table breaks a rule (see docs/tables.md).
    """
    p = check_input_file(path)
    fmt = detect_format(p) if format == "auto" else format
    logger.info("%s: reading as %s", p.name, fmt)
    if taxonomy is not None and fmt not in ("qiime-taxonomy", "biom", "tsv"):
        message = (
            f"read as {fmt}, whose rows carry their own lineages, so the taxonomy file "
            f"{Path(taxonomy).name} would be ignored; give a taxonomy only with BIOM or TSV "
            "feature tables (or set --format)"
        )
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_TAXONOMY)
    if fmt == "qiime-taxonomy":
        if taxonomy is None:
            message = "format qiime-taxonomy needs the taxonomy file (--taxonomy taxonomy.tsv)"
            raise InputFormatError(message, path=p)
        inner = detect_format(p)
        if inner == "biom":
            return read_biom(p, taxonomy=taxonomy, value_type=value_type, format_name=fmt)
        return read_plain_tsv(p, taxonomy=taxonomy, value_type=value_type, format_name=fmt)
    if fmt == "biom":
        return read_biom(p, taxonomy=taxonomy, rank=rank, value_type=value_type)
    if fmt == "tsv":
        return read_plain_tsv(p, taxonomy=taxonomy, rank=rank, value_type=value_type)
    if fmt == "profile":
        return read_profiles_tsv(p)
    if fmt == "emu":
        return read_emu(p)
    if fmt == "kraken":
        return read_kraken(p)
    if fmt == "bracken":
        return read_bracken(p)
    if fmt == "metaphlan":
        return read_metaphlan(p)
    if fmt == "cami":
        return read_cami(p)
    message = f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}"
    raise InputFormatError(message, path=p)


def write_table(profiles: Sequence[Profile], path: str | Path, *, format: str) -> Path:
    """Write ``profiles`` as ``biom`` (BIOM 2.1 HDF5), ``tsv`` (profile.tsv) or ``cami``.

    Returns
    -------
    Path
        The written file (written atomically).

    Raises
    ------
    InputFormatError
        When ``format`` is unknown or sample IDs repeat.
    OutputError
        When the file cannot be written.
    """
    if format == "biom":
        return write_profile_biom(list(profiles), path)
    if format == "tsv":
        return write_profile_tsv(list(profiles), path)
    if format == "cami":
        return write_cami(profiles, path)
    message = f"unknown export format {format!r}; expected one of {', '.join(EXPORT_FORMATS)}"
    raise InputFormatError(message)
