"""The training loop and everything around it that the three scripts share.

A script describes its GAN (`build_graph`, `sample`); this module runs it: the run folder, the data in
the graph, checkpoints and exact resume, Ctrl-C/SIGTERM, the per-epoch outputs, and `--generate`.

Exact resume rests on one rule: nothing random depends on how many times the program has started.
Every random draw is a stateless op keyed by (seed, stream, counter) — the data order by the epoch, the
noise by the global step — so step 1234 sees the same batch and the same noise whether the run got
there in one go or restored step 1000 from a checkpoint.
"""

import argparse
import csv
import fcntl
import json
import math
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import classifier, data, flags, images, metrics, ops
from common.session import session_config
from common.tfcompat import tf, tf2

REPO_DIR = Path(__file__).resolve().parent.parent
HISTORY_COLUMNS = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake")
EVAL_COLUMNS = ("score", "fd")  # filled on the last step of an evaluated epoch, empty elsewhere
EVAL_SAMPLES = 2000  # images per evaluation during training (evaluate.py uses 10,000)
KEEP_CHECKPOINTS = 3
GENERATE_CHUNK = 1000
STATS_SAMPLES = 1000  # images whose batch statistics become the weight average's batch-norm statistics
FAULT_ENV = "GAN_FAULT"  # test hook, see fault_point()

# Random streams: each kind of draw has its own, so that adding one never shifts another.
DATA, NOISE, DROPOUT, LABELS, FIXED, GENERATE, EVAL, STATS = range(1, 9)


class UsageError(Exception):
    """The user asked for something that cannot be done as asked; the message says what to do."""


def stream_seed(seed, stream, counter):
    """The [2] int64 seed of a stateless random op: draw number `counter` of stream `stream`."""
    counter = tf.cast(counter, tf.int64)
    return tf.stack([tf.constant(seed, tf.int64), tf.constant(stream << 40, tf.int64) + counter])


@dataclass
class Dataset:
    """The training set, held in graph variables so that batches never pass through Python."""

    images: tf.Variable  # float32 [N, 28, 28, 1] in [-1, 1]
    labels: tf.Variable  # int32 [N]
    size: int
    steps_per_epoch: int


def batch(dataset, step, batch_size, seed):
    """(images, labels) of training step `step`: epoch `step // steps_per_epoch` visits the examples in
    its own stateless permutation, and the step takes the next `batch_size` of them."""
    step = tf.cast(step, tf.int64)
    epoch = step // dataset.steps_per_epoch
    first = (step % dataset.steps_per_epoch) * batch_size
    positions = first + tf.range(batch_size, dtype=tf.int64)
    index = tf2.random.experimental.index_shuffle(positions, stream_seed(seed, DATA, epoch), dataset.size - 1)
    return tf.gather(dataset.images, index), tf.gather(dataset.labels, index)


@dataclass
class GanGraph:
    """What the loop needs from a script's training graph."""

    train_op: tf.Operation  # one whole step: D update, then G update, then global step + 1
    d_step: tf.Operation  # the D update alone (the tests check it leaves G untouched)
    metrics: dict  # per-step scalars for history.csv, keyed by HISTORY_COLUMNS[2:]
    samples: tf.Tensor  # the fixed-noise grid, generator in inference mode
    grid: tuple  # (rows, cols) of the sample grid
    refresh: tf.Operation  # measures the weight average's batch-norm statistics (see average_generator)


def step_metrics(d_loss, g_loss, d_real_logits, d_fake_logits):
    """The per-step scalars of history.csv: both losses, and D's mean belief that reals and fakes are real."""
    return dict(
        d_loss=d_loss,
        g_loss=g_loss,
        d_real=tf.reduce_mean(tf.sigmoid(d_real_logits)),
        d_fake=tf.reduce_mean(tf.sigmoid(d_fake_logits)),
    )


def balanced_digits(hp, count):
    """The extra `sample` argument of the conditional model — `count` labels cycling through the ten
    digits — as a tuple to unpack; () for the unconditional ones (only the conditional has --label)."""
    return (tf.range(count) % 10,) if hasattr(hp, "label") else ()


