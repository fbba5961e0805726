"""The abundance-table formats, named once.

:class:`TableFormat` is the one list of formats: :func:`gutbrain.io.tables.read_table` dispatches
on it through :data:`gutbrain.io.tables.registry.READERS`, :func:`~gutbrain.io.tables.write_table`
through :data:`~gutbrain.io.tables.registry.WRITERS`, :func:`~gutbrain.io.tables.detect_format`
returns one, and the command line's ``--format`` / ``--to`` choices are its values
(:data:`FORMATS`, :data:`gutbrain.io.tables.EXPORT_FORMATS`).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FORMATS", "TableFormat"]


class TableFormat(StrEnum):
    """An abundance-table format; the value is its ``--format`` name (docs/tables.md).

    Examples
    --------
    >>> TableFormat("qiime-taxonomy") is TableFormat.QIIME_TAXONOMY
    True
    >>> f"import:{TableFormat.KRAKEN}"
    'import:kraken'
    """

    BIOM = "biom"  # BIOM 1.0 JSON or 2.1 HDF5
    TSV = "tsv"  # taxa x samples; as an export format, gutbrain's profile.tsv
    PROFILE = "profile"  # gutbrain profile.tsv
    EMU = "emu"
    KRAKEN = "kraken"
    BRACKEN = "bracken"
    METAPHLAN = "metaphlan"
    QIIME_TAXONOMY = "qiime-taxonomy"  # a QIIME 2 feature table (BIOM or TSV) + taxonomy.tsv
    CAMI = "cami"  # CAMI profiling format


#: Formats :func:`gutbrain.io.tables.read_table` accepts (besides ``auto``), in help order.
FORMATS: tuple[str, ...] = tuple(member.value for member in TableFormat)
