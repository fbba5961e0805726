"""``gutbrain db …`` end to end: import, list, info, verify, index and the exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.errors import ReferenceDatabaseError
from gutbrain.reference.bundle import ReferenceWarning

FIXTURES = Path(__file__).resolve().parents[1] / "reference" / "fixtures"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _import_tiny(runner: CliRunner, *extra: str) -> None:
    result = runner.invoke(
        app,
        [
            "db",
            "import",
            "--format",
            "tsv-ranks",
            "--sequences",
            str(FIXTURES / "tiny.fasta"),
            "--taxonomy",
            str(FIXTURES / "tiny_taxonomy.tsv"),
            "--name",
            "tiny",
            "--version",
            "3",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "5 sequences" in result.output


def test_import_list_info_verify_index(tmp_path: Path) -> None:
    runner = CliRunner()
    _import_tiny(runner, "--copy-numbers", str(FIXTURES / "rrndb_mini.tsv"))
    bundle = tmp_path / "xdg-data" / "gutbrain" / "db" / "tiny"
    assert (bundle / "manifest.json").is_file()

    listed = runner.invoke(app, ["db", "list"])
    assert listed.exit_code == 0
    assert "refseq16s-gut" in listed.output
    assert "tiny" in listed.output

    info = runner.invoke(app, ["db", "info", "tiny", "--json"])
    assert info.exit_code == 0
    payload = json.loads(info.output)
    assert payload["name"] == "tiny"
    assert payload["counts"]["with_copy_number"] == 4

    verified = runner.invoke(app, ["db", "verify", "tiny"])
    assert verified.exit_code == 0
    assert "all files match" in verified.output

    indexed = runner.invoke(app, ["db", "index", "tiny", "--preset", "map-hifi"])
    assert indexed.exit_code == 0
    assert len(list((bundle / "index").glob("*map-hifi*.mmi"))) == 1


def test_build_is_import_tsv_ranks(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "db",
            "build",
            "--sequences",
            str(FIXTURES / "tiny.fasta"),
            "--taxonomy",
            str(FIXTURES / "tiny_taxonomy.tsv"),
            "--name",
            "built",
            "--out",
            str(tmp_path / "built"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "built" / "taxonomy.tsv").is_file()


def test_reimport_needs_force(tmp_path: Path) -> None:
    runner = CliRunner()
    _import_tiny(runner)
    again = runner.invoke(
        app,
        [
            "db", "import", "--format", "tsv-ranks", "--sequences", str(FIXTURES / "tiny.fasta"),
            "--taxonomy", str(FIXTURES / "tiny_taxonomy.tsv"), "--name", "tiny",
        ],
    )  # fmt: skip
    assert again.exit_code != 0
    _import_tiny(runner, "--force")


def test_verify_changed_file_raises_reference_error(tmp_path: Path) -> None:
    runner = CliRunner()
    _import_tiny(runner)
    taxonomy = tmp_path / "xdg-data" / "gutbrain" / "db" / "tiny" / "taxonomy.tsv"
    taxonomy.write_text(taxonomy.read_text(encoding="utf-8").replace("ref1", "refX"), "utf-8")
    result = runner.invoke(app, ["db", "verify", "tiny"])
    assert isinstance(result.exception, ReferenceDatabaseError)
    assert result.exception.code == "GB-REF-CHANGED"


def test_console_script_exit_codes(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
    }
    missing = subprocess.run(
        [
            sys.executable, "-m", "gutbrain", "db", "import", "--format", "qiime",
            "--sequences", str(FIXTURES / "tiny.fasta"),
            "--taxonomy", str(tmp_path / "absent.tsv"), "--name", "x",
        ],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert missing.returncode == 78
    assert "error[GB-REF-TAX]" in missing.stderr
    assert "absent.tsv" in missing.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "gutbrain", "db", "verify", "no-such-db"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert unknown.returncode == 78
    assert "error[GB-REF-NOTFOUND]" in unknown.stderr


def test_info_prints_names_with_brackets_verbatim(tmp_path: Path) -> None:
    # HITdb names such as "[Melainabacter]" must not be taken for Rich markup.
    taxonomy = tmp_path / "brackets.tsv"
    taxonomy.write_text(
        "id\tgenus\tfamily\n"
        + "".join(f"ref{i}\t[Melainabacter]\tCyanobacteria\n" for i in (1, 2, 3, 4))
        + "ref5\t[Melainabacter]\t[/odd]\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "db", "import", "--format", "tsv-ranks", "--sequences", str(FIXTURES / "tiny.fasta"),
            "--taxonomy", str(taxonomy), "--name", "[/b]", "--out", str(tmp_path / "b"),
        ],
    )  # fmt: skip
    assert isinstance(result.exception, ReferenceDatabaseError)  # bad name, clear error
    with pytest.warns(ReferenceWarning):
        result = runner.invoke(
            app,
            [
                "db", "import", "--format", "tsv-ranks", "--sequences",
                str(FIXTURES / "tiny.fasta"), "--taxonomy", str(taxonomy), "--name", "brackets",
                "--out", str(tmp_path / "b"),
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["db", "info", str(tmp_path / "b")])
    assert info.exit_code == 0, info.output
    assert "[Melainabacter] under Cyanobacteria (4), [/odd] (1)" in " ".join(info.output.split())


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    """Regression: an unknown --format exited 78 (reference error) after starting a progress bar."""
    result = CliRunner().invoke(
        app,
        ["db", "import", "--format", "bogus", "--sequences", str(FIXTURES / "tiny.fasta"),
         "--name", "x"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "'bogus' is not one of tsv-ranks, plain" in result.output
    assert not (tmp_path / "xdg-data").exists()


def test_index_unknown_preset_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["db", "index", "--preset", "map-on"])
    assert result.exit_code == 2, result.output
    assert "map-on" in result.output


def test_manifest_with_wrong_field_types_is_refused(tmp_path: Path) -> None:
    """Regression: "counts": "x" in a manifest crashed 'db info' with an AttributeError."""
    runner = CliRunner()
    _import_tiny(runner)
    folder = tmp_path / "xdg-data" / "gutbrain" / "db" / "tiny"
    original = json.loads((folder / "manifest.json").read_text())
    for change, key in (({"counts": "x"}, "'counts'"), ({"warnings": "z"}, "'warnings'")):
        (folder / "manifest.json").write_text(json.dumps({**original, **change}))
        result = runner.invoke(app, ["db", "info", str(folder)])
        assert isinstance(result.exception, ReferenceDatabaseError), result.output
        assert result.exception.code == "GB-REF-MANIFEST"
        assert key in str(result.exception)
    files = {**original["files"], "../outside.txt": {"sha256": "0", "bytes": 1}}
    (folder / "manifest.json").write_text(json.dumps({**original, "files": files}))
    result = runner.invoke(app, ["db", "verify", str(folder)])
    assert isinstance(result.exception, ReferenceDatabaseError)
    assert "'../outside.txt', which is not a file of the bundle" in str(result.exception)


def test_index_for_a_read_type_builds_every_index_the_profiler_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gutbrain.profile.pipeline import PROFILE_PRESETS, index_passes

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runner = CliRunner()
    for read_type, settings in PROFILE_PRESETS.items():
        result = runner.invoke(app, ["db", "index", "--for", read_type])
        assert result.exit_code == 0, result.output
        assert result.output.count(f"(reads {read_type})") == len(index_passes(settings))
    bad = runner.invoke(app, ["db", "index", "--for", "sanger"])
    assert bad.exit_code == 2
