"""Password hashing, tokens and the login limits (gutbrain.web.security)."""

from __future__ import annotations

from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.web import security


def test_password_round_trip_and_wrong_password() -> None:
    stored = security.hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    assert security.verify_password(stored, "a long enough password") == (True, False)
    assert security.verify_password(stored, "a long enough passwore") == (False, False)


def test_hash_with_old_parameters_asks_for_rehash() -> None:
    old = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash("pw pw pw pw pw")
    assert security.verify_password(old, "pw pw pw pw pw") == (True, True)


def test_unknown_account_and_corrupt_hash_never_match() -> None:
    assert security.verify_password(None, "") == (False, False)
    assert security.verify_password("not a hash", "x") == (False, False)


def test_tokens_are_random_and_only_their_hash_is_stored() -> None:
    tokens = {security.new_token() for _ in range(50)}
    assert len(tokens) == 50
    token = tokens.pop()
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    digest = security.token_hash(token)
    assert len(digest) == 64
    assert token not in digest


@settings(max_examples=50)
@given(st.text(min_size=1, max_size=64), st.text(max_size=64))
def test_tokens_equal_only_for_identical_tokens(a: str, b: str) -> None:
    assert security.tokens_equal(a, a)
    assert security.tokens_equal(a, b) == (a == b)
    assert not security.tokens_equal(None, a)
    assert not security.tokens_equal("", "")


def test_account_key_hides_the_address_and_ignores_case() -> None:
    key = security.account_key(" Alice@Example.org ")
    assert key == security.account_key("alice@example.org")
    assert "alice" not in key.lower()


def test_initial_passwords_are_long_and_unambiguous() -> None:
    password = security.new_password()
    assert len(password) == 16
    assert not set(password) & set("0O1lI")
