"""Faults injected into tiny runs: a run survives kills, damaged checkpoints, NaN, full disks, a
second process, and a changed model, and says what happened in one line."""

import errno
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers import REPO, TINY, TINY_FC, max_abs_diff, read_history, run_main, weights

import gan_fc
from common import checkpoints, guards, history, images, runs
from common.errors import TrainingFailed
from common.tfcompat import tf

STEPS = ["--epochs", "4", "--steps-per-epoch", "10"]  # 40 steps, a checkpoint every 10

# Five SIGKILLs across the three scripts (they share one loop; each rerun is a process's start-up):
# mid-epoch, on an epoch's last step, and inside the save (after history.csv is written but before
# the checkpoint, and after the checkpoint before the grid). gan_fc meets all three kinds in one run;
# the convolutional two, whose graphs add batch norm and labels, one each.
KILLS = {
    "gan_fc": [("sigkill", 7), ("sigkill-after-history", 10), ("sigkill-after-checkpoint", 30)],
    "gan_dcgan": [("sigkill-after-history", 20)],
    "gan_cdcgan": [("sigkill", 38)],
}


def command(script, out):
    """The same command line every time, as a user would rerun it (shipped MNIST, tiny model)."""
    return [sys.executable, str(REPO / f"{script}.py"), *TINY[script], *STEPS, "--out-dir", str(out)]


@pytest.mark.parametrize("script", list(KILLS))
def test_sigkill_anywhere_then_rerun_matches_an_uninterrupted_run(tmp_path, script):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert run_main(importlib.import_module(script), [*TINY[script], *STEPS, "--out-dir", straight]) == 0
    for point, step in KILLS[script]:
        env = {**os.environ, guards.FAULT_ENV: f"{point}@{step}"}
        result = subprocess.run(command(script, killed), env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == -9, result.stderr  # killed, no handler ran
    with runs.Lock(runs.RunFolder(killed)):  # the killed runs' lock died with them: free at once
        pass
    result = subprocess.run(command(script, killed), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr

    assert max_abs_diff(weights(straight), weights(killed)) <= 1e-5
    rows = read_history(killed)
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 41))  # no gap, no duplicate
    assert rows == read_history(straight)
    for epoch in range(1, 5):
        name = f"samples/epoch_{epoch:04d}.png"
        np.testing.assert_array_equal(images.read_png(straight / name), images.read_png(killed / name))


