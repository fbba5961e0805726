"""The ``manifest.json`` of a reference bundle, validated by pydantic at the bundle's boundary.

The checks (each a validator, each error ``GB-REF-MANIFEST`` naming the manifest file):

* the manifest is a JSON object with ``name``, ``version`` and ``files``;
* ``files`` lists ``sequences.fasta.gz`` and ``taxonomy.tsv`` by plain file names (a name with a
  folder part, ``.`` or ``..`` could reach outside the bundle);
* ``counts`` is an object and ``sources`` and ``warnings`` are arrays, when present.

Everything else a builder writes (``format``, ``builder``, ``refseq``, ``copy_numbers`` …) is
kept as written: the model checks the keys the loader relies on, and the bundle keeps the
manifest's own mapping, whose bytes are the bundle's identity.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from gutbrain.errors import ErrorCode, ReferenceDatabaseError

__all__ = ["SEQUENCES_NAME", "TAXONOMY_NAME", "Manifest", "validate_manifest"]

logger = logging.getLogger(__name__)

SEQUENCES_NAME = "sequences.fasta.gz"
TAXONOMY_NAME = "taxonomy.tsv"
#: Optional keys with a JSON kind the loader relies on.
_KINDS: dict[str, tuple[type, str]] = {
    "counts": (dict, "object"),
    "sources": (list, "array"),
    "warnings": (list, "array"),
}


class Manifest(BaseModel):
    """The keys of a bundle manifest that gutbrain reads; other keys are kept as written."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: JsonValue
    version: JsonValue
    files: dict[str, JsonValue]
    counts: dict[str, JsonValue] | None = None
    sources: list[JsonValue] | None = None
    warnings: list[JsonValue] | None = None

    @field_validator("files", mode="before")
    @classmethod
    def _lists_the_data_files(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or SEQUENCES_NAME not in raw or TAXONOMY_NAME not in raw:
            raise PydanticCustomError(
                "gb_ref_manifest",
                "'files' must list {s} and {t}; rebuild the bundle",
                {"s": SEQUENCES_NAME, "t": TAXONOMY_NAME},
            )
        return raw

    @field_validator("files", mode="after")
    @classmethod
    def _plain_names(cls, files: dict[str, JsonValue]) -> dict[str, JsonValue]:
        outside = [name for name in files if Path(name).name != name or name in (".", "..")]
        if outside:
            raise PydanticCustomError(
                "gb_ref_manifest",
                "'files' names {name}, which is not a file of the bundle folder; expected "
                "plain file names",
                {"name": repr(outside[0])},
            )
        return files

    @field_validator(*_KINDS, mode="before")
    @classmethod
    def _json_kind(cls, raw: Any, info: ValidationInfo) -> Any:
        key = str(info.field_name)
        kind, label = _KINDS[key]
        if not isinstance(raw, kind):
            found = type(raw).__name__
            raise PydanticCustomError(
                "gb_ref_manifest",
                "{key} must be a JSON {label}, found {found}; rebuild",
                {"key": repr(key), "label": label, "found": found},
            )
        return raw


def _message(exc: PydanticValidationError, raw: object) -> str:
    """The first problem, worded as the bundle loader has always worded it."""
    first = exc.errors()[0]
    if first["type"] == "model_type":
        return f"expected a JSON object, found {type(raw).__name__}"
    if first["type"] == "missing":
        return f"required key {first['loc'][0]!r} is missing; rebuild the bundle"
    return str(first["msg"])


def validate_manifest(raw: object, *, path: Path) -> Manifest:
    """Validate the parsed JSON of the manifest at ``path``.

    Raises
    ------
    ReferenceDatabaseError
        The first problem, naming ``path`` (code ``GB-REF-MANIFEST``).
    """
    try:
        return Manifest.model_validate(raw)
    except PydanticValidationError as exc:
        message = f"{path}: {_message(exc, raw)}"
        raise ReferenceDatabaseError(message, code=ErrorCode.REF_MANIFEST) from None
