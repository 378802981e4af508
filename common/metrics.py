"""Sample-quality numbers from the evaluation classifier's outputs, in float64 numpy.

- classifier score: exp(E_x KL(p(y|x) ‖ p(y))), the Inception-score recipe with the MNIST classifier
  (TF-GAN's `mnist_score`): high when each image is confidently one digit and all digits occur;
  1 for a single class, 10 for ten equally frequent, perfectly recognised classes.
- Fréchet distance between Gaussians fitted to the classifier's 1024-d features of two image sets:
  |μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½). Lower is better; compare with the real-data floor F0 (the
  same distance between 10,000 training and the 10,000 test images).
- the predicted-class histogram (mode collapse shows here), and for the conditional model the
  classifier's accuracy on each requested digit and the mean cross-entropy.
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
