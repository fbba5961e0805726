"""Give freed heap memory back to the operating system between the profiler's stages.

Building an index or screening a batch allocates and frees many blocks. glibc's ``malloc``
keeps freed small blocks in its heap, so the process's resident set stays at the stage's peak
and the next stage's peak lands on top of it (measured: a cold k-mer index build of the
5,173-sequence benchmark reference left 32 MiB resident beyond its 4 MiB of arrays; after
``malloc_trim(0)`` it was gone). :func:`release_freed_memory` calls ``malloc_trim(0)`` where
the C library has it (glibc) and does nothing elsewhere; it frees nothing that is in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

__all__ = ["release_freed_memory"]

logger = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return trim


def release_freed_memory() -> bool:
    """Return freed heap pages to the operating system; ``True`` when the C library could.

    Examples
    --------
    >>> release_freed_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
