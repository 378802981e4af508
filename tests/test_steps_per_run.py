"""--steps-per-run K: K training steps per session.run (a tf.while_loop) learn exactly what K single
steps learn, record every step, and stop at a diverged step as a single step would."""

import importlib

import numpy as np
import pytest
from helpers import TINY, build_training_graph, max_abs_diff, read_history, run_main, weights

from common import gan, history, images
from common.tfcompat import tf


def run(script, out, data_dir, *extra):
    return run_main(importlib.import_module(script), [*TINY[script], "--data-dir", data_dir, "--out-dir", out, *extra])


@pytest.mark.parametrize("script", list(TINY))
def test_several_steps_per_run_learn_bit_for_bit_what_single_steps_learn(tmp_path, tiny_mnist, script):
    """7 steps an epoch in runs of 3 (3 + 3 + 1: a run never crosses an epoch's end)."""
    single, several = tmp_path / "single", tmp_path / "several"
    steps = ["--epochs", "2", "--steps-per-epoch", "7"]
    assert run(script, single, tiny_mnist, *steps, "--steps-per-run", "1") == 0
    assert run(script, several, tiny_mnist, *steps, "--steps-per-run", "3") == 0
    assert max_abs_diff(weights(single), weights(several)) == 0
    rows = read_history(several)
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 15)) and rows == read_history(single)
    for epoch in (1, 2):
        name = f"samples/epoch_{epoch:04d}.png"
        np.testing.assert_array_equal(images.read_png(single / name), images.read_png(several / name))


@pytest.mark.parametrize("script", list(TINY))
def test_the_loop_of_k_steps_equals_k_runs_of_the_step_alone(script):
    graph, step, init, _ = build_training_graph(script, TINY[script])
    with graph.as_default():
        count = tf.placeholder(tf.int32, [])
        done, recorded = gan.repeat_steps(step.train_step, count, history.STEP_METRICS)
        variables = tf.global_variables()
    results = []
    for use_loop in (False, True):
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            if use_loop:
                n, metrics = sess.run([done, recorded], {count: 3})
                assert n == 3
            else:
                metrics = [sess.run([step.train_op, step.metrics])[1] for _ in range(3)]
                metrics = np.array([[m[k] for k in history.STEP_METRICS] for m in metrics], np.float32)
            results.append((metrics, sess.run(variables)))
    (plain_metrics, plain_vars), (loop_metrics, loop_vars) = results
    np.testing.assert_array_equal(plain_metrics, loop_metrics)
    for a, b in zip(plain_vars, loop_vars, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_diverged_step_inside_a_run_stops_training_at_that_step(tmp_path, tiny_mnist, capsys):
    argv = ["--steps-per-epoch", "8", "--lr", "1e8"]
    assert run("gan_fc", tmp_path / "single", tiny_mnist, *argv, "--steps-per-run", "1") == 1
    single = capsys.readouterr().err
    assert run("gan_fc", tmp_path / "several", tiny_mnist, *argv, "--steps-per-run", "8") == 1
    several = capsys.readouterr().err
    assert "training diverged at step" in single and several == single
    step = int(single.split("training diverged at step ")[1].split()[0])
    assert step % 8  # inside a run of 8, not at its end
