"""Uploads through the portal (RELIABILITY.md W01-W06, F28): names, caps, magic bytes, gzip
bombs, form limits, CSRF first, the CLI's strict validation, duplicates, nothing half-stored."""

from __future__ import annotations

import gzip
import io
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.app.portal_helpers import EXAMPLE, FASTQ, World, login, upload_fields

TRAVERSAL_NAMES = [
    "../../x",
    "..",
    "/etc/passwd",
    "a\x00b.fq",
    '<img src=x onerror="alert(1)">.fq',
]


def _lab(world: World) -> tuple[TestClient, str]:
    client = world.portal.client()
    return client, login(client, "lab-a@example.org")


def _post(client: TestClient, world: World, fields: dict[str, str], files: dict) -> object:
    return client.post(f"/lab/people/{world.person_a.id}/samples", data=fields, files=files)


def _leftovers(world: World) -> list[Path]:
    tmp = world.portal.settings.tmp_dir
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def _uploads(world: World) -> list[Path]:
    uploads = world.portal.settings.uploads_dir
    return sorted(uploads.iterdir()) if uploads.is_dir() else []


def _no_sample_stored(world: World) -> None:
    assert world.portal.store.samples_of_person(world.person_a.id) == []
    assert _uploads(world) == []
    assert _leftovers(world) == []


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def test_valid_reads_upload_is_stored_under_a_uuid_and_queued(world: World) -> None:
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"reads": ("s.fastq", FASTQ)})
    assert response.status_code == 303
    (sample,) = world.portal.store.samples_of_person(world.person_a.id)
    assert response.headers["location"] == f"/samples/{sample.id}"
    assert sample.job.state.value == "queued"
    (stored,) = sample.files
    assert stored.kind == "reads"
    assert stored.original_name == "s.fastq"
    assert stored.path.parent == world.portal.settings.uploads_dir
    assert len(stored.path.name) == 32
    assert stored.path.read_bytes() == FASTQ
    assert _leftovers(world) == []


@pytest.mark.parametrize("name", TRAVERSAL_NAMES, ids=range(len(TRAVERSAL_NAMES)))
def test_upload_filename_traversal_ignored(world: World, name: str) -> None:
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"reads": (name, FASTQ)})
    assert response.status_code == 303
    (sample,) = world.portal.store.samples_of_person(world.person_a.id)
    (stored,) = sample.files
    uploads = world.portal.settings.uploads_dir
    assert [p.name for p in _uploads(world)] == [stored.path.name]
    assert stored.path.resolve().parent == uploads.resolve()
    assert "\x00" not in stored.original_name
    assert len(stored.original_name) <= 200
    assert not (uploads.parent / "x").exists()
    assert not Path("/x").exists()
    page = client.get(f"/samples/{sample.id}").text
    found = elements(page)
    assert "img" not in found.tags
    assert "onerror" not in found.attributes
    assert "&lt;img src=x onerror=" in page or "<img" not in name


def test_upload_filename_of_10_kb_is_refused_and_nothing_stored(world: World) -> None:
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"reads": ("x" * 10_000, FASTQ)})
    assert response.status_code == 400
    assert "longer than 4 KiB" in response.text
    assert "x" * 300 not in response.text
    _no_sample_stored(world)


def test_upload_over_cap_413_early_and_temp_removed(world: World) -> None:
    client, csrf = _lab(world)
    cap = world.portal.settings.max_reads_bytes
    body = FASTQ * (cap // len(FASTQ) + 2)
    response = _post(client, world, upload_fields(csrf), {"reads": ("big.fq", body)})
    assert response.status_code == 413
    assert "larger than the limit" in response.text
    _no_sample_stored(world)


def test_declared_length_over_the_total_cap_is_refused_before_reading(world: World) -> None:
    client, _csrf = _lab(world)
    response = client.post(
        f"/lab/people/{world.person_a.id}/samples",
        content=b"x",
        headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(10**12)},
    )
    assert response.status_code == 413
    _no_sample_stored(world)


