"""Promises that span restarts of a run: the last checkpoints kept, and what TensorBoard shows."""

import time

import pytest
from helpers import TINY_FC, read_history, run_main

import gan_fc
from common import checkpoints
from common.tfcompat import tf


def test_only_the_newest_checkpoints_survive_restarts(tmp_path, tiny_mnist):
    """TensorFlow's saver only deletes the checkpoints it saved itself; a resumed process must adopt the
    ones already on disk, or each restart leaves its predecessor's behind for good."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "2"]
    for epochs in (2, 4, 5):
        assert run_main(gan_fc, [*argv, "--epochs", epochs]) == 0
    assert checkpoints.steps(out / "checkpoints") == [2, 4, 6, 8, 10][-checkpoints.KEEP :]


def tensorboard_scalars(logs, tag):
    """{step: [values]} of `tag` as TensorBoard shows it: the event files in name order (TensorBoard's
    DirectoryWatcher), and at a SessionLog START of step s the events seen so far at step s or later
    are purged (event_accumulator._Purge keeps `x.step < event.step`)."""
    seen = []  # (step, value)
    for path in sorted(logs.glob("events.out.tfevents.*")):
        for event in tf.train.summary_iterator(str(path)):
            if event.HasField("session_log") and event.session_log.status == tf.SessionLog.START:
                seen = [(step, value) for step, value in seen if step < event.step]
            for value in event.summary.value:
                if value.tag == tag:
                    seen.append((event.step, value.simple_value))
    series = {}
    for step, value in seen:
        series.setdefault(step, []).append(value)
    return series


def test_tensorboard_shows_each_step_once_after_a_resume_that_replays_steps(tmp_path, tiny_mnist):
    """A damaged newest checkpoint (ckpt-15) sends the resume back to ckpt-10: steps 11-15 are trained
    and logged again, and TensorBoard must show the second run's values only, each step once."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "5"]
    assert run_main(gan_fc, [*argv, "--epochs", "3"]) == 0
    # An event file is named by the second its writer opened, and a writer opened in the same second
    # truncates it: let the resumed writer open in a later second than the first one.
    (first,) = (out / "logs").glob("events.out.tfevents.*")
    time.sleep(max(0.0, int(first.name.split(".")[3]) + 1.05 - time.time()))
    data_file = out / "checkpoints" / "ckpt-15.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:100])
    assert run_main(gan_fc, [*argv, "--epochs", "4"]) == 0

    rows = read_history(out)
    column = rows[0].index("d_loss")
    history = {int(r[0]): float(r[column]) for r in rows[1:]}
    assert list(history) == list(range(1, 21))
    shown = tensorboard_scalars(out / "logs", "d_loss")
    assert sorted(shown) == list(history)
    assert all(len(values) == 1 for values in shown.values()), {s: v for s, v in shown.items() if len(v) > 1}
    assert {step: values[0] for step, values in shown.items()} == pytest.approx(history, rel=1e-5)  # history.csv: 6 digits
