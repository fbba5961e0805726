"""Beta diversity and PCoA: scikit-bio 0.7.4 as the peer (to 1e-9), hand values, properties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skbio import TreeNode
from skbio.diversity import beta_diversity as sk_beta

from gutbrain.ecology import (
    aitchison,
    beta_diversity,
    bray_curtis,
    faith_pd,
    jaccard,
    pcoa,
    profiles_to_matrix,
    rclr,
    taxon_tree,
    unifrac,
)
from gutbrain.errors import InputFormatError
from gutbrain.model import Lineage, Profile, Provenance, SampleId, TaxonRow


def _frame(rows: list[list[float]], taxa: str = "ABCDEFGHIJ") -> pd.DataFrame:
    return pd.DataFrame(
        rows, index=[f"S{i}" for i in range(len(rows))], columns=list(taxa[: len(rows[0])])
    )


def test_bray_curtis_and_jaccard_by_hand() -> None:
    m = _frame([[6, 4, 0], [2, 2, 6]])  # p = .6 .4 0 / .2 .2 .6
    assert bray_curtis(m).loc["S0", "S1"] == pytest.approx((0.4 + 0.2 + 0.6) / 2)
    assert jaccard(m).loc["S0", "S1"] == pytest.approx(1 - 2 / 3)


def test_aitchison_robust_by_hand() -> None:
    # S0 has parts (1, 4, 0): rclr over non-zero = ln p - mean(ln p) = (-ln2, ln2, 0)
    m = _frame([[1, 4, 0], [2, 2, 2]])
    r = rclr(m)
    assert r.loc["S0"].tolist() == pytest.approx([-math.log(2), math.log(2), 0.0])
    assert r.loc["S1"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert aitchison(m).loc["S0", "S1"] == pytest.approx(math.sqrt(2) * math.log(2))


def test_against_scikit_bio_on_globalpatterns(shared_dir: Path) -> None:
    path = shared_dir / "data" / "phyloseq_globalpatterns_caporaso2011"
    counts = pd.read_csv(path / "GlobalPatterns_otu_table.tsv.gz", sep="\t", index_col=0).T
    counts = counts.loc[:, counts.sum() > 0]
    ids = list(counts.index)
    props = counts.div(counts.sum(axis=1), axis=0)
    ours = bray_curtis(counts).to_numpy()
    peer = sk_beta("braycurtis", props.to_numpy(), ids=ids).data
    assert np.max(np.abs(ours - peer)) < 1e-9
    ours_j = jaccard(counts).to_numpy()
    peer_j = sk_beta("jaccard", (counts.to_numpy() > 0), ids=ids).data
    assert np.max(np.abs(ours_j - peer_j)) < 1e-9


def test_rclr_matches_scikit_bio_rclr() -> None:
    from skbio.stats.composition import rclr as sk_rclr

    rng = np.random.default_rng(7)
    x = rng.integers(0, 20, size=(6, 9)).astype(float)
    x[:, 0] += 1  # no all-zero sample
    ours = rclr(_frame(x.tolist())).to_numpy()
    peer = np.nan_to_num(np.asarray(sk_rclr(x), dtype=float), nan=0.0)
    assert np.max(np.abs(ours - peer)) < 1e-9


_TREE = "(((A:1,B:2):1,C:3):1,(D:2,E:1):2)root;"


def test_unifrac_and_faith_against_scikit_bio() -> None:
    tree = TreeNode.read([_TREE])
    m = _frame([[3, 0, 1, 0, 2], [0, 5, 0, 1, 0], [1, 1, 1, 1, 1]], taxa="ABCDE")
    taxa = list(m.columns)
    for weighted in (True, False):
        ours = unifrac(m, tree, weighted=weighted).to_numpy()
        metric = "weighted_unifrac" if weighted else "unweighted_unifrac"
        kwargs = {"normalized": True} if weighted else {}
        peer = sk_beta(
            metric, m.to_numpy().astype(int), ids=list(m.index), taxa=taxa, tree=tree, **kwargs
        ).data
        assert np.max(np.abs(ours - peer)) < 1e-6  # proportions scaled to 1e9 integers
    pd_values = faith_pd(m, tree, rank="genus")
    # S0 has A, C, E: branches A1 + (AB)1 + C3 + (ABC)1 + E1 + (DE)2 = 9 (hand)
    assert pd_values["S0"] == pytest.approx(9.0)


def test_unifrac_needs_tree_and_known_tips() -> None:
    m = _frame([[1, 2], [2, 1]], taxa="AZ")
    with pytest.raises(InputFormatError, match="needs a phylogenetic tree"):
        beta_diversity(m, "weighted_unifrac")
    with pytest.raises(InputFormatError, match="'Z'"):
        unifrac(m, TreeNode.read([_TREE]), weighted=False)


def test_taxon_tree_keeps_one_representative(shared_dir: Path) -> None:
    from gutbrain.ecology import read_tree
    from gutbrain.io.tables import read_taxonomy

    base = shared_dir / "data" / "hitdb_human_intestinal_16s"
    tree = read_tree(base / "HITdb.tre.gz")
    tips = read_taxonomy(base / "HITdb_taxonomy_qiime.txt.gz")
    genera = ["Faecalibacterium", "Bacteroides", "Akkermansia", "Bifidobacterium"]
    small = taxon_tree(tree, tips, genera, rank="genus")
    assert sorted(t.name for t in small.tips()) == sorted(genera)
    m = _frame([[5, 1, 0, 2], [0, 3, 3, 1]], taxa="ABCD")
    m.columns = pd.Index(genera)
    d = unifrac(m, small, weighted=True)
    assert 0 < d.loc["S0", "S1"] <= 1


def test_read_tree_bad_files_are_named_errors(tmp_path: Path) -> None:
    """Regression: a missing or damaged tree file was an internal error (FileNotFoundError,
    EOFError, UnicodeDecodeError) instead of a one-line input error naming the file."""
    import gzip

    from gutbrain.ecology import read_tree
    from gutbrain.errors import InputMissingError

    with pytest.raises(InputMissingError, match=r"no-tree\.nwk"):
        read_tree(tmp_path / "no-tree.nwk")
    cut = tmp_path / "cut.nwk.gz"
    cut.write_bytes(gzip.compress(("(" * 50 + "A:1,B:2);").encode())[:-12])
    with pytest.raises(InputFormatError, match=r"cut\.nwk\.gz"):
        read_tree(cut)
    latin = tmp_path / "latin1.nwk"
    latin.write_bytes("(A\xe9:1,B:2);".encode("latin-1"))
    with pytest.raises(InputFormatError, match=r"latin1\.nwk"):
        read_tree(latin)
    good = tmp_path / "ok.nwk"
    good.write_text("(A:1,B:2);")
    assert sorted(t.name for t in read_tree(good).tips()) == ["A", "B"]


def test_pcoa_recovers_euclidean_configuration() -> None:
    pts = np.array([[0, 0], [3, 0], [0, 4], [3, 4], [1, 1]], dtype=float)
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    ids = [f"S{i}" for i in range(len(pts))]
    result = pcoa(pd.DataFrame(d, index=ids, columns=ids), dimensions=2)
    coords = result.coordinates.to_numpy()
    rebuilt = np.sqrt(((coords[:, None] - coords[None]) ** 2).sum(-1))
    assert np.max(np.abs(rebuilt - d)) < 1e-9
    assert result.proportion_explained.sum() == pytest.approx(1.0)


def test_pcoa_rejects_non_square() -> None:
    with pytest.raises(InputFormatError, match="square"):
        pcoa(pd.DataFrame(np.zeros((2, 3))))


def test_all_zero_sample_refused_not_nan() -> None:
    with pytest.raises(InputFormatError, match="all-zero"):
        bray_curtis(_frame([[0, 0], [1, 2]]))


def test_profiles_to_matrix_counts_and_unassigned() -> None:
    def prof(name: str, reads: dict[str, int], rest: int) -> Profile:
        total = sum(reads.values()) + rest
        rows = tuple(
            TaxonRow("genus", Lineage(genus=g), r / total, reads=float(r)) for g, r in reads.items()
        )
        return Profile(SampleId(name), rows, {"genus": rest / total}, Provenance("0", "t"), total)

    ps = [prof("a", {"X": 3, "Y": 1}, 4), prof("b", {"Y": 2}, 0)]
    m = profiles_to_matrix(ps, rank="genus", counts=True, include_unassigned=True)
    assert m.to_dict(orient="index") == {
        "a": {"X": 3.0, "Y": 1.0, "unassigned": 4.0},
        "b": {"X": 0.0, "Y": 2.0, "unassigned": 0.0},
    }
    rel = profiles_to_matrix(ps, rank="genus")
    assert rel.loc["a"].tolist() == pytest.approx([3 / 8, 1 / 8])
    # regression: the error did not say which sample IDs repeat
    with pytest.raises(InputFormatError, match=r"1 sample ID\(s\) occur more than once \('b'\)"):
        profiles_to_matrix([*ps, ps[1]], rank="genus")


matrices = arrays(
    np.float64,
    st.tuples(st.integers(2, 6), st.integers(1, 8)),
    elements=st.floats(0, 1000, allow_nan=False, allow_infinity=False),
).filter(lambda a: bool(np.all(a.sum(axis=1) > 1e-6)))


@settings(max_examples=50, deadline=None)
@given(matrices)
def test_bray_curtis_symmetric_in_unit_interval(values: np.ndarray) -> None:
    m = _frame(values.tolist())
    d = bray_curtis(m).to_numpy()
    assert np.allclose(d, d.T)
    assert np.all(np.diag(d) == 0)
    assert np.all((d >= -1e-12) & (d <= 1 + 1e-12))


@settings(max_examples=30, deadline=None)
@given(matrices, st.randoms(use_true_random=False))
def test_beta_invariant_to_taxon_order(values: np.ndarray, rnd: object) -> None:
    m = _frame(values.tolist())
    cols = list(m.columns)
    rnd.shuffle(cols)  # type: ignore[attr-defined]
    for metric in ("bray_curtis", "jaccard", "aitchison"):
        a = beta_diversity(m, metric).to_numpy()
        b = beta_diversity(m[cols], metric).to_numpy()
        assert np.allclose(a, b, atol=1e-12)
