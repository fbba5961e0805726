"""Species groups: species of a reference that 16S reads cannot tell apart.

A *species group* is a small set of named species whose 16S sequences lie within the identity
resolution of long reads (ONT, PacBio HiFi) over the aligned region, so that no read can say
which member it came from, e.g. *Escherichia coli*, *E. fergusonii* and the *Shigella* species.
Groups are a property of the reference, computed once (by :mod:`gutbrain.profile.groups`, which
aligns the reference against itself) and stored in the bundle as ``groups.tsv``::

    group_id   name                     genus        members
    G0001      Escherichia coli group   Escherichia  Escherichia coli;Escherichia fergusonii;…

with the method and thresholds under ``"groups"`` in ``manifest.json`` (and ``groups.tsv`` in its
``files``, so the manifest SHA-256 covers the groups).

Clustering (:func:`cluster_species`): species are linked when their closest 16S copies reach
``min_identity``; groups are the connected components. A component larger than
``max_group_size`` is split again at a threshold raised by ``step`` until every part fits (at
100 % identity, members that still do not fit stay single species). A component that holds every
named species of each genus it touches is *not* a group: that is the genus, and reads that do
not separate its species are reported at genus rank.
"""

from __future__ import annotations

import logging
import operator
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.io.files import sha256_file
from gutbrain.io.jsonfile import write_json
from gutbrain.model import Lineage
from gutbrain.reference.bundle import MANIFEST_NAME, ReferenceBundle, load_bundle

__all__ = [
    "GROUPS_NAME",
    "GROUP_COLUMNS",
    "SpeciesGroup",
    "SpeciesGroups",
    "cluster_species",
    "group_name",
    "load_species_groups",
    "write_species_groups",
]

logger = logging.getLogger(__name__)

#: Lineage fields above species, and a lineage's names there as a tuple (a hashable key).
_ABOVE = tuple(f.name for f in fields(Lineage) if f.name != "species")
_above_species = operator.attrgetter(*_ABOVE)

GROUPS_NAME = "groups.tsv"
GROUP_COLUMNS: tuple[str, ...] = ("group_id", "name", "genus", "members")


@dataclass(frozen=True, slots=True)
class SpeciesGroup:
    """One group: its ID, display name, (majority) genus and member species names."""

    group_id: str
    name: str
    genus: str | None
    members: tuple[str, ...]

    def lineage(self, taxonomy: Iterable[Lineage]) -> Lineage:
        """The group's lineage: its members' common ranks above species, ``species`` = name."""
        found = [lineage for lineage in taxonomy if lineage.species in self.members]
        same_genus = [lineage for lineage in found if lineage.genus == self.genus] or found
        if not same_genus:
            return Lineage(genus=self.genus, species=self.name)
        # issue 11 (refseq): counted by the names above species, one Lineage per distinct
        # tuple (dataclasses.replace per member cost ~0.03 s at the RefSeq 16S reference)
        counts = Counter(_above_species(lineage) for lineage in same_genus)
        above = {ranks: Lineage(**dict(zip(_ABOVE, ranks, strict=True))) for ranks in counts}
        base = min(
            ((above[ranks], n) for ranks, n in counts.items()),
            key=lambda item: (-item[1], repr(item[0])),
        )[0]
        return replace(base, species=self.name)


@dataclass(frozen=True, slots=True)
class SpeciesGroups:
    """The groups of one reference and how they were computed (``method``, for the manifest)."""

    groups: tuple[SpeciesGroup, ...]
    method: Mapping[str, Any] = field(default_factory=dict)

    def by_species(self) -> dict[str, SpeciesGroup]:
        """Member species name -> its group."""
        return {member: group for group in self.groups for member in group.members}


