"""The evaluation classifier: a LeNet-style network that judges generated digits.

GAN metrics need a fixed judge that is not part of any GAN (a discriminator learns along with its
generator, so its opinion drifts). This one is trained once per data set with a fixed seed by
`python -m common.classifier --dataset mnist`, and its weights are kept in `data/classifiers/<dataset>/`
with `info.json` recording how they were made and their test accuracy. When they are missing, the
first evaluation trains them (a few minutes on a CPU).

Architecture: conv32 5×5 → max-pool 2 → conv64 5×5 → max-pool 2 → fc1024 (the 1024-d features of the
Fréchet distance) → dropout 0.5 → fc10.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import data, files, gan, ops
from common.errors import UsageError
from common.session import session_config
from common.tfcompat import tf

CLASSIFIER_DIR = data.REPO_DIR / "data" / "classifiers"
EPOCHS = 12
BATCH_SIZE = 100
LR = 1e-3
LR_DECAY_PER_EPOCH = 0.75
DROPOUT = 0.5
SEED = 0
PREDICT_BATCH = 1000


def network(x, training, seed=None):
    """(logits [N, 10], features [N, 1024]) for images [N, 28, 28, 1] in [-1, 1]."""
    with tf.variable_scope("classifier", reuse=tf.AUTO_REUSE):
        h = tf.nn.relu(ops.conv2d(x, 32, 5, 1, "conv1"))
        h = tf.nn.max_pool2d(h, 2, 2, "SAME")
        h = tf.nn.relu(ops.conv2d(h, 64, 5, 1, "conv2"))
        h = tf.nn.max_pool2d(h, 2, 2, "SAME")
        features = tf.nn.relu(ops.dense(tf.reshape(h, [-1, 7 * 7 * 64]), 1024, "fc1"))
        return ops.dense(ops.dropout(features, DROPOUT, seed, training), 10, "fc2"), features


def _variables():
    """The weights alone: Adam's two slots per weight (also under `classifier/`) would triple the file."""
    return ops.trainable_variables("classifier")


def checkpoint_path(dataset, root=None):
    return Path(root or CLASSIFIER_DIR) / dataset / "classifier"