def average_generator(hp, g_update, step, sample):
    """(train_op, refresh): `g_update` followed by the update of G's weight average, and the op that
    measures the average's batch-norm statistics.

    A GAN's generator circles around a good solution rather than settling on it; an exponential moving
    average of its weights sits nearer the centre and draws cleaner, more even samples at no training
    cost (Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training"). The decay
    `hp.g_average` is warmed up as min(decay, (1 + t) / (10 + t)), so the random initial weights are
    forgotten within the first steps. Batch-norm statistics measured on G's own weights do not fit the
    averaged ones, so `refresh` measures them afresh: the average in training mode on STATS_SAMPLES
    fixed noise vectors (balanced digits for the conditional model), momentum 0. The loop runs it before
    every grid, evaluation and checkpoint. With `hp.g_average` 0 there is no average, and `sample`
    draws from G itself.
    """
    if not hp.g_average:
        return g_update, tf.no_op(name="refresh")
    measuring = argparse.Namespace(**{**vars(hp), "bn_momentum": 0.0})  # moving statistics := batch's
    known = set(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    seed = stream_seed(hp.seed, STATS, 0)
    sample(measuring, STATS_SAMPLES, seed, *balanced_digits(hp, STATS_SAMPLES), training=True)  # builds the copies
    refresh = tf.group(*[op for op in tf.get_collection(tf.GraphKeys.UPDATE_OPS) if op not in known], name="refresh")
    copies = {v.name: v for v in tf.global_variables() if v.name.startswith(ops.AVERAGE + "/")}
    with tf.control_dependencies([g_update]):  # average the weights this step has just written
        t = tf.cast(step, tf.float32)
        forget = 1.0 - tf.minimum(hp.g_average, (1.0 + t) / (10.0 + t))
        updates = []
        for v in ops.trainable_variables("generator"):
            copy = copies[f"{ops.AVERAGE}/{v.name}"]
            updates.append(copy.assign_sub(forget * (copy - v)))
    return tf.group(*updates), refresh


def bce(logits, target):
    """Mean sigmoid cross-entropy against a constant target (1 real, 0 fake, 1 − ε when smoothed)."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits))


# ----------------------------------------------------------------------------------------- run folder


def default_run_dir(args, script):
    return REPO_DIR / "outputs" / script / flags.run_name(args)


def _point_latest(run_dir):
    """`outputs/<script>/latest` -> the newest run folder (a relative link, so the tree can move)."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / ".latest.tmp"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run_dir.name)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without links: the folder names still say which run is which


def _config(args, script, steps_per_epoch):
    return {
        "script": script,
        "run_name": flags.run_name(args),
        "hparams": args.hparams,
        "dataset": args.dataset,
        "steps_per_epoch": args.steps_per_epoch,
        "effective_steps_per_epoch": steps_per_epoch,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "gpu_memory_fraction": args.gpu_memory_fraction,
        "gpu_allow_growth": args.gpu_allow_growth,
        "seed": args.seed,
        "tensorflow": tf.VERSION,
    }


def _read_config(run_dir):
    """A run folder's config.json ({"hparams": {}} when there is none)."""
    path = run_dir / "config.json"
    if not path.exists():
        return {"hparams": {}}
    try:
        config = json.loads(path.read_text())
        _shaping_args(config)
        if config["hparams"]:
            config["hparams"] = {**flags.ADDED_LATER, **config["hparams"]}
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is damaged ({type(e).__name__}: {e}); pass --fresh to start this run over") from None
    return config


def _check_same_run(run_dir, args):
    """Refuse to resume a run folder with settings that would make it a different run."""
    config = _read_config(run_dir)
    if not config["hparams"]:
        return
    saved = flags.result_shaping(**_shaping_args(config))
    wanted = flags.result_shaping(args.hparams, args.dataset, args.steps_per_epoch)
    diffs = [
        f"{k} {saved.get(k)!r} -> {wanted.get(k)!r}" for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)
    ]
    if diffs:
        raise UsageError(
            f"{run_dir} holds a run with other settings ({'; '.join(diffs)}); pass --fresh to start it over, "
            "or leave out --out-dir to get a folder of its own"
        )


def _shaping_args(config):
    return dict(hparams=config["hparams"], dataset=config["dataset"], steps_per_epoch=config["steps_per_epoch"])


