"""The training loop the three scripts share: build the script's graph around the data, resume where
the run folder left off, step through the epochs, and at each epoch's end save, evaluate and draw.

A script describes its GAN (`gan.Model`: `build_graph`, `sample`); `main` trains it or, with
`--generate`, samples it. What each epoch leaves in the run folder is listed in `runs.RunFolder`;
what is checked in it before the graph is built, in common/preflight.py; the graph, in common/graphs.py.
"""

import functools
import math
import sys
import time

import numpy as np
from tqdm import tqdm

from common import (
    background,
    checkpoints,
    data,
    device,
    errors,
    flags,
    graphs,
    guards,
    history,
    images,
    preflight,
    quality,
    runs,
    sampling,
    settings,
)
from common.errors import TrainingFailed, UsageError
from common.session import deterministic_ops, session_config
from common.tfcompat import tf


def train(args, model):
    run = runs.for_args(args, model.script)
    raw_images, raw_labels = data.load(args.dataset, "train", args.data_dir)
    guards.fault_point("sigint-loading", 0)
    if args.batch_size > len(raw_images):
        raise UsageError(
            f"--batch-size {args.batch_size} is larger than the {len(raw_images)} training images; use at most {len(raw_images)}"
        )
    steps_per_epoch = min(len(raw_images) // args.batch_size, args.steps_per_epoch or math.inf)
    run.check_parts()  # before the lock: a .lock that is a link is not opened
    preflight.prepare_folder(run)
    with runs.Lock(run):
        ours = functools.partial(checkpoints.holds_our_networks, run.checkpoints)
        if args.fresh:
            run.start_over(ours)
        else:
            run.check_ours(ours)
        preflight.prepare_folder(run, run.checkpoints, run.samples)
        settings.check_same_run(run, args)
        settings.keep_sampling_settings(args, run)
        preflight.check_grids(run)
        checkpoints.read_best(run)  # a damaged best.json is named now
        finished = preflight.finished_step(run, args, steps_per_epoch)
        if finished is not None:  # decided from the run's files: no TensorFlow, no graph
            print(
                f"{run.path}: already trained {finished // steps_per_epoch} epochs ({finished} steps); raise --epochs to train on"
            )
            return
        args.device_name = device.choose(args.device)
        train_images, train_labels = data.to_unit_range(raw_images), raw_labels.astype(np.int32)
        del raw_images, raw_labels
        built = graphs.build(args, model, train_images.shape, train_labels.shape, steps_per_epoch)
        checkpoints.check_free_space(run, built.checkpoint_bytes)
        with tf.Session(graph=built.graph, config=session_config(args.gpu_memory_fraction, args.gpu_allow_growth)) as sess:
            sess.run(built.initialize)
            built.load_data(sess, train_images, train_labels)
            del train_images, train_labels  # the host copy: the data set now lives in the graph's variables
            saved = checkpoints.Checkpoints(run, built.saver, built.finite, built.snapshot)
            guards.fault_point("sigint-restoring", 0)
            restored = saved.restore(sess)  # a checkpoint of another model is refused here, config.json untouched
            step = int(sess.run(tf.train.get_global_step(built.graph)))
            rows = history.read(run.history, upto_step=step)  # replayed steps are not written twice
            if step < args.epochs * steps_per_epoch:  # there is training to do: this is the newest run
                settings.write_config(run, settings.config_record(args, model.script, steps_per_epoch, tf.VERSION))
                if args.out_dir is None:
                    runs.point_latest(run)
            reference = quality.Reference(args.dataset, args.data_dir) if args.eval_every else None
            trainer = Trainer(
                sess, built, run, saved, rows, steps_per_epoch, args.epochs, reference, args.eval_every, flags.steps_per_run(args)
            )
            stopped_by = trainer.train(step, restored)
    if stopped_by is not None:
        raise SystemExit(128 + stopped_by)


class Trainer:
    """One session's training of one run: the steps of each epoch, then the epoch's end."""

    def __init__(self, sess, built, run, saved, rows, steps_per_epoch, epochs, reference, eval_every, steps_per_run=1):
        self.sess, self.built, self.run, self.saved = sess, built, run, saved
        self.rows = rows  # history.csv, in memory, up to the restored step
        self.on_disk = None  # how many of the rows went to history.csv (or to the saving thread, which appends
        # them before its checkpoint); None: history.csv not yet written this session
        self.steps_per_epoch, self.epochs = steps_per_epoch, epochs
        self.reference, self.eval_every = reference, eval_every
        self.writer = None  # TensorBoard
        self.losses = images.LossPlot(history.STEP_METRICS)  # the rows so far go in at the first drawing
        self.plotted = 0  # rows handed to the loss plot
        self.progress = images.ProgressGif()
        self.drawing = background.Worker("drawing")  # the two above, drawn while training goes on (redrawn
        # from history.csv and the grids by the next session if a crash cuts a drawing short)
        self.steps_per_run = steps_per_run

    def train(self, step, restored):
        """Train from `step` to the last epoch; return the number of the signal that stopped it early
        (its checkpoint saved), or None."""
        per_epoch, total = self.steps_per_epoch, self.epochs * self.steps_per_epoch
        at_epoch_end = step > 0 and step % per_epoch == 0
        if step >= total:
            if at_epoch_end:
                self.complete_epoch_end(step // per_epoch, step)
            print(f"{self.run.path}: already trained {step // per_epoch} epochs ({step} steps); raise --epochs to train on")
            return None
        if restored:
            print(f"resuming {self.run.path} at epoch {step // per_epoch + 1}, step {step} (from {restored.rsplit('/', 1)[-1]})")
        else:
            print(f"training {self.run.path}: {self.epochs} epochs of {per_epoch} steps")
        try:
            self.writer = tf.summary.FileWriter(str(self.run.logs))
        except (OSError, tf.errors.OpError) as e:
            raise TrainingFailed(f"cannot write TensorBoard's files in {self.run.logs} ({errors.first_line(e)})") from None
        stopped = None
        try:
            # Once: drops the rows of steps this session replays. A history moved away is begun by the
            # first append instead, so a file without rows beside a checkpoint is never ours.
            if self.rows or not step:
                history.write(self.run.history, self.rows)
            self.on_disk = len(self.rows)
            if step:  # TensorBoard drops the events of steps ≥ this one written before: those replayed now
                self.writer.add_session_log(tf.SessionLog(status=tf.SessionLog.START), step + 1)
            if at_epoch_end:
                self.complete_epoch_end(step // per_epoch, step)
            # The signals stay caught until the save in flight is on disk: a Ctrl-C or SIGTERM while
            # it is written, as the run ends or after a first Ctrl-C, must not cut it short.
            with guards.StopOnSignal() as stop:
                try:
                    for epoch in range(step // per_epoch + 1, self.epochs + 1):
                        started, first_row = time.time(), len(self.rows)
                        step = self.run_steps(epoch, step, stop)
                        try:
                            self.end_epoch(epoch, step, stop, first_row, time.time() - started)
                        except (OSError, tf.errors.OpError) as e:
                            self.saved.finish(quiet=True)  # the message names the last good checkpoint: the one in flight counts
                            raise self.saved.failed(f"writing the end of epoch {epoch} in {self.run.path}", e) from None
                        if stop.signum is not None:
                            stopped, name = stop.signum, stop.name
                            break
                except BaseException:
                    self.saved.finish(quiet=True)  # the save in flight completes; the error already raised is the one told
                    raise
                self.saved.finish()  # before the last message: the checkpoint it speaks of is on disk
        except BaseException:
            self.writer.close()
            self.drawing.close(quiet=True)
            raise
        self.writer.close()
        self.finish_drawing()  # the files it speaks of are complete
        if stopped is not None:
            done = step - (epoch - 1) * per_epoch
            if step == self.epochs * per_epoch:  # trained to the end; the last grid (and evaluation) were skipped
                where = f"after the last step ({step}): all {self.epochs} epochs trained,"
                then = "the last epoch's grid and evaluation were cut short: run the same command again to finish them"
            else:
                where = f"at step {step} (epoch {epoch}, {done}/{per_epoch} steps in):"
                then = "run the same command again to resume"
            print(f"{name} {where} checkpoint saved in {self.run.checkpoints}; {then}", file=sys.stderr)
            return stopped
        print(f"done: {self.run.path}")
        return None

    def run_steps(self, epoch, step, stop):
        """The remaining steps of `epoch`, `steps_per_run` per session.run, until its end or a signal;
        returns the global step reached. A non-finite loss stops training at the step it happened."""
        done_op, metrics_op = self.built.steps
        bar = tqdm(
            total=self.steps_per_epoch,
            initial=step % self.steps_per_epoch,
            desc=f"epoch {epoch}/{self.epochs}",
            leave=False,
            disable=None,
            dynamic_ncols=True,
        )
        end = epoch * self.steps_per_epoch
        with bar:
            while step < end and stop.signum is None:
                self.saved.check()  # a failed save of the last epoch's end stops training now
                count = min(self.steps_per_run, end - step)
                done, values = self.sess.run([done_op, metrics_op], {self.built.steps_in_run: count})
                values = values[:done]
                diverged = np.flatnonzero(~np.isfinite(values).all(axis=1))
                if diverged.size:
                    self.saved.finish()  # the message names the last good checkpoint: the one in flight counts
                    losses = ", ".join(f"{k} {v:.4g}" for k, v in zip(history.STEP_METRICS, values[diverged[0]], strict=True))
                    raise TrainingFailed(
                        f"training diverged at step {step + diverged[0] + 1} (epoch {epoch}): {losses}; nothing was saved, "
                        f"and {self.saved.kept()}. The same settings diverge the same way (training is deterministic): "
                        "lower --lr or change the model, which starts a new run folder"
                    )
                self.rows.extend(history.rows(step + 1, epoch, values))
                if guards.armed():
                    for at in range(step + 1, step + done + 1):
                        guards.fault_point("sigint", at)
                        guards.fault_point("sigkill", at)
                step += int(done)
                bar.update(done)
                bar.set_postfix(D=f"{values[-1, 0]:.3f}", G=f"{values[-1, 1]:.3f}", refresh=False)
        return step

    def end_epoch(self, epoch, step, stop, first_new_row, seconds):
        """Evaluate, save, and (unless a signal cut the epoch short) draw the grid and report. Rows from
        `first_new_row` on are this session's: only they go to TensorBoard (the others are there)."""
        self.sess.run(self.built.step.refresh)  # before the evaluation, the checkpoint and the grid
        self.saved.check_finite(self.sess, step)  # before the evaluation too: NaN weights are named as such
        evaluated = self.reference is not None and stop.signum is None and epoch % self.eval_every == 0
        if evaluated:
            self.evaluate()
        log_scalars(self.writer, self.rows[first_new_row:])
        self.writer.flush()  # before the save: a crash after it replays these steps, and TensorBoard drops the copies
        best = (epoch, self.rows[-1]["score"], self.rows[-1]["fd"]) if evaluated else None
        self.saved.save(self.sess, step, self.rows[self.on_disk :], best)  # written while the next epoch trains
        self.on_disk = len(self.rows)
        if stop.signum is None:
            self.write_grid(epoch)
            self.writer.flush()
            epoch_rows = self.rows[-(step - (epoch - 1) * self.steps_per_epoch) :]  # this epoch's (consecutive steps)
            print(epoch_line(epoch, self.epochs, step, seconds, epoch_rows), flush=True)
        self.write_plots()

    def evaluate(self):
        """Score and FD of the weight average, into the last row of the history."""
        measured = self.reference.measure(self.sess.run(self.built.eval_images))
        self.rows[-1].update(score=measured["score"][0], fd=measured["fd"])

    def complete_epoch_end(self, epoch, step):
        """What the end of `epoch` left undone when a signal or a crash cut it short after its
        checkpoint: the grid, and the evaluation (a signal on the epoch's last step skips it)."""
        if not self.run.grid(epoch).exists():
            self.write_grid(epoch)
        due = self.reference is not None and epoch % self.eval_every == 0
        if not (due and self.rows and self.rows[-1]["step"] == step):
            return
        if math.isnan(self.rows[-1]["fd"]):
            self.evaluate()
            history.write(self.run.history, self.rows)
            if self.writer is not None:
                log_scalars(self.writer, self.rows[-1:], history.EVALUATION)
        # Also when the row had its FD: a crash after the checkpoint may have come before best/ was decided.
        self.saved.keep_if_best(self.sess, step, epoch, self.rows[-1]["score"], self.rows[-1]["fd"])

    def write_grid(self, epoch):
        step = self.built.step
        grid = images.grid(self.sess.run(step.samples), *step.grid)
        path = self.run.grid(epoch)
        images.save_png(path, grid)
        if self.writer is not None:
            h, w = grid.shape
            image = tf.Summary.Image(height=h, width=w, colorspace=1, encoded_image_string=path.read_bytes())
            summary = tf.Summary(value=[tf.Summary.Value(tag="samples", image=image)])
            self.writer.add_summary(summary, epoch * self.steps_per_epoch)

    def finish_drawing(self):
        """Wait for the drawing thread; a drawing that failed (a full disk) fails the run as a failed
        epoch end does, with one line."""
        try:
            self.drawing.close()
        except OSError as e:
            raise self.saved.failed(f"writing in {self.run.path}", e) from None

    def write_plots(self):
        """The loss plot and the progress GIF, handed to the drawing thread (the grids they read are
        written by then)."""
        new = self.rows[self.plotted :]
        if new:
            self.losses.add([r["step"] for r in new], {k: [r[k] for r in new] for k in history.STEP_METRICS})
            self.plotted = len(self.rows)
        binned, grids = self.losses.binned(), list(self.run.grids().values())
        self.drawing.submit("losses", _naming(self.run.losses, lambda: self.losses.save(self.run.losses, binned)))
        self.drawing.submit("progress", _naming(self.run.progress, lambda: self.progress.save(self.run.progress, grids)))


def _naming(path, draw):
    """`draw`, with the file it draws named in its OSError: the error surfaces later, in another place."""

    def job():
        try:
            draw()
        except OSError as e:
            raise OSError(e.errno, f"drawing {path.name}: {e.strerror or e}") from None

    return job


def log_scalars(writer, rows, names=history.STEP_METRICS + history.EVALUATION):
    """Each row's scalars as one TensorBoard event. Built as events directly: `add_summary`'s per-value
    bookkeeping (plugin metadata, which scalars have none of) doubled the cost of an epoch's ~500 rows."""
    now = time.time()
    for row in rows:
        values = [tf.Summary.Value(tag=name, simple_value=row[name]) for name in names if not math.isnan(row[name])]
        writer.add_event(tf.Event(wall_time=now, step=row["step"], summary=tf.Summary(value=values)))


def epoch_line(epoch, epochs, step, seconds, rows):
    """The console's one line per epoch: time, mean losses, D's mean outputs, and the evaluation."""
    means = [np.mean([r[k] for r in rows]) if rows else math.nan for k in history.STEP_METRICS]
    d, g, dx, dgz = means
    line = f"epoch {epoch:3d}/{epochs}  step {step:7d}  {seconds:6.1f}s  D {d:.3f}  G {g:.3f}  D(x) {dx:.2f}  D(G(z)) {dgz:.2f}"
    score, fd = (rows[-1]["score"], rows[-1]["fd"]) if rows else (math.nan, math.nan)
    return line if math.isnan(fd) else f"{line}  score {score:.2f}  FD {fd:.2f}"


def main(args, model):
    """Train or generate. A problem with the input is one line on stderr and exit code 2; training
    that cannot go on (diverged, a failed save) is one line and exit code 1; Ctrl-C or SIGTERM saves
    and exits with 130 or 143."""
    if args.deterministic:  # process-wide: before any graph is built
        deterministic_ops()
    with errors.exit_codes(f"{model.script}.py"):
        if args.generate:
            sampling.generate(args, model)
        else:
            train(args, model)
