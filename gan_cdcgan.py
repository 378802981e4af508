"""Conditional DCGAN on MNIST: ask for a digit, get that digit. Both networks see the one-hot label
(the architecture of the classic TF1 cDCGAN script, with its two label bugs fixed: G is asked for all ten
digits, and D judges each fake with the label it was drawn for).

    python gan_cdcgan.py                  # train (resumes if this configuration was trained before)
    python gan_cdcgan.py --generate 100 --label 7 --to sevens.png
    python gan_cdcgan.py --generate 1000 --to digits.npz         # 100 of each digit, labels included

Every hyperparameter constant at the top of the file is also a flag (`BATCH_SIZE` -> `--batch-size`).
"""

from common import flags, gan, inputs, loop, ops
from common.tfcompat import tf, tf2

# ------------------------------------------------------------------------------ hyperparameters
EPOCHS = 10
BATCH_SIZE = 100
LR = 2e-4
LR_DECAY = 1.0  # multiply the learning rate by this every DECAY_STEPS steps (the classic script: 0.95; 1.0 = off)
DECAY_STEPS = 500
BETA1 = 0.5
Z_DIM = 100
G_FILTERS = 128  # generator widths: 2F then F filters (the classic script: F = 128)
D_FILTERS = 128  # discriminator widths: F then 2F filters (the classic script: F = 128)
INIT_STDDEV = 0.02  # every weight starts as N(0, this), as in the classic script and the DCGAN paper
BN_MOMENTUM = 0.9  # G's batch-norm moving averages; 0.99 lags G's fast-moving statistics (docs/results.md)
G_AVERAGE = 0.999  # samples come from a moving average of G's weights with this decay (0: from G itself)
SEED = 0
HPARAMS = flags.hyperparameters(globals())  # every constant above is also a flag

CLASSES = 10

# ------------------------------------------------------------------------------ the two networks
# G: [z100 N(0,1), y10] 1×1 → dconv256 7 valid BN lrelu.2 → dconv128 5s2 BN lrelu.2 → dconv1 5s2 tanh
# D: [x28, y10 broadcast to 28×28] → conv128 5s2 lrelu.2 → conv256 5s2 BN lrelu.2 → conv1 7 valid → logit


def generator(z, labels, hp, training):
    f = hp.g_filters
    y = tf.one_hot(labels, CLASSES)
    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = tf.reshape(tf.concat([z, y], axis=1), [-1, 1, 1, hp.z_dim + CLASSES])
        h = ops.conv2d_transpose(h, 2 * f, 7, 1, "deconv1", padding="VALID", stddev=hp.init_stddev)
        h = ops.lrelu(ops.batch_norm(h, training, "bn1", hp.bn_momentum), 0.2)
        h = ops.conv2d_transpose(h, f, 5, 2, "deconv2", stddev=hp.init_stddev)
        h = ops.lrelu(ops.batch_norm(h, training, "bn2", hp.bn_momentum), 0.2)
        return tf.tanh(ops.conv2d_transpose(h, 1, 5, 2, "deconv3", stddev=hp.init_stddev))


def discriminator(x, labels, hp):
    """Batch norm in D runs in training mode on each call's own batch (real, fake), as in the classic script;
    D is never run in inference mode, so its moving averages are not kept up to date."""
    f = hp.d_filters
    y_map = tf.tile(tf.reshape(tf.one_hot(labels, CLASSES), [-1, 1, 1, CLASSES]), [1, 28, 28, 1])
    with tf.variable_scope("discriminator", reuse=tf.AUTO_REUSE):
        h = ops.lrelu(ops.conv2d(tf.concat([x, y_map], axis=3), f, 5, 2, "conv1", stddev=hp.init_stddev), 0.2)
        h = ops.lrelu(ops.batch_norm(ops.conv2d(h, 2 * f, 5, 2, "conv2", stddev=hp.init_stddev), True, "bn2"), 0.2)
        return tf.reshape(ops.conv2d(h, 1, 7, 1, "conv3", padding="VALID", stddev=hp.init_stddev), [-1, 1])


def noise(count, seed, hp):
    return tf2.random.stateless_normal(tf.stack([count, hp.z_dim]), seed)


def sample(hp, count, seed, labels, training=False):
    """`count` images of the digits `labels`, drawn by the average of G's weights (G_AVERAGE) with batch
    norm in inference mode: evaluation and `--generate`. (`training` measures the average's batch
    statistics: see gan.average_generator.)"""
    with ops.averaged(hp.g_average > 0):
        return generator(noise(count, seed, hp), labels, hp, training)


def fixed_grid(hp):
    """10×10: row k draws digit k, and column j uses the same noise vector in every row, so a column
    shows one style held fixed across the ten digits."""
    z = tf.tile(noise(CLASSES, inputs.stream_seed(hp.seed, inputs.Stream.FIXED_NOISE, 0), hp), [CLASSES, 1])
    labels = tf.repeat(tf.range(CLASSES), CLASSES)  # 0 ×10, 1 ×10, …: row by row
    with ops.averaged(hp.g_average > 0):
        return generator(z, labels, hp, training=False), labels


# ------------------------------------------------------------------------------ losses, optimizers, step
def build_graph(hp, dataset):
    """The two optimizers, the weight average, the grid, and `train_step`, built once on its own and
    once more inside the loop that runs several steps per session.run (gan.repeat_steps)."""

    def lr():  # called at each step's update, so it reads that step's global step (inside the loop too)
        return tf.train.exponential_decay(hp.lr, inputs.global_step(), hp.decay_steps, hp.lr_decay, staircase=True)

    d_opt = tf.train.AdamOptimizer(lr, beta1=hp.beta1, name="d_adam")
    g_opt = tf.train.AdamOptimizer(lr, beta1=hp.beta1, name="g_adam")

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
        with ops.collect_updates() as g_bn_updates:
            fake = generator(z, fake_labels, hp, training=True)

        d_real, d_fake = discriminator(real, real_labels, hp), discriminator(fake, fake_labels, hp)
        d_loss = gan.bce(d_real, 1.0) + gan.bce(d_fake, 0.0)
        d_step = d_opt.minimize(d_loss, var_list=ops.trainable_variables("discriminator"))

        with tf.control_dependencies([d_step]):  # everything below reads D's weights after its update
            g_loss = gan.bce(discriminator(fake, fake_labels, hp), 1.0)  # non-saturating
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