OUTPUTS = (
    "checkpoints",
    "samples",
    "logs",
    "history.csv",
    "losses.png",
    "progress.gif",
    "config.json",
    "metrics.json",
    "metrics-best.json",
)


def _start_over(run_dir):
    removed = []
    for name in OUTPUTS:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    if removed:
        print(f"--fresh: removed {', '.join(removed)} from {run_dir}")


# --------------------------------------------------------------------------------------- checkpoints


class TrainingFailed(Exception):
    """Training cannot go on (diverged, or a save failed); the message says what was kept."""


def _checkpoint_steps(checkpoint_dir):
    """The steps of the checkpoints on disk, oldest first, found by their files rather than by the
    `checkpoint` state file, which a crash could leave stale or broken."""
    steps = []
    for index in checkpoint_dir.glob("ckpt-*.index"):
        suffix = index.stem.split("-", 1)[1]
        if suffix.isdigit():
            steps.append(int(suffix))
    return sorted(steps)


def _shape_mismatches(path, graph):
    """What differs between a checkpoint's variables and this graph's, in words."""
    saved = dict(tf.train.list_variables(path))
    wanted = {v.op.name: v.shape.as_list() for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    problems = [
        f"{name} is {saved[name]} there, {shape} here" for name, shape in wanted.items() if name in saved and saved[name] != shape
    ]
    problems += [f"{name} is not in it" for name in wanted if name not in saved]
    return problems


def restore_latest(sess, saver, checkpoint_dir):
    """Restore the newest readable checkpoint; return its path, or None when there is none.

    A checkpoint that fails to load (a crash or a full disk while it was written) is reported and the
    one before it is tried, so a damaged newest file costs one epoch, not the run. A checkpoint of
    another architecture is an error that lists the differences, not a shape traceback.
    """
    steps = _checkpoint_steps(checkpoint_dir)
    paths = [str(checkpoint_dir / f"ckpt-{step}") for step in steps]
    for path in reversed(paths):
        try:
            mismatches = _shape_mismatches(path, sess.graph)
            if mismatches:  # a UsageError: not caught below, it ends the search
                shown = "; ".join(mismatches[:4]) + ("; …" if len(mismatches) > 4 else "")
                raise UsageError(
                    f"checkpoint {path} is of another model ({shown}); pass --fresh to start over, or another --out-dir"
                )
            saver.restore(sess, path)
        except (tf.errors.OpError, ValueError) as e:
            print(
                f"checkpoint {Path(path).name} is unreadable ({type(e).__name__}); falling back to the one before it",
                file=sys.stderr,
            )
            continue
        saver.recover_last_checkpoints(paths[: paths.index(path) + 1])  # keep-the-last-3 spans restarts
        return path
    if paths:
        raise UsageError(f"no readable checkpoint in {checkpoint_dir}; pass --fresh to start over")
    return None


def _write_atomically(path, write):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        write(f)
    os.replace(tmp, path)


def _save_history(path, rows):
    def write(f):
        out = csv.writer(f)
        out.writerow(HISTORY_COLUMNS + EVAL_COLUMNS)
        out.writerows([int(r[0]), int(r[1]), *("" if math.isnan(v) else f"{v:.6g}" for v in r[2:])] for r in rows)

    _write_atomically(path, write)


def _load_history(path, upto_step):
    """history.csv rows up to the restored step: steps replayed after a crash are not written twice."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = [[float(v) if v else math.nan for v in row] for row in list(csv.reader(f))[1:] if row]
    width = len(HISTORY_COLUMNS + EVAL_COLUMNS)
    return [r + [math.nan] * (width - len(r)) for r in rows if r[0] <= upto_step]


class StopOnSignal:
    """Turn Ctrl-C and SIGTERM into a flag the loop checks after each step, so the step in flight
    finishes and a checkpoint is written before the program exits."""

    def __init__(self):
        self.signum = None

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        else:
            print("\nstill saving the checkpoint; it takes a moment", file=sys.stderr)

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def fault_point(point, step):
    """Test hook: with GAN_FAULT=<point>@<step> the process signals itself there — SIGINT for
    `sigint`, and for the `sigkill…` points a SIGKILL, which no handler sees: a real crash."""
    if os.environ.get(FAULT_ENV) == f"{point}@{step}":
        os.kill(os.getpid(), signal.SIGINT if point == "sigint" else signal.SIGKILL)


class RunLock:
    """Keep a second process off a run folder. An flock is released by the kernel when its process
    ends however it ends, so a killed run never leaves the folder locked."""

    def __init__(self, run_dir):
        self.path = run_dir / ".lock"
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a+")  # noqa: SIM115 (held open for the whole run)
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise UsageError(
                f"{self.path.parent} is in use by a running training ({holder}); wait for it to finish, or pass another --out-dir"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()


# ---------------------------------------------------------------------------------------------- train


class Run:
    """One training run's folder and the files in it."""

    def __init__(self, run_dir, spe, epochs):
        self.dir = run_dir
        self.steps_per_epoch = spe
        self.epochs = epochs
        self.checkpoints = run_dir / "checkpoints"
        self.samples = run_dir / "samples"
        self.history_path = run_dir / "history.csv"
        self.history = []
        self.last_saved = None

    def grid_path(self, epoch):
        return self.samples / f"epoch_{epoch:04d}.png"

    def save(self, sess, saver, finite, step):
        """history first, then the checkpoint: after a crash between the two, the history's extra rows
        are dropped on resume, whereas the other order would leave a gap. Weights that are not all
        finite are never saved, and a failed save leaves the previous checkpoint as it was."""
        if not sess.run(finite):
            raise TrainingFailed(f"weights became NaN or Inf by step {step}; {self._kept()}")
        try:
            _save_history(self.history_path, self.history)
            fault_point("sigkill-after-history", step)
            saver.save(sess, str(self.checkpoints / "ckpt"), global_step=step, write_meta_graph=False)
        except (OSError, tf.errors.OpError) as e:
            reason = getattr(e, "strerror", None) or getattr(e, "message", None) or str(e)
            raise TrainingFailed(
                f"saving step {step} in {self.dir} failed ({reason.strip()}); {self._kept()}. Free some disk space "
                "or fix the folder's permissions, then run the same command to resume"
            ) from None
        self.last_saved = step
        fault_point("sigkill-after-checkpoint", step)

    def keep_if_best(self, sess, saver, step, epoch):
        """Copy this step's checkpoint to checkpoints/best/ when its Fréchet distance is the lowest yet."""
        score, fd = self.history[-1][-2:]
        best = self.checkpoints / "best"
        record = best / "best.json"
        if record.exists() and json.loads(record.read_text())["fd"] <= fd:
            return
        best.mkdir(exist_ok=True)
        old = [p for p in best.glob("ckpt-*") if not p.name.startswith(f"ckpt-{step}.")]
        saver.save(sess, str(best / "ckpt"), global_step=step, write_meta_graph=False, write_state=False)
        record.write_text(json.dumps({"step": step, "epoch": epoch, "fd": fd, "score": score}) + "\n")
        for path in old:
            path.unlink()

    def _kept(self):
        if self.last_saved is None:
            return "no checkpoint of this run had been saved yet"
        return f"the last good checkpoint, ckpt-{self.last_saved}, is intact"

    def write_grid(self, sess, model, epoch, writer=None):
        grid = images.grid(sess.run(model.samples), *model.grid)
        path = self.grid_path(epoch)
        images.save_png(path, grid)
        if writer is not None:
            h, w = grid.shape
            image = tf.Summary.Image(height=h, width=w, colorspace=1, encoded_image_string=path.read_bytes())
            writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="samples", image=image)]), epoch * self.steps_per_epoch)

    def write_plots(self):
        if self.history:
            h = np.asarray(self.history)
            images.plot_losses(
                self.dir / "losses.png", h[:, 0], {name: h[:, i] for i, name in enumerate(HISTORY_COLUMNS) if i >= 2}
            )
        frames = sorted(self.samples.glob("epoch_*.png"))
        images.save_gif(self.dir / "progress.gif", frames)


