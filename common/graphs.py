"""The training graph: a script's GAN around the data set, with what the loop runs, checks and saves.

The script's `build_graph` says how its GAN learns and draws; what every script needs around
that is built here, once, for the loop and bench.py alike: the training set in the graph, several
steps in one session.run, the evaluation's samples, the check that the variables are finite before a
save, and the copy a checkpoint is written from while training goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common import checkpoints, gan, history, inputs
from common.tfcompat import tf


@dataclass
class TrainingGraph:
    """A script's training graph with what the loop adds around it."""

    graph: tf.Graph
    step: gan.StepGraph
    saver: tf.train.Saver
    finite: tf.Tensor  # all variables finite: checked before every save
    snapshot: checkpoints.Snapshot  # the checkpoint is written from this copy while training goes on
    checkpoint_bytes: int
    initialize: tf.Operation  # the variables' initial values (the data set aside)
    load_data: Callable  # (sess, images, labels): the training set into the graph, once per session
    eval_images: tf.Tensor  # history.EVAL_SAMPLES images from the weight average (balanced digits), or None
    steps_in_run: tf.Tensor  # int32 placeholder: how many steps the next run of `steps` does
    steps: tuple  # (steps done, metrics [steps_in_run, len(STEP_METRICS)]): see gan.repeat_steps


def build(args, model, image_shape, label_shape, steps_per_epoch):
    """The training graph of `model` around a data set of these shapes (see inputs.dataset_in_graph)."""
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(args.seed)
        dataset, load_data = inputs.dataset_in_graph(image_shape, label_shape, steps_per_epoch)
        step = model.build_graph(args, dataset)
        steps_in_run = tf.placeholder(tf.int32, [], name="steps_in_run")
        steps = gan.repeat_steps(step.train_step, steps_in_run, history.STEP_METRICS)
        eval_images = None
        if args.eval_every:
            seed = inputs.stream_seed(args.seed, inputs.Stream.EVAL, 0)
            count = history.EVAL_SAMPLES
            eval_images = model.sample(args, count, seed, inputs.balanced_digits(count))
        saved = tf.global_variables()
        floats = [v for v in saved if v.dtype.base_dtype.is_floating]
        finite = tf.reduce_all(tf.stack([tf.reduce_all(tf.is_finite(v)) for v in floats]))
        initialize = tf.global_variables_initializer()
        saver = tf.train.Saver(max_to_keep=checkpoints.KEEP, save_relative_paths=True)
        snapshot = checkpoints.snapshot_of(saved)
    graph.finalize()
    checkpoint_bytes = sum(v.shape.num_elements() * v.dtype.base_dtype.size for v in saved)
    return TrainingGraph(
        graph, step, saver, finite, snapshot, checkpoint_bytes, initialize, load_data, eval_images, steps_in_run, steps
    )
