"""Packaged knowledge tables: complete, cited, graded, current with the build script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gutbrain.errors import InputFormatError
from gutbrain.io.knowledge import load_knowledge

REPO = Path(__file__).resolve().parents[2]


def test_every_row_has_a_known_source_and_grade() -> None:
    kb = load_knowledge()
    assert len(kb.sources) == 80  # S046 (press release) and S071 (lab web pages) dropped
    assert len(kb.taxa) == 61
    rows = [
        *kb.taxa,
        *kb.guilds,
        *kb.diversity.values(),
        *kb.markers.values(),
        *kb.instruments.values(),
    ]
    for row in rows:
        assert row.source_ids, row
        assert all(s in kb.sources for s in row.source_ids)
        assert row.grade in {"A", "B", "C"}


def test_research_only_and_unverified_rows_are_not_shown() -> None:
    kb = load_knowledge()
    research = [t for t in kb.taxa if t.report_use == "research_only"]
    assert len(research) == 21  # counted in ../shared/knowledge/taxa.tsv
    assert not any(t.shown for t in research)
    assert not any(t.shown for t in kb.taxa if t.verification == "unverified")
    assert {t.knowledge_id for t in kb.taxa if t.shown} >= {"TX001", "TX031", "TX055"}


def test_gbm_definitions_not_shipped() -> None:
    folder = REPO / "src" / "gutbrain" / "data" / "knowledge"
    assert not (folder / "gbm_definitions.tsv").exists()
    assert len(load_knowledge().modules) == 56


def test_statements_are_our_wording(shared_dir: Path) -> None:
    # No packaged statement may copy an upstream summary sentence verbatim.
    import csv

    upstream: set[str] = set()
    for name, column in [
        ("taxa.tsv", "finding"),
        ("diversity_reference.tsv", "finding"),
        ("functions.tsv", "mechanism_summary"),
    ]:
        with (shared_dir / "knowledge" / name).open(encoding="utf-8") as handle:
            upstream |= {r[column].strip() for r in csv.DictReader(handle, delimiter="\t")}
    kb = load_knowledge()
    ours = [t.statement for t in kb.taxa] + [d.statement for d in kb.diversity.values()]
    ours += [g.statement for g in kb.guilds]
    assert not (set(filter(None, ours)) & upstream)


def test_build_script_output_is_current(shared_dir: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_knowledge.py"),
            "--check",
            "--source",
            str(shared_dir / "knowledge"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(REPO / "src" / "gutbrain" / "data" / "knowledge", folder)
    path = folder / "markers.tsv"
    text = path.read_text(encoding="utf-8").replace("\tS041\t", "\tS999\t")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"markers\.tsv:\d+: source 'S999'"):
        load_knowledge(folder)
