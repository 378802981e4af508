"""Images from a trained run, without training: `--generate` and `evaluate.py`.

A run is sampled with the settings in its config.json, not the constants currently at the top of the
script, so a run can still be drawn after the script was edited for the next experiment.
"""

from __future__ import annotations

import contextlib

import numpy as np

from common import checkpoints, device, files, guards, images, inputs, runs, settings
from common.errors import UsageError
from common.session import session_config
from common.tfcompat import tf

CHUNK = 1000  # images per session.run


def balanced_labels(count):
    """`count` digits cycling through 0–9, as numpy: what a conditional model is asked for when the
    caller names no digit (the graph's twin is inputs.balanced_digits)."""
    return np.arange(count) % 10


def chunks(count, draw=0):
    """(counter, start, size) of each session.run of draw `draw` of `count` images: chunk i of draw d
    is draw d·⌈count / CHUNK⌉ + i of the GENERATE stream, so draws never share noise and draw 0 is what
    a one-draw call gives (the walks' ends are draws 0 and 1 of the same numbering)."""
    per_draw = -(-count // CHUNK)
    return [(draw * per_draw + i, start, min(CHUNK, count - start)) for i, start in enumerate(range(0, count, CHUNK))]


def check_checkpoint(run, which):
    """The folder of the run's latest (or best) checkpoint, refused in one line when there is none."""
    folder = run.checkpoint_folder(which)
    if not checkpoints.steps(folder):
        hint = " (was the run trained with --eval-every 0?)" if which == "best" else ""
        raise UsageError(f"no {which} checkpoint in {folder}{hint}")
    return folder


@contextlib.contextmanager
def restored(args, run, which, build):
    """(session, what `build()` returned, checkpoint name): the graph `build` makes, its generator
    restored from the run's latest (or best) checkpoint. One checkpoint serves the whole session (a run
    still training may save a newer one meanwhile)."""
    folder = check_checkpoint(run, which)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)  # --deterministic refuses unseeded initializers, even those the restore overwrites
        built = build()
        saver = tf.train.Saver()  # the generator's variables only: the graph holds nothing else
    with tf.Session(graph=graph, config=session_config(args.gpu_memory_fraction, args.gpu_allow_growth)) as sess:
        checkpoint = checkpoints.restore_latest(sess, saver, folder)
        yield sess, built, checkpoint.rsplit("/", 1)[-1]


def generate_images(args, model, run, count, labels=None, which="latest", draws=1):
    """(images float32 [draws · count, 28, 28, 1] in [-1, 1], checkpoint name) from the run's latest (or
    best) checkpoint; `labels` (one per image of a draw) are the digits asked of a conditional model,
    balanced digits when None. The noise is the GENERATE stream's, numbered as `chunks` says, so the
    same call gives the same images, and all draws come from the one checkpoint restored."""
    if labels is None:
        labels = balanced_labels(count)

    def build():
        size = tf.placeholder(tf.int32, [])
        chunk = tf.placeholder(tf.int64, [])
        labels_in = tf.placeholder(tf.int32, [None])
        fake = model.sample(args, size, inputs.stream_seed(args.seed, inputs.Stream.GENERATE, chunk), labels_in)
        return size, chunk, labels_in, fake

    parts = []
    with restored(args, run, which, build) as (sess, (size, chunk, labels_in, fake), checkpoint):
        for draw in range(draws):
            for i, (counter, start, n) in enumerate(chunks(count, draw)):
                parts.append(sess.run(fake, {size: n, chunk: counter, labels_in: labels[start : start + n]}))
                guards.fault_point("sigint-generate", i)
    return np.concatenate(parts).astype(np.float32), checkpoint


def save_npz(target, arrays):
    """Arrays as one .npz, written atomically: Ctrl-C mid-write keeps an earlier file of that name whole."""
    with files.replacing(target) as tmp:
        with open(tmp, "wb") as f:  # a handle: numpy adds ".npz" to a name that lacks it (".NPZ")
            np.savez_compressed(f, **arrays)
        guards.fault_point("sigint-writing", 0)


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
    labels, for the conditional model) or a .png grid; with --walk or --modes, the pictures of
    common/walks.py."""
    run = runs.for_args(args, model.script)
    if not checkpoints.steps(run.checkpoints):
        raise UsageError(
            f"no checkpoint in {run.checkpoints}: train first (python {model.script}.py with the same settings), "
            f"or pass --out-dir of a trained run (e.g. outputs/{model.script}/latest)"
        )
    settings.use_run_settings(args, run, model.script)
    target = args.to or run.path / f"generated_{args.generate}.npz"
    if args.walk or args.modes:
        from common import walks  # (here, not above: walks builds on this module)

        return walks.generate(args, model, run, target)
    check_writable(target)
    labels = None
    if model.conditional:  # the requested digit, or all ten in turn
        labels = np.full(args.generate, args.label) if args.label is not None else balanced_labels(args.generate)
    device.choose(args.device)
    out, checkpoint = generate_images(args, model, run, args.generate, labels, args.checkpoint)
    if target.suffix.lower() == ".png":
        images.save_png(target, images.grid(out))
    else:
        save_npz(target, {"images": out} if labels is None else {"images": out, "labels": labels.astype(np.uint8)})
    print(f"wrote {len(out)} images from {checkpoint} to {target}")
