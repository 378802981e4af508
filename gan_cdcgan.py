"""Conditional DCGAN on MNIST: ask for a digit, get that digit. G reads the one-hot label beside its
noise; D reads it through a projection (Miyato & Koyama 2018): the label picks a second output layer
over D's features. Grown from the classic TF1 cDCGAN script (CLASSIC below: its architecture and rates,
with its two label bugs fixed: G is asked for all ten digits, and D judges each fake with the label it
was drawn for) the way the DCGAN was: G learns at 4× D's rate, and both have two 3×3 layers at 7×7.

    python gan_cdcgan.py                  # train (resumes if this configuration was trained before)
    python gan_cdcgan.py --generate 100 --label 7 --to sevens.png
    python gan_cdcgan.py --generate 1000 --to digits.npz         # 100 of each digit, labels included
    python gan_cdcgan.py --generate 8 --walk 10 --walk-digits 3,8 --to walk.png   # each row's label from 3 to 8

Every hyperparameter constant at the top of the file is also a flag (`BATCH_SIZE` -> `--batch-size`).
"""

from __future__ import annotations

from common import flags, gan, inputs, loop, ops, walks
from common.tfcompat import tf, tf2

# ------------------------------------------------------------------------------ hyperparameters
EPOCHS = 16  # on a CPU an epoch costs 0.53–0.61 of the classic networks': 16 cost what 9–10 of those do (docs/results.md)
BATCH_SIZE = 100
LR = 8e-4  # G's: 4× D's, as the DCGAN's search found best (docs/results.md; the classic script: 2e-4 for both)
D_LR = 2e-4  # D's: the DCGAN paper's
LR_DECAY = 1.0  # multiply G's rate by this every DECAY_STEPS steps (the classic script: 0.95 for both; 1.0 = off)
D_LR_DECAY = 1.0  # and D's by this
DECAY_STEPS = 500
DECAY_START = 0  # the decay's steps count from this step (0: the first, as in the classic script)
BETA1 = 0.5
Z_DIM = 100
G_FILTERS = 64  # generator widths: 2F at 7×7, then F filters (the classic script: F = 128)
D_FILTERS = 64  # discriminator widths: F then 2F filters (the classic script: F = 128)
G_7X7_LAYERS = 2  # 3×3 stride-1 transposed convolutions at 7×7, 2F filters each (the classic script: none)
D_7X7_LAYERS = 2  # 3×3 stride-1 convolutions at 7×7, 2F filters each (the classic script: none)
D_CONDITION = "projection"  # how D sees the label: "projection" (the label picks D's second output layer,
#   Miyato & Koyama 2018) or "input" (ten label planes beside the image, the classic script's)
INIT_STDDEV = 0.02  # every weight starts as N(0, this), as in the classic script and the DCGAN paper
Z_TEMPERATURE = 1.05  # samples draw z a little warmer than training's 1: a lower FD for a few wrong digits (see sample)
G_CONDITIONAL_BN = False  # each of G's batch norms scales and shifts by the digit's own values: no better (docs/results.md)
BN_MOMENTUM = 0.9  # G's batch-norm moving averages; 0.99 lags G's fast-moving statistics (docs/results.md)
G_AVERAGE = 0.999  # samples come from a moving average of G's weights with this decay (0: from G itself)
MODE_SEEKING = 0.0  # λ of the mode-seeking term (Mao et al. 2019): G's loss + λ / (image distance ÷ z distance)
#   over pairs of fakes of one digit, so that different noise draws a different style (0 = off)
CLASS_LOSS = 0.0  # λ of an auxiliary classifier (AC-GAN's, Odena et al. 2017, beside the projection): a 10-way
#   head on D's features learns the digits of real images, and G pays λ × its cross-entropy on each fake
#   against the digit asked for (0 = off)
MINIBATCH_KERNELS = 0  # D sees, through this many learned kernels, how alike its batch's images are (0: off)
MINIBATCH_BY_DIGIT = False  # with MINIBATCH_KERNELS: each image is compared with its own digit's images only
SEED = 0
HPARAMS = flags.hyperparameters(globals())  # every constant above is also a flag

