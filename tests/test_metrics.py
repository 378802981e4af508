"""Metrics on cases whose answer is known."""

import numpy as np
import pytest

from common import metrics, quality


def test_score_of_one_confident_class_is_1_and_of_ten_balanced_is_10():
    one_class = np.tile(np.eye(10)[3], (1000, 1))
    assert metrics.classifier_score(one_class) == pytest.approx((1.0, 0.0))
    balanced = np.tile(np.eye(10), (100, 1))
    mean, std = metrics.classifier_score(balanced)
    assert mean == pytest.approx(10.0) and std == pytest.approx(0.0, abs=1e-12)


def test_score_of_uncertain_predictions_is_1():
    assert metrics.classifier_score(np.full((1000, 10), 0.1))[0] == pytest.approx(1.0)


def test_score_between_the_extremes():
    """Two classes, each image 90 % sure: exp(KL) = exp(0.9 ln 1.8 + 0.1 ln 0.2)."""
    p = np.array([[0.9, 0.1], [0.1, 0.9]] * 500)
    expected = np.exp(0.9 * np.log(1.8) + 0.1 * np.log(0.2))
    assert metrics.classifier_score(p, splits=5)[0] == pytest.approx(expected)


def _samples(rng, mean, cov, n=20000):
    return rng.multivariate_normal(mean, cov, size=n)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 16))
    base = metrics.gaussian(x)
    assert metrics.frechet_distance(base, base) == pytest.approx(0.0, abs=1e-8)
    distances = [metrics.frechet_distance(base, metrics.gaussian(x + rng.normal(scale=s, size=x.shape))) for s in (0.1, 0.5, 1.0)]
    assert 0 < distances[0] < distances[1] < distances[2]


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    """Diagonal covariances: FD = |μ1 − μ2|² + Σ (σ1 − σ2)²."""
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    got = metrics.frechet_distance((mu1, np.diag(var1)), (mu2, np.diag(var2)))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_a_direct_computation_on_small_gaussians():
    """Full covariances, against tr((Σ1 Σ2)^½) from the eigenvalues of the (non-symmetric) product."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    trace_sqrt = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert metrics.frechet_distance((mu1, s1), (mu2, s2)) == pytest.approx(expected, rel=1e-9)
    # and from samples, within sampling error
    x, y = _samples(rng, mu1, s1), _samples(rng, mu2, s2)
    assert metrics.frechet_distance(metrics.gaussian(x), metrics.gaussian(y)) == pytest.approx(expected, rel=0.05)


def test_class_histogram_shows_mode_collapse():
    collapsed = np.tile(np.eye(10)[7], (50, 1))
    assert metrics.class_histogram(collapsed) == [0.0] * 7 + [1.0] + [0.0] * 2
    assert metrics.class_histogram(np.tile(np.eye(10), (3, 1))) == pytest.approx([0.1] * 10)


def test_conditional_accuracy_per_class_and_cross_entropy():
    labels = np.repeat(np.arange(10), 10)
    probs = np.eye(10)[labels] * 0.9 + 0.01
    probs[labels == 3] = np.eye(10)[5] * 0.9 + 0.01  # every "3" is read as a 5
    overall, per_class, ce = metrics.conditional_accuracy(probs, labels)
    assert overall == pytest.approx(0.9)
    assert per_class[3] == 0.0 and all(per_class[k] == 1.0 for k in range(10) if k != 3)
    assert ce == pytest.approx(-(0.9 * np.log(0.91) + 0.1 * np.log(0.01)))


def test_the_square_root_of_a_covariance_squares_back_to_it():
    rng = np.random.default_rng(3)
    covariance = metrics.gaussian(rng.normal(0.3, 2.0, size=(300, 20)))[1]
    root = metrics.sqrt_psd(covariance)
    assert root @ root == pytest.approx(covariance, abs=1e-10)


def test_the_graphs_frechet_distance_is_numpys():
    """quality.FrechetToReference (TensorFlow, on the device where there is one) against the plain
    numpy formula, on a reference set and on sets near it and far from it."""
    rng = np.random.default_rng(4)
    reference = metrics.gaussian(rng.normal(size=(400, 24)) @ rng.normal(size=(24, 24)))
    mean, covariance = reference
    in_graph = quality.FrechetToReference(mean, metrics.sqrt_psd(covariance), float(np.trace(covariance)))
    for shift, scale in ((0.0, 1.0), (0.2, 1.5), (3.0, 0.1)):
        features = rng.normal(shift, scale, size=(250, 24))
        expected = metrics.frechet_distance(metrics.gaussian(features), reference)
        assert in_graph(features) == pytest.approx(expected, rel=1e-9)


def _cloud(rng, n, d=8, centre=0.0):
    return rng.normal(centre, 1.0, size=(n, d))


def test_samples_inside_the_real_manifold_have_precision_1():
    """Each sample a hair from a real point is inside that point's ball. Drawn near one of two far
    clusters of real points only, they cannot cover the other: recall is at most a half."""
    rng = np.random.default_rng(5)
    real = np.concatenate([_cloud(rng, 250), _cloud(rng, 250, centre=50.0)])
    fake = real[:200] + rng.normal(scale=1e-4, size=(200, 8))
    precision, recall = metrics.precision_recall(real, fake)
    assert precision == 1.0 and 0.3 < recall <= 0.5


def test_a_collapsed_generator_has_full_precision_and_no_recall():
    """Mode collapse: every sample the same realistic point. The fake balls have radius 0, so they
    cover at most that one real point; the FD alone could not tell this from blurry samples."""
    rng = np.random.default_rng(6)
    real = _cloud(rng, 500)
    fake = np.tile(real[7], (300, 1))
    precision, recall = metrics.precision_recall(real, fake)
    assert precision == 1.0 and recall <= 1 / len(real)


def test_far_disjoint_sets_have_neither_precision_nor_recall():
    rng = np.random.default_rng(7)
    assert metrics.precision_recall(_cloud(rng, 300), _cloud(rng, 200, centre=50.0)) == (0.0, 0.0)


def test_precision_and_recall_do_not_depend_on_the_order_of_the_samples():
    rng = np.random.default_rng(8)
    real, fake = _cloud(rng, 400, 16), 1.2 * _cloud(rng, 300, 16, centre=0.3)
    measured = metrics.precision_recall(real, fake)
    assert 0.1 < measured[0] < 0.9 and 0.1 < measured[1] < 0.9  # neither extreme: an order effect could show
    real_order, fake_order = rng.permutation(len(real)), rng.permutation(len(fake))
    assert metrics.precision_recall(real[real_order], fake[fake_order]) == measured
    radii = metrics.neighbour_radii(real)
    assert metrics.precision_recall(real[real_order], fake[fake_order], radii[real_order]) == measured


def _brute_force(real, fake, k):
    """Every distance at once, as |a − b|² of the differences, and each radius from a sorted row."""

    def radii(x):
        distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
        return np.sort(distances, axis=1)[:, k]  # column 0 is the point itself

    across = ((fake[:, None, :] - real[None, :, :]) ** 2).sum(axis=2)
    real_radii, fake_radii = radii(real), radii(fake)
    precision = np.mean(np.any(across <= real_radii[None, :], axis=1))
    recall = np.mean(np.any(across <= fake_radii[:, None], axis=0))
    return real_radii, fake_radii, (precision, recall)


@pytest.mark.parametrize("k", [1, 3])
def test_the_blocked_computation_is_the_direct_one(monkeypatch, k):
    """Blocks of 7 rows or so (the last one shorter) against every distance held at once."""
    rng = np.random.default_rng(9)
    real, fake = _cloud(rng, 90, 12), 1.1 * _cloud(rng, 61, 12, centre=0.2)
    monkeypatch.setattr(metrics, "BLOCK_ELEMENTS", 7 * 90)
    real_radii, fake_radii, expected = _brute_force(real, fake, k)
    np.testing.assert_allclose(metrics.neighbour_radii(real, k), real_radii, rtol=1e-12)
    np.testing.assert_allclose(metrics.neighbour_radii(fake, k), fake_radii, rtol=1e-12)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1
    assert metrics.precision_recall(real, fake, k=k) == pytest.approx(expected, abs=0)


def test_a_set_too_small_for_its_neighbours_is_refused():
    with pytest.raises(ValueError, match="no 3-th nearest neighbour"):
        metrics.neighbour_radii(np.zeros((3, 2)))
