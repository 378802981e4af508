"""DCGAN on MNIST: a transposed-convolution generator (TensorFlow's DCGAN tutorial's, with two 3×3
layers at 7×7 where it has one 5×5) and a convolutional discriminator with batch norm (the DCGAN
paper's, thinner, with two more 3×3 stride-1 layers at 7×7), in TF1 graph mode. G's noise comes from
ten unit Gaussians apart rather than one, so it can draw the digits from separate blobs (see noise()),
and the samples draw it a little colder than training does (see sample()).

    python gan_dcgan.py                   # train (resumes if this configuration was trained before)
    python gan_dcgan.py --no-d-batch-norm --dropout 0.3 --leaky-slope 0.3 --init-stddev 0 \
        --batch-size 256 --lr 1e-4 --d-lr 1e-4 --beta1 0.9 --d-filters 64 --d-7x7-layers 0 \
        --g-7x7-layers 1 --g-7x7-kernel 5 --z-modes 0 --z-temperature 1 \
        --bn-momentum 0.99 --g-average 0   # the tutorial's networks, optimizer, noise, sampling
    python gan_dcgan.py --generate 64 --to digits.png
    python gan_dcgan.py --generate 8 --modes --to modes.png   # a row of 8 per noise mode (--walk-modes 2,7: between two)

Every hyperparameter constant at the top of the file is also a flag (`BATCH_SIZE` -> `--batch-size`).
"""

from __future__ import annotations

from common import flags, gan, inputs, loop, ops, walks
from common.tfcompat import tf

# ------------------------------------------------------------------------------ hyperparameters
EPOCHS = 60  # evaluate.py's FD still falls from 30 to 60 (8.8 → 7.4, score 9.32 → 9.42 with one Gaussian, docs/results.md); ~1–2 s/epoch on a GPU
BATCH_SIZE = 128  # the tutorial uses 256; 128 gives twice the updates per epoch for the same images
LR = 8e-4  # G's: 4× the DCGAN paper's 2e-4; 2e-4 → 4e-4 → 8e-4 each better per epoch, 1.6e-3 worse (docs/results.md)
D_LR = 2e-4  # D's: the DCGAN paper's (the tutorial and the paper: one rate for both; the tutorial's 1e-4)
BETA1 = 0.5  # the DCGAN paper's: a shorter momentum memory keeps the two players from overshooting
BETA2 = 0.999  # Adam's default, as in the paper and the tutorial; 0.9 starts faster, is even by epoch 5
LABEL_SMOOTHING = 0.0  # one-sided: D's target for reals is 1 − this; 0.1 (Salimans et al. 2016) was worse here
Z_DIM = 100
Z_MODES = 10  # z from a mixture of this many unit Gaussians (0: one N(0, I), the paper's and the tutorial's): see noise()
Z_MODE_DISTANCE = 4.0  # each mode's centre: this far out on its own axis of z (5.7 apart); 3 shared 4s and 9s between modes
Z_TEMPERATURE = 0.95  # samples (grids, evaluation, --generate) draw z's Gaussians with this stddev, training with 1 (see sample)
G_FILTERS = 64  # generator widths: dense 7·7·4F, then 2F and F filters (the tutorial: F = 64)
D_FILTERS = 48  # discriminator widths: F, then 2F (the tutorial: F = 64); 64 was no better, at 1.35× the time an epoch
G_KERNEL = 5  # G's upsampling kernels (the tutorial: 5); 4×4 in all of the old G was cheaper and worse (docs/results.md)
G_7X7_LAYERS = 2  # stride-1 transposed convolutions at 7×7, each to 2F filters (the tutorial: one)
G_7X7_KERNEL = 3  # their kernels (the tutorial: 5): two 3×3 layers cost ~half of one 5×5; D's added layers take most of that
D_KERNEL = 5  # D's strided ones (the tutorial: 5): a 13-pixel field over the two; 3×3 was much worse
D_7X7_LAYERS = 2  # 3×3 stride-1 convolutions at 7×7 after those, 2F filters (the tutorial: none); the largest gains tried
D_BATCH_NORM = True  # batch norm on every D convolution but the first, each call in training mode (the tutorial: False)
DROPOUT = 0.0  # in the discriminator, training only (the tutorial: 0.3)
LEAKY_SLOPE = 0.2  # the DCGAN paper's (the tutorial: Keras' default 0.3)
INIT_STDDEV = 0.02  # every weight starts as N(0, this), as in the DCGAN paper (0: Glorot uniform, the tutorial's)
BN_MOMENTUM = 0.9  # G's batch-norm moving averages; 0.99 lags G's fast-moving statistics (docs/results.md)
G_AVERAGE = 0.999  # samples come from a moving average of G's weights with this decay (0: from G itself)
SEED = 0
HPARAMS = flags.hyperparameters(globals())  # every constant above is also a flag

