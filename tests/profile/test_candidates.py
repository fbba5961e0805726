"""The second pass's reference selection and its small in-memory index."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.model import Lineage, ReadType
from gutbrain.profile import aligners, fit, hit_spool, kmer_screen, pipeline
from gutbrain.profile.align import (
    ALIGNMENT_PRESETS,
    AlignmentSettings,
    HitTable,
    align_sequences,
    open_aligner,
    open_subset_aligner,
    shares_index,
)
from gutbrain.profile.candidates import second_pass_references
from gutbrain.profile.pipeline import (
    PROFILE_PRESETS,
    ProfileResult,
    index_passes,
    profile_sample,
)
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from tests.profile.profile_helpers import REF_FASTA, mutate, random_dna, reference_sequences

FRAGILIS, VULGATUS, KLEBSIELLA = "7000004128190436", "S000436356", "S000003122"


T = TypeVar("T")


def _hits(reads: list[int], refs: list[int]) -> HitTable:
    table = HitTable.empty()
    n = len(reads)
    columns = {f.name: np.zeros(n, dtype=np.int64) for f in dataclasses.fields(HitTable)}
    columns["read"] = np.asarray(reads, dtype=np.int64)
    columns["ref"] = np.asarray(refs, dtype=np.int64)
    columns["primary"] = np.ones(n, dtype=bool)
    return dataclasses.replace(table, **columns)


def _taxa() -> TaxonIndex:
    # refs 0,1 -> species A (genus G0); ref 2 -> species B (G0); ref 3 -> C (G1);
    # ref 4 -> D (G2); ref 5 -> E (genus unknown)
    units = tuple(Lineage(genus=g, species=s) for g, s in [("G0", "A"), ("G0", "B"), ("G1", "C")])
    units += (Lineage(genus="G2", species="D"), Lineage(family="F"))
    genera = (Lineage(genus="G0"), Lineage(genus="G1"), Lineage(genus="G2"))
    return TaxonIndex(
        units=units,
        ref_unit=np.array([0, 0, 1, 2, 3, 4], dtype=np.int64),
        genera=genera,
        unit_genus=np.array([0, 0, 1, 2, -1], dtype=np.int64),
    )


def test_genera_of_kept_taxa_and_the_reads_own_hits_are_chosen() -> None:
    taxa = _taxa()
    abundance = np.array([0.9, 0.0, 0.0, 0.0, 0.1])  # A (genus G0) and E (no genus) kept
    hits = _hits([0, 1, 1, 2], [3, 4, 0, 2])  # read 1 (to redo) hit ref 4; read 0 hit ref 3
    redo = np.array([False, True, False])
    chosen = second_pass_references(taxa, abundance, hits, redo)
    # G0 -> refs 0, 1, 2 (B too: same genus); E -> ref 5; read 1's own hit -> ref 4
    assert chosen.tolist() == [0, 1, 2, 4, 5]


def test_nothing_kept_and_no_hits_selects_nothing() -> None:
    chosen = second_pass_references(_taxa(), np.zeros(5), HitTable.empty(), np.ones(3, dtype=bool))
    assert chosen.size == 0


@settings(max_examples=60, deadline=None)
@given(
    kept=st.lists(st.booleans(), min_size=5, max_size=5),
    pairs=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), max_size=12),
    redo=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_selection_is_exactly_the_rule(
    kept: list[bool], pairs: list[tuple[int, int]], redo: list[bool]
) -> None:
    taxa = _taxa()
    abundance = np.where(np.asarray(kept), 0.2, 0.0)
    hits = _hits([p[0] for p in pairs], [p[1] for p in pairs])
    chosen = set(second_pass_references(taxa, abundance, hits, np.asarray(redo)).tolist())
    kept_genera = {int(taxa.unit_genus[u]) for u in range(5) if kept[u]} - {-1}
    for ref in range(6):
        unit = int(taxa.ref_unit[ref])
        expected = (
            kept[unit]
            or int(taxa.unit_genus[unit]) in kept_genera
            or any(redo[r] and f == ref for r, f in pairs)
        )
        assert (ref in chosen) == expected


def test_subset_index_holds_only_the_named_references() -> None:
    settings_ = ALIGNMENT_PRESETS["ont"]
    full = open_aligner(REF_FASTA, settings=settings_)
    subset = open_subset_aligner(full, [KLEBSIELLA, FRAGILIS], settings=settings_)
    assert sorted(subset.seq_names) == sorted([KLEBSIELLA, FRAGILIS])
    refs = reference_sequences()
    index = {name: i for i, name in enumerate(full.seq_names)}
    read = mutate(refs[FRAGILIS], 0.03, np.random.default_rng(4))
    by_full = align_sequences(full, [read], index)
    by_subset = align_sequences(subset, [read], index)
    best = int(np.argmax(by_full.matches))
    assert by_full.ref[best] == index[FRAGILIS]
    row = int(np.nonzero(by_subset.ref == index[FRAGILIS])[0][0])
    # the same alignment of the read to the same sequence, through either index
    assert by_subset.edit_distance[row] == by_full.edit_distance[best]
    assert by_subset.ref_start[row] == by_full.ref_start[best]
    # a read of a reference outside the subset does not reach it
    other = align_sequences(subset, [refs[VULGATUS]], index)
    assert index[VULGATUS] not in other.ref.tolist()


@pytest.mark.parametrize("names", [[], ["no-such-reference"]])
def test_subset_of_unknown_or_no_references_is_an_error(names: list[str]) -> None:
    full = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["ont"])
    with pytest.raises(ReferenceDatabaseError) as info:
        open_subset_aligner(full, names, settings=ALIGNMENT_PRESETS["ont"])
    assert info.value.code == "GB-REF-INDEX"


def _hard_reads(make_reads: Callable[..., Path]) -> Path:
    # 8 reads at ~17 % error: the first pass (k=19) misses some, the second pass finds them
    rng = np.random.default_rng(5)
    refs = reference_sequences()
    extra = {f"hard{i}": mutate(refs[FRAGILIS], 0.17, rng) for i in range(8)}
    return make_reads(
        "hard.fq.gz", {FRAGILIS: 20, KLEBSIELLA: 10}, seed=2, random_reads=3, extra=extra
    )


def _ont_profile(bundle: ReferenceBundle, reads: Path) -> ProfileResult:
    """The ``ont`` preset's profile of ``reads`` (no intervals)."""
    return profile_sample(
        [reads], bundle=bundle, settings=PROFILE_PRESETS[ReadType.ont], confidence_intervals=False
    )


