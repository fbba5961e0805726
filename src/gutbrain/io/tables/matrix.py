"""A validated taxa × samples matrix with a lineage per taxon, and its conversion to profiles.

Every importer that reads a multi-sample table (BIOM, plain TSV, QIIME 2 exports) produces a
:class:`TaxonMatrix`; :func:`matrix_to_profiles` validates it (RELIABILITY.md T01–T09, T14) and
turns each sample column into a :class:`~gutbrain.model.Profile`.

Value types
-----------
``counts``
    Non-negative integers (reads). ``reads`` and ``total_reads`` are filled.
``fractions`` / ``percent``
    Relative abundances; every non-empty sample must sum to 1 (or 100) within
    :data:`RELATIVE_TOLERANCE` (relative), and is then rescaled to sum to exactly 1.
``quantities``
    Non-negative non-integer amounts that are neither counts nor relative (for example
    quantitative microbiome profiles in cells per gram); only abundances are kept.
``auto``
    Integers → counts; otherwise every sample summing to ~1 → fractions, ~100 → percent; every
    sample summing to more than 100 → quantities; anything else is an error (a mix of ~1 and
    ~100 sums is reported as mixed percent/fraction columns).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from gutbrain import __version__
from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError, LowDepthWarning
from gutbrain.io._text import split_rank_prefix
from gutbrain.model import RANKS, Lineage, Profile, Provenance, Rank, SampleId, TaxonRow

__all__ = [
    "RELATIVE_TOLERANCE",
    "TaxonMatrix",
    "ValueType",
    "check_ids",
    "complete_lineage",
    "lineage_from_string",
    "matrix_to_profiles",
    "normalise_name",
    "validate_values",
]

logger = logging.getLogger(__name__)

ValueType = Literal["auto", "counts", "fractions", "percent", "quantities"]
#: Relative tolerance on a relative-abundance sample summing to 1 or 100.
RELATIVE_TOLERANCE = 1e-3
_NA = {"", "na", "nan", "none", "null", "unassigned", "unclassified", "unknown", "-1"}
_BINOMIAL = re.compile(r"^([A-Z][a-z]+)[ ._]([a-z][a-z-]+)$")


@dataclass(frozen=True, slots=True)
class TaxonMatrix:
    """Taxa × samples values read from one table.

    ``values[i, j]`` is taxon ``taxa[i]`` in sample ``samples[j]``; ``lineages[i]`` holds the
    taxon's names (all ``None`` when unknown: the taxon then counts as unassigned).
    ``members`` (empty, or one entry per taxon) lists a species group's member species.
    """

    path: Path
    format: str
    taxa: tuple[str, ...]
    samples: tuple[str, ...]
    values: npt.NDArray[np.float64]
    lineages: tuple[Lineage, ...]
    inputs: tuple[tuple[str, str], ...] = ()
    members: tuple[tuple[str, ...], ...] = ()


def normalise_name(name: str) -> str:
    """Return ``name`` NFC-normalised with surrounding white space removed (RELIABILITY T14)."""
    return unicodedata.normalize("NFC", name).strip()


def _clean(name: str | None) -> str | None:
    if name is None:
        return None
    text = normalise_name(name)
    if text.lower() in _NA or re.fullmatch(r"[a-z]__", text.lower()):
        return None
    return text


def complete_lineage(names: dict[str, str | None]) -> Lineage:
    """Build a lineage from ``{rank: name}``: clean empty/NA names, join a Greengenes species
    epithet to its genus, and take a binomial's genus when the genus is missing."""
    cleaned: dict[str, str | None] = {rank: _clean(names.get(rank)) for rank in RANKS}
    species = cleaned["species"]
    genus = cleaned["genus"]
    if species is not None:
        match = _BINOMIAL.match(species)
        if match:
            species = f"{match.group(1)} {match.group(2)}"
            genus = genus or match.group(1)
        elif genus is not None and " " not in species and species[:1].islower():
            species = (
                f"{genus} {species}"  # Greengenes "s__prausnitzii" under "g__Faecalibacterium"
            )
        cleaned["species"] = species
        cleaned["genus"] = genus
    return Lineage.from_mapping(cleaned)


def lineage_from_string(text: str) -> Lineage:
    """Parse a taxonomy string such as ``k__Bacteria; p__Bacillota; …; s__`` or
    ``d__Bacteria;p__…`` (QIIME 2/SILVA), ``D_0__Bacteria;D_1__…`` (SILVA's QIIME release) or an
    unprefixed ``Bacteria;Bacillota;…`` (by position: superkingdom first, except that exactly six
    names, as in HITdb, start at phylum).

    Examples
    --------
    >>> lineage_from_string("D_0__Bacteria;D_1__Firmicutes;D_5__Blautia").genus
    'Blautia'
    >>> lineage_from_string("k__Bacteria; g__Faecalibacterium; s__prausnitzii").species
    'Faecalibacterium prausnitzii'
    """
    parts = [p.strip() for p in text.split(";")]
    while parts and not parts[-1]:
        parts.pop()
    split = [split_rank_prefix(part) for part in parts]
    prefixed = any(s is not None for s in split)
    # unprefixed: 7 names are superkingdom..species; 6 names (HITdb) are phylum..species
    offset = 1 if not prefixed and len(parts) == len(RANKS) - 1 else 0
    names: dict[str, str | None] = {}
    for position, (part, ranked) in enumerate(zip(parts, split, strict=True)):
        if ranked is not None:
            if ranked[0] is not None:
                names[ranked[0]] = ranked[1]
        elif not prefixed and position + offset < len(RANKS):
            names[RANKS[position + offset]] = part
    return complete_lineage(names)


