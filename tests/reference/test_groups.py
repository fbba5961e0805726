"""Species groups: clustering, storage in the bundle, computation from the reference itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.errors import ReferenceDatabaseError
from gutbrain.profile.groups import compute_species_groups
from gutbrain.reference.bundle import ReferenceBundle, load_bundle, verify_bundle
from gutbrain.reference.formats import import_bundle
from gutbrain.reference.groups import (
    GROUPS_NAME,
    SpeciesGroup,
    SpeciesGroups,
    cluster_species,
    load_species_groups,
    write_species_groups,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def sister_reference(folder: Path) -> ReferenceBundle:
    """``fixtures/sisters.*``: B. fragilis (2 copies) and a made-up sister 0.3 % apart (4
    substitutions in 1,517 bp), B. vulgatus (~10 % apart) and Klebsiella: the sisters form the
    one group (not the whole genus Bacteroides)."""
    return import_bundle(
        FIXTURES / "sisters.fasta",
        FIXTURES / "sisters_taxonomy.tsv",
        format="tsv-ranks",
        name="sisters",
        version="1",
        out=folder / "bundle",
    )


# ------------------------------------------------------------------------------ clustering


def test_cluster_known_answer_links_chain_and_leaves_genus() -> None:
    genus = {"A a": "A", "A b": "A", "A c": "A", "A d": "A", "B x": "B"}
    identity = {("A a", "A b"): 0.995, ("A b", "A c"): 0.991, ("A c", "A d"): 0.95}
    assert cluster_species(identity, genus, min_identity=0.99) == [("A a", "A b", "A c")]
    # at a stricter threshold only the closest pair remains
    assert cluster_species(identity, genus, min_identity=0.993) == [("A a", "A b")]
    # linking every species of genus A is the genus, not a group
    identity[("A c", "A d")] = 0.999
    assert cluster_species(identity, genus, min_identity=0.99) == []


def test_cluster_splits_oversized_components_at_stricter_identity() -> None:
    genus = {f"G s{i}": "G" for i in range(6)} | {"G other": "G"}
    identity = {(f"G s{i}", f"G s{i + 1}"): 0.99 + 0.001 * (i % 2) for i in range(5)}
    groups = cluster_species(identity, genus, min_identity=0.99, max_group_size=3)
    assert all(len(g) <= 3 for g in groups)
    # 0.99 links all six (over 3): split at 0.991, where only s1-s2 and s3-s4 stay linked
    assert groups == [("G s1", "G s2"), ("G s3", "G s4")]


_names = st.sampled_from([f"G{g} s{s}" for g in range(3) for s in range(5)])


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.dictionaries(
        st.tuples(_names, _names).filter(lambda p: p[0] < p[1]),
        st.floats(min_value=0.9, max_value=1.0),
        max_size=30,
    ),
    max_size=st.integers(min_value=2, max_value=6),
)
def test_cluster_properties(pairs: dict[tuple[str, str], float], max_size: int) -> None:
    genus = {f"G{g} s{s}": f"G{g}" for g in range(3) for s in range(5)}
    groups = cluster_species(pairs, genus, min_identity=0.97, max_group_size=max_size)
    seen: set[str] = set()
    for group in groups:
        assert 2 <= len(group) <= max_size
        assert not seen & set(group)  # a species belongs to one group
        seen |= set(group)
        genera = {genus[m] for m in group}
        whole = all({s for s, g in genus.items() if g == gg} <= set(group) for gg in genera)
        assert not whole  # never a whole genus
        # every member is linked to another member at >= the base threshold
        for member in group:
            assert any(
                pairs.get((min(member, o), max(member, o)), 0.0) >= 0.97
                for o in group
                if o != member
            )
    # the order pairs arrive in does not matter
    again = cluster_species(
        dict(reversed(list(pairs.items()))), genus, min_identity=0.97, max_group_size=max_size
    )
    assert again == groups


# ------------------------------------------------------------------------- computation


def test_compute_groups_from_the_reference_finds_the_sisters(tmp_path: Path) -> None:
    bundle = sister_reference(tmp_path)
    groups = compute_species_groups(bundle)
    assert [g.members for g in groups.groups] == [("Bacteroides fragilis", "Bacteroides sororis")]
    (group,) = groups.groups
    assert group.name == "Bacteroides fragilis group"  # smallest taxid names the group
    assert group.genus == "Bacteroides"
    assert groups.method["min_identity"] == 0.99


def test_reference_with_one_species_per_genus_cannot_be_grouped(tmp_path: Path) -> None:
    bundle = import_bundle(
        FIXTURES / "tiny.fasta",
        FIXTURES / "tiny_taxonomy.tsv",
        format="tsv-ranks",
        name="tiny",
        version="1",
        out=tmp_path / "tiny",
    )
    with pytest.raises(ReferenceDatabaseError, match="no genus holds two named species") as info:
        compute_species_groups(bundle)
    assert info.value.code == "GB-REF-GROUPS"
    assert str(bundle.path) in str(info.value)


# ----------------------------------------------------------------------------- storage


def test_groups_are_stored_in_the_manifest_and_verified(tmp_path: Path) -> None:
    bundle = sister_reference(tmp_path)
    assert load_species_groups(bundle) is None
    stored = write_species_groups(bundle, compute_species_groups(bundle))
    assert stored.sha256 != bundle.sha256  # the identity covers the groups
    assert GROUPS_NAME in stored.manifest["files"]
    assert stored.manifest["groups"]["groups"] == 1
    assert stored.manifest["groups"]["max_group_size"] == 12
    loaded = load_species_groups(stored)
    assert loaded is not None
    assert loaded.by_species()["Bacteroides sororis"].name == "Bacteroides fragilis group"
    verify_bundle(stored.path)
    assert not any(".partial-" in p.name or ".old-" in p.name for p in tmp_path.iterdir())
    # a changed groups.tsv is caught by verification
    path = stored.path / GROUPS_NAME
    path.write_text(path.read_text().replace("sororis", "sororiz"))
    with pytest.raises(ReferenceDatabaseError) as info:
        verify_bundle(stored.path)
    assert info.value.code == "GB-REF-CHANGED"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ("Bacteroides fragilis;Bacteroides fragilis", "already a member on line 2"),
        ("Bacteroides fragilis;", "empty member"),
        ("Bacteroides fragilis;Bacteroides nowhere", "not in the reference"),
        ("Bacteroides fragilis", "expected 2+"),
    ],
)
def test_bad_groups_file_names_file_and_line(tmp_path: Path, members: str, expected: str) -> None:
    bundle = sister_reference(tmp_path)
    stored = write_species_groups(bundle, compute_species_groups(bundle))
    path = stored.path / GROUPS_NAME
    header = path.read_text().splitlines()[0]
    path.write_text(f"{header}\nG0001\tX group\tBacteroides\t{members}\n")
    manifest = json.loads((stored.path / "manifest.json").read_text())
    manifest["files"][GROUPS_NAME]["bytes"] = path.stat().st_size
    (stored.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReferenceDatabaseError, match=expected) as info:
        load_species_groups(load_bundle(stored.path))
    assert info.value.code == "GB-REF-GROUPS"
    assert f"{path}:2" in str(info.value)


def test_writing_bad_groups_leaves_the_bundle_untouched(tmp_path: Path) -> None:
    bundle = sister_reference(tmp_path)
    bad = SpeciesGroups(
        (SpeciesGroup("G0001", "X group", "Bacteroides", ("Bacteroides fragilis", "")),)
    )
    with pytest.raises(ReferenceDatabaseError, match="empty member") as info:
        write_species_groups(bundle, bad)
    assert info.value.code == "GB-REF-GROUPS"
    assert load_bundle(bundle.path).sha256 == bundle.sha256
    twice = SpeciesGroups(
        (SpeciesGroup("G0001", "X group", "Bacteroides", ("Bacteroides fragilis",) * 2),)
    )
    with pytest.raises(ReferenceDatabaseError, match="twice"):
        write_species_groups(bundle, twice)
    assert not (bundle.path / GROUPS_NAME).exists()
