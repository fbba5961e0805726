"""What every route shares: the portal's state, the viewer, CSRF checks and page rendering."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from gutbrain.web.security import token_hash, tokens_equal
from gutbrain.web.settings import PortalSettings
from gutbrain.web.store import Account, Role, Store

__all__ = [
    "FORM_LIMITS",
    "LoginRequired",
    "Portal",
    "Viewer",
    "check_csrf",
    "not_found",
    "portal",
    "read_form",
    "render",
    "require",
    "viewer_of",
]

logger = logging.getLogger(__name__)

#: Starlette limits for the small urlencoded forms (RELIABILITY.md W05).
FORM_LIMITS: dict[str, int] = {"max_files": 0, "max_fields": 12, "max_part_size": 64 * 1024}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _environment() -> jinja2.Environment:
    # autoescape=True for every template whatever its file name (RELIABILITY.md finding 9, W10)
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gutbrain.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class Portal:
    """The application's state: settings, store, templates and the clock (tests replace it)."""

    settings: PortalSettings
    store: Store
    templates: jinja2.Environment = field(default_factory=_environment)
    clock: Callable[[], datetime] = _utcnow

    @property
    def session_cookie(self) -> str:
        # The __Host- prefix binds the cookie to this host and path, over https only.
        return "__Host-gb_session" if self.settings.secure_cookies else "gb_session"

    @property
    def prelogin_cookie(self) -> str:
        return "__Host-gb_prelogin" if self.settings.secure_cookies else "gb_prelogin"


@dataclass(frozen=True)
class Viewer:
    """A logged-in account, its session's CSRF token and the hash of its session token."""

    account: Account
    csrf: str
    session_hash: str


class LoginRequired(Exception):
    """Raised by :func:`require` for an anonymous visitor; answered with a redirect to /login."""


def portal(request: Request) -> Portal:
    state: Portal = request.app.state.portal
    return state


def viewer_of(request: Request) -> Viewer | None:
    """The logged-in viewer of this request, or ``None`` (no cookie, unknown or expired)."""
    state = portal(request)
    token = request.cookies.get(state.session_cookie)
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    found = state.store.session(hashed, state.clock())
    if found is None:
        return None
    account, csrf = found
    return Viewer(account=account, csrf=csrf, session_hash=hashed)


def not_found() -> HTTPException:
    """The one answer for an object the viewer may not see, or that does not exist."""
    return HTTPException(status_code=404)


def require(request: Request, *roles: Role) -> Viewer:
    """The viewer, who must hold one of ``roles``; anonymous -> login, other roles -> 404."""
    viewer = viewer_of(request)
    if viewer is None:
        raise LoginRequired
    if roles and viewer.account.role not in roles:
        raise not_found()
    return viewer


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form as plain strings (files and repeated fields refused)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise HTTPException(status_code=415)
    form = await request.form(**FORM_LIMITS)
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or key in values:
            raise HTTPException(status_code=400)
        values[key] = value
    return values


def check_csrf(viewer: Viewer, form: dict[str, str]) -> None:
    """403 unless the form carries the viewer's CSRF token (constant-time comparison)."""
    if not tokens_equal(form.get("csrf"), viewer.csrf):
        raise HTTPException(status_code=403)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    viewer: Viewer | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page (autoescaped) with the viewer and any auto-refresh interval."""
    state = portal(request)
    context.setdefault("refresh_seconds", None)
    html = state.templates.get_template(template).render(viewer=viewer, **context)
    return HTMLResponse(html, status_code=status_code)
