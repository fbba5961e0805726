"""Where a bundle's minimap2 indexes live and how they are named (no minimap2 here).

An index file name keys the bundle's manifest SHA-256, the mappy version, the preset, ``k`` and
``w``, so an index is reused while all of them are unchanged and rebuilt otherwise. Indexes live
in the bundle's ``index/`` folder when it is writable (never inside the packaged default), else
in :func:`index_cache_dir`. Building one needs minimap2, which only :mod:`gutbrain.profile`
touches: see :func:`gutbrain.profile.index.ensure_index`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.reference.bundle import (
    INDEX_FOLDER,
    ReferenceBundle,
    _xdg_dir,
    default_bundle_path,
)

__all__ = [
    "MINIMAP2_PRESETS",
    "check_preset",
    "find_index",
    "index_cache_dir",
    "index_file_name",
    "index_folders",
    "writable_index_folder",
]

logger = logging.getLogger(__name__)

#: minimap2 presets (``-x``) gutbrain accepts. mappy silently falls back to its defaults (those of
#: ``map-ont``) for an unknown name, so a typo would build a wrongly-named index: names are checked.
MINIMAP2_PRESETS: tuple[str, ...] = (
    "map-ont",
    "map-hifi",
    "map-pb",
    "map-iclr",
    "lr:hq",
    "lr:hqae",
    "asm5",
    "asm10",
    "asm20",
    "sr",
    "short",
    "splice",
    "splice:hq",
    "splice:sr",
    "cdna",
    "ava-ont",
    "ava-pb",
    "map10k",
)


def index_cache_dir() -> Path:
    """Fallback folder of minimap2 indexes: ``$XDG_CACHE_HOME/gutbrain/index`` (``~/.cache``)."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "index"


def check_preset(preset: str) -> None:
    """Raise ``GB-REF-INDEX`` unless ``preset`` is one of :data:`MINIMAP2_PRESETS`.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-INDEX`` for an unknown preset.
    """
    if preset not in MINIMAP2_PRESETS:
        message = (
            f"minimap2 preset {preset!r} is not one of {', '.join(MINIMAP2_PRESETS)} "
            "(mappy would silently use map-ont's settings instead)"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)


def index_file_name(
    bundle: ReferenceBundle,
    *,
    preset: str,
    mappy_version: str,
    k: int | None = None,
    w: int | None = None,
) -> str:
    """Return the cache file name of an index of ``bundle`` for these settings.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fake = SimpleNamespace(sha256="ab" * 32)
    >>> index_file_name(fake, preset="lr:hq", mappy_version="2.28", k=15)
    'abababababababab-mappy2.28-lr_hq-k15-wdefault.mmi'
    """
    version = re.sub(r"[^A-Za-z0-9.]", "_", mappy_version)
    return (
        f"{bundle.sha256[:16]}-mappy{version}-{preset.replace(':', '_')}"
        f"-k{k if k is not None else 'default'}-w{w if w is not None else 'default'}.mmi"
    )


def index_folders(bundle: ReferenceBundle) -> list[Path]:
    """Folders that may hold ``bundle``'s indexes, in the order they are searched."""
    candidates: list[Path] = []
    if bundle.path.resolve() != default_bundle_path().resolve():
        candidates.append(bundle.path / INDEX_FOLDER)
    candidates.append(index_cache_dir())
    return candidates


def find_index(bundle: ReferenceBundle, name: str) -> Path | None:
    """Return an existing, non-empty index file called ``name``, or ``None``."""
    for folder in index_folders(bundle):
        existing = folder / name
        if existing.is_file() and existing.stat().st_size > 0:
            logger.debug("reusing minimap2 index %s", existing)
            return existing
    return None


def _writable_folder(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def writable_index_folder(bundle: ReferenceBundle) -> Path:
    """Return the first of :func:`index_folders` that is writable (creating it).

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-INDEX`` when none is writable.
    """
    candidates = index_folders(bundle)
    writable = next((c for c in candidates if _writable_folder(c)), None)
    if writable is None:
        message = (
            f"cannot write a minimap2 index: neither {' nor '.join(map(str, candidates))} is "
            "writable; set XDG_CACHE_HOME to a writable folder"
        )
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    return writable
