"""Fixtures for the profiler tests: a 6-sequence reference bundle and seeded simulated reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.formats import import_bundle
from tests.profile.profile_helpers import REF_FASTA, REF_TAXONOMY, write_reads


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> ReferenceBundle:
    folder = tmp_path_factory.mktemp("refdb") / "tiny"
    return import_bundle(
        REF_FASTA, REF_TAXONOMY, format="tsv-ranks", name="tiny", version="1", out=folder
    )


@pytest.fixture
def make_reads(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, counts: Mapping[str, int], **kwargs: object) -> Path:
        return write_reads(tmp_path / name, counts, **kwargs)  # type: ignore[arg-type]

    return make
