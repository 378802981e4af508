"""A run's checkpoints: saved so that a crash at any moment costs at most one epoch, restored with a
fallback past a damaged file, and the best one (by in-training Fréchet distance) kept apart.

Checkpoints are found by their files (`ckpt-<step>.index`), not by TensorFlow's `checkpoint` state file,
which a crash could leave stale or broken. TensorFlow writes the checkpoint files themselves; the
`best.json` record beside the best one is written atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from common import background, errors, files, guards, history, runs
from common.errors import TrainingFailed, UsageError
from common.tfcompat import tf

CHECKPOINT_FILE = re.compile(runs.RunFolder.CHECKPOINT_FILE)
TEMPORARY_FILE = re.compile(runs.RunFolder.CHECKPOINT_FILE + r"\.tempstate\d+")  # a write cut short
KEEP = 3  # the newest checkpoints kept in checkpoints/ (the best one is kept apart, in checkpoints/best/)


def steps(folder):
    """The steps of the checkpoints in `folder`, oldest first."""
    found = []
    for index in Path(folder).glob("ckpt-*.index"):
        suffix = index.stem.split("-", 1)[1]
        if suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")  # the last 8 bytes of a whole checkpoint index (an SSTable)


def checkpoint_files(folder):
    """The files of the checkpoints in `folder`, by TensorFlow's exact names (`ckpt-<step>.index`,
    `ckpt-<step>.data-<i>-of-<n>`): a user's `ckpt-notes.txt` is not one of them."""
    return [p for p in Path(folder).glob("ckpt-*") if CHECKPOINT_FILE.fullmatch(p.name) and not p.is_symlink()]


def looks_whole(folder, step):
    """Whether checkpoint `step` in `folder` looks whole without TensorFlow: its index ends as a finished
    index file does, and its data shards are there. (Only a restore proves it; this keeps a rerun that
    would find it damaged from being told the run is finished.)"""
    index = Path(folder) / f"ckpt-{step}.index"
    try:
        with open(index, "rb") as f:
            f.seek(-8, os.SEEK_END)
            whole = f.read(8) == _TABLE_MAGIC
    except OSError:
        return False
    return whole and any(Path(folder).glob(f"ckpt-{step}.data-*"))


def read_best(run):
    """The record of a run's checkpoints/best/ ({"step", "epoch", "fd", "score"}), or None before the
    first evaluation. Read before the graph is built, so a damaged record costs no start-up or training."""
    if not run.best_record.exists():
        return None
    fix = (
        f"delete the folder {run.best} and run again: training resumes, and the best checkpoint is chosen "
        "anew from the next evaluation on"
    )
    return runs.read_record(run.best_record, {"fd": (int, float), "step": int}, fix)


def best_is_decided(run, fd):
    """Whether checkpoints/best/ already reflects an evaluation of Fréchet distance `fd`: a crash
    between a checkpoint and its keep_if_best leaves it undecided, and the rerun must decide it."""
    best = read_best(run)
    if best is None or best["fd"] > fd:
        return False
    return not superseded(run.best, best["step"])


def superseded(folder, step):
    """The checkpoint files in `folder` that are not checkpoint `step`'s."""
    return [p for p in checkpoint_files(folder) if not p.name.startswith(f"ckpt-{step}.")]


def holds_our_networks(folder):
    """Whether the newest checkpoint in `folder` holds a generator and a discriminator of ours."""
    found = steps(folder)
    if not found:
        return False
    try:
        names = [name for name, _ in tf.train.list_variables(str(Path(folder) / f"ckpt-{found[-1]}"))]
    except (tf.errors.OpError, ValueError):
        return False
    nets = ("generator", "discriminator")
    return "global_step" in names and all(any(n.startswith(f"{net}/") for n in names) for net in nets)


def shape_mismatches(path, graph):
    """What differs between a checkpoint's variables and this graph's, in words."""
    saved = dict(tf.train.list_variables(path))
    wanted = {v.op.name: v.shape.as_list() for v in graph.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)}
    problems = [
        f"{name} is {saved[name]} there, {shape} here" for name, shape in wanted.items() if name in saved and saved[name] != shape
    ]
    problems += [f"{name} is not in it" for name in wanted if name not in saved]
    return problems


@dataclass
class Snapshot:
    """A copy of every saved variable, kept beside it on its device, and a saver that writes the copies
    under the variables' own names. Taking the copy is one device-local copy (~40 MB: microseconds on a
    GPU, ~10 ms on this CPU); the checkpoint is then written from it in a thread while the next epoch
    trains, and the ordinary saver restores it into the variables."""

    take: tf.Operation
    saver: tf.train.Saver


