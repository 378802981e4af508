"""Sample-quality numbers from the evaluation classifier's outputs, in float64 numpy.

- classifier score: exp(E_x KL(p(y|x) ‖ p(y))), the Inception-score recipe with the MNIST classifier
  (TF-GAN's `mnist_score`): high when each image is confidently one digit and all digits occur;
  1 for a single class, 10 for ten equally frequent, perfectly recognised classes.
- Fréchet distance between Gaussians fitted to the classifier's 1024-d features of two image sets:
  |μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½). Lower is better; compare with the real-data floor F0 (the
  same distance between 10,000 training and the 10,000 test images).
- the predicted-class histogram (mode collapse shows here), and for the conditional model the
  classifier's accuracy on each requested digit and the mean cross-entropy.
- improved precision and recall (Kynkäänniemi et al. 2019) in the same features: the share of
  generated samples that look like some real one, and of real samples that some generated one
  looks like. The FD folds both failures into one number; these two tell them apart.
"""

import numpy as np


def _xlogy_ratio(p, q):
    """p·log(p/q), with 0·log 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return np.where(p > 0, p * (np.log(safe) - np.log(np.maximum(q, 1e-300))), 0.0)


def classifier_score(probs, splits=10):
    """(mean, std) of exp(E KL(p(y|x) ‖ p(y))) over `splits` equal parts of `probs` [N, classes]."""
    scores = []
    for part in np.array_split(np.asarray(probs, np.float64), splits):
        marginal = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(_xlogy_ratio(part, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def gaussian(features):
    """(mean, covariance) of features [N, d], in float64."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def sqrt_psd(matrix):
    """The symmetric square root of a covariance matrix."""
    w, v = np.linalg.eigh(matrix)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a, b):
    """Fréchet distance between two Gaussians given as (mean, covariance): the formula in plain numpy,
    against which quality.FrechetToReference (what the evaluations use, on the device) is tested.

    tr((Σ1 Σ2)^½) is computed as the sum of the square roots of the eigenvalues of Σ2^½ Σ1 Σ2^½,
    which has the same eigenvalues as Σ1 Σ2 but is symmetric, so `eigvalsh` applies and no complex
    square root (or scipy) is needed.
    """
    (mu1, s1), (mu2, s2) = a, b
    root = sqrt_psd(s2)
    middle = root @ s1 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)


def class_histogram(probs, classes=10):
    """Share of images predicted as each class."""
    counts = np.bincount(np.asarray(probs).argmax(axis=1), minlength=classes)
    return (counts / counts.sum()).tolist()


def conditional_accuracy(probs, labels, classes=10):
    """(overall accuracy, accuracy per class, mean cross-entropy) of the classifier on images
    generated for `labels`."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    correct = probs.argmax(axis=1) == labels
    per_class = [float(correct[labels == k].mean()) if np.any(labels == k) else float("nan") for k in range(classes)]
    cross_entropy = float(-np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-300))))
    return float(correct.mean()), per_class, cross_entropy


NEIGHBOURS = 3  # k of the k-th nearest neighbour that sets each ball's radius (the paper's choice)
BLOCK_ELEMENTS = 2**22  # distances held at once: 32 MB of float64 (twice that while partitioned), whatever the set sizes


def _row_blocks(rows, columns):
    """Slices of `rows` whose blocks of distances to `columns` points fit in BLOCK_ELEMENTS."""
    step = max(1, BLOCK_ELEMENTS // max(columns, 1))
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


def _squared_distances(a, b, a_norms, b_norms):
    """|a − b|² as |a|² + |b|² − 2ab: a matrix product, which a direct difference of two [n, d]
    sets (an [n, m, d] array) is not. Rounding can take a distance just below 0: clipped."""
    distances = a @ b.T
    distances *= -2  # in place: each temporary would be another block's worth of memory
    distances += a_norms[:, None]
    distances += b_norms[None, :]
    return np.maximum(distances, 0, out=distances)


def _with_norms(features):
    features = np.asarray(features, np.float64)
    return features, np.einsum("ij,ij->i", features, features)


def neighbour_radii(features, k=NEIGHBOURS):
    """The squared distance of each point to its k-th nearest other point: the radius² of its ball.

    In float64, not float32: the MNIST classifier's features have squared norms up to ~2,800 and a
    ball's radius² is ~5–470, so the cancellation in |a|² + |b|² − 2ab left float32 radii off by up to
    6·10⁻⁵ of themselves (measured on the test set), and whether a sample near a ball's edge counts
    would hang on rounding. float64 takes ~1.7 times as long (a 10,000 × 10,000 block of products:
    ~4.6 s of CPU against ~2.7 s on this machine) and agrees with the direct |a − b|² (tested)."""
    features, norms = _with_norms(features)
    if len(features) <= k:
        raise ValueError(f"{len(features)} points have no {k}-th nearest neighbour besides themselves")
    radii = np.empty(len(features))
    for rows in _row_blocks(len(features), len(features)):
        distances = _squared_distances(features[rows], features, norms[rows], norms)
        own = np.arange(rows.stop - rows.start)
        distances[own, own + rows.start] = 0.0  # a point's distance to itself, exactly: the k-th is then the k-th other
        radii[rows] = np.partition(distances, k, axis=1)[:, k]
    return radii


def precision_recall(real, fake, real_radii=None, k=NEIGHBOURS):
    """(precision, recall) of `fake` features against `real` ones: the share of fake points inside
    some real point's ball, and of real points inside some fake point's ball (a ball: the point's
    k-th nearest-neighbour distance around it, edge included). `real_radii` (neighbour_radii of
    `real`) can be passed: they depend on the real set only. Each block of fake-to-real distances
    serves both directions: the cost is two matrix products, fake with fake (their radii) and fake
    with real, in blocks of bounded size."""
    real, real_norms = _with_norms(real)
    fake, fake_norms = _with_norms(fake)
    real_radii = neighbour_radii(real, k) if real_radii is None else np.asarray(real_radii, np.float64)
    fake_radii = neighbour_radii(fake, k)
    inside_real = np.zeros(len(fake), bool)
    covered = np.zeros(len(real), bool)
    for rows in _row_blocks(len(fake), len(real)):
        distances = _squared_distances(fake[rows], real, fake_norms[rows], real_norms)
        inside_real[rows] = np.any(distances <= real_radii[None, :], axis=1)
        covered |= np.any(distances <= fake_radii[rows, None], axis=0)
    return float(inside_real.mean()), float(covered.mean())
