"""Fully connected GAN on MNIST: two MLPs, the generator drawing digits from ten Gaussian blobs of noise.
Grown from the classic two-MLP script (CLASSIC below: uniform noise, no batch norm, D of 256 units, D
judging one image at a time) with four changes (docs/results.md): G's noise from the DCGAN's ten
Gaussians, batch norm before G's ReLUs, D twice as wide, and D seeing how alike its batch's images are.

    python gan_fc.py                      # train (resumes if this configuration was trained before)
    python gan_fc.py --lr 1e-4 --epochs 100
    python gan_fc.py --generate 64 --to digits.png
    python gan_fc.py --generate 8 --walk 10 --to walks.png   # 8 walks through the noise, 10 steps each (.gif: animated)
    python gan_fc.py --no-g-batch-norm --d-hidden 256 --z-modes 0 --minibatch-kernels 0   # the classic script's networks (CLASSIC)

Every hyperparameter constant at the top of the file is also a flag (`BATCH_SIZE` -> `--batch-size`).
"""

from __future__ import annotations

from common import flags, gan, inputs, loop, ops, walks
from common.tfcompat import tf, tf2

# ------------------------------------------------------------------------------ hyperparameters
EPOCHS = 60
BATCH_SIZE = 128
LR = 3e-4  # both networks' (a G at 4× D's rate, as the DCGAN has, lost to D at once: docs/results.md)
BETA1 = 0.5  # Adam's first-moment decay; 0.5 (not 0.9) keeps the two players from overshooting
Z_DIM = 96
Z_MODES = 10  # z from a mixture of this many unit Gaussians, as gan_dcgan.py's (0: U(−1, 1), the classic scripts')
Z_MODE_DISTANCE = 4.0  # each mode's centre: this far out on its own axis of z
Z_TEMPERATURE = 1.0  # samples (grids, evaluation, --generate) draw z's spread at this scale, training at 1
G_HIDDEN = 1024  # units in each of the generator's two hidden layers
D_HIDDEN = 512  # units in each of the discriminator's two hidden layers (the classic script: 256)
G_BATCH_NORM = True  # batch norm before each of G's hidden activations (the classic script: none)
BN_MOMENTUM = 0.9  # G's batch-norm moving averages (with G_BATCH_NORM and --g-average 0)
LABEL_SMOOTHING = 0.0  # one-sided: D's target for real images is 1 − this (one classic script used 0.1)
G_AVERAGE = 0.999  # samples come from a moving average of G's weights with this decay (0: from G itself)
MINIBATCH_KERNELS = 8  # D sees, through this many learned kernels, how alike its batch's images are (0: off,
#   the classic); without it two of the ten noise modes could settle on one digit (docs/results.md)
PACKING = 1  # D judges this many images at once, side by side (PacGAN, Lin et al. 2018; 1: one, the classic)
SEED = 0
HPARAMS = flags.hyperparameters(globals())  # every constant above is also a flag

GRID = (8, 8)  # rows, cols of the per-epoch sample grid
CLASSIC = "--no-g-batch-norm --d-hidden 256 --z-modes 0 --minibatch-kernels 0"  # the classic script's networks and noise (README)

# ------------------------------------------------------------------------------ the two networks
# G: z96 (ten Gaussians) → fc1024 BN relu → fc1024 BN relu → fc784 tanh
# D: 784 → fc512 lrelu.2 → fc512 lrelu.2 → [the 512, and 8 kernels' closeness to the rest of the batch] → fc1 logit


def generator(z, hp, training=True):
    """`training` picks batch statistics or the moving averages (with G_BATCH_NORM; else ignored)."""

    def hidden(h, name):
        h = ops.dense(h, hp.g_hidden, name, use_bias=not hp.g_batch_norm)
        return tf.nn.relu(ops.batch_norm(h, training, "bn" + name[-1], hp.bn_momentum) if hp.g_batch_norm else h)

    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = hidden(hidden(z, "fc1"), "fc2")
        return tf.reshape(tf.tanh(ops.dense(h, 28 * 28, "fc3")), [-1, 28, 28, 1])


def discriminator(x, hp):
    with tf.variable_scope("discriminator", reuse=tf.AUTO_REUSE):
        h = tf.reshape(x, [-1, hp.packing * 28 * 28])  # PACKING images in a row: one input, one logit
        h = ops.lrelu(ops.dense(h, hp.d_hidden, "fc1"), 0.2)
        h = ops.lrelu(ops.dense(h, hp.d_hidden, "fc2"), 0.2)
        if hp.minibatch_kernels:  # + how close each image lies to the rest of its batch (common/ops.py)
            h = tf.concat([h, ops.minibatch_closeness(h, hp.minibatch_kernels, "minibatch")], axis=1)
        return ops.dense(h, 1, "fc3")


