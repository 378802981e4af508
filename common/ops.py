"""Thin layer helpers over `tf.nn` and `tf.get_variable` (the classic TF1 `ops.py`).

Keras 3 removed `tf.compat.v1.layers`, and Keras models would hide the variables that the two optimizers
must split between them. Each helper opens its own `variable_scope`, so variables read like the
architecture (`generator/deconv2/weights`), and building the same network twice with `reuse=True` shares
them. All tensors are NHWC.

`stddev=None` (or 0) means Glorot-uniform weights (the Keras default the TF2 DCGAN tutorial relies on); a float
means N(0, stddev), as in the DCGAN paper (0.02). Initial values come from the graph-level seed, so a
graph built twice with the same `tf.set_random_seed` starts from the same weights.
"""

from __future__ import annotations

import contextlib

from common.tfcompat import tf, tf2

AVERAGE = "average"  # the scope of the weight average's copies: average/generator/...


def _initializer(stddev):
    if not stddev:  # None or 0
        return tf.glorot_uniform_initializer()
    return tf.random_normal_initializer(stddev=stddev)


def dense(x, units, name, use_bias=True, stddev=None):
    with tf.variable_scope(name):
        w = tf.get_variable("weights", [x.shape[-1], units], initializer=_initializer(stddev))
        y = tf.matmul(x, w)
        if use_bias:
            y = y + tf.get_variable("biases", [units], initializer=tf.zeros_initializer())
        return y


def conv2d(x, filters, kernel, stride, name, padding="SAME", use_bias=True, stddev=None):
    with tf.variable_scope(name):
        shape = [kernel, kernel, x.shape[-1], filters]
        w = tf.get_variable("weights", shape, initializer=_initializer(stddev))
        if _same_conv_pays(kernel, stride, padding):
            y = _same_conv(x, w)
        else:
            y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding)
        if use_bias:
            y = y + tf.get_variable("biases", [filters], initializer=tf.zeros_initializer())
        return y


_GPU_LAYERS = False  # see gpu_layers


def on_cpu():
    """Whether the graphs of this process run on the CPU (no GPU visible, or hidden by --device cpu)."""
    return not _GPU_LAYERS and not tf2.config.get_visible_devices("GPU")


@contextlib.contextmanager
def gpu_layers():
    """Layers built inside take the paths they take on a GPU, wherever this process runs: bench.py
    counts a GPU step's kernels from such a graph."""
    global _GPU_LAYERS
    _GPU_LAYERS = True
    try:
        yield
    finally:
        _GPU_LAYERS = False


def _same_conv_pays(kernel, stride, padding):
    """Whether a layer takes _same_conv: stride 1, SAME, an odd kernel (even ones pad lopsidedly, so
    turning the kernel would shift the output), on a CPU."""
    return stride == 1 and padding == "SAME" and kernel % 2 == 1 and on_cpu()


def _turned(w):
    """The kernel turned round: flipped in space, its in and out channels swapped."""
    return tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])


def _same_conv(x, w):
    """conv2d at stride 1, SAME padding, odd kernel `w` [k, k, in, out], whose input gradient is the
    same conv of the output's gradient with the kernel turned round (flipped in space, in and out
    swapped) instead of TensorFlow's Conv2DBackpropInput. The two are equal in exact arithmetic; on a
    CPU the conv ran 2.6× faster, and a D's stride-1 layers pass a gradient back three times a step
    (its real and fake batches, and G's fake batch)."""

    @tf.custom_gradient
    def conv(x, w):
        def grad(dy):
            dx = tf.nn.conv2d(dy, _turned(w), [1, 1, 1, 1], "SAME")
            dw = tf.nn.conv2d_backprop_filter(x, tf.shape(w), dy, [1, 1, 1, 1], "SAME")
            return dx, dw

        return tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), grad

    return conv(x, w)