CLASSES = 10

# ------------------------------------------------------------------------------ the two networks
# G: [z100 N(0,1), y10] 1×1 → dconv128 7 valid BN lrelu.2 → 2× dconv128 3s1 BN lrelu.2
#    → dconv64 5s2 BN lrelu.2 → dconv1 5s2 tanh
# D: x28 → conv64 5s2 lrelu.2 → conv128 5s2 BN lrelu.2 → 2× conv128 3s1 BN lrelu.2
#    → conv1 7 valid + ⟨V[y], features⟩ → logit   (CLASS_LOSS > 0: and dense10 of the features → ten class logits;
#    MINIBATCH_KERNELS > 0: + a linear read of how close each image's features lie to the rest of its batch)
# The classic script's (CLASSIC below): F = 128, no 3×3 layers, and D reads [x, y as ten 28×28 planes]
# instead of the projection.
CLASSIC = (
    "--lr 2e-4 --d-lr 2e-4 --g-filters 128 --d-filters 128 --g-7x7-layers 0 --d-7x7-layers 0 --d-condition input "
    "--z-temperature 1"
)


def generator(z, labels, hp, training):
    """`labels`: a digit per image, or ten weights per image, a label between digits (`--walk-digits`);
    a one-hot row of weights gives the very numbers its digit does."""
    f, init = hp.g_filters, hp.init_stddev
    y = labels if labels.dtype.is_floating else tf.one_hot(labels, CLASSES)
    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = tf.reshape(tf.concat([z, y], axis=1), [-1, 1, 1, hp.z_dim + CLASSES])
        h = ops.conv2d_transpose(h, 2 * f, 7, 1, "deconv1", padding="VALID", stddev=init)
        condition = y if hp.g_conditional_bn else None

        def bn(h, name):
            return ops.lrelu(ops.batch_norm(h, training, name, hp.bn_momentum, condition=condition), 0.2)

        h = bn(h, "bn1")
        for i in range(hp.g_7x7_layers):  # named deconv1b, deconv1c, …
            name = "1" + chr(ord("b") + i)
            h = bn(ops.conv2d_transpose(h, 2 * f, 3, 1, "deconv" + name, use_bias=False, stddev=init), "bn" + name)
        h = bn(ops.conv2d_transpose(h, f, 5, 2, "deconv2", stddev=init), "bn2")
        return tf.tanh(ops.conv2d_transpose(h, 1, 5, 2, "deconv3", stddev=init))


def discriminator(x, labels, hp, classes=False):
    """`classes`: also return the auxiliary classifier's ten logits (CLASS_LOSS), read off the same features.

    Batch norm in D runs in training mode on each call's own batch (real, fake), as in the classic script;
    D is never run in inference mode, so its moving averages are not kept up to date.

    With the projection, D's logit is a plain one (is this a digit?) plus the label's own linear read of
    the same features (is it *this* digit?): one output layer per digit over shared features, where
    the classic script's ten label planes cost D's first layer eleven input channels."""
    f, init = hp.d_filters, hp.init_stddev
    y = tf.one_hot(labels, CLASSES)
    if hp.d_condition == "input":
        x = tf.concat([x, tf.tile(tf.reshape(y, [-1, 1, 1, CLASSES]), [1, 28, 28, 1])], axis=3)
    with tf.variable_scope("discriminator", reuse=tf.AUTO_REUSE):
        h = ops.lrelu(ops.conv2d(x, f, 5, 2, "conv1", stddev=init), 0.2)
        h = ops.lrelu(ops.batch_norm(ops.conv2d(h, 2 * f, 5, 2, "conv2", stddev=init), True, "bn2"), 0.2)
        for i in range(hp.d_7x7_layers):  # named conv2b, conv2c, …
            name = "2" + chr(ord("b") + i)
            h = ops.lrelu(
                ops.batch_norm(ops.conv2d(h, 2 * f, 3, 1, "conv" + name, use_bias=False, stddev=init), True, "bn" + name), 0.2
            )
        logit = tf.reshape(ops.conv2d(h, 1, 7, 1, "conv3", padding="VALID", stddev=init), [-1, 1])
        features = tf.reshape(h, [-1, 7 * 7 * 2 * f])
        if hp.d_condition == "projection":
            logit += tf.reduce_sum(
                features * ops.dense(y, 7 * 7 * 2 * f, "projection", use_bias=False, stddev=init), 1, keepdims=True
            )
        if hp.minibatch_kernels:  # + a linear read of how close each image lies to the rest of its batch
            width = 7 * 7 * 2 * f
            groups = labels if hp.minibatch_by_digit else None
            close = ops.minibatch_closeness(
                features, hp.minibatch_kernels, "minibatch", stddev=0.05 * (512 / width) ** 0.5, groups=groups
            )
            logit += ops.dense(close, 1, "minibatch_logit", use_bias=False, stddev=init)
        if classes:
            return logit, ops.dense(features, CLASSES, "classifier", stddev=init)
        return logit


