"""Personal beta diversity: known answers, the add-a-point property, cohort selection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import pdist, squareform

from gutbrain.ecology.reference_beta import (
    GenusCohort,
    classical_pcoa,
    load_genus_cohorts,
    personal_beta,
    project_point,
)


def _cohort(
    values: list[list[float]], *, key: str = "c", samples: tuple[str, ...] = ()
) -> GenusCohort:
    n = len(values)
    return GenusCohort(
        key=key,
        cohort=key.upper(),
        method="test",
        citation="",
        licence="",
        samples=samples or tuple(f"m{i}" for i in range(n)),
        genera=("A", "B", "C"),
        values=np.array(values, dtype=float),
    )


def test_bray_curtis_median_and_percentile_by_hand() -> None:
    # members: 20 copies of A-only and 20 of B-only; sample half A half B
    members = [[1.0, 0.0, 0.0]] * 20 + [[0.0, 1.0, 0.0]] * 20
    out = personal_beta({"A": 0.5, "B": 0.5}, sample_id="x", cohorts=[_cohort(members)])
    bc = next(b for b in out if b.metric == "bray_curtis")
    # BC(sample, A-only) = (0.5 + 0.5) / 2 = 0.5 for every member
    assert bc.median_distance == pytest.approx(0.5)
    # each member's own distances: 19 zeros (same kind) and 20 ones -> median 1.0
    assert bc.member_median_range == (1.0, 1.0)
    assert bc.percentile == 0.0  # closer to everyone than any member is
    assert len(bc.cohort_points) == 40
    # the sample sits midway between the two groups on axis 1
    assert bc.sample_point[0] == pytest.approx(0.0, abs=1e-9)


def test_small_cohorts_and_cohorts_holding_the_sample_are_skipped() -> None:
    rng = np.random.default_rng(1)
    big = rng.random((25, 3)).tolist()
    small = _cohort(big[:19], key="small")
    mine = _cohort(big, key="mine", samples=tuple(f"s{i}" for i in range(25)))
    other = _cohort(big, key="other")
    out = personal_beta({"A": 1.0, "C": 2.0}, sample_id="s3", cohorts=[small, mine, other])
    assert {b.cohort_key for b in out} == {"other"}
    assert {b.metric for b in out} == {"bray_curtis", "aitchison"}
    assert personal_beta({}, sample_id="s3", cohorts=[other]) == ()


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(5, 12), st.integers(2, 4)),
        elements=st.floats(-5, 5, allow_nan=False, allow_infinity=False),
    )
)
def test_a_member_added_with_its_own_distances_lands_on_itself(points: np.ndarray) -> None:
    d = squareform(pdist(points))
    coords, eig, explained = classical_pcoa(d, dimensions=2)
    for i in range(len(points)):
        projected = project_point(d, d[i], coords, eig)
        for k in range(2):
            if eig[k] > 1e-6 * max(1.0, float(eig.max())):
                assert projected[k] == pytest.approx(coords[i, k], abs=1e-6)
    assert np.all(explained >= 0)
    assert float(explained.sum()) <= 1.0 + 1e-9


def test_pcoa_recovers_euclidean_distances_in_two_dimensions() -> None:
    pts = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0], [1.0, 1.0]])
    d = squareform(pdist(pts))
    coords, _eig, explained = classical_pcoa(d)
    assert squareform(pdist(coords)) == pytest.approx(d, abs=1e-9)
    assert float(explained.sum()) == pytest.approx(1.0)


def test_packaged_genus_tables_are_the_licensed_cohorts() -> None:
    cohorts = {c.key: c for c in load_genus_cohorts()}
    # American Gut (modified BSD) and Tito 2024 (Artistic-2.0); enterotypes are AGPL-3: not packaged
    assert set(cohorts) == {"american_gut", "tito2024"}
    assert cohorts["tito2024"].n_samples == 589
    assert cohorts["american_gut"].n_samples == 134
    for c in cohorts.values():
        assert c.values.shape == (c.n_samples, len(c.genera))
        assert np.all(c.values >= 0)
        assert np.all(c.values.sum(axis=1) <= 1.0 + 1e-3)
        assert c.licence


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # skbio: negative eigenvalues
def test_pcoa_matches_scikit_bio_on_a_bray_curtis_matrix() -> None:
    # known answer: scikit-bio's eigendecomposition PCoA (axes up to sign) on random counts
    from skbio import DistanceMatrix
    from skbio.stats.ordination import pcoa

    rng = np.random.default_rng(7)
    counts = rng.poisson(5.0, size=(30, 12)).astype(float) + 1.0
    p = counts / counts.sum(axis=1, keepdims=True)
    d = squareform(pdist(p, metric="braycurtis"))
    coords, eig, explained = classical_pcoa(d, dimensions=2)
    theirs = pcoa(DistanceMatrix(d), number_of_dimensions=30)  # shares over positive eigenvalues
    np.testing.assert_allclose(eig, theirs.eigvals.to_numpy()[:2], rtol=1e-8)
    np.testing.assert_allclose(
        np.abs(coords), np.abs(theirs.samples.to_numpy()[:, :2]), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(explained, theirs.proportion_explained.to_numpy()[:2], rtol=1e-8)
