"""The report route (the hot path of the load test): whole file in one answer, audited view."""

from __future__ import annotations

from tests.web.app.portal_helpers import World, login, make_sample


def test_the_report_is_served_whole_and_its_view_audited(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    path = world.portal.store.result_dir(sample.id) / "report.html"
    path.write_bytes(path.read_bytes() + b"<!-- " + b"x" * 300_000 + b" -->")  # several chunks
    client = world.portal.client()
    login(client, "a@example.org")
    report = client.get(f"/samples/{sample.id}/report")
    assert report.status_code == 200
    assert report.content == path.read_bytes()
    events = world.portal.store.audit_events(limit=5)
    assert ("view-report", sample.id) in {(e.action, e.object_id) for e in events}


def test_a_report_file_gone_answers_404_and_audits_no_view(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    (world.portal.store.result_dir(sample.id) / "report.html").unlink()
    client = world.portal.client()
    login(client, "a@example.org")
    assert client.get(f"/samples/{sample.id}/report").status_code == 404
    events = world.portal.store.audit_events(limit=20)
    assert "view-report" not in {e.action for e in events}
