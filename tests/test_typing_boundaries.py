"""No new ``Any`` at a module boundary: every public annotation that still holds one is listed.

A public annotation is a parameter, return or attribute annotation of a public function, class,
method or module attribute of a public module (no ``_`` prefix in the module path or the name)
under ``src/gutbrain``. Each remaining one is in :data:`ALLOWED` with the reason it stays. A new
one fails the test; one removed from the code (another change typed it) is simply no longer
found, so removing is always allowed: delete its entry when you see it in the "stale" hint.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import gutbrain

SRC = Path(gutbrain.__file__).parent

_JSON = "a JSON document or JSON-ready tree of any shape"
_DASK = "a Dask Worker: distributed is untyped"
_TREE = "scikit-bio TreeNode, an untyped third-party class (skbio has no stubs)"
_PROVENANCE = "provenance parameters: per-source settings of varying shape, stored as JSON"
_MAPPY = "a mappy.Aligner: mappy stays behind profile/align.py and has no stubs"
_SQLA = "SQLAlchemy TypeDecorator hook signature (typed Any by SQLAlchemy itself)"

#: "module:qualified name(parameter)" or "module:qualified name->" (return) -> why it stays Any.
ALLOWED: dict[str, str] = {
    "gutbrain.__init__:__getattr__->": "module __getattr__ returns the lazily loaded entry point",
    "gutbrain.io.answers:MarkerEntry.read(entry)": _JSON + " (one parsed marker entry)",
    "gutbrain.io.answers:MarkerEntry.measurement->": "MarkerValue keyword arguments of mixed types",
    "gutbrain.io.jsonfile:dumps_json(data)": _JSON,
    "gutbrain.io.jsonfile:jsonable(value)": _JSON,
    "gutbrain.io.jsonfile:jsonable->": _JSON,
    "gutbrain.io.jsonfile:write_json(data)": _JSON,
    "gutbrain.io.tables.biom:profiles_to_biom->": "a biom.Table (biom-format has no stubs)",
    "gutbrain.io.tables.profile:profile_to_dict->": _JSON + " (a profile as JSON)",
    "gutbrain.io.tables.profile:profile_from_dict(data)": _JSON + " (parsed profile JSON)",
    "gutbrain.profile.aligners:Aligners.aligner": _MAPPY,
    "gutbrain.profile.aligners:Aligners.rescue": _MAPPY,
    "gutbrain.profile.assemble:profile_provenance(parameters)": _PROVENANCE,
    "gutbrain.profile.collect:Collected.pair_parameters->": _PROVENANCE,
    "gutbrain.profile.settings:ProfileSettings.as_dict->": _PROVENANCE,
    "gutbrain.cli.__init__:__getattr__->": "module __getattr__ returns whichever attribute",
    "gutbrain.cohort.associate:AssociationResult.permanova": _JSON + " (PERMANOVA summary)",
    "gutbrain.cohort.associate:AssociationResult.settings": _JSON + " (method settings)",
    "gutbrain.cohort.associate:AssociationResult.summary->": _JSON,
    "gutbrain.cohort.worker_setup:dask_setup(worker)": _DASK,
    "gutbrain.ecology.alpha:faith_pd(tree)": _TREE,
    "gutbrain.ecology.beta:unifrac(tree)": _TREE,
    "gutbrain.ecology.beta:beta_diversity(tree)": _TREE,
    "gutbrain.ecology.summary:diversity_summary(tree)": _TREE,
    "gutbrain.ecology.tree:read_tree->": _TREE,
    "gutbrain.ecology.tree:taxon_tree(tree)": _TREE,
    "gutbrain.ecology.tree:taxon_tree->": _TREE,
    "gutbrain.ecology.tree:check_taxa_in_tree(tree)": _TREE,
    "gutbrain.profile.align:AlignmentSettings.aligner_options->": "mappy.Aligner keyword args",
    "gutbrain.profile.align:AlignmentSettings.as_dict->": _PROVENANCE,
    "gutbrain.profile.align:HitTable.take(index)": "numpy fancy index (slice, mask or array)",
    "gutbrain.profile.kmer_screen:ScreenSettings.as_dict->": _PROVENANCE,
    "gutbrain.reference.bundle:ReferenceBundle.manifest": _JSON + " (manifest.json)",
    "gutbrain.reference.bundle:build_bundle(extra)": _JSON + " (extra manifest fields)",
    "gutbrain.reference.bundle:build_bundle(builder)": _JSON + " (builder description)",
    "gutbrain.reference.groups:SpeciesGroups.method": _JSON + " (grouping method settings)",
    "gutbrain.result:ResultProvenance.parameters": _PROVENANCE,
    "gutbrain.web.db.models:UTCDateTime.process_bind_param->": _SQLA,
    "gutbrain.web.db.models:UTCDateTime.process_result_value(value)": _SQLA,
    "gutbrain.web.timeline:summary_from_result(result_json)": _JSON + " (result.json)",
}


def _mentions_any(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return "Any" in node.value
    return any(
        (isinstance(n, ast.Name) and n.id == "Any")
        or (isinstance(n, ast.Attribute) and n.attr == "Any")
        for n in ast.walk(node)
    )


def _public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _function(
    module: str, node: ast.FunctionDef | ast.AsyncFunctionDef, owner: str
) -> Iterator[str]:
    args = node.args
    for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
        if arg is not None and _mentions_any(arg.annotation):
            yield f"{module}:{owner}{node.name}({arg.arg})"
    if _mentions_any(node.returns):
        yield f"{module}:{owner}{node.name}->"


def public_any_annotations(root: Path = SRC) -> list[str]:
    """Every public annotation under ``root`` that mentions ``Any`` (see the module docstring)."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue  # a private module is no boundary
        module = ".".join(parts)
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _public(node.name):
                found.extend(_function(module, node, ""))
            elif isinstance(node, ast.ClassDef) and _public(node.name):
                for member in node.body:
                    if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                        if _public(member.name):
                            found.extend(_function(module, member, f"{node.name}."))
                    elif (
                        isinstance(member, ast.AnnAssign)
                        and isinstance(member.target, ast.Name)
                        and _public(member.target.id)
                        and _mentions_any(member.annotation)
                    ):
                        found.append(f"{module}:{node.name}.{member.target.id}")
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and _public(node.target.id)
                and _mentions_any(node.annotation)
            ):
                found.append(f"{module}:{node.target.id}")
    return found