def evaluate_samples(fake, judge):
    """(classifier score, Fréchet distance to the test set) of generated images."""
    probs, features = judge.judge(fake)
    return metrics.classifier_score(probs)[0], metrics.frechet_distance(metrics.gaussian(features), judge.test_stats)


def _log_scalars(writer, rows):
    names = HISTORY_COLUMNS + EVAL_COLUMNS
    for row in rows:
        values = [tf.Summary.Value(tag=names[i], simple_value=v) for i, v in enumerate(row) if i >= 2 and not math.isnan(v)]
        writer.add_summary(tf.Summary(value=values), int(row[0]))


def _epoch_line(epoch, epochs, step, seconds, rows):
    means = np.mean(np.asarray(rows)[:, 2 : len(HISTORY_COLUMNS)], axis=0) if rows else [math.nan] * 4
    d, g, dx, dgz = means
    line = f"epoch {epoch:3d}/{epochs}  step {step:7d}  {seconds:6.1f}s  D {d:.3f}  G {g:.3f}  D(x) {dx:.2f}  D(G(z)) {dgz:.2f}"
    score, fd = rows[-1][len(HISTORY_COLUMNS) :] if rows else (math.nan, math.nan)
    return line if math.isnan(fd) else f"{line}  score {score:.2f}  FD {fd:.2f}"


