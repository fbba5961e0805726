"""Clinical alert rules as a knowledge table: cited, graded, complete, and never silently empty.

The rules live in ``gutbrain/data/knowledge/alert_rules.tsv`` (built by
``scripts/build_knowledge.py``); sources and grades of fixed findings and recommendations in
``statements.tsv``. No source id or grade may be written into clinical/ or workflow/ code.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.clinical import safety
from gutbrain.clinical.questionnaires import score_answers
from gutbrain.clinical.safety import safety_alerts
from gutbrain.errors import InputFormatError, InputMissingError
from gutbrain.io.answers import Answers
from gutbrain.io.knowledge import load_knowledge

REPO = Path(__file__).resolve().parents[2]
KNOWLEDGE = REPO / "src" / "gutbrain" / "data" / "knowledge"
_SOURCE_ID = re.compile(r"S\d{3}")


def _literals(path: Path) -> list[str]:
    """Source-id strings and literal ``grade=`` / ``source_ids=`` arguments in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and _SOURCE_ID.fullmatch(text.strip()):
            found.append(f"{path.name}:{getattr(node, 'lineno', '?')}: {text!r}")
        if isinstance(node, ast.keyword) and node.arg in {"grade", "source_ids"}:
            value = node.value
            items = value.elts if isinstance(value, ast.Tuple | ast.List) else [value]
            if items and all(isinstance(x, ast.Constant) for x in items):
                found.append(f"{path.name}:{node.lineno}: {node.arg}={ast.unparse(value)}")
    return found


def test_no_source_id_or_grade_literal_in_clinical_or_workflow_code() -> None:
    files = sorted((REPO / "src" / "gutbrain" / "clinical").glob("*.py"))
    files += sorted((REPO / "src" / "gutbrain" / "workflow").glob("*.py"))
    assert len(files) > 5
    found = [hit for path in files for hit in _literals(path)]
    assert found == []


def test_literal_finder_finds_literals(tmp_path: Path) -> None:
    """The grep above can fail: it sees the shapes that were in safety.py before the table."""
    path = tmp_path / "example.py"
    path.write_text(
        'Alert(source_ids=("S045", "S043"), grade="B")\nRecommendation(grade="C")\n',
        encoding="utf-8",
    )
    assert len(_literals(path)) == 5  # two ids, the tuple, two grades


