"""Training throughput of the three scripts on this machine, against its own matmul peak and against
the way the classic scripts drive the same models; the end of an epoch; the loop's host cost per step;
and a projected GPU epoch.

    python bench.py                          # all three models, default batch sizes
    python bench.py --model dcgan --steps 64 --json bench.json

Each model's real training graph is built by `graphs.build` (the script's own `build_graph`, not a copy)
and driven by the real loop, `loop.Trainer`. A benchmark reports; it asserts nothing. What it prints,
and how each figure is obtained:
- images/s: `--steps` steps of `Trainer.run_steps`, `--repeats` times (the median): the session.runs
  of `--steps-per-run` steps each and the Python of every step (the history's rows, the progress bar);
- seconds per epoch, as a real epoch: its steps at that rate, plus the end of an epoch with the
  in-training evaluation after 30 epochs of history — so the figure and a real epoch cannot drift apart;
- achieved GFLOP/s: the FLOPs of one step ÷ its time. The FLOPs are counted from the graph itself: every
  op that one training step runs — the matmuls and convolutions of the forward passes (G once, D three
  times), of both backward passes and of the input gradients, plus elementwise math. Convolutions are
  counted by `conv_flops` (useful multiply-adds only, padding excluded), everything else by
  TensorFlow's own per-op statistics. Adam's fused updates have no FLOP count and are left out
  (they are memory-bound and small);
- the machine's peak: the best rate of a large float32 matmul in TensorFlow, measured in the same run,
  and the utilization = achieved ÷ peak;
- the host cost per step, at one step per run and at `--steps-per-run`: the real loop driving a step
  that does next to nothing, so what is left is the session.run, the while loop's own ops, the fetch
  and the Python of each step;
- the end of an epoch (`Trainer.end_epoch`) in a run folder with `--epoch-end` epochs of history,
  grids and GIF frames, without and with the in-training evaluation: its host work (the grid, the
  TensorBoard events, the epoch line), apart the device work (the sampling, the classifier, the
  Fréchet distance's matrix work, the weights' copy for the checkpoint), which a GPU runs in
  milliseconds, and apart the two threads' work while the next epoch trains (history.csv, the
  checkpoint and the best one; the loss plot and the GIF);
- a projected GPU epoch: each step's FLOPs and kernel count (ops a traced step runs, host ops left out)
  at the assumptions printed (GPU_PEAK_TFLOPS, GPU_EFFICIENCY, GPU_LAUNCH_S, GPU_EIGH_S), plus the host cost per
  step and the epoch end's host work measured here; and the share of it outside the step. Estimates;
- the classic-style loop: the same generator and discriminator fed numpy batches and numpy noise through
  `feed_dict`, with one `session.run` for D and another for G (which runs G forward again on fresh
  noise), our speed-up over it, and the ratio of its FLOPs to ours — on a compute-bound machine the
  most any loop can gain over it;
- peak resident memory of this process so far.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np  # noqa: E402

import common  # noqa: F401, I001  (first: a Ctrl-C while the rest loads is one line, not a traceback)
from common import arguments, checkpoints, device, errors, files, flags, gan, graphs, history, inputs, loop, ops, tfcompat  # noqa: E402
from common.session import session_config  # noqa: E402
from common.tfcompat import tf  # noqa: E402

MODELS = {"fc": "gan_fc", "dcgan": "gan_dcgan", "cdcgan": "gan_cdcgan"}
MNIST_TRAIN = 60000


def step_flops(graph, fetches):
    """FLOPs of everything `fetches` needs, from TensorFlow's own per-op statistics."""
    from tensorflow.python.framework import ops as tf_ops  # after common.tfcompat has loaded TF quietly

    pending = [graph.as_graph_element(f) for f in fetches]
    pending = [f.op if isinstance(f, tf.Tensor) else f for f in pending]
    seen, total = set(), 0
    while pending:
        op = pending.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        pending.extend(t.op for t in op.inputs)
        pending.extend(op.control_inputs)
        if op.type in CONV_OPS:
            total += conv_flops(op)
            continue
        try:
            stat = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops")
        except ValueError:  # an op whose shapes are not all known: none of the heavy ones
            continue
        total += int(stat.value or 0)
    return total


CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


def _valid_taps(in_size, out_size, kernel, stride, padding):
    """How many (output position, kernel tap) pairs along one axis land on real input, not padding."""
    pad = max((out_size - 1) * stride + kernel - in_size, 0) // 2 if padding == "SAME" else 0
    return sum(0 <= o * stride + k - pad < in_size for o in range(out_size) for k in range(kernel))


def conv_flops(op):
    """FLOPs of a convolution, or of either of its gradients (a transposed convolution is the input
    gradient): all three do the forward convolution's multiply-adds, 2 FLOPs each, counting only the
    kernel taps that meet real input. TensorFlow's own statistics also count the taps that fall in
    the zero padding (for 5×5 kernels on 7×7 maps ~31 % of them, which oneDNN skips) and, for the two
    gradients, assume SAME padding (for a 7×7 VALID layer on a 1×1 map that is ~49 times the work)."""
    if op.type == "Conv2D":
        x, w, y = op.inputs[0].shape, op.inputs[1].shape, op.outputs[0].shape
    elif op.type == "Conv2DBackpropInput":
        x, w, y = op.outputs[0].shape, op.inputs[1].shape, op.inputs[2].shape
    else:
        x, w, y = op.inputs[0].shape, op.outputs[0].shape, op.inputs[2].shape
    _, sh, sw, _ = op.get_attr("strides")
    padding = op.get_attr("padding").decode()
    kh, kw, cin, cout = (int(d) for d in w)
    taps = _valid_taps(int(x[1]), int(y[1]), kh, sh, padding) * _valid_taps(int(x[2]), int(y[2]), kw, sw, padding)
    return 2 * int(x[0]) * taps * cin * cout


def matmul_peak(size, repeats, config):
    """GFLOP/s of the best of `repeats` float32 [size × size] @ [size × size] in TensorFlow."""
    with tf.Graph().as_default():
        a = tf.Variable(tf.random.normal([size, size]))
        b = tf.Variable(tf.random.normal([size, size]))
        product = tf.reduce_sum(tf.matmul(a, b))  # the sum keeps the result from crossing to Python
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(product)
            best = min(_timed(lambda: sess.run(product)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _args(script, batch_size, extra=()):
    """The script's hyperparameters with `--batch-size` and the script flags `extra` applied."""
    module = importlib.import_module(script)
    argv = ([] if batch_size is None else ["--batch-size", str(batch_size)]) + list(extra)
    return module, flags.parse("bench.py", module.HPARAMS, argv, conditional=module.MODEL.conditional)


def _synthetic_mnist(rng):
    """60,000 random images and labels: the speed of a step does not depend on what they show."""
    images = rng.uniform(-1, 1, (MNIST_TRAIN, 28, 28, 1)).astype(np.float32)
    return images, rng.integers(0, 10, MNIST_TRAIN).astype(np.int32)


def top_ops(sess, fetches, count=12):
    """Where one traced step spends its time: (op type, total ms, share) summed over the step's ops,
    from TensorFlow's own RunMetadata step stats."""
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    metadata = tf.RunMetadata()
    sess.run(fetches, options=options, run_metadata=metadata)
    by_type = {}
    for stats in metadata.step_stats.dev_stats:
        for node in stats.node_stats:
            kind = node.timeline_label.split("(")[0].split(" = ")[-1].strip() or node.node_name
            by_type[kind] = by_type.get(kind, 0) + node.all_end_rel_micros
    total = sum(by_type.values()) or 1
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])[:count]
    return [(kind, micros / 1000, micros / total) for kind, micros in ranked]


class _NoSignal:
    signum = None


