"""Layer helpers: output shapes, variable names, batch norm's two modes, stateless dropout, minibatch closeness."""

import numpy as np
import pytest

from common import ops
from common.tfcompat import tf


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        tf.set_random_seed(0)
        yield g


def _run(fetches, init=True, feed=None):
    with tf.Session() as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


@pytest.mark.parametrize(
    "make, out_shape",
    [
        (lambda x: ops.conv2d(x, 8, 5, 2, "c"), (3, 14, 14, 8)),
        (lambda x: ops.conv2d(x, 4, 7, 1, "c", padding="VALID"), (3, 22, 22, 4)),
        (lambda x: ops.conv2d_transpose(x, 8, 5, 2, "d"), (3, 56, 56, 8)),
        (lambda x: ops.conv2d_transpose(x[:, :1, :1, :], 16, 7, 1, "d", padding="VALID"), (3, 7, 7, 16)),
        (lambda x: ops.dense(tf.reshape(x, [-1, 28 * 28]), 10, "fc"), (3, 10)),
    ],
)
def test_shapes_static_and_run(graph, make, out_shape):
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    y = make(x)
    assert tuple(y.shape.as_list()[1:]) == out_shape[1:]
    assert _run(y, feed={x: np.zeros((3, 28, 28, 1), np.float32)}).shape == out_shape


def test_variables_are_named_like_the_architecture(graph):
    with tf.variable_scope("generator"):
        ops.conv2d_transpose(tf.zeros([2, 7, 7, 4]), 3, 5, 2, "deconv2", stddev=0.02)
        ops.dense(tf.zeros([2, 5]), 3, "fc1", use_bias=False)
    names = sorted(v.name for v in tf.global_variables())
    assert names == ["generator/deconv2/biases:0", "generator/deconv2/weights:0", "generator/fc1/weights:0"]
    assert tf.global_variables()[0].shape.as_list() == [5, 5, 3, 4]  # transposed kernels: [h, w, out, in]


@pytest.mark.parametrize(
    "layer, shape, reference",
    [  # each with TensorFlow's own op on the same weights (reference: x, w -> y without the bias)
        (
            lambda x: ops.conv2d(x, 6, 3, 1, "l", use_bias=False),
            [4, 7, 7, 5],
            lambda x, w: tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"),
        ),
        (
            lambda x: ops.conv2d_transpose(x, 6, 3, 1, "l", use_bias=False),
            [4, 7, 7, 5],
            lambda x, w: tf.nn.conv2d_transpose(x, w, [4, 7, 7, 6], [1, 1, 1, 1], "SAME"),
        ),
        (
            lambda x: ops.conv2d_transpose(x, 6, 7, 1, "l", padding="VALID", use_bias=False),
            [4, 1, 1, 5],
            lambda x, w: tf.nn.conv2d_transpose(x, w, [4, 7, 7, 6], [1, 1, 1, 1], "VALID"),
        ),
    ],
    ids=["conv stride 1", "transposed conv stride 1", "transposed conv from 1x1"],
)
def test_layers_computed_another_way_match_tensorflows_own_op_and_its_gradients(graph, layer, shape, reference, monkeypatch):
    """The fast paths (a matmul, a conv with the kernel turned round, its hand-written input gradient)
    give what TensorFlow's own op gives, forward and backward, and leave no transposed-conv kernel
    (Conv2DBackpropInput, the slow one on a CPU) in the graph."""
    monkeypatch.setattr(ops, "on_cpu", lambda: True)  # the CPU's paths, also where a GPU is visible
    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(*shape).astype(np.float32))
    y = layer(x)
    (w,) = tf.global_variables()
    upstream = tf.constant(rng.randn(*y.shape.as_list()).astype(np.float32))  # a loss's gradient at y
    ours = [y, *tf.gradients(tf.reduce_sum(y * upstream), [x, w])]
    assert "Conv2DBackpropInput" not in {op.type for op in tf.get_default_graph().get_operations()}
    y_ref = reference(x, w)
    theirs = [y_ref, *tf.gradients(tf.reduce_sum(y_ref * upstream), [x, w])]
    for a, b in zip(*_run([ours, theirs]), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_a_gpu_keeps_tensorflows_own_kernels_for_stride_1_layers(graph):
    """Where cuDNN runs a transposed conv as fast as a conv, turning the kernel would only add launches;
    `gpu_layers` builds as a GPU would, anywhere (bench.py's GPU projection), and only inside."""
    x = tf.zeros([2, 7, 7, 4])
    here = ops.on_cpu()
    with ops.gpu_layers():
        ops.conv2d_transpose(x, 3, 3, 1, "gpu")
    types = {op.type for op in tf.get_default_graph().get_operations() if op.name.startswith("gpu/")}
    assert "Conv2DBackpropInput" in types and "ReverseV2" not in types
    assert ops.on_cpu() == here  # this machine's paths again after the block


def test_normal_init_has_the_requested_stddev(graph):
    w = ops.dense(tf.zeros([1, 400]), 400, "fc", stddev=0.02)
    weights = _run(tf.trainable_variables()[0])
    assert np.std(weights) == pytest.approx(0.02, rel=0.05)
    assert w.shape.as_list() == [1, 400]


def test_batch_norm_training_mode_normalises_and_updates_moving_averages(graph):
    x = tf.constant(np.random.default_rng(0).normal(3.0, 2.0, (64, 5, 5, 4)), tf.float32)
    y = ops.batch_norm(x, training=True, name="bn", momentum=0.9)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    moving_mean, moving_var = [v for v in tf.global_variables() if "moving" in v.name]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y)
        np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
        np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-2)
        np.testing.assert_array_equal(sess.run(moving_mean), 0)  # running y alone updates nothing
        sess.run(updates)
        batch_mean = sess.run(tf.reduce_mean(x, axis=[0, 1, 2]))
        np.testing.assert_allclose(sess.run(moving_mean), 0.1 * batch_mean, rtol=1e-5)
        batch_var = sess.run(tf.reduce_mean(tf.square(x - batch_mean), axis=[0, 1, 2]))  # biased, as normalised
        np.testing.assert_allclose(sess.run(moving_var), 0.9 * 1.0 + 0.1 * batch_var, rtol=1e-5)