def _tsv(name: str) -> list[dict[str, str]]:
    with (KNOWLEDGE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _guide_grades(shared_dir: Path) -> set[str]:
    text = (shared_dir / "knowledge" / "guide.md").read_text(encoding="utf-8")
    section = text.split("## Evidence grades", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\* \*\*([A-Z])\*\*", section, flags=re.MULTILINE))


@pytest.mark.parametrize("name", ["alert_rules.tsv", "statements.tsv"])
def test_rows_cite_known_sources_and_grades_from_the_guide(name: str, shared_dir: Path) -> None:
    grades = _guide_grades(shared_dir)
    assert grades == {"A", "B", "C"}
    known = {r["source_id"] for r in _tsv("sources.tsv")}
    rows = _tsv(name)
    assert rows
    for row in rows:
        ids = [s for s in row["source_id"].split(";") if s]
        if row.get("test") == "outside_assay_range":  # cites the marker's own rows
            assert ids == []
            assert row["evidence_grade"] == ""
            continue
        assert ids, row
        assert set(ids) <= known, row
        assert row["evidence_grade"] in grades, row


def test_thresholds_are_the_guides() -> None:
    """guide.md "When to advise seeing a clinician", rule by rule."""
    rules = {(r.alert_id, r.subject): r for r in load_knowledge().alert_rules}
    expected = {
        ("crisis-phq9-item9", "phq9.item9"): ("crisis", 0),
        ("prompt-phq9", "phq9"): ("prompt", 20),
        ("advise-phq9", "phq9"): ("advise", 10),
        ("prompt-gad7", "gad7"): ("prompt", 15),
        ("advise-gad7", "gad7"): ("advise", 10),
        ("advise-bowel-symptoms", "ibs_sss"): ("advise", 300),
        ("info-under-18", "age"): ("info", 18),
        ("urgent-alarm-features", "unexplained_weight_loss+abdominal_pain"): ("urgent", 40),
        ("urgent-alarm-features", "unexplained_rectal_bleeding"): ("urgent", 50),
        ("urgent-alarm-features", "iron_deficiency_anaemia"): ("urgent", 60),
        ("urgent-alarm-features", "change_in_bowel_habit"): ("urgent", 60),
        ("urgent-alarm-features", "severe_bloody_diarrhoea"): ("urgent", None),
    }
    for key, (level, threshold) in expected.items():
        assert (rules[key].level, rules[key].threshold) == (level, threshold), key
    assert rules[("prompt-calprotectin", "calprotectin")].bands == ("above_200",)
    assert rules[("advise-calprotectin", "calprotectin")].bands == ("50_to_200",)
    assert rules[("urgent-fit", "fit")].bands == ("10_or_more",)
    assert set(rules[("advise-elastase", "elastase")].bands) == {"below_100", "100_to_200"}


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    return folder


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "alert_rules.tsv"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _drop(folder: Path, rule_id: str) -> None:
    path = folder / "alert_rules.tsv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [x for x in lines if not x.startswith(rule_id + "\t")]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (
            lambda f: _drop(f, "AR001"),
            r"alert_rules\.tsv: no rule for alert\(s\) crisis-phq9-item9",
        ),
        (lambda f: _drop(f, "AR021"), r"no rule for alert\(s\) info-under-18"),
        (lambda f: _edit(f, "\tcrisis\tphq9.item9", "\tsevere\tphq9.item9"), r":2: .*'level'"),
        (lambda f: _edit(f, "S045;S043", "S045;S999"), r":2: source 'S999' is not in sources"),
        (lambda f: _edit(f, "S045;S043\tB", "S045;S043\tD"), r":2: .*'evidence_grade'"),
        (lambda f: _edit(f, "item_above\t0", "item_above\tzero"), r"'AR001': threshold 'zero'"),
        (lambda f: _edit(f, "item_above\t0", "item_above\t"), r"'AR001': a item_above rule"),
        (lambda f: _edit(f, "\titem_above\t", "\titem_over\t"), r":2: column 'test'"),
        (lambda f: _edit(f, "S045;S043\tB\tcrisis", "S045;S043\tB"), r":2: .*number of cells"),
        (lambda f: _edit(f, "\tunless\t", "\tunles\t"), r":1: column\(s\) unless missing"),
        (lambda f: _edit(f, "S041;S042\tB", ""), r":3: "),
        (
            lambda f: _edit(
                f, "bowel habit\tS042\tB\tred-flags", "bowel habit\tS042\tC\tred-flags"
            ),
            r"'AR010' and rule 'AR009' make alert 'prompt-red-flags' but differ in grade",
        ),
        (lambda f: (f / "alert_rules.tsv").write_text("", encoding="utf-8"), r"missing"),
    ],
)
def test_corrupted_rules_table_fails_loudly(corrupt: object, match: str, tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    corrupt(folder)  # type: ignore[operator]
    with pytest.raises(InputFormatError, match=match) as info:
        load_knowledge(folder)
    assert info.value.code == "GB-KNOWLEDGE"


def test_missing_rules_or_statements_table_fails_loudly(tmp_path: Path) -> None:
    for name in ("alert_rules.tsv", "statements.tsv"):
        folder = _copy(tmp_path / name)
        (folder / name).unlink()
        with pytest.raises(InputMissingError, match=name):
            load_knowledge(folder)


def test_statements_table_checked(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / "statements.tsv"
    path.write_text(path.read_text(encoding="utf-8").replace("S082", "S999"), encoding="utf-8")
    with pytest.raises(InputFormatError, match=r"statements\.tsv:\d+: source 'S999'"):
        load_knowledge(folder)


def test_statement_row_missing_is_an_error_not_an_uncited_finding() -> None:
    kb = load_knowledge()
    with pytest.raises(InputFormatError, match=r"statements\.tsv has no row 'no-such-finding'"):
        kb.citation("no-such-finding")


def test_rule_safety_cannot_evaluate_is_an_error_not_no_alerts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kb = load_knowledge()
    rules = list(kb.alert_rules)
    rules[0] = dataclasses.replace(rules[0], wording="no-such-wording")
    broken = dataclasses.replace(kb, alert_rules=tuple(rules))
    monkeypatch.setattr(safety, "load_knowledge", lambda: broken)
    with pytest.raises(InputFormatError, match="'AR001': no wording 'no-such-wording'"):
        safety_alerts(answers=None)
    rules[0] = dataclasses.replace(kb.alert_rules[3], subject="unexplained_weight_loss+typo")
    broken = dataclasses.replace(kb, alert_rules=tuple(rules))
    monkeypatch.setattr(safety, "load_knowledge", lambda: broken)
    with pytest.raises(InputFormatError, match="unknown symptom"):
        safety_alerts(answers=None)


_ITEMS = st.lists(st.integers(0, 3), min_size=9, max_size=9)


@settings(max_examples=200, deadline=None)
@given(phq9=_ITEMS, gad7=st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_questionnaire_ladders_fire_one_rung(phq9: list[int], gad7: list[int]) -> None:
    """PHQ-9 >= 20 prompt, else >= 10 advise; GAD-7 >= 15 prompt, else >= 10 advise (guide.md)."""
    answers = Answers.model_validate({"phq9": phq9, "gad7": gad7})
    ids = {
        a.alert_id
        for a in safety_alerts(
            answers=answers, questionnaires=score_answers(answers, load_knowledge())
        )
    }
    for name, total, prompt in (("phq9", sum(phq9), 20), ("gad7", sum(gad7), 15)):
        rung = "prompt" if total >= prompt else "advise" if total >= 10 else None
        fired = {x.split("-")[0] for x in ids if x.endswith(f"-{name}")}
        assert fired == ({rung} if rung else set()), (name, total, ids)
    assert ("crisis-phq9-item9" in ids) is (phq9[8] > 0)