def _trainer(sess, built, per_epoch, steps_per_run):
    """A Trainer that only runs steps: no run folder, no evaluation, and checkpoints that are never
    saved (the loop still asks them each step whether a save failed)."""
    saved = checkpoints.Checkpoints(None, built.saver, built.finite)
    return loop.Trainer(sess, built, None, saved, [], per_epoch, 1, None, 0, steps_per_run)


def _time_the_loop(trainer, steps, repeats):
    """Median seconds of `steps` steps of the real loop (`Trainer.run_steps`: its session.runs and the
    Python of every step: the history's rows, the progress bar, the signal check), each stretch ending
    at an epoch's end as the loop's runs do; the global step keeps counting."""
    per_epoch, walls = trainer.steps_per_epoch, []
    for _ in range(repeats):
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar
            walls.append(_timed(lambda: trainer.run_steps(1, per_epoch - steps, _NoSignal())))
    return statistics.median(walls)


def bench_ours(module, args, data, steps, repeats, warmup, config, steps_per_run, profile=False):
    """Our loop: the script's graph as `loop.train` builds it, timed as `loop.Trainer` runs it."""
    started = time.perf_counter()
    args.eval_every = 0  # the sample-quality evaluation is not part of a training step
    images, labels = data
    per_epoch = len(images) // args.batch_size
    built = graphs.build(args, module.MODEL, images.shape, labels.shape, per_epoch)
    with tf.Session(graph=built.graph, config=config) as sess:
        sess.run(built.initialize)
        built.load_data(sess, images, labels)
        trainer = _trainer(sess, built, per_epoch, steps_per_run)
        trainer.run_steps(1, per_epoch - 1, _NoSignal())
        first_step = time.perf_counter() - started
        if warmup:
            trainer.run_steps(1, per_epoch - warmup, _NoSignal())
        trivial = tf.train.get_global_step(built.graph)  # a scalar read: the fixed cost of a session.run
        noop_seconds = statistics.median(_timed(lambda: sess.run(trivial)) for _ in range(50))
        median = _time_the_loop(trainer, steps, repeats)
        trainer.rows.clear()
        fetches = [built.step.train_op, built.step.metrics]
        flops = step_flops(built.graph, [built.step.train_op, *built.step.metrics.values()])
        kernels = kernel_count(sess, fetches)
        profiled = top_ops(sess, fetches) if profile else None
    return {
        "images_per_s": steps * args.batch_size / median,
        "step_seconds": median / steps,
        "build_and_first_step_s": first_step,
        "flops_per_step": flops,
        "kernels_per_step": kernels,
        "session_run_overhead_s": noop_seconds,
        **({"top_ops": profiled} if profiled else {}),
    }


def bench_host_cost(steps_per_run, steps, repeats, config):
    """Seconds of host work per training step at `steps_per_run`: the real loop (`Trainer.run_steps`,
    the while loop of gan.repeat_steps) driving a step that does next to nothing (it increments the
    global step and returns four constants), so what is left is the loop's fixed cost — the session.run
    calls, the while loop's own control ops, the fetch of the metrics and the Python of each step."""

    def build_graph(hp, dataset):
        tf.get_variable("weight", [], initializer=tf.zeros_initializer())  # a model has weights (the finite check)

        def train_step():
            step = inputs.global_step()
            metrics = {name: tf.constant(0.5) for name in history.STEP_METRICS}
            return gan.Step(tf.group(step.assign_add(1)), tf.no_op(), metrics, None)

        return gan.StepGraph(*train_step(), samples=None, grid=None, train_step=train_step)

    hp = argparse.Namespace(seed=0, eval_every=0)
    built = graphs.build(hp, gan.Model("null", build_graph, sample=None), (1, 28, 28, 1), (1,), steps)
    with tf.Session(graph=built.graph, config=config) as sess:
        sess.run(built.initialize)
        trainer = _trainer(sess, built, steps, steps_per_run)
        trainer.run_steps(1, 0, _NoSignal())  # warm-up
        trainer.rows.clear()
        return _time_the_loop(trainer, steps, repeats) / steps