def test_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "5"]
    assert run_main(gan_fc, [*argv, "--epochs", "3"]) == 0
    data_file = out / "checkpoints" / "ckpt-15.data-00000-of-00001"
    data_file.write_bytes(data_file.read_bytes()[:100])  # a save cut short
    capsys.readouterr()
    assert run_main(gan_fc, [*argv, "--epochs", "4"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("checkpoint ckpt-15 (") and "unreadable; falling back to ckpt-10" in captured.err
    assert "resuming" in captured.out and "step 10" in captured.out
    assert [int(r[0]) for r in read_history(out)[1:]] == list(range(1, 21))


def test_a_history_moved_away_restarts_where_the_run_resumes_even_after_a_kill(tmp_path):
    """Moving history.csv away is allowed; the resumed session must not leave a file without rows (which
    a later resume reads as damage) when it is killed before its first epoch's rows are written."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--out-dir", out, "--steps-per-epoch", "5"]  # the shipped MNIST: a real process reads it
    assert run_main(gan_fc, [*argv, "--epochs", "2"]) == 0
    (out / "history.csv").rename(tmp_path / "history-mine.csv")
    line = [sys.executable, str(REPO / "gan_fc.py"), *map(str, argv), "--epochs", "3"]
    killed = subprocess.run(line, env={**os.environ, guards.FAULT_ENV: "sigkill@13"}, capture_output=True, timeout=300)
    assert killed.returncode == -9 and not (out / "history.csv").exists()
    assert run_main(gan_fc, [*argv, "--epochs", "3"]) == 0
    assert [int(r[0]) for r in read_history(out)[1:]] == list(range(11, 16))
    assert (tmp_path / "history-mine.csv").read_text().count("\n") == 11  # the user's copy untouched


def test_a_cut_write_s_temporary_files_go_at_the_next_start_and_no_user_file_with_them(tmp_path):
    """Checkpoints.restore, where every session starts: TensorFlow's `.tempstate<n>` files of a write a
    crash cut short go, in checkpoints/ and best/; files of other names stay."""
    run = runs.RunFolder(tmp_path / "run")
    run.best.mkdir(parents=True)
    cut = [run.checkpoints / "ckpt-10.index.tempstate8812", run.best / "ckpt-5.data-00000-of-00001.tempstate3"]
    mine = [run.checkpoints / "ckpt-10.index.tempstate-notes", run.best / "ckpt.tempstate1", run.checkpoints / "notes.tempstate2"]
    for path in (*cut, *mine):
        path.write_text("x")
    with tf.Graph().as_default():
        tf.get_variable("w", [1])
        saver = tf.train.Saver()
        with tf.Session() as sess:
            assert checkpoints.Checkpoints(run, saver, tf.constant(True)).restore(sess) is None  # nothing to restore
    assert not any(p.exists() for p in cut) and all(p.read_text() == "x" for p in mine)


def test_damaged_index_file_falls_back_too(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "5"]
    assert run_main(gan_fc, [*argv, "--epochs", "2"]) == 0
    (out / "checkpoints" / "ckpt-10.index").write_bytes(b"\x00garbage")
    assert run_main(gan_fc, [*argv, "--epochs", "2"]) == 0
    assert "ckpt-10 (" in capsys.readouterr().err


@pytest.mark.parametrize(
    "lr, extra, words",
    [
        ("1e8", [], "training diverged at step 4 (epoch 2): d_loss"),  # the losses of step 4 are NaN/Inf
        ("1e6", [], "weights became NaN or Inf by step 4"),  # step 4's losses were finite, its update was not
    ],
)
def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_mnist, capsys, lr, extra, words):
    """A huge learning rate makes this tiny run blow up in epoch 2, after the checkpoint of step 2 (the
    classic networks: batch norm in G holds the default's losses finite a step longer)."""
    out = tmp_path / "run"
    argv = [
        *TINY_FC,
        *gan_fc.CLASSIC.split(),
        "--data-dir",
        tiny_mnist,
        "--out-dir",
        out,
        "--steps-per-epoch",
        "2",
        "--lr",
        lr,
        *extra,
    ]
    code = run_main(gan_fc, argv)
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert words in err and "ckpt-2, is intact" in err
    assert checkpoints.steps(out / "checkpoints") == [2]
    saved = weights(out)
    assert all(np.all(np.isfinite(v)) for v in saved.values() if v.dtype.kind == "f")
    assert [int(r[0]) for r in read_history(out)[1:]] == [1, 2]


@pytest.mark.parametrize("in_a_thread", [False, True])
def test_weights_that_are_not_finite_are_never_saved(tmp_path, in_a_thread):
    with tf.Graph().as_default():
        w = tf.Variable([1.0, np.nan])
        finite = tf.reduce_all(tf.is_finite(w))
        saver = tf.train.Saver()
        snapshot = checkpoints.snapshot_of([w]) if in_a_thread else None
        run = runs.RunFolder(tmp_path)
        run.checkpoints.mkdir()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with pytest.raises(TrainingFailed, match="NaN or Inf by step 5"):
                checkpoints.Checkpoints(run, saver, finite, snapshot).save(sess, 5, [])
    assert not list(run.checkpoints.iterdir())


def test_a_checkpoint_written_in_the_thread_holds_the_weights_of_its_step(tmp_path, monkeypatch):
    """The saving thread writes while training goes on: what it writes is the copy taken at the save,
    under the variables' own names, and history.csv's rows land before the checkpoint."""
    with tf.Graph().as_default():
        w = tf.get_variable("w", initializer=np.arange(6, dtype=np.float32).reshape(2, 3))
        step = tf.get_variable("global_step", initializer=np.int64(0))
        train = tf.group(w.assign_add(tf.ones_like(w)), step.assign_add(1))
        finite = tf.reduce_all(tf.is_finite(w))
        saver = tf.train.Saver(max_to_keep=checkpoints.KEEP)
        snapshot = checkpoints.snapshot_of([w, step])
        run = runs.RunFolder(tmp_path)
        run.checkpoints.mkdir()
        saved = checkpoints.Checkpoints(run, saver, finite, snapshot)
        writing, release, real_save = threading.Event(), threading.Event(), tf.train.Saver.save
        seen_history = []

        def slow_save(self, *args, **kwargs):
            seen_history.append(run.history.read_text())
            writing.set()
            release.wait(10)
            return real_save(self, *args, **kwargs)

        monkeypatch.setattr(tf.train.Saver, "save", slow_save)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            history.write(run.history, [])
            sess.run(train)
            rows = history.rows(1, 1, np.ones((1, len(history.STEP_METRICS))))
            saved.save(sess, 1, rows)
            assert writing.wait(10)
            sess.run(train)  # training goes on while the checkpoint is written
            sess.run(train)
            release.set()
            saved.finish()
            assert saved.last_saved == 1
            live = sess.run(w)
    path = str(run.checkpoints / "ckpt-1")
    assert sorted(name for name, _ in tf.train.list_variables(path)) == ["global_step", "w"]
    np.testing.assert_array_equal(tf.train.load_variable(path, "w"), np.arange(6).reshape(2, 3) + 1)
    assert tf.train.load_variable(path, "global_step") == 1
    np.testing.assert_array_equal(live, np.arange(6).reshape(2, 3) + 3)
    assert seen_history[0].count("\n") == 2  # the header and step 1's row, before the checkpoint


def test_a_failed_save_in_the_thread_stops_the_next_epoch_at_once(tmp_path, tiny_mnist, monkeypatch, capsys):
    """The checkpoint is written while the next epoch trains; its failure ends that epoch at the next
    step, not at its end, and nothing after the failed save is written."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "20", "--epochs", "3"]
    steps_run = []

    def full_disk(self, sess, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    real_check = checkpoints.Checkpoints.check

    def counting_check(self):
        steps_run.append(1)
        return real_check(self)

    with monkeypatch.context() as mp:
        mp.setattr(tf.train.Saver, "save", full_disk)
        mp.setattr(checkpoints.Checkpoints, "check", counting_check)
        assert run_main(gan_fc, argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "saving step 20" in err and "no checkpoint of this run had been saved yet" in err
    assert len(steps_run) < 40  # stopped inside the second epoch
    assert not checkpoints.steps(out / "checkpoints") and not (out / "samples" / "epoch_0002.png").exists()


def test_ctrl_c_while_the_last_checkpoint_is_written_does_not_cut_it_short(tmp_path, tiny_mnist, monkeypatch, capsys):
    """The last epoch's checkpoint is written in the saving thread after the loop's last step: the
    signals stay caught until it is on disk (a Ctrl-C there once raised KeyboardInterrupt in the wait)."""
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "2", "--epochs", "2"]
    real_save, real_finish, waiting = tf.train.Saver.save, checkpoints.Checkpoints.finish, threading.Event()

    def finish(self, quiet=False):
        waiting.set()
        return real_finish(self, quiet)

    def ctrl_c_at_the_last_save(self, sess, path, global_step=None, **kwargs):
        if global_step == 4:
            assert waiting.wait(10)  # the loop is over and waits for this save
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)  # the handler runs in the main thread meanwhile
        return real_save(self, sess, path, global_step=global_step, **kwargs)

    monkeypatch.setattr(checkpoints.Checkpoints, "finish", finish)
    monkeypatch.setattr(tf.train.Saver, "save", ctrl_c_at_the_last_save)
    assert run_main(gan_fc, argv) == 0  # the training was complete: nothing to stop
    assert "done" in capsys.readouterr().out
    assert checkpoints.steps(out / "checkpoints") == [2, 4]


# A full disk as each writer reports it: TensorFlow's saver as a ResourceExhaustedError whose message
# carries the node and a hint about GPU memory (what TF 2.21 prints), Python's file writes as OSError.
TF_FULL_DISK = (
    "{out}/checkpoints/ckpt-6_temp/part-00000-of-00001.data-00000-of-00001.tempstate86; No space left on device\n"
    "\t [[{{{{node save/SaveV2}}}}]]\nHint: If you want to see a list of allocated tensors when OOM happens, add "
    "report_tensor_allocations_upon_oom to RunOptions for current allocation info.\n"
)
FULL_DISK = {
    "checkpoint": (
        tf.train.Saver,
        "save",
        lambda out: tf.errors.ResourceExhaustedError(None, None, TF_FULL_DISK.format(out=out)),
    ),
    "checkpoint, as a graph execution error": (
        tf.train.Saver,
        "save",
        lambda out: tf.errors.ResourceExhaustedError(
            None, None, "Graph execution error:\n\nDetected at node 'save/SaveV2':\n" + TF_FULL_DISK.format(out=out)
        ),
    ),
    "history.csv": (history, "append", lambda out: OSError(errno.ENOSPC, "No space left on device")),
}


@pytest.mark.parametrize("writer", list(FULL_DISK))
def test_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, tiny_mnist, monkeypatch, capsys, writer):
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "3", "--epochs", "3"]
    owner, name, error = FULL_DISK[writer]
    real, calls = getattr(owner, name), []

    def write_until_the_disk_fills(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second epoch's save
            raise error(out)
        return real(*args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(owner, name, write_until_the_disk_fills)
        assert run_main(gan_fc, argv) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "saving step 6" in err and "No space left on device" in err and "ckpt-3, is intact" in err
    assert "node" not in err and "OOM" not in err
    assert checkpoints.steps(out / "checkpoints") == [3]
    assert run_main(gan_fc, argv) == 0  # space freed: the same command resumes from step 3
    assert "resuming" in capsys.readouterr().out


def test_too_little_free_space_is_refused_before_training(tmp_path, tiny_mnist, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 * 2**30, 10 * 2**30 - 2**20, 2**20))
    out = tmp_path / "run"
    assert run_main(gan_fc, [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out]) == 2
    err = capsys.readouterr().err
    assert "only 1 MiB free" in err and "checkpoints of" in err
    assert not list((out / "checkpoints").iterdir()) and not (out / "history.csv").exists()


def test_unwritable_out_dir_is_refused_before_training(tmp_path, tiny_mnist, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run_main(gan_fc, [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", blocker / "run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan_fc.py: error: cannot write to") and "--out-dir" in err


def test_a_second_run_on_the_same_folder_is_refused(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with runs.Lock(runs.RunFolder(out)):  # as if another process were training there
        code = run_main(gan_fc, [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--fresh"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"pid {os.getpid()}" in err and "in use by a running training" in err
    assert (
        run_main(gan_fc, [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "2", "--epochs", "1"]) == 0
    )


def test_checkpoint_of_another_architecture_lists_the_differences(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "2", "--epochs", "1"]
    assert run_main(gan_fc, argv) == 0
    (out / "config.json").unlink()  # no record of the settings: the checkpoint itself must tell
    assert run_main(gan_fc, [*argv, "--g-hidden", "48"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is of another model" in err and "generator/fc1/weights is [8, 32] there, [8, 48] here" in err
    assert "--fresh" in err and "Traceback" not in err
    assert run_main(gan_fc, [*argv, "--g-hidden", "48", "--fresh"]) == 0


def test_damaged_config_json_is_named(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--out-dir", out, "--steps-per-epoch", "2", "--epochs", "1"]
    assert run_main(gan_fc, argv) == 0
    (out / "config.json").write_text('{"hparams": {"lr": ')
    assert run_main(gan_fc, argv) == 2
    assert "config.json is damaged" in capsys.readouterr().err


# The moments of an epoch's end at which a crash could leave checkpoints/best/ undecided or half
# written: after the checkpoint (best/ not yet looked at), after best/'s new files (the record still
# names the old best), after the record (the old best's files not yet removed).
BEST_MOMENTS = ["sigkill-after-checkpoint", "sigkill-after-best-files", "sigkill-after-best-record"]
WITH_EVALUATION = [*TINY_FC, "--epochs", "2", "--steps-per-epoch", "5", "--eval-every", "1"]


@pytest.fixture(scope="module")
def evaluated_straight(tmp_path_factory):
    """A tiny FC run evaluated each epoch (the shipped classifier), never stopped; its last epoch is the best."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert run_main(gan_fc, [*WITH_EVALUATION, "--out-dir", out]) == 0
    assert json.loads((out / "checkpoints/best/best.json").read_text())["step"] == 10  # so the kills below happen
    return out


@pytest.mark.parametrize("moment", BEST_MOMENTS)
def test_a_crash_around_the_best_checkpoint_resumes_to_the_uninterrupted_best(tmp_path, evaluated_straight, moment):
    killed = tmp_path / "killed"
    env = {**os.environ, guards.FAULT_ENV: f"{moment}@10"}  # the last epoch's end: a rerun must not call it finished
    argv = [*WITH_EVALUATION, "--out-dir", str(killed)]
    result = subprocess.run(
        [sys.executable, str(REPO / "gan_fc.py"), *argv], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == -9, result.stderr
    assert run_main(gan_fc, argv) == 0

    def best(run):
        record = json.loads((run / "checkpoints/best/best.json").read_text())
        return record, sorted(p.name for p in (run / "checkpoints/best").iterdir())

    (record, names), (expected, expected_names) = best(killed), best(evaluated_straight)
    assert names == expected_names and record["step"] == expected["step"] == 10
    assert record["fd"] == pytest.approx(expected["fd"], rel=1e-5)

    def best_weights(run):
        reader = tf.train.load_checkpoint(str(run / "checkpoints/best/ckpt-10"))
        return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}

    assert max_abs_diff(best_weights(evaluated_straight), best_weights(killed)) <= 1e-5
