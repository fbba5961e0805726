"""Alpha diversity: hand calculations, scikit-bio 0.7.4 as the peer, Hypothesis properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skbio.diversity import alpha as sk

from gutbrain.ecology import alpha_diversity, alpha_table
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow


def make_profile(
    sample: str, counts: dict[str, float], *, unassigned: float = 0.0, integer: bool = True
) -> Profile:
    total = sum(counts.values()) + unassigned
    rows = tuple(
        TaxonRow("genus", Lineage(genus=g), v / total, reads=v if integer else None)
        for g, v in counts.items()
    )
    return Profile(SampleId(sample), rows, {"genus": unassigned / total}, Provenance("0", "t"))


def test_hand_calculation_two_even_taxa() -> None:
    # counts 5, 5: H = ln 2, Simpson = 1 - 0.5, 1/D = 2, J = 1; F1 = F2 = 0 -> Chao1 = S = 2
    out = alpha_diversity(make_profile("s", {"A": 5, "B": 5}), rank="genus")
    assert out == pytest.approx(
        {
            "observed": 2.0,
            "chao1": 2.0,
            "shannon": math.log(2),
            "simpson": 0.5,
            "inverse_simpson": 2.0,
            "pielou": 1.0,
        }
    )


def test_hand_calculation_singletons_and_unassigned() -> None:
    # counts 1, 1, 2, 6 (+ 10 unassigned, ignored): p = .1 .1 .2 .6
    profile = make_profile("s", {"A": 1, "B": 1, "C": 2, "D": 6}, unassigned=10)
    out = alpha_diversity(profile, rank="genus")
    h = -(2 * 0.1 * math.log(0.1) + 0.2 * math.log(0.2) + 0.6 * math.log(0.6))
    d = 2 * 0.01 + 0.04 + 0.36
    assert out["observed"] == 4
    assert out["chao1"] == pytest.approx(4 + 2 * 1 / (2 * (1 + 1)))  # F1=2, F2=1 -> 4.5
    assert out["shannon"] == pytest.approx(h)
    assert out["simpson"] == pytest.approx(1 - d)
    assert out["inverse_simpson"] == pytest.approx(1 / d)
    assert out["pielou"] == pytest.approx(h / math.log(4))


def test_chao1_none_without_counts_and_pielou_none_for_one_taxon() -> None:
    out = alpha_diversity(make_profile("s", {"A": 0.7, "B": 0.3}, integer=False), rank="genus")
    assert out["chao1"] is None
    one = alpha_diversity(make_profile("s", {"A": 3}), rank="genus")
    assert one["shannon"] == 0.0
    assert one["pielou"] is None


def test_no_taxa_at_rank_gives_none_not_nan() -> None:
    out = alpha_diversity(make_profile("s", {"A": 3}), rank="species")
    assert out["observed"] == 0
    assert all(out[k] is None for k in ("chao1", "shannon", "simpson", "pielou"))


def test_globalpatterns_otu_level_against_scikit_bio(shared_dir: Path) -> None:
    """All 26 samples at OTU level; peer: scikit-bio 0.7.4 (shannon base e, chao1 bias-corrected).

    Observed OTUs of the first six samples as printed by mia::estimateRichness in the OMA book
    (microbiome/OMA, 'Community diversity'): 6964 7679 5729 2667 2574 3214.
    """
    path = shared_dir / "data" / "phyloseq_globalpatterns_caporaso2011"
    counts = pd.read_csv(path / "GlobalPatterns_otu_table.tsv.gz", sep="\t", index_col=0).T
    ours = alpha_table(counts.to_numpy())
    assert ours["observed"][:6].tolist() == [6964, 7679, 5729, 2667, 2574, 3214]
    for i, row in enumerate(counts.to_numpy().astype(np.int64)):
        assert ours["shannon"][i] == pytest.approx(sk.shannon(row, base=math.e), abs=1e-9)
        assert ours["simpson"][i] == pytest.approx(sk.simpson(row), abs=1e-9)
        assert ours["inverse_simpson"][i] == pytest.approx(sk.inv_simpson(row), rel=1e-9)
        assert ours["chao1"][i] == pytest.approx(sk.chao1(row, bias_corrected=True), abs=1e-9)
        assert ours["pielou"][i] == pytest.approx(sk.pielou_e(row), abs=1e-9)


counts_vectors = st.lists(
    st.integers(min_value=0, max_value=10_000), min_size=1, max_size=40
).filter(lambda v: sum(v) > 0)


@settings(max_examples=60, deadline=None)
@given(counts_vectors)
def test_shannon_bounds(values: list[int]) -> None:
    table = alpha_table(np.array([values], dtype=float))
    s = int(table["observed"][0])
    h = float(table["shannon"][0])
    assert -1e-12 <= h <= math.log(s) + 1e-9
    assert 0.0 <= table["simpson"][0] <= 1.0 - 1.0 / s + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=10**9))
def test_one_taxon_has_zero_shannon(count: int) -> None:
    table = alpha_table(np.array([[0, count, 0]], dtype=float))
    assert table["shannon"][0] == 0.0
    # regression: Shannon was -0.0, written as "-0" in alpha.tsv
    assert math.copysign(1.0, table["shannon"][0]) == 1.0
    assert table["simpson"][0] == 0.0


@settings(max_examples=40, deadline=None)
@given(counts_vectors, st.randoms(use_true_random=False), st.integers(min_value=2, max_value=50))
def test_diversity_invariant_to_taxon_order_and_scale(
    values: list[int], rnd: object, scale: int
) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    base = alpha_table(np.array([values], dtype=float))
    other = alpha_table(np.array([shuffled], dtype=float))
    scaled = alpha_table(np.array([values], dtype=float) * scale, integer_counts=True)
    for key in ("observed", "shannon", "simpson", "inverse_simpson"):
        assert other[key][0] == pytest.approx(base[key][0], rel=1e-12, abs=1e-12)
        assert scaled[key][0] == pytest.approx(base[key][0], rel=1e-9, abs=1e-12)


def test_negative_values_refused() -> None:
    from gutbrain.errors import InputFormatError

    with pytest.raises(InputFormatError):
        alpha_table(np.array([[1.0, -1.0]]))
