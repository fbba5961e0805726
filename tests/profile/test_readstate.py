"""Compact per-read state (issue 11): the sequence spool, the read log, and a profile made
without read names counting every read as one made with them."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import OptionError
from gutbrain.io.profile_files import write_profile_files
from gutbrain.profile import readstate
from gutbrain.profile.pipeline import profile_sample
from gutbrain.profile.readstate import ReadLog, SequenceSpool, pack_sequences, unpack_sequence
from gutbrain.reference.bundle import ReferenceBundle

FRAGILIS, KLEBSIELLA, BIFIDO = "7000004128190436", "S000003122", "S000436350"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.text(alphabet="ACGTN", min_size=0, max_size=300), min_size=1, max_size=30),
    st.data(),
)
def test_spool_returns_what_was_appended(sequences: list[str], data: st.DataObject) -> None:
    spool = SequenceSpool()
    try:
        half = len(sequences) // 2
        for s in sequences[:half]:
            spool.append(s)
        early = data.draw(st.lists(st.integers(0, max(half - 1, 0)), max_size=5)) if half else []
        assert spool.get(early) == [sequences[i] for i in early]
        for s in sequences[half:]:  # appends after a read go to the end, not over old data
            spool.append(s)
        wanted = data.draw(st.lists(st.integers(0, len(sequences) - 1), max_size=10))
        assert spool.get(wanted) == [sequences[i] for i in wanted]
        assert len(spool) == len(sequences)
    finally:
        spool.close()
        spool.close()  # idempotent


_ASCII = st.characters(min_codepoint=0, max_codepoint=127)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ACGT", max_size=40)
        | st.text(alphabet="ACGTNRY", max_size=40)
        | st.text(alphabet=_ASCII, max_size=12),
        max_size=12,
    )
)
def test_packed_records_give_back_the_sequences(sequences: list[str]) -> None:
    # issue 11 (secondpass): 2-bit packing with the other letters kept beside the bases
    records = pack_sequences(sequences)
    assert [unpack_sequence(r) for r in records] == sequences
    for sequence, record in zip(sequences, records, strict=True):
        if set(sequence) <= set("ACGT"):  # four bases a byte after a one-byte tag
            assert len(record) == 1 + (len(sequence) + 3) // 4


def test_packed_records_by_hand() -> None:
    # A C G T = 0 1 2 3, first base in the high bits; tag = padding bases (+ 4 with others)
    assert pack_sequences(["ACGT", "TTTTG", ""]) == [b"\x00\x1b", b"\x03\xff\x80", b"\x00"]
    (record,) = pack_sequences(["CNAN"])
    assert record[0] == 4  # others, no padding
    assert int.from_bytes(record[1:5], "little") == 2
    assert record[5:13] == (1).to_bytes(4, "little") + (3).to_bytes(4, "little")
    assert record[13:15] == b"NN"
    assert record[15:] == b"\x40"  # C A A A: the others packed as A
    with pytest.raises(UnicodeEncodeError):
        pack_sequences(["ACGé"])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.text(alphabet="ACGTN", max_size=50), min_size=1, max_size=40),
    st.integers(1, 5),
    st.integers(1, 4),
    st.data(),
)
def test_spool_across_blocks(
    sequences: list[str], block: int, every: int, data: st.DataObject
) -> None:
    # blocks of a few sequences: positions stay right across block ends and reads between;
    # the file offset is kept every few records (issue 11)
    with mock.patch.object(readstate, "_OFFSET_EVERY", every):
        _check_spool(sequences, block, data)


def _check_spool(sequences: list[str], block: int, data: st.DataObject) -> None:
    spool = SequenceSpool(block=block)
    try:
        for i, s in enumerate(sequences):
            spool.append(s)
            assert len(spool) == i + 1
            if data.draw(st.booleans()):
                wanted = data.draw(st.lists(st.integers(0, i), max_size=3))
                assert spool.get(wanted) == [sequences[j] for j in wanted]
        assert spool.get(range(len(sequences))) == sequences
    finally:
        spool.close()


@pytest.mark.parametrize("keep_names", [True, False])
def test_read_log_counts_multiplicities(keep_names: bool) -> None:
    log = ReadLog(keep_names=keep_names)
    log.kept("a", 0)
    log.dropped("b", "too_short")
    log.kept("c", 1)
    log.kept("d", 0)
    log.dropped("e", "low_quality")
    log.dropped("f", "too_short")
    assert log.n_distinct == 2
    assert log.weights().tolist() == [2.0, 1.0]
    if keep_names:
        assert log.names == ["a", "b", "c", "d", "e", "f"]
        codes = log.codes().tolist()
        assert codes == [0, -1, 1, 0, -2, -1]
        reasons = [log.reasons[-1 - c] for c in codes if c < 0]
        assert reasons == ["too_short", "low_quality", "too_short"]
    else:
        assert log.names == []
        assert log.codes().size == 0


@given(st.lists(st.integers(0, 3), max_size=2000))
def test_read_log_multiplicities_past_a_byte_are_counted(occurrences: list[int]) -> None:
    # issue 11: a byte per distinct read, the counts past 255 aside; every count is exact
    log = ReadLog(keep_names=False)
    seen: dict[int, int] = {}
    for read in occurrences:
        distinct = seen.setdefault(read, len(seen))
        log.kept("r", distinct)
    expected = collections.Counter(seen[read] for read in occurrences)
    assert log.weights().tolist() == [float(expected[i]) for i in range(len(seen))]


def test_one_read_seen_a_thousand_times_weighs_a_thousand() -> None:
    log = ReadLog(keep_names=False)
    for _ in range(1000):
        log.kept("r", 0)
    log.kept("s", 1)
    assert log.weights().tolist() == [1000.0, 1.0]


def test_profile_without_read_names_counts_the_same(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path], tmp_path: Path
) -> None:
    reads = make_reads(
        "mix.fq.gz", {FRAGILIS: 12, KLEBSIELLA: 8, BIFIDO: 5}, seed=11, random_reads=3
    )
    named = profile_sample([reads], bundle=tiny_bundle, sample_id="s")
    bare = profile_sample([reads], bundle=tiny_bundle, sample_id="s", read_assignments=False)
    assert bare.read_assignments == ()
    assert len(named.read_assignments) == named.assignment["reads_in"] == 28
    assert dict(bare.assignment) == dict(named.assignment)
    # every read counted once, and the counts agree with the per-read table
    labels = [label for _, label, _, _ in named.read_assignments]
    assert labels.count("assigned_species") == bare.assignment["reads_assigned_species"]
    assert labels.count("unassigned_no_alignment") == bare.assignment["unassigned_no_alignment"]
    assert bare.profile.rows == named.profile.rows
    out = write_profile_files(bare, tmp_path / "bare")
    qc = json.loads((out / "qc.json").read_text())
    assert qc["assignment"]["reads_in"] == 28
    assert not (out / "read_assignments.tsv").exists()
    # asking for the per-read table of a result made without names is refused, nothing written
    with pytest.raises(OptionError) as info:
        write_profile_files(bare, tmp_path / "refused", read_assignments=True)
    assert info.value.code == "GB-PROFILE-OPTIONS"
    assert not (tmp_path / "refused").exists()
    assert np.isclose(
        sum(r.abundance for r in bare.profile.at_rank("species"))
        + bare.profile.unassigned["species"],
        1.0,
    )
