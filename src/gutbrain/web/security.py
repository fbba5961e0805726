"""Passwords, session tokens, CSRF tokens and login throttling for the portal.

* Passwords are hashed with argon2id (argon2-cffi). The parameters follow OWASP's password storage
  cheat sheet for a small server (46 MiB, 1 pass, 1 lane: the machine has two cores, shared
  with the job worker); a hash made with other parameters is re-hashed at the next login.
* A session is a random 256-bit token in a cookie; the database stores only its SHA-256, so a
  copy of the database cannot be replayed as cookies.
* CSRF uses the synchronizer pattern: one random token per session, put in every POST form and
  compared in constant time. The login form, which has no session yet, is protected by a
  pre-login token held in a ``SameSite=Strict`` cookie and echoed in the form (double submit).
* Login failures are counted per client address and per account (rows in the store, so the
  limit holds across processes); the account key is a hash of the e-mail address, never the
  address itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "LOGIN_LIMITS",
    "LoginLimit",
    "account_key",
    "address_key",
    "hash_password",
    "new_password",
    "new_token",
    "password_hasher",
    "token_hash",
    "tokens_equal",
    "verify_password",
]

logger = logging.getLogger(__name__)

#: argon2id parameters: OWASP's "m=47104 (46 MiB), t=1, p=1" for a server with few cores.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_KIB = 47104
ARGON2_PARALLELISM = 1
#: The shortest password the portal accepts (NIST SP 800-63B: at least 8; we ask for 12).
MIN_PASSWORD_LENGTH = 12
#: Longer passwords are refused: argon2 would hash them, but nobody types 1 kB at a login form.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class LoginLimit:
    """At most ``failures`` failed logins per ``key_kind`` within ``window``."""

    key_kind: str  # "address" or "account"
    failures: int
    window: timedelta


#: 5 failures a minute per client address, 10 an hour per account (RELIABILITY.md W11).
LOGIN_LIMITS: tuple[LoginLimit, ...] = (
    LoginLimit("address", 5, timedelta(minutes=1)),
    LoginLimit("account", 10, timedelta(hours=1)),
)


@cache
def password_hasher() -> PasswordHasher:
    """The portal's argon2id hasher (one instance; it holds no secret)."""
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
    )


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) of ``password``."""
    return password_hasher().hash(password)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> tuple[bool, bool]:
    """Whether ``password`` matches, and whether the stored hash should be re-hashed.

    ``stored_hash=None`` (an unknown account) still costs one verification against a dummy
    hash, so an unknown address answers in the same time as a wrong password.

    >>> ok, rehash = verify_password(hash_password("correct horse"), "correct horse")
    >>> ok, rehash
    (True, False)
    >>> verify_password(None, "anything")
    (False, False)
    """
    hasher = password_hasher()
    target = stored_hash if stored_hash is not None else _dummy_hash()
    try:
        hasher.verify(target, password)
    except VerifyMismatchError:
        return False, False
    except (VerificationError, InvalidHashError):
        logger.warning("a stored password hash could not be verified (corrupt or unknown format)")
        return False, False
    if stored_hash is None:  # pragma: no cover - a random dummy password never matches
        return False, False
    return True, hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """A random URL-safe token with 256 bits of entropy (session ids, CSRF tokens)."""
    return secrets.token_urlsafe(32)


def new_password() -> str:
    """A one-time initial password: 16 characters from a 56-letter alphabet (~93 bits).

    Letters and digits that are easy to confuse when read aloud (0/O, 1/l/I) are left out.
    """
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a session token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; ``None`` or empty never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def account_key(email: str) -> str:
    """The throttling key of an account: a hash of the normalised e-mail address."""
    digest = hashlib.sha256(email.strip().casefold().encode("utf-8")).hexdigest()
    return f"account:{digest}"


def address_key(address: str) -> str:
    """The throttling key of a client address."""
    return f"address:{address}"


def window_start(now: datetime, limit: LoginLimit) -> datetime:
    """The start of ``limit``'s counting window ending at ``now``."""
    return now - limit.window
