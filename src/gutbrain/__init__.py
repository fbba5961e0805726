"""gutbrain: from a stool sample's 16S reads to an evidence-graded picture of the gut-brain axis.

Not a diagnostic device: every finding is an association with a cited source and a grade.
The Python entry points (:mod:`gutbrain.api`) are importable from here; they load on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("gutbrain")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

#: the names of gutbrain.api, re-exported lazily (``import gutbrain`` stays light: the cli's
#: ``--help`` and every module reading ``__version__`` import this package)
_API = ("interpret_profile", "load_bundle", "profile_sample", "read_table", "run_sample")

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        # by name, not `from gutbrain import api`: the layers contract would otherwise see every
        # module that reads __version__ reaching up to the workflow layer through this package
        return getattr(importlib.import_module("gutbrain.api"), name)
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)