def snapshot_of(variables):
    """The Snapshot of `variables` (built in their graph, before it is finalized). The copies are in no
    collection: no initializer, saver or finiteness check of the graph sees them."""
    copies, takes = {}, []
    for v in variables:
        with tf.colocate_with(v):
            copy = tf.Variable(
                tf.zeros(v.shape, v.dtype.base_dtype), trainable=False, collections=[], name=f"snapshot/{v.op.name}"
            )
            takes.append(copy.assign(v.read_value()).op)
        copies[v.op.name] = copy
    take = tf.group(*takes, name="take_snapshot")
    return Snapshot(take, tf.train.Saver(copies, max_to_keep=KEEP, save_relative_paths=True))


def restore_latest(sess, saver, folder, rotating=None):
    """Restore the newest readable checkpoint in `folder`; return its path, or None when there is none.

    A checkpoint that fails to load (a crash or a full disk while it was written) is reported and the
    one before it is tried, so a damaged newest file costs one epoch, not the run. A checkpoint of
    another architecture is an error that lists the differences, not a shape traceback. `rotating` (by
    default `saver`) is the saver whose next saves delete all but the newest KEEP.
    """
    paths = [str(Path(folder) / f"ckpt-{step}") for step in steps(folder)]
    damaged = []
    for path in reversed(paths):
        try:
            mismatches = shape_mismatches(path, sess.graph)
            if mismatches:  # a UsageError: not caught below, it ends the search
                shown = "; ".join(mismatches[:4]) + ("; …" if len(mismatches) > 4 else "")
                raise UsageError(
                    f"checkpoint {path} is of another model ({shown}); pass another --out-dir, or --fresh to start over"
                )
            saver.restore(sess, path)
        except (tf.errors.OpError, ValueError) as e:
            damaged.append(f"{Path(path).name} ({type(e).__name__})")
            continue
        if damaged:  # a note, not a failure: the run goes on from an earlier checkpoint
            print(f"checkpoint {', '.join(damaged)} unreadable; falling back to {Path(path).name}", file=sys.stderr)
        (rotating or saver).recover_last_checkpoints(paths[: paths.index(path) + 1])  # keep-the-last-KEEP spans restarts
        return path
    if paths:
        raise UsageError(f"no readable checkpoint in {folder} ({', '.join(damaged)}); train the run again with --fresh")
    return None


def check_free_space(run, checkpoint_bytes):
    """A run needs room for KEEP checkpoints plus the one being written, and some slack for grids and
    logs; a full disk found now costs nothing, found at the first save an epoch."""
    needed = checkpoint_bytes * (KEEP + 1) + 20 * 2**20
    free = shutil.disk_usage(run.path).free
    if free < needed:
        raise UsageError(
            f"only {free / 2**20:.0f} MiB free at {run.path}, and this run needs about {needed / 2**20:.0f} MiB "
            f"({KEEP + 1} checkpoints of {checkpoint_bytes / 2**20:.1f} MiB); free some space or pass another --out-dir"
        )