def _detect_type(
    matrix: TaxonMatrix, sums: npt.NDArray[np.float64], nonzero: npt.NDArray[np.bool_]
) -> ValueType:
    values = matrix.values
    if values.size and np.all(values == np.round(values)):
        return "counts"
    live = sums[nonzero]
    if live.size == 0:
        return "counts"
    near_one = np.abs(live - 1.0) <= RELATIVE_TOLERANCE
    near_hundred = np.abs(live - 100.0) <= 100.0 * RELATIVE_TOLERANCE
    if np.all(near_one):
        return "fractions"
    if np.all(near_hundred):
        return "percent"
    if np.any(near_one) and np.any(near_hundred):
        one = matrix.samples[int(np.flatnonzero(nonzero)[np.flatnonzero(near_one)[0]])]
        hundred = matrix.samples[int(np.flatnonzero(nonzero)[np.flatnonzero(near_hundred)[0]])]
        message = (
            f"mixed percent and fraction columns: sample {one!r} sums to ~1 but sample "
            f"{hundred!r} sums to ~100; convert all samples to one scale"
        )
        raise InputFormatError(message, path=matrix.path, code=ErrorCode.TAB_MIXED)
    if np.all(live > 100.0 * (1 + RELATIVE_TOLERANCE)):
        return "quantities"
    bad = int(np.flatnonzero(nonzero)[np.flatnonzero(~near_one & ~near_hundred)[0]])
    message = (
        f"sample {matrix.samples[bad]!r}: non-integer values summing to {sums[bad]:.6g}; "
        f"relative abundances must sum to 1 or 100 (± {RELATIVE_TOLERANCE:g} relative) — "
        "give counts, or complete fractions with an unassigned row"
    )
    raise InputFormatError(message, path=matrix.path, code=ErrorCode.TAB_SUM)


def check_ids(ids: Sequence[str], *, what: str, path: Path, code: str) -> None:
    """Raise :class:`InputFormatError` on an empty ID or two IDs equal after NFC + trimming."""
    seen: dict[str, str] = {}
    for raw in ids:
        key = normalise_name(raw)
        if key == "":
            message = f"empty {what} ID; every {what} needs a name"
            raise InputFormatError(message, path=path, code=code)
        if key in seen:
            same = "" if seen[key] == raw else f" (equal to {seen[key]!r} after normalising)"
            message = f"duplicate {what} ID {raw!r}{same}; {what} IDs must be unique"
            raise InputFormatError(message, path=path, code=code)
        seen[key] = raw


def validate_values(matrix: TaxonMatrix) -> None:
    """Reject NaN, infinities and negative values, naming table, sample and taxon."""
    values = matrix.values
    bad = ~np.isfinite(values)
    code, what = ErrorCode.TAB_NONFINITE, "is not a finite number (NaN, inf or empty)"
    if not bad.any():
        bad = values < 0
        code, what = ErrorCode.TAB_NEG, "is negative; abundances and counts must be >= 0"
    if bad.any():
        i, j = (int(x) for x in np.argwhere(bad)[0])
        message = (
            f"sample {matrix.samples[j]!r}, taxon {matrix.taxa[i]!r}: value "
            f"{float(values[i, j])!r} {what} ({int(bad.sum())} such cell(s))"
        )
        raise InputFormatError(message, path=matrix.path, code=code)


