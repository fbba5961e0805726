"""benchmarks/profile_agreement.py: the L1 between gutbrain's and Emu's profiles, group-aware."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "profile_agreement.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profile_agreement", PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


agreement = _module()

GROUPS = {"Dorea longicatena group": ("Dorea longicatena", "Dorea phocaeensis")}
GENUS = {"Dorea longicatena group": "Dorea"}


def test_group_row_matches_its_members_summed() -> None:
    # gutbrain: one group row; Emu: its two members. By name the L1 is 2 (nothing shared).
    gutbrain = {"Dorea longicatena group": 0.6, "Akkermansia muciniphila": 0.4}
    emu_rows = [
        ("Dorea longicatena", "Dorea", 0.5),
        ("Dorea phocaeensis", "Dorea", 0.1),
        ("Akkermansia muciniphila", "Akkermansia", 0.4),
    ]
    emu = agreement.group_aware_emu(emu_rows, GROUPS, GENUS)
    assert emu["species"] == pytest.approx(
        {"Dorea longicatena group": 0.6, "Akkermansia muciniphila": 0.4}
    )
    assert agreement.l1_between(gutbrain, emu["species"]) == pytest.approx(0.0)
    by_name = {s: a for s, _, a in emu_rows}
    assert agreement.l1_between(gutbrain, by_name) == pytest.approx(1.2)


def test_member_of_another_genus_counts_under_the_group_rows_genus() -> None:
    groups = {"Escherichia coli group": ("Escherichia coli", "Shigella sonnei")}
    genus = {"Escherichia coli group": "Escherichia"}
    emu_rows = [("Escherichia coli", "Escherichia", 0.7), ("Shigella sonnei", "Shigella", 0.3)]
    emu = agreement.group_aware_emu(emu_rows, groups, genus)
    assert emu["genus"] == pytest.approx({"Escherichia": 1.0})


def test_rows_without_a_name_at_a_rank_are_left_out_at_that_rank() -> None:
    emu_rows = [
        ("[Eubacterium] rectale", "", 0.25),
        ("Akkermansia muciniphila", "Akkermansia", 0.75),
    ]
    emu = agreement.group_aware_emu(emu_rows, {}, {})
    assert emu["genus"] == pytest.approx({"Akkermansia": 0.75})
    assert emu["species"] == pytest.approx(
        {"[Eubacterium] rectale": 0.25, "Akkermansia muciniphila": 0.75}
    )


def test_species_outside_gutbrains_groups_keep_their_names() -> None:
    emu_rows = [("Dorea longicatena", "Dorea", 1.0)]
    emu = agreement.group_aware_emu(emu_rows, {}, {})
    assert emu["species"] == {"Dorea longicatena": 1.0}


abundances = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]), st.floats(min_value=0.01, max_value=10.0), min_size=1
)


@given(abundances, abundances)
def test_l1_between_is_symmetric_and_bounded(a: dict[str, float], b: dict[str, float]) -> None:
    d = agreement.l1_between(a, b)
    assert d == pytest.approx(agreement.l1_between(b, a))
    assert -1e-12 <= d <= 2.0 + 1e-12
    assert agreement.l1_between(a, a) == pytest.approx(0.0, abs=1e-12)


@given(abundances, st.floats(min_value=0.1, max_value=10.0))
def test_l1_between_ignores_scale(a: dict[str, float], k: float) -> None:
    scaled = {name: v * k for name, v in a.items()}
    assert agreement.l1_between(a, scaled) == pytest.approx(0.0, abs=1e-9)
