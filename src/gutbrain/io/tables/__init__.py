"""Abundance tables in and out: gutbrain's ``profile.tsv``, BIOM, and other pipelines' outputs.

Every table becomes a list of :class:`~gutbrain.model.Profile` (one per sample) and any list of
profiles can be written back as BIOM 2.1, ``profile.tsv`` or the CAMI profiling format. The
formats and their rules are described in ``docs/tables.md``; the bad-table checks follow
RELIABILITY.md §2.4 (T01–T09, T13–T15).

Modules: :mod:`~gutbrain.io.tables.formats` (the :class:`TableFormat` enum),
:mod:`~gutbrain.io.tables.registry` (readers and writers keyed by it, :func:`read_table`,
:func:`write_table`), :mod:`~gutbrain.io.tables.readers` (other pipelines' tables, format
detection), :mod:`~gutbrain.io.tables.profile` (``profile.tsv``), :mod:`~gutbrain.io.tables.biom`,
:mod:`~gutbrain.io.tables.cami`, :mod:`~gutbrain.io.tables.matrix` (taxa × samples checks) and
:mod:`~gutbrain.io.tables.text` (decoding, numbers).
"""

from __future__ import annotations

from gutbrain.io.tables.biom import profiles_to_biom, write_profile_biom
from gutbrain.io.tables.cami import format_cami, read_cami, write_cami
from gutbrain.io.tables.formats import FORMATS, TableFormat
from gutbrain.io.tables.matrix import RELATIVE_TOLERANCE, TaxonMatrix, ValueType, matrix_to_profiles
from gutbrain.io.tables.profile import (
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
from gutbrain.io.tables.readers import (
    detect_format,
    read_biom,
    read_bracken,
    read_emu,
    read_kraken,
    read_metaphlan,
    read_plain_tsv,
    read_taxonomy,
)
from gutbrain.io.tables.registry import (
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    READERS,
    WRITERS,
    read_table,
    write_table,
)

__all__ = [
    "EXPORT_FORMATS",
    "EXPORT_SUFFIXES",
    "FORMATS",
    "PROFILE_COLUMNS",
    "READERS",
    "RELATIVE_TOLERANCE",
    "UNASSIGNED",
    "WRITERS",
    "TableFormat",
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