def noise(count, seed, hp, stddev=1.0):
    return tf2.random.stateless_normal(tf.stack([count, hp.z_dim]), seed, stddev=stddev)


def latent(count, seed, hp):
    """z as `sample` draws it, for `--walk` (common/walks.py): Gaussian, so a walk follows a great
    circle, not a straight line (see walks.slerp)."""
    return walks.Latent(centre=None, spread=noise(count, seed, hp, hp.z_temperature), spherical=True)


def sample(hp, count, seed, labels, training=False, z=None):
    """`count` images of the digits `labels` from fresh noise (or from `z`, a walk's), drawn by the
    average of G's weights (G_AVERAGE) with batch norm in inference mode: evaluation and `--generate`.
    (`training` measures the average's batch statistics: see gan.average_generator.)

    The noise is drawn a little warmer than in training (Z_TEMPERATURE; the DCGAN draws colder): told
    the digit, this G draws each digit's styles narrower than the data has them, and wider noise gives
    back variety. 1.05 lowers the FD from 8.8 to 7.4 for 0.05 % more wrong digits; colder draws even
    fewer wrong digits but a far higher FD (15 at 0.9: docs/results.md). `--z-temperature 1` draws
    exactly as training does."""
    if z is None:
        z = noise(count, seed, hp, 1.0 if training else hp.z_temperature)
    with ops.averaged(hp.g_average > 0):
        return generator(z, labels, hp, training)


def fixed_grid(hp):
    """10×10: row k draws digit k, and column j uses the same noise vector in every row, so a column
    shows one style held fixed across the ten digits."""
    z = tf.tile(noise(CLASSES, inputs.stream_seed(hp.seed, inputs.Stream.FIXED_NOISE, 0), hp, hp.z_temperature), [CLASSES, 1])
    labels = tf.repeat(tf.range(CLASSES), CLASSES)  # 0 ×10, 1 ×10, …: row by row
    with ops.averaged(hp.g_average > 0):
        return generator(z, labels, hp, training=False), labels


# ------------------------------------------------------------------------------ losses, optimizers, step
def mode_seeking_penalty(fake, z, pairs):
    """1 / (mean |G(z1) − G(z2)| ÷ mean |z1 − z2|) over the pairs (fake i, fake i + pairs): large when
    two noise vectors draw nearly the same image. Told the digit, G can afford to ignore much of its
    noise and draw each digit's styles narrower than the data has them; this term makes that cost."""
    images = tf.reduce_mean(tf.abs(fake[:pairs] - fake[pairs : 2 * pairs]))
    noises = tf.reduce_mean(tf.abs(z[:pairs] - z[pairs : 2 * pairs]))
    return 1.0 / (images / noises + 1e-5)


