"""Member alignment (issue 11): a species-group near-tie aligned only to the group's members."""

from __future__ import annotations

import gzip
import tempfile
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.io.readqc import QC_PRESETS
from gutbrain.model import ReadType
from gutbrain.profile import collect
from gutbrain.profile.align import HitTable, align_sequences, open_aligner
from gutbrain.profile.aligners import Aligners, open_aligners
from gutbrain.profile.collect import Collected, collect_reads
from gutbrain.profile.groups import compute_species_groups
from gutbrain.profile.kmer_screen import ScreenSettings, build_kmer_index
from gutbrain.profile.member_align import MemberAligner
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.profile.settings import ProfileSettings
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.formats import import_bundle
from gutbrain.reference.groups import write_species_groups
from tests.profile.profile_helpers import mutate, reference_sequences, substitute_bases

_LINEAGE = "Bacteroidaceae\tBacteroidales\tBacteroidia\tBacteroidetes\tBacteria"
ONT = PROFILE_PRESETS[ReadType.ont]


def _sources() -> dict[str, tuple[str, str]]:
    """Two group members 12 bases apart (a near-tie in between for the screen: neither tied
    nor separated), a third Bacteroides (a genus is never a group) and a Klebsiella."""
    seqs = reference_sequences()
    fragilis = seqs["7000004128190436"]
    return {
        "frag1": ("Bacteroides fragilis", fragilis),
        "sis1": ("Bacteroides sororis", substitute_bases(fragilis, 12, 2)),
        "vulg1": ("Bacteroides vulgatus", seqs["S000436356"]),
        "kleb1": ("Klebsiella pneumoniae", seqs["S000003122"]),
    }


REFS = [sequence for _, sequence in _sources().values()]
UNITS = np.arange(4, dtype=np.int64)  # one reference per unit, in this order
UNIT_GROUP = np.array([0, 0, -1, -1], dtype=np.int64)  # frag1 and sis1: one species group
MEMBERS = ScreenSettings(member_alignment=True)