def kernel_count(sess, fetches):
    """Ops one traced step executes that would be device kernels on a GPU: everything but constants,
    variable handles and reads, identities, no-ops, and what is pinned to the host."""
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    metadata = tf.RunMetadata()
    sess.run(fetches, options=options, run_metadata=metadata)
    skip = ("Const", "NoOp", "Identity", "VarHandleOp", "ReadVariableOp", "_Arg", "_Retval", "_Send", "_Recv")
    host = {op.name for op in sess.graph.get_operations() if "CPU" in op.device.upper()}
    count = 0
    for stats in metadata.step_stats.dev_stats:
        for node in stats.node_stats:
            kind = node.timeline_label.split("(")[0].split(" = ")[-1].strip()
            if node.node_name in host or kind in skip or node.node_name == "_SOURCE":
                continue
            count += 1
    return count


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
    import tempfile
    from pathlib import Path

    from common import images, preflight, runs

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
                trainer.end_epoch(epoch, epoch * per_epoch, _NoSignal(), len(trainer.rows) - per_epoch, 1.0)
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


def classifier_flops():
    """FLOPs of the evaluation classifier's forward pass on one image."""
    from common import classifier

    with tf.Graph().as_default() as graph:
        logits, features = classifier.network(tf.placeholder(tf.float32, [1, 28, 28, 1]), training=False)
        return step_flops(graph, [logits, features])


def _classic_style_graph(script, module, args):
    """The same networks, wired as the classic scripts wire them: placeholders for the real batch and the
    noise, and a D optimizer and a G optimizer run by separate session.run calls."""
    b = args.batch_size
    x = tf.placeholder(tf.float32, [b, 28, 28, 1])
    z = tf.placeholder(tf.float32, [b, args.z_dim])
    y = tf.placeholder(tf.int32, [b])
    seed = tf.constant([0, 1], tf.int64)
    if script == "gan_fc":
        fake, d_real = module.generator(z, args), module.discriminator(x, args)
        d_fake = module.discriminator(fake, args)
    elif script == "gan_dcgan":
        fake, d_real = module.generator(z, args, training=True), module.discriminator(x, args, seed)
        d_fake = module.discriminator(fake, args, seed + 1)
    else:
        fake, d_real = module.generator(z, y, args, training=True), module.discriminator(x, y, args)
        d_fake = module.discriminator(fake, y, args)
    bn_updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="generator")
    d_loss = gan.bce(d_real, 1.0) + gan.bce(d_fake, 0.0)
    g_loss = gan.bce(d_fake, 1.0)
    d_step = tf.train.AdamOptimizer(args.lr, beta1=args.beta1).minimize(d_loss, var_list=ops.trainable_variables("discriminator"))
    with tf.control_dependencies(bn_updates):
        g_step = tf.train.AdamOptimizer(args.lr, beta1=args.beta1).minimize(g_loss, var_list=ops.trainable_variables("generator"))
    return x, z, y, d_step, d_loss, g_step, g_loss


