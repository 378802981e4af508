"""Sample quality: generated images measured against the real test set by the evaluation classifier.

One function, `Reference.measure`, gives the numbers everywhere they are shown — the in-training
evaluation (history.csv, the epoch line, the best checkpoint), `evaluate.py` and its real-data row —
so the three can never drift apart.
"""

import numpy as np

from common import classifier, data, metrics

REAL_SEED = 0  # which training images stand for "real" in the floor F0


class Reference:
    """The test set of a data set as its evaluation classifier sees it."""

    def __init__(self, dataset, data_dir=None, log=print):
        self.dataset, self.data_dir = dataset, data_dir
        self.classifier = classifier.load(dataset, log=log, data_dir=data_dir)
        test_images, self.test_labels = data.load(dataset, "test", data_dir)
        self.test_probs, features = self.classifier.predict(data.to_unit_range(test_images))
        self.test_stats = metrics.gaussian(features)
        self.test_root = metrics.sqrt_psd(self.test_stats[1])  # once, not at every measurement

    def measure(self, images, labels=None):
        """{score: (mean, std), fd, histogram} of images in [-1, 1], and with the `labels` they were
        asked for (the conditional model) {conditional: {accuracy, per_class, cross_entropy}}."""
        probs, features = self.classifier.predict(images)
        result = {
            "score": metrics.classifier_score(probs),
            "fd": metrics.frechet_distance(metrics.gaussian(features), self.test_stats, self.test_root),
            "histogram": metrics.class_histogram(probs),
        }
        if labels is not None:
            accuracy, per_class, cross_entropy = metrics.conditional_accuracy(probs, labels)
            result["conditional"] = {"accuracy": accuracy, "per_class": per_class, "cross_entropy": cross_entropy}
        return result

    def real(self, count):
        """The real data's own numbers, the reference for a run's: the test set's score and class
        histogram, the classifier's test accuracy, and the floor F0 — the Fréchet distance of `count`
        training images (a fixed draw) to the test set."""
        train_images, _ = data.load(self.dataset, "train", self.data_dir)
        subset = np.random.default_rng(REAL_SEED).choice(len(train_images), count, replace=False)
        floor = self.measure(data.to_unit_range(train_images[subset]))["fd"]
        return {
            "classifier_test_accuracy": float(np.mean(self.test_probs.argmax(1) == self.test_labels)),
            "score": metrics.classifier_score(self.test_probs),
            "fd": floor,
            "histogram": metrics.class_histogram(self.test_probs),
        }
