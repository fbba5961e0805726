"""Ad-hoc groups: congeners a sample's reads do not separate (gutbrain.profile.contest)."""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.model import Lineage
from gutbrain.profile.contest import (
    ContestSettings,
    contest_threshold,
    join_contested_species,
)
from gutbrain.profile.groups import compute_species_groups
from gutbrain.profile.likelihood import ErrorModel
from gutbrain.profile.pipeline import PROFILE_PRESETS, profile_sample
from gutbrain.profile.taxonomy import GroupMerge, TaxonIndex
from gutbrain.reference.bundle import ReferenceBundle
from gutbrain.reference.formats import import_bundle
from gutbrain.reference.groups import write_species_groups
from tests.profile.profile_helpers import mutate, reference_sequences

# error types 0.4 / 0.3 / 0.2 / 0.1: the cheapest error costs -log 0.4 = 0.916 nats
MODEL = ErrorModel(math.log(0.4), math.log(0.3), math.log(0.2), math.log(0.1))
DELTA = contest_threshold(MODEL, 2.0)
TAXIDS = {"Neisseria gonorrhoeae": "485", "Neisseria meningitidis": "487"}


def _lin(genus: str, species: str | None) -> Lineage:
    return Lineage(superkingdom="Bacteria", family="F", genus=genus, species=species)


def _index(species: Sequence[tuple[str, str]]) -> TaxonIndex:
    taxonomy = {f"r{i}": _lin(genus, name) for i, (genus, name) in enumerate(species)}
    return TaxonIndex.from_references(list(taxonomy), taxonomy)


SISTERS = _index(
    [
        ("Neisseria", "Neisseria meningitidis"),
        ("Neisseria", "Neisseria gonorrhoeae"),
        ("Neisseria", "Neisseria mucosa"),
        ("Klebsiella", "Klebsiella pneumoniae"),
    ]
)


def _join(
    margins: Sequence[float],
    *,
    index: TaxonIndex = SISTERS,
    second: int = 1,
    extra: dict[int, float] | None = None,
    contest: ContestSettings | None = None,
) -> GroupMerge:
    """Reads whose best unit is 0; unit ``second`` lies ``margin`` below it; unit 2 far off."""
    rows, cols, values = [], [], []
    for r, margin in enumerate(margins):
        entries = {0: -20.0, second: -20.0 - margin, 2: -80.0, **(extra or {})}
        for col, value in entries.items():
            rows.append(r)
            cols.append(col)
            values.append(value)
    matrix = sp.csr_matrix(
        (values, (rows, cols)), shape=(len(margins), index.n_units), dtype=np.float64
    )
    return join_contested_species(
        GroupMerge.identity(index),
        matrix,
        np.ones(len(margins)),
        np.zeros(len(margins), dtype=np.int64),
        threshold=DELTA,
        taxids=TAXIDS,
        settings=contest or ContestSettings(),
    )


def test_threshold_is_two_of_the_cheapest_errors() -> None:
    assert pytest.approx(2 * -math.log(0.4)) == DELTA
    costly = ErrorModel(math.log(0.25), math.log(0.25), math.log(0.25), math.log(0.25))
    assert contest_threshold(costly, 2.0) > DELTA  # even error types: each error costs more


def test_congeners_the_reads_do_not_separate_become_one_group() -> None:
    merge = _join([0.0, 0.5, 1.0, 0.2, 5.0])  # 4 of 5 reads within one error
    assert merge.merged == 1
    (k,) = merge.adhoc
    unit = merge.index.units[k]
    # named like a reference group: after the earliest-described member (smallest tax id)
    assert unit.species == "Neisseria gonorrhoeae group"
    assert unit.genus == "Neisseria"
    assert merge.members[k] == ("Neisseria gonorrhoeae", "Neisseria meningitidis")
    assert merge.column.tolist() == [k, k, 2, 3]
    posterior = sp.csr_matrix(np.array([[0.6, 0.4, 0.0, 0.0]]))
    assert merge.merge_posterior(posterior).toarray()[0, k] == pytest.approx(1.0)


def test_reads_that_separate_the_congeners_keep_the_species() -> None:
    merge = _join([2.0 * DELTA] * 4 + [0.0])  # only 1 of 5 reads contested
    assert merge.merged == 0
    assert merge.column.tolist() == [0, 1, 2, 3]