def conv2d_transpose(x, filters, kernel, stride, name, padding="SAME", use_bias=True, stddev=None):
    """The output size is fixed by the input size (SAME: in·stride; VALID: (in−1)·stride + kernel),
    so it is computed here rather than asked of the caller.

    Two cases are computed another way, with the same weights and the same sums: from a 1×1 input
    (a cDCGAN's first layer) it is one matmul, and on a CPU at stride 1 with an odd kernel it is an
    ordinary conv with the kernel turned round (see _same_conv). TensorFlow's CPU kernel for a transposed
    conv (Conv2DBackpropInput) ran these 10× and 2.6× slower than the matmul and the conv
    (docs/results.md). On a GPU cuDNN runs either way alike, and turning the kernel would only add
    kernel launches."""
    height, width = int(x.shape[1]), int(x.shape[2])
    if padding == "SAME":
        out_h, out_w = height * stride, width * stride
    else:
        out_h, out_w = (height - 1) * stride + kernel, (width - 1) * stride + kernel
    with tf.variable_scope(name):
        # conv2d_transpose kernels are [h, w, out_channels, in_channels].
        shape = [kernel, kernel, filters, x.shape[-1]]
        w = tf.get_variable("weights", shape, initializer=_initializer(stddev))
        if height == width == 1 and padding == "VALID":  # from one pixel: a projection, as one matmul
            projection = tf.reshape(tf.transpose(w, [3, 0, 1, 2]), [shape[3], out_h * out_w * filters])
            y = tf.matmul(tf.reshape(x, [-1, shape[3]]), projection)
        elif _same_conv_pays(kernel, stride, padding):  # a conv, the kernel turned round
            y = _same_conv(x, _turned(w))
        else:
            out_shape = tf.stack([tf.shape(x)[0], out_h, out_w, filters])
            y = tf.nn.conv2d_transpose(x, w, out_shape, strides=[1, stride, stride, 1], padding=padding)
        y = tf.reshape(y, [-1, out_h, out_w, filters])  # give the batch-free static shape back
        if use_bias:
            y = y + tf.get_variable("biases", [filters], initializer=tf.zeros_initializer())
        return y


def batch_norm(x, training, name, momentum=0.99, epsilon=1e-3, condition=None):
    """Batch norm over every axis but the last.

    In training mode it normalises with the batch's own statistics and puts the moving-average updates
    in `tf.GraphKeys.UPDATE_OPS`, which the training step must run; in inference mode (sample grids,
    `--generate`) it uses the moving averages and updates nothing. `training` is a Python bool: the
    scripts build the generator once per mode rather than switching inside the graph.

    With `condition` (float [batch, classes]: one-hot rows, or a label between digits), the scale and
    shift are each class's own, mixed by those weights (conditional batch norm, de Vries et al. 2017):
    the statistics stay shared, what is made of them depends on the digit.
    """
    channels = x.shape[-1]
    axes = list(range(len(x.shape) - 1))
    with tf.variable_scope(name):
        if condition is None:
            gamma = tf.get_variable("gamma", [channels], initializer=tf.ones_initializer())
            beta = tf.get_variable("beta", [channels], initializer=tf.zeros_initializer())
        else:
            classes = condition.shape[-1]
            class_gamma = tf.get_variable("class_gamma", [classes, channels], initializer=tf.ones_initializer())
            class_beta = tf.get_variable("class_beta", [classes, channels], initializer=tf.zeros_initializer())
            gamma, beta = tf.ones([channels]), tf.zeros([channels])  # the shared normalisation's: none
        stats = dict(trainable=False, collections=[tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.MOVING_AVERAGE_VARIABLES])
        moving_mean = tf.get_variable("moving_mean", [channels], initializer=tf.zeros_initializer(), **stats)
        moving_var = tf.get_variable("moving_variance", [channels], initializer=tf.ones_initializer(), **stats)
        if len(x.shape) == 4:  # one fused kernel for the statistics and the normalisation
            y, mean, var = tf.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                moving_mean if not training else None,
                moving_var if not training else None,
                epsilon=epsilon,
                is_training=training,
            )
            if training:
                n = x.shape[0] * x.shape[1] * x.shape[2]
                var = var * ((n - 1) / n)  # the fused kernel returns the Bessel-corrected variance
        else:
            if training:
                mean, var = tf.nn.moments(x, axes)
            else:
                mean, var = moving_mean, moving_var
            y = tf.nn.batch_normalization(x, mean, var, beta, gamma, epsilon)
        if condition is not None:  # a one-hot row picks its class's values exactly (the other terms are 0)
            shape = [-1] + [1] * (len(x.shape) - 2) + [channels]
            y = y * tf.reshape(tf.matmul(condition, class_gamma), shape) + tf.reshape(tf.matmul(condition, class_beta), shape)
        if training:
            decay = 1.0 - momentum
            tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, moving_mean.assign_sub((moving_mean - mean) * decay))
            tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, moving_var.assign_sub((moving_var - var) * decay))
        return y


