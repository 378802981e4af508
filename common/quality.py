"""Sample quality: generated images measured against the real test set by the evaluation classifier.

One function, `Reference.measure`, gives the numbers everywhere they are shown — the in-training
evaluation (history.csv, the epoch line, the best checkpoint), `evaluate.py` and its real-data row —
so the three can never drift apart.
"""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np

from common import classifier, data, files, metrics
from common.session import session_config
from common.tfcompat import tf

REAL_SEED = 0  # which training images stand for "real" in the floor F0
CACHE_VERSION = 2  # raise when what Reference keeps in its cache changes
CACHE_FIELDS = ("test_probs", "mean", "root", "trace", "test_features")
RADII = "test_radii"  # added to the cache by the first precision/recall asked of it (training never asks)


def _read_cache(path):
    """The cached statistics, or None when there are none or they cannot be read (computed afresh then)."""
    try:
        with np.load(path) as cached:
            stats = {k: cached[k] for k in CACHE_FIELDS}
            if RADII in cached.files:
                stats[RADII] = cached[RADII]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return stats


def _write_cache(path, stats):
    """Keep `stats` at `path`, the one cache of its folder: the statistics of a classifier or a test
    set since replaced (another hash in the name) would otherwise pile up at ~50 MB each."""
    try:
        with files.replacing(path) as tmp:
            np.savez(tmp, **stats)
        for old in path.parent.glob("reference-*.npz"):
            if old != path and not old.is_symlink():
                old.unlink()
    except OSError:
        pass  # a read-only folder: computed again next time, nothing lost


class Reference:
    """The test set of a data set as its evaluation classifier sees it.

    The test set's side — the classifier's probabilities, its features' mean, and the covariance's
    square root and trace that the Fréchet distance needs — depends only on the data and the
    classifier, so it is computed once and kept beside the classifier's weights (`reference-*.npz`),
    under a name hashed from the classifier's files and the test images and labels themselves: a
    retrained classifier or another data folder never reuses stale statistics. It saves every launch
    ~2–5 s of CPU (10,000 test images through the classifier, a 1024×1024 eigendecomposition); the
    numbers are the same to the last bit (tested). Where that folder is read-only they are computed
    each time.

    Precision and recall need the test features themselves, and each one's k-th-neighbour radius.
    The features are kept too (float32, which they are: 40 MB, read in ~0.1 s where the classifier
    pass they save takes ~4 s on this CPU). The radii (a 10,000 × 10,000 distance computation, ~8–14 s
    here) are computed the first time they are asked for and then added to the cache, so training,
    which does not ask, never waits for them."""

    def __init__(self, dataset, data_dir=None, log=print):
        self.dataset, self.data_dir = dataset, data_dir
        self.classifier = classifier.load(dataset, log=log, data_dir=data_dir)
        test_images, self.test_labels = data.load(dataset, "test", data_dir)
        self.cache = self.cache_path(test_images, self.test_labels)
        stats = _read_cache(self.cache)
        if stats is None:
            probs, features = self.classifier.predict(data.to_unit_range(test_images))
            mean, covariance = metrics.gaussian(features)
            stats = dict(test_probs=probs, mean=mean, root=metrics.sqrt_psd(covariance), trace=np.trace(covariance))
            stats["test_features"] = features.astype(np.float32)  # the classifier's own float32: nothing lost
            _write_cache(self.cache, stats)
        self.stats = stats
        self.test_probs = stats["test_probs"]
        self.frechet = FrechetToReference(stats["mean"], stats["root"], float(stats["trace"]))

    def test_radii(self):
        """Each test feature's squared distance to its k-th nearest other test feature (cached)."""
        if RADII not in self.stats:
            self.stats[RADII] = metrics.neighbour_radii(self.stats["test_features"])
            _write_cache(self.cache, self.stats)
        return self.stats[RADII]

    def cache_path(self, test_images, test_labels):
        digest = hashlib.sha256(f"reference v{CACHE_VERSION}".encode())
        folder = classifier.checkpoint_path(self.dataset).parent
        for part in sorted(folder.glob("classifier.*")):
            digest.update(part.name.encode() + part.read_bytes())
        digest.update(np.ascontiguousarray(test_images).tobytes())
        digest.update(np.ascontiguousarray(test_labels).tobytes())
        return folder / f"reference-{digest.hexdigest()[:16]}.npz"

    def measure(self, images, labels=None, precision_recall=False):
        """{score: (mean, std), fd, histogram} of images in [-1, 1], with `precision_recall` also
        {precision, recall} against the test set, and with the `labels` they were asked for (the
        conditional model) {conditional: {accuracy, per_class, cross_entropy}}.

        evaluate.py asks for precision and recall; the in-training evaluation does not. At its 2,000
        samples they cost 1.5–1.6 s of CPU against the 1.1 s (FC) and 2.3 s (cDCGAN) of drawing and
        measuring the rest: ~1 % more on a cDCGAN epoch, up to a fifth on an FC one (7–9 s). And the
        samples' k-th-neighbour balls grow as the samples thin out, so a 2,000-sample recall would
        not read like evaluate.py's (an FC run: 0.38 at 2,000, 0.21 at 10,000)."""
        probs, features = self.classifier.predict(images)
        result = {
            "score": metrics.classifier_score(probs),
            "fd": self.frechet(features),
            "histogram": metrics.class_histogram(probs),
        }
        if precision_recall:
            result["precision"], result["recall"] = metrics.precision_recall(
                self.stats["test_features"], features, self.test_radii()
            )
        if labels is not None:
            accuracy, per_class, cross_entropy = metrics.conditional_accuracy(probs, labels)
            result["conditional"] = {"accuracy": accuracy, "per_class": per_class, "cross_entropy": cross_entropy}
        return result

    def real(self, count, precision_recall=False):
        """The real data's own numbers, the reference for a run's: the test set's score and class
        histogram, the classifier's test accuracy, and the floor F0 — the Fréchet distance of `count`
        training images (a fixed draw) to the test set — and with `precision_recall` their precision
        and recall against it: two draws of real digits do not cover each other wholly either, so a
        run's are read against these."""
        train_images, _ = data.load(self.dataset, "train", self.data_dir)
        subset = np.random.default_rng(REAL_SEED).choice(len(train_images), count, replace=False)
        floor = self.measure(data.to_unit_range(train_images[subset]), precision_recall=precision_recall)
        return {
            "classifier_test_accuracy": float(np.mean(self.test_probs.argmax(1) == self.test_labels)),
            "score": metrics.classifier_score(self.test_probs),
            "fd": floor["fd"],
            **{k: floor[k] for k in ("precision", "recall") if k in floor},
            "histogram": metrics.class_histogram(self.test_probs),
        }