@pytest.fixture(scope="module")
def whole_index(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The first pass's minimap2 index of the four references."""
    fasta = tmp_path_factory.mktemp("members") / "ref.fasta"
    fasta.write_text("".join(f">{k}\n{s}\n" for k, (_, s) in _sources().items()))
    return open_aligner(fasta, settings=ONT.alignment)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> ReferenceBundle:
    folder = tmp_path_factory.mktemp("members-bundle")
    rows = _sources()
    fasta = folder / "ref.fasta"
    fasta.write_text("".join(f">{k}\n{s}\n" for k, (_, s) in rows.items()))
    taxonomy = folder / "taxonomy.tsv"
    lines = ["id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom"]
    for number, (ref_id, (species, _)) in enumerate(rows.items(), start=1):
        lines.append(f"{ref_id}\t{number}\t{species}\t{species.split()[0]}\t{_LINEAGE}")
    taxonomy.write_text("\n".join(lines) + "\n")
    imported = import_bundle(
        fasta, taxonomy, format="tsv-ranks", name="members", version="1", out=folder / "b"
    )
    return write_species_groups(imported, compute_species_groups(imported))


@pytest.fixture(scope="module")
def opened(bundle: ReferenceBundle, tmp_path_factory: pytest.TempPathFactory) -> Aligners:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        return open_aligners(bundle, _settings(member_alignment=True))


def test_the_bundle_groups_the_two_members(opened: Aligners) -> None:
    assert opened.screen is not None
    assert opened.screen[1].tolist() == UNIT_GROUP.tolist()


def _settings(*, member_alignment: bool) -> ProfileSettings:
    assert ONT.screen is not None
    return replace(ONT, screen=replace(ONT.screen, member_alignment=member_alignment))


def _member_aligner() -> MemberAligner:
    return MemberAligner(lambda i: REFS[i], UNITS, ONT.alignment)


def _frag_read(seed: int = 7, rate: float = 0.01) -> str:
    return mutate(REFS[0], rate, np.random.default_rng(seed))


def _rows(table: HitTable) -> list[tuple[int, ...]]:
    return sorted(
        tuple(int(getattr(table, f.name)[i]) for f in fields(HitTable)) for i in range(len(table))
    )


def test_a_member_read_gets_exactly_its_whole_index_member_hits(whole_index: object) -> None:
    index = build_kmer_index(REFS, UNITS, settings=MEMBERS)
    read = _frag_read()
    result = index.screen([read], unit_group=UNIT_GROUP)
    # the screen leaves it to alignment (sis1 in between), with only the group in question
    assert result.decided.tolist() == [False]
    assert result.members.tolist() == [True]
    assert result.member_read.tolist() == [0, 0]
    assert result.member_unit.tolist() == [0, 1]  # the best unit first
    targeted = _member_aligner().align([read], result)
    assert targeted.aligned.tolist() == [True]
    whole = align_sequences(whole_index, [read])
    # the whole index aligns the read to both members, frag1 primary; the member aligner
    # gives the same rows, with the same reference numbers and primary flag
    assert set(whole.ref.tolist()) <= {0, 1, 2, 3}
    members = whole.take(np.isin(whole.ref, [0, 1]))
    assert sorted(set(members.ref.tolist())) == [0, 1]
    assert members.ref[members.primary].tolist() == [0]
    assert _rows(targeted.hits) == _rows(members)


def test_a_read_with_an_outside_unit_within_the_margin_is_not_member_aligned(
    whole_index: object,
) -> None:
    read = _frag_read()
    plain = build_kmer_index(REFS, UNITS, settings=MEMBERS).screen([read], unit_group=UNIT_GROUP)
    gap = int(plain.best[0] - plain.second[0])  # the lead over the best unit outside the group
    assert gap > 0

    def screened(min_margin: int) -> tuple[bool, bool]:
        rule = replace(MEMBERS, min_margin=min_margin, margin_fraction=0.0)
        result = build_kmer_index(REFS, UNITS, settings=rule).screen([read], unit_group=UNIT_GROUP)
        aligned = _member_aligner().align([read], result).aligned
        return bool(result.members[0]), bool(aligned[0])

    assert screened(gap) == (True, True)  # a lead of exactly the margin: members only
    assert screened(gap + 1) == (False, False)  # an outside unit within it: the whole index


def test_too_many_references_go_to_the_whole_index(whole_index: object) -> None:
    index = build_kmer_index(REFS, UNITS, settings=MEMBERS)
    result = index.screen([_frag_read()], unit_group=UNIT_GROUP)
    capped = MemberAligner(lambda i: REFS[i], UNITS, ONT.alignment, max_references=1)
    done = capped.align([_frag_read()], result)
    assert done.aligned.tolist() == [False]
    assert len(done.hits) == 0
    assert capped.built == 0


def test_the_index_cache_is_bounded_and_changes_nothing(whole_index: object) -> None:
    index = build_kmer_index(REFS, UNITS, settings=MEMBERS)
    reads = [_frag_read(seed) for seed in range(6)]
    result = index.screen(reads, unit_group=UNIT_GROUP)
    one = MemberAligner(lambda i: REFS[i], UNITS, ONT.alignment, cache_size=1)
    many = MemberAligner(lambda i: REFS[i], UNITS, ONT.alignment, cache_size=8)
    first, again = one.align(reads, result), one.align(reads, result)
    assert one.cached == 1
    assert one.built == 4  # two references, built again for the second batch
    kept = many.align(reads, result)
    many.align(reads, result)
    assert many.cached == 2
    assert many.built == 2
    assert _rows(first.hits) == _rows(again.hits) == _rows(kept.hits)
    assert first.aligned.tolist() == kept.aligned.tolist()


def test_the_setting_off_changes_nothing_in_the_screen() -> None:
    reads = [_frag_read(seed) for seed in range(6)] + [REFS[2], REFS[3][100:1200]]
    on = build_kmer_index(REFS, UNITS, settings=MEMBERS).screen(reads, unit_group=UNIT_GROUP)
    off = build_kmer_index(REFS, UNITS, settings=ScreenSettings()).screen(
        reads, unit_group=UNIT_GROUP
    )
    assert on.members.any()
    assert not off.members.any()
    assert off.member_read.size == 0
    assert off.member_unit.size == 0
    for f in fields(on):
        if not f.name.startswith("member"):
            assert np.array_equal(getattr(on, f.name), getattr(off, f.name)), f.name


def _fastq(path: Path, reads: list[str]) -> Path:
    with gzip.open(path, "wt") as handle:
        for i, read in enumerate(reads):
            handle.write(f"@r{i}\n{read}\n+\n{'I' * len(read)}\n")
    return path


def _collect(opened: Aligners, reads: list[str], *, member_alignment: bool) -> Collected:
    profile = _settings(member_alignment=member_alignment)
    assert opened.screen is not None
    assert profile.screen is not None
    index, unit_group = opened.screen
    # the screen's index carries the settings open_aligners opened it with
    aligners = replace(opened, screen=(replace(index, settings=profile.screen), unit_group))
    with tempfile.TemporaryDirectory() as tmp:
        path = _fastq(Path(tmp) / "reads.fastq.gz", reads)
        return collect_reads(
            [path],
            aligners,
            settings=profile,
            qc_settings=QC_PRESETS["ont"],
            processes=1,
            keep_names=False,
        )


def _per_read_hits(collected: Collected, reads: list[str]) -> dict[str, list[tuple[int, ...]]]:
    """Each distinct sequence's hits (read numbers dropped), keyed by the sequence."""
    distinct = list(dict.fromkeys(reads))
    hits = collected.hits
    return {
        sequence: [row[1:] for row in _rows(hits.take(hits.read == i))]
        for i, sequence in enumerate(distinct)
    }


_SOURCE = st.sampled_from([0, 0, 0, 1, 2, 3])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.tuples(_SOURCE, st.integers(0, 3)), min_size=1, max_size=14),
    duplicates=st.integers(0, 3),
    batch=st.integers(1, 5),
    order=st.randoms(use_true_random=False),
)
def test_every_read_is_accounted_for_and_batches_do_not_matter(
    opened: Aligners,
    picks: list[tuple[int, int]],
    duplicates: int,
    batch: int,
    order: object,
) -> None:
    reads = [mutate(REFS[source], 0.01, np.random.default_rng(seed)) for source, seed in picks]
    reads += reads[:duplicates]
    collected = _collect(opened, reads, member_alignment=True)
    n = collected.n_unique
    assert n == len(set(reads))
    assert collected.weights.sum() == len(reads)  # every kept read stands behind one distinct
    members = collected.members
    assert members is not None
    assert members.size == n
    assert not (members & collected.screened).any()  # member-aligned reads are aligned reads
    hits = collected.hits
    for i in np.flatnonzero(members):
        mine = hits.take(hits.read == i)
        assert set(mine.ref.tolist()) <= {0, 1}  # only the group's references
        assert len(set(mine.ref[mine.primary].tolist())) == 1  # one primary reference
    # the same reads in another order, screened in batches of ``batch``: the same hits per read
    shuffled = list(reads)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collect, "_SCREEN_BATCH", batch)
        again = _collect(opened, shuffled, member_alignment=True)
    assert _per_read_hits(again, shuffled) == _per_read_hits(collected, reads)