def test_a_read_matching_the_congener_better_is_contested() -> None:
    # the EM's prior made unit 0 the best although unit 1 has the higher likelihood
    assert _join([-3.0, -3.0]).merged == 1


def test_other_genera_are_never_joined() -> None:
    merge = _join([0.0, 0.0, 0.0], second=3)
    assert merge.merged == 0


def test_contest_larger_than_a_group_goes_to_genus_rank() -> None:
    merge = _join([0.0, 0.0], contest=ContestSettings(max_group_size=1))
    (k,) = merge.adhoc
    assert merge.index.units[k].species is None
    assert merge.index.units[k].genus == "Neisseria"
    assert k not in merge.members
    assert merge.merged == 1


def test_an_existing_group_is_extended_with_its_contested_congener() -> None:
    group_unit = SISTERS.n_units
    units = (*SISTERS.units, _lin("Neisseria", "Neisseria meningitidis group"))
    merged_index = TaxonIndex(
        units, SISTERS.ref_unit, SISTERS.genera, np.append(SISTERS.unit_genus, 0)
    )
    # meningitidis and mucosa are one reference group (unit 4); gonorrhoeae is contested with it
    reference_merge = GroupMerge(
        merged_index,
        np.array([group_unit, 1, group_unit, 3]),
        {group_unit: ("Neisseria meningitidis", "Neisseria mucosa")},
    )
    matrix = sp.csr_matrix(np.array([[-20.0, -20.5, -21.0, 0.0]] * 3))
    matrix.eliminate_zeros()
    merge = join_contested_species(
        reference_merge,
        matrix,
        np.ones(3),
        np.full(3, group_unit, dtype=np.int64),
        threshold=DELTA,
        taxids=TAXIDS,
        settings=ContestSettings(),
    )
    (k,) = merge.adhoc
    assert merge.members[k] == (
        "Neisseria gonorrhoeae",
        "Neisseria meningitidis",
        "Neisseria mucosa",
    )
    assert group_unit not in merge.members  # absorbed
    assert merge.column.tolist() == [k, k, k, 3]


@settings(max_examples=60, deadline=None)
@given(margins=st.lists(st.floats(min_value=-5.0, max_value=10.0), min_size=1, max_size=12))
def test_joined_exactly_when_most_of_the_reads_are_within_the_threshold(
    margins: list[float],
) -> None:
    contested = sum(1 for m in margins if m <= DELTA)
    merge = _join(margins)
    assert (merge.merged == 1) == (contested >= 0.5 * len(margins))
    # the distinct species stays out of any group
    assert merge.column[2] == 2


# ---------------------------------------------------------------------------------------------
# end to end: two sisters equidistant from the sample's strain, one distinct congener

_LINEAGE = "Bacteroidaceae\tBacteroidales\tBacteroidia\tBacteroidetes\tBacteria"


def _substitute(sequence: str, positions: Sequence[int]) -> str:
    chars = list(sequence)
    for position in positions:
        chars[position] = "ACGT"[("ACGT".index(chars[position]) + 1) % 4]
    return "".join(chars)


def _strains() -> dict[str, str]:
    seqs = reference_sequences()
    strain = seqs["7000004128190436"]
    rng = np.random.default_rng(11)
    positions = rng.choice(np.arange(60, len(strain) - 60), size=24, replace=False).tolist()
    return {
        "strain": strain,  # the sample's strain: in no reference
        "sisA": _substitute(strain, positions[:12]),  # ~0.8 % from the strain, ~1.6 % apart
        "sisB": _substitute(strain, positions[12:]),
        "vulg": seqs["S000436356"],
        "kleb": seqs["S000003122"],
    }


