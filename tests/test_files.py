from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.errors import InputMissingError, OutputError, OutputExistsError
from gutbrain.io import files
from gutbrain.io.files import (
    atomic_directory,
    atomic_write_text,
    check_input_file,
    check_output_path,
    sha256_file,
    sweep_leftovers,
    sweep_partials,
    written_by_gutbrain,
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


def test_interrupt_right_after_the_partial_file_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C that lands as soon as the temporary file exists (before any byte is written)."""
    real_open = os.open

    def open_then_interrupt(path: object, flags: int, *args: object) -> int:
        fd = real_open(path, flags, *args)  # type: ignore[arg-type]
        if flags & os.O_CREAT:
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    target = tmp_path / "out.parquet"
    target.write_text("old")
    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]
    assert target.read_text() == "old"


def test_interrupt_right_after_the_partial_folder_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = os.mkdir

    def mkdir_then_interrupt(path: object, *args: object, **kwargs: object) -> None:
        real_mkdir(path, *args, **kwargs)  # type: ignore[arg-type]
        if ".partial-" in str(path):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "mkdir", mkdir_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic_directory(tmp_path / "out"):
        pytest.fail("the folder must not be handed out")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


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
        (tmp / "provenance.json").write_text('{"gutbrain_version": "0"}')
    with pytest.raises(OutputError, match="already exists"), atomic_directory(target):
        pass
    with pytest.raises(RuntimeError), atomic_directory(target, replace=True) as tmp:
        (tmp / "v").write_text("2")
        raise RuntimeError("interrupted")
    assert (target / "v").read_text() == "1"
    with atomic_directory(target, replace=True) as tmp:
        (tmp / "v").write_text("2")
    assert (target / "v").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_sweep_partials_removes_leftovers(tmp_path: Path) -> None:
    (tmp_path / ".x.partial-123").write_text("")
    (tmp_path / ".y.partial-9").mkdir()
    (tmp_path / "keep").write_text("")
    assert sweep_partials(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]


# --- issue 13: --force replaces only gutbrain's outputs; crashes leave old or new, never neither --


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_force_refuses_to_replace_a_folder_gutbrain_did_not_write(tmp_path: Path) -> None:
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("precious")
    with (
        pytest.raises(OutputExistsError, match="not written by gutbrain") as info,
        atomic_directory(target, replace=True) as tmp,
    ):
        (tmp / "profile.tsv").write_text("x")
    assert info.value.code == "GB-NOT-OURS"
    assert (target / "chapter1.tex").read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["thesis"]


def test_force_deletes_no_file_gutbrain_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / "notes.json"
    mine.write_text('{"diary": "private"}')
    with pytest.raises(OutputExistsError, match="not written by gutbrain"):
        check_output_path(mine, replace=True)
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "result.json")
    (tmp_path / "result.json").write_text('{"gutbrain_version": "0"}')
    assert not written_by_gutbrain(link)  # a symbolic link is never replaced
    assert check_output_path(tmp_path / "result.json", replace=True) == tmp_path / "result.json"
    with pytest.raises(OutputExistsError, match="--force"):
        check_output_path(tmp_path / "result.json", replace=False)


def test_output_path_may_not_be_an_input(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("age: 40\n")
    with pytest.raises(OutputExistsError, match="is an input") as info:
        check_output_path(tmp_path / "." / "answers.yaml", replace=True, inputs=(None, answers))
    assert info.value.code == "GB-OUT-IS-INPUT"


def test_written_by_gutbrain_knows_its_outputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert written_by_gutbrain(tmp_path / "empty")
    out = tmp_path / "out"
    out.mkdir()
    (out / "profile.tsv").write_text("sample\trank\ttaxon\ttaxid\n")
    assert not written_by_gutbrain(out)  # no provenance file naming gutbrain
    assert written_by_gutbrain(out / "profile.tsv")  # gutbrain's profile-table header
    (out / "notes.json").write_text('{"files": ["/home/me/gutbrain/reads.fq"]}')
    assert not written_by_gutbrain(out / "notes.json")  # a path mentioning gutbrain is no mark
    assert not written_by_gutbrain(out)
    (out / "provenance.json").write_text('{"gutbrain_version": "0.1"}')
    assert written_by_gutbrain(out)
    assert not written_by_gutbrain(tmp_path / "missing")


def test_crash_between_the_two_renames_is_restored_by_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the atomic exchange is not available, a kill between the two renames of --force
    leaves the old output aside; the next write to that path restores it, so never neither."""
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "provenance.json").write_text('{"gutbrain_version": "old"}')
    pid = os.fork()
    if pid == 0:  # the child replaces the output and dies between the renames
        monkeypatch.setattr("gutbrain.io.files._exchange", lambda first, second: False)
        real_replace = os.replace

        def replace_then_die(src: object, dst: object) -> None:
            real_replace(src, dst)  # type: ignore[arg-type]
            os._exit(9)

        monkeypatch.setattr("gutbrain.io.files.os.replace", replace_then_die)
        with atomic_directory(target, replace=True) as tmp:
            (tmp / "provenance.json").write_text('{"gutbrain_version": "new"}')
        os._exit(0)
    os.waitpid(pid, 0)
    assert not target.exists()  # the gap the leftover covers
    assert any(".out.old-" in p.name for p in tmp_path.iterdir())
    assert sweep_leftovers(tmp_path, name="out") == 2  # old restored, new partial removed
    assert (target / "provenance.json").read_text() == '{"gutbrain_version": "old"}'
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replacing_a_folder_swaps_it_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "provenance.json").write_text('{"gutbrain_version": "old"}')

    def no_two_step(src: object, dst: object) -> None:
        raise AssertionError("replaced with two renames: a crash between them loses both")

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    if not files._exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("no renameat2 (RENAME_EXCHANGE) on this platform or file system")
    (tmp_path / "a").rmdir()
    (tmp_path / "b").rmdir()
    monkeypatch.setattr("gutbrain.io.files.os.replace", no_two_step)
    with atomic_directory(target, replace=True) as tmp:
        (tmp / "provenance.json").write_text('{"gutbrain_version": "new"}')
    assert (target / "provenance.json").read_text() == '{"gutbrain_version": "new"}'
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_leftovers_of_a_running_writer_are_left_alone(tmp_path: Path) -> None:
    live = tmp_path / f".out.partial-{os.getpid()}-abc123"
    live.mkdir()
    dead = tmp_path / f".out.partial-{_dead_pid()}-def456"
    dead.mkdir()
    foreign = tmp_path / ".out.partial-notapid"
    foreign.write_text("")
    assert sweep_leftovers(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, foreign.name])


def test_symlink_loop_input_is_a_clear_missing_input_error(tmp_path: Path) -> None:
    loop = tmp_path / "reads.fastq"
    loop.symlink_to(tmp_path / "other.fastq")
    (tmp_path / "other.fastq").symlink_to(loop)
    with pytest.raises(InputMissingError, match="symbolic-link loop") as info:
        check_input_file(loop)
    assert info.value.exit_code == 66
