"""Table readers and writers keyed by :class:`~gutbrain.io.tables.formats.TableFormat`.

:data:`READERS` maps every format to a reader taking the table path and the options
(``taxonomy``, ``rank``, ``value_type``; formats that carry their own lineages take none of them,
see :data:`TAXONOMY_FORMATS`); :data:`WRITERS` maps the export formats to a writer.
:func:`read_table` and :func:`write_table` only look a format up here, so adding a format is an
enum member plus a registry entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from gutbrain.errors import ErrorCode, InputFormatError
from gutbrain.io.files import check_input_file
from gutbrain.io.tables import readers
from gutbrain.io.tables.biom import write_profile_biom
from gutbrain.io.tables.cami import read_cami, write_cami
from gutbrain.io.tables.formats import FORMATS, TableFormat
from gutbrain.io.tables.matrix import ValueType
from gutbrain.io.tables.profile import read_profiles_tsv, write_profile_tsv
from gutbrain.model import Profile, Rank

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_SUFFIXES",
    "READERS",
    "TAXONOMY_FORMATS",
    "WRITERS",
    "TableReader",
    "TableWriter",
    "read_table",
    "write_table",
]

logger = logging.getLogger(__name__)


class TableReader(Protocol):
    """Read a checked table path into one profile per sample."""

    def __call__(
        self,
        path: Path,
        *,
        taxonomy: str | Path | None,
        rank: Rank | None,
        value_type: ValueType,
    ) -> list[Profile]: ...


class TableWriter(Protocol):
    """Write profiles to ``path`` atomically; return the path."""

    def __call__(self, profiles: Sequence[Profile], path: str | Path) -> Path: ...


def _read_biom(
    path: Path, *, taxonomy: str | Path | None, rank: Rank | None, value_type: ValueType
) -> list[Profile]:
    return readers.read_biom(path, taxonomy=taxonomy, rank=rank, value_type=value_type)


def _read_tsv(
    path: Path, *, taxonomy: str | Path | None, rank: Rank | None, value_type: ValueType
) -> list[Profile]:
    return readers.read_plain_tsv(path, taxonomy=taxonomy, rank=rank, value_type=value_type)


def _read_qiime_taxonomy(
    path: Path, *, taxonomy: str | Path | None, rank: Rank | None, value_type: ValueType
) -> list[Profile]:
    fmt = TableFormat.QIIME_TAXONOMY
    if taxonomy is None:
        message = f"format {fmt} needs the taxonomy file (--taxonomy taxonomy.tsv)"
        raise InputFormatError(message, path=path)
    if readers.detect_format(path) == TableFormat.BIOM:
        return readers.read_biom(path, taxonomy=taxonomy, value_type=value_type, format_name=fmt)
    return readers.read_plain_tsv(path, taxonomy=taxonomy, value_type=value_type, format_name=fmt)


def _lineage_reader(read: _PathReader) -> TableReader:
    """A reader for a format whose rows carry their own lineages (it takes no options)."""

    def reader(
        path: Path, *, taxonomy: str | Path | None, rank: Rank | None, value_type: ValueType
    ) -> list[Profile]:
        return read(path)

    return reader


class _PathReader(Protocol):
    def __call__(self, path: str | Path) -> list[Profile]: ...


#: The reader of every format.
READERS: Mapping[TableFormat, TableReader] = MappingProxyType(
    {
        TableFormat.BIOM: _read_biom,
        TableFormat.TSV: _read_tsv,
        TableFormat.PROFILE: _lineage_reader(read_profiles_tsv),
        TableFormat.EMU: _lineage_reader(readers.read_emu),
        TableFormat.KRAKEN: _lineage_reader(readers.read_kraken),
        TableFormat.BRACKEN: _lineage_reader(readers.read_bracken),
        TableFormat.METAPHLAN: _lineage_reader(readers.read_metaphlan),
        TableFormat.QIIME_TAXONOMY: _read_qiime_taxonomy,
        TableFormat.CAMI: _lineage_reader(read_cami),
    }
)
#: Formats whose feature IDs a ``taxonomy`` table names (the others carry their own lineages).
TAXONOMY_FORMATS: frozenset[TableFormat] = frozenset(
    {TableFormat.QIIME_TAXONOMY, TableFormat.BIOM, TableFormat.TSV}
)


def _write_biom(profiles: Sequence[Profile], path: str | Path) -> Path:
    return write_profile_biom(list(profiles), path)


def _write_tsv(profiles: Sequence[Profile], path: str | Path) -> Path:
    return write_profile_tsv(list(profiles), path)


#: The writer of every export format: ``biom`` is BIOM 2.1 (HDF5), ``tsv`` gutbrain's
#: ``profile.tsv``, ``cami`` the CAMI profiling format.
WRITERS: Mapping[TableFormat, TableWriter] = MappingProxyType(
    {
        TableFormat.BIOM: _write_biom,
        TableFormat.TSV: _write_tsv,
        TableFormat.CAMI: write_cami,
    }
)
#: Formats :func:`write_table` writes.
EXPORT_FORMATS: tuple[str, ...] = tuple(fmt.value for fmt in WRITERS)
#: File-name suffix of each export format (``gutbrain export`` names its output with it).
EXPORT_SUFFIXES: Mapping[TableFormat, str] = MappingProxyType(
    {TableFormat.BIOM: ".biom", TableFormat.TSV: ".tsv", TableFormat.CAMI: ".cami.txt"}
)


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
        ``auto`` (detected from the content), or a :class:`TableFormat` value (:data:`FORMATS`):
        ``biom`` (1.0 JSON or 2.1 HDF5), ``tsv`` (taxa × samples), ``profile`` (gutbrain
        ``profile.tsv``), ``emu``, ``kraken``, ``bracken``, ``metaphlan``, ``cami`` (CAMI
        profiling format), ``qiime-taxonomy`` (a QIIME 2 feature table, BIOM or TSV, with
        ``taxonomy``).
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
    if format == "auto":
        fmt = readers.detect_format(p)
    elif format in FORMATS:
        fmt = TableFormat(format)
    else:
        message = f"unknown format {format!r}; expected auto or one of {', '.join(FORMATS)}"
        raise InputFormatError(message, path=p)
    logger.info("%s: reading as %s", p.name, fmt)
    if taxonomy is not None and fmt not in TAXONOMY_FORMATS:
        message = (
            f"read as {fmt}, whose rows carry their own lineages, so the taxonomy file "
            f"{Path(taxonomy).name} would be ignored; give a taxonomy only with BIOM or TSV "
            "feature tables (or set --format)"
        )
        raise InputFormatError(message, path=p, code=ErrorCode.TAB_TAXONOMY)
    return READERS[fmt](p, taxonomy=taxonomy, rank=rank, value_type=value_type)


def write_table(profiles: Sequence[Profile], path: str | Path, *, format: str) -> Path:
    """Write ``profiles`` as ``biom`` (BIOM 2.1 HDF5), ``tsv`` (profile.tsv) or ``cami``.

    Returns
    -------
    Path
        The written file (written atomically).

    Raises
    ------
    InputFormatError
        When ``format`` is not one of :data:`EXPORT_FORMATS` or sample IDs repeat.
    OutputError
        When the file cannot be written.
    """
    if format not in EXPORT_FORMATS:
        message = f"unknown export format {format!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        raise InputFormatError(message)
    return WRITERS[TableFormat(format)](profiles, path)
