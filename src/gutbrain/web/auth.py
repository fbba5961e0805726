"""Logging in and out, changing a password, and the administrator's page.

* ``GET /login`` sets a pre-login token cookie (``SameSite=Strict``, ``HttpOnly``) and puts the
  same token in the form; ``POST /login`` refuses a form without it (403, login CSRF).
* A successful login always starts a **new** session (a new random token; any session the
  browser had is deleted), so a token planted before login is worthless afterwards.
* Failed logins are counted per client address and per account (:data:`LOGIN_LIMITS`); past a
  limit the answer is 429, whether the account exists or not. An unknown address and a wrong
  password get the same page, after the same argon2 work.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gutbrain.web._portal import Portal, Viewer, check_csrf, portal, read_form, render, require
from gutbrain.web.security import (
    LOGIN_LIMITS,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    account_key,
    address_key,
    hash_password,
    new_password,
    new_token,
    token_hash,
    tokens_equal,
    verify_password,
    window_start,
)
from gutbrain.web.store import DuplicateError, Role

__all__ = ["router", "start_session"]

logger = logging.getLogger(__name__)

router = APIRouter()

_WRONG = "The e-mail address or the password is wrong."
_MAX_EMAIL = 320


def _set_cookie(response: Response, state: Portal, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=state.settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(response: Response, state: Portal, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=state.settings.secure_cookies, httponly=True, samesite="strict"
    )


def start_session(state: Portal, response: Response, account_id: str) -> None:
    """Create a new session for ``account_id`` and put its token in the session cookie."""
    token = new_token()
    now = state.clock()
    lifetime = timedelta(hours=state.settings.session_hours)
    state.store.create_session(token_hash(token), account_id, new_token(), now + lifetime)
    _set_cookie(response, state, state.session_cookie, token, int(lifetime.total_seconds()))


def _login_page(
    request: Request, *, status_code: int = 200, message: str | None = None, email: str = ""
) -> Response:
    state = portal(request)
    token = request.cookies.get(state.prelogin_cookie)
    fresh = not token or len(token) > 128
    if fresh:
        token = new_token()
    response = render(
        request, "login.html", status_code=status_code, csrf=token, message=message, email=email
    )
    if fresh:
        assert token is not None
        _set_cookie(response, state, state.prelogin_cookie, token, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


def _throttled(state: Portal, keys: dict[str, str]) -> bool:
    now = state.clock()
    return any(
        state.store.login_failures_since(keys[limit.key_kind], window_start(now, limit))
        >= limit.failures
        for limit in LOGIN_LIMITS
    )


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    state = portal(request)
    form = await read_form(request)
    if not tokens_equal(form.get("csrf"), request.cookies.get(state.prelogin_cookie)):
        raise HTTPException(status_code=403)
    email = form.get("email", "").strip()[:_MAX_EMAIL]
    password = form.get("password", "")[:MAX_PASSWORD_LENGTH]
    client = request.client.host if request.client else "unknown"
    keys = {"address": address_key(client), "account": account_key(email)}
    if _throttled(state, keys):
        state.store.audit(None, "login", "account", None, "throttled")
        return _login_page(request, status_code=429, message=_MESSAGES_429, email=email)
    found = state.store.credentials(email) if email else None
    ok, rehash = verify_password(found[1] if found else None, password)
    if not ok or found is None:
        now = state.clock()
        for key in keys.values():
            state.store.record_login_failure(key, now)
        state.store.audit(None, "login", "account", None, "failure")
        return _login_page(request, status_code=401, message=_WRONG, email=email)
    account = found[0]
    if rehash:
        state.store.set_password_hash(account.id, hash_password(password))
    old = request.cookies.get(state.session_cookie)
    if old:
        state.store.delete_session(token_hash(old))
    # Housekeeping at each login: expired sessions and counters past every window go.
    now = state.clock()
    state.store.delete_expired_sessions(now)
    state.store.prune_login_failures(now - max(limit.window for limit in LOGIN_LIMITS))
    response = RedirectResponse("/", status_code=303)
    start_session(state, response, account.id)
    _clear_cookie(response, state, state.prelogin_cookie)
    state.store.audit(account.id, "login", "account", account.id, "success")
    return response


_MESSAGES_429 = "Too many failed attempts. Wait a few minutes and try again."


@router.post("/logout")
async def logout(request: Request) -> Response:
    state = portal(request)
    viewer = require(request)
    check_csrf(viewer, await read_form(request))
    state.store.delete_session(viewer.session_hash)
    state.store.audit(viewer.account.id, "logout", "account", viewer.account.id, "success")
    response = RedirectResponse("/login", status_code=303)
    _clear_cookie(response, state, state.session_cookie)
    return response


def _password_page(
    request: Request, viewer: Viewer, *, status_code: int = 200, message: str = "", ok: bool = False
) -> Response:
    return render(
        request,
        "password.html",
        viewer=viewer,
        status_code=status_code,
        message=message,
        ok=ok,
        min_length=MIN_PASSWORD_LENGTH,
    )


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request) -> Response:
    return _password_page(request, require(request))


def password_problem(new: str, confirm: str) -> str | None:
    """Why a new password is refused, or ``None``."""
    if new != confirm:
        return "The two new passwords differ."
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"The new password is shorter than {MIN_PASSWORD_LENGTH} characters."
    if len(new) > MAX_PASSWORD_LENGTH:
        return f"The new password is longer than {MAX_PASSWORD_LENGTH} characters."
    return None


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    state = portal(request)
    viewer = require(request)
    form = await read_form(request)
    check_csrf(viewer, form)
    found = state.store.credentials(viewer.account.email)
    ok, _ = verify_password(found[1] if found else None, form.get("current", ""))
    if not ok:
        state.store.audit(
            viewer.account.id, "change-password", "account", viewer.account.id, "failure"
        )
        return _password_page(
            request, viewer, status_code=400, message="The current password is wrong."
        )
    problem = password_problem(form.get("new", ""), form.get("confirm", ""))
    if problem is not None:
        return _password_page(request, viewer, status_code=400, message=problem)
    state.store.set_password_hash(viewer.account.id, hash_password(form["new"]))
    # Every other session of this account ends; this browser gets a new one.
    state.store.delete_sessions_of(viewer.account.id)
    state.store.audit(viewer.account.id, "change-password", "account", viewer.account.id, "success")
    response = RedirectResponse("/", status_code=303)
    start_session(state, response, viewer.account.id)
    return response


# administrator ---------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    viewer = require(request, Role.ADMIN)
    return render(request, "admin.html", viewer=viewer, message=None)


@router.post("/admin/labs", response_class=HTMLResponse)
async def create_lab(request: Request) -> Response:
    state = portal(request)
    viewer = require(request, Role.ADMIN)
    form = await read_form(request)
    check_csrf(viewer, form)
    email = form.get("email", "").strip()
    name = form.get("display_name", "").strip()
    problem = account_problem(email, name)
    if problem is not None:
        return render(request, "admin.html", viewer=viewer, status_code=422, message=problem)
    password = new_password()
    try:
        lab = state.store.create_account(email, hash_password(password), Role.LAB, name)
    except DuplicateError:
        message = "An account with this e-mail address already exists."
        return render(request, "admin.html", viewer=viewer, status_code=409, message=message)
    state.store.audit(viewer.account.id, "create-lab", "account", lab.id, "success")
    return render(
        request,
        "shown_once.html",
        viewer=viewer,
        title="Lab account created",
        intro=f"The lab account {lab.display_name} can now log in.",
        email=lab.email,
        password=password,
        back="/admin",
    )


def account_problem(email: str, name: str) -> str | None:
    """Why an e-mail address and display name cannot make an account, or ``None``."""
    if not email or len(email) > _MAX_EMAIL or email.count("@") != 1 or email.startswith("@"):
        return "Give a valid e-mail address."
    if any(ch.isspace() for ch in email):
        return "Give a valid e-mail address (no spaces)."
    if not name or len(name) > 200:
        return "Give a name of 1 to 200 characters."
    return None
