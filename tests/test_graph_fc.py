"""gan_fc's graph: scopes, the optimizers' variable lists, and which variables one step changes."""

import numpy as np
import pytest
from conftest import TINY_FC

import gan_fc
from common import flags, ops, training
from common.tfcompat import tf


def build(argv=TINY_FC, n=64):
    args = flags.parse("t", flags.hyperparameters(vars(gan_fc)), argv)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        rng = np.random.default_rng(0)
        dataset = training.Dataset(
            images=tf.Variable(rng.uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32), trainable=False),
            labels=tf.Variable(rng.integers(0, 10, n).astype(np.int32), trainable=False),
            size=n,
            steps_per_epoch=n // args.batch_size,
        )
        model = gan_fc.build_graph(args, dataset)
    return graph, model


@pytest.fixture(scope="module")
def fc():
    return build()


def test_variable_lists_are_disjoint_and_cover_every_trainable_variable(fc):
    graph, _ = fc
    with graph.as_default():
        g_vars, d_vars = ops.trainable_variables("generator"), ops.trainable_variables("discriminator")
        assert g_vars and d_vars
        assert not set(g_vars) & set(d_vars)
        assert set(g_vars) | set(d_vars) == set(tf.trainable_variables())
        assert all("generator/" in v.name for v in g_vars) and len(g_vars) == 6  # 3 dense layers
        assert len(d_vars) == 6


def test_architecture_matches_the_comment():
    graph, _ = build([])  # the real sizes
    with graph.as_default():
        shapes = {v.name: v.shape.as_list() for v in tf.trainable_variables() if "weights" in v.name}
    assert shapes == {
        "generator/fc1/weights:0": [96, 1024],
        "generator/fc2/weights:0": [1024, 1024],
        "generator/fc3/weights:0": [1024, 784],
        "discriminator/fc1/weights:0": [784, 256],
        "discriminator/fc2/weights:0": [256, 256],
        "discriminator/fc3/weights:0": [256, 1],
    }


def _values(sess, variables):
    return [sess.run(v) for v in variables]


def test_d_step_changes_only_d_and_the_full_step_adds_only_a_g_update(fc, tmp_path):
    graph, model = fc
    with graph.as_default():
        g_vars, d_vars = ops.trainable_variables("generator"), ops.trainable_variables("discriminator")
        step = tf.train.get_global_step()
        init = tf.global_variables_initializer()
        state = tf.global_variables()
        saver = tf.train.Saver(state)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        g0, d0 = _values(sess, g_vars), _values(sess, d_vars)
        saver.save(sess, str(tmp_path / "ckpt"), write_meta_graph=False)
        sess.run(model.d_step)
        g1, d1 = _values(sess, g_vars), _values(sess, d_vars)
        assert all(np.array_equal(a, b) for a, b in zip(g0, g1, strict=True)), "a D step moved G"
        assert all(not np.array_equal(a, b) for a, b in zip(d0, d1, strict=True)), "a D step left some D weight alone"
        assert sess.run(step) == 0

        saver.restore(sess, str(tmp_path / "ckpt"))
        sess.run(model.train_op)
        g2, d2 = _values(sess, g_vars), _values(sess, d_vars)
        # The full step's D update is exactly the D step: the G update that follows leaves D alone.
        assert all(np.array_equal(a, b) for a, b in zip(d1, d2, strict=True))
        assert all(not np.array_equal(a, b) for a, b in zip(g0, g2, strict=True)), "the G update left some G weight alone"
        assert sess.run(step) == 1


def test_step_metrics_are_finite_probabilities(fc):
    graph, model = fc
    with graph.as_default():
        init = tf.global_variables_initializer()
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        _, m = sess.run([model.train_op, model.metrics])
    assert set(m) == set(training.HISTORY_COLUMNS[2:])
    assert all(np.isfinite(v) for v in m.values())
    assert 0 < m["d_real"] < 1 and 0 < m["d_fake"] < 1


def test_batches_cover_each_epoch_once_in_a_new_order():
    """Within an epoch every example is drawn once; the next epoch uses another permutation."""
    with tf.Graph().as_default():
        n, b = 40, 8
        ds = training.Dataset(images=tf.range(n), labels=tf.range(n), size=n, steps_per_epoch=n // b)
        step = tf.placeholder(tf.int64, [])
        idx, _ = training.batch(ds, step, b, seed=3)
        with tf.Session() as sess:
            epochs = [np.concatenate([sess.run(idx, {step: e * 5 + s}) for s in range(5)]) for e in range(2)]
            again = sess.run(idx, {step: 7})
    assert sorted(epochs[0]) == list(range(n)) and sorted(epochs[1]) == list(range(n))
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(again, epochs[1][16:24])  # a step's batch depends on the step alone
