"""gan_fc end to end on tiny data: every output, exact resume, Ctrl-C, --generate, and clean errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, TINY_FC, max_abs_diff, read_history, run_main, weights
from PIL import Image

import gan_fc
from common import checkpoints, flags, guards, history, images, names, runs
from common.tfcompat import tf


def fc(out, data_dir, *extra):
    return run_main(gan_fc, [*TINY_FC, "--data-dir", data_dir, "--out-dir", out, *extra])


def test_a_run_writes_every_output(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "3", "--steps-per-epoch", "10") == 0
    printed = capsys.readouterr().out
    assert printed.count("epoch ") == 3 and "D(G(z))" in printed

    config = json.loads((out / "config.json").read_text())
    assert config["hparams"]["g_hidden"] == 32 and config["seed"] == 0 and config["tensorflow"] == tf.VERSION
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png", "epoch_0003.png"]
    with Image.open(out / "samples" / "epoch_0001.png") as im:
        assert im.size == (8 * (28 + images.PAD) + images.PAD,) * 2
    rows = read_history(out)
    assert rows[0] == list(history.COLUMNS)
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 31))
    for name in ("losses.png", "progress.gif"):
        assert (out / name).stat().st_size > 0
    with Image.open(out / "progress.gif") as gif:
        assert gif.n_frames == 3
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-30")
    assert len(list((out / "checkpoints").glob("*.index"))) == checkpoints.KEEP
    events = list((out / "logs").glob("events.out.tfevents.*"))
    tags = {v.tag for e in tf.train.summary_iterator(str(events[0])) for v in e.summary.value}
    assert {"d_loss", "g_loss", "d_real", "d_fake", "samples"} <= tags


def test_fixed_noise_grid_is_the_same_across_runs_and_changes_with_training(tmp_path, tiny_mnist):
    a, b = tmp_path / "a", tmp_path / "b"
    assert fc(a, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "5") == 0
    assert fc(b, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "5") == 0
    first = images.read_png(a / "samples" / "epoch_0001.png")
    np.testing.assert_array_equal(first, images.read_png(b / "samples" / "epoch_0001.png"))
    assert not np.array_equal(first, images.read_png(a / "samples" / "epoch_0002.png"))


def test_resume_is_exact(tmp_path, tiny_mnist, capsys):
    """800 steps straight == 400 + resume 400 == Ctrl-C mid-epoch at step 534 + resume (one step per
    session.run, the default on a CPU)."""
    straight, resumed, interrupted = tmp_path / "straight", tmp_path / "resumed", tmp_path / "interrupted"
    steps = ["--steps-per-epoch", "100"]
    assert fc(straight, tiny_mnist, "--epochs", "8", *steps) == 0
    assert fc(resumed, tiny_mnist, "--epochs", "4", *steps) == 0
    assert fc(resumed, tiny_mnist, "--epochs", "8", *steps) == 0  # raising --epochs continues the run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(guards.FAULT_ENV, "sigint@534")
        assert fc(interrupted, tiny_mnist, "--epochs", "8", *steps) == 130
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0, err
    assert "SIGINT at step 534" in err and "checkpoint saved" in err and "run the same command again to resume" in err
    assert tf.train.latest_checkpoint(str(interrupted / "checkpoints")).endswith("ckpt-534")
    assert fc(interrupted, tiny_mnist, "--epochs", "8", *steps) == 0
    assert "resuming" in capsys.readouterr().out

    final = weights(straight)
    assert final["global_step"] == 800
    assert max_abs_diff(final, weights(resumed)) <= 1e-5
    assert max_abs_diff(final, weights(interrupted)) <= 1e-5
    assert read_history(resumed) == read_history(straight)
    assert read_history(interrupted) == read_history(straight)
    for epoch in range(1, 9):
        grid = images.read_png(straight / "samples" / f"epoch_{epoch:04d}.png")
        np.testing.assert_array_equal(grid, images.read_png(interrupted / "samples" / f"epoch_{epoch:04d}.png"))


def test_a_ctrl_c_on_the_last_step_says_the_training_is_done(tmp_path, tiny_mnist, capsys):
    """Not "run again to resume": every step is trained; a rerun only draws what the signal skipped."""
    out = tmp_path / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(guards.FAULT_ENV, "sigint@6")
        assert fc(out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "3", "--eval-every", "1") == 130
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "SIGINT after the last step (6): all 2 epochs trained" in err and "to resume" not in err, err
    assert not (out / "samples" / "epoch_0002.png").exists()
    assert fc(out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "3", "--eval-every", "1") == 0
    assert (out / "samples" / "epoch_0002.png").exists() and read_history(out)[-1][-1] != ""  # the FD of epoch 2


def test_a_finished_run_says_so(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "3") == 0
    capsys.readouterr()
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "3") == 0
    assert "already trained 1 epochs" in capsys.readouterr().out


def test_fresh_starts_over(tmp_path, tiny_mnist):
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "3") == 0
    for name in ("metrics.json", "metrics-best.json"):  # evaluate.py's numbers of the old run
        (out / name).write_text("{}")
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "3", "--fresh") == 0
    assert not (out / "metrics.json").exists() and not (out / "metrics-best.json").exists()
    assert len(read_history(out)) == 1 + 3
    assert not (out / "samples" / "epoch_0002.png").exists()


def test_generate_npz_and_png(tmp_path, tiny_mnist):
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "3") == 0
    assert fc(out, tiny_mnist, "--generate", "1500", "--to", tmp_path / "g.npz") == 0
    generated = np.load(tmp_path / "g.npz")["images"]
    assert generated.shape == (1500, 28, 28, 1) and generated.dtype == np.float32
    assert generated.min() >= -1 and generated.max() <= 1
    assert len(np.unique(generated.reshape(1500, -1), axis=0)) == 1500  # the chunks draw different noise
    assert fc(out, tiny_mnist, "--generate", "10", "--to", tmp_path / "g.png") == 0
    with Image.open(tmp_path / "g.png") as im:
        assert im.size == (4 * (28 + images.PAD) + images.PAD,) * 2


def test_generate_uses_the_runs_own_architecture(tmp_path, tiny_mnist):
    """After the constants were edited, --generate on an old run folder still loads it."""
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2") == 0
    code = run_main(gan_fc, ["--out-dir", out, "--generate", "4", "--to", tmp_path / "g.npz"])  # default sizes
    assert code == 0 and np.load(tmp_path / "g.npz")["images"].shape == (4, 28, 28, 1)


def test_a_run_recorded_before_the_weight_average_still_loads(tmp_path, tiny_mnist, capsys):
    """config.json without g_average (written before it existed) means a run without the average."""
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2", "--g-average", "0") == 0
    assert not any(name.startswith("average/") for name in weights(out))
    config = json.loads((out / "config.json").read_text())
    del config["hparams"]["g_average"]
    (out / "config.json").write_text(json.dumps(config))
    assert fc(out, tiny_mnist, "--generate", "4", "--to", tmp_path / "g.npz") == 0
    assert fc(out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2") == 2  # the default 0.999 is another run
    assert "g_average 0.0 -> 0.999" in capsys.readouterr().err
    assert fc(out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2", "--g-average", "0") == 0


def test_generate_without_checkpoint_is_a_clear_error(tmp_path, tiny_mnist, capsys):
    assert fc(tmp_path / "empty", tiny_mnist, "--generate", "4") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan_fc.py: error: no checkpoint in") and "train first" in err and "\n" not in err


def test_resuming_with_other_settings_is_refused(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "run"
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2") == 0
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2", "--lr", "1e-3") == 2
    err = capsys.readouterr().err
    assert "lr 0.0003 -> 0.001" in err and "--fresh" in err
    assert fc(out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2", "--lr", "1e-3", "--fresh") == 0


def test_default_run_folder_and_latest_link(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setattr(runs, "OUTPUTS_DIR", tmp_path / "outputs")
    argv = [*TINY_FC, "--data-dir", tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2"]
    assert run_main(gan_fc, argv) == 0
    assert run_main(gan_fc, [*argv, "--lr", "1e-4"]) == 0
    folders = {p.name for p in (tmp_path / "outputs" / "gan_fc").iterdir() if not p.is_symlink()}
    first, second = names.run_name(flags.parse("t", gan_fc.HPARAMS, argv), "gan_fc"), next(n for n in folders if "_lr1e-4_" in n)
    assert folders == {first, second} and "_lr" not in first  # the tiny flags named, and the second's lr beside them
    latest = tmp_path / "outputs" / "gan_fc" / "latest"
    assert latest.is_symlink() and latest.resolve().name == second


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    """A real process and a real SIGTERM (what a cluster scheduler sends), sent mid-training."""
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "gan_fc.py"),
            *TINY_FC,
            "--epochs",
            "100000",
            "--steps-per-epoch",
            "5",
            "--out-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("device: ")  # said before the graph is built
        assert proc.stdout.readline().startswith("training")  # data loaded, graph built
        deadline = time.monotonic() + 120
        while not list((out / "checkpoints").glob("*.index")):  # at least one epoch is through
            assert proc.poll() is None, f"the training ended before the signal: {proc.communicate()[1]}"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "SIGTERM at step" in err and "run the same command again to resume" in err and err.strip().count("\n") == 0
    step = int(err.split("SIGTERM at step ")[1].split()[0])
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith(f"ckpt-{step}")
    assert int(read_history(out)[-1][0]) == step