GRID = (8, 8)  # rows, cols of the per-epoch sample grid

# ------------------------------------------------------------------------------ the two networks
# G: z100 (10 unit Gaussians) → fc 7·7·256 (no bias) BN lrelu → dconv128 3s1 BN lrelu → dconv128 3s1 BN lrelu
#    → dconv64 5s2 BN lrelu → dconv1 5s2 tanh          (the tutorial's G: one dconv128 5s1 at 7×7)
# D: x28 → conv48 5s2 lrelu.2 → conv96 5s2 BN lrelu.2 → conv96 3s1 BN lrelu.2 → conv96 3s1 BN lrelu.2
#    → flatten → fc1 logit   (the tutorial's D: 64 / 128 filters and no 3s1 layers, no BN, lrelu.3 and
#    dropout .3 after each convolution, Glorot weights)


def generator(z, hp, training):
    """`training` picks batch statistics (and queues moving-average updates) or the moving averages."""
    f, k, slope, init = hp.g_filters, hp.g_kernel, hp.leaky_slope, hp.init_stddev
    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = ops.dense(z, 7 * 7 * 4 * f, "fc", use_bias=False, stddev=init)
        h = ops.lrelu(ops.batch_norm(h, training, "bn0", hp.bn_momentum), slope)
        h = tf.reshape(h, [-1, 7, 7, 4 * f])
        for i in range(hp.g_7x7_layers):  # named deconv1, deconv1b, deconv1c, …
            name = "1" + (chr(ord("a") + i) if i else "")
            h = ops.conv2d_transpose(h, 2 * f, hp.g_7x7_kernel, 1, "deconv" + name, use_bias=False, stddev=init)
            h = ops.lrelu(ops.batch_norm(h, training, "bn" + name, hp.bn_momentum), slope)
        h = ops.conv2d_transpose(h, f, k, 2, "deconv2", use_bias=False, stddev=init)
        h = ops.lrelu(ops.batch_norm(h, training, "bn2", hp.bn_momentum), slope)
        return tf.tanh(ops.conv2d_transpose(h, 1, k, 2, "deconv3", use_bias=False, stddev=init))


def discriminator(x, hp, dropout_seed):
    """`dropout_seed` keys this call's dropout masks (each call of each step gets its own). Batch norm
    normalises each call's own batch (real, fake) in training mode, as in the DCGAN paper; D is never
    run in inference mode, so its moving averages are not kept up to date."""
    f, k, slope, init = hp.d_filters, hp.d_kernel, hp.leaky_slope, hp.init_stddev
    fold = inputs.fold_in

    def block(h, kernel, stride, name, mask):  # 2F filters, batch norm (or a bias), lrelu, dropout mask `mask`
        h = ops.conv2d(h, 2 * f, kernel, stride, "conv" + name, use_bias=not hp.d_batch_norm, stddev=init)
        h = ops.lrelu(ops.batch_norm(h, True, "bn" + name) if hp.d_batch_norm else h, slope)
        return ops.dropout(h, hp.dropout, fold(dropout_seed, mask), training=True)

    with tf.variable_scope("discriminator", reuse=tf.AUTO_REUSE):
        h = ops.lrelu(ops.conv2d(x, f, k, 2, "conv1", stddev=init), slope)  # no batch norm on D's input layer
        h = ops.dropout(h, hp.dropout, fold(dropout_seed, 1), training=True)
        h = block(h, k, 2, "2", mask=2)
        for i in range(hp.d_7x7_layers):  # named conv2b, conv2c, …: each widens D's field by 8 pixels (13 → 21 → 29)
            h = block(h, 3, 1, "2" + chr(ord("b") + i), mask=3 + i)
        return ops.dense(tf.reshape(h, [-1, 7 * 7 * 2 * f]), 1, "fc", stddev=init)


def noise(count, seed, hp, stddev=1.0):
    """N(0, stddev² I), or with Z_MODES a mixture: mode k (drawn uniformly) shifts axis k of z by
    Z_MODE_DISTANCE. A G fed one connected blob of noise must map some of it between the digits it
    draws (Khayatkhoei et al. 2018); separate blobs let it draw them apart. No labels are involved."""
    centre, gaussian = gan.noise_parts(count, seed, hp, stddev)
    return gaussian if centre is None else gaussian + centre


