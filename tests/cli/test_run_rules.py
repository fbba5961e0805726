"""Issue 12 rules 6 and 7 via the entry point: alerts first on stderr, tables read right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.errors import EX_DATAERR
from gutbrain.workflow.interpret import CRISIS_WITHOUT_CONTACT

DATA = Path(__file__).parents[1] / "workflow" / "data"
GENUS_TABLE = DATA / "genus_table.tsv"
CRISIS = DATA / "answers_crisis.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "500"},
        timeout=600,
    )


def _result(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return data


def test_run_prints_the_crisis_alert_on_stderr_before_anything_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(
        "run", "--table", str(GENUS_TABLE), "--sample-id", "example_a", "--answers", str(CRISIS),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith("ALERT (crisis): If you are thinking about harming yourself")
    # progress bars and the summary come after the alert
    assert done.stderr.index("ALERT (crisis)") < done.stderr.index("Checking inputs")
    assert "no crisis contact is configured" in done.stderr
    assert CRISIS_WITHOUT_CONTACT in _result(out)["warnings"]  # type: ignore[operator]


def test_run_takes_crisis_contacts_and_then_does_not_warn(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(
        "run", "--table", str(GENUS_TABLE), "--sample-id", "example_a", "--answers", str(CRISIS),
        "--crisis-contact", "Samaritans (UK): 116 123", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("ALERT (crisis)")
    assert "Samaritans (UK): 116 123" in done.stderr
    assert "no crisis contact is configured" not in done.stderr
    result = _result(out)
    assert CRISIS_WITHOUT_CONTACT not in result["warnings"]  # type: ignore[operator]
    crisis = result["alerts"][0]  # type: ignore[index]
    assert "Samaritans (UK): 116 123" in crisis["message"]


def test_run_without_alerts_prints_no_alert(tmp_path: Path) -> None:
    done = _run(
        "run", "--table", str(GENUS_TABLE), "--sample-id", "example_a", "--no-progress",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ALERT" not in done.stderr


def test_run_red_flags_print_a_prompt_alert(tmp_path: Path) -> None:
    answers = tmp_path / "a.yaml"
    answers.write_text(
        "schema: gutbrain-answers/1\nage: 30\nsymptoms:\n  unexplained_weight_loss: true\n"
        "  change_in_bowel_habit: true\n",
        encoding="utf-8",
    )
    done = _run(
        "run", "--table", str(GENUS_TABLE), "--sample-id", "example_a", "--answers",
        str(answers), "--no-progress", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("ALERT (prompt): Weight loss with a change in bowel habit")


@pytest.fixture
def enterotype(shared_dir: Path) -> Path:
    return shared_dir / "data" / "phyloseq_enterotype_arumugam2011" / "enterotype_otu_table.tsv.gz"


def test_run_table_reads_a_genus_only_table_at_genus_rank(enterotype: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = _run(
        "run", "--table", str(enterotype), "--sample-id", "AM.AD.1", "--no-progress",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = _result(out)
    profile = result["profile"]
    assert "species" not in profile["ranks"]  # type: ignore[index]
    assert "genus" in profile["ranks"]  # type: ignore[index]
    genera = {t["name"] for t in profile["top_taxa"]["genus"]}  # type: ignore[index]
    assert "Faecalibacterium" in genera
    assert not any(name.endswith("aceae") for name in genera)  # families sit at family rank
    butyrate = next(g for g in result["guilds"] if g["guild_id"] == "butyrate")  # type: ignore[attr-defined]
    assert butyrate["computable"]
    # Faecalibacterium alone is 2.07 % of this sample (the table's own value)
    assert butyrate["value"] >= 0.0206
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "No taxa were reported" not in html


def test_guilds_not_computable_rather_than_zero_when_the_rank_is_too_coarse(
    tmp_path: Path,
) -> None:
    table = tmp_path / "families.tsv"
    table.write_text(
        "taxon\ts1\nLachnospiraceae\t40\nRuminococcaceae\t30\nBacteroidaceae\t30\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    done = _run("run", "--table", str(table), "--no-progress", "--out", str(out))
    assert done.returncode == 0, done.stderr
    guilds = {g["guild_id"]: g for g in _result(out)["guilds"]}  # type: ignore[attr-defined]
    assert guilds["butyrate"]["computable"] is False
    assert guilds["butyrate"]["value"] is None
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-guild-value="0.0"' not in html


@pytest.mark.parametrize("command", ["import", "run"])
def test_asv_ids_without_taxonomy_are_refused(
    shared_dir: Path, tmp_path: Path, command: str
) -> None:
    folder = shared_dir / "data" / "lras_human_fecal_fulllength16s_asvs"
    out = tmp_path / "out"
    args = [str(folder / "lras_fecal_asv_counts.tsv.gz"), "--out", str(out)]
    if command == "run":
        args = ["--table", *args, "--sample-id", "R_3.1"]
    done = _run(command, *args)
    assert done.returncode == EX_DATAERR
    assert "GB-TAB-NEEDS-TAXONOMY" in done.stderr
    assert "--taxonomy" in done.stderr
    assert "ASV0001" in done.stderr
    assert not out.exists()


def test_run_table_takes_taxonomy_rank_and_format(shared_dir: Path, tmp_path: Path) -> None:
    folder = shared_dir / "data" / "lras_human_fecal_fulllength16s_asvs"
    out = tmp_path / "out"
    done = _run(
        "run", "--table", str(folder / "lras_fecal_asv_counts.tsv.gz"),
        "--taxonomy", str(folder / "lras_fecal_asv_taxonomy_silva128.tsv.gz"),
        "--format", "tsv", "--sample-id", "R_3.1", "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _result(out)["sample_id"] == "R_3.1"
    forced = tmp_path / "forced"
    done = _run(
        "run", "--table", str(GENUS_TABLE), "--rank", "genus", "--sample-id", "example_a",
        "--no-progress", "--out", str(forced),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "genus" in _result(forced)["profile"]["ranks"]  # type: ignore[index]
    bad = _run("run", "--table", str(GENUS_TABLE), "--rank", "strain", "--out", str(tmp_path / "b"))
    assert bad.returncode == 2


def test_interpret_prints_alerts_on_stderr_and_warns_without_contact(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = _run(
        "interpret", str(GENUS_TABLE), "--sample", "example_a", "--answers", str(CRISIS),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("ALERT (crisis)")
    assert "no crisis contact is configured" in done.stderr
    assert "ALERT" not in done.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert CRISIS_WITHOUT_CONTACT in data["warnings"]
