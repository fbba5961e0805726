"""The one JSON writer: every JSON document gutbrain writes goes through :func:`dumps_json`.

One rule for values JSON has no word for, so that the same data gives the same bytes wherever it
is written (``provenance.json`` from ``profile``, ``run`` and ``run --table`` alike):

* ``NaN``, ``inf`` and ``-inf`` become ``null`` (also inside numpy scalars and arrays), as
  pydantic writes them in ``result.json``; the output never holds the non-standard ``NaN`` tokens
  Python's :mod:`json` would write;
* numpy scalars become the Python number or bool they hold, numpy arrays lists;
* mappings become objects with string keys, tuples and lists arrays, sets sorted arrays;
* anything else (paths, dates, enums that are not ``str``/``int``) becomes ``str(value)``.

Text is UTF-8 (``ensure_ascii=False``); a document (``indent=2``, the default) ends with a newline,
a compact one-line value (``indent=None``, e.g. a database column) does not. Keys are sorted unless
the caller keeps its own order (``sort_keys=False``, e.g. a bundle manifest).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any

import numpy as np

from gutbrain.io.files import atomic_write_text

__all__ = ["dumps_json", "jsonable", "write_json"]


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types under the module's rule (NaN and inf to ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"a": float("nan"), 2: (np.int64(3), np.float32("inf")), "b": {np.True_}})
    {'a': None, '2': [3, None], 'b': [True]}
    """
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, Set):
        return sorted((jsonable(item) for item in value), key=repr)
    return str(value)


def dumps_json(data: Any, *, indent: int | None = 2, sort_keys: bool = True) -> str:
    """Serialise ``data`` under the module's rule; a document (``indent``) ends with a newline.

    Examples
    --------
    >>> print(dumps_json({"b": float("nan"), "a": "µ"}), end="")
    {
      "a": "µ",
      "b": null
    }
    >>> dumps_json({"b": 1, "a": [1.5]}, indent=None)
    '{"a": [1.5], "b": 1}'
    """
    text = json.dumps(
        jsonable(data), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False
    )
    return text + "\n" if indent is not None else text


def write_json(path: str | Path, data: Any, *, sort_keys: bool = True) -> Path:
    """Write ``data`` as an indented JSON document atomically (:func:`dumps_json`); return the path.

    Raises
    ------
    OutputError
        When the folder cannot be written (missing, read-only, disk full).
    """
    return atomic_write_text(path, dumps_json(data, sort_keys=sort_keys))