def latent(count, seed, hp):
    """z as `sample` draws it, for `--walk` and `--modes` (common/walks.py). A walk moves the centre
    in a straight line from one end's mode to the other's and the Gaussian part along a great circle:
    slerp about the origin would treat the centre as part of the sphere, and even between two z's of
    one mode carry it out to ~1.3× Z_MODE_DISTANCE halfway, off the mode G learnt there."""
    centre, gaussian = gan.noise_parts(count, seed, hp, hp.z_temperature)
    return walks.Latent(centre=centre, spread=gaussian, spherical=True)


def sample(hp, count, seed, labels, training=False, z=None):
    """`count` images from fresh noise (or from `z`, a walk's), drawn by the average of G's weights
    (G_AVERAGE) with batch norm in inference mode: grids, evaluation and `--generate`. (Not
    conditional: `labels` are ignored. `training` measures the average's batch statistics: see
    gan.average_generator.)

    The noise is drawn a little colder than in training (Z_TEMPERATURE, the gentle form of the
    truncation trick: Kingma & Dhariwal 2018, Brock et al. 2019): z pulled toward its mode's centre
    varies less along every direction G reads, so G draws the mode's more typical digits and fewer odd
    strokes. 0.95 gives cleaner digits for a little variety (docs/results.md); `--z-temperature 1` draws
    exactly as training does. The batch statistics are measured at 1, so they normalise the
    distribution G was trained on."""
    with ops.averaged(hp.g_average > 0):
        z = noise(count, seed, hp, 1.0 if training else hp.z_temperature) if z is None else z
        return generator(z, hp, training)


# ------------------------------------------------------------------------------ losses, optimizers, step
def build_graph(hp, dataset):
    """The two optimizers, the weight average, the grid, and `train_step`, built once on its own and
    once more inside the loop that runs several steps per session.run (gan.repeat_steps)."""
    d_opt = tf.train.AdamOptimizer(hp.d_lr, beta1=hp.beta1, beta2=hp.beta2, name="d_adam")
    g_opt = tf.train.AdamOptimizer(hp.lr, beta1=hp.beta1, beta2=hp.beta2, name="g_adam")

    def train_step():
        """One training step as one op: a D update on a real and a fake batch, then a G update in which
        the freshly updated D judges the same fakes again (G has not moved, so its forward is reused)."""
        step = inputs.global_step()
        real, _ = inputs.batch(dataset, step, hp.batch_size, hp.seed)
        with ops.collect_updates() as g_bn_updates:
            fake = generator(noise(hp.batch_size, inputs.stream_seed(hp.seed, inputs.Stream.NOISE, step), hp), hp, training=True)

        def dropout_seed(call):  # three D calls per step: real, fake, fake again after the D update
            with inputs.on_host():  # the counter beside the seed it keys (see inputs.stream_seed)
                return inputs.stream_seed(hp.seed, inputs.Stream.DROPOUT_MASKS, 3 * step + call)

        d_real, d_fake = discriminator(real, hp, dropout_seed(0)), discriminator(fake, hp, dropout_seed(1))
        d_loss = gan.bce(d_real, 1.0 - hp.label_smoothing) + gan.bce(d_fake, 0.0)
        d_step = d_opt.minimize(d_loss, var_list=ops.trainable_variables("discriminator"))

        with tf.control_dependencies([d_step]):  # everything below reads D's weights after its update
            g_loss = gan.bce(discriminator(fake, hp, dropout_seed(2)), 1.0)  # non-saturating
            g_step = g_opt.minimize(g_loss, var_list=ops.trainable_variables("generator"), global_step=step)
        g_update = tf.group(g_step, *g_bn_updates)  # the moving averages follow this step's G batch
        train_op, refresh = gan.average_generator(hp, g_update, step, sample)
        return gan.Step(train_op, d_step, gan.step_metrics(d_loss, g_loss, d_real, d_fake), refresh)

    first = train_step()  # the step on its own; it also builds G's weight average
    fixed = sample(hp, GRID[0] * GRID[1], inputs.stream_seed(hp.seed, inputs.Stream.FIXED_NOISE, 0), labels=None)
    return gan.StepGraph(*first, samples=fixed, grid=GRID, train_step=train_step)


MODEL = gan.Model("gan_dcgan", build_graph, sample)


def main(argv=None):
    args = flags.parse(__doc__, HPARAMS, argv, conditional=MODEL.conditional)
    loop.main(args, MODEL)


if __name__ == "__main__":
    main()
