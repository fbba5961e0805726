"""House rules that hold for the whole package."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import gutbrain

SRC = Path(gutbrain.__file__).parent


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(SRC)], prefix="gutbrain."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_") or info.ispkg:
            continue
        names.append(info.name)
    return sorted(names)


def test_every_public_module_declares_all_and_its_names_exist() -> None:
    missing = []
    for name in _public_modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            missing.append(f"{name}: no __all__")
            continue
        missing.extend(
            f"{name}: {item} in __all__ but undefined"
            for item in exported
            if not hasattr(module, item)
        )
    assert missing == []


def test_library_never_reads_gutbrain_environment_outside_cli() -> None:
    # The domain receives plain values; only the cli (and later web) layer reads settings.
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(("cli/", "web/")):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and (node.value.startswith("GUTBRAIN_"))
            ):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_every_module_uses_future_annotations() -> None:
    lacking = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if path.stat().st_size > 0
        and path.name != "__main__.py"
        and "def " in (text := path.read_text(encoding="utf-8"))
        and "from __future__ import annotations" not in text
    ]
    assert lacking == []


def test_only_profile_align_imports_mappy() -> None:
    # mappy stays behind one door; reference/ and io/ never build a minimap2 index themselves.
    importers = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "mappy" for name in names):
                importers.append(path.relative_to(SRC).as_posix())
    assert sorted(set(importers)) == ["profile/align.py"]