@pytest.mark.parametrize(
    ("field", "payload", "name"),
    [
        ("reads", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "photo.fastq.gz"),
        ("reads", b"sample\ttaxon\n", "reads.fq"),
        ("reads", gzip.compress(gzip.compress(FASTQ)), "nested.fq.gz"),
        ("table", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "table.biom"),
        ("answers", gzip.compress(b"phq9: [0, 0]\n"), "answers.yaml"),
    ],
    ids=["png-as-reads", "tsv-as-reads", "gzip-in-gzip", "hdf5-table", "gzipped-answers"],
)
def test_magic_mismatch_415(world: World, field: str, payload: bytes, name: str) -> None:
    client, csrf = _lab(world)
    files = {field: (name, payload)}
    if field == "answers":
        files["reads"] = ("r.fq", FASTQ)
    response = _post(client, world, upload_fields(csrf), files)
    assert response.status_code == 415, response.text
    assert "GB-UPLOAD-TYPE" in response.text
    _no_sample_stored(world)


def test_nested_archive_rejected(world: World) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("reads.fastq", FASTQ)
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"reads": ("r.zip", buffer.getvalue())})
    assert response.status_code == 415
    assert "zip archive" in response.text
    _no_sample_stored(world)


def test_gzip_bomb_rejected_within_cap(world: World) -> None:
    bomb = gzip.compress(b"@" + b"A" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB
    assert len(bomb) < world.portal.settings.max_reads_bytes
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"reads": ("bomb.fq.gz", bomb)})
    assert response.status_code == 413
    assert "GB-GZ-BOMB" in response.text
    _no_sample_stored(world)


def test_form_part_limits(world: World) -> None:
    client, csrf = _lab(world)
    many = upload_fields(csrf, **{f"extra{i}": "x" for i in range(30)})
    response = _post(client, world, many, {"reads": ("r.fq", FASTQ)})
    assert response.status_code == 400
    assert "too many form fields" in response.text
    unknown = _post(client, world, upload_fields(csrf), {"script": ("s.sh", b"echo")})
    assert unknown.status_code == 400
    _no_sample_stored(world)


def test_upload_needs_the_csrf_token_first(world: World) -> None:
    client, csrf = _lab(world)
    fields = upload_fields(csrf)
    del fields["csrf"]
    missing = _post(client, world, fields, {"reads": ("r.fq", FASTQ)})
    wrong = _post(client, world, upload_fields("forged"), {"reads": ("r.fq", FASTQ)})
    assert missing.status_code == wrong.status_code == 403
    _no_sample_stored(world)


def test_invalid_reads_name_the_field_file_and_line(world: World) -> None:
    client, csrf = _lab(world)
    bad = b"@r1\nACGTACGTAC\n+\nIIIII\n"
    response = _post(client, world, upload_fields(csrf), {"reads": ("mine.fq", bad)})
    assert response.status_code == 422
    text = response.text
    assert "reads file &#39;mine.fq&#39;:4" in text
    assert "GB-FQ" in text
    assert str(world.portal.settings.tmp_dir) not in text
    _no_sample_stored(world)


def test_invalid_answers_from_the_form_are_refused_with_the_item(world: World) -> None:
    client, csrf = _lab(world)
    fields = upload_fields(csrf, answers_text="phq9: [0, 1, 2, 3, 4, 0, 0, 0, 0]\n")
    response = _post(client, world, fields, {"reads": ("r.fq", FASTQ)})
    assert response.status_code == 422
    assert "phq9" in response.text.lower()
    _no_sample_stored(world)


def test_bundled_answers_and_markers_files_are_accepted(world: World) -> None:
    client, csrf = _lab(world)
    files = {
        "reads": ("r.fq", FASTQ),
        "answers": ("answers.yaml", (EXAMPLE / "answers.yaml").read_bytes()),
        "markers": ("markers.yaml", (EXAMPLE / "markers.yaml").read_bytes()),
    }
    response = _post(client, world, upload_fields(csrf), files)
    assert response.status_code == 303
    (sample,) = world.portal.store.samples_of_person(world.person_a.id)
    kinds = {f.kind: f for f in sample.files}
    assert set(kinds) == {"reads", "answers", "markers"}
    assert kinds["answers"].path.suffix == ".yaml"


