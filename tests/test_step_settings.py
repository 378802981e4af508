"""Promises of the training graphs: cDCGAN's fake (image, label) pairs, --lr-decay, and --label-smoothing."""

import numpy as np
import pytest
from helpers import TINY, build_training_graph

import gan_cdcgan
from common import gan, inputs, ops
from common.tfcompat import tf


def build(script, extra=()):
    return build_training_graph(script, [*TINY[script], *extra])


def test_d_judges_each_fake_with_the_label_it_was_generated_from():
    """D must see (G(z, y), y): a fake paired with any other label teaches D nothing about whether the
    image shows the digit asked for. The fake batch is rebuilt from its noise and labels and judged with
    the right labels (the step's d_fake) and with each label moved to the next image (not the step's).
    Larger initial weights make D lean on the label from the start, so the two differ clearly."""
    graph, model, init, args = build("gan_cdcgan", ["--init-stddev", "0.2"])
    labels = graph.get_tensor_by_name("fake_labels:0")
    with graph.as_default():
        step = tf.train.get_global_step()
        z = gan_cdcgan.noise(args.batch_size, inputs.stream_seed(args.seed, inputs.Stream.NOISE, step), args)
        fake = gan_cdcgan.generator(z, labels, args, training=True)
        paired = tf.reduce_mean(tf.sigmoid(gan_cdcgan.discriminator(fake, labels, args)))
        shifted = tf.reduce_mean(tf.sigmoid(gan_cdcgan.discriminator(fake, tf.roll(labels, 1, 0), args)))
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for _ in range(3):
            got, want, other = sess.run([model.metrics["d_fake"], paired, shifted])
            assert got == pytest.approx(want, abs=1e-6)
            assert abs(got - other) > 1e-3  # float noise is ~1e-7
            sess.run(model.train_op)


@pytest.mark.parametrize(
    "decay, d_decay, start, factor, d_factor",
    [
        ("0.5", "0.5", "0", 0.25, 0.25),
        ("0.5", "0.5", "2", 0.5, 0.5),
        ("0.5", "0.5", "6", 1.0, 1.0),
        ("1.0", "1.0", "0", 1.0, 1.0),
        ("0.5", "1.0", "2", 0.5, 1.0),  # G's rate alone
        ("1.0", "0.5", "0", 1.0, 0.25),  # D's alone
    ],
)
def test_lr_decay_steps_the_learning_rate_down(decay, d_decay, start, factor, d_factor):
    """Adam's first update moves every weight with a nonzero gradient by the learning rate itself,
    whatever the gradient, so the largest move is the rate in force, for D and for G. At step 5 with
    --decay-steps 2, a staircase decay has applied twice (0.5² = 1/4; a smooth one would give 0.5^2.5);
    counted from --decay-start 2, once (3 steps); from 6, not yet. --lr-decay is G's, --d-lr-decay D's."""
    argv = ["--lr-decay", decay, "--d-lr-decay", d_decay, "--decay-steps", "2", "--decay-start", start]
    graph, model, init, args = build("gan_cdcgan", argv)
    with graph.as_default():
        nets = {net: [v for v in ops.trainable_variables(net) if "weights" in v.name] for net in ("discriminator", "generator")}
        set_step = tf.train.get_global_step().assign(5)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        sess.run(set_step)
        before = sess.run(nets)
        sess.run(model.train_op)  # one D update, then one G update
        after = sess.run(nets)
    for net, values in after.items():
        assert values, net
        moved = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(values, before[net], strict=True))
        rate = args.d_lr * d_factor if net == "discriminator" else args.lr * factor  # each net's own rate and decay
        assert moved == pytest.approx(rate, rel=1e-3), net  # weights are ~0.02: float32 steps are fine


@pytest.mark.parametrize("script", ["gan_fc", "gan_dcgan"])
def test_label_smoothing_lowers_only_ds_target_for_real_images(monkeypatch, script):
    """One-sided smoothing: the real target becomes 1 − ε, while the fakes' target stays 0 and G's
    stays 1 (smoothing those too would reward D for calling fakes a little real)."""
    calls = []  # (logits, target) of each loss term, in the order build_graph makes them
    real_bce = gan.bce

    def recording_bce(logits, target):
        calls.append((logits, target))
        return real_bce(logits, target)

    monkeypatch.setattr(gan, "bce", recording_bce)
    _, model, _, _ = build(script, ["--label-smoothing", "0.1"])
    real, fake = (model.metrics[name].op.inputs[0].op.inputs[0] for name in ("d_real", "d_fake"))  # mean(sigmoid(l))
    assert len(calls) == 3
    (real_logits, real_target), (fake_logits, fake_target), (g_logits, g_target) = calls
    assert real_logits is real and real_target == pytest.approx(0.9)
    assert fake_logits is fake and fake_target == 0.0
    assert g_logits is not real and g_logits is not fake and g_target == 1.0  # G's loss: the fakes judged by the updated D


def test_bce_uses_the_target_it_is_given():
    """A smoothed target only helps if the loss honours it: mean(softplus(l) − t·l), not t rounded."""
    logits = np.array([[-3.0], [-0.5], [0.0], [0.7], [4.0]], np.float32)
    with tf.Graph().as_default(), tf.Session() as sess:
        got = sess.run(gan.bce(tf.constant(logits), 0.9))
    expected = np.mean(np.logaddexp(0, logits.astype(np.float64)) - 0.9 * logits)
    assert got == pytest.approx(expected, rel=1e-6)


def test_class_loss_teaches_ds_classifier_the_real_digits_and_g_to_draw_what_it_reads_as_asked():
    """--class-loss: D's ten-way head learns the real images' digits, and G, charged for fakes the
    head reads as another digit, learns to draw what it reads as the digit asked for. Both start at
    chance (~1/10); a head trained on the wrong labels, or a G term without the asked digit, stays there."""
    graph, model, init, args = build("gan_cdcgan", ["--class-loss", "5"])
    with graph.as_default():
        images, labels = (v for v in tf.global_variables() if not v.trainable and v.shape[:1] == [64])  # the data set
        asked = tf.tile(tf.range(10), [4])
        fake = gan_cdcgan.generator(gan_cdcgan.noise(40, [1, 2], args), asked, args, training=True)

        def read_as(x, y):  # the share of images the head reads as digit y
            _, classes = gan_cdcgan.discriminator(x, y, args, classes=True)
            return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(classes, 1, output_type=tf.int32), y), tf.float32))

        read = {"real": read_as(images, labels), "fake": read_as(fake, asked)}
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        before = sess.run(read)
        for _ in range(80):
            sess.run(model.train_op)
        after = sess.run(read)
    assert max(before.values()) < 0.4
    assert after["real"] > 0.9 and after["fake"] > 0.6, (before, after)
