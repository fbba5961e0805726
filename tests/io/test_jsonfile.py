"""The one JSON writer (``gutbrain.io.jsonfile``): one rule for NaN/inf and numpy values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gutbrain.io.files import written_by_gutbrain
from gutbrain.io.jsonfile import dumps_json, jsonable, write_json

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=20,
)


def _finite(value: object) -> object:
    """What the rule promises: the value with every non-finite float as None, tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@given(_VALUES)
def test_output_is_strict_json_and_reads_back_with_non_finite_as_null(value: object) -> None:
    text = dumps_json(value)
    assert text.endswith("\n")
    strict = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in output"))
    assert strict == _finite(value)


def test_numpy_values_are_plain_numbers_and_non_finite_is_null() -> None:
    data = {
        "count": np.int64(7),
        "share": np.float32(0.5),
        "flag": np.bool_(True),
        "nan": np.float64("nan"),
        "inf": float("inf"),
        "array": np.array([1.0, np.nan]),
        "nested": {"t": (1, -np.inf)},
        "set": {3, 1},
        "path": Path("a/b"),
    }
    assert json.loads(dumps_json(data)) == {
        "count": 7,
        "share": 0.5,
        "flag": True,
        "nan": None,
        "inf": None,
        "array": [1.0, None],
        "nested": {"t": [1, None]},
        "set": [1, 3],
        "path": "a/b",
    }
    assert jsonable(np.int64(7)).__class__ is int


def test_compact_form_is_one_line_and_key_order_can_be_kept() -> None:
    assert (
        dumps_json({"b": [1, float("nan")], "a": "é"}, indent=None) == '{"a": "é", "b": [1, null]}'
    )
    kept = dumps_json({"name": "x", "version": "1"}, sort_keys=False)
    assert kept.index('"name"') < kept.index('"version"')


def test_write_json_is_atomic_and_marked(tmp_path: Path) -> None:
    path = write_json(tmp_path / "out" / "provenance.json", {"gutbrain_version": "1", "x": np.nan})
    assert json.loads(path.read_text(encoding="utf-8")) == {"gutbrain_version": "1", "x": None}
    assert written_by_gutbrain(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["provenance.json"]