def test_the_setting_off_aligns_with_the_whole_index(opened: Aligners) -> None:
    reads = [_frag_read(seed) for seed in range(8)] + [REFS[2][50:1300]]
    on = _collect(opened, reads, member_alignment=True)
    off = _collect(opened, reads, member_alignment=False)
    assert on.members is not None
    assert off.members is not None
    assert on.members.sum() >= 1
    assert not off.members.any()
    # off: what the whole index gives each aligned read, as before
    assert np.array_equal(on.screened, off.screened)
    plain = align_sequences(opened.aligner, reads)
    aligned = np.flatnonzero(~off.screened)
    expected = {int(i): _rows(plain.take(plain.read == i)) for i in aligned}
    got = {int(i): _rows(off.hits.take(off.hits.read == i)) for i in aligned}
    assert got == expected


def test_qc_counts_member_aligned_reads_as_aligned(
    bundle: ReferenceBundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    reads = [_frag_read(seed) for seed in range(20)] + [REFS[2]] * 5
    path = _fastq(tmp_path / "reads.fastq.gz", reads)
    on = profile_sample(
        [path], bundle=bundle, preset="ont", settings=_settings(member_alignment=True)
    )
    off = profile_sample(
        [path], bundle=bundle, preset="ont", settings=_settings(member_alignment=False)
    )
    a, b = on.assignment, off.assignment
    assert a["reads_screened"] + a["reads_aligned"] == len(reads)
    assert 1 <= a["reads_aligned_members"] <= a["reads_aligned"]
    assert b["reads_aligned_members"] == 0
    assert (a["reads_screened"], a["reads_aligned"]) == (b["reads_screened"], b["reads_aligned"])
    on_species = {row.taxon: row.reads for row in on.profile.at_rank("species")}
    off_species = {row.taxon: row.reads for row in off.profile.at_rank("species")}
    assert on_species.keys() == off_species.keys()
    for taxon, value in off_species.items():
        assert on_species[taxon] == pytest.approx(value, abs=0.5)