def group_name(members: Sequence[str], taxids: Mapping[str, str] | None = None) -> str:
    """Name a group after its earliest-described member: the smallest NCBI taxid, else A-Z.

    Small taxids are the long-known species (*E. coli* 562, *S. aureus* 1280, *B. subtilis* 1423),
    which is the name a reader expects.

    Examples
    --------
    >>> group_name(["Escherichia fergusonii", "Escherichia coli"],
    ...            {"Escherichia coli": "562", "Escherichia fergusonii": "564"})
    'Escherichia coli group'
    >>> group_name(["Shigella sonnei", "Escherichia coli"])
    'Escherichia coli group'
    """
    known = taxids or {}

    def key(name: str) -> tuple[int, str]:
        taxid = known.get(name, "")
        return (int(taxid) if taxid.isdigit() else 1 << 62, name)

    return f"{min(members, key=key)} group"


def _components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    parent = {node: node for node in nodes}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in edges:
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    members: dict[str, list[str]] = defaultdict(list)
    for node in parent:
        members[find(node)].append(node)
    return [sorted(group) for group in members.values()]


def cluster_species(
    identity: Mapping[tuple[str, str], float],
    genus_of: Mapping[str, str | None],
    *,
    min_identity: float,
    max_group_size: int = 12,
    step: float = 0.001,
) -> list[tuple[str, ...]]:
    """Cluster species into groups (see the module docstring); singletons are left out.

    Parameters
    ----------
    identity
        ``(species a, species b) -> identity`` (0–1) of their closest 16S copies.
    genus_of
        Every named species of the reference -> its genus.
    min_identity
        Species whose closest copies reach this identity (0–1) are linked.
    max_group_size
        Largest group; bigger components are split at a stricter identity.
    step
        How much the identity threshold rises per split (0–1).

    Returns
    -------
    list of tuple
        Groups (members sorted), sorted by their first member.

    Examples
    --------
    >>> genus = {"E a": "E", "E b": "E", "E c": "E", "S x": "S"}
    >>> cluster_species({("E a", "E b"): 0.995, ("E b", "S x"): 0.992}, genus, min_identity=0.99)
    [('E a', 'E b', 'S x')]
    >>> cluster_species({("E a", "E b"): 0.995, ("E b", "E c"): 0.99}, genus, min_identity=0.99)
    []
    """
    species_of_genus: dict[str, set[str]] = defaultdict(set)
    for species, genus in genus_of.items():
        if genus is not None:
            species_of_genus[genus].add(species)

    def split(nodes: list[str], threshold: float) -> list[list[str]]:
        node_set = set(nodes)
        edges = [
            pair
            for pair, value in identity.items()
            if value >= threshold - 1e-12 and pair[0] in node_set and pair[1] in node_set
        ]
        parts = _components(nodes, edges)
        out: list[list[str]] = []
        for part in parts:
            if len(part) > max_group_size and threshold < 1.0:
                out.extend(split(part, min(1.0, threshold + step)))
            elif len(part) <= max_group_size:
                out.append(part)
            else:  # identical beyond any threshold and still too many: leave them single
                out.extend([member] for member in part)
        return out

    nodes = sorted({s for pair in identity for s in pair} & set(genus_of))
    groups: list[tuple[str, ...]] = []
    for part in split(nodes, min_identity):
        if len(part) < 2:
            continue
        genera = {genus_of[s] for s in part}
        whole_genera = all(g is not None and species_of_genus[g] <= set(part) for g in genera)
        if whole_genera:
            continue  # a genus is not a group: report at genus rank
        groups.append(tuple(part))
    return sorted(groups)


