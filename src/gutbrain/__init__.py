"""gutbrain: from a stool sample's 16S reads to an evidence-graded picture of the gut-brain axis.

Not a diagnostic device: every finding is an association with a cited source and a grade.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gutbrain")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