def test_batch_norm_inference_mode_uses_the_moving_averages(graph):
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("net", reuse=tf.AUTO_REUSE):  # as the scripts build G once per mode
        ops.batch_norm(x, training=True, name="bn")
        y = ops.batch_norm(x, training=False, name="bn")
        gamma, beta, mean, var = (tf.get_variable(f"bn/{n}") for n in ("gamma", "beta", "moving_mean", "moving_variance"))
    assert len(tf.global_variables()) == 4
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS)  # only the training-mode copy adds updates
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(
            [mean.assign([1.0, 2.0, 3.0]), var.assign([4.0, 1.0, 0.25]), gamma.assign([2.0, 2.0, 2.0]), beta.assign([0.5, 0, 0])]
        )
        out = sess.run(y, {x: [[1.0, 2.0, 3.0], [3.0, 3.0, 3.5]]})
    expected = (np.array([[0, 0, 0], [2.0, 1.0, 0.5]]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-3)) * 2 + [0.5, 0, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_stateless_dropout_repeats_for_a_seed_and_is_off_at_inference(graph):
    x = tf.ones([1000])
    seed = tf.constant([1, 2], tf.int64)
    a, b = ops.dropout(x, 0.3, seed, training=True), ops.dropout(x, 0.3, seed, training=True)
    other = ops.dropout(x, 0.3, tf.constant([1, 3], tf.int64), training=True)
    assert ops.dropout(x, 0.3, seed, training=False) is x
    va, vb, vo = _run([a, b, other], init=False)
    np.testing.assert_array_equal(va, vb)
    assert not np.array_equal(va, vo)
    assert 0.2 < np.mean(va == 0) < 0.4


def test_minibatch_closeness_counts_each_rows_close_neighbours_in_its_batch(graph):
    """Σ_j≠i exp(−‖m_i − m_j‖²) over the learned projection m: the formula checked against numpy, and
    a batch that repeats one row reads closer for exactly those rows."""
    x = tf.placeholder(tf.float32, [None, 6])
    y = ops.minibatch_closeness(x, kernels=3, name="mb", dims=2)
    projection = tf.trainable_variables()[0]
    rng = np.random.default_rng(0)
    batch = rng.normal(0, 1, (5, 6)).astype(np.float32)
    repeated = batch.copy()
    repeated[3] = repeated[4] = repeated[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, out = sess.run([projection, y], {x: batch})
        out_repeated = sess.run(y, {x: repeated})
    m = (batch @ w).reshape(5, 3, 2)
    distance = ((m[:, None] - m[None]) ** 2).sum(-1)  # [row, other row, kernel]
    expected = np.exp(-distance).sum(1) - 1.0
    assert w.shape == (6, 3 * 2) and out.shape == (5, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    assert np.all(out_repeated[[0, 3, 4]] >= 2.0 - 1e-5)  # two exact copies each: exp(0) twice
    assert np.all(out_repeated[[0, 3, 4]] > out[[0, 3, 4]])


def test_minibatch_closeness_by_group_counts_only_a_rows_own_group(graph):
    """With `groups` (a conditional D's digits), the sum runs over the rows of one's own group alone: the
    formula against numpy with the mask, and a row alone in its group reads 0 however close the others lie."""
    x, groups = tf.placeholder(tf.float32, [None, 6]), tf.placeholder(tf.int32, [None])
    y = ops.minibatch_closeness(x, kernels=3, name="mb", dims=2, groups=groups)
    projection = tf.trainable_variables()[0]
    batch = np.random.default_rng(1).normal(0, 0.3, (6, 6)).astype(np.float32)
    digits = np.array([5, 3, 5, 5, 7, 3])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, out = sess.run([projection, y], {x: batch, groups: digits})
    m = (batch @ w).reshape(6, 3, 2)
    near = np.exp(-((m[:, None] - m[None]) ** 2).sum(-1)) * (digits[:, None] == digits[None])[..., None]
    np.testing.assert_allclose(out, near.sum(1) - 1.0, rtol=1e-4, atol=1e-6)
    assert np.allclose(out[4], 0.0, atol=1e-6) and np.all(out[[0, 2, 3]] > 0.1)  # the 7 has no other 7
