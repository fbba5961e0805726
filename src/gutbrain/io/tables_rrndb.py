"""rrnDB 16S rRNA gene copy numbers (Stoddard et al. 2015), by species and genus name.

The rrnDB download (``rrnDB-5.4.tsv``) is tab-separated with a header and quoted free-text cells
that may contain line breaks, so it is read with :mod:`csv`. Each record is one genome with
``NCBI scientific name`` and ``16S gene count``. Species = the first two words of the name
(``Genus epithet``; names whose second word is ``sp.`` or not lower-case count for the genus only),
genus = the first word. A species' copy number is the mean over its genomes; a genus' is the mean
of its species' means (genomes without a species name count as their own group), as rrnDB's own
pan-taxon estimates average over lower taxa.
"""

from __future__ import annotations

import csv
import io
import logging
import statistics
from pathlib import Path

from gutbrain.errors import EmptyInputError, InputFormatError
from gutbrain.io.tables_text import read_text

__all__ = ["read_rrndb_copy_numbers"]

logger = logging.getLogger(__name__)

_NAME = "NCBI scientific name"
_COUNT = "16S gene count"


def read_rrndb_copy_numbers(path: str | Path) -> dict[str, float]:
    """Return ``{species or genus name: mean 16S copy number}`` from an rrnDB table.

    Raises
    ------
    InputFormatError
        When the ``NCBI scientific name`` or ``16S gene count`` column is missing, or a count is
        not a positive number.
    EmptyInputError
        When no record has a 16S count.
    """
    p = Path(path)
    reader = csv.reader(io.StringIO(read_text(p)), delimiter="\t")
    header = next(reader, None)
    if header is None or _NAME not in header or _COUNT not in header:
        message = f"missing {_NAME!r} or {_COUNT!r} column; expected an rrnDB download"
        raise InputFormatError(message, path=p, line=1)
    name_col, count_col = header.index(_NAME), header.index(_COUNT)
    species: dict[str, list[float]] = {}
    genus_only: dict[str, list[float]] = {}
    for record, row in enumerate(reader, start=1):
        if len(row) <= max(name_col, count_col):
            continue
        cell = row[count_col].strip()
        if not cell:
            continue
        try:
            copies = float(cell)
        except ValueError:
            message = f"16S gene count {cell!r} is not a number"
            raise InputFormatError(message, path=p, record=record) from None
        if not copies > 0:
            message = f"16S gene count {cell!r} is not positive"
            raise InputFormatError(message, path=p, record=record)
        words = row[name_col].split()
        if not words:
            continue
        if len(words) >= 2 and words[1][:1].islower() and words[1] != "sp.":
            species.setdefault(f"{words[0]} {words[1]}", []).append(copies)
        else:
            genus_only.setdefault(words[0], []).append(copies)
    if not species and not genus_only:
        message = "no record with a 16S gene count"
        raise EmptyInputError(message, path=p)
    out: dict[str, float] = {name: statistics.fmean(v) for name, v in species.items()}
    per_genus: dict[str, list[float]] = {}
    for name, value in out.items():
        per_genus.setdefault(name.split()[0], []).append(value)
    for genus, values in genus_only.items():
        per_genus.setdefault(genus, []).append(statistics.fmean(values))
    for genus, values in per_genus.items():
        out.setdefault(genus, statistics.fmean(values))
    logger.info(
        "%s: copy numbers for %d species and %d genera", p.name, len(species), len(per_genus)
    )
    return out
