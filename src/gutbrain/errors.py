"""The gutbrain error tree.

Every error gutbrain raises on purpose derives from :class:`GutbrainError`. Subclasses are chosen
by what the caller can do about the problem, and mix in the matching builtin::

    GutbrainError
    ├── InputFormatError (ValueError)        a user's file is malformed           exit 65
    │   └── EmptyInputError                  a file holds no records              exit 65
    ├── InputMissingError (FileNotFoundError) a named input cannot be opened      exit 66
    ├── ReferenceDatabaseError               the reference bundle is unusable     exit 78
    ├── ValidationError (ValueError)         questionnaire/marker value invalid   exit 65
    ├── OptionError (ValueError)             an option or setting is invalid      exit 65
    ├── OutputError (OSError)                an output cannot be written          exit 74
    │   └── OutputExistsError                an output exists, may not be replaced exit 73
    ├── ExternalToolError (RuntimeError)     a tool we drive failed               exit 70
    ├── StoreBusyError                       a store is held by another process   exit 75
    └── DuplicateError (ValueError)          an email or upload exists already    exit 65

Every error carries a stable ``code``, a member of :class:`ErrorCode` (``GB-…``), so messages,
logs and the web layer agree. docs/errors.md says what each code means and what to do; a test
keeps the two in step. Warnings have their own categories below.
"""

from __future__ import annotations

from enum import StrEnum
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
    "ErrorCode",
    "ExternalToolError",
    "GutbrainError",
    "GutbrainWarning",
    "InputFormatError",
    "InputMissingError",
    "InputWarning",
    "LowDepthWarning",
    "OptionError",
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


