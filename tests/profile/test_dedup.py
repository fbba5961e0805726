"""Duplicate reads are collapsed by sequence digest (issue 11, mem2): the compact digest store
gives the distinct sequences a Python set gives, and reads whose digests share a 64-bit word are
never merged."""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from gutbrain.io.keyindex import KeyIndex
from gutbrain.profile import collect as collect_module
from gutbrain.profile.pipeline import profile_sample
from gutbrain.reference.bundle import ReferenceBundle


def _with_duplicates(source: Path, dest: Path, every: int) -> list[str]:
    """``source`` plus a renamed copy of every ``every``-th read; the sequences, in order."""
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()
    records = [lines[i : i + 4] for i in range(0, len(lines), 4)]
    copies = [[f"{r[0]}_copy", *r[1:]] for r in records[::every]]
    out = records + copies
    dest.write_text("".join("\n".join(r) + "\n" for r in out))
    return [r[1] for r in out]


def _clashing_digest(sequence: str) -> int:
    """A digest whose low 64-bit word is the same for every sequence (a forced collision)."""
    high = int.from_bytes(hashlib.blake2b(sequence.encode("ascii"), digest_size=8).digest())
    return (high << 64) | 0x5EED


@pytest.mark.parametrize("clash", [False, True])
def test_distinct_reads_are_the_distinct_sequences(
    tiny_bundle: ReferenceBundle,
    make_reads: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clash: bool,
) -> None:
    source = make_reads("mix.fq.gz", {"7000004128190436": 12, "S000003122": 9}, seed=3)
    sequences = _with_duplicates(source, tmp_path / "dup.fq", every=3)
    expected = profile_sample([tmp_path / "dup.fq"], bundle=tiny_bundle, sample_id="s")
    # merge into the sorted arrays every 4 reads (the default holds a small sample in a dict)
    monkeypatch.setattr(collect_module, "KeyIndex", functools.partial(KeyIndex, batch=4))
    if clash:
        monkeypatch.setattr(collect_module, "_digest", _clashing_digest)
    result = profile_sample([tmp_path / "dup.fq"], bundle=tiny_bundle, sample_id="s")
    assert result.em.distinct_reads == len(set(sequences)) < len(sequences)
    assert result.profile.rows == expected.profile.rows
    assert dict(result.assignment) == dict(expected.assignment)
    assert result.read_assignments == expected.read_assignments
