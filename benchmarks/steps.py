"""Training-step throughput as the scripts really train: the script's own graph (`graphs.build`) driven by
the real loop (`loop.Trainer.run_steps`), so that images per second cannot drift from a real run's; and
the loop's own fixed cost per step, measured on a step that does next to nothing."""

import argparse
import contextlib
import io
import statistics
import time

import numpy as np

from benchmarks import MNIST_TRAIN, NoSignal, counts, timed, xla
from common import checkpoints, gan, graphs, history, inputs, loop, ops
from common.tfcompat import tf


def synthetic_mnist(rng):
    """60,000 random images and labels: the speed of a step does not depend on what they show."""
    images = rng.uniform(-1, 1, (MNIST_TRAIN, 28, 28, 1)).astype(np.float32)
    return images, rng.integers(0, 10, MNIST_TRAIN).astype(np.int32)


def step_trainer(sess, built, per_epoch, steps_per_run):
    """A Trainer that only runs steps: no run folder, no evaluation, and checkpoints that are never
    saved (the loop still asks them each step whether a save failed)."""
    saved = checkpoints.Checkpoints(None, built.saver, built.finite)
    return loop.Trainer(sess, built, None, saved, [], per_epoch, 1, None, 0, steps_per_run)


def time_the_loop(trainer, steps, repeats):
    """Median seconds of `steps` steps of the real loop (`Trainer.run_steps`: its session.runs and the
    Python of every step: the history's rows, the progress bar, the signal check), each stretch ending
    at an epoch's end as the loop's runs do; the global step keeps counting."""
    per_epoch, walls = trainer.steps_per_epoch, []
    for _ in range(repeats):
        with contextlib.redirect_stderr(io.StringIO()):  # the progress bar
            walls.append(timed(lambda: trainer.run_steps(1, per_epoch - steps, NoSignal())))
    return statistics.median(walls)


def bench_ours(module, args, data, steps, repeats, warmup, config, steps_per_run, profile=False, compiled=False):
    """Our loop: the script's graph as `loop.train` builds it, timed as `loop.Trainer` runs it. With
    `compiled`, `config` clusters the graph for XLA (xla.py), whose modules then give the kernel count."""
    modules_before = set(xla.compiled_modules()) if compiled else set()
    started = time.perf_counter()
    args.eval_every = 0  # the sample-quality evaluation is not part of a training step
    images, labels = data
    per_epoch = len(images) // args.batch_size
    built = graphs.build(args, module.MODEL, images.shape, labels.shape, per_epoch)
    with tf.Session(graph=built.graph, config=config) as sess:
        sess.run(built.initialize)
        built.load_data(sess, images, labels)
        trainer = step_trainer(sess, built, per_epoch, steps_per_run)
        trainer.run_steps(1, per_epoch - 1, NoSignal())
        first_step = time.perf_counter() - started
        if warmup:
            trainer.run_steps(1, per_epoch - warmup, NoSignal())
        trivial = tf.train.get_global_step(built.graph)  # a scalar read: the fixed cost of a session.run
        noop_seconds = statistics.median(timed(lambda: sess.run(trivial)) for _ in range(50))
        median = time_the_loop(trainer, steps, repeats)
        trainer.rows.clear()
        fetches = [built.step.train_op, built.step.metrics]
        flops = counts.step_flops(built.graph, [built.step.train_op, *built.step.metrics.values()])
        clusters = None
        if compiled:  # the step on its own (what is traced) has clusters of its own, compiled lazily: run it first
            for _ in range(3):
                sess.run(fetches)
            clusters = xla.cluster_kernels({k: v for k, v in xla.compiled_modules().items() if k not in modules_before})
        as_on_gpu = not compiled and ops.on_cpu()  # then the GPU projection counts the graph a GPU would run
        kernels = None if as_on_gpu else counts.kernel_count(sess, fetches, clusters)
        profiled = counts.top_ops(sess, fetches) if profile else None
    if as_on_gpu:
        kernels = gpu_kernel_count(module, args, data, per_epoch, config)
    return {
        "images_per_s": steps * args.batch_size / median,
        "step_seconds": median / steps,
        "build_and_first_step_s": first_step,
        "flops_per_step": flops,
        "kernels_per_step": kernels,
        "session_run_overhead_s": noop_seconds,
        **({"top_ops": profiled} if profiled else {}),
    }


def gpu_kernel_count(module, args, data, per_epoch, config):
    """Kernels of one training step of the graph built as on a GPU (ops.gpu_layers): on a CPU some
    layers turn their kernels round, ops that a GPU's graph does not have."""
    images, labels = data
    with ops.gpu_layers():
        built = graphs.build(args, module.MODEL, images.shape, labels.shape, per_epoch)
    with tf.Session(graph=built.graph, config=config) as sess:
        sess.run(built.initialize)
        built.load_data(sess, images, labels)
        return counts.kernel_count(sess, [built.step.train_op, built.step.metrics], None)


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
        trainer = step_trainer(sess, built, steps, steps_per_run)
        trainer.run_steps(1, 0, NoSignal())  # warm-up
        trainer.rows.clear()
        return time_the_loop(trainer, steps, repeats) / steps
