"""Pin the public Python API: gutbrain.api's five entry points (a change here is an API change).

Parameter names and kinds are pinned, so renaming an option or making a keyword positional fails
here; the modules behind the entry points stay free to change.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import gutbrain
import gutbrain.api

P = inspect.Parameter.POSITIONAL_OR_KEYWORD
K = inspect.Parameter.KEYWORD_ONLY

#: name -> ((parameter, kind), ...) in signature order
API: dict[str, tuple[tuple[str, object], ...]] = {
    "load_bundle": (("path", P), ("verify", K)),
    "profile_sample": (
        ("read_paths", P),
        ("bundle", K),
        ("preset", K),
        ("threads", K),
        ("min_abundance", K),
        ("sample_id", K),
        ("confidence_intervals", K),
        ("progress", K),
        ("settings", K),
        ("read_assignments", K),
    ),
    "read_table": (
        ("path", P),
        ("format", K),
        ("taxonomy", K),
        ("rank", K),
        ("value_type", K),
    ),
    "interpret_profile": (
        ("profile", P),
        ("answers", K),
        ("markers", K),
        ("qc", K),
        ("run_info", K),
        ("knowledge", K),
        ("reference", K),
        ("ko_abundances", K),
        ("module_definitions", K),
        ("min_module_coverage", K),
        ("crisis_contacts", K),
    ),
    "run_sample": (
        ("read_paths", P),
        ("out_dir", K),
        ("answers", K),
        ("markers", K),
        ("db", K),
        ("preset", K),
        ("threads", K),
        ("sample_id", K),
        ("example", K),
        ("replace", K),
        ("progress", K),
        ("crisis_contacts", K),
    ),
}


def test_the_api_module_exports_exactly_the_entry_points() -> None:
    assert sorted(gutbrain.api.__all__) == sorted(API)
    assert sorted(n for n in gutbrain.__all__ if n != "__version__") == sorted(API)


@pytest.mark.parametrize("name", sorted(API))
def test_entry_point_parameters(name: str) -> None:
    function = getattr(gutbrain.api, name)
    parameters = inspect.signature(function).parameters.values()
    assert tuple((p.name, p.kind) for p in parameters) == API[name]
    assert function.__doc__, f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(API))
def test_the_package_re_exports_each_entry_point(name: str) -> None:
    assert getattr(gutbrain, name) is getattr(gutbrain.api, name)


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = gutbrain.no_such_name  # type: ignore[attr-defined]


def test_import_gutbrain_does_not_load_the_entry_points() -> None:
    # `gutbrain --help` and every module reading __version__ import the package: keep it light
    probe = (
        "import sys, gutbrain; "
        "print(sorted(m for m in ('gutbrain.api', 'gutbrain.workflow', 'gutbrain.profile', "
        "'numpy', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
