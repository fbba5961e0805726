"""View audit events are written in batches, never lost: flushed by reads, changes and close."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gutbrain.web.store import VIEW_AUDIT_BATCH, Store, StoreUsageError


@pytest.fixture
def buffered(store: Store) -> Iterator[Store]:
    """The same database, with view events that wait an hour unless something writes them."""
    buffered = Store(store.engine, settings=store.settings, view_audit_seconds=3600.0)
    try:
        yield buffered
    finally:
        buffered.close()


def _written(store: Store) -> list[tuple[str, str | None]]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT action, object_id FROM audit_events ORDER BY id")
        ).all()
    return [(row[0], row[1]) for row in rows]


def _id() -> str:
    return uuid.uuid4().hex


def test_views_wait_in_memory_and_one_flush_writes_them_all(buffered: Store) -> None:
    actor = _id()
    objects = [_id() for _ in range(5)]
    for object_id in objects:
        buffered.audit_view(actor, "view", "sample", object_id, "success")
    assert _written(buffered) == []  # no synchronous write per view
    assert buffered.flush_views() == 5
    assert _written(buffered) == [("view", o) for o in objects]
    assert buffered.flush_views() == 0


def test_reading_the_audit_log_shows_every_view(buffered: Store) -> None:
    actor, sample = _id(), _id()
    buffered.audit_view(actor, "view-report", "sample", sample, "success")
    [event] = buffered.audit_events()
    assert (event.actor_id, event.action, event.object_id) == (actor, "view-report", sample)


def test_close_writes_the_waiting_views(buffered: Store) -> None:
    sample = _id()
    buffered.audit_view(_id(), "view", "sample", sample, "success")
    buffered.close()
    assert _written(buffered) == [("view", sample)]


def test_a_full_batch_is_written_without_waiting(buffered: Store) -> None:
    actor, sample = _id(), _id()
    for _ in range(VIEW_AUDIT_BATCH):
        buffered.audit_view(actor, "view", "sample", sample, "success")
    assert len(_written(buffered)) == VIEW_AUDIT_BATCH


def test_the_interval_writes_the_views_by_itself(store: Store) -> None:
    quick = Store(store.engine, settings=store.settings, view_audit_seconds=0.05)
    sample = _id()
    quick.audit_view(_id(), "view", "sample", sample, "success")
    deadline = time.monotonic() + 30  # a generous bound on a loaded machine, not a timing test
    while not _written(quick) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _written(quick) == [("view", sample)]


def test_a_view_with_personal_content_is_refused_at_once(buffered: Store) -> None:
    with pytest.raises(StoreUsageError):
        buffered.audit_view(_id(), "view", "sample", "ann@example.org", "success")
    assert buffered.flush_views() == 0


def test_a_failed_write_keeps_the_views_waiting(
    buffered: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = _id()
    buffered.audit_view(_id(), "view", "sample", sample, "success")

    def broken() -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(buffered, "_write", broken)
    with pytest.raises(sa.exc.OperationalError):
        buffered.flush_views()
    monkeypatch.undo()
    assert buffered.flush_views() == 1
    assert _written(buffered) == [("view", sample)]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(kinds=st.lists(st.sampled_from(["view", "change"]), max_size=12))
def test_the_log_keeps_the_order_of_views_and_changes(buffered: Store, kinds: list[str]) -> None:
    before = len(_written(buffered))
    expected = []
    for kind in kinds:
        object_id = _id()
        if kind == "view":
            buffered.audit_view(_id(), "view", "sample", object_id, "success")
        else:
            buffered.audit(_id(), "upload", "sample", object_id, "success")
        expected.append((kind if kind == "view" else "upload", object_id))
    buffered.flush_views()
    assert _written(buffered)[before:] == expected
