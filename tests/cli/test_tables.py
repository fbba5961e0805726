"""``gutbrain import | export | diversity`` end to end, and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.errors import OutputExistsError
from gutbrain.io.tables import read_table

FIX = Path(__file__).resolve().parents[1] / "io" / "fixtures" / "tables"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *args], capture_output=True, text=True, check=False
    )


def test_import_writes_profile_tsv_biom_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    result = CliRunner().invoke(
        app, ["import", str(FIX / "kraken2_sample.kreport"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["import.json", "profile.biom", "profile.tsv"]
    summary = json.loads((out / "import.json").read_text())
    assert summary["source"] == "import:kraken"
    assert summary["samples"][0]["total_reads"] == 1000
    (back,) = read_table(out / "profile.tsv")
    assert back.total_reads == 1000
    assert read_table(out / "profile.biom") == read_table(FIX / "kraken2_sample.kreport")


def test_import_refuses_existing_out_then_force(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    args = ["import", str(FIX / "counts_genus_good.tsv"), "--rank", "genus", "--out", str(out)]
    refused = _run(*args)
    assert refused.returncode == 73 or refused.returncode == 74
    assert "already exists" in refused.stderr
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / "profile.tsv").is_file()


def test_import_bad_table_exit_65_and_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = _run("import", str(FIX / "counts_negative.tsv"), "--out", str(out))
    assert result.returncode == 65
    assert "error[GB-TAB-NEG]" in result.stderr
    assert "counts_negative.tsv" in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_to_each_format(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "imp"
    assert (
        runner.invoke(
            app, ["import", str(FIX / "emu_sample_rel-abundance.tsv"), "-o", str(out)]
        ).exit_code
        == 0
    )
    for fmt, name in (("cami", "p.cami"), ("biom", "p.biom"), ("tsv", "p.tsv")):
        target = tmp_path / name
        result = runner.invoke(
            app, ["export", str(out / "profile.tsv"), "--to", fmt, "-o", str(target)]
        )
        assert result.exit_code == 0, result.output
        assert target.is_file()
    assert (tmp_path / "p.cami").read_text().startswith("@SampleID:emu_sample")
    default = runner.invoke(app, ["export", str(out / "profile.tsv"), "--to", "cami"])
    assert default.exit_code == 0, default.output
    assert (out / "profile.export.cami.txt").is_file()


def test_export_refuses_an_existing_out_and_force_replaces_only_gutbrain_files(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    out = tmp_path / "imp"
    table = FIX / "emu_sample_rel-abundance.tsv"
    assert runner.invoke(app, ["import", str(table), "-o", str(out)]).exit_code == 0
    for fmt in ("cami", "biom", "tsv"):
        target = tmp_path / f"p.{fmt}"
        args = ["export", str(out / "profile.tsv"), "--to", fmt, "-o", str(target)]
        assert runner.invoke(app, args).exit_code == 0
        again = runner.invoke(app, args)
        assert isinstance(again.exception, OutputExistsError)
        assert again.exception.code == "GB-EXISTS"
        assert runner.invoke(app, [*args, "--force"]).exit_code == 0  # gutbrain wrote it
    mine = tmp_path / "mine.txt"
    mine.write_text("a spreadsheet I typed", encoding="utf-8")
    args = ["export", str(out / "profile.tsv"), "--to", "cami", "-o", str(mine), "--force"]
    refused = runner.invoke(app, args)
    assert isinstance(refused.exception, OutputExistsError)
    assert refused.exception.code == "GB-NOT-OURS"
    assert mine.read_text(encoding="utf-8") == "a spreadsheet I typed"


def test_export_unknown_format_is_usage_error() -> None:
    result = CliRunner().invoke(
        app, ["export", str(FIX / "kraken2_sample.kreport"), "--to", "xlsx"]
    )
    assert result.exit_code == 2
    assert "xlsx" in result.output


@pytest.mark.filterwarnings("ignore::gutbrain.errors.LowDepthWarning")
def test_diversity_outputs(tmp_path: Path) -> None:
    out = tmp_path / "div"
    result = CliRunner().invoke(
        app,
        [
            "diversity",
            str(FIX / "counts_genus_good.tsv"),
            str(FIX / "percent_good.tsv"),
            "--rank",
            "genus",
            "--out",
            str(out),
        ],
    )
    # two inputs with the same sample IDs S1, S2 -> refused
    assert result.exit_code != 0
    result = CliRunner().invoke(
        app, ["diversity", str(FIX / "all_zero_sample.tsv"), "--rank", "genus", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert list(alpha.index) == ["S1", "S3"]
    assert alpha.loc["S1", "observed"] == 2
    summary = json.loads((out / "diversity.json").read_text())
    assert summary["copy_number_corrected"] is False
    assert summary["values"] == "read counts"
    assert summary["metrics"]["shannon_log_base"] == "e"
    bc = pd.read_csv(out / "beta_bray_curtis.tsv", sep="\t", index_col=0)
    # S1 = 10/15, 5/15 ; S3 = 3/4, 1/4 -> BC = |2/3-3/4| = 1/12
    assert bc.loc["S1", "S3"] == pytest.approx(1 / 12)


def test_diversity_copy_number_correction_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "div"
    result = CliRunner().invoke(
        app,
        [
            "diversity",
            str(FIX / "kraken2_sample.kreport"),
            str(FIX / "emu_sample_rel-abundance.tsv"),
            str(FIX / "bracken_sample.bracken"),
            "--copy-number-correction",
            "--db",
            str(FIX / "rrndb_tiny.tsv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "diversity.json").read_text())
    assert summary["copy_number_corrected"] is True
    assert "rrndb_tiny.tsv" in summary["copy_number_source"]
    assert summary["values"] == "abundances"
    assert (out / "pcoa_bray_curtis.tsv").is_file()


def test_diversity_copy_number_needs_db() -> None:
    result = CliRunner().invoke(
        app,
        ["diversity", str(FIX / "kraken2_sample.kreport"), "--copy-number-correction", "-o", "x"],
    )
    assert result.exit_code == 2
    assert "--db" in result.output


def test_diversity_rarefy_without_counts_exit_65(tmp_path: Path) -> None:
    result = _run(
        "diversity",
        str(FIX / "percent_good.tsv"),
        "--rank",
        "genus",
        "--rarefy",
        "10",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "d"),
    )
    assert result.returncode == 65
    assert "integer read counts" in result.stderr


def test_diversity_with_hitdb_tree(tmp_path: Path, shared_dir: Path) -> None:
    base = shared_dir / "data" / "hitdb_human_intestinal_16s"
    table = tmp_path / "t.tsv"
    table.write_text(
        "taxon\tA\tB\tC\nFaecalibacterium\t10\t0\t4\nBacteroides\t5\t20\t4\nAkkermansia\t0\t3\t4\n"
    )
    out = tmp_path / "div"
    result = CliRunner().invoke(
        app,
        [
            "diversity",
            str(table),
            "--rank",
            "genus",
            "--tree",
            str(base / "HITdb.tre.gz"),
            "--tree-taxonomy",
            str(base / "HITdb_taxonomy_qiime.txt.gz"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert (alpha["faith_pd"] > 0).all()
    assert (out / "beta_weighted_unifrac.tsv").is_file()
    assert (out / "beta_unweighted_unifrac.tsv").is_file()


def test_diversity_rarefy_and_curve(tmp_path: Path) -> None:
    out = tmp_path / "div"
    result = CliRunner().invoke(
        app,
        [
            "diversity",
            str(FIX / "counts_genus_good.tsv"),
            "--rank",
            "genus",
            "--rarefy",
            "15",
            "--seed",
            "3",
            "--rarefaction-curve",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "diversity.json").read_text())
    assert summary["rarefied_depth"] == 15
    assert summary["seed"] == 3
    curve = pd.read_csv(out / "rarefaction.tsv", sep="\t")
    assert set(curve["sample"]) == {"S1", "S2"}
    assert curve["depth"].max() == 20
    assert curve.loc[curve["depth"] == 1, "observed_mean"].tolist() == [1.0, 1.0]


def test_diversity_copy_numbers_from_bundled_reference(tmp_path: Path) -> None:
    from gutbrain.reference.bundle import default_bundle_path

    out = tmp_path / "div"
    result = CliRunner().invoke(
        app,
        [
            "diversity",
            str(FIX / "emu_sample_rel-abundance.tsv"),
            str(FIX / "kraken2_sample.kreport"),
            "--copy-number-correction",
            "--db",
            str(default_bundle_path()),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "diversity.json").read_text())
    assert summary["copy_number_corrected"] is True
    assert summary["copy_number_source"].startswith("reference bundle ")


def test_diversity_outputs_quote_formula_like_sample_ids(tmp_path: Path) -> None:
    out = tmp_path / "div"
    result = CliRunner().invoke(
        app, ["diversity", str(FIX / "formula_ids.tsv"), "--rank", "genus", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    # a cell holding '"' is quoted by the TSV writer; readers unquote it and see the ' prefix
    alpha = pd.read_csv(out / "alpha.tsv", sep="\t", index_col=0)
    assert list(alpha.index) == ['\'=HYPERLINK("x")', "'+S2"]
    beta = pd.read_csv(out / "beta_bray_curtis.tsv", sep="\t", index_col=0)
    assert list(beta.columns) == ['\'=HYPERLINK("x")', "'+S2"]
    assert "\n'+S2\t" in (out / "alpha.tsv").read_text(encoding="utf-8")


def test_option_errors_are_usage_errors(tmp_path: Path) -> None:
    """Regression: these exited 65 (data error) from deep inside, after reading the tables."""
    table = str(FIX / "counts_genus_good.tsv")
    out = str(tmp_path / "d")
    cases = [
        (["import", table, "-o", out, "--format", "xlsx"], "'xlsx' is not auto or one of biom"),
        (
            ["diversity", table, "-o", out, "--rank", "genus", "--rarefy", "0", "--seed", "1"],
            "greater than or equal to 1",
        ),
        (["diversity", table, "-o", out, "--rank", "genus", "--rarefy", "10"], "need --seed"),
        (["diversity", table, "-o", out, "--rank", "genus", "--rarefaction-curve"], "need --seed"),
    ]
    for args, expected in cases:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        text = "".join(result.output.replace("│", "").split())  # Rich's box, wrapped
        assert "".join(expected.split()) in text
    assert not (tmp_path / "d").exists()


def test_diversity_records_every_input_even_with_the_same_name(tmp_path: Path) -> None:
    """Regression: inputs were keyed by file name, so a/profile.tsv hid b/profile.tsv."""
    for folder, sample in (("a", "s1"), ("b", "s2")):
        (tmp_path / folder).mkdir()
        text = (FIX / "counts_genus_good.tsv").read_text().splitlines()
        header = text[0].split("\t")
        (tmp_path / folder / "profile.tsv").write_text(
            "\n".join(
                ["\t".join([header[0], sample]), *(ln.split("\t")[0] + "\t5" for ln in text[1:])]
            )
            + "\n"
        )
    out = tmp_path / "d"
    result = CliRunner().invoke(
        app,
        ["diversity", str(tmp_path / "a" / "profile.tsv"), str(tmp_path / "b" / "profile.tsv"),
         "-o", str(out), "--rank", "genus"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    inputs = json.loads((out / "diversity.json").read_text())["inputs"]
    assert sorted(inputs) == [
        str(tmp_path / "a" / "profile.tsv"),
        str(tmp_path / "b" / "profile.tsv"),
    ]


def test_import_of_only_empty_samples_names_the_table(tmp_path: Path) -> None:
    """Regression: 'no profiles to write' named neither the table nor the reason."""
    result = _run("import", str(FIX / "all_zero_table.tsv"), "-o", str(tmp_path / "out"))
    assert result.returncode == 65, result.stderr
    assert "error[GB-TAB-ALLZERO]" in result.stderr
    assert "all_zero_table.tsv" in result.stderr
    assert not (tmp_path / "out").exists()


def test_out_folder_holding_an_input_is_refused(tmp_path: Path) -> None:
    """Regression: 'diversity imp/profile.tsv -o imp --force' deleted the input it had read."""
    runner = CliRunner()
    imported = tmp_path / "imp"
    result = runner.invoke(app, ["import", str(FIX / "counts_genus_good.tsv"), "-o", str(imported)])
    assert result.exit_code == 0, result.output
    profile = imported / "profile.tsv"
    for command in ("diversity", "import"):
        result = runner.invoke(app, [command, str(profile), "-o", str(imported), "--force"])
        assert result.exit_code == 2, result.output
    assert profile.is_file()
    assert (imported / "import.json").is_file()
