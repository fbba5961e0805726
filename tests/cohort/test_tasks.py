"""The task records stand alone: sample and tasks never import the runner (no import circle)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import gutbrain.cohort

COHORT = Path(gutbrain.cohort.__file__).parent
PYPROJECT = COHORT.parents[2] / "pyproject.toml"


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_sample_and_tasks_do_not_import_the_runner() -> None:
    assert "gutbrain.cohort.runner" not in _imported_modules(COHORT / "sample.py")
    tasks_imports = _imported_modules(COHORT / "tasks.py")
    assert not {"gutbrain.cohort.runner", "gutbrain.cohort.sample"} & tasks_imports


def test_the_import_linter_contract_orders_runner_sample_tasks() -> None:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    inside = [c for c in contracts if c.get("containers") == ["gutbrain.cohort"]]
    assert [c["layers"] for c in inside] == [["runner", "sample", "tasks"]]
    assert inside[0]["type"] == "layers"


def test_runner_re_exports_the_task_records() -> None:
    from gutbrain.cohort import runner, tasks

    for name in ("SafetyNotice", "SampleError", "SampleFailure", "SampleOutcome", "SampleTask"):
        assert getattr(runner, name) is getattr(tasks, name)
