"""``gutbrain db import|groups`` with species groups, and ``--db`` given an Emu database folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.errors import GutbrainError
from gutbrain.reference.bundle import load_bundle
from gutbrain.reference.groups import load_species_groups

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _error(result: object) -> GutbrainError:
    """The GutbrainError a command raised (the console entry point maps it to its exit code)."""
    error = result.exception  # type: ignore[attr-defined]
    assert isinstance(error, GutbrainError), result.output  # type: ignore[attr-defined]
    return error


def _import(runner: CliRunner, fasta: str, taxonomy: str, *extra: str) -> object:
    return runner.invoke(
        app,
        [
            "db",
            "import",
            "--format",
            "tsv-ranks",
            "--sequences",
            str(FIXTURES / fasta),
            "--taxonomy",
            str(FIXTURES / taxonomy),
            "--name",
            "ref",
            *extra,
        ],
    )


def test_import_computes_and_stores_species_groups(tmp_path: Path) -> None:
    runner = CliRunner()
    result = _import(runner, "sisters.fasta", "sisters_taxonomy.tsv")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "species groups: 1 groups of 2 species" in result.output  # type: ignore[attr-defined]
    folder = tmp_path / "xdg-data" / "gutbrain" / "db" / "ref"
    bundle = load_bundle(folder, verify=True)
    groups = load_species_groups(bundle)
    assert groups is not None
    assert [g.name for g in groups.groups] == ["Bacteroides fragilis group"]
    assert not any(".partial-" in p.name for p in folder.parent.iterdir())
    # recompute with another threshold: the sisters (99.7 %) stay, the checksum changes
    again = runner.invoke(app, ["db", "groups", str(folder), "--min-identity", "0.999"])
    assert again.exit_code == 0, again.output
    assert "species groups: 0 groups" in again.output
    assert load_bundle(folder).sha256 != bundle.sha256
    info = runner.invoke(app, ["db", "info", str(folder), "--json"])
    assert json.loads(info.output)["groups"]["min_identity"] == 0.999


def test_import_without_groups_flag(tmp_path: Path) -> None:
    result = _import(CliRunner(), "sisters.fasta", "sisters_taxonomy.tsv", "--no-groups")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    bundle = load_bundle(tmp_path / "xdg-data" / "gutbrain" / "db" / "ref")
    assert load_species_groups(bundle) is None


def test_required_groups_of_a_genus_level_reference_fail_and_write_nothing(
    tmp_path: Path,
) -> None:
    # one named species per genus: nothing 16S could confuse at species rank
    result = _import(CliRunner(), "tiny.fasta", "tiny_taxonomy.tsv", "--groups")
    error = _error(result)
    assert error.code == "GB-REF-GROUPS"
    assert error.exit_code == 78
    assert "no genus holds two named species" in str(error)
    assert ".partial-" not in str(error)  # names the user's folder, not a temporary one
    db = tmp_path / "xdg-data" / "gutbrain" / "db"
    assert not (db / "ref").exists()
    assert not db.exists() or not list(db.iterdir())


def test_default_groups_skip_a_genus_level_reference_with_a_note(tmp_path: Path) -> None:
    result = _import(CliRunner(), "tiny.fasta", "tiny_taxonomy.tsv")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "no species groups" in result.output  # type: ignore[attr-defined]
    bundle = load_bundle(tmp_path / "xdg-data" / "gutbrain" / "db" / "ref")
    assert load_species_groups(bundle) is None


def test_groups_of_the_packaged_default_are_refused() -> None:
    error = _error(CliRunner().invoke(app, ["db", "groups", "default"]))
    assert error.code == "GB-REF-GROUPS"
    assert "read-only" in str(error)


def test_db_accepts_an_emu_database_folder(tmp_path: Path) -> None:
    reads = tmp_path / "reads.fasta"
    fasta = (FIXTURES / "emu_sisters" / "species_taxid.fasta").read_text().splitlines()
    vulgatus = fasta[fasta.index(">4:vulg1") + 1]
    reads.write_text("".join(f">v{i}\n{vulgatus}\n" for i in range(4)))
    runner = CliRunner()
    args = ["profile", str(reads), "--db", str(FIXTURES / "emu_sisters"), "--preset", "hifi"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "one")])
    assert first.exit_code == 0, first.output
    assert "is an Emu database; importing it once" in first.output
    imported = list((tmp_path / "xdg-data" / "gutbrain" / "db").iterdir())
    assert len(imported) == 1
    assert imported[0].name.startswith("emu-emu_sisters-")
    bundle = load_bundle(imported[0])
    assert load_species_groups(bundle) is not None
    assert "Bacteroides vulgatus" in (tmp_path / "one" / "profile.tsv").read_text()
    second = runner.invoke(app, [*args, "--out", str(tmp_path / "two")])
    assert second.exit_code == 0, second.output
    assert "using its import" in second.output
    assert len(list((tmp_path / "xdg-data" / "gutbrain" / "db").iterdir())) == 1


def test_emu_folder_with_an_unknown_taxid_names_the_record(tmp_path: Path) -> None:
    folder = tmp_path / "emu"
    folder.mkdir()
    text = (FIXTURES / "emu_sisters" / "species_taxid.fasta").read_text()
    (folder / "species_taxid.fasta").write_text(text.replace(">5:kleb1", ">999:kleb1"))
    (folder / "taxonomy.tsv").write_text((FIXTURES / "emu_sisters" / "taxonomy.tsv").read_text())
    reads = tmp_path / "reads.fasta"
    reads.write_text(">r\nACGT\n")
    result = CliRunner().invoke(
        app, ["profile", str(reads), "--db", str(folder), "--out", str(tmp_path / "out")]
    )
    error = _error(result)
    assert error.code == "GB-REF-NOTAX"
    assert "kleb1" in str(error)
    assert any("Emu database folder" in note for note in error.__notes__)
    assert not (tmp_path / "out").exists()
    db = tmp_path / "xdg-data" / "gutbrain" / "db"
    assert not db.exists() or not [p for p in db.iterdir() if not p.name.startswith(".")]
