"""What a training step reads: the data set held in the graph, and the random streams.

Exact resume rests on one rule: nothing random depends on how many times the program has started.
Every random draw is a stateless op keyed by (seed, stream, counter) — the data order by the epoch, the
noise by the global step — so step 1234 sees the same batch and the same noise whether the run got
there in one go or restored step 1000 from a checkpoint.

On a GPU machine the integer bookkeeping of a step — the global step, the seeds derived from it, the
data order, the labels — stays on the host (`on_host`), so a step sends the device only what it
computes with and crosses back only for what the loop reads.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from common.tfcompat import tf, tf2


class Stream(enum.IntEnum):
    """Each kind of random draw has its own stream, so adding one never shifts another. The numbers
    are part of every recorded run: changing one changes what a resumed run draws."""

    DATA_ORDER = 1  # the permutation of each epoch
    NOISE = 2  # G's input in each training step
    DROPOUT_MASKS = 3  # D's dropout masks in each training step
    FAKE_LABELS = 4  # the digits the conditional G is asked for in each training step
    FIXED_NOISE = 5  # the per-epoch sample grid: the same noise every epoch
    GENERATE = 6  # --generate and evaluate.py, one draw per chunk
    EVAL = 7  # the in-training evaluation's samples
    BN_STATS = 8  # the noise on which the weight average's batch-norm statistics are measured


def on_host():
    """The device scope of a step's integer bookkeeping. A stateless random op reads its seed in host
    memory, and the data order (RandomIndexShuffle, its int64 PadV2) and the int32 label variable have
    no GPU kernel: left to the placer, the seeds would be computed on the GPU and copied back, and the
    permutation would bounce device → host → device, inside every step. A CPU device always exists, so
    the scope is as valid on a machine without a GPU."""
    return tf.device("/cpu:0")


def global_step():
    """The step counter, a host variable: everything derived from it per step (seeds, the batch's
    positions) is computed on the host without first copying the step back from the device."""
    with on_host():
        return tf.train.get_or_create_global_step()


def stream_seed(seed, stream, counter):
    """The [2] int64 seed of a stateless random op: draw number `counter` of stream `stream`. A
    `counter` computed from the step should be computed inside `on_host()` too."""
    with on_host():  # the seed's reader takes it in host memory
        counter = tf.cast(counter, tf.int64)
        # A stream owns 2^40 counters (a step count no run reaches) before it would run into the next one.
        return tf.stack([tf.constant(seed, tf.int64), tf.constant(int(stream) << 40, tf.int64) + counter])


def fold_in(seed, data):
    """A seed derived from `seed` for draw `data` (e.g. one dropout layer's masks), on the host where its
    reader takes it."""
    with on_host():
        return tf2.random.experimental.stateless_fold_in(seed, data)


def balanced_digits(count):
    """`count` labels cycling through the ten digits: what the conditional G is asked for whenever the
    caller has no labels of its own (evaluation, batch-norm statistics); the other models ignore them."""
    return tf.range(count) % 10


@dataclass
class Dataset:
    """The training set, held in graph variables so that batches never pass through Python."""

    images: tf.Variable  # float32 [N, 28, 28, 1] in [-1, 1]
    labels: tf.Variable  # int32 [N]
    size: int
    steps_per_epoch: int


def dataset_in_graph(image_shape, label_shape, steps_per_epoch):
    """(Dataset, load): variables shaped for the training set, and `load(sess, images, labels)`, which
    copies the arrays into them once (a feed of the initializer, so the graph holds no 188 MB constant)."""
    images_in = tf.placeholder(tf.float32, image_shape)
    labels_in = tf.placeholder(tf.int32, label_shape)
    local = dict(trainable=False, collections=[tf.GraphKeys.LOCAL_VARIABLES])
    images = tf.Variable(images_in, name="train_images", **local)
    with on_host():  # no GPU kernel holds an int32 variable; batch() gathers from it on the host
        labels = tf.Variable(labels_in, name="train_labels", **local)
    dataset = Dataset(
        images=images,
        labels=labels,
        size=image_shape[0],
        steps_per_epoch=steps_per_epoch,
    )
    initializer = tf.variables_initializer([dataset.images, dataset.labels])

    def load(sess, images, labels):
        sess.run(initializer, {images_in: images, labels_in: labels})

    return dataset, load


def batch(dataset, step, batch_size, seed):
    """(images, labels) of training step `step`: epoch `step // steps_per_epoch` visits the examples in
    its own stateless permutation, and the step takes the next `batch_size` of them. The indices and
    the labels are drawn on the host (see on_host); the images are gathered where they are held, so
    the index vector is all that crosses to the device (and the labels, when a model uses them)."""
    with on_host():
        step = tf.cast(step, tf.int64)
        epoch = step // dataset.steps_per_epoch
        first = (step % dataset.steps_per_epoch) * batch_size
        positions = first + tf.range(batch_size, dtype=tf.int64)
        index = tf2.random.experimental.index_shuffle(positions, stream_seed(seed, Stream.DATA_ORDER, epoch), dataset.size - 1)
    # Each gather runs where its variable is: the images' device, the labels' host (dataset_in_graph).
    return tf.gather(dataset.images, index), tf.gather(dataset.labels, index)
