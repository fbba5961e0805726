"""Stage peaks that must not stack (issue 11): freed heap given back, the k-mer index built
before the minimap2 index is loaded, in the bundle's reference order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from gutbrain.profile.aligners import kmer_index_first
from gutbrain.profile.kmer_screen import ensure_kmer_index
from gutbrain.profile.memory import release_freed_memory
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle, load_bundle


def test_release_freed_memory_is_harmless() -> None:
    kept = np.arange(1000)
    first = release_freed_memory()
    assert release_freed_memory() == first  # the same answer every time
    assert kept.sum() == 999 * 1000 // 2  # live memory untouched


def testkmer_index_first_in_bundle_order(tiny_bundle: ReferenceBundle) -> None:
    settings = PROFILE_PRESETS["ont"]
    names = list(tiny_bundle.taxonomy)
    taxa = TaxonIndex.from_references(names, tiny_bundle.taxonomy)
    early = kmer_index_first(tiny_bundle, names, taxa, settings)
    assert early is not None
    assert settings.screen is not None
    late = ensure_kmer_index(tiny_bundle, names, taxa.ref_unit, settings=settings.screen)
    assert early.checksum() == late.checksum()
    # no screen: nothing built
    bare = PROFILE_PRESETS["short"]
    assert kmer_index_first(tiny_bundle, names, taxa, bare) is None


def testkmer_index_first_gives_way_when_the_order_differs(tiny_bundle: ReferenceBundle) -> None:
    # a reference order that is not the sequences' order: no early index, and no error (the
    # profiler then builds it in the minimap2 index's order, which reports real problems)
    bundle = load_bundle(tiny_bundle.path)
    for cached in (bundle.path / "index").glob("*.npz"):
        cached.unlink()
    names = list(reversed(list(bundle.taxonomy)))
    taxa = TaxonIndex.from_references(names, bundle.taxonomy)
    assert kmer_index_first(bundle, names, taxa, PROFILE_PRESETS["ont"]) is None


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
