"""Ad-hoc species groups: sister species that this sample's reads do not separate.

Reference species groups (:mod:`gutbrain.profile.groups`) join species whose reference copies
are ≥ 99 % identical. A sample's strain can also sit *between* two congeners whose references
are further apart (*Neisseria meningitidis* reads whose strain is ~1.3 % from both the
*N. meningitidis* and the *N. gonorrhoeae* type records), and a species group may have been cut
at the group size cap. The EM then names one of them with confidence, although no read tells
them apart. This module finds such contests in the sample itself, after the reference groups
are merged:

* A read *separates* its best species ``s`` (largest posterior) from a congener ``t`` (another
  named unit of the same genus among the read's candidates) when its log-likelihood ratio
  ``log L(r|s) − log L(r|t)`` under the sample's error model (over the aligned part of each
  alignment, :func:`contest_log_likelihood`) exceeds ``max_errors`` (2) errors
  of the cheapest type, ``δ = max_errors · (−log max_e p_e)``. One read error where ``s`` and
  ``t`` differ, aligned as a mismatch plus a gap, is worth up to two error events; a margin that
  one read error can make is no evidence. The threshold comes from the error model the sample's
  own alignments give (:mod:`gutbrain.profile.likelihood`), never from a truth set.
* When the reads that do *not* separate ``s`` from ``t`` carry at least ``min_share`` (half) of
  the weight of the reads whose best species is ``s``, ``s`` and ``t`` are linked; linked
  species (or reference groups) form connected components.
* A component of at most ``max_group_size`` member species becomes one species-rank unit named
  like a reference group (after its earliest-described member, the smallest NCBI tax id) with
  its ``members``; a larger one is reported at genus rank only (its unit has no species name,
  so its reads count at genus, as for any read split within a genus).

Reads whose strain is in the reference match it better than a congener by the congener's
divergence (≥ 0.3 % of a full-length read is ≥ 4 errors), so they separate and keep their
species.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from gutbrain._typing import FloatArray, IntArray
from gutbrain.model import Lineage
from gutbrain.profile.align import HitTable
from gutbrain.profile.chunks import row_chunks
from gutbrain.profile.likelihood import ErrorModel
from gutbrain.profile.pair_spool import SpooledRows
from gutbrain.profile.taxonomy import GroupMerge, TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.groups import group_name

__all__ = [
    "ContestSettings",
    "contest_log_likelihood",
    "contest_threshold",
    "join_contested_species",
    "species_taxids",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ContestSettings:
    """Rule for ad-hoc groups (see the module docstring).

    ``max_errors``: a read separates two congeners only when it matches one better by more
    than this many error events (converted to a log-likelihood with the error model);
    ``min_share`` (0–1): share of a species' read weight that must be contested for it to be
    joined with the congener; ``max_group_size``: larger contests are reported at genus rank.
    """

    max_errors: float = 2.0
    min_share: float = 0.5
    max_group_size: int = 12

    def as_dict(self) -> dict[str, float | int]:
        """Plain dictionary for provenance."""
        return {
            "max_errors": self.max_errors,
            "min_share": self.min_share,
            "max_group_size": self.max_group_size,
        }


def species_taxids(bundle: ReferenceBundle) -> dict[str, str]:
    """Species name -> NCBI tax id (the first reference's) for naming ad-hoc groups."""
    out: dict[str, str] = {}
    for ref_id, lineage in bundle.taxonomy.items():
        taxid = bundle.taxids.get(ref_id)
        if lineage.species is not None and taxid is not None:
            out.setdefault(lineage.species, taxid)
    return out


def contest_log_likelihood(hits: HitTable, model: ErrorModel, *, n_reads: int) -> FloatArray:
    """Per hit, the error model's log-likelihood of the *aligned part*, for comparing congeners.

    ``(Σ_{e ∈ X, I, D} n_e log p_e) · λ_max(r) / (M + I + D)``: soft clips are left out and the
    errors are scaled from the aligned columns to the read's longest alignment. Two references
    of unequal length (RefSeq's "partial sequence" records) clip a full-length read
    differently; that is a fact about the records, not evidence about the read's species.
    """
    if len(hits) == 0:
        return np.zeros(0)
    score = (
        hits.mismatches * model.log_mismatch
        + hits.insertions * model.log_insertion
        + hits.deletions * model.log_deletion
    )
    columns = (hits.aligned_columns + hits.insertions + hits.deletions).astype(np.float64)
    longest = np.zeros(n_reads)
    np.maximum.at(longest, hits.read, columns)
    result: FloatArray = score * longest[hits.read] / np.maximum(columns, 1.0)
    return result


def contest_threshold(model: ErrorModel, max_errors: float) -> float:
    """Log-likelihood margin of ``max_errors`` errors of the error model's cheapest type.

    Examples
    --------
    >>> import math
    >>> m = ErrorModel(math.log(0.5), math.log(0.25), math.log(0.125), math.log(0.125))
    >>> round(contest_threshold(m, 2.0), 4) == round(2 * math.log(2), 4)
    True
    """
    cheapest = max(model.log_mismatch, model.log_insertion, model.log_deletion, model.log_soft_clip)
    return max_errors * -cheapest


def join_contested_species(
    merge: GroupMerge,
    log_likelihood: sp.csr_matrix | SpooledRows,
    weights: FloatArray,
    best_unit: IntArray,
    *,
    threshold: float,
    taxids: Mapping[str, str],
    settings: ContestSettings,
) -> GroupMerge:
    """Join congeners the reads do not separate into ad-hoc groups (see the module docstring).

    Parameters
    ----------
    merge
        The reference groups already merged (or the identity merge); its units are the nodes.
    log_likelihood
        Reads × original units, ``log L(r|u)`` of the read's best alignment to each candidate
        (in memory or with its values on disk, read a row range at a time).
    weights
        Per row multiplicity.
    best_unit
        Per row, the unit of ``merge.index`` with the largest posterior (``-1`` for none).
    threshold
        Log-likelihood margin at or below which a read does not separate two units
        (:func:`contest_threshold`).
    taxids
        Species name -> NCBI tax id (names a group after its earliest-described member).
    settings
        The rule's parameters.

    Returns
    -------
    GroupMerge
        ``merge`` with ad-hoc units appended: ``adhoc`` lists them (named groups and genus-rank
        contests, the latter without a species name).
    """
    index = merge.index
    n_units = index.n_units
    named = np.array([unit.species is not None for unit in index.units], dtype=bool)
    has_best = best_unit >= 0
    weight_of = np.bincount(best_unit[has_best], weights=weights[has_best], minlength=n_units)
    pair_weight: collections.Counter[tuple[int, int]] = collections.Counter()
    # issue 11 (memflat): rows in chunks (gutbrain.profile.chunks), contests counted in row order
    for start, stop in row_chunks(log_likelihood.indptr):
        chunk = log_likelihood[start:stop].tocoo()
        rows = chunk.row.astype(np.int64) + start
        units = merge.column[chunk.col]
        values = chunk.data.astype(np.float64)
        del chunk
        # best log-likelihood per (row, merged unit)
        key = rows * n_units + units
        order = np.lexsort((-values, key))
        key, rows, units, values = key[order], rows[order], units[order], values[order]
        first = np.ones(key.size, dtype=bool)
        first[1:] = key[1:] != key[:-1]
        rows, units, values = rows[first], units[first], values[first]
        best = best_unit[rows]
        valid = (best >= 0) & named[units]
        rows, units, values, best = rows[valid], units[valid], values[valid], best[valid]
        # log L of each row's best unit
        best_value = np.full(stop - start, np.nan)
        is_best = units == best
        best_value[rows[is_best] - start] = values[is_best]
        genus = index.unit_genus
        congener = (~is_best) & (genus[units] == genus[best]) & (genus[best] >= 0)
        contested = congener & (best_value[rows - start] - values <= threshold + 1e-9)
        for s, t, w in zip(
            best[contested].tolist(),
            units[contested].tolist(),
            weights[rows[contested]].tolist(),
            strict=True,
        ):
            pair_weight[s, t] += w
    edges = [
        (s, t)
        for (s, t), w in pair_weight.items()
        if weight_of[s] > 0 and w >= settings.min_share * weight_of[s] - 1e-9
    ]
    if not edges:
        return merge
    return _apply(merge, edges, taxids, settings)


def _members(merge: GroupMerge, unit: int) -> tuple[str, ...]:
    members = merge.members.get(unit)
    if members:
        return members
    species = merge.index.units[unit].species
    return (species,) if species is not None else ()


def _apply(
    merge: GroupMerge,
    edges: list[tuple[int, int]],
    taxids: Mapping[str, str],
    settings: ContestSettings,
) -> GroupMerge:
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    components: dict[int, list[int]] = collections.defaultdict(list)
    for node in list(parent):
        components[find(node)].append(node)
    index = merge.index
    new_units = list(index.units)
    new_genus = index.unit_genus.tolist()
    remap = np.arange(index.n_units, dtype=np.int64)
    members_of = dict(merge.members)
    adhoc: list[int] = []
    for nodes in sorted(sorted(c) for c in components.values()):
        members = tuple(sorted({m for node in nodes for m in _members(merge, node)}))
        base = index.units[nodes[0]]
        k = len(new_units)
        if len(members) > settings.max_group_size:
            # the contest spans more than a group: genus rank only
            new_units.append(replace(base, species=None))
        else:
            name = group_name(members, taxids)
            eldest = name.removesuffix(" group")
            home = next(node for node in nodes if eldest in _members(merge, node))
            lineage: Lineage = replace(index.units[home], species=name)
            new_units.append(lineage)
            members_of[k] = members
        new_genus.append(int(index.unit_genus[nodes[0]]))
        for node in nodes:
            remap[node] = k
            members_of.pop(node, None)
        adhoc.append(k)
    logger.debug(
        "ad-hoc species groups: %s",
        ", ".join(new_units[k].species or f"genus {new_units[k].genus}" for k in adhoc),
    )
    merged_index = TaxonIndex(
        tuple(new_units), index.ref_unit, index.genera, np.asarray(new_genus, dtype=np.int64)
    )
    return GroupMerge(
        merged_index,
        remap[merge.column],
        members_of,
        adhoc=tuple(adhoc),
    )
