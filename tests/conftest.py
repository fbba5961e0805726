from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The project's shared third-party data and benchmark folders (beside the checkout).
SHARED = Path(os.environ.get("GUTBRAIN_SHARED_DIR_FOR_TESTS", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _clean_gutbrain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GUTBRAIN_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Tests that run ``gutbrain.cli.main`` in-process leave SIGINT and SIGTERM as they were.

    ``main`` installs its handlers and ignores both signals once the command is over; an
    ignored SIGINT would be inherited by every command a later test starts.
    """
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED
