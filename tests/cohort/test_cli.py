"""End to end through the CLI: run (real per-sample path on tables), query, associate, report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gutbrain.cli import app
from gutbrain.cli.cohort import EXIT_SAMPLES_FAILED, SamplesFailedError
from gutbrain.cohort.simulate import recall_and_fdr, simulate_cohort, write_cohort_files
from gutbrain.cohort.store import open_store


def _flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


pytestmark = [pytest.mark.dask_distributed, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cohort_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, frozenset[str]]:
    folder = tmp_path_factory.mktemp("cli")
    sim = simulate_cohort(n_samples=40, n_taxa=30, n_shifted=4, effect=1.5, seed=11)
    meta = sim.metadata.rename(columns={"outcome": "PHQ9"})
    meta.loc["S00003", "PHQ9"] = float("nan")  # a missing outcome is dropped, not fatal
    meta["site"] = ["<b>a&b</b>" if i % 2 else "north" for i in range(len(meta))]
    sheet = write_cohort_files(sim.counts, meta, folder / "in")
    # one sample's table is broken: recorded as failed, the cohort goes on
    broken = folder / "in" / "profiles" / "S00007.profile.tsv"
    broken.write_text("sample\trank\ttaxon\tabundance\nS00007\tgenus\tX\tnot-a-number\n")
    store = folder / "store"
    result = CliRunner().invoke(
        app, ["cohort", "run", str(sheet), "--out", str(store), "--workers", "1"]
    )
    # a run with failed samples ends with GB-SAMPLES-FAILED (exit 3 through main())
    assert isinstance(result.exception, SamplesFailedError), result.output
    assert result.exception.exit_code == EXIT_SAMPLES_FAILED == 3
    assert "1 of 40 samples failed" in str(result.exception)
    assert "39 processed" in _flat(result.output)
    assert "1 failed" in _flat(result.output)
    return store, sim.shifted


def test_run_records_failure_and_alpha_scores(cohort_store: tuple[Path, frozenset[str]]) -> None:
    store, _ = cohort_store
    with open_store(store) as opened:
        records = opened.records()
        assert records["S00007"].status == "failed"
        assert str(records["S00007"].error_code).startswith("GB-")
        assert "S00007.profile.tsv" in str(records["S00007"].error_message)
        alpha = opened.read_scores(kind="alpha")
        assert set(alpha["sample_id"]) == {s for s in records if s != "S00007"}
        assert "shannon" in set(alpha["name"])
        guilds = opened.read_scores(kind="guild")  # from the interpretation of each sample
        assert "butyrate" in set(guilds["name"])
        assert len(guilds.loc[guilds["name"] == "butyrate"]) == 39
        from gutbrain.result import Result

        text = opened.read_result_json("S00001")  # the full interpretation is kept
        assert text is not None
        assert Result.model_validate_json(text).sample_id == "S00001"
        assert opened.read_result_json("S00007") is None  # failed sample


def test_rerun_skips_everything_done(cohort_store: tuple[Path, frozenset[str]]) -> None:
    store, _ = cohort_store
    sheet = store.parent / "in" / "sheet.tsv"
    result = CliRunner().invoke(app, ["cohort", "run", str(sheet), "--out", str(store)])
    assert isinstance(result.exception, SamplesFailedError), result.output
    # 39 unchanged; the broken sample is retried (and fails again)
    assert "39 unchanged (skipped), 1 failed" in _flat(result.output)


def test_query(cohort_store: tuple[Path, frozenset[str]]) -> None:
    store, _ = cohort_store
    result = CliRunner().invoke(
        app,
        [
            "cohort",
            "query",
            str(store),
            "SELECT count(DISTINCT sample_id) AS n FROM profiles",
            "--format",
            "tsv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["n", "39"]
    bad = CliRunner().invoke(app, ["cohort", "query", str(store), "SELECT nope FROM nowhere"])
    assert bad.exit_code != 0


def test_associate_and_report(cohort_store: tuple[Path, frozenset[str]], tmp_path: Path) -> None:
    store, shifted = cohort_store
    result = CliRunner().invoke(
        app,
        [
            "cohort",
            "associate",
            str(store),
            "--outcome",
            "PHQ9",
            "--covariates",
            "age",
            "--permutations",
            "99",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "38 samples" in _flat(result.output)  # 40 − failed − missing outcome
    with open_store(store) as opened:
        con = opened.connect_duckdb()
        called = {
            r[0]
            for r in con.execute(
                "SELECT feature FROM associations WHERE method_file = 'lm' AND qvalue <= 0.05"
            ).fetchall()
        }
    recall, fdp = recall_and_fdr(called, shifted)
    assert recall >= 0.75
    assert fdp <= 0.25
    out = tmp_path / "cohort.html"
    result = CliRunner().invoke(app, ["cohort", "report", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for section in (
        'id="qc"',
        'id="ordination"',
        "Volcano plot",
        "CLR + OLS",
        "ANCOM-BC",
        "Guild associations",
        "PERMANOVA",
    ):
        assert section in html
    assert len(re.findall(r"<circle", html)) >= 39 + 30  # ordination + volcano points
    assert "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "S00007" in html
    assert "GB-TAB" in html
    # each done sample links to its personal report, written beside the cohort report
    samples = tmp_path / "cohort-samples"
    assert '<a href="cohort-samples/S00001.html">S00001</a>' in html
    assert 'href="cohort-samples/S00007.html"' not in html  # failed: nothing to link
    assert len(list(samples.glob("*.html"))) == 39
    assert (samples.stat().st_mode & 0o777) == 0o700
    assert "section" in (samples / "S00001.html").read_text()


def test_associate_unknown_outcome(cohort_store: tuple[Path, frozenset[str]]) -> None:
    store, _ = cohort_store
    result = CliRunner().invoke(app, ["cohort", "associate", str(store), "--outcome", "GAD7"])
    assert result.exit_code != 0
    assert "GAD7" in str(result.exception) + result.output


def test_run_from_reads_with_bundled_reference(shared_dir: Path, tmp_path: Path) -> None:
    import gzip

    source = shared_dir / "bench" / "reads" / "gut_ont_5k.fastq.gz"
    with gzip.open(source, "rt") as handle:
        lines = [next(handle) for _ in range(4 * 160)]
    rows = ["sample_id\treads\tPHQ9"]
    for i in range(2):
        path = tmp_path / f"R{i}.fastq"
        path.write_text("".join(lines[i * 320 : (i + 1) * 320]))  # 80 reads each
        rows.append(f"R{i}\t{path.name}\t{5 + i}")
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app, ["cohort", "run", str(sheet), "--out", str(store), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "2 processed" in _flat(result.output)
    with open_store(store) as opened:
        qc = opened.read_scores(kind="qc").pivot(index="sample_id", columns="name", values="value")
        assert (qc["reads_in"] == 80).all()
        assert (qc["reads_kept"] > 0).all()
        genus = opened.read_profiles(rank="genus")
        assert set(genus["sample_id"]) == {"R0", "R1"}
        assert len(opened.read_scores(kind="guild")) > 0
