"""The first stage of :func:`gutbrain.profile.pipeline.profile_sample`: open the reference.

:func:`open_aligners` loads the minimap2 index of the first alignment pass (and its rescue
settings), indexes the reference's taxa, finds the species groups present in the index and,
with a k-mer pre-screen, opens its index: everything the later stages read but never change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.model import Lineage
from gutbrain.profile.align import open_aligner
from gutbrain.profile.contest import species_taxids
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_screen import KmerIndex, ensure_kmer_index, forget_bucket_tables
from gutbrain.profile.memory import release_freed_memory
from gutbrain.profile.settings import ProfileSettings
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.groups import SpeciesGroups, load_species_groups

__all__ = [
    "Aligners",
    "GroupList",
    "SequenceSource",
    "index_sequences",
    "open_aligners",
    "screen_unit_groups",
]

logger = logging.getLogger(__name__)

#: ``(group name, group lineage, member species)`` per species group of the reference.
GroupList = Sequence[tuple[str, Lineage, tuple[str, ...]]]


@dataclass(slots=True)
class Aligners:
    """The opened reference of one profile run.

    ``aligner`` is the first pass's ``mappy.Aligner`` and ``rescue`` the one of its rescue
    settings (``None`` without; typed ``Any``: mappy stays behind :mod:`gutbrain.profile.align`).
    ``taxa`` indexes the aligner's references; ``groups`` are the reference's species groups
    with at least two members in it; ``contest`` (species -> NCBI tax id, for naming ad-hoc
    groups) is ``None`` for a reference without species groups; ``screen`` is the k-mer index
    with each unit's species group (``-1``: none), ``None`` without a pre-screen. The
    pipeline lets the screen and then the first pass's indexes go once no stage needs them
    (:meth:`release_screen`, :meth:`release_aligners`).
    """

    aligner: Any
    rescue: Any
    taxa: TaxonIndex
    groups: GroupList
    contest: Mapping[str, str] | None
    screen: tuple[KmerIndex, npt.NDArray[np.int64]] | None

    def release_screen(self) -> None:
        """Let the k-mer index go once the reads are screened (issue 11: it stays out of the
        estimates' memory peaks)."""
        self.screen = None
        forget_bucket_tables()

    def release_aligners(self) -> None:
        """Let the first pass's minimap2 indexes go once the reads are collected (issue 11:
        they stay out of the estimates' memory peaks; a second pass loads the index again).
        ``aligner`` is ``None`` after."""
        self.aligner = None
        self.rescue = None


def open_aligners(bundle: ReferenceBundle, settings: ProfileSettings) -> Aligners:
    """Open the first-pass aligners of ``settings`` on ``bundle`` (building a missing index).

    Raises
    ------
    ReferenceDatabaseError
        The reference, its species groups or its minimap2 index are unusable.
    """
    align = settings.alignment
    index_path = ensure_index(bundle, preset=align.preset, k=align.k, w=align.w)
    release_freed_memory()  # what building the minimap2 index (when not cached) left
    aligner = open_aligner(index_path, settings=align)
    names = list(aligner.seq_names)  # the index's order rules (also for a bundle edited by hand)
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    species_groups = load_species_groups(bundle)
    groups = _present_groups(species_groups, taxa)
    # ad-hoc groups need a reference with species groups (a --no-groups bundle opts out)
    contest = species_taxids(bundle) if species_groups is not None else None
    # issue 11 (refseq): a k-mer index that is not cached is built from the sequences the
    # minimap2 index holds (no second read and parse of the bundle's FASTA: ~0.2 s at the 25k
    # RefSeq 16S reference); freed heap goes back to the system before the reads come
    screen = (
        (
            ensure_kmer_index(
                bundle,
                names,
                taxa.ref_unit,
                settings=settings.screen,
                sequences=index_sequences(aligner, names),
            ),
            _unit_groups(taxa, groups),
        )
        if settings.screen is not None
        else None
    )
    release_freed_memory()
    rescue_settings = align.rescue_settings()
    rescue = (
        open_aligner(index_path, settings=rescue_settings) if rescue_settings is not None else None
    )
    return Aligners(aligner, rescue, taxa, groups, contest, screen)


class SequenceSource(Protocol):
    """What :func:`index_sequences` reads of a loaded minimap2 index (a ``mappy.Aligner``)."""

    def seq(self, name: str, /) -> str | None:
        """The sequence of reference ``name`` (``None`` when the index keeps no sequences)."""
        ...


def index_sequences(
    aligner: SequenceSource, names: Sequence[str]
) -> Callable[[], Iterator[str]] | None:
    """The sequences of references ``names`` as the loaded minimap2 index ``aligner`` holds
    them, for :func:`~gutbrain.profile.kmer_screen.ensure_kmer_index`; ``None`` when the index
    keeps no sequences (the k-mer index then reads the bundle's FASTA).

    minimap2 keeps A, C, G and T and turns every other letter into ``N``; a bundle's sequences
    are upper-case IUPAC codes (``U`` already ``T``), and any letter but A/C/G/T ends a k-mer
    in both, so the k-mer index is the one built from the bundle's FASTA (tested).
    """
    if names and aligner.seq(names[0]) is None:
        return None

    def sequences() -> Iterator[str]:
        for name in names:
            sequence = aligner.seq(name)
            if sequence is None:  # an index keeps every sequence or none: a damaged file
                message = (
                    f"reference {name!r} has no sequence in the minimap2 index; "
                    "rebuild the index (gutbrain db index)"
                )
                raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
            yield str(sequence)

    return sequences


def _present_groups(groups: SpeciesGroups | None, taxa: TaxonIndex) -> GroupList:
    """The species groups as ``(name, lineage, members)``, members present in ``taxa``."""
    if groups is None:
        return ()
    # species -> its units' lineages, built once: SpeciesGroup.lineage scans what it is given,
    # so each group gets only its members' units (issue 11: scanning every unit per group
    # was O(groups x units), ~0.14 s on the 5,173-sequence benchmark reference)
    by_species: dict[str, list[Lineage]] = {}
    for unit in taxa.units:
        if unit.species is not None:
            by_species.setdefault(unit.species, []).append(unit)
    out = []
    for group in groups.groups:
        members = tuple(m for m in group.members if m in by_species)
        if len(members) >= 2:
            found = [unit for m in dict.fromkeys(group.members) for unit in by_species.get(m, ())]
            out.append((group.name, group.lineage(found), members))
    return tuple(out)


def _unit_groups(taxa: TaxonIndex, groups: GroupList) -> npt.NDArray[np.int64]:
    """Species group index of each unit (``-1``: none), for the k-mer screen."""
    group_of = {m: g for g, (_, _, members) in enumerate(groups) for m in members}
    return np.array([group_of.get(unit.species or "", -1) for unit in taxa.units], dtype=np.int64)


def screen_unit_groups(bundle: ReferenceBundle, taxa: TaxonIndex) -> npt.NDArray[np.int64]:
    """Per taxon unit of ``taxa``: its species group in ``bundle`` (``-1``: none), as the
    k-mer screen (:mod:`gutbrain.profile.kmer_screen`) takes it."""
    return _unit_groups(taxa, _present_groups(load_species_groups(bundle), taxa))
