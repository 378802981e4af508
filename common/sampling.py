"""Images from a trained run, without training: `--generate` and `evaluate.py`.

A run is sampled with the settings in its config.json, not the constants currently at the top of the
script, so a run can still be drawn after the script was edited for the next experiment.
"""

from __future__ import annotations

import numpy as np

from common import checkpoints, device, files, guards, images, inputs, runs
from common.errors import UsageError
from common.session import session_config
from common.tfcompat import tf

CHUNK = 1000  # images per session.run


def balanced_labels(count):
    """`count` digits cycling through 0–9, as numpy: what a conditional model is asked for when the
    caller names no digit (the graph's twin is inputs.balanced_digits)."""
    return np.arange(count) % 10


def generate_images(args, model, run, count, labels=None, which="latest", draws=1):
    """(images float32 [draws · count, 28, 28, 1] in [-1, 1], checkpoint name) from the run's latest (or
    best) checkpoint; `labels` (one per image of a draw) are the digits asked of a conditional model,
    balanced digits when None. The noise of chunk i is draw i of the GENERATE stream, so the same call
    gives the same images. Draw d of `count` images starts d·⌈count / CHUNK⌉ chunks on: draws never
    share noise, draw 0 is what a one-draw call gives, and all come from the one checkpoint restored
    (a run still training may save a newer one meanwhile)."""
    folder = run.checkpoint_folder(which)
    if not checkpoints.steps(folder):
        hint = " (was the run trained with --eval-every 0?)" if which == "best" else ""
        raise UsageError(f"no {which} checkpoint in {folder}{hint}")
    if labels is None:
        labels = balanced_labels(count)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)  # --deterministic refuses unseeded initializers, even those the restore overwrites
        size = tf.placeholder(tf.int32, [])
        chunk = tf.placeholder(tf.int64, [])
        labels_in = tf.placeholder(tf.int32, [None])
        fake = model.sample(args, size, inputs.stream_seed(args.seed, inputs.Stream.GENERATE, chunk), labels_in)
        saver = tf.train.Saver()  # the generator's variables only: the graph holds nothing else
    with tf.Session(graph=graph, config=session_config(args.gpu_memory_fraction, args.gpu_allow_growth)) as sess:
        checkpoint = checkpoints.restore_latest(sess, saver, folder)
        parts, chunks = [], -(-count // CHUNK)
        for draw in range(draws):
            for i, start in enumerate(range(0, count, CHUNK)):
                n = min(CHUNK, count - start)
                feed = {size: n, chunk: draw * chunks + i, labels_in: labels[start : start + n]}
                parts.append(sess.run(fake, feed))
                guards.fault_point("sigint-generate", i)
    return np.concatenate(parts).astype(np.float32), checkpoint.rsplit("/", 1)[-1]


def check_writable(target):
    """Refuse a target that cannot be written before any image is drawn: a folder, or a place where
    no file can be created."""
    if target.is_dir():
        raise UsageError(f"--to {target} is a folder; name a file, e.g. {target / 'digits.png'}")
    fix = f"--to {target}: name a file in a writable folder"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {target.parent} ({e.strerror}); {fix}") from None
    runs.check_writable(target.parent, fix)


def generate(args, model):
    """Write `args.generate` images from a run's checkpoint: a .npz of floats in [-1, 1] (with the
    labels, for the conditional model) or a .png grid."""
    run = runs.for_args(args, model.script)
    if not checkpoints.steps(run.checkpoints):
        raise UsageError(
            f"no checkpoint in {run.checkpoints}: train first (python {model.script}.py with the same settings), "
            f"or pass --out-dir of a trained run (e.g. outputs/{model.script}/latest)"
        )
    runs.use_run_settings(args, run, model.script)
    target = args.to or run.path / f"generated_{args.generate}.npz"
    check_writable(target)
    labels = None
    if model.conditional:  # the requested digit, or all ten in turn
        labels = np.full(args.generate, args.label) if args.label is not None else balanced_labels(args.generate)
    device.choose(args.device)
    out, checkpoint = generate_images(args, model, run, args.generate, labels, args.checkpoint)
    if target.suffix.lower() == ".png":
        images.save_png(target, images.grid(out))
    else:
        arrays = {"images": out} if labels is None else {"images": out, "labels": labels.astype(np.uint8)}
        with files.replacing(target) as tmp:  # Ctrl-C mid-write keeps an earlier file of that name whole
            with open(tmp, "wb") as f:  # a handle: numpy adds ".npz" to a name that lacks it (".NPZ")
                np.savez_compressed(f, **arrays)
            guards.fault_point("sigint-writing", 0)
    print(f"wrote {len(out)} images from {checkpoint} to {target}")
