"""A table uploaded through the portal, run by the worker (integration of upload and jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gutbrain.web.jobs import run_worker
from tests.web.app.portal_helpers import World, login, upload_fields

TABLES = Path(__file__).resolve().parents[2] / "io" / "fixtures" / "tables"


@pytest.mark.slow
def test_uploaded_table_is_analysed_by_the_worker(world: World) -> None:
    client = world.portal.client()
    csrf = login(client, "lab-a@example.org")
    table = (TABLES / "emu_sample_rel-abundance.tsv").read_bytes()
    response = client.post(
        f"/lab/people/{world.person_a.id}/samples",
        data=upload_fields(csrf),
        files={"table": ("emu.tsv", table)},
    )
    assert response.status_code == 303, response.text
    run_worker(world.portal.settings, once=True)
    (sample,) = world.portal.store.samples_of_person(world.person_a.id)
    assert sample.job.state.value == "done", sample.job.error
