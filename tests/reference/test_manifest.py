"""The ``Manifest`` model: each bad manifest, its own GB-REF-MANIFEST message naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.reference.bundle import load_bundle
from gutbrain.reference.manifest import Manifest, validate_manifest

_GOOD: dict[str, object] = {
    "name": "tiny",
    "version": "1",
    "files": {"sequences.fasta.gz": {"sha256": "0", "bytes": 1}, "taxonomy.tsv": {}},
    "counts": {"sequences": 1},
    "sources": [],
    "warnings": [],
    "builder": {"gutbrain": "0"},
}


def _without(key: str) -> dict[str, object]:
    return {k: v for k, v in _GOOD.items() if k != key}


@pytest.mark.parametrize(
    ("manifest", "needle"),
    [
        ([1, 2], "expected a JSON object, found list"),
        (_without("name"), "required key 'name' is missing; rebuild the bundle"),
        (_without("version"), "required key 'version' is missing"),
        (_without("files"), "required key 'files' is missing"),
        ({**_GOOD, "files": []}, "'files' must list sequences.fasta.gz and taxonomy.tsv"),
        ({**_GOOD, "files": {"taxonomy.tsv": {}}}, "'files' must list sequences.fasta.gz"),
        (
            {**_GOOD, "files": {**_GOOD["files"], "../x": {}}},  # type: ignore[dict-item]
            "'files' names '../x', which is not a file of the bundle folder",
        ),
        ({**_GOOD, "files": {**_GOOD["files"], "..": {}}}, "'files' names '..'"),  # type: ignore[dict-item]
        ({**_GOOD, "counts": "x"}, "'counts' must be a JSON object, found str; rebuild"),
        ({**_GOOD, "counts": None}, "'counts' must be a JSON object, found NoneType"),
        ({**_GOOD, "sources": {}}, "'sources' must be a JSON array, found dict"),
        ({**_GOOD, "warnings": "z"}, "'warnings' must be a JSON array, found str"),
        # two problems: the first, in the order above, is reported
        ({**_without("version"), "counts": "x"}, "required key 'version'"),
        ({**_GOOD, "files": [], "counts": "x"}, "'files' must list"),
    ],
)
def test_bad_manifest_refused_with_its_own_message(
    manifest: object, needle: str, tmp_path: Path
) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ReferenceDatabaseError) as info:
        load_bundle(tmp_path)
    assert info.value.code == "GB-REF-MANIFEST"
    assert str(info.value).startswith(f"{tmp_path / 'manifest.json'}: {needle}")


def test_good_manifest_keeps_every_key(tmp_path: Path) -> None:
    model = validate_manifest(_GOOD, path=tmp_path / "manifest.json")
    assert isinstance(model, Manifest)
    assert model.name == "tiny"
    assert model.model_extra == {"builder": {"gutbrain": "0"}}
    assert validate_manifest(_without("counts"), path=tmp_path).counts is None
