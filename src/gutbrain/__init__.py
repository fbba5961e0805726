"""gutbrain: from a stool sample's 16S reads to an evidence-graded picture of the gut-brain axis.

Not a diagnostic device: every finding is an association with a cited source and a grade.
The Python entry points (:mod:`gutbrain.api`) are importable from here; they load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

#: the names of gutbrain.api, re-exported lazily (``import gutbrain`` stays light: the cli's
#: ``--help`` and every module reading ``__version__`` import this package)
_API = ("interpret_profile", "load_bundle", "profile_sample", "read_table", "run_sample")

__all__ = ["__version__", *_API]


def _installed_version() -> str:
    # importlib.metadata costs ~0.1-0.2 s to import: it loads when a module first reads
    # __version__, not with the package (``python -m gutbrain`` imports this package before its
    # own Ctrl-C guard can run; see gutbrain.__main__)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gutbrain")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()["__version__"] = found = _installed_version()
        return found
    if name in _API:
        # by name, not `from gutbrain import api`: the layers contract would otherwise see every
        # module that reads __version__ reaching up to the workflow layer through this package
        return getattr(importlib.import_module("gutbrain.api"), name)
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)
