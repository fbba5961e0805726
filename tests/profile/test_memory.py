"""Stage peaks that must not stack (issue 11): freed heap given back; a cold run's k-mer index
built from the loaded minimap2 index's sequences (no second FASTA read), in its order."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import ReadType
from gutbrain.profile.align import open_aligner
from gutbrain.profile.aligners import index_sequences, open_aligners
from gutbrain.profile.index import ensure_index
from gutbrain.profile.kmer_screen import ScreenSettings, build_kmer_index, ensure_kmer_index
from gutbrain.profile.memory import release_freed_memory
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle, load_bundle, read_sequences
from gutbrain.reference.formats import import_bundle
from tests.profile.profile_helpers import REF_FASTA, REF_TAXONOMY


def test_release_freed_memory_is_harmless() -> None:
    kept = np.arange(1000)
    first = release_freed_memory()
    assert release_freed_memory() == first  # the same answer every time
    assert kept.sum() == 999 * 1000 // 2  # live memory untouched


def _fresh_copy(bundle: ReferenceBundle, folder: Path) -> ReferenceBundle:
    """``bundle`` copied without its cached indexes (a cold start)."""
    shutil.copytree(bundle.path, folder, ignore=shutil.ignore_patterns("index"))
    return load_bundle(folder)


def _first_pass_aligner(bundle: ReferenceBundle) -> Any:
    align = PROFILE_PRESETS[ReadType.ont].alignment
    return open_aligner(ensure_index(bundle, preset=align.preset), settings=align)


def test_kmer_index_from_the_minimap2_index_is_the_fastas(tmp_path: Path) -> None:
    # issue 11 (refseq): a cold run builds the k-mer index from the sequences the loaded
    # minimap2 index holds (A/C/G/T, every other letter N) instead of reading the FASTA again.
    # Lower case, IUPAC codes and U (a bundle stores T) must give the same index.
    records = [line.split() for line in REF_FASTA.read_text().split(">")[1:]]
    letters = "NRYKMuacgtn"
    fasta = tmp_path / "odd.fasta"
    with fasta.open("w") as handle:
        for i, (name, *lines) in enumerate(records):
            sequence = list("".join(lines))
            for j in range(7 * i + 5, len(sequence), 97):  # a few odd letters per sequence
                sequence[j] = letters[(i + j) % len(letters)]
            handle.write(f">{name}\n{''.join(sequence)}\n")
    bundle = import_bundle(
        fasta, REF_TAXONOMY, format="tsv-ranks", name="odd", version="1", out=tmp_path / "odd"
    )
    aligner = _first_pass_aligner(bundle)
    names = list(aligner.seq_names)
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    sequences = index_sequences(aligner, names)
    assert sequences is not None
    for screen in (ScreenSettings(k=9, scale=1), PROFILE_PRESETS[ReadType.ont].screen):
        assert screen is not None
        from_index = build_kmer_index(sequences(), taxa.ref_unit, settings=screen)
        from_fasta = build_kmer_index(
            (s for _, s in read_sequences(bundle)), taxa.ref_unit, settings=screen
        )
        assert from_index.hashes.size > 0
        assert from_index.checksum() == from_fasta.checksum()


def test_open_aligners_builds_the_kmer_index_only_with_a_screen(
    tiny_bundle: ReferenceBundle, tmp_path: Path
) -> None:
    bundle = _fresh_copy(tiny_bundle, tmp_path / "cold")
    settings = PROFILE_PRESETS[ReadType.ont]
    assert settings.screen is not None
    aligners = open_aligners(bundle, settings)
    assert aligners.screen is not None
    names = [name for name, _ in read_sequences(bundle)]
    from_fasta = build_kmer_index(
        (s for _, s in read_sequences(bundle)),
        TaxonIndex.from_references(names, bundle.taxonomy).ref_unit,
        settings=settings.screen,
    )
    assert aligners.screen[0].checksum() == from_fasta.checksum()
    assert len(list((bundle.path / "index").glob("*.npz"))) == 1  # cached for the next run
    # no screen: nothing built
    bare = _fresh_copy(tiny_bundle, tmp_path / "bare")
    assert open_aligners(bare, PROFILE_PRESETS[ReadType.short]).screen is None
    assert not list((bare.path / "index").glob("*.npz"))


def test_the_kmer_index_follows_the_minimap2_index_order(
    tiny_bundle: ReferenceBundle, tmp_path: Path
) -> None:
    # a reference order that is not the FASTA's: reading the FASTA refuses it (GB-REF-INDEX);
    # the minimap2 index's sequences follow any order
    bundle = _fresh_copy(tiny_bundle, tmp_path / "cold")
    aligner = _first_pass_aligner(bundle)
    names = list(reversed(list(aligner.seq_names)))
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    screen = PROFILE_PRESETS[ReadType.ont].screen
    assert screen is not None
    with pytest.raises(ReferenceDatabaseError, match="not where the minimap2 index has it"):
        ensure_kmer_index(bundle, names, taxa.ref_unit, settings=screen)
    index = ensure_kmer_index(
        bundle, names, taxa.ref_unit, settings=screen, sequences=index_sequences(aligner, names)
    )
    sequence_of = dict(read_sequences(bundle))
    expected = build_kmer_index([sequence_of[n] for n in names], taxa.ref_unit, settings=screen)
    assert index.checksum() == expected.checksum()


class _StandIn:
    """A loaded minimap2 index as :func:`index_sequences` reads it: ``seq(name)``."""

    def __init__(self, sequences: dict[str, str | None]) -> None:
        self.sequences = sequences

    def seq(self, name: str) -> str | None:
        return self.sequences[name]


def test_index_sequences_without_sequences_or_with_one_missing() -> None:
    # an index built without sequences: None (the k-mer index then reads the bundle's FASTA)
    assert index_sequences(_StandIn({"a": None, "b": None}), ["a", "b"]) is None
    whole = index_sequences(_StandIn({"a": "ACGT", "b": "GGCC"}), ["b", "a"])
    assert whole is not None
    assert list(whole()) == ["GGCC", "ACGT"]
    damaged = index_sequences(_StandIn({"a": "ACGT", "b": None}), ["a", "b"])
    assert damaged is not None
    with pytest.raises(ReferenceDatabaseError, match="'b' has no sequence"):
        list(damaged())


def test_cold_and_warm_bundles_give_the_same_profile(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads("mix.fq.gz", {"7000004128190436": 9, "S000003122": 6}, seed=5)
    for cached in (tiny_bundle.path / "index").glob("*"):
        cached.unlink()
    cold = profile_sample([reads], bundle=tiny_bundle, sample_id="s")
    warm = profile_sample([reads], bundle=tiny_bundle, sample_id="s")
    assert cold.profile.rows == warm.profile.rows
    assert dict(cold.assignment) == dict(warm.assignment)
    assert cold.assignment["reads_assigned_species"] == 15
