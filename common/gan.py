"""The GAN vocabulary the scripts' graphs are written in: the loss, the per-step metrics, the weight
average of G, and the two records that hand a script's model to the shared loop (`Model`, `StepGraph`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from common import inputs, ops
from common.tfcompat import tf, tf2

STATS_SAMPLES = 1000  # images whose batch statistics become the weight average's batch-norm statistics


@dataclass(frozen=True)
class Model:
    """What a script hands to the loop, `evaluate.py` and `bench.py`.

    `sample(hp, count, seed, labels, training=False)` draws `count` images from G's weight average;
    every script takes `labels` (int32 [count]), and only a `conditional` one uses them — the one place
    where a model says whether it is conditional (TF-GAN's networks take an unused conditioning the same
    way). `build_graph(hp, dataset)` returns the `StepGraph` of one training step.
    """

    script: str  # "gan_dcgan": the file name, the run folders' parent, the messages' prefix
    build_graph: Callable
    sample: Callable
    conditional: bool = False


@dataclass
class StepGraph:
    """What the loop needs from a script's training graph."""

    train_op: tf.Operation  # one whole step: D update, then G update, then global step + 1
    d_step: tf.Operation  # the D update alone (the tests check it leaves G untouched)
    metrics: dict  # history.STEP_METRICS -> scalar tensors, recorded every step
    refresh: tf.Operation  # measures the weight average's batch-norm statistics (see average_generator)
    samples: tf.Tensor  # the fixed-noise grid, generator in inference mode
    grid: tuple  # (rows, cols) of the sample grid
    train_step: Callable  # () -> Step: builds one more training step (see repeat_steps)


class Step(NamedTuple):
    """One training step as a script's `train_step` builds it."""

    train_op: tf.Operation
    d_step: tf.Operation
    metrics: dict
    refresh: tf.Operation  # None when the step is built again (the weight average exists by then)


def bce(logits, target):
    """Mean sigmoid cross-entropy against a constant target (1 real, 0 fake, 1 − ε when smoothed)."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target), logits=logits))


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy against integer class labels (the evaluation classifier's loss, the
    cDCGAN's auxiliary classifier's)."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def step_metrics(d_loss, g_loss, d_real_logits, d_fake_logits):
    """The per-step scalars: both losses, and D's mean belief that reals and fakes are real."""
    return dict(
        d_loss=d_loss,
        g_loss=g_loss,
        d_real=tf.reduce_mean(tf.sigmoid(d_real_logits)),
        d_fake=tf.reduce_mean(tf.sigmoid(d_fake_logits)),
    )


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
    copies = {v.name: v for v in tf.global_variables() if v.name.startswith(ops.AVERAGE + "/")}
    refresh = None  # a step built again (see repeat_steps) finds the average and its refresh built
    if not copies:
        measuring = argparse.Namespace(**{**vars(hp), "bn_momentum": 0.0})  # moving statistics := batch's
        seed = inputs.stream_seed(hp.seed, inputs.Stream.BN_STATS, 0)
        with ops.collect_updates() as updates:  # builds the copies
            sample(measuring, STATS_SAMPLES, seed, inputs.balanced_digits(STATS_SAMPLES), training=True)
        refresh = tf.group(*updates, name="refresh")
        copies = {v.name: v for v in tf.global_variables() if v.name.startswith(ops.AVERAGE + "/")}
    with tf.control_dependencies([g_update]):  # average the weights this step has just written
        t = tf.cast(step, tf.float32)
        forget = 1.0 - tf.minimum(hp.g_average, (1.0 + t) / (10.0 + t))
        updates = []
        for v in ops.trainable_variables("generator"):
            copy = copies[f"{ops.AVERAGE}/{v.name}"]
            updates.append(copy.assign_sub(forget * (copy - v)))
    return tf.group(*updates), refresh


def repeat_steps(train_step, count, names):
    """(steps done, metrics [count, len(names)]): `count` training steps (an int32 scalar tensor) in one
    `session.run`, each built by `train_step` inside a `tf.while_loop`, with each step's metrics
    `names` (NaN where no step ran).

    A session.run costs the host ~100–200 µs, a few percent of a GPU DCGAN step and a third of a GPU
    FC step; K steps per run divide that by K. The loop ends early after a step whose metrics are not
    finite, so training still stops at the step that diverged. Its iterations run one after the other:
    each step reads the weights the previous one wrote, and the global step it incremented.
    """

    def more(i, finite, _):
        return tf.logical_and(i < count, finite)

    def one_step(i, _, recorded):
        step = train_step()
        values = tf.stack([tf.cast(step.metrics[name], tf.float32) for name in names])
        with tf.control_dependencies([step.train_op]):
            recorded = tf.tensor_scatter_nd_update(recorded, [[i]], [values])
            return i + 1, tf.reduce_all(tf.is_finite(values)), recorded

    start = (tf.constant(0), tf.constant(True), tf.fill(tf.stack([count, len(names)]), float("nan")))
    done, _, recorded = tf.while_loop(more, one_step, start, parallel_iterations=1, back_prop=False, name="steps")
    return done, recorded


def noise_parts(count, seed, hp, stddev=1.0):
    """N(0, stddev² I), or with Z_MODES a mixture — mode k, drawn uniformly, shifts axis k of z by
    Z_MODE_DISTANCE (gan_dcgan.py's noise() says why) — as (each z's mode centre, None without modes;
    its Gaussian part): the two parts that `--walk` and `--modes` treat apart (common/walks.py)."""
    z = tf2.random.stateless_normal(tf.stack([count, hp.z_dim]), seed, stddev=stddev)
    if not hp.z_modes:
        return None, z
    mode = tf2.random.stateless_uniform(tf.stack([count]), inputs.fold_in(seed, 1), maxval=hp.z_modes, dtype=tf.int32)
    return mode_centres(hp, mode), z


def mode_centres(hp, modes=None):
    """The centre of each mode in `modes` (all Z_MODES in turn when None): mode k's is Z_MODE_DISTANCE
    out on axis k of z."""
    return tf.one_hot(tf.range(hp.z_modes) if modes is None else modes, hp.z_dim, on_value=hp.z_mode_distance)
