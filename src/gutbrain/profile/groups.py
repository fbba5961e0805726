"""Compute a reference's species groups by aligning the reference against itself.

Every sequence with a species name is mapped (minimap2 ``map-hifi``, up to ``best_n``
candidates) against the whole reference. For two species, their *identity* is the best
BLAST-like identity (matching bases over alignment columns; columns holding an IUPAC ambiguity
code in either record are left out) between any copy of one and any copy of the other, counted
only where the alignment spans at least ``min_aligned_fraction`` of the shorter sequence and
``min_aligned_length`` bases (partial records do not link species on a fragment). Species whose
identity reaches ``min_identity`` are clustered into groups by
:func:`gutbrain.reference.groups.cluster_species` (at most ``max_group_size`` members; a whole
genus is never a group).

``min_identity`` = 0.99 is the resolution of full-length long reads: ONT reads of ~96–98 %
accuracy and the intragenomic variation of 16S copies (typically 0.2–1 %) leave species whose
closest copies are ≥ 99 % identical inseparable; PacBio HiFi reads resolve more, but the strain
a sample holds is rarely the reference's type strain, so the same threshold is kept.

Cost (measured, docs/reference.md): one mapping pass over the reference, about a minute for
~24,000 full-length sequences on 2 cores.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import numpy.typing as npt

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.profile.align import (
    AlignmentSettings,
    HitTable,
    align_batches,
    default_processes,
    mappy_version,
    open_aligner,
)
from gutbrain.reference.bundle import ReferenceBundle, read_sequences
from gutbrain.reference.groups import SpeciesGroup, SpeciesGroups, cluster_species, group_name

__all__ = [
    "GROUPS_METHOD",
    "compute_species_groups",
    "species_groups_problem",
    "species_identities",
]

logger = logging.getLogger(__name__)

GROUPS_METHOD = "reference self-alignment, single-linkage on closest 16S copies"
_BATCH = 200
_NUCLEOTIDES = frozenset("ACGT")


def compute_species_groups(
    bundle: ReferenceBundle,
    *,
    min_identity: float = 0.99,
    min_aligned_fraction: float = 0.9,
    min_aligned_length: int = 1000,
    max_group_size: int = 12,
    best_n: int = 50,
    threads: int = 1,
    progress: Callable[[float, float | None], None] | None = None,
    identities: Mapping[tuple[str, str], float] | None = None,
) -> SpeciesGroups:
    """Return the species groups of ``bundle`` (see the module docstring).

    Parameters
    ----------
    bundle
        The reference.
    min_identity
        Identity (0–1) of the closest copies at which two species are linked.
    min_aligned_fraction
        Fraction (0–1) of the shorter sequence an alignment must span to count.
    min_aligned_length
        Alignment length (bases) below which an alignment does not count.
    max_group_size
        Largest group (members); bigger clusters are split at a stricter identity.
    best_n
        Candidate alignments kept per sequence.
    threads
        Worker processes for the alignment.
    progress
        ``callback(sequences done, total)``.
    identities
        Species identities from an earlier :func:`species_identities` (skips the alignment).

    Returns
    -------
    SpeciesGroups

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-GROUPS`` when no genus of the reference holds two named species (e.g. one
        sequence per genus), so there is nothing 16S could confuse at species rank.
    """
    genus_of, taxid_of = _species_facts(bundle)
    identity = (
        dict(identities)
        if identities is not None
        else species_identities(
            bundle,
            min_aligned_fraction=min_aligned_fraction,
            min_aligned_length=min_aligned_length,
            best_n=best_n,
            threads=threads,
            progress=progress,
        )
    )
    clusters = cluster_species(
        identity, genus_of, min_identity=min_identity, max_group_size=max_group_size
    )
    named = sorted(
        ((group_name(members, taxid_of), members) for members in clusters),
        key=lambda item: item[0],
    )
    # the group's genus is its name-giving member's ("Escherichia coli group" is Escherichia)
    groups = tuple(
        SpeciesGroup(
            group_id=f"G{number:04d}",
            name=name,
            genus=genus_of[name.removesuffix(" group")],
            members=tuple(members),
        )
        for number, (name, members) in enumerate(named, start=1)
    )
    method = {
        "method": GROUPS_METHOD,
        "aligner": f"minimap2 (mappy {mappy_version()}) map-hifi, best_n={best_n}",
        "min_identity": min_identity,
        "min_aligned_fraction": min_aligned_fraction,
        "min_aligned_length": min_aligned_length,
        "max_group_size": max_group_size,
        "genus_is_not_a_group": True,
        "ambiguity_codes": "not counted as differences (left out of the alignment columns)",
    }
    logger.info(
        "%s: %d species groups (%d species) from %d linked species pairs",
        bundle.name,
        len(groups),
        sum(len(g.members) for g in groups),
        sum(1 for v in identity.values() if v >= min_identity),
    )
    return SpeciesGroups(groups, method)


def species_groups_problem(bundle: ReferenceBundle) -> str | None:
    """Why species groups of ``bundle`` cannot be computed, or ``None`` when they can."""
    try:
        _species_facts(bundle)
    except ReferenceDatabaseError as exc:
        return str(exc)
    return None


def _species_facts(bundle: ReferenceBundle) -> tuple[dict[str, str | None], dict[str, str]]:
    """Species -> genus and species -> taxid; raise ``GB-REF-GROUPS`` when nothing to group."""
    genus_of: dict[str, str | None] = {}
    taxid_of: dict[str, str] = {}
    for ref_id, lineage in bundle.taxonomy.items():
        if lineage.species is not None:
            genus_of.setdefault(lineage.species, lineage.genus)
            if ref_id in bundle.taxids:
                taxid_of.setdefault(lineage.species, bundle.taxids[ref_id])
    per_genus = Counter(g for g in genus_of.values() if g is not None)
    if not per_genus or max(per_genus.values()) < 2:
        message = (
            f"{bundle.path}: cannot compute species groups: no genus holds two named species "
            f"({len(bundle.taxonomy)} sequences, {len(genus_of)} named species in "
            f"{len(per_genus)} genera); species groups need a species-level reference "
            "(use 'gutbrain db import --no-groups' for a genus-level one)"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_GROUPS)
    return genus_of, taxid_of


def _ambiguity_prefix(sequence: str) -> npt.NDArray[np.int64] | None:
    """Prefix counts of non-ACGT bases (``out[i]`` = number in ``sequence[:i]``), or ``None``."""
    if set(sequence) <= _NUCLEOTIDES:
        return None
    codes = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    unknown = ~np.isin(codes, np.frombuffer(b"ACGT", dtype=np.uint8))
    out = np.zeros(len(sequence) + 1, dtype=np.int64)
    np.cumsum(unknown, out=out[1:])
    return out


def species_identities(
    bundle: ReferenceBundle,
    *,
    min_aligned_fraction: float = 0.9,
    min_aligned_length: int = 1000,
    best_n: int = 50,
    threads: int = 1,
    progress: Callable[[float, float | None], None] | None = None,
) -> dict[tuple[str, str], float]:
    """``(species a, species b) -> identity`` (0–1, ``a < b``) of their closest 16S copies.

    Parameters are those of :func:`compute_species_groups`.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-GROUPS`` as :func:`compute_species_groups`.
    """
    _species_facts(bundle)
    species_of_ref = {
        ref_id: lineage.species
        for ref_id, lineage in bundle.taxonomy.items()
        if lineage.species is not None
    }
    settings = AlignmentSettings("map-hifi", best_n=best_n)
    aligner = open_aligner(bundle.sequences_path, settings=settings)
    names = list(aligner.seq_names)
    lengths: dict[str, int] = {}
    queries: list[str] = []
    query_sequences: list[str] = []
    ambiguous: dict[str, npt.NDArray[np.int64]] = {}
    for ref_id, sequence in read_sequences(bundle):
        lengths[ref_id] = len(sequence)
        counts = _ambiguity_prefix(sequence)
        if counts is not None:
            ambiguous[ref_id] = counts
        if ref_id in species_of_ref:
            queries.append(ref_id)
            query_sequences.append(sequence)
    total = float(len(queries))
    done = 0

    def batches() -> Iterator[list[str]]:
        for start in range(0, len(query_sequences), _BATCH):
            yield query_sequences[start : start + _BATCH]

    def on_batch(size: int) -> None:
        nonlocal done
        done += size
        if progress is not None:
            progress(float(done), total)

    tables: list[HitTable] = []
    offset = 0
    for table in align_batches(
        aligner, batches(), processes=default_processes(threads), on_batch=on_batch
    ):
        tables.append(table.shifted(offset))
        offset += _BATCH
    hits = HitTable.concat(tables)
    identity: dict[tuple[str, str], float] = {}
    if len(hits):
        query_len = hits.query_length
        ref_len = np.asarray([lengths.get(names[r], 0) for r in hits.ref.tolist()])
        shorter = np.minimum(query_len, ref_len)
        span = np.minimum(hits.query_end - hits.query_start, hits.ref_end - hits.ref_start)
        usable = (span >= min_aligned_fraction * shorter) & (span >= min_aligned_length)
        # an IUPAC code (N, R, Y …) in either record is no evidence of a difference: minimap2
        # counts it in NM, so leave those columns out (the L. monocytogenes type record
        # NR_044823.1 has 13 and looked 0.9 % less like L. cossartiae than it is)
        unknown = np.zeros(len(hits), dtype=np.int64)
        for i in np.nonzero(usable)[0].tolist():
            query = queries[int(hits.read[i])]
            ref = names[int(hits.ref[i])]
            if query in ambiguous:
                prefix = ambiguous[query]
                unknown[i] += prefix[int(hits.query_end[i])] - prefix[int(hits.query_start[i])]
            if ref in ambiguous:
                prefix = ambiguous[ref]
                unknown[i] += prefix[int(hits.ref_end[i])] - prefix[int(hits.ref_start[i])]
        columns = hits.aligned_columns + hits.insertions + hits.deletions
        values = hits.matches / np.maximum(columns - unknown, 1)
        for i in np.nonzero(usable)[0].tolist():
            a = species_of_ref[queries[int(hits.read[i])]]
            b = species_of_ref.get(names[int(hits.ref[i])])
            if b is None or a == b:
                continue
            key = (a, b) if a < b else (b, a)
            value = float(values[i])
            if value > identity.get(key, 0.0):
                identity[key] = value
    return identity
