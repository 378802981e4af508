"""Our three GANs as a TensorFlow 2 engineer would write them in Keras 3: Functional models of Keras
layers, channels-last, and a custom training step in one `tf.function` (with `--jit`, compiled whole by
XLA), the yardstick for our TF1 graphs. It runs in a process of its own because Keras 3 needs eager
execution, which our process turns off for good.

    python -m benchmarks.peers.keras_peers --model dcgan --batch 128 --steps 32 --warmup 3 --repeats 3 [--jit]

prints one JSON line (benchmarks/peers/harness.py). The step does what ours does: G draws one batch of
fakes (batch norm in training mode); D is updated on a real batch and on those fakes, each through D on
its own; G is updated through the freshly updated D on the same fakes (the G tape that recorded G's
forward pass is entered again); then the average of G's weights moves. The data are MNIST-sized random
images held in a tensor, a batch sliced from it inside the step, and the noise is drawn in the step, so
neither side pays for an input pipeline. Threads: TensorFlow's defaults, as ours runs by default (every
logical core), unless `--threads` sets the intra-op pool as bench.py's `--intra-op-threads` sets ours.

Keras' own batch norm keeps D's moving averages up to date on every call, which ours skips (D never
runs in inference mode); it is a few hundred numbers a call, and no idiomatic switch turns it off.
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # the step below is TensorFlow's (tf.function, GradientTape)

import itertools  # noqa: E402
import math  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from benchmarks import counts  # noqa: E402
from benchmarks.peers import harness  # noqa: E402

CLASSES = 10
MNIST_IMAGES = 60000
EPSILON = 1e-3  # batch norm's, as ours (common/ops.py)
ADAM_EPSILON = 1e-8  # TensorFlow 1's AdamOptimizer's (Keras' default is 1e-7)


def _batch_norm(momentum=0.99):  # D's moving averages are never read: Keras' default momentum, as ours
    return layers.BatchNormalization(momentum=momentum, epsilon=EPSILON)


def _init(hp):
    """N(0, INIT_STDDEV), the DCGAN paper's, as the convolutional scripts' (the FC's layers keep Keras'
    Glorot default, as ours keep it)."""
    return keras.initializers.RandomNormal(stddev=hp.init_stddev)


class BatchCloseness(layers.Layer):
    """For each kernel of `m` [batch, kernels × 5] (D's projection, a Dense of its own so that it is
    counted), Σ_j≠i exp(−‖m_i − m_j‖²) over the batch: gan_fc.py's MINIBATCH_KERNELS
    (common/ops.py's minibatch_closeness)."""

    def __init__(self, kernels, dims=5, **kwargs):
        super().__init__(**kwargs)
        self.kernels, self.dims = kernels, dims

    def call(self, m):
        ops = keras.ops
        m = ops.transpose(ops.reshape(m, (-1, self.kernels, self.dims)), (1, 0, 2))  # [kernels, batch, dims]
        squares = ops.sum(ops.square(m), axis=2, keepdims=True)
        distance = squares + ops.transpose(squares, (0, 2, 1)) - 2.0 * ops.matmul(m, ops.transpose(m, (0, 2, 1)))
        return ops.transpose(ops.sum(ops.exp(-distance), axis=2) - 1.0)


def fc(hp):
    """G: z → 2 × (dense, no bias, batch norm, ReLU) → dense 784 tanh; D: 784 → 2 × (dense, lrelu 0.2)
    [→ minibatch discrimination] → 1."""
    z = keras.Input((hp.z_dim,))
    h = z
    for _ in range(2):
        h = layers.Dense(hp.g_hidden, use_bias=False)(h)
        h = layers.ReLU()(_batch_norm(hp.bn_momentum)(h))
    g = keras.Model(z, layers.Reshape((28, 28, 1))(layers.Dense(28 * 28, activation="tanh")(h)), name="generator")

    x = keras.Input((28, 28, 1))
    h = layers.Flatten()(x)
    for _ in range(2):
        h = layers.LeakyReLU(0.2)(layers.Dense(hp.d_hidden)(h))
    kernels = getattr(hp, "minibatch_kernels", 0)
    if kernels:
        init = keras.initializers.RandomNormal(stddev=0.05)  # ours (common/ops.py)
        h = layers.Concatenate()(
            [h, BatchCloseness(kernels)(layers.Dense(kernels * 5, use_bias=False, kernel_initializer=init)(h))]
        )
    return g, keras.Model(x, layers.Dense(1)(h), name="discriminator")


def dcgan(hp):
    """gan_dcgan.py's networks (its comment block draws them)."""
    f, k, init = hp.g_filters, hp.g_kernel, _init(hp)

    def bn_lrelu(h, momentum=0.99):
        return layers.LeakyReLU(hp.leaky_slope)(_batch_norm(momentum)(h))

    def up(filters, kernel, stride, **kwargs):
        return layers.Conv2DTranspose(filters, kernel, stride, padding="same", use_bias=False, kernel_initializer=init, **kwargs)

    z = keras.Input((hp.z_dim,))
    h = bn_lrelu(layers.Dense(7 * 7 * 4 * f, use_bias=False, kernel_initializer=init)(z), hp.bn_momentum)
    h = layers.Reshape((7, 7, 4 * f))(h)
    for _ in range(hp.g_7x7_layers):
        h = bn_lrelu(up(2 * f, hp.g_7x7_kernel, 1)(h), hp.bn_momentum)
    h = bn_lrelu(up(f, k, 2)(h), hp.bn_momentum)
    g = keras.Model(z, up(1, k, 2, activation="tanh")(h), name="generator")

    f, k = hp.d_filters, hp.d_kernel
    x = keras.Input((28, 28, 1))
    h = layers.LeakyReLU(hp.leaky_slope)(layers.Conv2D(f, k, 2, padding="same", kernel_initializer=init)(x))
    h = bn_lrelu(layers.Conv2D(2 * f, k, 2, padding="same", use_bias=False, kernel_initializer=init)(h))
    for _ in range(hp.d_7x7_layers):
        h = bn_lrelu(layers.Conv2D(2 * f, 3, padding="same", use_bias=False, kernel_initializer=init)(h))
    return g, keras.Model(x, layers.Dense(1, kernel_initializer=init)(layers.Flatten()(h)), name="discriminator")


def cdcgan(hp):
    """gan_cdcgan.py's networks: G reads [z, one-hot label]; D adds the label's projection of its
    features to a plain logit. The projection is a bias-free dense layer on the one-hot label, as ours
    (an embedding lookup would be the same weights without the matmul, but not the same FLOPs). With
    CLASS_LOSS, D also returns ten class logits (a dense layer on the same features)."""
    f, init = hp.g_filters, _init(hp)

    def bn_lrelu(h, momentum=0.99):
        return layers.LeakyReLU(0.2)(_batch_norm(momentum)(h))

    def g_bn_lrelu(h):
        """G's: with G_CONDITIONAL_BN the scale and shift are the label's own, bias-free dense layers on
        the one-hot label (as ours computes them; an embedding would not have the same FLOPs)."""
        if not hp.g_conditional_bn:
            return bn_lrelu(h, hp.bn_momentum)
        h = layers.BatchNormalization(momentum=hp.bn_momentum, epsilon=1e-3, center=False, scale=False)(h)
        gamma = layers.Dense(h.shape[-1], use_bias=False, kernel_initializer="ones")(y)
        beta = layers.Dense(h.shape[-1], use_bias=False, kernel_initializer="zeros")(y)
        return layers.LeakyReLU(0.2)(h * gamma[:, None, None, :] + beta[:, None, None, :])

    z, label = keras.Input((hp.z_dim,)), keras.Input((), dtype="int32")
    y = keras.ops.one_hot(label, CLASSES)
    h = layers.Reshape((1, 1, hp.z_dim + CLASSES))(layers.Concatenate()([z, y]))
    h = g_bn_lrelu(layers.Conv2DTranspose(2 * f, 7, padding="valid", kernel_initializer=init)(h))
    for _ in range(hp.g_7x7_layers):
        h = g_bn_lrelu(layers.Conv2DTranspose(2 * f, 3, padding="same", use_bias=False, kernel_initializer=init)(h))
    h = g_bn_lrelu(layers.Conv2DTranspose(f, 5, 2, padding="same", kernel_initializer=init)(h))
    images = layers.Conv2DTranspose(1, 5, 2, padding="same", activation="tanh", kernel_initializer=init)(h)
    g = keras.Model([z, label], images, name="generator")

    f = hp.d_filters
    x, label = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
    h = layers.LeakyReLU(0.2)(layers.Conv2D(f, 5, 2, padding="same", kernel_initializer=init)(x))
    h = bn_lrelu(layers.Conv2D(2 * f, 5, 2, padding="same", kernel_initializer=init)(h))
    for _ in range(hp.d_7x7_layers):
        h = bn_lrelu(layers.Conv2D(2 * f, 3, padding="same", use_bias=False, kernel_initializer=init)(h))
    logit = layers.Flatten()(layers.Conv2D(1, 7, padding="valid", kernel_initializer=init)(h))
    projection = layers.Dense(7 * 7 * 2 * f, use_bias=False, kernel_initializer=init)(keras.ops.one_hot(label, CLASSES))
    features = layers.Flatten()(h)
    logit = logit + keras.ops.sum(features * projection, axis=1, keepdims=True)
    if hp.class_loss:  # and the auxiliary classifier's ten logits, read off the same features
        logit = [logit, layers.Dense(CLASSES, kernel_initializer=init)(features)]
    return g, keras.Model([x, label], logit, name="discriminator")


NETWORKS = {"fc": fc, "dcgan": dcgan, "cdcgan": cdcgan}


def forward_flops(model):
    """FLOPs of one image through `model`'s dense layers and convolutions, by the rule of
    harness.conv_flops, each convolution with the padding Keras gives it."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.units
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            small, large = layer.output.shape[1], layer.input.shape[1]
            if isinstance(layer, layers.Conv2DTranspose):  # the convolution from its output to its input
                small, large = large, small
            kernel, stride = layer.kernel_size[0], layer.strides[0]
            pad = counts.same_pad_before(large, small, kernel, stride) if layer.padding == "same" else 0
            total += harness.conv_flops(large, small, kernel, stride, pad, *layer.kernel.shape[2:])
    return total


def sizes(g, d):
    """G's and D's trainable parameters (batch norm's moving statistics are not) and forward FLOPs per image."""

    def params(model):
        return sum(math.prod(w.shape) for w in model.trainable_variables)

    return {"params": {"g": params(g), "d": params(d)}, "flops_per_image": {"g": forward_flops(g), "d": forward_flops(d)}}


class KerasGAN:
    """Everything the step touches, made before it is first traced: a compiled step may not create
    variables (the optimizers' slots, the average), and the data it slices must already be a tensor."""

    def __init__(self, model, hp, jit):
        self.hp, self.conditional, self.batch = hp, model == "cdcgan", hp.batch_size
        self.g, self.d = NETWORKS[model](hp)
        g_lr, d_lr, beta1, beta2 = harness.adam_settings(hp)
        self.g_opt = keras.optimizers.Adam(g_lr, beta_1=beta1, beta_2=beta2, epsilon=ADAM_EPSILON)
        self.d_opt = keras.optimizers.Adam(d_lr, beta_1=beta1, beta_2=beta2, epsilon=ADAM_EPSILON)
        self.g_opt.build(self.g.trainable_variables)
        self.d_opt.build(self.d.trainable_variables)
        self.average = [tf.Variable(w.value, trainable=False) for w in self.g.trainable_variables]
        self.seeds = keras.random.SeedGenerator(hp.seed)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.images = tf.random.uniform([MNIST_IMAGES, 28, 28, 1], -1.0, 1.0)
        self.labels = tf.random.uniform([MNIST_IMAGES], 0, CLASSES, dtype=tf.int32)
        self.step = tf.function(self._step, jit_compile=jit)
        self.batches, self.losses = itertools.cycle(range(MNIST_IMAGES // self.batch)), None

    def _noise(self):
        """z as the script draws it: N(0, I), with Z_MODES shifted Z_MODE_DISTANCE along a random axis
        of the first Z_MODES; the cDCGAN's fakes also get a random digit each."""
        z = keras.random.normal((self.batch, self.hp.z_dim), seed=self.seeds)
        if getattr(self.hp, "z_modes", 0):
            mode = keras.random.randint((self.batch,), 0, self.hp.z_modes, seed=self.seeds)
            z += self.hp.z_mode_distance * keras.ops.one_hot(mode, self.hp.z_dim)
        if not self.conditional:
            return z
        labels = keras.random.randint((self.batch,), 0, CLASSES, seed=self.seeds)
        if getattr(self.hp, "mode_seeking", 0):  # fake i and fake i + B/2 are the same digit, as the script pairs them
            pairs = self.batch // 2
            labels = tf.concat([labels[:pairs], labels[: self.batch - pairs]], 0)
        return [z, labels]

    def _step(self, index):
        rows = index * self.batch + tf.range(self.batch)  # a gather: XLA would compile a slice anew for each start
        real = tf.gather(self.images, rows)
        noise = self._noise()
        if self.conditional:
            real = [real, tf.gather(self.labels, rows)]
        with tf.GradientTape() as g_tape:
            fake = self.g(noise, training=True)
        fake_pairs = [fake, noise[1]] if self.conditional else fake
        ones, zeros = tf.ones([self.batch, 1]), tf.zeros([self.batch, 1])
        class_loss = getattr(self.hp, "class_loss", 0)
        with tf.GradientTape() as d_tape:
            d_real, real_classes = self._judge(real)
            d_loss = self.bce(ones, d_real) + self.bce(zeros, self._judge(fake_pairs)[0])
            if class_loss:  # the classifier learns the real digits only, as the script's
                d_loss += class_loss * self.cross_entropy(real[1], real_classes)
        self.d_opt.apply(d_tape.gradient(d_loss, self.d.trainable_variables), self.d.trainable_variables)
        with g_tape:  # the same fakes, judged by the D just updated; the tape holds G's forward pass
            d_fake, fake_classes = self._judge(fake_pairs)
            g_loss = self.bce(ones, d_fake)
            if class_loss:
                g_loss += class_loss * self.cross_entropy(noise[1], fake_classes)
            if getattr(self.hp, "mode_seeking", 0):
                g_loss += self.hp.mode_seeking * harness.mode_seeking_penalty(fake, noise[0], self.batch // 2, keras.ops)
        self.g_opt.apply(g_tape.gradient(g_loss, self.g.trainable_variables), self.g.trainable_variables)
        t = tf.cast(self.g_opt.iterations, tf.float32)
        forget = 1.0 - tf.minimum(self.hp.g_average, (1.0 + t) / (10.0 + t))
        for average, weight in zip(self.average, self.g.trainable_variables, strict=True):
            average.assign_sub(forget * (average - weight))
        return d_loss, g_loss

    def _judge(self, inputs):
        """(D's logit, the classifier's ten logits or None without CLASS_LOSS)."""
        out = self.d(inputs, training=True)
        return out if getattr(self.hp, "class_loss", 0) else (out, None)

    def run(self):
        self.losses = self.step(tf.constant(next(self.batches)))

    def finish(self):
        return [float(loss) for loss in self.losses]


def main(argv=None):
    parser = harness.parser(__doc__, "TensorFlow's intra-op threads (0: its default, every logical core)")
    parser.add_argument("--jit", action="store_true", help="compile the step with XLA (tf.function(jit_compile=True))")
    args = parser.parse_args(argv)
    hp = harness.hyperparameters(args.model, args.batch)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(hp.seed)
    gan = KerasGAN(args.model, hp, args.jit)
    walls = harness.time_steps(gan.run, gan.finish, args.steps, args.warmup, args.repeats)
    return harness.report_line(
        args,
        hp.batch_size,
        walls,
        sizes(gan.g, gan.d),
        framework="keras",
        variant="xla" if args.jit else "tf.function",
        threads=tf.config.threading.get_intra_op_parallelism_threads() or harness.default_threads(),
        versions={"keras": keras.__version__, "tensorflow": tf.__version__},
    )


if __name__ == "__main__":
    main()
