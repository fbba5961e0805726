"""Safe file handling shared by every reader and writer.

Writes are atomic: data goes to a temporary file in the destination folder, is flushed and
fsynced, then renamed over the final name, so a reader sees the old file or the new one, never a
half-written one. Folders are built under a ``.partial-*`` name and renamed whole; a folder that
replaces another is swapped in with one atomic exchange (Linux ``renameat2``), or, where that is
not available, with two renames whose leftover (``.NAME.old-PID-*``) is restored on the next write.

Temporary names carry the writer's process ID (``.NAME.partial-PID-XXXX``), so leftovers of a
killed run are recognised as gutbrain's own and swept by the next write to the same path, while a
concurrent writer's files are left alone.

Replacing (``--force``) is allowed only for what gutbrain wrote (:func:`check_replaceable`): an
empty folder, a folder holding a top-level JSON file that gutbrain marked (``provenance.json``,
``import.json``, ``diversity.json``, a bundle's ``manifest.json``), or a regular file whose first
or last 64 KiB carry gutbrain's mark (``"gutbrain_version"`` in JSON, the ``generator`` meta tag
in HTML, ``@__program__:gutbrain`` in CAMI, ``generated-by`` in BIOM) or that starts with
gutbrain's profile-table header. Symbolic links, devices and anything else are refused, so
``--force`` never deletes a user's own file.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gutbrain.errors import ErrorCode, InputMissingError, OutputError, OutputExistsError

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_input_file",
    "check_output_path",
    "check_replaceable",
    "partial_file",
    "process_alive",
    "resolve_path",
    "sha256_file",
    "sweep_leftovers",
    "sweep_partials",
    "written_by_gutbrain",
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
        why = "a symbolic-link loop" if exc.errno == errno.ELOOP else exc.strerror
        message = f"{p}: cannot be read ({why})"
        raise InputMissingError(message) from None
    if not stat.S_ISREG(mode):
        message = f"{p}: not a regular file (a folder, pipe or device); give a file path"
        raise InputMissingError(message)
    if not os.access(p, os.R_OK):
        message = f"{p}: permission denied; make the file readable"
        raise InputMissingError(message)
    return p


def resolve_path(path: str | Path) -> Path:
    """``Path(path).resolve()``, with a symbolic-link loop reported as a missing input.

    Raises
    ------
    InputMissingError
        When following the links of ``path`` never ends (Python 3.11 raises ``RuntimeError``,
        later versions ``OSError`` with ``ELOOP``).
    """
    p = Path(path)
    try:
        return p.resolve()
    except (RuntimeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.ELOOP:
            raise
        message = f"{p}: cannot be read (a symbolic-link loop); fix or remove the link"
        raise InputMissingError(message) from None


def sha256_file(path: str | Path, *more: str | Path) -> str:
    """Return the hex SHA-256 of a file's bytes, read in 1 MiB chunks (bounded memory).

    Further paths in ``more`` are hashed after the first, as if the files were one (an Emu
    database folder's name digest covers its two files).

    Examples
    --------
    >>> import hashlib, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_bytes(b"ab")
    >>> _ = (folder / "b").write_bytes(b"c")
    >>> sha256_file(folder / "a", folder / "b") == hashlib.sha256(b"abc").hexdigest()
    True
    """
    digest = hashlib.sha256()
    for name in (path, *more):
        with open(name, "rb") as handle:
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_leftovers(target.parent, name=target.name)
        with partial_file(target) as (fd, tmp):
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except OSError as exc:
        message = f"{target}: cannot write ({exc.strerror or exc}); check space and permissions"
        raise OutputError(message) from exc
    return target


@contextlib.contextmanager
def partial_file(target: Path) -> Iterator[tuple[int, Path]]:
    """A new, empty ``.NAME.partial-PID-TOKEN`` file beside ``target``: its descriptor and path.

    The caller writes through the descriptor and renames the file over ``target``; a file still
    there on the way out (an error, Ctrl-C) is deleted. The name is chosen before the file is
    created, so an interrupt that lands just after its creation still finds it: with
    ``tempfile.mkstemp`` the name reached the caller only when the call returned, and a Ctrl-C
    in between left the file behind (seen once in the cohort store's SIGINT test).
    """
    tmp = _partial_path(target)
    ours = True
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            ours = False  # another writer's file (the same process ID and 64 random bits)
            raise
        yield fd, tmp
    finally:
        if ours:
            with contextlib.suppress(OSError):  # gone once renamed over the target
                os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _partial_path(target: Path) -> Path:
    """A new temporary name beside ``target``: ``.NAME.partial-PID-TOKEN`` (64 random bits)."""
    return target.parent / f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(8)}"


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+")
_HEAD_BYTES = 1 << 16
_PROFILE_HEADER = b"sample\trank\ttaxon\t"
#: What every file gutbrain writes carries near its start (a path that merely contains the word
#: "gutbrain" does not count).
_MARKS = (
    b'"gutbrain_version"',  # result, provenance, import, diversity, read-QC JSON
    b'<meta name="generator" content="gutbrain',  # HTML reports
    b"@__program__:gutbrain",  # CAMI profiles
    b'"gutbrain-reference',  # reference bundle manifests
)
_HDF5_MARK = re.compile(rb"gutbrain \d")  # BIOM 2.1: generated-by "gutbrain <version>"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this process included), whoever owns it."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _remove(leftover: Path) -> None:
    """Delete a leftover file or folder, ignoring one that is already gone."""
    if leftover.is_dir():
        shutil.rmtree(leftover, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            leftover.unlink()


def sweep_leftovers(folder: str | Path, *, name: str | None = None) -> int:
    """Clean up after gutbrain runs that were killed; return how many leftovers were handled.

    A ``.NAME.partial-PID-*`` file or folder whose process is gone is removed. A
    ``.NAME.old-PID-*`` folder (a replaced output, kept while its successor was renamed in) is
    renamed back to ``NAME`` when ``NAME`` is missing, else removed. Leftovers of running
    processes and names gutbrain does not make are left alone. ``name`` limits the sweep to one
    output.
    """
    base = Path(folder)
    handled = 0
    try:
        entries = list(base.iterdir()) if name is None else list(base.glob(f".{name}.*-*-*"))
    except OSError:
        return 0
    for leftover in sorted(entries):
        match = _LEFTOVER.fullmatch(leftover.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if process_alive(int(match["pid"])) or leftover.is_symlink():
            continue
        final = base / match["name"]
        if match["kind"] == "old" and leftover.is_dir() and not final.exists():
            with contextlib.suppress(OSError):
                os.replace(leftover, final)
                handled += 1
            continue
        _remove(leftover)
        handled += 1
    return handled


def _names_gutbrain(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
            size = handle.seek(0, os.SEEK_END)
            if size > _HEAD_BYTES:  # a result JSON carries its provenance at the end
                handle.seek(max(size - _HEAD_BYTES, _HEAD_BYTES))
                head += b"\n" + handle.read(_HEAD_BYTES)
    except OSError:
        return False
    return (
        head.startswith(_PROFILE_HEADER)
        or any(mark in head for mark in _MARKS)
        or (head.startswith(b"\x89HDF") and _HDF5_MARK.search(head) is not None)
    )


def written_by_gutbrain(path: str | Path) -> bool:
    """True when ``path`` is an output gutbrain wrote (module notes): it may be replaced."""
    p = Path(path)
    try:
        mode = p.lstat().st_mode
    except OSError:
        return False
    if stat.S_ISREG(mode):
        return _names_gutbrain(p)
    if not stat.S_ISDIR(mode):
        return False
    try:
        children = list(p.iterdir())
    except OSError:
        return False
    if not children:
        return True
    return any(
        child.suffix == ".json"
        and not child.is_symlink()
        and child.is_file()
        and _names_gutbrain(child)
        for child in children
    )


def check_replaceable(path: str | Path) -> None:
    """Refuse to replace ``path`` unless gutbrain wrote it (see the module notes).

    Raises
    ------
    OutputExistsError
        ``GB-NOT-OURS`` when ``path`` exists and is not a gutbrain output.
    """
    p = Path(path)
    if not (p.exists() or p.is_symlink()) or written_by_gutbrain(p):
        return
    message = (
        f"{p}: exists and was not written by gutbrain, so --force will not delete it; "
        "remove it yourself or choose another --out"
    )
    raise OutputExistsError(message, code=ErrorCode.NOT_OURS)


def check_output_path(
    path: str | Path, *, replace: bool, inputs: tuple[str | Path | None, ...] = ()
) -> Path:
    """Check an output path before any work: not an input, absent unless ``replace``.

    The parent folder is created when the output is written (as ``export`` always did).

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``replace`` is false (``GB-EXISTS``), or it was not written by
        gutbrain (``GB-NOT-OURS``), or it is one of ``inputs`` (``GB-OUT-IS-INPUT``).
    """
    target = Path(path)
    resolved = resolve_path(target)
    for source in inputs:
        if source is not None and resolve_path(source) == resolved:
            message = f"{target}: is an input of this command; choose another --out"
            raise OutputExistsError(message, code=ErrorCode.OUT_IS_INPUT)
    if target.exists() or target.is_symlink():
        if not replace:
            message = f"{target}: already exists; choose another --out or pass --force"
            raise OutputExistsError(message)
        check_replaceable(target)
    return target


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where not supported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    return bool(done == 0)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target``, replacing what is there, leaving no gap."""
    if _exchange(tmp, target):  # ``tmp`` now holds the replaced output
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    # A crash here leaves the old output at ``old``; the next write to ``target`` restores it.
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name, then rename it to ``path``.

    Yields the temporary folder to fill. On an exception (also Ctrl-C) the temporary folder is
    removed and ``path`` is untouched. With ``replace=True`` an existing ``path`` is swapped out
    only after the new folder is complete, and only when gutbrain wrote it
    (:func:`check_replaceable`). Leftovers of an earlier killed write to ``path`` are cleaned up
    first (:func:`sweep_leftovers`).

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``replace`` is false, or it is not a gutbrain output.
    OutputError
        When the folder cannot be written.
    """
    target = Path(path)
    with contextlib.suppress(OSError):
        if target.parent.is_dir():
            sweep_leftovers(target.parent, name=target.name)
    if target.exists() or target.is_symlink():
        if not replace:
            message = f"{target}: already exists; choose another path or allow replacing it"
            raise OutputExistsError(message)
        check_replaceable(target)
    # named before it exists, as in partial_file: a Ctrl-C just after os.mkdir still removes it
    tmp = _partial_path(target)
    ours = True
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(tmp, 0o700)
        except OSError as exc:
            ours = not isinstance(exc, FileExistsError)  # never remove another writer's folder
            message = f"{target}: cannot create ({exc.strerror or exc})"
            raise OutputError(message) from exc
        yield tmp
        if target.exists() or target.is_symlink():
            _swap_in(tmp, target)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        if ours:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def sweep_partials(folder: str | Path) -> int:
    """Remove every ``.*.partial-*`` leftover in ``folder`` (a locked store); return the count."""
    removed = 0
    base = Path(folder)
    if not base.is_dir():
        return 0
    for leftover in base.glob(".*.partial-*"):
        _remove(leftover)
        removed += 1
    return removed
