"""The portal through ``create_app(settings)`` and Starlette's TestClient, on SQLite in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gutbrain.web.settings import PortalSettings
from tests.web.app.portal_helpers import Portal, World, make_world, open_portal, portal_settings


@pytest.fixture
def settings(tmp_path: Path) -> PortalSettings:
    return portal_settings(tmp_path)


@pytest.fixture
def portal(settings: PortalSettings) -> Iterator[Portal]:
    opened = open_portal(settings)
    try:
        yield opened
    finally:
        opened.store.close()


@pytest.fixture
def world(portal: Portal) -> World:
    return make_world(portal)
