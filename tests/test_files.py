from __future__ import annotations

import os
from pathlib import Path

import pytest

from gutbrain.errors import InputMissingError, OutputError
from gutbrain.io.files import (
    atomic_directory,
    atomic_write_text,
    check_input_file,
    sha256_file,
    sweep_partials,
)


def test_sha256_known_answer(tmp_path: Path) -> None:
    # sha256("abc") from FIPS 180-2, appendix B.1
    (tmp_path / "a").write_bytes(b"abc")
    assert sha256_file(tmp_path / "a") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_check_input_file_rejects_missing_folder_and_fifo(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError, match="no such file"):
        check_input_file(tmp_path / "nope.fq")
    with pytest.raises(InputMissingError, match="not a regular file"):
        check_input_file(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputMissingError, match="not a regular file"):
        check_input_file(fifo)


def test_atomic_write_replaces_whole_file_and_leaves_no_partials(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_into_unwritable_place_is_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write_text(blocker / "child.txt", "data")


def test_atomic_directory_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_replace_keeps_old_until_complete(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    with atomic_directory(target) as tmp:
        (tmp / "v").write_text("1")
    with pytest.raises(OutputError, match="already exists"), atomic_directory(target):
        pass
    with pytest.raises(RuntimeError), atomic_directory(target, replace=True) as tmp:
        (tmp / "v").write_text("2")
        raise RuntimeError("interrupted")
    assert (target / "v").read_text() == "1"
    with atomic_directory(target, replace=True) as tmp:
        (tmp / "v").write_text("2")
    assert (target / "v").read_text() == "2"


def test_sweep_partials_removes_leftovers(tmp_path: Path) -> None:
    (tmp_path / ".x.partial-123").write_text("")
    (tmp_path / ".y.partial-9").mkdir()
    (tmp_path / "keep").write_text("")
    assert sweep_partials(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]
