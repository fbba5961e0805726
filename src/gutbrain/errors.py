"""The gutbrain error tree.

Every error gutbrain raises on purpose derives from :class:`GutbrainError`. Subclasses are chosen
by what the caller can do about the problem, and mix in the matching builtin::

    GutbrainError
    ├── InputFormatError (ValueError)        a user's file is malformed           exit 65
    │   └── EmptyInputError                  a file holds no records              exit 65
    ├── InputMissingError (FileNotFoundError) a named input cannot be opened      exit 66
    ├── ReferenceDatabaseError               the reference bundle is unusable     exit 78
    ├── ValidationError (ValueError)         questionnaire/marker value invalid   exit 65
    ├── OutputError (OSError)                an output cannot be written          exit 74
    │   └── OutputExistsError                an output exists, may not be replaced exit 73
    ├── ExternalToolError (RuntimeError)     a tool we drive failed               exit 70
    ├── StoreBusyError                       a store is held by another process   exit 75
    └── DuplicateError (ValueError)          an email or upload exists already    exit 65

Every error carries a stable ``code`` (``GB-…``) so messages, logs and the web layer agree.
Warnings have their own categories below.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "EX_CANTCREAT",
    "EX_CONFIG",
    "EX_DATAERR",
    "EX_IOERR",
    "EX_NOINPUT",
    "EX_SOFTWARE",
    "EX_TEMPFAIL",
    "DuplicateError",
    "EmptyInputError",
    "ExternalToolError",
    "GutbrainError",
    "GutbrainWarning",
    "InputFormatError",
    "InputMissingError",
    "InputWarning",
    "LowDepthWarning",
    "OutputError",
    "OutputExistsError",
    "ReferenceDatabaseError",
    "StoreBusyError",
    "UnvalidatedScoreWarning",
    "ValidationError",
]

# sysexits-style exit codes (see docs/errors.md)
EX_DATAERR = 65
EX_NOINPUT = 66
EX_SOFTWARE = 70
EX_CANTCREAT = 73
EX_IOERR = 74
EX_TEMPFAIL = 75
EX_CONFIG = 78


class GutbrainError(Exception):
    """Base of every error gutbrain raises on purpose."""

    code: str = "GB-ERROR"
    exit_code: int = EX_SOFTWARE

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InputFormatError(GutbrainError, ValueError):
    """A user's input file is malformed.

    ``path`` names the file; ``line`` (1-based) and ``record`` (1-based) locate the problem when
    known. The message already contains them, so ``str(error)`` is a complete one-line report.
    """

    code = "GB-INPUT"
    exit_code = EX_DATAERR

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: int | None = None,
        code: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}:{line}")
        if record is not None:
            where.append(f"record {record}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{message}", code=code)


class EmptyInputError(InputFormatError):
    """An input file holds no records at all."""

    code = "GB-EMPTY"


class InputMissingError(GutbrainError, FileNotFoundError):
    """A named input does not exist, is not a regular file, or cannot be read."""

    code = "GB-NOINPUT"
    exit_code = EX_NOINPUT


class ReferenceDatabaseError(GutbrainError):
    """The reference bundle is missing, inconsistent or was changed after it was built."""

    code = "GB-REF"
    exit_code = EX_CONFIG


class ValidationError(GutbrainError, ValueError):
    """A questionnaire answer or stool-marker value is out of range or malformed."""

    code = "GB-VALUE"
    exit_code = EX_DATAERR


class OutputError(GutbrainError, OSError):
    """An output file or directory cannot be created or written (disk full, permissions)."""

    code = "GB-OUTPUT"
    exit_code = EX_IOERR


class OutputExistsError(OutputError):
    """An output already exists and the caller did not allow replacing it."""

    code = "GB-EXISTS"
    exit_code = EX_CANTCREAT


class ExternalToolError(GutbrainError, RuntimeError):
    """A tool gutbrain drives failed."""

    code = "GB-TOOL"
    exit_code = EX_SOFTWARE

    def __init__(
        self, message: str, *, command: str = "", returncode: int | None = None, stderr: str = ""
    ) -> None:
        self.command = command
        self.returncode = returncode
        self.stderr_tail = stderr[-2000:]
        super().__init__(message)


class StoreBusyError(GutbrainError):
    """A store is held by another process; retry later."""

    code = "GB-BUSY"
    exit_code = EX_TEMPFAIL


class DuplicateError(GutbrainError, ValueError):
    """An account with this email, or this very file for this person, exists already.

    The web portal refuses it before anything is stored (``GB-DUPLICATE-EMAIL``,
    ``GB-DUPLICATE-UPLOAD``).
    """

    code = "GB-DUPLICATE"
    exit_code = EX_DATAERR


class GutbrainWarning(UserWarning):
    """Base of gutbrain's warning categories."""


class InputWarning(GutbrainWarning):
    """A user's input is unusual but usable (e.g. duplicate read IDs renamed on request)."""


class LowDepthWarning(GutbrainWarning):
    """A sample has too few reads for a stable estimate."""


class UnvalidatedScoreWarning(GutbrainWarning):
    """A score rests on evidence or coverage too thin to be shown without a caveat."""
