"""``write_profile_files`` / ``add_profile_files``: a profile record -> its files, atomically."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from gutbrain.errors import OutputError, OutputExistsError
from gutbrain.io import profile_files
from gutbrain.io.profile_files import (
    EMSummary,
    ProfileResult,
    add_profile_files,
    write_profile_files,
)
from gutbrain.io.tables import read_profile_tsv
from gutbrain.model import Lineage, Profile, Provenance, ReadQC, SampleId, TaxonRow

_FILES = ["profile.biom", "profile.tsv", "provenance.json", "qc.json", "read_assignments.tsv"]


def _em(**changes: object) -> EMSummary:
    em = EMSummary(
        iterations=12,
        log_likelihood=-123.5,
        converged=True,
        taxa_kept=2,
        prune_threshold=0.1,
        distinct_reads=9,
        alignments=30,
        error_model={"mismatch": 0.01, "insertion": 0.002, "deletion": 0.003, "soft_clip": 0.02},
        bootstrap_replicates=50,
        species_groups=3,
        species_groups_merged=("Bacteroides fragilis group",),
        species_groups_adhoc=("Bacteroides fragilis group",),
    )
    return dataclasses.replace(em, **changes)


def _result() -> ProfileResult:
    genus = Lineage(phylum="Bacteroidetes", family="Bacteroidaceae", genus="Bacteroides")
    group = dataclasses.replace(genus, species="Bacteroides fragilis group")
    members = ("Bacteroides fragilis", "Bacteroides ovatus")
    profile = Profile(
        sample_id=SampleId("s1"),
        rows=(
            TaxonRow("species", group, 0.6, 6.0, 0.5, 0.7, members=members),
            TaxonRow("genus", genus, 0.8, 8.0),
        ),
        unassigned={"species": 0.4, "genus": 0.2},
        provenance=Provenance(
            "0+test", "gutbrain profile", inputs={"r.fq": "0" * 64}, parameters={"preset": "ont"}
        ),
        total_reads=10,
    )
    qc = ReadQC(
        reads_in=10,
        reads_kept=9,
        dropped={"too_short": 1},
        bases_kept=13_500,
        length_n50=1500,
        length_quantiles={"min": 1400.0, "median": 1500.0, "max": 1600.0},
        mean_quality=20.5,
    )
    per_read = (
        ("r1", "assigned_species", "species", "Bacteroides fragilis group"),
        ("r\t2\n", "unassigned_too_short", "", ""),
    )
    assignment = {"reads_in": 10, "reads_assigned_species": 6, "unassigned_too_short": 1}
    return ProfileResult(profile, qc, assignment, _em(), per_read)


def test_profile_folder_holds_every_file_and_qc_json_mirrors_the_record(tmp_path: Path) -> None:
    out = write_profile_files(_result(), tmp_path / "out", read_assignments=True)
    assert out == tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == _FILES
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no partial folder left beside
    qc = json.loads((out / "qc.json").read_text(encoding="utf-8"))
    assert qc["sample"] == "s1"
    assert qc["read_qc"]["dropped"] == {"too_short": 1}
    assert qc["assignment"] == {
        "reads_in": 10,
        "reads_assigned_species": 6,
        "unassigned_too_short": 1,
    }
    assert qc["unassigned_fraction"] == {"species": 0.4, "genus": 0.2}
    em = qc["em"]
    assert em["taxa_kept"] == 2
    assert em["references_kept"] == 2  # the key files had before EMSummary
    assert em["species_groups_merged"] == ["Bacteroides fragilis group"]
    assert em["species_contests_at_genus"] == []
    assert em["contest_threshold_log_likelihood"] is None
    assert em["error_model"]["mismatch"] == 0.01
    provenance = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["parameters"] == {"preset": "ont"}
    profile = read_profile_tsv(out / "profile.tsv")
    species = profile.at_rank("species")
    assert [(r.taxon, r.reads, r.members) for r in species] == [
        ("Bacteroides fragilis group", 6.0, ("Bacteroides fragilis", "Bacteroides ovatus"))
    ]
    # tabs and line breaks inside a read name cannot split its line
    lines = (out / "read_assignments.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == [
        "read\tstatus\trank\ttaxon",
        "r1\tassigned_species\tspecies\tBacteroides fragilis group",
        "r 2 \tunassigned_too_short\t\t",
    ]


def test_read_assignments_only_when_asked(tmp_path: Path) -> None:
    out = write_profile_files(_result(), tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == [
        n for n in _FILES if n != "read_assignments.tsv"
    ]


def test_an_existing_folder_is_replaced_only_when_asked(tmp_path: Path) -> None:
    write_profile_files(_result(), tmp_path / "out")
    with pytest.raises(OutputExistsError):
        write_profile_files(_result(), tmp_path / "out")
    changed = dataclasses.replace(_result(), em=_em(iterations=99))
    write_profile_files(changed, tmp_path / "out", replace=True)
    qc = json.loads((tmp_path / "out" / "qc.json").read_text(encoding="utf-8"))
    assert qc["em"]["iterations"] == 99


def _fail_renaming(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the final rename of file ``name`` fail, as a full disk or a kill would."""
    real = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == name:
            raise OSError(28, "No space left on device (simulated)")
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def test_a_failure_mid_write_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_renaming("qc.json", monkeypatch)
    with pytest.raises(OutputError, match=r"qc\.json"):
        write_profile_files(_result(), tmp_path / "out", read_assignments=True)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_raising_mid_folder_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = profile_files.write_json

    def broken(path: str | Path, data: object) -> Path:
        if Path(path).name == "provenance.json":
            raise OutputError(f"{path}: cannot write (simulated)")
        return real(path, data)

    monkeypatch.setattr(profile_files, "write_json", broken)
    with pytest.raises(OutputError, match="simulated"):
        write_profile_files(_result(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_adding_to_a_folder_never_leaves_a_half_written_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    _fail_renaming("qc.json", monkeypatch)
    with pytest.raises(OutputError, match=r"qc\.json"):
        add_profile_files(_result(), folder, read_assignments=True)
    # the files before qc.json are whole, qc.json and the later ones do not exist
    assert sorted(p.name for p in folder.iterdir()) == ["profile.biom", "profile.tsv"]
    monkeypatch.undo()
    written = add_profile_files(_result(), folder)
    assert [p.name for p in written] == [
        "profile.tsv",
        "profile.biom",
        "qc.json",
        "provenance.json",
    ]
    assert sorted(p.name for p in folder.iterdir()) == _FILES[:4]


def test_em_summary_has_one_field_per_value() -> None:
    em = _em()
    names = {f.name for f in dataclasses.fields(EMSummary)}
    # qc.json keeps one alias, references_kept, for files written before the record existed
    assert set(em.as_dict()) == names | {"references_kept"}
    assert em.as_dict()["references_kept"] == em.taxa_kept
    # run_info takes the single numbers; a threshold appears only when contests ran
    assert "contest_threshold_log_likelihood" not in em.scalars()
    scalars = _em(contest_threshold_log_likelihood=1.5).scalars()
    assert scalars["contest_threshold_log_likelihood"] == 1.5
    assert all(isinstance(v, int | float) for v in scalars.values())
    assert not {"error_model", "species_groups_merged", "species_groups_adhoc"} & set(scalars)
