"""Fixtures shared by the portal's tests: a throwaway PostgreSQL cluster (see ``pg.py``).

``postgres_url`` gives each test a new empty database. Without PostgreSQL binaries the tests
that need it skip (with the reason), except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.web import pg


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg.Cluster]:
    reason = pg.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
            pytest.fail(f"PostgreSQL is required in CI: {reason}")
        pytest.skip(reason)
    cluster = pg.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: pg.Cluster) -> str:
    """A ``postgresql://`` URL of a new, empty database."""
    return postgres_cluster.create_database()