def bench_classic_style(script, module, args, data, steps, repeats, warmup, config):
    rng = np.random.default_rng(0)
    images, labels = data
    with tf.Graph().as_default():
        x, z, y, d_step, d_loss, g_step, g_loss = _classic_style_graph(script, module, args)
        init = tf.global_variables_initializer()
        with tf.Session(config=config) as sess:
            sess.run(init)

            def step():
                idx = rng.integers(0, len(images), args.batch_size)
                feed = {x: images[idx], z: rng.standard_normal((args.batch_size, args.z_dim), dtype=np.float32), y: labels[idx]}
                sess.run([d_step, d_loss], feed)
                feed[z] = rng.standard_normal((args.batch_size, args.z_dim), dtype=np.float32)
                sess.run([g_step, g_loss], feed)

            for _ in range(warmup + 1):
                step()
            walls = [_timed(lambda: [step() for _ in range(steps)]) for _ in range(repeats)]
            graph = tf.get_default_graph()  # two session.runs: each runs G forward, so count each alone
            flops = step_flops(graph, [d_step, d_loss]) + step_flops(graph, [g_step, g_loss])
    return {"images_per_s": steps * args.batch_size / statistics.median(walls), "flops_per_step": flops}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine_line(config):
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = (
        f"intra-op {config.intra_op_parallelism_threads or 'auto'}, inter-op {config.inter_op_parallelism_threads or 'auto'}"
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "tensorflow": tf.VERSION,
        "threads": threads,
        "python": platform.python_version(),
    }


MAX_HISTORY = 1000  # epochs of history --epoch-end builds in memory and on disk (200 is 94,000 rows)


