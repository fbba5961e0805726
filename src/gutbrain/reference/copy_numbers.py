"""16S rRNA gene copy numbers from rrnDB (Stoddard et al. 2015), joined to reference taxonomy.

:func:`read_rrndb_copy_numbers` averages rrnDB 16S gene counts per species and per genus (by NCBI
scientific name); :func:`apply_copy_numbers` joins them to a bundle's taxonomy by species, else
genus; :func:`rrndb_copy_numbers_by_name` is the flat ``{name: copy number}`` view used by
``gutbrain diversity --copy-number-correction --db rrnDB.tsv``, so both use the same numbers.
"""

from __future__ import annotations

import csv
import logging
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.reference._files import open_text
from gutbrain.reference.bundle import TaxonRecord

__all__ = [
    "RRNDB_CITATION",
    "CopyNumberTable",
    "apply_copy_numbers",
    "read_rrndb_copy_numbers",
    "rrndb_copy_numbers_by_name",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CopyNumberTable:
    """Mean 16S gene copy numbers per species and per genus (names as NCBI gives them)."""

    species: Mapping[str, float]
    genus: Mapping[str, float]
    source: str
    citation: str

    def lookup(self, lineage: Lineage) -> tuple[float, str] | None:
        """Return ``(copy number, "species"|"genus")`` for a lineage, species first."""
        if lineage.species is not None and lineage.species in self.species:
            return self.species[lineage.species], "species"
        if lineage.genus is not None and lineage.genus in self.genus:
            return self.genus[lineage.genus], "genus"
        return None


RRNDB_CITATION = (
    "Stoddard SF, Smith BJ, Hein R, Roller BRK, Schmidt TM (2015) rrnDB: improved tools for "
    "interpreting rRNA gene abundance in bacteria and archaea and a new foundation for future "
    "development. Nucleic Acids Res 43:D593-D598. doi:10.1093/nar/gku1201"
)


def read_rrndb_copy_numbers(path: str | Path) -> CopyNumberTable:
    """Average rrnDB ``16S gene count`` per species and per genus.

    The species of a record is the first two words of its ``NCBI scientific name`` (records
    named "Genus sp. …" count only towards the genus); the genus is the first word. Each genome
    record counts once, so the species value is the mean over its sequenced genomes and the genus
    value the mean over all its genomes.

    Records without a count are skipped (rrnDB 5.4 has 24 among 8,485).

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-COPY`` when the file is missing, lacks the expected columns, has a count that is
        not a positive number (naming the line), or no record with a count.
    """
    source = Path(path)
    handle = open_text(source, what="rrnDB table", code=ErrorCode.REF_COPY)
    species: dict[str, list[float]] = defaultdict(list)
    genus: dict[str, list[float]] = defaultdict(list)
    version = ""
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        needed = {"NCBI scientific name", "16S gene count"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            message = (
                f"{source}:1: not an rrnDB table; expected columns {sorted(needed)}, found "
                f"{reader.fieldnames}"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_COPY)
        for row in reader:
            count_text = (row.get("16S gene count") or "").strip()
            name = row.get("NCBI scientific name") or row.get("Data source organism name") or ""
            words = name.replace("[", "").replace("]", "").split()
            if not count_text or not words:
                continue
            try:
                count = float(count_text)
            except ValueError:
                count = math.nan
            if not count > 0 or math.isinf(count):
                message = (
                    f"{source}:{reader.line_num}: 16S gene count {count_text!r} of "
                    f"{name!r}; expected a positive number of copies"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_COPY)
            if words[0] == "Candidatus" and len(words) > 1:
                words = [f"Candidatus {words[1]}", *words[2:]]
            genus[words[0]].append(count)
            if len(words) > 1 and words[1][:1].islower() and words[1] not in ("sp.", "bacterium"):
                species[f"{words[0]} {words[1]}"].append(count)
            version = version or (row.get("rrnDB version") or "").strip('"')
    if not genus:
        message = f"{source}: no record with a 16S gene count; expected an rrnDB table"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_COPY)
    return CopyNumberTable(
        species={k: statistics.fmean(v) for k, v in species.items()},
        genus={k: statistics.fmean(v) for k, v in genus.items()},
        source=f"rrnDB {version}".strip(),
        citation=RRNDB_CITATION,
    )


def apply_copy_numbers(
    taxonomy: Mapping[str, TaxonRecord], table: CopyNumberTable
) -> tuple[dict[str, TaxonRecord], dict[str, int]]:
    """Fill missing copy numbers from ``table`` (species mean, else genus mean).

    Returns
    -------
    tuple
        The updated taxonomy and counts ``{"species": n, "genus": n, "none": n, "source": n}``.
    """
    counts = {"species": 0, "genus": 0, "none": 0, "source": 0}
    updated: dict[str, TaxonRecord] = {}
    for ref_id, record in taxonomy.items():
        if record.copy_number is not None:
            counts["source"] += 1
            updated[ref_id] = record
            continue
        found = table.lookup(record.lineage)
        if found is None:
            counts["none"] += 1
            updated[ref_id] = record
            continue
        value, level = found
        counts[level] += 1
        updated[ref_id] = replace(
            record, copy_number=value, copy_number_source=f"{table.source} {level} mean"
        )
    return updated, counts


def rrndb_copy_numbers_by_name(path: str | Path) -> dict[str, float]:
    """Return ``{species or genus name: mean 16S copy number}`` from an rrnDB table.

    A species' value is the mean over its genomes (records named "Genus sp. ..." count for the
    genus only), a genus' the mean over all its genomes; species names hold a space, genus names
    do not (``Candidatus`` genera excepted, whose species then hold two), so the two never collide.

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
    >>> rrndb_copy_numbers_by_name(table)  # genus: mean over its 3 genomes
    {'Akkermansia muciniphila': 3.0, 'Akkermansia glycaniphila': 5.0, 'Akkermansia': 5.0}
    """
    table = read_rrndb_copy_numbers(path)
    logger.info(
        "%s: copy numbers for %d species and %d genera",
        Path(path).name,
        len(table.species),
        len(table.genus),
    )
    return {**table.species, **table.genus}
