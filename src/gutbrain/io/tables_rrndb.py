"""rrnDB 16S rRNA gene copy numbers (Stoddard et al. 2015), by species and genus name.

A flat ``{species or genus name: copy number}`` view of
:func:`gutbrain.io.refdb_formats.read_rrndb_copy_numbers`, the one rrnDB reader of gutbrain, so
``gutbrain diversity --copy-number-correction --db rrnDB.tsv`` and a reference bundle imported
with ``--copy-numbers rrnDB.tsv`` use the same numbers. A species' value is the mean over its
genomes (records named "Genus sp. ..." count for the genus only), a genus' the mean over all its
genomes; species names hold a space, genus names do not (``Candidatus`` genera excepted, whose
species then hold two), so the two never collide.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gutbrain.io.refdb_formats import read_rrndb_copy_numbers as _read_table

__all__ = ["read_rrndb_copy_numbers"]

logger = logging.getLogger(__name__)


def read_rrndb_copy_numbers(path: str | Path) -> dict[str, float]:
    """Return ``{species or genus name: mean 16S copy number}`` from an rrnDB table.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-COPY`` when the file is missing, lacks the ``NCBI scientific name`` or
        ``16S gene count`` column, has a count that is not a positive number, or no count at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> table = pathlib.Path(tempfile.mkdtemp()) / "rrndb.tsv"
    >>> _ = table.write_text(
    ...     "NCBI scientific name\\t16S gene count\\n"
    ...     "Akkermansia muciniphila ATCC\\t3\\nAkkermansia glycaniphila\\t5\\n"
    ...     "Akkermansia sp. X\\t7\\n"
    ... )
    >>> read_rrndb_copy_numbers(table)  # genus: mean over its 3 genomes
    {'Akkermansia muciniphila': 3.0, 'Akkermansia glycaniphila': 5.0, 'Akkermansia': 5.0}
    """
    table = _read_table(path)
    logger.info(
        "%s: copy numbers for %d species and %d genera",
        Path(path).name,
        len(table.species),
        len(table.genus),
    )
    return {**table.species, **table.genus}