def train(dataset, root=None, epochs=EPOCHS, limit=None, log=print, data_dir=None):
    """Train the classifier of `dataset` and save it; return its test accuracy.

    `limit` trains on the first `limit` training images only (tests); the stateless, step-keyed
    randomness of the GAN scripts is not needed here, so batches come from a seeded numpy permutation.
    """
    train_x, train_y = data.load(dataset, "train", data_dir)
    test_x, test_y = data.load(dataset, "test", data_dir)
    if limit:
        train_x, train_y = train_x[:limit], train_y[:limit]
    train_x, test_x = data.to_unit_range(train_x), data.to_unit_range(test_x)
    steps_per_epoch = len(train_x) // BATCH_SIZE
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(SEED)
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        y = tf.placeholder(tf.int32, [None])
        step = tf.train.get_or_create_global_step()
        logits, _ = network(x, training=True, seed=tf.stack([tf.constant(SEED, tf.int64), step]))
        loss = gan.cross_entropy(logits, y)
        lr = tf.train.exponential_decay(LR, step, steps_per_epoch, LR_DECAY_PER_EPOCH, staircase=True)
        train_op = tf.train.AdamOptimizer(lr).minimize(loss, global_step=step)
        predict_logits, _ = network(x, training=False)
        init = tf.global_variables_initializer()
        saver = tf.train.Saver(_variables())
    rng = np.random.default_rng(SEED)
    started = time.time()
    with tf.Session(graph=graph, config=session_config()) as sess:
        sess.run(init)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(train_x))
            for i in tqdm(range(steps_per_epoch), desc=f"classifier epoch {epoch}/{epochs}", leave=False, disable=None):
                idx = order[i * BATCH_SIZE : (i + 1) * BATCH_SIZE]
                sess.run(train_op, {x: train_x[idx], y: train_y[idx]})
            predictions = np.concatenate(
                [
                    sess.run(predict_logits, {x: test_x[i : i + PREDICT_BATCH]}).argmax(1)
                    for i in range(0, len(test_x), PREDICT_BATCH)
                ]
            )
            accuracy = float(np.mean(predictions == test_y))
            log(f"classifier epoch {epoch}/{epochs}: test accuracy {accuracy:.2%} ({time.time() - started:.0f} s)")
        path = checkpoint_path(dataset, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        saver.save(sess, str(path), write_meta_graph=False, write_state=False)
    info = {
        "dataset": dataset,
        "test_accuracy": accuracy,
        "made_by": f"python -m common.classifier --dataset {dataset}",
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "lr_decay_per_epoch": LR_DECAY_PER_EPOCH,
        "seed": SEED,
        "train_images": len(train_x),
        "tensorflow": tf.VERSION,
        "seconds": round(time.time() - started),
        "sha256": {p.name: _sha256(p) for p in sorted(path.parent.glob(f"{path.name}.*"))},  # checked at each load
    }
    files.write_json(path.parent / "info.json", info)
    return accuracy


@dataclass
class Classifier:
    """A loaded evaluation classifier: probabilities and features for any number of images."""

    sess: tf.Session
    x: tf.Tensor
    probs: tf.Tensor
    features: tf.Tensor
    info: dict

    def predict(self, images):
        """(p(y|x) [N, 10], features [N, 1024]) for images [N, 28, 28, 1] in [-1, 1], in float64."""
        probs, features = [], []
        for i in range(0, len(images), PREDICT_BATCH):
            p, f = self.sess.run([self.probs, self.features], {self.x: images[i : i + PREDICT_BATCH]})
            probs.append(p)
            features.append(f)
        return np.concatenate(probs).astype(np.float64), np.concatenate(features).astype(np.float64)

    def close(self):
        self.sess.close()


def load(dataset, root=None, log=print, data_dir=None):
    """The classifier of `dataset`, trained first if its weights are not there yet."""
    path = checkpoint_path(dataset, root)
    if not path.with_suffix(".index").exists():
        log(f"no evaluation classifier for {dataset} in {path.parent}: training it once (a few minutes)")
        train(dataset, root, log=log, data_dir=data_dir)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(SEED)  # --deterministic refuses unseeded initializers, even those the restore overwrites
        x = tf.placeholder(tf.float32, [None, 28, 28, 1])
        logits, features = network(x, training=False)
        saver = tf.train.Saver(_variables())
    info = verified_info(path)
    sess = tf.Session(graph=graph, config=session_config())
    saver.restore(sess, str(path))
    return Classifier(sess, x, tf.nn.softmax(logits), features, info)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verified_info(path):
    """The classifier's info.json, once its weight files are checked against the checksums it records
    (as the data files are): a file cut short or changed would give every run's numbers silently
    wrong, or a TensorFlow traceback. An info.json without checksums (a classifier trained by older
    code) is taken as it is."""
    folder = path.parent
    fix = (
        f"restore the folder {folder} (git checkout -- {folder}), or delete it to train the classifier "
        "anew (a few minutes; the numbers then differ a little from docs/results.md's)"
    )
    try:
        info = json.loads((folder / "info.json").read_text())
        recorded = info.get("sha256", {})
        names = {p.name for p in folder.glob(f"{path.name}.*")} | set(recorded)
        if not isinstance(recorded, dict):
            raise ValueError(recorded)
    except (OSError, ValueError, AttributeError):
        raise UsageError(f"{folder / 'info.json'} is missing or damaged; {fix}") from None
    for name in sorted(names) if recorded else ():
        if not (folder / name).is_file() or _sha256(folder / name) != recorded.get(name):
            raise UsageError(f"{folder / name} is damaged or missing (its checksum is not info.json's); {fix}")
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the evaluation classifier of a data set (once).")
    parser.add_argument("--dataset", choices=sorted(data.DATASETS), default="mnist")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    accuracy = train(args.dataset, epochs=args.epochs)
    print(f"{args.dataset} classifier: test accuracy {accuracy:.2%}, saved in {checkpoint_path(args.dataset).parent}")


if __name__ == "__main__":
    main()
