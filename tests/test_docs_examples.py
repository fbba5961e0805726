"""Every shell example in README.md and docs/*.md runs as written (issue 13: docs as tests).

Conventions the test understands:

* a fenced block whose info string is ``synopsis`` shows command syntax (``[--opt]``, ``A|B``),
  not a command, and is not run;
* in any other fenced block (no info string, ``sh``, ``bash``, ``shell``, ``console``) every
  line starting with ``gutbrain `` or ``$ gutbrain `` is a command; a trailing ``\\`` continues
  it on the next line; ``#`` starts a comment;
* an HTML comment ``<!-- doc-test: skip (reason) -->`` right before a fence skips that block.
  Blocks skipped that way are listed in ``SKIPPED`` below, so exceptions stay few and visible.

The commands of one file run in order, in one temporary folder prepared with the demo data:
``sample.fastq.gz`` (the bundled example reads), ``answers.yaml`` and ``markers.yaml`` (the
bundled examples), ``sample_rel-abundance.tsv`` (an Emu table), ``ref.fasta.gz`` and
``ref_taxonomy.tsv`` (the bundled reference), ``samples.tsv`` (a cohort sheet of 12 profiles with
PHQ9, age and sex), ``out/profile.tsv``, ``docs/templates`` and ``../shared`` (the shared data).
"""

from __future__ import annotations

import os
import random
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gutbrain.io.tables import read_table
from gutbrain.io.tables.profile import write_profile_tsv
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR_FOR_TESTS", REPO.parent / "shared"))
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLE = REPO / "src" / "gutbrain" / "data" / "example"
REFERENCE = REPO / "src" / "gutbrain" / "data" / "reference"
RUNNABLE = {"", "sh", "bash", "shell", "console"}
#: Blocks marked ``<!-- doc-test: skip ... -->`` (file: count); keep this list short.
SKIPPED: dict[str, int] = {}


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    argv: tuple[str, ...]


def extract(path: Path) -> tuple[list[Example], int]:
    """The commands of ``path`` and the number of blocks it marks as skipped."""
    examples: list[Example] = []
    skipped = 0
    lines = path.read_text(encoding="utf-8").splitlines()
    in_block = run_block = False
    pending: list[str] = []
    start = 0
    skip_next = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if not in_block:
                info = stripped[3:].strip()
                run_block = info in RUNNABLE and not skip_next
                skipped += int(skip_next)
                skip_next = False
            in_block = not in_block
            continue
        if not in_block:
            if re.fullmatch(r"<!-- doc-test: skip \(.+\) -->", stripped):
                skip_next = True
            continue
        if not run_block:
            continue
        text = line.rstrip()
        if not pending:
            if text.startswith("$ "):
                text = text[2:]
            if not text.startswith("gutbrain "):
                continue
            start = number
        pending.append(text.rstrip("\\").strip())
        if not text.endswith("\\"):
            argv = shlex.split(" ".join(pending), comments=True)
            examples.append(Example(path.name, start, tuple(argv)))
            pending = []
    return examples, skipped


def _profile(sample: str, rng: random.Random) -> Profile:
    genera = {
        "Faecalibacterium": ("Bacillota", "Clostridia", "Eubacteriales", "Oscillospiraceae"),
        "Bacteroides": ("Bacteroidota", "Bacteroidia", "Bacteroidales", "Bacteroidaceae"),
        "Prevotella": ("Bacteroidota", "Bacteroidia", "Bacteroidales", "Prevotellaceae"),
        "Roseburia": ("Bacillota", "Clostridia", "Eubacteriales", "Lachnospiraceae"),
        "Akkermansia": ("Verrucomicrobiota", "Verrucomicrobiia", "Verrucomicrobiales",
                        "Akkermansiaceae"),
        "Bifidobacterium": ("Actinomycetota", "Actinomycetes", "Bifidobacteriales",
                            "Bifidobacteriaceae"),
    }  # fmt: skip
    counts = {g: rng.randint(50, 2000) for g in genera}
    total = sum(counts.values())
    rows = tuple(
        TaxonRow(
            "genus",
            Lineage("Bacteria", *genera[g], genus=g),
            counts[g] / total,
            reads=float(counts[g]),
        )
        for g in genera
    )
    return Profile(
        sample_id=SampleId(sample),
        rows=rows,
        unassigned={"genus": 0.0},
        provenance=Provenance(gutbrain_version="test", source="docs-test"),
        total_reads=total,
    )


