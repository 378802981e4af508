"""What several test files share: tiny model flags, tiny IDX files, running a script's main, and
reading a run's checkpoint and history back."""

import csv
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import data  # noqa: E402
from common.tfcompat import tf  # noqa: E402

# Tiny models; no per-epoch sample-quality evaluation (tests/test_evaluate.py covers it).
TINY_FC = ["--z-dim", "8", "--z-modes", "4", "--g-hidden", "32", "--d-hidden", "16", "--batch-size", "16", "--eval-every", "0"]
TINY_CONV = ["--z-dim", "10", "--g-filters", "4", "--d-filters", "4", "--batch-size", "8", "--eval-every", "0"]
TINY = {"gan_fc": TINY_FC, "gan_dcgan": TINY_CONV, "gan_cdcgan": TINY_CONV}


def write_idx(path, array, compress=True):
    """Write `array` as an IDX file (gzip-compressed by default); return the SHA-256 of the raw bytes."""
    raw = data.idx_bytes(array)
    Path(path).write_bytes(gzip.compress(raw) if compress else raw)
    return hashlib.sha256(raw).hexdigest()


def build_training_graph(script, argv, n=64):
    """(graph, StepGraph, initializer, args) of a script's training graph for `argv`, on `n` random
    images held in the graph: the graph tests' tiny stand-in for the data set."""
    import importlib

    from common import flags, inputs

    module = importlib.import_module(script)
    args = flags.parse("test", module.HPARAMS, argv, conditional=module.MODEL.conditional)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        rng = np.random.default_rng(0)
        dataset = inputs.Dataset(
            images=tf.Variable(rng.uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32), trainable=False),
            labels=tf.Variable(rng.integers(0, 10, n).astype(np.int32), trainable=False),
            size=n,
            steps_per_epoch=n // args.batch_size,
        )
        model = module.build_graph(args, dataset)
        init = tf.global_variables_initializer()
    return graph, model, init, args


def run_main(module, argv):
    """Run a script's main in this process; return its exit code (0 when it returns)."""
    try:
        module.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code
    return 0


def snapshot(folder):
    """{relative path: content hash} of every file under `folder` (the run lock aside: it records the pid)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def weights(run_dir):
    """{variable name: value} of a run's latest checkpoint."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def max_abs_diff(a, b):
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)


def read_history(run_dir):
    """history.csv as the text rows a user would see (header first)."""
    with open(Path(run_dir) / "history.csv", newline="") as f:
        return list(csv.reader(f))