def _bundle_files_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _groups_text(groups: SpeciesGroups) -> str:
    lines = ["\t".join(GROUP_COLUMNS)]
    for group in groups.groups:
        cells = [group.group_id, group.name, group.genus or "", ";".join(group.members)]
        for cell in cells:
            if "\t" in cell or "\n" in cell:
                message = f"species group {group.group_id}: value {cell!r} holds a tab or newline"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def write_species_groups(bundle: ReferenceBundle, groups: SpeciesGroups) -> ReferenceBundle:
    """Store ``groups`` in ``bundle`` (``groups.tsv`` + manifest) and return the bundle reloaded.

    The bundle is copied to a ``.partial-*`` sibling, changed and verified there and swapped in
    with two renames, so an interruption leaves the old bundle or the new one, never a mixture
    (a crash exactly between the renames leaves the old one as ``.NAME.old-*`` beside it). The
    bundle's identity (manifest SHA-256) changes, so cached minimap2 indexes are rebuilt on next
    use.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-GROUPS`` when a group names a species the reference does not hold, a member
        twice, or an empty member; ``GB-REF-NOTWRITABLE`` for the packaged default reference.
    """
    known = {lineage.species for lineage in bundle.taxonomy.values() if lineage.species}
    seen: set[str] = set()
    for group in groups.groups:
        for member in group.members:
            problem = (
                "an empty member"
                if not member.strip()
                else f"{member!r} twice"
                if member in seen
                else f"{member!r}, which the reference does not hold"
                if member not in known
                else None
            )
            if problem is not None:
                message = f"species group {group.group_id} ({group.name}) names {problem}"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
            seen.add(member)
    folder = bundle.path
    parent = folder.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=parent))
    old = parent / f".{folder.name}.old-{staging.name.rsplit('-', 1)[-1]}"
    try:
        shutil.rmtree(staging)
        shutil.copytree(folder, staging, ignore=shutil.ignore_patterns("index"))
        (staging / GROUPS_NAME).write_text(_groups_text(groups), encoding="utf-8")
        manifest = dict(bundle.manifest)
        files = dict(manifest["files"])
        files[GROUPS_NAME] = _bundle_files_entry(staging / GROUPS_NAME)
        manifest["files"] = files
        manifest["groups"] = {
            **dict(groups.method),
            "groups": len(groups.groups),
            "species_in_groups": sum(len(g.members) for g in groups.groups),
        }
        write_json(staging / MANIFEST_NAME, manifest, sort_keys=False)
        load_bundle(staging, verify=True)
        os.replace(folder, old)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    logger.info("stored %d species groups in %s", len(groups.groups), folder)
    return load_bundle(folder)


def load_species_groups(bundle: ReferenceBundle) -> SpeciesGroups | None:
    """Read the bundle's ``groups.tsv``; ``None`` when the bundle has no groups.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-GROUPS`` naming the file and line for a malformed row, an empty member, a
        member named twice (in one group or two) or a species the reference does not hold.
    """
    if GROUPS_NAME not in bundle.manifest.get("files", {}):
        return None
    path = bundle.path / GROUPS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        message = (
            f"{path}: cannot be read ({exc.strerror or exc}); recompute with 'gutbrain db groups'"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS) from exc
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != GROUP_COLUMNS:
        message = f"{path}:1: expected the header {' '.join(GROUP_COLUMNS)}"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
    known = {lineage.species for lineage in bundle.taxonomy.values() if lineage.species}
    seen: dict[str, int] = {}
    groups: list[SpeciesGroup] = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != len(GROUP_COLUMNS):
            message = f"{path}:{number}: {len(cells)} columns, expected {len(GROUP_COLUMNS)}"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
        group_id, name, genus, members_text = cells
        members = tuple(members_text.split(";"))
        for member in members:
            if not member.strip():
                message = f"{path}:{number}: group {group_id} has an empty member"
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
            if member in seen:
                message = (
                    f"{path}:{number}: group {group_id} names {member!r}, already a member on "
                    f"line {seen[member]}; a species belongs to one group"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
            if member not in known:
                message = (
                    f"{path}:{number}: group {group_id} names {member!r}, not in the reference"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
            seen[member] = number
        if len(members) < 2:
            message = f"{path}:{number}: group {group_id} has {len(members)} member; expected 2+"
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
        groups.append(SpeciesGroup(group_id, name, genus or None, members))
    return SpeciesGroups(tuple(groups), dict(bundle.manifest.get("groups", {})))
