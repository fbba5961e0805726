"""Who may see what: every object route and verb answers 404 to anyone but the owner
(RELIABILITY.md W08 BOLA/IDOR matrix), roles see only their pages, reports only via the
authorised route (W16), deleted objects stay gone (W20)."""

from __future__ import annotations

import pytest

from gutbrain.web.store import Sample
from tests.web.app.portal_helpers import FASTQ, World, csrf_of, login, make_sample, upload_fields

_OTHER_ID = "0" * 32


def _sample_routes(sample: Sample) -> list[tuple[str, str]]:
    return [
        ("GET", f"/samples/{sample.id}"),
        ("GET", f"/samples/{sample.id}/report"),
        ("GET", f"/samples/{sample.id}/delete"),
        ("POST", f"/samples/{sample.id}/delete"),
    ]


def _person_routes(person_id: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/lab/people/{person_id}/upload"),
        ("POST", f"/lab/people/{person_id}/samples"),
    ]


def _call(client, csrf: str, method: str, path: str):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(path)
    if path.endswith("/samples"):
        return client.post(path, data=upload_fields(csrf), files={"reads": ("r.fq", FASTQ)})
    return client.post(path, data={"csrf": csrf})


@pytest.mark.parametrize("intruder", ["b@example.org", "lab-b@example.org", "admin@example.org"])
def test_bola_every_object_every_verb(world: World, intruder: str) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    csrf = login(client, intruder)
    routes = _sample_routes(sample) + _person_routes(world.person_a.id)
    answers = {(m, p): _call(client, csrf, m, p) for m, p in routes}
    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 404)
    bodies = {r.text.replace(csrf, "") for r in answers.values()}
    assert len(bodies) == 1  # the same page whether the object exists or not
    unknown = _call(client, csrf, "GET", f"/samples/{_OTHER_ID}")
    assert unknown.text.replace(csrf, "") in bodies
    # nothing was changed by the intruder
    assert world.portal.store.sample_for(world.lab_a, sample.id) is not None
    assert len(world.portal.store.samples_of_person(world.person_a.id)) == 1
    assert sample.label not in "".join(r.text for r in answers.values())


def test_owners_reach_their_objects(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    for email in ("a@example.org", "lab-a@example.org"):
        client = world.portal.client()
        login(client, email)
        for method, path in _sample_routes(sample)[:3]:
            assert client.request(method, path).status_code == 200, (email, path)
    lab = world.portal.client()
    login(lab, "lab-a@example.org")
    assert lab.get(f"/lab/people/{world.person_a.id}/upload").status_code == 200


@pytest.mark.parametrize(
    "path", [f"/samples/{_OTHER_ID}", "/samples/../../etc/passwd", "/samples/xyz/report"]
)
def test_unknown_or_malformed_ids_are_404(world: World, path: str) -> None:
    client = world.portal.client()
    login(client, "a@example.org")
    assert client.get(path).status_code == 404


def test_two_labs_serving_one_person_see_only_their_own_uploads(world: World) -> None:
    world.portal.store.link_person(world.lab_b.id, world.person_a.id)
    mine = make_sample(world.portal, world.lab_a, world.person_a, label="from lab A")
    theirs = make_sample(world.portal, world.lab_b, world.person_a, label="from lab B")
    lab_a = world.portal.client()
    login(lab_a, "lab-a@example.org")
    assert lab_a.get(f"/samples/{mine.id}").status_code == 200
    assert lab_a.get(f"/samples/{theirs.id}").status_code == 404
    assert "from lab B" not in lab_a.get("/lab").text
    person = world.portal.client()
    login(person, "a@example.org")
    page = person.get("/me").text
    assert "from lab A" in page
    assert "from lab B" in page


@pytest.mark.parametrize(
    ("email", "forbidden"),
    [
        ("a@example.org", ["/lab", "/admin", f"/lab/people/{_OTHER_ID}/upload"]),
        ("lab-a@example.org", ["/me", "/me/export", "/me/delete", "/admin"]),
        ("admin@example.org", ["/me", "/me/export", "/lab"]),
    ],
)
def test_roles_see_only_their_pages(world: World, email: str, forbidden: list[str]) -> None:
    client = world.portal.client()
    login(client, email)
    for path in forbidden:
        assert client.get(path).status_code == 404, path


def test_admin_sees_no_personal_data(world: World) -> None:
    make_sample(world.portal, world.lab_a, world.person_a, label="secret label")
    client = world.portal.client()
    login(client, "admin@example.org")
    page = client.get("/admin").text
    for personal in ("a@example.org", "Person A", "secret label"):
        assert personal not in page


@pytest.mark.parametrize(
    "path",
    ["/", "/me", "/lab", "/admin", f"/samples/{_OTHER_ID}", "/me/export", "/account/password"],
)
def test_anonymous_visitors_are_sent_to_login(world: World, path: str) -> None:
    response = world.portal.client().get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_no_static_route_serves_reports(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    login(client, "a@example.org")
    for path in (
        f"/static/../results/{sample.id}/out/report.html",
        f"/results/{sample.id}/out/report.html",
        f"/static/results/{sample.id}/out/report.html",
        f"/uploads/{sample.files[0].path.name}",
        "/static/portal.css/../../portal.db",
    ):
        assert client.get(path).status_code == 404, path


def test_deleted_sample_and_its_report_are_gone(world: World) -> None:
    sample = make_sample(world.portal, world.lab_a, world.person_a)
    client = world.portal.client()
    login(client, "a@example.org")
    report = client.get(f"/samples/{sample.id}/report")
    assert report.status_code == 200
    confirm = client.get(f"/samples/{sample.id}/delete")
    receipt = client.post(f"/samples/{sample.id}/delete", data={"csrf": csrf_of(confirm.text)})
    assert receipt.status_code == 200
    assert "What remains" in receipt.text
    assert "backups" in receipt.text
    assert client.get(f"/samples/{sample.id}/report").status_code == 404
    assert client.get(f"/samples/{sample.id}").status_code == 404
    assert not sample.files[0].path.exists()
    assert not world.portal.store.result_dir(sample.id).exists()
