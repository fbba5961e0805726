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

**Species groups.** When the reference has species groups (species 16S cannot separate,
:mod:`gutbrain.reference.groups`), a group whose reads do not separate its members
(:func:`merge_contested_groups`) becomes one species-rank unit named after the group, and the
species fallback above runs on the merged posteriors: a read split between members counts for
the group. Genus rows use the unmerged posteriors.
"""

from __future__ import annotations

import collections
import logging
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray
from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.profile.chunks import row_chunks
from gutbrain.profile.pair_spool import SpooledRows

__all__ = [
    "GroupMerge",
    "ReadResolution",
    "TaxonIndex",
    "candidate_chunks",
    "merge_contested_groups",
    "resolve_reads",
]

logger = logging.getLogger(__name__)


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
        # issue 11: set-up CPU. Work once per distinct lineage (first-seen order, so units keep
        # the order of their first reference), count above-species ranks by a tuple key and
        # build each genus lineage once (dataclasses.replace per reference cost ~30 us).
        lineage_of: dict[Lineage, int] = {}
        ref_lineage = np.empty(len(reference_names), dtype=np.int64)
        for i, name in enumerate(reference_names):
            lineage = taxonomy.get(name)
            if lineage is None:
                message = (
                    f"reference {name!r} is in the minimap2 index but not in the bundle's "
                    "taxonomy; rebuild the index (gutbrain db index) or the bundle"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
            ref_lineage[i] = lineage_of.setdefault(lineage, len(lineage_of))
        counts = np.bincount(ref_lineage, minlength=len(lineage_of)).tolist()
        keys: list[tuple[object, ...]] = []
        unit_lineages: dict[tuple[object, ...], dict[Lineage, int]] = {}
        genus_counts: dict[str, dict[tuple[str | None, ...], int]] = {}
        above: dict[tuple[str | None, ...], Lineage] = {}  # above-species ranks -> lineage
        for lineage, count in zip(lineage_of, counts, strict=True):
            key: tuple[object, ...] = (
                ("species", lineage.genus, lineage.species)
                if lineage.species is not None
                else ("lineage", lineage)
            )
            keys.append(key)
            members = unit_lineages.setdefault(key, {})
            members[lineage] = members.get(lineage, 0) + count
            if lineage.genus is not None:
                ranks = _above_species(lineage)
                if ranks not in above:
                    above[ranks] = replace(lineage, species=None)
                by_ranks = genus_counts.setdefault(lineage.genus, {})
                by_ranks[ranks] = by_ranks.get(ranks, 0) + count
        unit_index = {key: j for j, key in enumerate(unit_lineages)}
        lineage_unit = np.asarray([unit_index[key] for key in keys], dtype=np.int64)
        ref_unit = lineage_unit[ref_lineage]
        units = tuple(_majority(members) for members in unit_lineages.values())
        genus_of: dict[str, int] = {}
        unit_genus = np.full(len(units), -1, dtype=np.int64)
        for j, unit in enumerate(units):
            if unit.genus is not None:
                unit_genus[j] = genus_of.setdefault(unit.genus, len(genus_of))
        genera = tuple(
            _majority({above[ranks]: n for ranks, n in genus_counts[g].items()}) for g in genus_of
        )
        return cls(units, ref_unit, genera, unit_genus)

    def genus_sums(self, values: FloatArray) -> FloatArray:
        """Sum per-unit ``values`` (last axis) into genera; units without genus are left out."""
        known = self.unit_genus >= 0
        out = np.zeros((*values.shape[:-1], len(self.genera)))
        np.add.at(out.T, self.unit_genus[known], np.moveaxis(values, -1, 0)[known])
        return out


#: A lineage's names above species, as a tuple (a hashable key; follows Lineage's fields).
_above_species = operator.attrgetter(*(f.name for f in fields(Lineage) if f.name != "species"))


def _majority(counts: Mapping[Lineage, int]) -> Lineage:
    """The lineage most references carry (ties broken by text, so the choice is stable)."""
    if len(counts) == 1:  # the common case: no need to compare texts
        return next(iter(counts))
    return min(counts.items(), key=lambda item: (-item[1], repr(item[0])))[0]


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
    merged_by: GroupMerge | None = None,
) -> ReadResolution:
    """Apply the genus fallback to the final posteriors (see the module docstring).

    Rows are taken in chunks (issue 11, memflat: :mod:`gutbrain.profile.chunks`): the same
    result, bit for bit, with temporaries of one chunk's size. With ``merged_by`` the
    posteriors' columns are first merged (:meth:`GroupMerge.merge_posterior`; ``index`` is
    then ``merged_by.index``), a chunk at a time: the result of resolving the merged matrix.
    """
    n_reads = posterior.shape[0]
    named = np.array([u.species is not None for u in index.units], dtype=bool)
    n_genera = len(index.genera)
    best_unit = np.full(n_reads, -1, dtype=np.int64)
    best_genus = np.full(n_reads, -1, dtype=np.int64)
    species_resolved = np.zeros(n_reads, dtype=bool)
    genus_resolved = np.zeros(n_reads, dtype=bool)
    species_reads = np.zeros(index.n_units)
    genus_reads = np.zeros(n_genera)
    for start, stop in row_chunks(posterior.indptr):
        chunk = posterior[start:stop]
        if merged_by is not None:  # issue 11: no merged copy of every posterior
            chunk = merged_by.merge_posterior(chunk)
        # issue 11: the best posteriors are only compared with the confidence, so they are
        # held a chunk of rows at a time (16 bytes per read fewer)
        best_sp, best_g = np.zeros(stop - start), np.zeros(stop - start)
        _resolve_chunk(
            chunk,
            weights[start:stop],
            index,
            named,
            (best_sp, best_unit[start:stop], best_g, best_genus[start:stop]),
            species_confidence,
            (species_reads, genus_reads),
        )
        species_resolved[start:stop] = best_sp >= species_confidence
        genus_resolved[start:stop] = best_g >= species_confidence
    return ReadResolution(
        species_reads=species_reads,
        genus_reads=genus_reads,
        species_resolved=species_resolved,
        genus_resolved=genus_resolved,
        best_unit=best_unit,
        best_genus=best_genus,
    )


def _resolve_chunk(
    posterior: sp.csr_matrix,
    weights: FloatArray,
    index: TaxonIndex,
    named: npt.NDArray[np.bool_],
    best: tuple[FloatArray, IntArray, FloatArray, IntArray],
    species_confidence: float,
    totals: tuple[FloatArray, FloatArray],
) -> None:
    """:func:`resolve_reads` on a chunk of rows (``posterior`` and ``weights`` hold just
    them): fills ``best`` (the rows' best species posterior and unit, best genus posterior and
    genus) and adds to ``totals`` (species and genus reads) in row order."""
    best_sp, best_unit, best_g, best_genus = best
    species_reads, genus_reads = totals
    n_reads = posterior.shape[0]
    row = np.repeat(np.arange(n_reads, dtype=np.int64), np.diff(posterior.indptr))
    data = posterior.data
    cols = posterior.indices.astype(np.int64)
    # best species per read
    species_data = np.where(named[cols], data, 0.0)
    np.maximum.at(best_sp, row, species_data)
    is_best = (species_data == best_sp[row]) & (species_data > 0)
    best_unit[row[is_best]] = cols[is_best]
    del species_data, is_best
    # genus posteriors per read (entries with a known genus)
    g = index.unit_genus[cols]
    known = g >= 0
    n_genera = len(index.genera)
    key = row[known] * max(n_genera, 1) + g[known]
    uniq, inverse = np.unique(key, return_inverse=True)
    genus_post = np.bincount(inverse, weights=data[known]) if uniq.size else np.zeros(0)
    del key, inverse, g
    genus_row = uniq // max(n_genera, 1)
    genus_col = uniq % max(n_genera, 1)
    np.maximum.at(best_g, genus_row, genus_post)
    top = (genus_post == best_g[genus_row]) & (genus_post > 0)
    best_genus[genus_row[top]] = genus_col[top]
    keep = (best_sp >= species_confidence)[row] & named[cols]
    # running totals in row order: the same sums as one bincount over every row
    np.add.at(species_reads, cols[keep], data[keep] * weights[row[keep]])
    np.add.at(genus_reads, genus_col, genus_post * weights[genus_row])


@dataclass(frozen=True, slots=True)
class GroupMerge:
    """Species groups merged into one EM-output column each (see :func:`merge_contested_groups`).

    ``index`` has the original units followed by one unit per merged group (its lineage's
    ``species`` is the group's name); ``column[j]`` maps original unit ``j`` to its unit in
    ``index`` (itself, or its merged group's); ``members[k]`` lists the member species of unit
    ``k`` of ``index`` (empty for a single species); ``adhoc`` lists the units of ``index``
    made from this sample's contested congeners (:mod:`gutbrain.profile.contest`): named ad-hoc
    groups, and genus-rank units (no species name) for contests larger than a group.
    """

    index: TaxonIndex
    column: IntArray
    members: Mapping[int, tuple[str, ...]]
    adhoc: tuple[int, ...] = ()

    @property
    def merged(self) -> int:
        """Number of merged groups (reference and ad-hoc) and genus-rank contests."""
        return len(self.members) + sum(1 for k in self.adhoc if k not in self.members)

    @classmethod
    def identity(cls, index: TaxonIndex) -> GroupMerge:
        """No unit merged."""
        return cls(index, np.arange(index.n_units, dtype=np.int64), {})

    def merge_values(self, values: FloatArray) -> FloatArray:
        """Sum per-unit ``values`` (last axis) into the merged units."""
        out = np.zeros((*values.shape[:-1], self.index.n_units))
        np.add.at(out.T, self.column, np.moveaxis(values, -1, 0))
        return out

    def merge_posterior(self, posterior: sp.csr_matrix) -> sp.csr_matrix:
        """Sum posterior columns of merged members into their group's column."""
        coo = posterior.tocoo()
        merged = sp.csr_matrix(
            (coo.data, (coo.row, self.column[coo.col])),
            shape=(posterior.shape[0], self.index.n_units),
        )
        merged.sum_duplicates()
        return merged


def _best_per_unit(
    rows: IntArray, units: IntArray, identity: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """One entry per ``(row, unit)``: the largest identity of the row's references of that unit.

    Examples
    --------
    >>> rows, units, ident = _best_per_unit(
    ...     np.array([0, 0, 0, 1]), np.array([3, 3, 5, 3]), np.array([0.97, 0.99, 0.9, 0.8])
    ... )
    >>> rows.tolist(), units.tolist(), ident.tolist()
    ([0, 0, 1], [3, 5, 3], [0.99, 0.9, 0.8])
    """
    order = np.lexsort((-identity, units, rows))
    rows, units, identity = rows[order], units[order], identity[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (units[1:] != units[:-1])
    return rows[first], units[first], identity[first]


def merge_contested_groups(
    index: TaxonIndex,
    groups: Sequence[tuple[str, Lineage, tuple[str, ...]]],
    *,
    candidates: Iterable[tuple[IntArray, IntArray, FloatArray]],
    weights: FloatArray,
    best_unit: IntArray,
    min_identity_margin: float = 0.005,
    min_contested_share: float = 0.5,
) -> GroupMerge:
    """Merge every species group whose reads do not separate its members.

    A read whose best species is a member of a group is *contested* when some other member
    aligns to it within ``min_identity_margin`` (identity, 0–1) of its best member. A member is
    one species however many references it has: its identity is that of its best reference, so
    two 16S copies of one species never contest each other. A group is
    merged, i.e. reported as one row named after the group, when contested reads carry at
    least ``min_contested_share`` (0–1) of the weight of the reads whose best species is one of
    its members. The margin is in identity, not likelihood, so it does not grow with read
    accuracy: HiFi reads from a strain halfway between two type strains stay contested.

    Parameters
    ----------
    index
        The taxon units.
    groups
        ``(name, lineage, members)`` per species group of the reference.
    candidates
        Chunks of ``(rows, units, identity)``, one entry per alignment of a read to a unit:
        the EM row, the unit and the identity (the best per row and unit counts). A row's
        entries are all in one chunk, and chunks come in increasing row order (issue 11: the
        caller gives them a row range at a time, e.g. :func:`candidate_chunks`; the result is
        that of one chunk of every entry, bit for bit).
    weights
        Per EM row multiplicity.
    best_unit
        Per EM row, the unit with the largest posterior (``-1`` for none).
    """
    n_units = index.n_units
    unit_group = np.full(n_units, -1, dtype=np.int64)
    species_unit: dict[str, list[int]] = collections.defaultdict(list)
    for j, unit in enumerate(index.units):
        if unit.species is not None:
            species_unit[unit.species].append(j)
    for g, (_, _, members) in enumerate(groups):
        for member in members:
            for j in species_unit.get(member, []):
                unit_group[j] = g
    n_rows = int(weights.size)
    contested_weight = np.zeros(len(groups))
    group_weight = np.zeros(len(groups))
    valid = best_unit >= 0
    best_group = np.full(n_rows, -1, dtype=np.int64)
    best_group[valid] = unit_group[best_unit[valid]]
    np.add.at(group_weight, best_group[best_group >= 0], weights[best_group >= 0])
    for chunk in candidates:
        _add_contested(
            contested_weight,
            chunk,
            unit_group=unit_group,
            best_group=best_group,
            weights=weights,
            min_identity_margin=min_identity_margin,
        )
    share = np.divide(
        contested_weight, group_weight, out=np.zeros_like(group_weight), where=group_weight > 0
    )
    merge = [
        g for g in range(len(groups)) if group_weight[g] > 0 and share[g] >= min_contested_share
    ]
    column = np.arange(n_units, dtype=np.int64)
    new_units = list(index.units)
    new_genus = list(index.unit_genus.tolist())
    genus_of = {lineage.genus: k for k, lineage in enumerate(index.genera)}
    members_of: dict[int, tuple[str, ...]] = {}
    for g in merge:
        name, lineage, members = groups[g]
        k = len(new_units)
        new_units.append(replace(lineage, species=name))
        new_genus.append(genus_of.get(lineage.genus, -1))
        column[unit_group == g] = k
        members_of[k] = members
    merged_index = TaxonIndex(
        tuple(new_units),
        index.ref_unit,
        index.genera,
        np.asarray(new_genus, dtype=np.int64),
    )
    if merge:
        logger.debug("species groups merged: %s", ", ".join(groups[g][0] for g in merge))
    return GroupMerge(merged_index, column, members_of)


def _add_contested(
    contested_weight: FloatArray,
    chunk: tuple[IntArray, IntArray, FloatArray],
    *,
    unit_group: IntArray,
    best_group: IntArray,
    weights: FloatArray,
    min_identity_margin: float,
) -> None:
    """Add to ``contested_weight`` (per group) the weight of the contested reads of one chunk
    of candidates (whole rows; the additions in row order, as over all rows at once)."""
    read_rows, read_units, identity = chunk
    # best and second-best member identity per (row, group), over candidates in groups
    in_group = unit_group[read_units] >= 0
    rows, units, ident = _best_per_unit(
        read_rows[in_group], read_units[in_group], identity[in_group]
    )
    del in_group
    if not rows.size:
        return
    g_of = unit_group[units]
    key = rows * max(contested_weight.size, 1) + g_of
    order = np.lexsort((-ident, key))
    key, rows, ident, g_of = key[order], rows[order], ident[order], g_of[order]
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    has_second = np.zeros(key.size, dtype=bool)
    has_second[:-1] = first[:-1] & ~first[1:]
    second_ident = np.full(key.size, -np.inf)
    second_ident[:-1] = ident[1:]
    contested = has_second & (ident - second_ident < min_identity_margin)
    # only rows whose best species is in this group count
    counts = contested & (best_group[rows] == g_of)
    np.add.at(contested_weight, g_of[counts], weights[rows[counts]])


def candidate_chunks(
    identity: sp.csr_matrix | SpooledRows,
) -> Iterator[tuple[IntArray, IntArray, FloatArray]]:
    """:func:`merge_contested_groups`' candidates from a matrix of rows × units holding the
    best identity per pair (in memory or with its values on disk), a row range at a time
    (:func:`gutbrain.profile.chunks.row_chunks`).

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[0.99, 0.0], [0.97, 0.98]]))
    >>> [(r.tolist(), u.tolist(), i.tolist()) for r, u, i in candidate_chunks(m)]
    [([0, 1, 1], [0, 0, 1], [0.99, 0.97, 0.98])]
    """
    for start, stop in row_chunks(identity.indptr):
        chunk = identity[start:stop]
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(chunk.indptr))
        yield rows, chunk.indices, chunk.data