def test_second_pass_on_the_subset_matches_the_whole_reference(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = _hard_reads(make_reads)
    ont = PROFILE_PRESETS["ont"]
    whole = profile_sample(
        [reads],
        bundle=tiny_bundle,
        settings=dataclasses.replace(ont, second_pass_subset=False),
        confidence_intervals=False,
    )
    built: list[Any] = []
    real = aligners.ensure_index

    def recording(bundle: ReferenceBundle, **kwargs: Any) -> Path:
        built.append(kwargs)
        return real(bundle, **kwargs)

    # the stages that open indexes: the first pass's aligners and the second pass's fit
    monkeypatch.setattr(aligners, "ensure_index", recording)
    monkeypatch.setattr(fit, "ensure_index", recording)
    subset = _ont_profile(tiny_bundle, reads)
    # only the first-pass index was asked for, by the collection and again as the source of
    # the second pass's subset (issue 11: not held between): the second pass indexed 3 of 6
    first = ont.alignment
    assert built == [{"preset": first.preset, "k": first.k, "w": first.w}] * 2
    assert [a.preset for a in index_passes(ont)] == [first.preset]
    assert subset.assignment == whole.assignment
    # some reads were rescued by the second pass (more than the first pass alone assigns)
    one_pass = profile_sample(
        [reads],
        bundle=tiny_bundle,
        settings=dataclasses.replace(ont, second_pass=None),
        confidence_intervals=False,
    )
    assert (
        subset.assignment["reads_assigned_species"]
        > (one_pass.assignment["reads_assigned_species"])
    )
    assert subset.assignment["reads_in"] == 41
    species = {row.taxon: row.reads for row in subset.profile.at_rank("species")}
    assert species == pytest.approx(
        {row.taxon: row.reads for row in whole.profile.at_rank("species")}
    )


def test_rescue_aligner_loads_the_subset_index_it_shares(tmp_path: Path) -> None:
    # issue 11 (secondpass): the rescue preset maps on the second pass's subset index, written
    # once to a .mmi, with the same hits as on a subset index of its own
    second = ALIGNMENT_PRESETS["ont"]
    rescue = second.rescue_settings()
    assert rescue is not None
    assert shares_index(second, rescue)
    full = open_aligner(REF_FASTA, settings=PROFILE_PRESETS[ReadType.ont].alignment)
    names = [KLEBSIELLA, FRAGILIS, VULGATUS]
    shared = tmp_path / "subset.mmi"
    main = open_subset_aligner(full, names, settings=second, index_out=shared)
    assert shared.is_file()
    refs = reference_sequences()
    rng = np.random.default_rng(7)
    reads = [mutate(refs[name], rate, rng) for name in names for rate in (0.02, 0.12, 0.2)]
    reads.append(random_dna(rng, 1400))
    index = {name: i for i, name in enumerate(full.seq_names)}
    pairs = [
        (main, open_aligner(shared, settings=second)),
        (open_subset_aligner(full, names, settings=rescue), open_aligner(shared, settings=rescue)),
    ]
    for built, loaded in pairs:
        expected = align_sequences(built, reads, index)
        got = align_sequences(loaded, reads, index)
        assert len(expected) >= len(names) * 2  # most reads map
        for field in dataclasses.fields(HitTable):
            assert getattr(got, field.name).tolist() == getattr(expected, field.name).tolist()


@pytest.mark.parametrize(
    ("built", "other", "shared"),
    [
        (AlignmentSettings("lr:hq", k=15, w=10), AlignmentSettings("map-ont", k=15, w=10), True),
        (AlignmentSettings("lr:hq", k=15, w=10), AlignmentSettings("map-ont", k=15, w=11), False),
        (AlignmentSettings("lr:hq"), AlignmentSettings("map-ont"), False),  # preset defaults
        (AlignmentSettings("map-ont", k=15, w=10), AlignmentSettings("map-pb", k=15, w=10), False),
        (AlignmentSettings("map-pb", k=15, w=10), AlignmentSettings("map-pb", k=15, w=10), True),
    ],
)
def test_which_settings_share_an_index(
    built: AlignmentSettings, other: AlignmentSettings, shared: bool
) -> None:
    assert shares_index(built, other) is shared


def test_second_pass_indexes_its_subset_once(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 11 (secondpass): main and rescue aligners of the second pass share one subset index
    reads = _hard_reads(make_reads)
    ont = PROFILE_PRESETS[ReadType.ont]
    builds: list[Any] = []
    loads: list[Any] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        builds.append(kwargs["settings"])
        return open_subset_aligner(*args, **kwargs)

    def load(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs["settings"])
        return open_aligner(*args, **kwargs)

    before = _ont_profile(tiny_bundle, reads)
    monkeypatch.setattr(fit, "open_subset_aligner", build)
    monkeypatch.setattr(fit, "open_aligner", load)
    after = _ont_profile(tiny_bundle, reads)
    assert ont.second_pass is not None
    # the rescue ran (a hard read had no hit) and loaded the subset index the main pass wrote;
    # the one other load is the first pass's index, the subset's source (issue 11)
    assert builds == [ont.second_pass]
    assert loads == [ont.alignment, ont.second_pass.rescue_settings()]
    assert after.assignment == before.assignment


def test_no_hit_table_is_in_memory_while_an_em_runs(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 11: the estimate's matrices hold what the EM needs; the first pass's hits are parked
    # on disk for the second pass (gutbrain.profile.hit_spool) and the second's let go
    reads = _hard_reads(make_reads)
    before = _ont_profile(tiny_bundle, reads)

    def live_hits() -> int:
        gc.collect()
        return sum(len(o) for o in gc.get_objects() if isinstance(o, HitTable) and len(o))

    at_each_em = _at_each_em(monkeypatch, live_hits)
    after = _ont_profile(tiny_bundle, reads)
    assert at_each_em == [0, 0]  # the first estimate and, after the second pass, the second
    assert after.assignment == before.assignment


def test_the_profile_is_the_same_whatever_the_window_of_reads(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 11: the estimates read the hits a window of distinct reads at a time
    # (gutbrain.profile.hit_spool); windows of one and of three reads cut the reads, the
    # second pass's joined hits and the matrices' row chunks everywhere
    reads = _hard_reads(make_reads)
    whole = _ont_profile(tiny_bundle, reads)
    assert whole.assignment["reads_aligned"] > 0
    for window in (1, 3):
        monkeypatch.setattr(hit_spool, "WINDOW_READS", window)
        cut = _ont_profile(tiny_bundle, reads)
        assert cut.profile == whole.profile
        assert cut.assignment == whole.assignment
        assert cut.em == whole.em
        assert cut.read_assignments == whole.read_assignments


def test_the_screen_and_the_first_pass_index_are_let_go_before_the_estimates_need_memory(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 11: the k-mer index is done with once the reads are screened, and the first pass's
    # minimap2 index once they are collected (a second pass loads it again); neither is held
    # through an EM
    reads = _hard_reads(make_reads)
    opened: list[aligners.Aligners] = []
    real_open = pipeline.open_aligners

    def keeping(*args: Any, **kwargs: Any) -> Any:
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    def held_now() -> tuple[bool, bool, bool]:
        (current,) = opened
        return current.screen is not None, current.aligner is not None, bool(kmer_screen._TABLES)

    monkeypatch.setattr(pipeline, "open_aligners", keeping)
    held = _at_each_em(monkeypatch, held_now)
    result = _ont_profile(tiny_bundle, reads)
    assert result.assignment["reads_screened"] > 0  # the screen ran
    assert held == [(False, False, False), (False, False, False)]


def _at_each_em(monkeypatch: pytest.MonkeyPatch, look: Callable[[], T]) -> list[T]:
    """What ``look()`` gives as each of the fit's EMs starts (filled as the profile runs)."""
    seen: list[T] = []
    real = fit.estimate_abundances

    def watching(*args: Any, **kwargs: Any) -> Any:
        seen.append(look())
        return real(*args, **kwargs)

    monkeypatch.setattr(fit, "estimate_abundances", watching)
    return seen