def test_no_new_any_at_a_module_boundary() -> None:
    found = public_any_annotations()
    new = sorted(set(found) - set(ALLOWED))
    stale = sorted(set(ALLOWED) - set(found))
    assert not new, (
        f"new public annotation(s) with Any: {new}; give them a real type (a dataclass, a "
        "TypedDict, a Protocol) or, if Any is unavoidable, add them to ALLOWED with the reason"
        + (f" (entries no longer found, safe to delete: {stale})" if stale else "")
    )


def test_every_allowed_any_has_a_reason() -> None:
    assert all(reason.strip() for reason in ALLOWED.values())


def test_the_scan_finds_any_in_every_position(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "_private").mkdir(parents=True)
    (package / "_private" / "m.py").write_text("def f(x: Any) -> Any: ...\n")
    (package / "m.py").write_text(
        "from typing import Any\n"
        "import typing\n"
        "X: dict[str, Any] = {}\n"
        "def f(a: int, *args: Any, b: 'Mapping[str, Any]', **kw: int) -> typing.Any: ...\n"
        "def _hidden(x: Any) -> Any: ...\n"
        "class C:\n"
        "    field: list[Any]\n"
        "    _private: Any\n"
        "    def method(self, x: int) -> dict[str, Any]: ...\n"
        "    def _helper(self, x: Any) -> None: ...\n"
        "class _Hidden:\n"
        "    field: Any\n"
        "def typed(x: int, y: 'Anything') -> str: ...\n"
    )
    assert public_any_annotations(package) == [
        "pkg.m:X",
        "pkg.m:f(args)",
        "pkg.m:f(b)",
        "pkg.m:f->",
        "pkg.m:C.field",
        "pkg.m:C.method->",
    ]