def minibatch_closeness(x, kernels, name, dims=5, stddev=0.05, groups=None):
    """For each row of `x` [batch, features] and each of `kernels` learned projections to `dims` numbers,
    how many of the batch's other rows lie close to it: Σ_j≠i exp(−‖m_i − m_j‖²), [batch, kernels].
    One image cannot show that a batch repeats itself; a batch of fakes in which one kind of digit comes
    twice as often as in the data can (minibatch discrimination, Salimans et al. 2016, who use the L1
    distance: the squared one comes from one batched matmul, [kernels, batch, batch], not a batch² ×
    kernels × dims tensor). Each batch is judged on its own, so real and fake batches must not be mixed.
    `stddev`, the projection's initial weights: distances must start near 1–5, where exp(−d) still has a
    gradient (0.05 for 512 features of ~0.5 rms; scale it by √(512 / features) for wider ones).
    `groups` [batch] (a conditional D's labels): only the rows of a row's own group count, so that a
    batch of ten digits is judged on how alike each digit's own images are, not on how alike a 5 is to a 6."""
    with tf.variable_scope(name):
        m = tf.reshape(dense(x, kernels * dims, "projection", use_bias=False, stddev=stddev), [-1, kernels, dims])
        m = tf.transpose(m, [1, 0, 2])  # [kernels, batch, dims]
        squares = tf.reduce_sum(tf.square(m), axis=2, keepdims=True)  # [kernels, batch, 1]
        ones = tf.ones_like(squares)
        # ‖m_i − m_j‖² = [m_i, ‖m_i‖², 1] · [−2 m_j, 1, ‖m_j‖²]: the whole [kernels, batch, batch] table
        # comes out of the matmul, with no broadcast sums to undo in the backward pass.
        left, right = tf.concat([m, squares, ones], axis=2), tf.concat([-2.0 * m, ones, squares], axis=2)
        distance = tf.matmul(left, right, transpose_b=True)  # ≥ 0 but for rounding, whose exp(+ε) ≈ 1 is harmless
        near = tf.exp(-distance)
        if groups is not None:  # [batch, batch] of 1 where both rows are of one group, broadcast over kernels
            near *= tf.cast(tf.equal(groups[:, None], groups[None, :]), near.dtype)
        closeness = tf.reduce_sum(near, axis=2) - 1.0  # less each row's own, exp(0)
        return tf.transpose(closeness)


def lrelu(x, alpha=0.2):
    return tf.nn.leaky_relu(x, alpha=alpha)


def dropout(x, rate, seed, training):
    """Stateless dropout: the mask is a function of `seed` (derived from the global step), so a
    resumed run drops the same units as an uninterrupted one."""
    if not training or rate == 0:
        return x
    return tf2.nn.experimental.stateless_dropout(x, rate=rate, seed=seed)


def trainable_variables(prefix):
    """The trainable variables whose names start with `prefix/` — how each optimizer finds its net."""
    return [v for v in tf.trainable_variables() if v.name.startswith(prefix.rstrip("/") + "/")]


def averaged(enabled=True):
    """Build a network inside this to build its weight average: every variable it creates or reuses is
    a copy named `average/<name>`, not trainable (no optimizer sees it; `gan.average_generator`
    moves it). With `enabled` false the network is built as itself."""
    if not enabled:
        return contextlib.nullcontext()

    def not_trainable(getter, *args, **kwargs):
        kwargs["trainable"] = False
        return getter(*args, **kwargs)

    return tf.variable_scope(AVERAGE, reuse=tf.AUTO_REUSE, custom_getter=not_trainable)


@contextlib.contextmanager
def collect_updates():
    """Yield a list that receives the batch-norm moving-average updates (UPDATE_OPS) of the networks
    built inside: only those, so a step built a second time (inside the loop that runs several steps
    per session.run) depends on its own updates, not on those of the first."""
    known = set(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    updates = []
    yield updates
    updates.extend(op for op in tf.get_collection(tf.GraphKeys.UPDATE_OPS) if op not in known)
