"""The mappy door: quiet mappy failures become ReferenceDatabaseError; presets are sane."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.profile.align import (
    ALIGNMENT_PRESETS,
    AlignmentSettings,
    HitTable,
    align_batches,
    align_sequences,
    open_aligner,
)
from gutbrain.profile.pipeline import PROFILE_PRESETS
from tests.profile.profile_helpers import REF_FASTA, reference_sequences


def test_missing_reference_is_an_error(tmp_path: Path) -> None:
    # mappy returns a falsy Aligner for a missing path instead of raising
    with pytest.raises(ReferenceDatabaseError, match="not found"):
        open_aligner(tmp_path / "nope.mmi", settings=ALIGNMENT_PRESETS["ont"])


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage\xff" * 10])
def test_empty_or_garbage_reference_is_an_error(tmp_path: Path, content: bytes) -> None:
    # mappy returns a truthy Aligner with n_seq == 0 for these
    path = tmp_path / "ref.fa"
    path.write_bytes(content)
    with pytest.raises(ReferenceDatabaseError, match="no reference sequences"):
        open_aligner(path, settings=ALIGNMENT_PRESETS["ont"])


def test_exact_copy_aligns_to_itself_without_errors() -> None:
    aligner = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["hifi"])
    refs = reference_sequences()
    name = "7000004128190436"  # no IUPAC codes (ambiguous bases count in NM)
    table = align_sequences(aligner, [refs[name]])
    names = list(aligner.seq_names)
    best = table.take(table.primary)
    assert names[int(best.ref[0])] == name
    assert best.mismatches[0] == best.insertions[0] == best.deletions[0] == 0
    assert best.soft_clips[0] == 0
    assert best.identity[0] == 1.0


def test_ambiguous_reference_bases_count_as_mismatches() -> None:
    # S000003122 holds 4 IUPAC codes: minimap2 counts them in NM, not in mlen
    aligner = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["hifi"])
    table = align_sequences(aligner, [reference_sequences()["S000003122"]])
    best = table.take(table.primary)
    assert best.mismatches[0] == 4
    assert best.insertions[0] == best.deletions[0] == 0


def test_batches_keep_order_with_two_processes() -> None:
    aligner = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["hifi"])
    seqs = list(reference_sequences().values())
    batches = [seqs[:3], seqs[3:]]
    serial = list(align_batches(aligner, iter(batches), processes=1))
    forked = list(align_batches(aligner, iter(batches), processes=2))
    for a, b in zip(serial, forked, strict=True):
        assert isinstance(b, HitTable)
        assert a.read.tolist() == b.read.tolist()
        assert a.ref.tolist() == b.ref.tolist()


def test_forking_workers_leaves_the_parent_gc_unfrozen() -> None:
    # issue 11 (secondpass): objects are frozen only while the workers are forked
    aligner = open_aligner(REF_FASTA, settings=ALIGNMENT_PRESETS["hifi"])
    seqs = list(reference_sequences().values())
    assert gc.get_freeze_count() == 0
    tables = align_batches(aligner, iter([seqs[:2], seqs[2:4], seqs[4:]]), processes=2)
    first = next(tables)  # the pool is running
    assert gc.get_freeze_count() == 0
    rest = list(tables)
    assert gc.get_freeze_count() == 0
    assert len(first) > 0
    assert len(rest) == 2


def _substitute(base: str) -> str:
    return {"A": "C", "C": "G", "G": "T", "T": "A"}[base]


@pytest.mark.parametrize(
    "settings",
    [
        ALIGNMENT_PRESETS["ont"],
        ALIGNMENT_PRESETS["hifi"],
        PROFILE_PRESETS["ont"].alignment,
        PROFILE_PRESETS["hifi"].alignment,
    ],
    ids=["ont-second-pass", "hifi-second-pass", "ont-first-pass", "hifi-first-pass"],
)
def test_single_affine_presets_count_hand_placed_errors(settings: AlignmentSettings) -> None:
    # A reference copy with 4 substitutions, 2 one-base insertions and one 2-base deletion,
    # each >= 100 bases from the next (known answer: X=4, I=2, D=2, no clips). The presets'
    # single-affine scoring, band of 75 and (HiFi first pass) sparse w=31 minimizers must
    # recover exactly these counts.
    assert settings.scoring is not None
    assert settings.scoring[2:4] == settings.scoring[4:6]
    name = "7000004128190436"
    read = list(reference_sequences()[name])
    read[1200] = _substitute(read[1200])
    read.insert(1000, "A" if "A" not in (read[999], read[1000]) else "C")
    read[800] = _substitute(read[800])
    del read[650:652]
    read[500] = _substitute(read[500])
    read.insert(350, "T" if "T" not in (read[349], read[350]) else "G")
    read[200] = _substitute(read[200])
    aligner = open_aligner(REF_FASTA, settings=settings)
    table = align_sequences(aligner, ["".join(read)])
    best = table.take(table.primary)
    assert list(aligner.seq_names)[int(best.ref[0])] == name
    assert (best.mismatches[0], best.insertions[0], best.deletions[0]) == (4, 2, 2)
    assert best.soft_clips[0] == 0


def test_aligner_options_pass_scoring_band_and_chain_skip() -> None:
    options = ALIGNMENT_PRESETS["ont"].aligner_options()
    assert options["scoring"] == [2, 4, 4, 2, 4, 2]
    assert options["bw"] == options["bw_long"] == 75
    assert options["max_chain_skip"] == 2
    assert "scoring" not in ALIGNMENT_PRESETS["short"].aligner_options()


@pytest.mark.parametrize("preset", sorted(PROFILE_PRESETS))
def test_settings_provenance_survives_a_json_round_trip(preset: str) -> None:
    # result.json is compared with the in-memory Result: tuples (scoring) would come back lists
    settings = PROFILE_PRESETS[preset].as_dict()
    assert json.loads(json.dumps(settings)) == settings
