"""Table formats named once: the ``TableFormat`` enum, its reader/writer registry, CLI choices."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.errors import InputFormatError
from gutbrain.io.tables import (
    EXPORT_FORMATS,
    EXPORT_SUFFIXES,
    FORMATS,
    READERS,
    WRITERS,
    TableFormat,
    detect_format,
    read_biom,
    read_bracken,
    read_cami,
    read_emu,
    read_kraken,
    read_metaphlan,
    read_plain_tsv,
    read_profiles_tsv,
    read_table,
    write_cami,
    write_profile_tsv,
    write_table,
)
from gutbrain.model import Profile

FIX = Path(__file__).parent / "fixtures" / "tables"


def test_every_format_has_one_reader_and_the_names_are_the_enum() -> None:
    assert set(READERS) == set(TableFormat)
    assert tuple(member.value for member in TableFormat) == FORMATS
    assert tuple(fmt.value for fmt in WRITERS) == EXPORT_FORMATS
    assert set(WRITERS) == set(EXPORT_SUFFIXES)
    assert set(WRITERS) <= set(TableFormat)


def _kraken() -> list[Profile]:
    return read_kraken(FIX / "kraken2_sample.kreport")


@pytest.mark.parametrize(
    ("fmt", "make", "direct"),
    [
        ("biom", lambda _: FIX / "tiny_biom1.biom", read_biom),
        ("tsv", lambda _: FIX / "counts_genus_good.tsv", read_plain_tsv),
        ("emu", lambda _: FIX / "emu_sample_rel-abundance.tsv", read_emu),
        ("kraken", lambda _: FIX / "kraken2_sample.kreport", read_kraken),
        ("bracken", lambda _: FIX / "bracken_sample.bracken", read_bracken),
        ("metaphlan", lambda _: FIX / "metaphlan4_sample_profile.txt", read_metaphlan),
        ("profile", lambda tmp: write_profile_tsv(_kraken(), tmp / "p.tsv"), read_profiles_tsv),
        ("cami", lambda tmp: write_cami(_kraken(), tmp / "p.cami"), read_cami),
    ],
)
def test_read_table_dispatches_each_format_to_its_reader(
    tmp_path: Path, fmt: str, make: object, direct: object
) -> None:
    assert callable(make)
    assert callable(direct)
    path = make(tmp_path)
    assert detect_format(path) == TableFormat(fmt)
    assert read_table(path, format=fmt) == direct(path)
    assert read_table(path) == direct(path)


def test_qiime_taxonomy_reads_the_feature_table_with_its_taxonomy() -> None:
    table, taxonomy = FIX / "qiime_feature_table.tsv", FIX / "qiime_taxonomy.tsv"
    profiles = read_table(table, format=TableFormat.QIIME_TAXONOMY, taxonomy=taxonomy)
    expected = read_plain_tsv(table, taxonomy=taxonomy, format_name="qiime-taxonomy")
    assert profiles == expected
    assert {p.provenance.source for p in profiles} == {"import:qiime-taxonomy"}


def _rows(profile: Profile) -> set[tuple[str, str, float]]:
    return {(r.rank, r.taxon, round(r.abundance, 6)) for r in profile.rows}


@pytest.mark.parametrize("fmt", list(TableFormat))
def test_every_export_format_reads_back(tmp_path: Path, fmt: TableFormat) -> None:
    if fmt not in WRITERS:
        with pytest.raises(InputFormatError, match="unknown export format"):
            write_table(_kraken(), tmp_path / "x", format=fmt)
        return
    profiles = _kraken()
    path = write_table(profiles, tmp_path / f"p{EXPORT_SUFFIXES[fmt]}", format=fmt)
    back = read_table(path)
    assert [p.sample_id for p in back] == [p.sample_id for p in profiles]
    for a, b in zip(profiles, back, strict=True):
        assert _rows(a) == _rows(b)
        assert dict(b.unassigned) == pytest.approx(dict(a.unassigned), abs=1e-6)


def test_unknown_format_names_every_registered_one() -> None:
    with pytest.raises(InputFormatError) as info:
        read_table(FIX / "counts_genus_good.tsv", format="xlsx")
    assert ", ".join(member.value for member in TableFormat) in str(info.value)


@pytest.mark.parametrize(
    ("command", "names"),
    [(["import", "--help"], FORMATS), (["export", "--help"], EXPORT_FORMATS)],
)
def test_cli_format_choices_come_from_the_enum(command: list[str], names: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, command, env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    assert ", ".join(names) in " ".join(result.output.split())