def matrix_to_profiles(matrix: TaxonMatrix, *, value_type: ValueType = "auto") -> list[Profile]:
    """Validate ``matrix`` and return one profile per non-empty sample.

    For every rank at which at least one taxon has a name, the sample's values are summed per name
    at that rank; taxa without a name at that rank go to ``unassigned[rank]``. So each rank's rows
    plus unassigned sum to 1, and with counts the rows' reads plus unassigned reads equal the
    sample's total.

    Parameters
    ----------
    matrix
        The table read from a file.
    value_type
        What the numbers are (see the module docstring); ``auto`` decides from the data.

    Returns
    -------
    list of Profile
        One per sample, in column order; all-zero samples are left out with a
        :class:`~gutbrain.errors.LowDepthWarning` naming them.

    Raises
    ------
    EmptyInputError
        When the table has no taxa or no samples.
    InputFormatError
        On NaN/inf/negative values, duplicate IDs, non-integer counts, relative samples that do
        not sum to 1 or 100, or mixed percent/fraction samples.
    """
    path = matrix.path
    if not matrix.taxa or not matrix.samples:
        message = (
            f"no {'taxa' if not matrix.taxa else 'samples'} in the table; expected a header of "
            "sample IDs and one row per taxon"
        )
        raise EmptyInputError(message, path=path)
    check_ids(matrix.samples, what="sample", path=path, code=ErrorCode.TAB_DUPSAMPLE)
    check_ids(matrix.taxa, what="taxon", path=path, code=ErrorCode.TAB_DUPTAXON)
    validate_values(matrix)
    values = matrix.values
    with np.errstate(over="ignore"):
        sums = values.sum(axis=0)
    if not np.all(np.isfinite(sums)):
        j = int(np.flatnonzero(~np.isfinite(sums))[0])
        message = (
            f"sample {matrix.samples[j]!r}: its values add up beyond the floating-point range "
            f"(about {np.finfo(np.float64).max:.3g}); expected read counts or abundances"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_NONFINITE)
    nonzero = sums > 0
    kind = _detect_type(matrix, sums, nonzero) if value_type == "auto" else value_type
    if kind == "counts" and not np.all(values == np.round(values)):
        i, j = (int(x) for x in np.argwhere(values != np.round(values))[0])
        message = (
            f"sample {matrix.samples[j]!r}, taxon {matrix.taxa[i]!r}: {float(values[i, j])!r} "
            "is not a whole number; counts must be integers (declare fractions or quantities "
            "instead)"
        )
        raise InputFormatError(message, path=path, code=ErrorCode.TAB_NOTCOUNT)
    if kind in ("fractions", "percent"):
        target = 1.0 if kind == "fractions" else 100.0
        off = nonzero & (np.abs(sums - target) > target * RELATIVE_TOLERANCE)
        if off.any():
            j = int(np.flatnonzero(off)[0])
            message = (
                f"sample {matrix.samples[j]!r} sums to {sums[j]:.6g}, expected {target:g} "
                f"(± {RELATIVE_TOLERANCE:g} relative) for {kind}"
            )
            raise InputFormatError(message, path=path, code=ErrorCode.TAB_SUM)
    empty = [matrix.samples[j] for j in np.flatnonzero(~nonzero)]
    if empty:
        shown = ", ".join(repr(s) for s in empty[:10])
        message = (
            f"{path.name}: {len(empty)} sample(s) with no reads or abundance excluded: {shown}"
            f"{' …' if len(empty) > 10 else ''}"
        )
        warnings.warn(message, LowDepthWarning, stacklevel=3)
    provenance = Provenance(
        gutbrain_version=__version__,
        source=f"import:{matrix.format}",
        inputs=dict(matrix.inputs),
        parameters={"value_type": kind},
    )
    # group taxa by name at each rank, once for all samples
    ranks = [r for r in RANKS if any(lin.at(r) for lin in matrix.lineages)]
    groups: dict[Rank, tuple[list[str], list[Lineage], npt.NDArray[np.intp]]] = {}
    members_of: dict[Lineage, tuple[str, ...]] = {}  # species group rows (species rank)
    for i, taxon_members in enumerate(matrix.members):
        if taxon_members and matrix.lineages[i].species is not None:
            members_of.setdefault(matrix.lineages[i].truncated("species"), taxon_members)
    for rank in ranks:
        names: dict[str, int] = {}
        lineages: list[Lineage] = []
        index = np.full(len(matrix.taxa), -1, dtype=np.intp)
        for i, lin in enumerate(matrix.lineages):
            name = lin.at(rank)
            if name is None:
                continue
            if name not in names:
                names[name] = len(names)
                lineages.append(lin.truncated(rank))
            index[i] = names[name]
        groups[rank] = (list(names), lineages, index)
    counts = kind == "counts"
    profiles: list[Profile] = []
    for j, sample in enumerate(matrix.samples):
        if not nonzero[j]:
            continue
        column = values[:, j]
        total = float(sums[j])
        rows: list[TaxonRow] = []
        unassigned: dict[Rank, float] = {}
        for rank in ranks:
            _names, lineages, index = groups[rank]
            assigned = index >= 0
            per = np.bincount(index[assigned], weights=column[assigned], minlength=len(lineages))
            for k in np.flatnonzero(per > 0):
                rows.append(
                    TaxonRow(
                        rank=rank,
                        lineage=lineages[int(k)],
                        abundance=float(per[k] / total),
                        reads=float(per[k]) if counts else None,
                        members=members_of.get(lineages[int(k)], ()) if rank == "species" else (),
                    )
                )
            unassigned[rank] = float(max(total - per.sum(), 0.0) / total)
        profiles.append(
            Profile(
                sample_id=SampleId(normalise_name(sample)),
                rows=tuple(rows),
                unassigned=unassigned,
                provenance=provenance,
                total_reads=round(total) if counts else None,
            )
        )
    logger.info(
        "%s: %d samples, %d taxa, values read as %s, ranks %s",
        path.name,
        len(profiles),
        len(matrix.taxa),
        kind,
        ", ".join(ranks) or "none",
    )
    return profiles
