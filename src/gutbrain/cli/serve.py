"""CLI command: ``gutbrain serve`` — the web portal (uvicorn) and its job worker, or
``gutbrain serve --create-admin EMAIL`` to create an administrator account and exit."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gutbrain.cli._alerts import CRISIS_CONTACT
from gutbrain.cli._app import console, err_console
from gutbrain.errors import ErrorCode, GutbrainError

if TYPE_CHECKING:
    from gutbrain.web.settings import PortalSettings

__all__ = ["register"]

logger = logging.getLogger(__name__)

#: Environment variable holding the new administrator's password (for scripts).
ADMIN_PASSWORD_ENV = "GUTBRAIN_ADMIN_PASSWORD"
#: Seconds the worker gets to stop after SIGTERM before it is killed.
WORKER_STOP_SECONDS = 30.0


class PortalSetupError(GutbrainError):
    """``gutbrain serve`` cannot start: the web extra is missing or an option is invalid."""

    code = ErrorCode.SERVE
    exit_code = 78


def _settings(
    data: Path, database: str | None, contacts: tuple[str, ...], *, secure: bool
) -> PortalSettings:
    try:
        from gutbrain.web.settings import PortalSettings
    except ImportError as exc:  # pragma: no cover - depends on the installation
        message = (
            f"the web portal needs the 'web' extra ({exc.name} is missing): "
            "pip install 'gutbrain[web]'"
        )
        raise PortalSetupError(message) from None
    return PortalSettings(
        data_dir=data.resolve(),
        database_url=database,
        crisis_contacts=contacts,
        secure_cookies=secure,
    )


def _create_admin(settings: PortalSettings, email: str) -> None:
    from gutbrain.web.auth import account_problem, password_problem
    from gutbrain.web.security import hash_password
    from gutbrain.web.store import DuplicateError, Role, Store

    problem = account_problem(email.strip(), "Administrator")
    if problem is not None:
        raise PortalSetupError(f"--create-admin {email!r}: {problem}")
    password = os.environ.get(ADMIN_PASSWORD_ENV)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, password)
    if problem is not None:
        raise PortalSetupError(f"the administrator password is refused: {problem}")
    store = Store.open(settings)
    try:
        account = store.create_account(
            email.strip(), hash_password(password), Role.ADMIN, "Administrator"
        )
    except DuplicateError:
        message = f"an account with the e-mail address {email!r} already exists"
        raise PortalSetupError(message) from None
    store.audit(None, "create-admin", "account", account.id, "success")
    console.print(f"administrator {account.email} created", markup=False, highlight=False)


def _worker_main(settings: PortalSettings) -> None:
    """The job worker process: runs until SIGTERM (or SIGINT), then finishes cleanly."""
    from gutbrain.web.jobs import run_worker

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.basicConfig(level=logging.INFO, format="worker: %(message)s")
    run_worker(settings, stop=stop)


def serve(
    data: Annotated[
        Path,
        typer.Option(
            "--data", help="Folder for the database, uploads and results (created if missing)."
        ),
    ] = Path("gutbrain-portal"),
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL (default: SQLite in --data); postgresql://… is accepted.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    crisis_contact: Annotated[list[str] | None, CRISIS_CONTACT] = None,
    insecure_cookies: Annotated[
        bool,
        typer.Option(
            "--insecure-cookies",
            help="Send session cookies over plain http (local testing only; never in production).",
        ),
    ] = False,
    create_admin: Annotated[
        str | None,
        typer.Option(
            "--create-admin",
            metavar="EMAIL",
            help=(
                f"Create an administrator account and exit; the password is asked twice, or "
                f"read from {ADMIN_PASSWORD_ENV}."
            ),
        ),
    ] = None,
) -> None:
    """Run the web portal: labs upload samples, people see their own reports over time.

    Starts the job worker in a separate process and the web server (uvicorn) in this one;
    Ctrl-C stops both. See docs/portal.md.
    """
    contacts = tuple(crisis_contact or ())
    settings = _settings(data, database, contacts, secure=not insecure_cookies)
    if create_admin is not None:
        _create_admin(settings, create_admin)
        return
    import uvicorn

    from gutbrain.web.app import create_app
    from gutbrain.web.store import Store

    if not contacts:
        err_console.print(
            "WARNING for the operator: no --crisis-contact is configured, so a crisis alert "
            "will name no local crisis line; give a checked, local one.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if insecure_cookies:
        err_console.print(
            "WARNING: --insecure-cookies sends session cookies over plain http; use it only "
            "for local testing.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    store = Store.open(settings)
    app = create_app(settings, store)
    context = multiprocessing.get_context("spawn")
    worker = context.Process(target=_worker_main, args=(settings,), name="gutbrain-worker")
    worker.start()
    try:
        console.print(
            f"gutbrain portal on http://{host}:{port} (data: {settings.data_dir})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,  # client addresses and paths are personal data
            timeout_keep_alive=5,
            log_level="warning",
        )
    finally:
        store.close()  # writes the view audit events still waiting
        worker.terminate()
        worker.join(WORKER_STOP_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)