def _histories(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: whole numbers separated by commas, e.g. 30,200") from None
    if any(v < 0 or v > MAX_HISTORY for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: epochs of history from 0 to {MAX_HISTORY}")
    return [v for v in values if v > 0]


def main(argv=None):
    parser = arguments.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--steps", type=arguments.positive_int, default=32, help="timed steps per repeat")
    parser.add_argument(
        "--steps-per-run",
        type=arguments.positive_int,
        default=flags.STEPS_PER_RUN,
        help="as the scripts' flag (default: theirs on a GPU)",
    )
    parser.add_argument(
        "--epoch-end",
        type=_histories,
        default=[30, 200],
        metavar="H1,H2",
        help="time the end of an epoch after these epochs of history (default 30,200; 0: not at all)",
    )
    parser.add_argument("--repeats", type=arguments.positive_int, default=3)
    parser.add_argument("--warmup", type=arguments.nonnegative_int, default=3)
    parser.add_argument("--batch-size", type=arguments.positive_int, help="default: each script's own")
    parser.add_argument(
        "--flags",
        default="",
        metavar="'--NAME VALUE …'",
        help="hyperparameter flags for the model, e.g. the tutorial's D: --flags='--no-d-batch-norm --dropout 0.3' "
        "(the scripts' run flags, such as --steps-per-run, are bench.py's own)",
    )
    parser.add_argument("--peak-size", type=arguments.positive_int, default=4096, help="matmul size for the peak")
    parser.add_argument("--intra-op-threads", type=arguments.nonnegative_int, default=0)
    parser.add_argument("--inter-op-threads", type=arguments.nonnegative_int, default=0)
    parser.add_argument("--no-classic-style", action="store_true", help="skip the classic-style comparison")
    parser.add_argument("--profile", action="store_true", help="also trace one step and print its costliest op types")
    parser.add_argument("--json", type=arguments.path, help="also write the results here")
    flags.add_device_flag(parser)
    parser.add_argument(
        "--startup",
        action="store_true",
        help="time the start-up of the scripts instead (see bench_startup): --help, a bad flag, a rerun, a first step",
    )
    parser.add_argument(
        "--repo",
        type=arguments.path,
        default=Path(__file__).resolve().parent,
        help="with --startup: the checkout whose scripts are timed (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        parser.error(f"--json {args.json}: name a file in an existing folder")
    if args.batch_size is not None and args.batch_size > MNIST_TRAIN:
        parser.error(f"--batch-size {args.batch_size}: at most {MNIST_TRAIN}, the images of an epoch")
    if args.startup and not (args.repo / "gan_fc.py").is_file():
        parser.error(f"--repo {args.repo}: no gan_fc.py there; name a checkout of this project")
    with errors.exit_codes("bench.py"):
        if args.startup:
            results = {"startup": bench_startup(args.repo, args.repeats)}
            if args.json is not None:
                files.write_json(args.json, results)
            return results
        return _bench(args)


def bench_startup(repo, repeats, log=print):
    """Seconds from launch to a command's first useful act, each the median of `repeats`, measured round
    by round so that a busy machine slows every command alike; and each as a ratio to a bare `import
    tensorflow` of the same rounds. The commands are `repo`'s scripts (another checkout gives a
    before/after in one sitting), in a scratch folder:
    - `--help`, and a bad flag (`--lr -1`);
    - rerunning a finished run (a two-step FC run, trained first, not timed);
    - a fresh `gan_fc.py` run to its first training step (stopped there by the GAN_FAULT test hook);
    - `evaluate.py` on the finished run to its first sampled chunk (the same hook, at the chunk)."""
    import subprocess
    import tempfile

    repo = Path(repo).resolve()
    python = sys.executable

    def timed(argv, env=None, expect=(0,)):
        start = time.perf_counter()
        done = subprocess.run([python, *argv], cwd=repo, env={**os.environ, **(env or {})}, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in expect:
            raise errors.TrainingFailed(
                f"start-up bench: {' '.join(argv[:3])} exited {done.returncode}: {done.stderr.strip()[-300:]}"
            )
        return seconds

    with tempfile.TemporaryDirectory() as folder:
        done_run = str(Path(folder) / "finished")
        finished = ["gan_fc.py", "--out-dir", done_run, "--epochs", "1", "--steps-per-epoch", "2"]
        timed(finished)  # trains it (and fills any cache a first launch fills), not timed
        commands = {
            "import tensorflow": (["-c", "import tensorflow"], None, (0,)),
            "gan_fc.py --help": (["gan_fc.py", "--help"], None, (0,)),
            "a bad flag": (["gan_fc.py", "--lr", "-1"], None, (2,)),
            "rerun of a finished run": (finished, None, (0,)),
            "fresh FC run to its first step": (None, {"GAN_FAULT": "sigkill@1"}, (-9,)),
            "evaluate.py to its first images": (
                ["evaluate.py", done_run, "--samples", "1000"],
                {"GAN_FAULT": "sigint-generate@0"},
                (130,),
            ),
        }
        times = {name: [] for name in commands}
        for i in range(repeats):
            for name, (argv, env, expect) in commands.items():
                if argv is None:
                    argv = ["gan_fc.py", "--out-dir", str(Path(folder) / f"fresh{i}"), "--epochs", "1"]
                times[name].append(timed(argv, env, expect))
    medians = {name: statistics.median(t) for name, t in times.items()}
    bare = medians["import tensorflow"]
    log(f"start-up ({repo.name}, median of {repeats}; ratio to a bare import tensorflow, {bare:.2f} s):")
    for name, seconds in medians.items():
        extra = f"  = import + {seconds - bare:+.2f} s" if name != "import tensorflow" else ""
        log(f"  {name:34s} {seconds:6.2f} s  ×{seconds / bare:.2f}{extra}")
    return {
        "repo": str(repo),
        "repeats": repeats,
        "median_s": medians,
        "ratio_to_import": {k: v / bare for k, v in medians.items()},
    }


def frechet_flops(samples, dim=1024):
    """FLOPs of quality.FrechetToReference: two [samples, dim] × [dim, dim] products and the reduction
    of a dim×dim matrix to tridiagonal form, the bulk of its eigenvalues."""
    return 4 * samples * dim**2 + 4 * dim**3 // 3


# A projected GPU: what "a current datacenter GPU" is taken to be. Estimates, printed with the figures.
GPU_PEAK_TFLOPS = 156.0  # NVIDIA A100, TF32 tensor cores (TensorFlow's default for float32 convolutions and matmuls)
GPU_EFFICIENCY = 0.3  # the share of that peak small convolutions (batch 100–128, 7×7–28×28 maps) reach
GPU_LAUNCH_S = 5e-6  # host cost of launching one kernel (CUDA launch plus TensorFlow's executor), serial with the GPU
GPU_EIGH_S = 0.02  # a 1024×1024 float64 eigendecomposition (cuSOLVER), latency-bound: its FLOPs say too little


def gpu_projection(row, per_epoch):
    """A GPU epoch from this machine's counts: each step's FLOPs at GPU_EFFICIENCY of GPU_PEAK_TFLOPS
    plus its kernels at GPU_LAUNCH_S each, the loop's host cost per step as measured here, and the
    epoch's end: its host work as measured here, its sampling, classifier and Fréchet FLOPs on the GPU
    and GPU_EIGH_S for the Fréchet distance's eigenvalues."""
    rate = GPU_PEAK_TFLOPS * 1e12 * GPU_EFFICIENCY
    step = row["flops_per_step"] / rate + row["kernels_per_step"] * GPU_LAUNCH_S
    end = row.get("epoch_end", {}).get("30_eval")
    end_host, end_device = (end["host"], end["device_flops"] / rate + GPU_EIGH_S) if end else (0.0, 0.0)
    outside = per_epoch * row["host_s_per_step"] + end_host + end_device
    epoch = per_epoch * step + outside
    return {"step_s": step, "epoch_s": epoch, "share_outside_step": outside / epoch}


def _bench(args):
    names = list(MODELS) if args.model == "all" else [args.model]
    models = {name: _args(MODELS[name], args.batch_size, args.flags.split()) for name in names}  # bad flags: before any work
    started = time.perf_counter()
    tfcompat.load()
    import_seconds = time.perf_counter() - started
    where = device.choose(args.device)
    config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    machine = {**machine_line(config), "device": where}
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, device {machine['device']}, TF {machine['tensorflow']}, "
        f"threads {machine['threads']}; import {import_seconds:.1f} s"
    )
    peak = matmul_peak(args.peak_size, 5, config)
    print(f"matmul peak ({args.peak_size}×{args.peak_size} float32): {peak:.1f} GFLOP/s")
    host = {k: bench_host_cost(k, 32 * k, args.repeats, config) for k in sorted({1, args.steps_per_run})}
    print(
        "host cost per step (session.run, fetch, loop Python): " + ", ".join(f"K={k} {s * 1e6:.1f} µs" for k, s in host.items())
    )
    print(
        f"projected GPU: {GPU_PEAK_TFLOPS:.0f} TFLOP/s peak (A100, TF32) at {GPU_EFFICIENCY:.0%} efficiency, "
        f"{GPU_LAUNCH_S * 1e6:.0f} µs per kernel launch, {GPU_EIGH_S * 1e3:.0f} ms for the FD's eigenvalues, "
        "the host costs measured here (estimates)"
    )
    data = _synthetic_mnist(np.random.default_rng(0))
    results = {
        "machine": machine,
        "import_s": import_seconds,
        "matmul_peak_gflops": peak,
        "steps_per_run": args.steps_per_run,
        "host_s_per_step": {str(k): v for k, v in host.items()},
        "gpu_assumptions": {
            "peak_tflops": GPU_PEAK_TFLOPS,
            "efficiency": GPU_EFFICIENCY,
            "launch_s": GPU_LAUNCH_S,
            "eigh_s": GPU_EIGH_S,
        },
        "models": {},
    }
    from common import quality

    reference = quality.Reference("mnist", log=lambda *_: None) if args.epoch_end else None
    for name, (module, hp) in models.items():
        script = MODELS[name]
        per_epoch = MNIST_TRAIN // hp.batch_size
        ours = bench_ours(module, hp, data, args.steps, args.repeats, args.warmup, config, args.steps_per_run, args.profile)
        gflops = ours["flops_per_step"] / ours["step_seconds"] / 1e9
        row = {
            "batch_size": hp.batch_size,
            **ours,
            "gflops": gflops,
            "utilization": gflops / peak,
            "host_s_per_step": host[args.steps_per_run],
            "epoch_end": {},
        }
        for history_epochs in args.epoch_end:
            for evaluated in (None, reference):
                _, fresh = _args(MODELS[name], args.batch_size, args.flags.split())
                measured = bench_epoch_end(module, fresh, history_epochs, evaluated, config, args.repeats)
                row["epoch_end"][f"{history_epochs}_{'no_eval' if evaluated is None else 'eval'}"] = measured
        end = row["epoch_end"].get(f"{args.epoch_end[0]}_eval", {"total": 0.0}) if args.epoch_end else {"total": 0.0}
        # As a real epoch: its steps through the real loop, then its end with the in-training evaluation.
        row["seconds_per_epoch"] = per_epoch * ours["step_seconds"] + end["total"]
        row["share_outside_step"] = (per_epoch * row["host_s_per_step"] + end["total"]) / row["seconds_per_epoch"]
        row["gpu_projection"] = gpu_projection(row, per_epoch)
        row["peak_rss_mib"] = peak_rss_mib()
        if not args.no_classic_style:
            classic = bench_classic_style(script, module, hp, data, args.steps, args.repeats, args.warmup, config)
            row["classic_style_images_per_s"] = classic["images_per_s"]
            row["speedup_over_classic_style"] = ours["images_per_s"] / classic["images_per_s"]
            # The classic loop's extra work (a second G forward on fresh noise) bounds what any loop can
            # gain on a machine where the step is compute-bound: this ratio is that bound.
            row["classic_style_flop_ratio"] = classic["flops_per_step"] / ours["flops_per_step"]
        results["models"][name] = row
        _print_row(name, hp, row)
    if args.json:
        files.write_json(args.json, results)
    return results


def _print_row(name, hp, row):
    classic_part = (
        f"  classic-style {row['classic_style_images_per_s']:7.0f} img/s → ×{row['speedup_over_classic_style']:.2f}"
        f" (it does ×{row['classic_style_flop_ratio']:.2f} the FLOPs)"
        if "classic_style_images_per_s" in row
        else ""
    )
    print(
        f"{name:7s} batch {hp.batch_size:4d}  {row['images_per_s']:7.0f} img/s  {row['seconds_per_epoch']:7.1f} s/epoch  "
        f"{row['flops_per_step'] / hp.batch_size / 1e6:7.1f} MFLOP/img  {row['gflops']:6.1f} GFLOP/s = {row['utilization']:5.1%} of peak  "
        f"outside step {row['share_outside_step']:5.1%}  start-up {row['build_and_first_step_s']:.1f} s"
        f"{classic_part}  peak RSS {row['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    ends = row["epoch_end"]
    if ends:
        histories = sorted({int(key.split("_")[0]) for key in ends})
        parts = []
        for evaluate in ("no_eval", "eval"):
            hosts = " / ".join(f"{ends[f'{h}_{evaluate}']['host']:.3f}" for h in histories)
            devices = " / ".join(f"{ends[f'{h}_{evaluate}']['device']:.2f}" for h in histories)
            drawn = " / ".join(f"{ends[f'{h}_{evaluate}']['background']:.2f}" for h in histories)
            parts.append(
                f"{'with' if evaluate == 'eval' else 'without'} evaluation {hosts} s "
                f"(+ {devices} s of device work here; {drawn} s in the background threads)"
            )
        print(f"        epoch end, host work at {' / '.join(map(str, histories))} epochs of history: {'; '.join(parts)}")
    gpu = row["gpu_projection"]
    print(
        f"        projected GPU: {gpu['step_s'] * 1e3:.2f} ms/step ({row['flops_per_step'] / 1e9:.1f} GFLOP, "
        f"{row['kernels_per_step']} kernels), {gpu['epoch_s']:.2f} s/epoch, {gpu['share_outside_step']:.0%} of it outside the step"
    )
    for kind, ms, share in row.get("top_ops", []):
        print(f"    {kind:32s} {ms:8.1f} ms  {share:5.1%}")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
