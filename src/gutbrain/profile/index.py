"""Cached minimap2 indexes of reference bundles, built once through :mod:`gutbrain.profile.align`.

Names and folders come from :mod:`gutbrain.reference.index`; the build itself needs mappy, so it
lives here, behind the one door to minimap2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from gutbrain.errors import ErrorCode, ReferenceDatabaseError
from gutbrain.profile.align import mappy_version, write_index
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.index import (
    check_preset,
    find_index,
    index_file_name,
    writable_index_folder,
)

__all__ = ["ensure_index"]

logger = logging.getLogger(__name__)


def ensure_index(
    bundle: ReferenceBundle,
    *,
    preset: str,
    k: int | None = None,
    w: int | None = None,
) -> Path:
    """Return the path of a cached minimap2 index of ``bundle``, building it once.

    The file name keys the manifest SHA-256, the mappy version, the preset, ``k`` and ``w``, so an
    index is reused while all of them are unchanged and rebuilt otherwise. Indexes live in the
    bundle's ``index/`` folder when it is writable (never inside the packaged default), else in
    :func:`~gutbrain.reference.index.index_cache_dir`. The build writes a temporary file and
    renames it.

    Raises
    ------
    ReferenceDatabaseError
        ``GB-REF-INDEX`` when ``preset`` is not one of
        :data:`~gutbrain.reference.index.MINIMAP2_PRESETS` or mappy cannot build a non-empty
        index.
    """
    check_preset(preset)
    key = index_file_name(bundle, preset=preset, mappy_version=mappy_version(), k=k, w=w)
    existing = find_index(bundle, key)
    if existing is not None:
        return existing
    return _build_index(bundle, writable_index_folder(bundle) / key, preset=preset, k=k, w=w)


def _build_index(
    bundle: ReferenceBundle, target: Path, *, preset: str, k: int | None, w: int | None
) -> Path:
    source = bundle.sequences_path
    if not source.is_file() or source.stat().st_size == 0:
        message = f"{source}: reference sequences are missing or empty; rebuild the bundle"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        logger.info("building minimap2 index of %s (%s) in %s", bundle.name, preset, target.parent)
        n_seq = write_index(source, tmp, preset=preset, k=k, w=w)
        if n_seq == 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            message = (
                f"{source}: minimap2 (mappy {mappy_version()}) built an empty index "
                f"(preset {preset}); the bundle's sequences are unusable"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
        if n_seq != bundle.n_sequences:
            message = (
                f"{source}: minimap2 indexed {n_seq} sequences but the taxonomy lists "
                f"{bundle.n_sequences}; rebuild the bundle"
            )
            raise ReferenceDatabaseError(message, code=ErrorCode.REF_INDEX)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return target