class ErrorCode(StrEnum):
    """The stable code of every error gutbrain raises (``GB-…``), with the class that raises it.

    A member's value is the code as printed (``gutbrain: error[GB-FQ-QLEN] …``) and stored; as a
    :class:`~enum.StrEnum` it compares equal to that string. ``error_class`` names the class
    raised with it (one error per condition); the web layer's ``UploadError`` may carry any
    code with an HTTP status. docs/errors.md lists what each code means and what to do.

    >>> ErrorCode.FQ_QLEN == "GB-FQ-QLEN", ErrorCode("GB-FQ-QLEN").error_class
    (True, 'InputFormatError')
    """

    _value_: str
    error_class: str

    def __new__(cls, code: str, error_class: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.error_class = error_class
        return member

    # GutbrainError (exit 70): the base; a bug if ever shown
    ERROR = "GB-ERROR", "GutbrainError"
    # InputFormatError (exit 65): a user's file is malformed
    INPUT = "GB-INPUT", "InputFormatError"
    DUPLICATE_KEY = "GB-DUPLICATE-KEY", "InputFormatError"
    ENCODING = "GB-ENCODING", "InputFormatError"
    TOO_LARGE = "GB-TOO-LARGE", "InputFormatError"
    KNOWLEDGE = "GB-KNOWLEDGE", "InputFormatError"
    FMT_UNKNOWN = "GB-FMT-UNKNOWN", "InputFormatError"
    FQ_ALPHA = "GB-FQ-ALPHA", "InputFormatError"
    FQ_BLANK = "GB-FQ-BLANK", "InputFormatError"
    FQ_BOM = "GB-FQ-BOM", "InputFormatError"
    FQ_CR = "GB-FQ-CR", "InputFormatError"
    FQ_DUPID = "GB-FQ-DUPID", "InputFormatError"
    FQ_HDR = "GB-FQ-HDR", "InputFormatError"
    FQ_IDLEN = "GB-FQ-IDLEN", "InputFormatError"
    FQ_LINELEN = "GB-FQ-LINELEN", "InputFormatError"
    FQ_MIXED = "GB-FQ-MIXED", "InputFormatError"
    FQ_PHRED64 = "GB-FQ-PHRED64", "InputFormatError"
    FQ_PLUS = "GB-FQ-PLUS", "InputFormatError"
    FQ_PLUSID = "GB-FQ-PLUSID", "InputFormatError"
    FQ_QCHAR = "GB-FQ-QCHAR", "InputFormatError"
    FQ_QLEN = "GB-FQ-QLEN", "InputFormatError"
    FQ_TRUNC = "GB-FQ-TRUNC", "InputFormatError"
    GZ_CORRUPT = "GB-GZ-CORRUPT", "InputFormatError"
    GZ_CRC = "GB-GZ-CRC", "InputFormatError"
    GZ_TRAIL = "GB-GZ-TRAIL", "InputFormatError"
    GZ_TRUNC = "GB-GZ-TRUNC", "InputFormatError"
    PAIR_COUNT = "GB-PAIR-COUNT", "InputFormatError"
    PAIR_ID = "GB-PAIR-ID", "InputFormatError"
    QC_NOREADS = "GB-QC-NOREADS", "InputFormatError"
    TAB_BIOM = "GB-TAB-BIOM", "InputFormatError"
    TAB_DUPSAMPLE = "GB-TAB-DUPSAMPLE", "InputFormatError"
    TAB_DUPTAXON = "GB-TAB-DUPTAXON", "InputFormatError"
    TAB_EMPTYSAMPLE = "GB-TAB-EMPTYSAMPLE", "InputFormatError"
    TAB_ENCODING = "GB-TAB-ENCODING", "InputFormatError"
    TAB_FORMAT = "GB-TAB-FORMAT", "InputFormatError"
    TAB_GZIP = "GB-TAB-GZIP", "InputFormatError"
    TAB_MEMBERS = "GB-TAB-MEMBERS", "InputFormatError"
    TAB_MIXED = "GB-TAB-MIXED", "InputFormatError"
    TAB_NEEDS_TAXONOMY = "GB-TAB-NEEDS-TAXONOMY", "InputFormatError"
    TAB_NEG = "GB-TAB-NEG", "InputFormatError"
    TAB_NONFINITE = "GB-TAB-NONFINITE", "InputFormatError"
    TAB_NOTCOUNT = "GB-TAB-NOTCOUNT", "InputFormatError"
    TAB_NUM = "GB-TAB-NUM", "InputFormatError"
    TAB_RAGGED = "GB-TAB-RAGGED", "InputFormatError"
    TAB_SIZE = "GB-TAB-SIZE", "InputFormatError"
    TAB_SUM = "GB-TAB-SUM", "InputFormatError"
    TAB_TAXONOMY = "GB-TAB-TAXONOMY", "InputFormatError"
    TAB_TRANSPOSED = "GB-TAB-TRANSPOSED", "InputFormatError"
    TREE = "GB-TREE", "InputFormatError"
    RESULT = "GB-RESULT", "InputFormatError"
    RESULT_VERSION = "GB-RESULT-VERSION", "InputFormatError"
    STORE = "GB-STORE", "InputFormatError"
    SQL = "GB-SQL", "InputFormatError"
    # EmptyInputError (exit 65): an input holds no records
    EMPTY = "GB-EMPTY", "EmptyInputError"
    FQ_EMPTY = "GB-FQ-EMPTY", "EmptyInputError"
    NO_READ_FILES = "GB-NO-READ-FILES", "EmptyInputError"
    TAB_ALLZERO = "GB-TAB-ALLZERO", "EmptyInputError"
    # InputMissingError (exit 66): a named input cannot be opened
    NOINPUT = "GB-NOINPUT", "InputMissingError"
    # ReferenceDatabaseError (exit 78): the reference bundle is unusable
    REF = "GB-REF", "ReferenceDatabaseError"
    REF_CHANGED = "GB-REF-CHANGED", "ReferenceDatabaseError"
    REF_COPY = "GB-REF-COPY", "ReferenceDatabaseError"
    REF_DUPID = "GB-REF-DUPID", "ReferenceDatabaseError"
    REF_EMPTY = "GB-REF-EMPTY", "ReferenceDatabaseError"
    REF_FETCH = "GB-REF-FETCH", "ReferenceDatabaseError"
    REF_FORMAT = "GB-REF-FORMAT", "ReferenceDatabaseError"
    REF_GROUPS = "GB-REF-GROUPS", "ReferenceDatabaseError"
    REF_ID = "GB-REF-ID", "ReferenceDatabaseError"
    REF_INDEX = "GB-REF-INDEX", "ReferenceDatabaseError"
    REF_MANIFEST = "GB-REF-MANIFEST", "ReferenceDatabaseError"
    REF_NAME = "GB-REF-NAME", "ReferenceDatabaseError"
    REF_NOTAX = "GB-REF-NOTAX", "ReferenceDatabaseError"
    REF_NOTFOUND = "GB-REF-NOTFOUND", "ReferenceDatabaseError"
    REF_OFFLINE = "GB-REF-OFFLINE", "ReferenceDatabaseError"
    REF_SEQ = "GB-REF-SEQ", "ReferenceDatabaseError"
    REF_SEQFILE = "GB-REF-SEQFILE", "ReferenceDatabaseError"
    REF_TAX = "GB-REF-TAX", "ReferenceDatabaseError"
    REF_TREE = "GB-REF-TREE", "ReferenceDatabaseError"
    # ValidationError (exit 65): a questionnaire answer or marker value is invalid
    VALUE = "GB-VALUE", "ValidationError"
    Q_LABEL = "GB-Q-LABEL", "ValidationError"
    Q_RANGE = "GB-Q-RANGE", "ValidationError"
    Q_SHAPE = "GB-Q-SHAPE", "ValidationError"
    M_DATE = "GB-M-DATE", "ValidationError"
    M_SHAPE = "GB-M-SHAPE", "ValidationError"
    M_UNIT = "GB-M-UNIT", "ValidationError"
    M_VALUE = "GB-M-VALUE", "ValidationError"
    # OptionError (exit 65): an option or setting is out of range or contradictory
    OPTION = "GB-OPTION", "OptionError"
    PROFILE_OPTIONS = "GB-PROFILE-OPTIONS", "OptionError"
    QC_SETTINGS = "GB-QC-SETTINGS", "OptionError"
    # OutputError (exit 74) and OutputExistsError (exit 73): an output cannot be written
    OUTPUT = "GB-OUTPUT", "OutputError"
    NOSPACE = "GB-NOSPACE", "OutputError"
    EXISTS = "GB-EXISTS", "OutputExistsError"
    NOT_OURS = "GB-NOT-OURS", "OutputExistsError"
    OUT_IS_INPUT = "GB-OUT-IS-INPUT", "OutputExistsError"
    # ExternalToolError (exit 70), StoreBusyError (exit 75)
    TOOL = "GB-TOOL", "ExternalToolError"
    BUSY = "GB-BUSY", "StoreBusyError"
    # DuplicateError (exit 65): an email or upload exists already
    DUPLICATE = "GB-DUPLICATE", "DuplicateError"
    DUPLICATE_EMAIL = "GB-DUPLICATE-EMAIL", "DuplicateError"
    DUPLICATE_UPLOAD = "GB-DUPLICATE-UPLOAD", "DuplicateError"
    # web.uploads.UploadError (exit 65; HTTP 400, 403, 413, 415, 422 or 507): an upload refused
    UPLOAD = "GB-UPLOAD", "UploadError"
    UPLOAD_FORM = "GB-UPLOAD-FORM", "UploadError"
    UPLOAD_SAMPLES = "GB-UPLOAD-SAMPLES", "UploadError"
    UPLOAD_TOO_LARGE = "GB-UPLOAD-TOO-LARGE", "UploadError"
    UPLOAD_TYPE = "GB-UPLOAD-TYPE", "UploadError"
    GZ_BOMB = "GB-GZ-BOMB", "UploadError"
    CSRF = "GB-CSRF", "UploadError"
    # cli: cohort run's outcome (exit 3, 130/143), gutbrain serve's setup (exit 78)
    SAMPLES_FAILED = "GB-SAMPLES-FAILED", "SamplesFailedError"
    INTERRUPTED = "GB-INTERRUPTED", "RunInterruptedError"
    SERVE = "GB-SERVE", "PortalSetupError"


class GutbrainError(Exception):
    """Base of every error gutbrain raises on purpose."""

    code: str = ErrorCode.ERROR
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

    code = ErrorCode.INPUT
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

    code = ErrorCode.EMPTY


class InputMissingError(GutbrainError, FileNotFoundError):
    """A named input does not exist, is not a regular file, or cannot be read."""

    code = ErrorCode.NOINPUT
    exit_code = EX_NOINPUT


class ReferenceDatabaseError(GutbrainError):
    """The reference bundle is missing, inconsistent or was changed after it was built."""

    code = ErrorCode.REF
    exit_code = EX_CONFIG


class ValidationError(GutbrainError, ValueError):
    """A questionnaire answer or stool-marker value is out of range or malformed."""

    code = ErrorCode.VALUE
    exit_code = EX_DATAERR


class OptionError(GutbrainError, ValueError):
    """An option or setting is out of range or contradicts another.

    A command-line option or keyword argument, not a file's content: a profile option, a read-QC
    threshold, a worker count, a cohort method or output format.
    """

    code = ErrorCode.OPTION
    exit_code = EX_DATAERR


class OutputError(GutbrainError, OSError):
    """An output file or directory cannot be created or written (disk full, permissions)."""

    code = ErrorCode.OUTPUT
    exit_code = EX_IOERR


class OutputExistsError(OutputError):
    """An output already exists and the caller did not allow replacing it."""

    code = ErrorCode.EXISTS
    exit_code = EX_CANTCREAT


class ExternalToolError(GutbrainError, RuntimeError):
    """A tool gutbrain drives failed."""

    code = ErrorCode.TOOL
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

    code = ErrorCode.BUSY
    exit_code = EX_TEMPFAIL


class DuplicateError(GutbrainError, ValueError):
    """An account with this email, or this very file for this person, exists already.

    The web portal refuses it before anything is stored (``GB-DUPLICATE-EMAIL``,
    ``GB-DUPLICATE-UPLOAD``).
    """

    code = ErrorCode.DUPLICATE
    exit_code = EX_DATAERR


class GutbrainWarning(UserWarning):
    """Base of gutbrain's warning categories."""


class InputWarning(GutbrainWarning):
    """A user's input is unusual but usable (e.g. duplicate read IDs renamed on request)."""


class LowDepthWarning(GutbrainWarning):
    """A sample has too few reads for a stable estimate."""


class UnvalidatedScoreWarning(GutbrainWarning):
    """A score rests on evidence or coverage too thin to be shown without a caveat."""
