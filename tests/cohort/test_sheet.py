"""Sample-sheet validation: good sheets parse, bad ones list every bad row at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gutbrain.cohort.sheet import read_sample_sheet
from gutbrain.errors import EmptyInputError, InputFormatError, InputMissingError

DATA = Path(__file__).parent / "data"


def test_good_sheet_parses_paths_and_covariates() -> None:
    sheet = read_sample_sheet(DATA / "sheet_ok.csv")
    assert [s.sample_id for s in sheet.samples] == ["S1", "S2", "S3"]
    assert sheet.covariate_names == ("age", "sex", "PHQ9")
    s1, s2, s3 = sheet.samples
    assert s1.profile == str((DATA / "s1.tsv").resolve())
    assert s1.covariates == {"age": 34.0, "sex": "f", "PHQ9": 12.0}
    assert s2.covariates["age"] is None  # NA is missing
    assert s3.reads == (str((DATA / "s3.fq").resolve()),)
    assert s3.profile is None
    assert s3.covariates["PHQ9"] is None
    assert s1.line == 3  # the comment line counts


def test_bad_sheet_lists_every_bad_row() -> None:
    with pytest.raises(InputFormatError) as info:
        read_sample_sheet(DATA / "sheet_many_bad_rows.tsv")
    message = str(info.value)
    assert "sheet_many_bad_rows.tsv" in message
    assert "6 problem(s)" in message
    assert "line 3: sample_id 'S1' already used on line 2" in message
    assert "line 4: sample_id 'bad id'" in message
    assert "line 5: profile file 'missing.tsv' not found" in message
    assert "line 6: give exactly one of 'reads' and 'profile'" in message
    assert "line 7: give exactly one of 'reads' and 'profile'" in message
    assert "line 8: 2 fields, expected 4" in message


def test_missing_sample_id_column() -> None:
    with pytest.raises(InputFormatError, match="no 'sample_id' column"):
        read_sample_sheet(DATA / "sheet_no_sample_id.csv")


def test_header_only_sheet_is_empty() -> None:
    with pytest.raises(EmptyInputError, match="no samples"):
        read_sample_sheet(DATA / "sheet_header_only.csv")


def test_missing_sheet(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError, match="no such file"):
        read_sample_sheet(tmp_path / "nope.csv")


def test_non_utf8_sheet(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("sample_id,profile\nS\xe9,x\n".encode("latin-1"))
    with pytest.raises(InputFormatError, match="not UTF-8"):
        read_sample_sheet(path)