class FrechetToReference:
    """The Fréchet distance of a set of features to one fixed Gaussian (the test set's), as float64
    TensorFlow ops: on a GPU the evaluation's matrix work — two [n, 1024] × [1024, 1024] products and a
    1024×1024 eigendecomposition, ~8 GFLOP for n = 2,000 — runs on the device, and the host only feeds
    the features (on this CPU it takes as long as numpy). The formula is metrics.frechet_distance's
    (tested equal): with R = Σ2^½, computed once here, R Σ1 R = YᵀY for Y = (F − μ1) R / √(n−1), so Σ1
    itself is never formed."""

    def __init__(self, mean, root, trace):
        """`root` is the reference covariance's symmetric square root (metrics.sqrt_psd), `trace` its trace."""
        graph = tf.Graph()
        with graph.as_default():
            self.features = tf.placeholder(tf.float64, [None, len(mean)], name="features")
            n = tf.cast(tf.shape(self.features)[0], tf.float64)
            mu = tf.reduce_mean(self.features, axis=0)
            centred = self.features - mu
            y = tf.matmul(centred, tf.constant(root)) / tf.sqrt(n - 1)
            eigenvalues = tf.linalg.eigvalsh(tf.matmul(y, y, transpose_a=True))
            trace_sqrt = tf.reduce_sum(tf.sqrt(tf.maximum(eigenvalues, 0.0)))
            trace_1 = tf.reduce_sum(tf.square(centred)) / (n - 1)
            self.fd = tf.reduce_sum(tf.square(mu - mean)) + trace_1 + trace - 2 * trace_sqrt
        graph.finalize()
        self.sess = tf.Session(graph=graph, config=session_config())

    def __call__(self, features):
        return float(self.sess.run(self.fd, {self.features: features}))