class Checkpoints:
    """Saving one run's checkpoints: `finite` (a scalar bool tensor, all variables finite) is checked
    before every save, so weights that are NaN or Inf never replace good ones. With a `snapshot` the
    files are written in a thread (see `save`); without one, in the caller's."""

    def __init__(self, run, saver, finite, snapshot=None):
        self.run, self.saver, self.finite, self.snapshot = run, saver, finite, snapshot
        self.last_saved = None  # the step of the newest good checkpoint
        self.saving = background.Worker("saving")

    def restore(self, sess):
        """Restore the newest readable checkpoint; return its path, or None for a new run. A write that
        a crash cut short left TensorFlow's temporary files (`ckpt-<step>.index.tempstate<n>`), which no
        rotation removes: they go first."""
        for folder in (self.run.checkpoints, self.run.best):
            for path in folder.glob("ckpt-*.tempstate*") if folder.is_dir() else ():
                if TEMPORARY_FILE.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                    path.unlink()
        rotating = self.snapshot.saver if self.snapshot else None
        path = restore_latest(sess, self.saver, self.run.checkpoints, rotating)
        if path is not None:
            self.last_saved = int(Path(path).name.split("-")[1])
        return path

    def save(self, sess, step, new_rows, best=None):
        """history.csv first (`new_rows` appended), then the checkpoint, then (`best`: (epoch, score,
        FD) of an evaluation) checkpoints/best/ if it is the best yet. After a crash between the first
        two, the history's extra rows are dropped on resume, whereas the other order would leave a gap.
        A failed save leaves the previous checkpoint as it was.

        With a snapshot, this takes the copy and returns; the files are written in the saving thread
        while training goes on (on a GPU the write costs ~0.1 s of host time, 40 DCGAN steps). The
        previous save is waited for first, so saves never overlap and stay in order; its failure is
        raised here, or earlier by `check`. `finish` waits for the last one."""
        self.saving.wait()
        self.saving.raise_error()
        self.check_finite(sess, step)
        if self.snapshot is None:
            self._write(sess, self.saver, step, new_rows, best)
            return
        sess.run(self.snapshot.take)
        self.saving.submit("save", lambda: self._write(sess, self.snapshot.saver, step, list(new_rows), best))

    def check_finite(self, sess, step):
        """Refuse weights that are NaN or Inf (a last step that diverged), named as such."""
        if not sess.run(self.finite):
            self.finish(quiet=True)  # the message names the last good checkpoint: the one in flight counts
            raise TrainingFailed(f"weights became NaN or Inf by step {step}; {self.kept()}")

    def _write(self, sess, saver, step, new_rows, best):
        try:
            history.append(self.run.history, new_rows)
            guards.fault_point("sigkill-after-history", step)
            saver.save(sess, str(self.run.checkpoints / "ckpt"), global_step=step, write_meta_graph=False)
        except (OSError, tf.errors.OpError) as e:
            raise self.failed(f"saving step {step} in {self.run.path}", e) from None
        self.last_saved = step
        guards.fault_point("sigkill-after-checkpoint", step)
        if best is None:
            return
        try:
            self.keep_if_best(sess, step, *best)
        except OSError as e:
            raise self.failed(f"keeping step {step} as the best checkpoint in {self.run.best}", e) from None

    def check(self):
        """Raise the failure of a save in the thread now, not an epoch later (cheap: called each step)."""
        self.saving.raise_error()

    def finish(self, quiet=False):
        """Wait for the save in flight, stop the thread, and raise its failure (unless `quiet`)."""
        self.saving.close(quiet)

    def best_so_far(self):
        """The record of checkpoints/best/ (see read_best)."""
        return read_best(self.run)

    def keep_if_best(self, sess, step, epoch, score, fd):
        """Keep this step's checkpoint in checkpoints/best/ when its Fréchet distance is the lowest yet:
        hard links to the files just saved (no second save), a copy where the filesystem has no links.

        Decided from what is on disk (best.json against this step's FD), so it may run again for the same
        step: the resume of a run cut short anywhere in here, or between its checkpoint and here, ends
        with the `best/` an uninterrupted run has. The record is written after the files it names and
        the superseded files are removed last, also when an earlier call was cut short before that."""
        best = self.best_so_far()
        if best is None or fd < best["fd"]:
            self.run.best.mkdir(exist_ok=True)
            saved = [p for p in checkpoint_files(self.run.checkpoints) if p.name.startswith(f"ckpt-{step}.")]
            if self.last_saved == step and saved:
                for path in saved:
                    _link_or_copy(path, self.run.best / path.name)
            else:  # not saved by this session at this step: never the case in the loop today. (From live
                # weights: right at a session's start, wrong in the saving thread, which always has the files.)
                self.saver.save(sess, str(self.run.best / "ckpt"), global_step=step, write_meta_graph=False, write_state=False)
            guards.fault_point("sigkill-after-best-files", step)
            files.write_json(self.run.best_record, {"step": step, "epoch": epoch, "fd": fd, "score": score})
            guards.fault_point("sigkill-after-best-record", step)
            best = {"step": step}
        for path in superseded(self.run.best, best["step"]):
            path.unlink()

    def failed(self, what, error):
        """The one-line failure of a write of the run's (`what` failed, and why), with what is safe on disk
        and what to do."""
        return TrainingFailed(
            f"{what} failed ({errors.first_line(error)}); {self.kept()}. Free some disk space or fix the folder, "
            "then run the same command to resume"
        )

    def kept(self):
        """What is safe on disk, in words, for the message of a failure."""
        if self.last_saved is None:
            return "no checkpoint of this run had been saved yet"
        return f"the last good checkpoint, ckpt-{self.last_saved}, is intact"


def _link_or_copy(source, target):
    """`target` becomes the same file as `source` (a hard link: the rotation of checkpoints/ that later
    deletes `source` leaves it intact), atomically; a copy where links are not possible."""
    with files.replacing(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
