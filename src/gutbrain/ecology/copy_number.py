"""16S rRNA copy-number correction: from read fractions to cell fractions.

A genome with *c* copies of the 16S gene yields about *c* times as many 16S reads per cell, so
cell fractions are :math:`a'_i = (a_i / c_i) / \\sum_j (a_j / c_j)` (Kembel et al. 2012; copy
numbers from rrnDB, Stoddard et al. 2015). The sum runs over the rank's taxa *and* the unassigned
share, which is divided by the default copy number.

Which copy number a taxon gets (in this order):

1. its own name at the rank, in ``copy_numbers``;
2. for ranks below genus, its genus name;
3. otherwise ``default`` — by default the median of all values in ``copy_numbers``.

The profile's ``copy_number_corrected`` becomes ``True`` and its provenance records how many taxa
used each rule. ``reads`` stay the estimated reads (they are read counts, not cells).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Mapping
from dataclasses import replace

from gutbrain.errors import InputFormatError
from gutbrain.model import RANKS, Lineage, Profile, Rank, TaxonRow

__all__ = ["copy_number_correct", "copy_numbers_by_taxon"]

logger = logging.getLogger(__name__)


def copy_number_correct(
    profile: Profile,
    copy_numbers: Mapping[str, float],
    *,
    rank: Rank = "species",
    default: float | None = None,
) -> Profile:
    """Return ``profile`` with abundances at ``rank`` corrected for 16S copy number.

    Parameters
    ----------
    profile
        A profile not yet corrected.
    copy_numbers
        ``{taxon name: mean 16S copies}`` at species and/or genus level (e.g. from
        :func:`gutbrain.reference.copy_numbers.rrndb_copy_numbers_by_name` or a reference bundle).
    rank
        Rank to correct; the output keeps only that rank's rows (other ranks would need their own
        correction and are dropped rather than left inconsistent).
    default
        Copy number for taxa found neither by name nor genus; default: median of ``copy_numbers``.

    Raises
    ------
    InputFormatError
        When the profile is already corrected, has no rows at ``rank``, or a copy number is not
        positive.
    """
    if profile.copy_number_corrected:
        message = f"sample {profile.sample_id!r} is already copy-number corrected"
        raise InputFormatError(message)
    if not copy_numbers:
        message = "no copy numbers given"
        raise InputFormatError(message)
    bad = [k for k, v in copy_numbers.items() if not v > 0]
    if bad:
        message = f"copy number of {bad[0]!r} is not positive"
        raise InputFormatError(message)
    rows = profile.at_rank(rank)
    if not rows:
        message = f"sample {profile.sample_id!r} has no rows at rank {rank}"
        raise InputFormatError(message)
    fallback = float(default) if default is not None else statistics.median(copy_numbers.values())
    used = {"name": 0, "genus": 0, "default": 0}
    weights: list[float] = []
    for row in rows:
        genus = row.lineage.genus
        if row.taxon in copy_numbers:
            copies = copy_numbers[row.taxon]
            used["name"] += 1
        elif RANKS.index(rank) > RANKS.index("genus") and genus and genus in copy_numbers:
            copies = copy_numbers[genus]
            used["genus"] += 1
        else:
            copies = fallback
            used["default"] += 1
        weights.append(row.abundance / copies)
    rest = float(profile.unassigned.get(rank, 0.0)) / fallback
    total = sum(weights) + rest
    new_rows = tuple(
        TaxonRow(
            rank=row.rank,
            lineage=row.lineage,
            abundance=w / total,
            reads=row.reads,
            taxid=row.taxid,
        )
        for row, w in zip(rows, weights, strict=True)
    )
    logger.info(
        "sample %s: copy numbers by name %d, by genus %d, default (%.3g) %d",
        profile.sample_id,
        used["name"],
        used["genus"],
        fallback,
        used["default"],
    )
    parameters = {
        **profile.provenance.parameters,
        "copy_number_correction": {"rank": rank, "default": fallback, **used},
    }
    return replace(
        profile,
        rows=new_rows,
        unassigned={rank: rest / total},
        copy_number_corrected=True,
        provenance=replace(profile.provenance, parameters=parameters),
    )


def copy_numbers_by_taxon(
    lineages: Mapping[str, Lineage], copy_numbers: Mapping[str, float]
) -> dict[str, float]:
    """Per-taxon copy numbers from a reference bundle's per-reference ones.

    ``lineages`` and ``copy_numbers`` are keyed by reference ID (as
    ``gutbrain.reference.bundle.ReferenceBundle.taxonomy`` and ``.copy_numbers``). A species gets
    the mean over its references, a genus the mean over its species' values (references without a
    species count once each).
    """
    per_species: dict[str, list[float]] = {}
    genus_of: dict[str, str] = {}
    per_genus: dict[str, list[float]] = {}
    for ref_id, copies in copy_numbers.items():
        lineage = lineages.get(ref_id)
        if lineage is None or not copies > 0:
            continue
        if lineage.species:
            per_species.setdefault(lineage.species, []).append(float(copies))
            if lineage.genus:
                genus_of[lineage.species] = lineage.genus
        elif lineage.genus:
            per_genus.setdefault(lineage.genus, []).append(float(copies))
    out = {name: statistics.fmean(v) for name, v in per_species.items()}
    for species, value in list(out.items()):
        if species in genus_of:
            per_genus.setdefault(genus_of[species], []).append(value)
    for genus, values in per_genus.items():
        out.setdefault(genus, statistics.fmean(values))
    return out
