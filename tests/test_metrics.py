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
