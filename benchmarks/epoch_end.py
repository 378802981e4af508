"""The end of an epoch, timed apart from its steps: evaluation, the grid, the checkpoint's copy and the
hand-off to the two background threads happen once an epoch, grow with the run's history, and on a GPU
are a far larger share of the epoch than here, so they are split into the host work a GPU keeps, the
device work it would do in milliseconds, and the threads' work that overlaps the next epoch."""

import contextlib
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import MNIST_TRAIN, NoSignal
from benchmarks.counts import classifier_flops, frechet_flops, step_flops
from common import checkpoints, files, graphs, history, loop, preflight
from common.tfcompat import tf


def _timed_session(**kwargs):
    class TimedSession(tf.Session):
        """A session that adds up the time of the runs that fetch only `device_work` (the samples, the weight
        average's statistics, the all-weights-finite check and the weights' copy before a save: on a GPU
        milliseconds of device time; on this CPU the bulk of an evaluation), so that an epoch's end splits
        into that and the host work around it."""

        device_work = ()
        device_seconds = 0.0

        def run(self, fetches, *args, **kwargs):
            if not any(fetches is work for work in self.device_work):
                return super().run(fetches, *args, **kwargs)
            start = time.perf_counter()
            try:
                return super().run(fetches, *args, **kwargs)
            finally:
                self.device_seconds += time.perf_counter() - start

    return TimedSession(**kwargs)


def bench_epoch_end(module, args, history_epochs, reference, config, repeats=3):
    """Seconds of the loop's own end of an epoch (`Trainer.end_epoch`: evaluation, the grid, the copy
    of the weights for the checkpoint; history.csv, the checkpoint and the best checkpoint go to the
    saving thread, the loss plot and the progress GIF to the drawing thread) in a run folder that
    already holds `history_epochs` epochs of history, grids and GIF frames: {"total", "device",
    "host", "background"}. "device" is the generator's and the classifier's forward passes and the
    weights' copy (timed where they run), "host" the rest — what stays when the device is a GPU;
    "background" the two threads' time, spent while the next epoch trains. The first end of a session
    rebuilds the GIF from the grids and lays out the loss plot once; it is run first and not timed,
    as in a real session. `reference` (a `quality.Reference`, or None: no evaluation) is the caller's,
    loaded once for every model: loading it belongs to a session's start, not to an epoch's end."""
    from common import images, runs

    evaluate = reference is not None
    args.eval_every = 1 if evaluate else 0
    per_epoch = MNIST_TRAIN // args.batch_size
    shapes = ((args.batch_size, 28, 28, 1), (args.batch_size,))  # the data set does not enter an epoch's end
    built = graphs.build(args, module.MODEL, *shapes, per_epoch)
    evaluation_seconds = [0.0]  # the classifier's forward pass and the Fréchet distance's matrix work

    def timed(work):
        def run(*args):
            start = time.perf_counter()
            try:
                return work(*args)
            finally:
                evaluation_seconds[0] += time.perf_counter() - start

        return run

    untimed = []  # (owner, name, work), put back at the end: the next model times its own
    if reference is not None:
        untimed.append((reference.classifier, "predict", reference.classifier.predict))
        if hasattr(reference, "frechet"):  # (absent from older versions: the distance was numpy's, on the host)
            untimed.append((reference, "frechet", reference.frechet))
    for owner, name, work in untimed:
        setattr(owner, name, timed(work))
    rng = np.random.default_rng(0)

    def epoch_rows(epoch):
        metrics = rng.uniform(0.2, 1.5, (per_epoch, len(history.STEP_METRICS)))
        first = (epoch - 1) * per_epoch + 1
        return [history.row(first + i, epoch, dict(zip(history.STEP_METRICS, m, strict=True))) for i, m in enumerate(metrics)]

    with tempfile.TemporaryDirectory() as folder, _timed_session(graph=built.graph, config=config) as sess:
        snapshot = getattr(built, "snapshot", None)  # (absent from older versions of the loop)
        sess.device_work = (built.step.refresh, built.step.samples, built.eval_images, built.finite)
        if snapshot is not None:
            sess.device_work += (snapshot.take,)
        sess.run(built.initialize)
        run = runs.RunFolder(Path(folder) / "run")
        preflight.prepare_folder(run, run.checkpoints, run.samples)
        rows = [r for epoch in range(1, history_epochs + 1) for r in epoch_rows(epoch)]
        history.write(run.history, rows)
        grid = images.grid(sess.run(built.step.samples), *built.step.grid)
        for epoch in range(1, history_epochs + 1):
            images.save_png(run.grid(epoch), grid)
        images.save_gif(run.progress, list(run.grids().values()))
        saved = checkpoints.Checkpoints(run, built.saver, built.finite, *([snapshot] if snapshot else []))
        trainer = loop.Trainer(sess, built, run, saved, rows, per_epoch, history_epochs + repeats + 1, reference, args.eval_every)
        trainer.writer = tf.summary.FileWriter(str(run.logs))
        trainer.on_disk = len(rows)  # as after the session's start (absent from older versions of the loop)

        totals, devices, backgrounds = [], [], []
        for epoch in range(history_epochs + 1, history_epochs + repeats + 2):
            trainer.rows.extend(epoch_rows(epoch))
            if reference is not None:  # the costlier case: every evaluation is the best yet
                run.best.mkdir(exist_ok=True)
                files.write_json(run.best_record, {"step": 0, "epoch": 0, "fd": 1e9, "score": 0.0})
            sess.device_seconds, evaluation_seconds[0] = 0.0, 0.0
            drawing = getattr(trainer, "drawing", None)  # (absent from older versions of the loop)
            threads = [w for w in (drawing, getattr(saved, "saving", None)) if w is not None]
            busy = sum(w.busy_seconds for w in threads)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the epoch line
                trainer.end_epoch(epoch, epoch * per_epoch, NoSignal(), len(trainer.rows) - per_epoch, 1.0)
            elapsed = time.perf_counter() - start
            for worker in threads:  # what the threads do during the next epoch's training: timed apart
                worker.wait()
            if epoch > history_epochs + 1:
                totals.append(elapsed)
                devices.append(sess.device_seconds + evaluation_seconds[0])
                backgrounds.append(sum(w.busy_seconds for w in threads) - busy)
        trainer.writer.close()
        if hasattr(trainer, "drawing"):
            trainer.finish_drawing()
        if snapshot is not None:
            saved.finish()
        device_work = [built.step.refresh, built.step.samples, *([built.eval_images] if evaluate else [])]
        evaluation_flops = history.EVAL_SAMPLES * classifier_flops() + frechet_flops(history.EVAL_SAMPLES)
        device_flops = step_flops(built.graph, device_work) + (evaluation_flops if evaluate else 0)
    for owner, name, work in untimed:
        setattr(owner, name, work)
    total, device = statistics.median(totals), statistics.median(devices)
    background = statistics.median(backgrounds)
    return {"total": total, "device": device, "host": total - device, "background": background, "device_flops": device_flops}