def build_graph(hp, dataset):
    """The two optimizers, the weight average, the grid, and `train_step`, built once on its own and
    once more inside the loop that runs several steps per session.run (gan.repeat_steps)."""

    def decayed(rate, decay):
        """Called at each step's update, so it reads that step's global step (inside the loop too): a
        staircase counted from DECAY_START, so the rates can stay whole until the last epochs."""
        return lambda: tf.train.exponential_decay(
            rate, tf.maximum(inputs.global_step() - hp.decay_start, 0), hp.decay_steps, decay, staircase=True
        )

    d_opt = tf.train.AdamOptimizer(decayed(hp.d_lr, hp.d_lr_decay), beta1=hp.beta1, name="d_adam")
    g_opt = tf.train.AdamOptimizer(decayed(hp.lr, hp.lr_decay), beta1=hp.beta1, name="g_adam")

    def train_step():
        """One training step as one op: a D update on real (image, label) pairs and fake pairs — each
        fake with the label it was generated from — then a G update against the freshly updated D."""
        step = inputs.global_step()
        real, real_labels = inputs.batch(dataset, step, hp.batch_size, hp.seed)
        z = noise(hp.batch_size, inputs.stream_seed(hp.seed, inputs.Stream.NOISE, step), hp)
        # All ten digits (the classic script's randint(0, 9) never asked for a 9).
        fake_labels = tf2.random.stateless_uniform(
            [hp.batch_size],
            inputs.stream_seed(hp.seed, inputs.Stream.FAKE_LABELS, step),
            minval=0,
            maxval=CLASSES,
            dtype=tf.int32,
            name="fake_labels",
        )
        pairs = hp.batch_size // 2
        if hp.mode_seeking:  # fake i and fake i + pairs are the same digit from two noise vectors
            fake_labels = tf.concat([fake_labels[:pairs], fake_labels[: hp.batch_size - pairs]], 0, name="paired_labels")
        with ops.collect_updates() as g_bn_updates:
            fake = generator(z, fake_labels, hp, training=True)

        if hp.class_loss:  # D's classifier learns from real digits only: G cannot teach it its own mistakes
            d_real, real_classes = discriminator(real, real_labels, hp, classes=True)
        else:
            d_real = discriminator(real, real_labels, hp)
        d_fake = discriminator(fake, fake_labels, hp)
        d_loss = gan.bce(d_real, 1.0) + gan.bce(d_fake, 0.0)
        if hp.class_loss:
            d_loss += hp.class_loss * gan.cross_entropy(real_classes, real_labels)
        d_step = d_opt.minimize(d_loss, var_list=ops.trainable_variables("discriminator"))

        with tf.control_dependencies([d_step]):  # everything below reads D's weights after its update
            if hp.class_loss:  # and G pays for each fake the classifier reads as another digit than asked
                g_logit, fake_classes = discriminator(fake, fake_labels, hp, classes=True)
                g_loss = gan.bce(g_logit, 1.0) + hp.class_loss * gan.cross_entropy(fake_classes, fake_labels)
            else:
                g_loss = gan.bce(discriminator(fake, fake_labels, hp), 1.0)  # non-saturating
            if hp.mode_seeking:
                g_loss += hp.mode_seeking * mode_seeking_penalty(fake, z, pairs)
            g_step = g_opt.minimize(g_loss, var_list=ops.trainable_variables("generator"), global_step=step)
        g_update = tf.group(g_step, *g_bn_updates)  # the moving averages follow this step's G batch
        train_op, refresh = gan.average_generator(hp, g_update, step, sample)
        return gan.Step(train_op, d_step, gan.step_metrics(d_loss, g_loss, d_real, d_fake), refresh)

    first = train_step()  # the step on its own; it also builds G's weight average
    grid, _ = fixed_grid(hp)
    return gan.StepGraph(*first, samples=grid, grid=(CLASSES, CLASSES), train_step=train_step)


MODEL = gan.Model("gan_cdcgan", build_graph, sample, conditional=True)


def main(argv=None):
    args = flags.parse(__doc__, HPARAMS, argv, conditional=MODEL.conditional)
    loop.main(args, MODEL)


if __name__ == "__main__":
    main()
