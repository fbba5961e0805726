"""The portal's FastAPI application: server-rendered pages, security headers, one error boundary.

:func:`create_app` builds the whole site from :class:`~gutbrain.web.settings.PortalSettings`.
Pages are rendered on the server with Jinja2 (``autoescape=True`` for every template) and one
small stylesheet; there is no script, no CORS, no API documentation route and no static mount of
anything but the stylesheet. Every response carries the security headers of
:data:`SECURITY_HEADERS`; error pages are generic (no stack, no personal data).
"""

from __future__ import annotations

import logging
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gutbrain.errors import (
    GutbrainError,
    InputFormatError,
    OptionError,
    OutputError,
    ValidationError,
)
from gutbrain.web import auth, pages
from gutbrain.web._portal import LoginRequired, Portal, render, viewer_of
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Role, Store

__all__ = ["SECURITY_HEADERS", "app_portal", "create_app"]

logger = logging.getLogger(__name__)

#: Sent with every response unless a route set its own value (the report sets its own CSP).
SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",
}
_HSTS = "max-age=31536000"

_TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Already there",
    413: "Too large",
    414: "Address too long",
    415: "Wrong kind of file",
    422: "Cannot use this input",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Busy, try again",
    507: "Out of storage",
}
_MESSAGES = {
    403: (
        "The form was stale or did not come from this site. Go back, reload the page and try again."
    ),
    404: "There is nothing here, or it is not yours to see.",
    429: "Too many attempts. Wait a few minutes and try again.",
    500: "The error was logged without any personal data. Please try again later.",
}


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`SECURITY_HEADERS` (and HSTS with secure cookies).

    It is also the last error boundary: an exception no handler took becomes the generic 500
    page here (with the headers), logged by type and route only, never with its message.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool, error_page: bytes) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if hsts:
            self.headers["strict-transport-security"] = _HSTS
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                for name, value in self.headers.items():
                    if name.encode("latin-1") not in present:
                        raw.append((name.encode("latin-1"), value.encode("latin-1")))
                message = {**message, "headers": raw}
            if message["type"] == "http.response.start":
                started.append(True)
            await send(message)

        started: list[bool] = []
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            logger.error(
                "internal error (%s) in %s %s",
                type(exc).__name__,
                scope.get("method"),
                scope.get("path"),
            )
            if started:
                raise
            response = HTMLResponse(self.error_page, status_code=500)
            await response(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/problem+json" in accept or (
        "application/json" in accept and "text/html" not in accept
    )


def _error_page(
    request: Request, status: int, *, message: str | None = None, code: str | None = None
) -> Response:
    """The generic error page, or RFC 9457 ``application/problem+json`` for a JSON client."""
    text = message or _MESSAGES.get(status, "The request could not be handled.")
    if _wants_json(request):
        problem: dict[str, str | int] = {
            "type": "about:blank",
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "detail": text,
        }
        if code:
            problem["code"] = code
        return JSONResponse(problem, status_code=status, media_type="application/problem+json")
    try:
        viewer = viewer_of(request)
    except Exception:  # the store itself may be what failed
        viewer = None
    return render(
        request,
        "error.html",
        status_code=status,
        viewer=viewer,
        title=_TITLES.get(status, "Error"),
        message=text,
        code=code,
    )


def _status_of(exc: GutbrainError) -> int:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    if isinstance(exc, InputFormatError | ValidationError | OptionError):
        return 422
    if isinstance(exc, OutputError):
        return 507
    if exc.exit_code == 75:  # busy, retry
        return 503
    return 500


def _install_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = getattr(exc, "headers", None)
        response = _error_page(request, exc.status_code)
        if headers:
            response.headers.update(headers)
        return response

    async def login_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        return _error_page(request, 422, message="The request had missing or malformed fields.")

    async def gutbrain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GutbrainError)
        status = _status_of(exc)
        if status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc.code)
            return _error_page(request, status, code=exc.code)
        return _error_page(request, status, message=str(exc), code=exc.code)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(GutbrainError, gutbrain_error)


_CSS = files("gutbrain.web").joinpath("static", "portal.css").read_bytes()


def _home(request: Request) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    target = {Role.ADMIN: "/admin", Role.LAB: "/lab", Role.PERSON: "/me"}[viewer.account.role]
    return RedirectResponse(target, status_code=303)


def _stylesheet() -> Response:
    return Response(
        _CSS,
        media_type="text/css",
        headers={"cache-control": "public, max-age=3600"},
    )


def create_app(settings: PortalSettings, store: Store | None = None) -> FastAPI:
    """Build the portal application.

    Parameters
    ----------
    settings
        Where data lives, cookie and size limits, crisis contacts.
    store
        The database repository; ``None`` opens (and migrates) the one the settings name.

    Returns
    -------
    FastAPI
        The ASGI application (``uvicorn`` serves it; tests use ``TestClient``).
    """
    app = FastAPI(
        title="gutbrain portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    state = Portal(settings=settings, store=store or Store.open(settings))
    app.state.portal = state
    error_page = state.templates.get_template("error.html").render(
        viewer=None,
        refresh_seconds=None,
        title=_TITLES[500],
        message=_MESSAGES[500],
        code=None,
    )
    app.add_middleware(
        SecurityHeaders, hsts=settings.secure_cookies, error_page=error_page.encode("utf-8")
    )
    _install_error_handlers(app)
    app.add_api_route("/", _home, methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/static/portal.css", _stylesheet, methods=["GET"])
    app.include_router(auth.router)
    app.include_router(pages.router)
    return app


def app_portal(app: FastAPI) -> Portal:
    """The :class:`Portal` state of an app built by :func:`create_app` (tests set its clock)."""
    state: Portal = app.state.portal
    return state