def noise(count, seed, hp, scale=1.0):
    """U(−1, 1), or with Z_MODES the DCGAN's mixture of Gaussians (gan.noise_parts); `scale` widens or
    narrows the uniform cube, or each mode's Gaussian about its centre (Z_TEMPERATURE)."""
    if not hp.z_modes:
        return tf2.random.stateless_uniform(tf.stack([count, hp.z_dim]), seed, minval=-scale, maxval=scale)
    centre, gaussian = gan.noise_parts(count, seed, hp, scale)
    return centre + gaussian


def latent(count, seed, hp):
    """z as `sample` draws it, for `--walk` (common/walks.py). Uniform noise fills a cube, and the
    straight line between two of its points stays inside it: a walk goes straight. A mixture's walk
    is the DCGAN's (its latent() says why)."""
    if not hp.z_modes:
        return walks.Latent(centre=None, spread=noise(count, seed, hp, hp.z_temperature), spherical=False)
    centre, gaussian = gan.noise_parts(count, seed, hp, hp.z_temperature)
    return walks.Latent(centre=centre, spread=gaussian, spherical=True)


def sample(hp, count, seed, labels, training=False, z=None):
    """`count` images from fresh noise (or from `z`, a walk's), drawn by the average of G's weights
    (G_AVERAGE): grids, evaluation and `--generate`. (Not conditional: `labels` are ignored. `training`
    measures the average's batch statistics, with G_BATCH_NORM: see gan.average_generator.)"""
    with ops.averaged(hp.g_average > 0):
        z = noise(count, seed, hp, 1.0 if training else hp.z_temperature) if z is None else z
        return generator(z, hp, training)


# ------------------------------------------------------------------------------ losses, optimizers, step
def build_graph(hp, dataset):
    """The two optimizers, the weight average, the grid, and `train_step`, built once on its own and
    once more inside the loop that runs several steps per session.run (gan.repeat_steps)."""
    d_opt = tf.train.AdamOptimizer(hp.lr, beta1=hp.beta1, name="d_adam")
    g_opt = tf.train.AdamOptimizer(hp.lr, beta1=hp.beta1, name="g_adam")

    def train_step():
        """One training step as one op: a D update on a real and a fake batch, then a G update in which
        the freshly updated D judges the same fakes again (G has not moved, so its forward is reused)."""
        step = inputs.global_step()
        real, _ = inputs.batch(dataset, step, hp.batch_size, hp.seed)
        with ops.collect_updates() as g_bn_updates:
            fake = generator(noise(hp.batch_size, inputs.stream_seed(hp.seed, inputs.Stream.NOISE, step), hp), hp)

        d_real, d_fake = discriminator(real, hp), discriminator(fake, hp)
        d_loss = gan.bce(d_real, 1.0 - hp.label_smoothing) + gan.bce(d_fake, 0.0)
        d_step = d_opt.minimize(d_loss, var_list=ops.trainable_variables("discriminator"))

        with tf.control_dependencies([d_step]):  # everything below reads D's weights after its update
            g_loss = gan.bce(discriminator(fake, hp), 1.0)  # non-saturating: G maximises log D(G(z))
            g_step = g_opt.minimize(g_loss, var_list=ops.trainable_variables("generator"), global_step=step)
        g_update = tf.group(g_step, *g_bn_updates) if g_bn_updates else g_step  # + the moving averages' updates
        train_op, refresh = gan.average_generator(hp, g_update, step, sample)
        return gan.Step(train_op, d_step, gan.step_metrics(d_loss, g_loss, d_real, d_fake), refresh)

    first = train_step()  # the step on its own; it also builds G's weight average
    fixed = sample(hp, GRID[0] * GRID[1], inputs.stream_seed(hp.seed, inputs.Stream.FIXED_NOISE, 0), labels=None)
    return gan.StepGraph(*first, samples=fixed, grid=GRID, train_step=train_step)


MODEL = gan.Model("gan_fc", build_graph, sample)


def main(argv=None):
    args = flags.parse(__doc__, HPARAMS, argv, conditional=MODEL.conditional)
    loop.main(args, MODEL)


if __name__ == "__main__":
    main()
