"""From references to taxa: the EM's taxon units, rank collapse and the genus fallback.

The EM runs over *taxon units*: one per (genus, species) name pair in the reference (several
16S copies of a species are one unit; a read keeps its best alignment per unit). References
without a species name form units of their own (one per distinct lineage) that only count at
genus and above. Genus rows are keyed by the genus *name*: when a reference places one genus
under two families (HITdb does, e.g. *Blautia*), the genus gets one row with the lineage most of
its references carry.

**Genus fallback.** After the EM a read's posterior ``P(s|r)`` may be split between species.
A read is *species-resolved* when its largest species posterior reaches ``species_confidence``;
otherwise it does not count at species rank, and when its posterior summed per genus reaches
``species_confidence`` for one genus it is a *genus fallback* read (it counts at genus). Species
reads are ``Σ_r w_r P(s|r)`` over species-resolved reads; genus reads are
``Σ_r w_r Σ_{s ∈ g} P(s|r)`` over every explained read.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage

__all__ = ["ReadResolution", "TaxonIndex", "resolve_reads"]

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TaxonIndex:
    """Taxon units of a reference and the maps to them.

    ``units[j]`` is unit ``j``'s lineage (cut at species); ``ref_unit[i]`` maps aligner
    reference ``i`` to its unit; ``genera[g]`` is genus ``g``'s lineage (cut at genus) and
    ``unit_genus[j]`` maps unit ``j`` to its genus (``-1`` when the genus is unknown).
    """

    units: tuple[Lineage, ...]
    ref_unit: IntArray
    genera: tuple[Lineage, ...]
    unit_genus: IntArray

    @property
    def n_units(self) -> int:
        """Number of taxon units (EM columns)."""
        return len(self.units)

    @classmethod
    def from_references(
        cls, reference_names: Sequence[str], taxonomy: Mapping[str, Lineage]
    ) -> TaxonIndex:
        """Build the units of the references named (in aligner order) from their lineages.

        Raises
        ------
        ReferenceDatabaseError
            When a reference in the index has no taxonomy row (index and bundle disagree).
        """
        keys: list[tuple[object, ...]] = []
        unit_lineages: dict[tuple[object, ...], collections.Counter[Lineage]] = {}
        genus_lineages: dict[str, collections.Counter[Lineage]] = {}
        for name in reference_names:
            lineage = taxonomy.get(name)
            if lineage is None:
                message = (
                    f"reference {name!r} is in the minimap2 index but not in the bundle's "
                    "taxonomy; rebuild the index (gutbrain db index) or the bundle"
                )
                raise ReferenceDatabaseError(message, code="GB-REF-INDEX")
            key: tuple[object, ...] = (
                ("species", lineage.genus, lineage.species)
                if lineage.species is not None
                else ("lineage", lineage)
            )
            keys.append(key)
            unit_lineages.setdefault(key, collections.Counter())[lineage] += 1
            if lineage.genus is not None:
                genus_lineages.setdefault(lineage.genus, collections.Counter())[
                    replace(lineage, species=None)
                ] += 1
        unit_index = {key: j for j, key in enumerate(unit_lineages)}
        ref_unit = np.asarray([unit_index[key] for key in keys], dtype=np.int64)
        units = tuple(_majority(counter) for counter in unit_lineages.values())
        genus_of: dict[str, int] = {}
        unit_genus = np.full(len(units), -1, dtype=np.int64)
        for j, unit in enumerate(units):
            if unit.genus is not None:
                unit_genus[j] = genus_of.setdefault(unit.genus, len(genus_of))
        genera = tuple(_majority(genus_lineages[g]) for g in genus_of)
        return cls(units, ref_unit, genera, unit_genus)

    def genus_sums(self, values: FloatArray) -> FloatArray:
        """Sum per-unit ``values`` (last axis) into genera; units without genus are left out."""
        known = self.unit_genus >= 0
        out = np.zeros((*values.shape[:-1], len(self.genera)))
        np.add.at(out.T, self.unit_genus[known], np.moveaxis(values, -1, 0)[known])
        return out


def _majority(counter: collections.Counter[Lineage]) -> Lineage:
    """The lineage most references carry (ties broken by text, so the choice is stable)."""
    return min(counter.items(), key=lambda item: (-item[1], repr(item[0])))[0]


@dataclass(frozen=True, slots=True)
class ReadResolution:
    """Per-read outcome of the EM at species and genus rank (rows = reads of the matrix)."""

    species_reads: FloatArray  # per unit, over species-resolved reads (0 for unnamed species)
    genus_reads: FloatArray  # per genus, over all explained reads
    species_resolved: npt.NDArray[np.bool_]
    genus_resolved: npt.NDArray[np.bool_]
    best_unit: IntArray  # per read, unit with the largest posterior (-1 when none)
    best_genus: IntArray  # per read, genus with the largest posterior (-1 when none)


def resolve_reads(
    posterior: sp.csr_matrix,
    weights: FloatArray,
    index: TaxonIndex,
    *,
    species_confidence: float = 0.5,
) -> ReadResolution:
    """Apply the genus fallback to the final posteriors (see the module docstring)."""
    n_reads = posterior.shape[0]
    counts = np.diff(posterior.indptr)
    row = np.repeat(np.arange(n_reads, dtype=np.int64), counts)
    data = posterior.data
    cols = posterior.indices.astype(np.int64)
    named = np.array([u.species is not None for u in index.units], dtype=bool)
    # best species per read
    species_data = np.where(named[cols], data, 0.0)
    best_sp = np.zeros(n_reads)
    np.maximum.at(best_sp, row, species_data)
    best_unit = np.full(n_reads, -1, dtype=np.int64)
    is_best = (species_data == best_sp[row]) & (species_data > 0)
    best_unit[row[is_best]] = cols[is_best]
    # genus posteriors per read (entries with a known genus)
    g = index.unit_genus[cols]
    known = g >= 0
    n_genera = len(index.genera)
    key = row[known] * max(n_genera, 1) + g[known]
    uniq, inverse = np.unique(key, return_inverse=True)
    genus_post = np.bincount(inverse, weights=data[known]) if uniq.size else np.zeros(0)
    genus_row = uniq // max(n_genera, 1)
    genus_col = uniq % max(n_genera, 1)
    best_g = np.zeros(n_reads)
    np.maximum.at(best_g, genus_row, genus_post)
    best_genus = np.full(n_reads, -1, dtype=np.int64)
    top = (genus_post == best_g[genus_row]) & (genus_post > 0)
    best_genus[genus_row[top]] = genus_col[top]

    species_resolved = best_sp >= species_confidence
    genus_resolved = best_g >= species_confidence
    w = weights
    keep = species_resolved[row] & named[cols]
    species_reads = np.bincount(
        cols[keep], weights=data[keep] * w[row[keep]], minlength=index.n_units
    ).astype(np.float64)
    genus_reads = np.bincount(
        genus_col, weights=genus_post * w[genus_row], minlength=n_genera
    ).astype(np.float64)
    return ReadResolution(
        species_reads=species_reads,
        genus_reads=genus_reads,
        species_resolved=species_resolved,
        genus_resolved=genus_resolved,
        best_unit=best_unit,
        best_genus=best_genus,
    )