@dataclass
class Built:
    graph: tf.Graph
    model: GanGraph
    saver: tf.train.Saver
    finite: tf.Tensor  # all variables finite: checked before every save
    checkpoint_bytes: int
    initialize: object  # sess -> None: variables, and the data set copied into the graph
    eval_images: tf.Tensor  # EVAL_SAMPLES images in inference mode (balanced digits if conditional), or None


def _build(args, build_graph, sample, train_images, train_labels, spe):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)
        images_in = tf.placeholder(tf.float32, train_images.shape)
        labels_in = tf.placeholder(tf.int32, train_labels.shape)
        local = dict(trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
        dataset = Dataset(
            images=tf.Variable(images_in, name="train_images", **local),
            labels=tf.Variable(labels_in, name="train_labels", **local),
            size=len(train_images),
            steps_per_epoch=spe,
        )
        model = build_graph(args, dataset)
        eval_images = None
        if args.eval_every:
            seed = stream_seed(args.seed, EVAL, 0)
            eval_images = sample(args, EVAL_SAMPLES, seed, *balanced_digits(args, EVAL_SAMPLES))
        saved = tf.global_variables()
        floats = [v for v in saved if v.dtype.base_dtype.is_floating]
        finite = tf.reduce_all(tf.stack([tf.reduce_all(tf.is_finite(v)) for v in floats]))
        init = tf.global_variables_initializer()
        load_data = tf.local_variables_initializer()
        saver = tf.train.Saver(max_to_keep=KEEP_CHECKPOINTS, save_relative_paths=True)
    graph.finalize()
    feed = {images_in: train_images, labels_in: train_labels}
    checkpoint_bytes = sum(v.shape.num_elements() * v.dtype.base_dtype.size for v in saved)
    initialize = lambda sess: sess.run([init, load_data], feed)  # noqa: E731
    return Built(graph, model, saver, finite, checkpoint_bytes, initialize, eval_images)


def _prepare_folder(run):
    """Create the run folder and prove it writable before any training time is spent."""
    try:
        for folder in (run.dir, run.checkpoints, run.samples):
            folder.mkdir(parents=True, exist_ok=True)
        probe = run.dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to {run.dir} ({e.strerror}); pass --out-dir with a writable folder") from None


def _check_free_space(run, checkpoint_bytes):
    """A run needs room for KEEP_CHECKPOINTS checkpoints plus the one being written, and some slack
    for grids and logs; a full disk found now costs nothing, found at the first save an epoch."""
    needed = checkpoint_bytes * (KEEP_CHECKPOINTS + 1) + 20 * 2**20
    free = shutil.disk_usage(run.dir).free
    if free < needed:
        raise UsageError(
            f"only {free / 2**20:.0f} MiB free at {run.dir}, and this run needs about {needed / 2**20:.0f} MiB "
            f"({KEEP_CHECKPOINTS + 1} checkpoints of {checkpoint_bytes / 2**20:.1f} MiB); free some space or pass another --out-dir"
        )


def train(args, build_graph, sample, script):
    run_dir = args.out_dir or default_run_dir(args, script)
    raw_images, raw_labels = data.load(args.dataset, "train", args.data_dir)
    if args.batch_size > len(raw_images):
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than the {len(raw_images)} training images; use at most {len(raw_images)}"
        )
    spe = min(len(raw_images) // args.batch_size, args.steps_per_epoch or math.inf)
    run = Run(run_dir, spe, args.epochs)
    _prepare_folder(run)
    with RunLock(run.dir):
        if args.fresh:
            _start_over(run_dir)
            _prepare_folder(run)
        _check_same_run(run_dir, args)
        built = _build(args, build_graph, sample, data.to_unit_range(raw_images), raw_labels.astype(np.int32), spe)
        del raw_images, raw_labels
        _check_free_space(run, built.checkpoint_bytes)
        (run.dir / "config.json").write_text(json.dumps(_config(args, script, spe), indent=2) + "\n")
        if args.out_dir is None:
            _point_latest(run_dir)
        config = session_config(args.gpu_memory_fraction, args.gpu_allow_growth)
        with tf.Session(graph=built.graph, config=config) as sess:
            built.initialize(sess)
            built.initialize = None  # the host copy of the data set: it now lives in the graph's variables
            restored = restore_latest(sess, built.saver, run.checkpoints)
            step = int(sess.run(tf.train.get_global_step(built.graph)))
            run.last_saved = step if restored else None
            run.history = _load_history(run.history_path, step)
            judge = classifier.Reference(args.dataset, args.data_dir) if args.eval_every else None
            _train_loop(sess, built, run, step, restored, judge, args.eval_every)


def _train_loop(sess, built, run, step, restored, judge=None, eval_every=0):
    model, saver = built.model, built.saver
    spe, total = run.steps_per_epoch, run.epochs * run.steps_per_epoch
    if step and step % spe == 0 and not run.grid_path(step // spe).exists():
        run.write_grid(sess, model, step // spe)  # the crash came between checkpoint and grid
    if step >= total:
        print(f"{run.dir}: already trained {step // spe} epochs ({step} steps); raise --epochs to train on")
        return
    if restored:
        print(f"resuming {run.dir} at epoch {step // spe + 1}, step {step} (from {Path(restored).name})")
    else:
        print(f"training {run.dir}: {run.epochs} epochs of {spe} steps")
    writer = tf.summary.FileWriter(str(run.dir / "logs"))
    if step:
        writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), step)  # drop replayed events
    fetches = [model.train_op, model.metrics]
    keys = HISTORY_COLUMNS[2:]
    with StopOnSignal() as stop:
        for epoch in range(step // spe + 1, run.epochs + 1):
            started, first_row = time.time(), len(run.history)
            bar = tqdm(
                total=spe, initial=step % spe, desc=f"epoch {epoch}/{run.epochs}", leave=False, disable=None, dynamic_ncols=True
            )
            while step < epoch * spe and stop.signum is None:
                _, metrics = sess.run(fetches)
                step += 1
                if not all(math.isfinite(metrics[k]) for k in keys):
                    bar.close()
                    writer.close()
                    losses = ", ".join(f"{k} {metrics[k]:.4g}" for k in keys)
                    raise TrainingFailed(
                        f"training diverged at step {step} (epoch {epoch}): {losses}; nothing was saved, and "
                        f"{run._kept()}. The same settings diverge the same way (training is deterministic): "
                        "lower --lr or change the model, which starts a new run folder"
                    )
                run.history.append([step, epoch, *(float(metrics[k]) for k in keys), math.nan, math.nan])
                bar.update()
                if step % 20 == 0:
                    bar.set_postfix(D=f"{metrics['d_loss']:.3f}", G=f"{metrics['g_loss']:.3f}", refresh=False)
                fault_point("sigint", step)
                fault_point("sigkill", step)
            bar.close()
            sess.run(model.refresh)  # before the evaluation, the checkpoint and the grid
            evaluated = judge is not None and stop.signum is None and epoch % eval_every == 0
            if evaluated:
                run.history[-1][-2:] = evaluate_samples(sess.run(built.eval_images), judge)
            run.save(sess, saver, built.finite, step)
            if evaluated:
                run.keep_if_best(sess, saver, step, epoch)
            _log_scalars(writer, run.history[first_row:])
            if stop.signum is not None:
                writer.close()
                run.write_plots()
                name = signal.Signals(stop.signum).name
                print(
                    f"\n{name} at step {step} (epoch {epoch}, {step - (epoch - 1) * spe}/{spe} steps in): checkpoint saved "
                    f"in {run.checkpoints}.\nRun the same command again to resume.",
                    file=sys.stderr,
                )
                raise SystemExit(128 + stop.signum)
            run.write_grid(sess, model, epoch, writer)
            writer.flush()
            epoch_rows = [r for r in run.history if r[1] == epoch]
            print(_epoch_line(epoch, run.epochs, step, time.time() - started, epoch_rows), flush=True)
            run.write_plots()
    writer.close()
    print(f"done: {run.dir}")


# ------------------------------------------------------------------------------------------- generate


def use_run_settings(args, run_dir):
    """Give `args` the hyperparameters stored in the run's config.json, so a run can be sampled (or
    evaluated) after the constants at the top of the script were edited for the next experiment."""
    for name, value in _read_config(run_dir)["hparams"].items():
        setattr(args, name, value)


def generate_images(args, sample, run_dir, count, labels=None, which="latest"):
    """(images float32 [count, 28, 28, 1] in [-1, 1], checkpoint name) from the run's latest
    checkpoint; `labels` (one per image) for the conditional model. The noise of chunk i is draw i of
    the GENERATE stream, so the same call gives the same images."""
    folder = run_dir / "checkpoints" / ("best" if which == "best" else "")
    if not _checkpoint_steps(folder):
        hint = " (was the run trained with --eval-every 0?)" if which == "best" else ""
        raise UsageError(f"no {which} checkpoint in {folder}{hint}")
    graph = tf.Graph()
    with graph.as_default():
        size = tf.placeholder(tf.int32, [])
        chunk = tf.placeholder(tf.int64, [])
        seed = stream_seed(args.seed, GENERATE, chunk)
        labels_in = tf.placeholder(tf.int32, [None])
        fake = sample(args, size, seed) if labels is None else sample(args, size, seed, labels_in)
        saver = tf.train.Saver()  # the generator's variables only: the graph holds nothing else
    with tf.Session(graph=graph, config=session_config(args.gpu_memory_fraction, args.gpu_allow_growth)) as sess:
        checkpoint = restore_latest(sess, saver, folder)
        parts = []
        for i, start in enumerate(range(0, count, GENERATE_CHUNK)):
            n = min(GENERATE_CHUNK, count - start)
            feed = {size: n, chunk: i}
            if labels is not None:
                feed[labels_in] = labels[start : start + n]
            parts.append(sess.run(fake, feed))
    return np.concatenate(parts).astype(np.float32), Path(checkpoint).name


def generate(args, sample, script):
    """Write `args.generate` images from a run's latest checkpoint (no training)."""
    run_dir = args.out_dir or default_run_dir(args, script)
    if not _checkpoint_steps(run_dir / "checkpoints"):
        raise UsageError(
            f"no checkpoint in {run_dir / 'checkpoints'}: train first (python {script}.py with the same settings), "
            f"or pass --out-dir of a trained run (e.g. outputs/{script}/latest)"
        )
    use_run_settings(args, run_dir)
    target = args.to or run_dir / f"generated_{args.generate}.npz"
    labels = None
    if hasattr(args, "label"):  # the conditional script: the requested digit, or all ten in turn
        labels = np.full(args.generate, args.label) if args.label is not None else np.arange(args.generate) % 10
    out, checkpoint = generate_images(args, sample, run_dir, args.generate, labels, args.checkpoint)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() == ".png":
        images.save_png(target, images.grid(out))
    elif labels is not None:
        np.savez_compressed(target, images=out, labels=labels.astype(np.uint8))
    else:
        np.savez_compressed(target, images=out)
    print(f"wrote {len(out)} images from {checkpoint} to {target}")


def main(args, build_graph, sample, script):
    """Train or generate. A problem with the input is one line on stderr and exit code 2; training
    that cannot go on (diverged, a failed save) is one line and exit code 1."""
    try:
        if args.generate:
            generate(args, sample, script)
        else:
            train(args, build_graph, sample, script)
    except (data.DataError, UsageError) as e:
        print(f"{script}.py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except TrainingFailed as e:
        print(f"{script}.py: stopped: {e}", file=sys.stderr)
        raise SystemExit(1) from None