def _gutbrain(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gutbrain", "--quiet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def prepare_workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The folder the examples run in, and their environment (user data kept inside tmp)."""
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "COLUMNS": "200",
    }
    env = {k: v for k, v in env.items() if not k.startswith("GUTBRAIN_")}
    shutil.copy(EXAMPLE / "example_reads.fastq.gz", work / "sample.fastq.gz")
    shutil.copy(EXAMPLE / "answers.yaml", work / "answers.yaml")
    shutil.copy(EXAMPLE / "markers.yaml", work / "markers.yaml")
    tables = REPO / "tests" / "io" / "fixtures" / "tables"
    shutil.copy(tables / "emu_sample_rel-abundance.tsv", work / "sample_rel-abundance.tsv")
    shutil.copy(REFERENCE / "sequences.fasta.gz", work / "ref.fasta.gz")
    shutil.copy(REFERENCE / "taxonomy.tsv", work / "ref_taxonomy.tsv")
    (work / "docs").mkdir()
    (work / "docs" / "templates").symlink_to(REPO / "docs" / "templates")
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    (work / "out").mkdir()
    write_profile_tsv(read_table(work / "sample_rel-abundance.tsv"), work / "out" / "profile.tsv")
    rng = random.Random(13)
    (work / "profiles").mkdir()
    sheet = ["sample_id\tprofile\tPHQ9\tage\tsex"]
    for i in range(12):
        name = f"P{i:02d}"
        write_profile_tsv([_profile(name, rng)], work / "profiles" / f"{name}.tsv")
        sex = "female" if i % 2 else "male"
        sheet.append(
            f"{name}\tprofiles/{name}.tsv\t{rng.randint(0, 27)}\t{rng.randint(20, 70)}\t{sex}"
        )
    (work / "samples.tsv").write_text("\n".join(sheet) + "\n", encoding="utf-8")
    return work, env


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return prepare_workdir(tmp_path)


def _examples(doc: Path) -> list[Example]:
    return extract(doc)[0]


def test_examples_are_found_and_skips_are_listed() -> None:
    found = {doc.name: extract(doc) for doc in DOCS}
    assert len(found["README.md"][0]) >= 9
    assert {name: n for name, (_, n) in found.items() if n} == SKIPPED
    for examples, _ in found.values():
        for example in examples:
            joined = " ".join(example.argv)
            where = f"{example.doc}:{example.line} looks like syntax: mark its block ```synopsis"
            for mark in ("[", "|", "…"):
                assert mark not in joined, where


def _run_examples(examples: list[Example], workdir: tuple[Path, dict[str, str]]) -> None:
    work, env = workdir
    for example in examples:
        if any("../shared" in arg for arg in example.argv) and not SHARED.is_dir():
            pytest.skip(f"{example.doc}:{example.line} needs the shared data folder")
        done = _gutbrain(*example.argv[1:], cwd=work, env=env)
        assert done.returncode == 0, (
            f"{example.doc}:{example.line}: {' '.join(example.argv)} exited "
            f"{done.returncode}: {done.stderr.strip()[-1500:]}"
        )


def _is_cohort(example: Example) -> bool:
    return example.argv[1:2] == ("cohort",)


@pytest.mark.slow
@pytest.mark.parametrize("doc", [d for d in DOCS if _examples(d)], ids=lambda d: d.name)
def test_documented_commands_run_as_written(
    doc: Path, workdir: tuple[Path, dict[str, str]]
) -> None:
    _run_examples([e for e in _examples(doc) if not _is_cohort(e)], workdir)


@pytest.mark.slow
def test_readme_cohort_commands_run_as_written(workdir: tuple[Path, dict[str, str]]) -> None:
    cohort = [e for e in _examples(REPO / "README.md") if _is_cohort(e)]
    assert cohort
    _run_examples(cohort, workdir)