def test_table_with_two_samples_is_refused(world: World) -> None:
    table = b"taxon\tS1\tS2\nBacteroides fragilis\t10\t20\nFaecalibacterium prausnitzii\t5\t1\n"
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf), {"table": ("t.tsv", table)})
    assert response.status_code == 422
    assert "exactly one sample" in response.text
    _no_sample_stored(world)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"consent": "no"}, "consent"),
        ({"consent_version": "2020-01"}, "consent text changed"),
        ({"collected_on": "2999-01-01"}, "future"),
        ({"collected_on": "yesterday"}, "YYYY-MM-DD"),
        ({"preset": "sanger"}, "read type"),
        ({"label": ""}, "label"),
    ],
)
def test_form_rules(world: World, change: dict[str, str], words: str) -> None:
    client, csrf = _lab(world)
    response = _post(client, world, upload_fields(csrf, **change), {"reads": ("r.fq", FASTQ)})
    assert response.status_code == 422
    assert words in response.text
    _no_sample_stored(world)


def test_reads_or_table_exactly_one(world: World) -> None:
    client, csrf = _lab(world)
    # A browser sends an empty, nameless part for a file input left empty.
    neither = _post(client, world, upload_fields(csrf), {"reads": ("", b""), "table": ("", b"")})
    assert neither.status_code == 422
    assert "either reads or an abundance table" in neither.text
    table = b"taxon\tS1\nBacteroides fragilis\t10\n"
    both = _post(
        client, world, upload_fields(csrf), {"reads": ("r.fq", FASTQ), "table": ("t.tsv", table)}
    )
    assert both.status_code == 422
    _no_sample_stored(world)


def test_duplicate_upload_is_refused_with_a_clear_message(world: World) -> None:
    client, csrf = _lab(world)
    first = _post(client, world, upload_fields(csrf), {"reads": ("r.fq", FASTQ)})
    assert first.status_code == 303
    again = _post(client, world, upload_fields(csrf, label="again"), {"reads": ("r2.fq", FASTQ)})
    assert again.status_code == 409
    assert "already uploaded" in again.text
    assert len(world.portal.store.samples_of_person(world.person_a.id)) == 1
    assert len(_uploads(world)) == 1
    assert _leftovers(world) == []


def test_xss_through_label_and_answers_text_is_escaped(world: World) -> None:
    client, csrf = _lab(world)
    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    fields = upload_fields(csrf, label=payload, answers_text=f"</textarea>{payload}")
    response = _post(client, world, fields, {"reads": ("r.fq", FASTQ)})
    assert response.status_code == 422  # the answers text is not valid YAML answers
    found = elements(response.text)
    assert "script" not in found.tags
    assert "img" not in found.tags
    assert "onerror" not in found.attributes
    ok = _post(client, world, upload_fields(csrf, label=payload), {"reads": (payload, FASTQ)})
    assert ok.status_code == 303
    for page in (client.get(ok.headers["location"]).text, client.get("/lab").text):
        found = elements(page)
        assert "script" not in found.tags
        assert "img" not in found.tags
        assert "onerror" not in found.attributes
        assert "&lt;script&gt;" in page


def test_full_disk_is_507_and_nothing_half_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from gutbrain.web import uploads

    def full(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    client, csrf = _lab(world)
    monkeypatch.setattr(uploads.os, "replace", full)
    response = _post(client, world, upload_fields(csrf), {"reads": ("r.fq", FASTQ)})
    monkeypatch.setattr(uploads.os, "replace", os.replace)
    assert response.status_code == 507
    assert "storage is full, so nothing was stored" in response.text
    assert "GB-NOSPACE" in response.text  # the code of a full disk everywhere
    _no_sample_stored(world)
