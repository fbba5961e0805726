"""Rarefaction (seeded, exact totals), copy-number correction, and diversity_summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gutbrain.ecology import (
    copy_number_correct,
    copy_numbers_by_taxon,
    diversity_summary,
    rarefaction_curve,
    rarefy,
    rarefy_counts,
)
from gutbrain.errors import InputFormatError, LowDepthWarning, OptionError
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow


def _prof(name: str, reads: dict[str, int], *, rest: int = 0, rank: str = "species") -> Profile:
    total = sum(reads.values()) + rest
    rows = tuple(
        TaxonRow(
            rank,  # type: ignore[arg-type]
            Lineage(genus=s.split()[0], species=s if rank == "species" else None),
            r / total,
            reads=float(r),
        )
        for s, r in reads.items()
    )
    return Profile(
        SampleId(name),
        rows,
        {rank: rest / total},  # type: ignore[dict-item]
        Provenance("0", "test"),
        total,
    )


def test_rarefy_counts_exact_depth_and_seeded() -> None:
    counts = np.array([50, 30, 20, 0])
    a = rarefy_counts(counts, 40, rng=np.random.default_rng(3))
    b = rarefy_counts(counts, 40, rng=np.random.default_rng(3))
    assert a.sum() == 40
    assert np.all(a <= counts)
    assert a[3] == 0
    assert a.tolist() == b.tolist()


def test_rarefy_drops_shallow_samples_with_warning() -> None:
    m = pd.DataFrame([[10, 10], [1, 2], [5, 30]], index=["a", "b", "c"], columns=["x", "y"])
    with pytest.warns(LowDepthWarning, match="'?b'?"):
        out = rarefy(m, 15, seed=1)
    assert list(out.index) == ["a", "c"]
    assert out.sum(axis=1).tolist() == [15, 15]
    again = rarefy(m.loc[["a", "c"]], 15, seed=1)
    assert out.equals(again)


def test_rarefy_refuses_fractions() -> None:
    with pytest.raises(InputFormatError, match="integer read counts"):
        rarefy(pd.DataFrame([[0.5, 0.5]]), 1, seed=0)


def test_rarefaction_curve_monotone_mean() -> None:
    m = pd.DataFrame([[100, 50, 10, 5, 1, 1]], index=["a"])
    curve = rarefaction_curve(m, [1, 10, 50, 167], seed=2, iterations=20)
    assert curve["depth"].tolist() == [1, 10, 50, 167]
    means = curve["observed_mean"].tolist()
    assert means[0] == 1.0
    assert means[-1] == 6.0  # full depth: every taxon
    assert means == sorted(means)


def test_copy_number_correction_by_hand() -> None:
    # reads A 600 (4 copies), B 300 (1 copy), C 100 (genus Cg: 2 copies), unassigned 0
    p = _prof("s", {"Agen a": 600, "Bgen b": 300, "Cg c": 100})
    numbers = {"Agen a": 4.0, "Bgen b": 1.0, "Cg": 2.0}
    out = copy_number_correct(p, numbers)
    cells = {"Agen a": 0.6 / 4, "Bgen b": 0.3 / 1, "Cg c": 0.1 / 2}
    total = sum(cells.values())
    assert {r.taxon: r.abundance for r in out.at_rank("species")} == pytest.approx(
        {k: v / total for k, v in cells.items()}
    )
    assert out.copy_number_corrected
    assert not p.copy_number_corrected
    used = out.provenance.parameters["copy_number_correction"]
    assert (used["name"], used["genus"], used["default"]) == (2, 1, 0)
    # reads stay reads
    assert {r.taxon: r.reads for r in out.rows} == {r.taxon: r.reads for r in p.rows}
    with pytest.raises(InputFormatError, match="already"):
        copy_number_correct(out, numbers)


def test_copy_number_default_is_median_and_unassigned_included() -> None:
    p = _prof("s", {"X x": 50}, rest=50)
    out = copy_number_correct(p, {"A": 1.0, "B": 3.0, "C": 5.0})  # median 3
    assert out.at_rank("species")[0].abundance == pytest.approx(0.5)
    assert out.unassigned["species"] == pytest.approx(0.5)
    total = out.at_rank("species")[0].abundance + out.unassigned["species"]
    assert total == pytest.approx(1.0)


def test_copy_numbers_by_taxon_from_bundle_mappings() -> None:
    lineages = {
        "r1": Lineage(genus="G", species="G a"),
        "r2": Lineage(genus="G", species="G a"),
        "r3": Lineage(genus="G", species="G b"),
        "r4": Lineage(genus="H"),
    }
    numbers = copy_numbers_by_taxon(lineages, {"r1": 2.0, "r2": 4.0, "r3": 6.0, "r4": 1.0})
    assert numbers == {"G a": 3.0, "G b": 6.0, "G": 4.5, "H": 1.0}


def test_rrndb_flat_table_agrees_with_the_bundle_importer() -> None:
    """Regression: two rrnDB readers gave a genus different numbers (4.5 here vs 5.0).

    rrndb_mini.tsv: Faecalibacterium genomes 7, 5 (F. prausnitzii) and 3 (F. sp.): genus mean
    over genomes (7 + 5 + 3) / 3 = 5.0, the value a bundle imported with --copy-numbers stores.
    """
    from gutbrain.reference.copy_numbers import read_rrndb_copy_numbers as read_table
    from gutbrain.reference.copy_numbers import (
        rrndb_copy_numbers_by_name as read_rrndb_copy_numbers,
    )

    path = Path(__file__).parents[1] / "reference" / "fixtures" / "rrndb_mini.tsv"
    numbers = read_rrndb_copy_numbers(path)
    table = read_table(path)
    assert numbers == {**table.species, **table.genus}
    assert numbers["Faecalibacterium"] == 5.0
    assert numbers["Faecalibacterium prausnitzii"] == 6.0


def test_rrndb_real_table(shared_dir: Path) -> None:
    from gutbrain.reference.copy_numbers import (
        rrndb_copy_numbers_by_name as read_rrndb_copy_numbers,
    )

    numbers = read_rrndb_copy_numbers(
        shared_dir / "data" / "rrndb_16s_copy_number" / "rrnDB-5.4.tsv.gz"
    )
    assert 6.5 < numbers["Escherichia coli"] < 7.5  # E. coli K-12 has 7 rrn operons
    assert numbers["Bacteroides"] > 1
    assert all(v > 0 for v in numbers.values())


def test_diversity_summary_excludes_and_rarefies() -> None:
    ps = [
        _prof("a", {"A a": 40, "B b": 40, "C c": 20}),
        _prof("b", {"A a": 5, "B b": 5}),
        _prof("c", {"A a": 70, "C c": 30}),
        _prof("g", {"A a": 1}, rank="genus"),  # nothing at species
    ]
    with pytest.warns(LowDepthWarning):
        result = diversity_summary(ps, rank="species", rarefy_depth=50, seed=4)
    assert list(result.alpha.index) == ["a", "c"]
    assert result.excluded == {"g": "no taxa at rank species", "b": "fewer than 50 reads"}
    assert set(result.beta) == {"bray_curtis", "jaccard", "aitchison"}
    assert result.used_counts
    assert not result.alpha.isna().any().any()
    with pytest.raises(OptionError, match="seed"):
        diversity_summary(ps[:1], rank="species", rarefy_depth=5)
