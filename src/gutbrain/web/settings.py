"""Settings of the web portal: where its data lives, limits, and what the operator configures."""

from __future__ import annotations

from pathlib import Path

import pydantic

__all__ = ["PortalSettings"]


class PortalSettings(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Everything the portal reads from its operator (the ``gutbrain serve`` options).

    Parameters
    ----------
    data_dir
        Folder holding ``portal.db`` (the SQLite database, unless ``database_url`` says
        otherwise), ``uploads/``, ``results/`` and ``tmp/``.
    database_url
        ``None`` for SQLite in ``data_dir``; a ``postgresql://`` URL for PostgreSQL (psycopg 3).
    crisis_contacts
        Local crisis lines shown with the crisis alert. With none, the server warns at start.
    secure_cookies
        ``False`` only for plain-http local testing.
    session_hours
        Lifetime of a login session.
    max_reads_bytes, max_table_bytes, max_answers_bytes
        Size caps of one uploaded file of each kind (compressed bytes for reads).
    job_lease_seconds
        How long a worker holds a job without a heartbeat before the job counts as lost.
    job_max_attempts
        Attempts of one job: a job running when the server dies is retried until this many
        attempts were made, then failed with the reason.
    """

    data_dir: Path
    database_url: str | None = None
    crisis_contacts: tuple[str, ...] = ()
    secure_cookies: bool = True
    session_hours: float = pydantic.Field(default=12.0, gt=0)
    max_reads_bytes: int = pydantic.Field(default=2 * 1024**3, gt=0)
    max_table_bytes: int = pydantic.Field(default=50 * 1024**2, gt=0)
    max_answers_bytes: int = pydantic.Field(default=1024**2, gt=0)
    job_lease_seconds: float = pydantic.Field(default=60.0, gt=0)
    job_max_attempts: int = pydantic.Field(default=2, ge=1)

    @pydantic.field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].lower()
        if scheme not in {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}:
            message = (
                f"database URL scheme {scheme!r} is not supported; give sqlite:///FILE or "
                "postgresql://USER@HOST/DB"
            )
            raise ValueError(message)
        return value

    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL to open: SQLite in ``data_dir`` unless ``database_url`` is set.

        ``postgresql://`` is mapped to the psycopg 3 driver (``postgresql+psycopg://``).

        Examples
        --------
        >>> PortalSettings(data_dir=Path("/srv/gb")).resolved_database_url()
        'sqlite:////srv/gb/portal.db'
        >>> PortalSettings(data_dir=Path("x"), database_url="postgresql://u@h/db").resolved_database_url()
        'postgresql+psycopg://u@h/db'
        """
        if self.database_url is None:
            return f"sqlite:///{self.data_dir.absolute() / 'portal.db'}"
        if self.database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        return self.database_url

    @property
    def uploads_dir(self) -> Path:
        """Uploaded files (stored under server-made names, never the uploader's)."""
        return self.data_dir / "uploads"

    @property
    def results_dir(self) -> Path:
        """The worker's run outputs, one folder per sample."""
        return self.data_dir / "results"

    @property
    def tmp_dir(self) -> Path:
        """Temporary files (partial uploads, exports being built); swept at start."""
        return self.data_dir / "tmp"
