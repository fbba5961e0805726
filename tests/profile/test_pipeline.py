"""End-to-end profile on a few dozen simulated reads against the 6-sequence fixture reference."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gutbrain.errors import EmptyInputError, ErrorCode, InputFormatError, OptionError, OutputError
from gutbrain.io.files import sha256_file
from gutbrain.io.profile_files import write_profile_files
from gutbrain.io.tables import read_profile_tsv
from gutbrain.profile.fit import STATUS_LABELS, _classify_unique
from gutbrain.profile.pipeline import PROFILE_PRESETS, ensure_profile_indexes, profile_sample
from gutbrain.profile.taxonomy import TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from tests.profile.profile_helpers import (
    BIFIDO,
    FRAGILIS,
    KLEBSIELLA,
    VULGATUS,
    chimera_layout_hits,
    reference_sequences,
)


def _species(result: object) -> dict[str, float]:
    profile = result.profile  # type: ignore[attr-defined]
    return {row.taxon: row.reads for row in profile.at_rank("species")}


def test_known_mixture_is_recovered(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads(
        "mix.fq.gz", {FRAGILIS: 20, KLEBSIELLA: 12, BIFIDO: 8}, seed=1, random_reads=3
    )
    result = profile_sample([reads], bundle=tiny_bundle, preset="ont", sample_id="mix")
    got = _species(result)
    assert set(got) == {"Bacteroides fragilis", "Klebsiella pneumoniae", "Bifidobacterium longum"}
    assert got["Bacteroides fragilis"] == pytest.approx(20, abs=0.5)
    assert got["Klebsiella pneumoniae"] == pytest.approx(12, abs=0.5)
    assert got["Bifidobacterium longum"] == pytest.approx(8, abs=0.5)
    counts = result.assignment
    assert counts["reads_in"] == 43
    assert counts["unassigned_no_alignment"] == 3
    assert counts["reads_assigned_species"] == 40
    profile = result.profile
    for rank in ("species", "genus"):
        total = sum(r.abundance for r in profile.at_rank(rank)) + profile.unassigned[rank]
        assert total == pytest.approx(1.0)
    assert profile.unassigned["species"] == pytest.approx(3 / 43)
    for row in profile.rows:
        assert row.abundance_low is not None
        assert row.abundance_high is not None
        assert row.abundance_low <= row.abundance <= row.abundance_high
    assert result.em.converged is True
    assert profile.provenance.reference["name"] == "tiny"
    assert "minimap2 (mappy)" in profile.provenance.tools
    # inputs are named by file name only: folders may name a person
    assert dict(profile.provenance.inputs) == {reads.name: sha256_file(reads)}


def test_no_read_aligns_gives_a_defined_unassigned_result(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path], tmp_path: Path
) -> None:
    # negative control (emu#120): random sequences only -> empty profile, unassigned = 1
    reads = make_reads("junk.fq.gz", {}, seed=2, random_reads=6)
    result = profile_sample([reads], bundle=tiny_bundle, preset="ont")
    assert result.profile.rows == ()
    assert result.profile.unassigned == {"species": 1.0, "genus": 1.0}
    assert result.assignment["unassigned_no_alignment"] == 6
    out = write_profile_files(result, tmp_path / "out", read_assignments=True)
    rows = (out / "profile.tsv").read_text().splitlines()
    assert [line.split("\t")[2] for line in rows[1:]] == ["unassigned", "unassigned"]


def test_outputs_written_atomically_and_deterministically(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path], tmp_path: Path
) -> None:
    reads = make_reads("mix.fq.gz", {FRAGILIS: 6, VULGATUS: 6, BIFIDO: 4}, seed=3)
    a = profile_sample([reads], bundle=tiny_bundle, sample_id="s1")
    b = profile_sample([reads], bundle=tiny_bundle, sample_id="s1")
    out_a = write_profile_files(a, tmp_path / "a", read_assignments=True)
    out_b = write_profile_files(b, tmp_path / "b", read_assignments=True)
    names = ["profile.tsv", "qc.json", "provenance.json", "read_assignments.tsv"]
    for name in names:
        assert (out_a / name).read_bytes() == (out_b / name).read_bytes()
    assert (out_a / "profile.biom").stat().st_size > 0
    profile = read_profile_tsv(out_a / "profile.tsv")
    assert {r.taxon for r in profile.at_rank("genus")} == {"Bacteroides", "Bifidobacterium"}
    qc = json.loads((out_a / "qc.json").read_text())
    assert qc["read_qc"]["reads_in"] == 16
    assert qc["assignment"]["reads_assigned_species"] == 16
    lines = (out_a / "read_assignments.tsv").read_text().splitlines()
    assert lines[0] == "read\tstatus\trank\ttaxon"
    assert len(lines) == 17
    with pytest.raises(OutputError):
        write_profile_files(a, tmp_path / "a")


def test_identical_reads_are_collapsed_but_counted(
    tiny_bundle: ReferenceBundle, tmp_path: Path
) -> None:
    seq = reference_sequences()[KLEBSIELLA]
    path = tmp_path / "dup.fa"
    path.write_text("".join(f">d{i}\n{seq}\n" for i in range(5)))
    result = profile_sample([path], bundle=tiny_bundle, preset="hifi")
    assert result.em.distinct_reads == 1
    assert _species(result) == {"Klebsiella pneumoniae": pytest.approx(5.0)}


def test_same_read_names_in_two_files_are_refused(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    # never keyed by name: two files reusing read names must not be merged silently
    first = make_reads("a.fq.gz", {FRAGILIS: 3}, seed=4)
    second = make_reads("b.fq.gz", {KLEBSIELLA: 3}, seed=5)
    with pytest.raises(InputFormatError, match=r"GB-FQ-DUPID|duplicate|twice"):
        profile_sample([first, second], bundle=tiny_bundle)


def test_disjoint_primary_alignments_on_two_genera_are_chimeras(
    tiny_bundle: ReferenceBundle,
) -> None:
    # rule test on hand-made hits: read 0 has primary + supplementary alignments on disjoint
    # halves hitting Klebsiella and Bifidobacterium -> chimera; read 1 has the same layout on
    # two Bacteroides copies of one genus -> kept; read 2 overlaps -> kept
    index = TaxonIndex.from_references(list(reference_sequences()), tiny_bundle.taxonomy)
    hits = chimera_layout_hits()
    status = _classify_unique(hits, 3, index, PROFILE_PRESETS["ont"])
    labels = [STATUS_LABELS[code] if code >= 0 else None for code in status.tolist()]
    assert labels == ["unassigned_chimera", None, None]


def test_bad_options_are_option_errors(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads("x.fq.gz", {FRAGILIS: 1}, seed=7)
    with pytest.raises(OptionError, match="preset") as info:
        profile_sample([reads], bundle=tiny_bundle, preset="sanger")
    assert info.value.code == ErrorCode.PROFILE_OPTIONS
    with pytest.raises(OptionError, match="min_abundance") as info:
        profile_sample([reads], bundle=tiny_bundle, min_abundance=1.5)
    assert info.value.code == ErrorCode.PROFILE_OPTIONS
    with pytest.raises(OptionError, match="sanger") as info:
        ensure_profile_indexes(tiny_bundle, preset="sanger")
    assert info.value.code == ErrorCode.PROFILE_OPTIONS


def test_no_read_files_is_the_one_no_read_files_error(tiny_bundle: ReferenceBundle) -> None:
    with pytest.raises(EmptyInputError, match="no read files given") as info:
        profile_sample([], bundle=tiny_bundle)
    assert info.value.code == ErrorCode.NO_READ_FILES


def test_two_processes_give_the_same_profile(
    tiny_bundle: ReferenceBundle, make_reads: Callable[..., Path]
) -> None:
    reads = make_reads("p.fq.gz", {FRAGILIS: 300, BIFIDO: 300}, seed=8, rate=0.01)
    one = profile_sample([reads], bundle=tiny_bundle, confidence_intervals=False)
    two = profile_sample([reads], bundle=tiny_bundle, threads=2, confidence_intervals=False)
    assert one.profile.rows == two.profile.rows
    assert np.isclose(one.em.log_likelihood, two.em.log_likelihood)


@pytest.mark.slow
def test_short_reads_profile_sensibly_at_genus(shared_dir: Path) -> None:
    # 1,500 MiSeq V4 reads (dada2 example sam1F) against the bundled default reference. The
    # data's provenance note finds ~85 % Bacteroidaceae and ~5 % Porphyromonadaceae by best hit.
    from gutbrain.reference.bundle import load_bundle

    reads = shared_dir / "data" / "miseq_v4_gut_example_reads" / "sam1F.fastq.gz"
    result = profile_sample([reads], bundle=load_bundle(None), preset="short")
    genera = {row.taxon: row.abundance for row in result.profile.at_rank("genus")}
    assert genera["Bacteroides"] > 0.75
    assert 0.02 < genera["Parabacteroides"] < 0.10
    assert result.profile.unassigned["genus"] < 0.15
    # V4 cannot separate Bacteroides species: most reads fall back to genus
    assert result.assignment["reads_genus_fallback"] > 1000
