"""Every read-type option is the one ReadType: same choices, shown in --help, checked."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.model import ReadType

#: (command path, option) of every option that takes a read type
READ_TYPE_OPTIONS = (
    (("reads", "qc"), "--preset"),
    (("profile",), "--preset"),
    (("run",), "--preset"),
    (("db", "index"), "--for"),
    (("cohort", "run"), "--preset"),
)


@pytest.mark.parametrize(("path", "flag"), READ_TYPE_OPTIONS)
def test_help_shows_the_read_type_choices(path: tuple[str, ...], flag: str) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    option_lines = [line for line in result.output.splitlines() if flag in line]
    assert any("ont|hifi|short" in line for line in option_lines), result.output


@pytest.mark.parametrize(("path", "flag"), READ_TYPE_OPTIONS)
def test_an_unknown_read_type_is_a_usage_error(path: tuple[str, ...], flag: str) -> None:
    result = CliRunner().invoke(app, [*path, flag, "sanger", "x"])
    assert result.exit_code == 2, result.output
    assert "sanger" in result.output


def test_read_type_members_are_their_values() -> None:
    assert [str(t) for t in ReadType] == ["ont", "hifi", "short"]
    assert ReadType("hifi") is ReadType.hifi
    assert {"hifi": 1}[ReadType.hifi] == 1  # a str-keyed table finds a member
