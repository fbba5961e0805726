from __future__ import annotations

import pytest

from gutbrain import errors


def test_every_error_derives_from_gutbrain_error_and_has_code_and_exit() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, errors.GutbrainError)
            assert obj.code.startswith("GB-")
            assert obj.exit_code in {65, 66, 70, 73, 74, 75, 78}


def test_input_format_error_names_file_line_and_record() -> None:
    exc = errors.InputFormatError(
        "quality length 5 != sequence length 10", path="r.fq", line=4, record=1
    )
    assert str(exc) == "r.fq:4, record 1: quality length 5 != sequence length 10"
    assert isinstance(exc, ValueError)
    assert exc.exit_code == 65


def test_input_format_error_is_raisable_as_value_error() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise errors.InputFormatError("bad", path="x")
