"""The k-mer pre-screen: hand-counted k-mer evidence, decisions, properties and the index cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.profile import kmer_screen
from gutbrain.profile.kmer_screen import (
    KmerIndex,
    ScreenResult,
    ScreenSettings,
    build_kmer_index,
    ensure_kmer_index,
    reverse_complement,
    sampled_kmers,
)
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle, read_sequences
from tests.profile.profile_helpers import mutate, random_dna, reference_sequences

# two units whose references share their first 8 bases (hand-counted below with k=4, scale=1)
REF_A = "AAAACCCCGGGG"
REF_B = "AAAACCCCTTTT"
EVERYTHING = ScreenSettings(
    k=4, scale=1, max_units=8, min_kmers=1, min_found=0.0, min_purity=0.0, min_margin=1,
    margin_fraction=0.0, group_tie=0.5,
)  # fmt: skip


def _pack(kmer: str) -> int:
    value = 0
    for base in kmer:
        value = value * 4 + "ACGT".index(base)
    return value


def test_sampled_kmers_are_the_packed_forward_kmers() -> None:
    # scale 1 keeps every k-mer; 'N' and the sequence boundary break k-mers
    read, kmer = sampled_kmers(["ACGTA", "GGNCCA"], k=3, scale=1)
    assert read.tolist() == [0, 0, 0, 1]
    assert [int(x) for x in kmer] == [_pack("ACG"), _pack("CGT"), _pack("GTA"), _pack("CCA")]


def test_sampling_keeps_a_kmer_in_a_read_exactly_when_it_keeps_it_in_the_reference() -> None:
    ref = "ACGGTCAGGCTTACGATCGGATCGATTTACGGCATCGACTAGCATCGGGACTTTACGACTGATCGGACTAGC" * 3
    _, all_kmers = sampled_kmers([ref], k=12, scale=4)
    _, part = sampled_kmers([ref[17:90]], k=12, scale=4)
    assert 0 < part.size < len(ref[17:90])  # some sampled, not all
    assert set(part.tolist()) <= set(all_kmers.tolist())
    window = {_pack(ref[17 + i : 29 + i]) for i in range(len(ref[17:90]) - 11)}
    assert set(part.tolist()) == window & set(all_kmers.tolist())


@settings(deadline=None)  # no timing: under load a first call took 0.66 s
@given(
    sequences=st.lists(st.text(alphabet="ACGTNacgt", max_size=40), max_size=6),
    k=st.integers(1, 12),
    scale=st.sampled_from([1, 3]),
)
def test_sampled_kmers_match_a_plain_enumeration(sequences: list[str], k: int, scale: int) -> None:
    scale = scale if k >= 8 else 1
    read, kmer = sampled_kmers(sequences, k=k, scale=scale)
    got = list(zip(read.tolist(), [int(x) for x in kmer], strict=True))
    assert got == _plain_sampled_kmers(sequences, k, scale)


def _plain_sampled_kmers(sequences: list[str], k: int, scale: int) -> list[tuple[int, int]]:
    keep = {p for p in range(4**8) if ((p * 0x9E3779B97F4A7C15) % 2**64 >> 32) % scale == 0}
    expected = []
    for i, sequence in enumerate(sequences):
        upper = sequence.upper()
        for start in range(len(upper) - k + 1):
            word = upper[start : start + k]
            prefix = (word + "A" * 8)[:8]  # a k-mer shorter than 8 is padded with A
            if set(word) <= set("ACGT") and _pack(prefix) in keep:
                expected.append((i, _pack(word)))
    return expected


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    ambiguous=st.sampled_from([0.0, 0.001, 0.01, 0.3]),
    k=st.sampled_from([8, 15, 21, 31]),
)
def test_sampled_kmers_of_long_reads_with_rare_or_dense_ambiguity_codes(
    seed: int, ambiguous: float, k: int
) -> None:
    # 16S-like lengths: the rare-N case clears the k-mers around each N, the dense case takes
    # another path (issue 11); both must list exactly the plain enumeration's k-mers
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(4):
        letters = rng.choice(list("ACGT"), size=int(rng.integers(0, 1600)))
        letters[rng.random(letters.size) < ambiguous] = "N"
        sequences.append("".join(letters.tolist()))
    read, kmer = sampled_kmers(sequences, k=k, scale=8)
    got = list(zip(read.tolist(), [int(x) for x in kmer], strict=True))
    assert got == _plain_sampled_kmers(sequences, k, 8)


@settings(max_examples=60, deadline=None)
@given(
    references=st.lists(
        st.tuples(st.text(alphabet="ACGTNacgt", max_size=40), st.integers(0, 4)), max_size=8
    ),
    k=st.integers(1, 10),
    max_units=st.integers(1, 3),
)
def test_built_index_matches_a_plain_definition(
    references: list[tuple[str, int]], k: int, max_units: int
) -> None:
    # issue 11 rewrote the build's sorting (speed only): the index must stay what its docstring
    # defines: distinct k-mer hashes sorted, each with its sorted units (none above max_units)
    sequences = [sequence for sequence, _ in references]
    units = np.array([unit for _, unit in references], dtype=np.int64)
    index = build_kmer_index(
        sequences, units, settings=ScreenSettings(k=k, scale=1, max_units=max_units)
    )
    holders: dict[int, set[int]] = {}
    for sequence, unit in references:
        upper = sequence.upper()
        for start in range(len(upper) - k + 1):
            if "N" not in upper[start : start + k]:
                kmer = _pack(upper[start : start + k])
                holders.setdefault(kmer * 0x9E3779B97F4A7C15 % 2**64, set()).add(unit)
    hashes = sorted(holders)
    assert [int(h) for h in index.hashes] == hashes
    expected = [sorted(holders[h]) if len(holders[h]) <= max_units else [] for h in hashes]
    got = [
        index.units[index.offsets[i] : index.offsets[i + 1]].tolist() for i in range(len(hashes))
    ]
    assert got == expected
    assert index.offsets[0] == 0
    assert index.offsets[-1] == index.units.size
    first: dict[int, int] = {}
    for position, unit in enumerate(units.tolist()):
        first.setdefault(unit, position)
    assert index.unit_reference.tolist() == [first[u] for u in sorted(first)]


@settings(max_examples=80, deadline=None)
@given(
    entries=st.lists(st.tuples(st.integers(0, 2**64 - 1), st.booleans()), max_size=40),
    block=st.integers(1, 7),
)
def test_compacting_in_place_keeps_the_chosen_entries_in_order(
    entries: list[tuple[int, bool]], block: int
) -> None:
    # issue 11 (refseq): the index build drops duplicate keys in place, block by block
    values = np.array([v for v, _ in entries], dtype=np.uint64)
    keep = np.array([k for _, k in entries], dtype=bool)
    expected = values[keep].tolist()
    got = kmer_screen._compact(values, keep, block=block)
    assert got.tolist() == expected
    assert got.size == 0 or np.shares_memory(got, values)


@settings(max_examples=60, deadline=None)
@given(
    stored=st.sets(st.integers(0, 2**64 - 1), max_size=300),
    others=st.lists(st.integers(0, 2**64 - 1), max_size=100),
    data=st.data(),
)
def test_lookup_finds_exactly_the_stored_hashes(
    stored: set[int], others: list[int], data: st.DataObject
) -> None:
    # issue 11 rewrote the probes (speed only): hit = membership, where = position in hashes
    hashes = np.array(sorted(stored), dtype=np.uint64)
    index = KmerIndex(
        hashes=hashes,
        offsets=np.zeros(hashes.size + 1, dtype=np.int64),
        units=np.zeros(0, dtype=np.int32),
        unit_reference=np.zeros(0, dtype=np.int64),
        settings=ScreenSettings(),
    )
    picked = data.draw(st.lists(st.sampled_from(sorted(stored)), max_size=50)) if stored else []
    queries = np.array(others + picked, dtype=np.uint64)
    hit, where = index._lookup(queries)
    assert hit.tolist() == [q in stored for q in queries.tolist()]
    assert where[hit].tolist() == np.searchsorted(hashes, queries[hit]).tolist()


def test_lookup_table_cache_is_not_fooled_by_a_reused_id(monkeypatch: pytest.MonkeyPatch) -> None:
    # the bucket table is cached by the hashes array's id; a freed array's id can be reused by
    # the next index of the same size (seen: 1 in 200 rebuilds), which then read a stale table
    monkeypatch.setattr(kmer_screen, "id", lambda _: 1, raising=False)  # every id collides
    for values in ([1, 2**63, 2**64 - 1], [5, 7, 2**62]):
        hashes = np.array(values, dtype=np.uint64)
        index = KmerIndex(
            hashes=hashes,
            offsets=np.zeros(hashes.size + 1, dtype=np.int64),
            units=np.zeros(0, dtype=np.int32),
            unit_reference=np.zeros(0, dtype=np.int64),
            settings=ScreenSettings(),
        )
        hit, where = index._lookup(hashes)
        assert hit.all()
        assert where.tolist() == [0, 1, 2]


def test_hand_counted_evidence_and_decision() -> None:
    index = build_kmer_index([REF_A, REF_B], [0, 1], settings=EVERYTHING)
    # read AAAACCCCGG: 7 4-mers AAAA AAAC AACC ACCC CCCC CCCG CCGG; all in A, the first 5 in B
    result = index.screen(["AAAACCCCGG"])
    assert result.sampled.tolist() == [7]
    assert result.found.tolist() == [7]
    assert result.specific.tolist() == [7]
    assert (result.best_unit.tolist(), result.best.tolist(), result.second.tolist()) == (
        [0],
        [7],
        [5],
    )
    assert result.unit.tolist() == [0]  # margin 2 >= 1
    stricter = replace(index, settings=replace(EVERYTHING, min_margin=3))
    assert stricter.screen(["AAAACCCCGG"]).unit.tolist() == [-1]
    # the reverse complement read is decided the same way (both strands are indexed)
    assert index.screen([reverse_complement("AAAACCCCGG")]).unit.tolist() == [0]


def test_kmers_of_too_many_units_only_count_as_found() -> None:
    one = replace(EVERYTHING, max_units=1)
    index = build_kmer_index([REF_A, REF_B], [0, 1], settings=one)
    result = index.screen(["AAAACCCCGG"])
    # AAAA..CCCC are held by both units: found, but no evidence; CCCG, CCGG only by A
    assert (result.found.tolist(), result.specific.tolist()) == ([7], [2])
    assert (result.best.tolist(), result.second.tolist(), result.unit.tolist()) == ([2], [0], [0])


def test_copies_of_one_unit_count_once_and_thresholds_apply() -> None:
    index = build_kmer_index([REF_A, REF_A, REF_B], [0, 0, 1], settings=EVERYTHING)
    assert index.unit_reference.tolist() == [0, 2]
    result = index.screen(["AAAACCCCGG", "ACGTACGTACGT", "AAN"])
    assert result.best.tolist()[0] == 7  # not 14: units, not references
    assert result.unit.tolist() == [0, -1, -1]  # no shared k-mer; too short for a k-mer
    too_few = replace(index, settings=replace(EVERYTHING, min_kmers=8))
    assert too_few.screen(["AAAACCCCGG"]).unit.tolist() == [-1]
    low_identity = replace(index, settings=replace(EVERYTHING, min_found=0.9))
    # AAAACCCCGGAT: 9 4-mers, 7 found (7/9 < 0.9)
    assert low_identity.screen(["AAAACCCCGGAT"]).unit.tolist() == [-1]
    impure = replace(index, settings=replace(EVERYTHING, min_purity=0.9))
    # a chimera: A's end joined to B's end shares specific k-mers with both units
    chimera = "CCCCGGGG" + "CCTTTT"
    assert impure.screen([chimera]).unit.tolist() == [-1]


def test_a_read_between_members_of_a_group_is_decided_for_the_group() -> None:
    index = build_kmer_index([REF_A, REF_B], [0, 1], settings=replace(EVERYTHING, min_margin=3))
    groups = np.array([0, 0])
    # A 7 k-mers, B 5: margin 2 < 3, undecided between two species ...
    assert index.screen(["AAAACCCCGG"]).unit.tolist() == [-1]
    # ... but A and B form one group and nothing outside it competes. The member margin in
    # k-mers is identity margin x length x (k / scale) x found / sampled = m x 10 x 4 x 1:
    # m = 0.2 -> 8; B is 2 behind, < 0.5 x 8: tied, the read is decided for the group
    grouped = index.screen(["AAAACCCCGG"], unit_group=groups, group_identity_margin=0.2)
    assert grouped.unit.tolist() == [0]
    assert (grouped.second.tolist(), grouped.tied_read.tolist(), grouped.tied_unit.tolist()) == (
        [0],
        [0],
        [1],
    )
    # m = 0.01 -> 0.4: B is >= max(2 x 0.4, margin 1) behind: separated, decided for A alone
    wide = replace(index, settings=replace(EVERYTHING, min_margin=1))
    separated = wide.screen(["AAAACCCCGG"], unit_group=groups, group_identity_margin=0.01)
    assert (separated.unit.tolist(), separated.tied_unit.tolist()) == ([0], [])
    # m = 0.05 -> 2: B is neither < 1 nor >= 4 behind: left to alignment
    unclear = wide.screen(["AAAACCCCGG"], unit_group=groups, group_identity_margin=0.05)
    assert unclear.unit.tolist() == [-1]


_DNA = st.text(alphabet="ACGT", min_size=40, max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    references=st.lists(_DNA, min_size=2, max_size=6),
    picks=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 80), st.integers(20, 60)),
                   min_size=1, max_size=12),
    k=st.sampled_from([11, 15]),
    scale=st.just(1),  # every k-mer: both orientations of a read have the same number
    max_units=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_screen_properties(
    references: list[str],
    picks: list[tuple[int, int, int]],
    k: int,
    scale: int,
    max_units: int,
    seed: int,
) -> None:
    units = [i // 2 for i in range(len(references))]  # references 2i, 2i+1 form unit i
    loose = ScreenSettings(
        k=k, scale=scale, max_units=max_units, min_kmers=1, min_found=0.0, min_purity=0.0,
        min_margin=1, margin_fraction=0.0,
    )  # fmt: skip
    index = build_kmer_index(references, units, settings=loose)
    reads = []
    for ref, start, length in picks:
        source = references[ref % len(references)]
        read = source[start % len(source) :][:length]
        reads.append(reverse_complement(read) if (seed + start) % 2 else read)
    result = index.screen(reads)
    # every read is accounted for: one decision per read
    assert result.unit.shape == (len(reads),)
    # never contradicts a unique exact match
    for read, unit in zip(reads, result.unit.tolist(), strict=True):
        holders = {
            units[i]
            for i, ref in enumerate(references)
            if read in ref or reverse_complement(read) in ref
        }
        if len(holders) == 1 and unit >= 0:
            assert unit == holders.pop()
    # batch order invariance
    order = np.random.default_rng(seed).permutation(len(reads))
    shuffled = index.screen([reads[i] for i in order])
    assert np.array_equal(shuffled.unit, result.unit[order])
    assert np.array_equal(shuffled.best, result.best[order])


def test_index_is_cached_checked_and_rebuilt(tiny_bundle: ReferenceBundle) -> None:
    names = [name for name, _ in read_sequences(tiny_bundle)]
    taxa = TaxonIndex.from_references(names, tiny_bundle.taxonomy)
    screen = ScreenSettings(k=15, scale=2)
    first = ensure_kmer_index(tiny_bundle, names, taxa.ref_unit, settings=screen)
    files = sorted((tiny_bundle.path / "index").glob("*-k15-s2-*.npz"))
    assert len(files) == 1
    again = ensure_kmer_index(tiny_bundle, names, taxa.ref_unit, settings=screen)
    assert np.array_equal(again.hashes, first.hashes)
    assert again.checksum() == first.checksum()
    files[0].write_bytes(files[0].read_bytes()[:100])  # damaged: rebuilt, same content
    rebuilt = ensure_kmer_index(tiny_bundle, names, taxa.ref_unit, settings=screen)
    assert rebuilt.checksum() == first.checksum()


def test_profile_with_screen_accounts_for_every_read(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads(
        "mix.fq.gz",
        {"7000004128190436": 20, "S000003122": 12, "S000436350": 8},
        seed=1,
        random_reads=3,
    )
    plain_settings = replace(PROFILE_PRESETS["ont"], screen=None)
    plain = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=plain_settings
    )
    screened_settings = replace(PROFILE_PRESETS["ont"], screen=ScreenSettings())
    screened = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=screened_settings
    )
    counts = screened.assignment
    assert counts["reads_screened"] > 0
    assert counts["reads_screened"] + counts["reads_aligned"] == screened.qc.reads_kept
    assert plain.assignment["reads_screened"] == 0
    assert {r.taxon: round(r.reads) for r in screened.profile.at_rank("species")} == {
        r.taxon: round(r.reads) for r in plain.profile.at_rank("species")
    }
    labels = [label for _, label, _, _ in screened.read_assignments]
    assert len(labels) == counts["reads_in"]
    again = profile_sample(
        [reads], bundle=tiny_bundle, preset="ont", sample_id="mix", settings=screened_settings
    )
    assert again.read_assignments == screened.read_assignments


def test_strand_probe_screens_only_the_strand_that_holds_the_read() -> None:
    rng = np.random.default_rng(5)
    references = [random_dna(rng, 1500) for _ in range(4)]
    index = build_kmer_index(references, [0, 1, 2, 3], settings=ScreenSettings())
    read = references[1][200:1400]
    noise = random_dna(rng, 1200)
    short = read[:30]  # ~1 sampled 21-mer (scale 8): too few to tell the strand
    forward, reverse = index.strands([read, reverse_complement(read), noise, short])
    assert forward.tolist() == [True, False, True, True]
    assert reverse.tolist() == [False, True, True, True]
    off = replace(index, settings=replace(index.settings, strand_probe=0))
    assert all(strand.all() for strand in off.strands([read, noise]))


def test_strand_probe_changes_no_screen_result(tiny_bundle: ReferenceBundle) -> None:
    names = [name for name, _ in read_sequences(tiny_bundle)]
    taxa = TaxonIndex.from_references(names, tiny_bundle.taxonomy)
    index = ensure_kmer_index(tiny_bundle, names, taxa.ref_unit, settings=ScreenSettings())
    rng = np.random.default_rng(11)
    reads = []
    for i, sequence in enumerate(reference_sequences().values()):
        for j in range(6):  # ONT-like errors, both strands
            read = mutate(sequence, 0.02 + 0.02 * (j % 3), rng)
            reads.append(reverse_complement(read) if (i + j) % 2 else read)
    reads += [random_dna(rng, 1500), "ACGT" * 5]
    probed = index.screen(reads)
    assert index.strands(reads)[0].sum() < len(reads)  # the probe spared strands
    both = replace(index, settings=replace(index.settings, strand_probe=0)).screen(reads)
    for name in ScreenResult.__dataclass_fields__:
        assert np.array_equal(getattr(probed, name), getattr(both, name)), name
