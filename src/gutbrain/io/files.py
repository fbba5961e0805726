"""Safe file handling shared by every reader and writer.

Writes are atomic: data goes to a temporary file in the destination folder, is flushed and
fsynced, then renamed over the final name, so a reader sees the old file or the new one, never a
half-written one. Folders are built under a ``.partial-*`` name and renamed whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gutbrain.errors import InputMissingError, OutputError, OutputExistsError

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_input_file",
    "sha256_file",
    "sweep_partials",
]

_CHUNK = 1 << 20


def check_input_file(path: str | Path) -> Path:
    """Return ``path`` as a :class:`Path` if it names a readable regular file.

    Raises
    ------
    InputMissingError
        When the path does not exist, is a folder, a FIFO or a device, or cannot be read.
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        message = f"{p}: no such file; check the path"
        raise InputMissingError(message) from None
    except OSError as exc:
        message = f"{p}: cannot be read ({exc.strerror})"
        raise InputMissingError(message) from None
    if not stat.S_ISREG(mode):
        message = f"{p}: not a regular file (a folder, pipe or device); give a file path"
        raise InputMissingError(message)
    if not os.access(p, os.R_OK):
        message = f"{p}: permission denied; make the file readable"
        raise InputMissingError(message)
    return p


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    Raises
    ------
    OutputError
        When the folder cannot be written (missing, read-only, disk full).
    """
    target = Path(path)
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        message = f"{target}: cannot write ({exc.strerror or exc}); check space and permissions"
        raise OutputError(message) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return target


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name, then rename it to ``path``.

    Yields the temporary folder to fill. On an exception the temporary folder is removed and
    ``path`` is untouched. With ``replace=True`` an existing ``path`` is swapped out only after
    the new folder is complete.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``replace`` is false.
    OutputError
        When the folder cannot be written.
    """
    target = Path(path)
    if target.exists() and not replace:
        message = f"{target}: already exists; choose another path or allow replacing it"
        raise OutputExistsError(message)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        message = f"{target}: cannot create ({exc.strerror or exc})"
        raise OutputError(message) from exc
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sweep_partials(folder: str | Path) -> int:
    """Remove ``.*.partial-*`` leftovers of interrupted writes in ``folder``; return the count."""
    removed = 0
    base = Path(folder)
    if not base.is_dir():
        return 0
    for leftover in base.glob(".*.partial-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                leftover.unlink()
        removed += 1
    return removed