def _bundle(folder: Path) -> ReferenceBundle:
    strains = _strains()
    rows = {
        "sisA": ("Bacteroides fragilis", strains["sisA"], "817"),
        "sisB": ("Bacteroides sororis", strains["sisB"], "900"),
        "vulg": ("Bacteroides vulgatus", strains["vulg"], "821"),
        "kleb": ("Klebsiella pneumoniae", strains["kleb"], "573"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    fasta = folder / "ref.fasta"
    fasta.write_text("".join(f">{k}\n{s}\n" for k, (_, s, _) in rows.items()))
    taxonomy = folder / "taxonomy.tsv"
    lines = ["id\ttax_id\tspecies\tgenus\tfamily\torder\tclass\tphylum\tsuperkingdom"]
    for ref_id, (species, _, taxid) in rows.items():
        lines.append(f"{ref_id}\t{taxid}\t{species}\t{species.split()[0]}\t{_LINEAGE}")
    taxonomy.write_text("\n".join(lines) + "\n")
    bundle = import_bundle(
        fasta, taxonomy, format="tsv-ranks", name="sisters", version="1", out=folder / "b"
    )
    return write_species_groups(bundle, compute_species_groups(bundle))


def _reads(path: Path, counts: dict[str, int], *, seed: int = 5, rate: float = 0.05) -> Path:
    rng = np.random.default_rng(seed)
    strains = _strains()
    with gzip.open(path, "wt") as handle:
        k = 0
        for source, n in counts.items():
            for _ in range(n):
                k += 1
                read = mutate(strains[source], rate, rng)
                handle.write(f"@r{k}\n{read}\n+\n{'5' * len(read)}\n")
    return path


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def bundle(tmp_path: Path) -> ReferenceBundle:
    return _bundle(tmp_path / "ref")


def test_equidistant_sisters_become_an_adhoc_group(tmp_path: Path, bundle: ReferenceBundle) -> None:
    sample = _reads(tmp_path / "r.fastq.gz", {"strain": 80, "vulg": 40})
    result = profile_sample([sample], bundle=bundle, preset="ont", sample_id="s")
    species = {row.taxon: row for row in result.profile.at_rank("species")}
    # B. fragilis (taxid 817) is the earliest-described member
    group = species["Bacteroides fragilis group"]
    assert group.members == ("Bacteroides fragilis", "Bacteroides sororis")
    assert group.reads == pytest.approx(80, abs=4)
    assert "Bacteroides fragilis" not in species
    assert "Bacteroides sororis" not in species
    # the distinct congener stays a species
    assert species["Bacteroides vulgatus"].members == ()
    assert species["Bacteroides vulgatus"].reads == pytest.approx(40, abs=3)
    assert result.em.species_groups_adhoc == ("Bacteroides fragilis group",)
    assert result.assignment["reads_assigned_adhoc_group"] == pytest.approx(80, abs=4)
    threshold = result.em.contest_threshold_log_likelihood
    assert threshold is not None
    assert threshold > 0
    parameters = result.profile.provenance.parameters
    assert parameters["contested_congeners"] == ContestSettings().as_dict()
    # the group's interval contains its share, and genus rows are unchanged
    assert group.abundance_low is not None
    assert group.abundance_high is not None
    assert group.abundance_low <= group.abundance <= group.abundance_high
    genus = {row.taxon: row.reads for row in result.profile.at_rank("genus")}
    assert genus["Bacteroides"] == pytest.approx(120, abs=3)


def test_without_the_rule_one_sister_is_named(tmp_path: Path, bundle: ReferenceBundle) -> None:
    sample = _reads(tmp_path / "r.fastq.gz", {"strain": 80, "vulg": 40})
    off = replace(PROFILE_PRESETS["ont"], contest=None)
    result = profile_sample([sample], bundle=bundle, preset="ont", settings=off)
    names = {row.taxon for row in result.profile.at_rank("species")}
    assert not any(name.endswith(" group") for name in names)
    assert names & {"Bacteroides fragilis", "Bacteroides sororis"}


def test_a_strain_in_the_reference_keeps_its_species(
    tmp_path: Path, bundle: ReferenceBundle
) -> None:
    sample = _reads(tmp_path / "r.fastq.gz", {"sisA": 80, "sisB": 30, "vulg": 40})
    result = profile_sample([sample], bundle=bundle, preset="ont", sample_id="s")
    species = {row.taxon: row.reads for row in result.profile.at_rank("species")}
    assert species["Bacteroides fragilis"] == pytest.approx(80, abs=3)
    assert species["Bacteroides sororis"] == pytest.approx(30, abs=3)
    assert result.em.species_groups_adhoc == ()
