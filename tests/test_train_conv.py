"""gan_dcgan and gan_cdcgan end to end on tiny data and tiny models: outputs, exact resume, --generate."""

import importlib
import json

import numpy as np
import pytest
from helpers import TINY, max_abs_diff, read_history, run_main, weights
from PIL import Image

from common import data, guards, images
from common.tfcompat import tf

CONV = ["gan_dcgan", "gan_cdcgan"]


def run(script, out, data_dir, *extra):
    return run_main(importlib.import_module(script), [*TINY[script], "--data-dir", data_dir, "--out-dir", out, *extra])


@pytest.mark.parametrize("script, side", [("gan_dcgan", 8), ("gan_cdcgan", 10)])
def test_a_run_writes_every_output(tmp_path, tiny_mnist, script, side):
    out = tmp_path / "run"
    assert run(script, out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "3") == 0
    for name in ("config.json", "history.csv", "losses.png", "progress.gif", "samples/epoch_0002.png"):
        assert (out / name).stat().st_size > 0, name
    with Image.open(out / "samples" / "epoch_0001.png") as im:
        assert im.size == (side * (28 + images.PAD) + images.PAD,) * 2
    assert len(read_history(out)) == 1 + 6
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-6")
    assert list((out / "logs").glob("events.out.tfevents.*"))


TUTORIAL_D = ["--no-d-batch-norm", "--dropout", "0.3", "--leaky-slope", "0.3", "--init-stddev", "0", "--d-7x7-layers", "0"]


# Both rates halve at steps 25 and 35; D's auxiliary classifier is trained and saved with the rest.
LATE_DECAY_CLASSES = [
    "--lr-decay",
    "0.5",
    "--d-lr-decay",
    "0.5",
    "--decay-start",
    "15",
    "--decay-steps",
    "10",
    "--class-loss",
    "1",
]


@pytest.mark.parametrize("script, extra", [("gan_dcgan", TUTORIAL_D), ("gan_cdcgan", LATE_DECAY_CLASSES)])
def test_resume_is_exact(tmp_path, tiny_mnist, script, extra, capsys):
    """40 steps straight == 20 + resume 20 == Ctrl-C at step 27 (mid-epoch, in the run of steps 25–28
    at 4 a run) + resume, the resumed part at the default steps per run. Batch norm's moving averages,
    dropout masks (the tutorial's D), the conditional labels, a late learning-rate decay (a cut before the
    interruption, one after) and the cDCGAN's auxiliary classifier are all part of what must match. (The
    default DCGAN's D, batch norm in place of dropout, resumes exactly after a SIGKILL in test_faults.py.)"""
    straight, resumed, interrupted = tmp_path / "straight", tmp_path / "resumed", tmp_path / "interrupted"
    steps = ["--steps-per-epoch", "10", *extra]
    assert run(script, straight, tiny_mnist, "--epochs", "4", *steps) == 0
    assert run(script, resumed, tiny_mnist, "--epochs", "2", *steps) == 0
    assert run(script, resumed, tiny_mnist, "--epochs", "4", *steps) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(guards.FAULT_ENV, "sigint@27")
        assert run(script, interrupted, tiny_mnist, "--epochs", "4", *steps, "--steps-per-run", "4") == 130
    assert "SIGINT at step 28" in capsys.readouterr().err
    assert run(script, interrupted, tiny_mnist, "--epochs", "4", *steps) == 0

    final = weights(straight)
    assert final["global_step"] == 40
    assert any("moving_mean" in name for name in final)
    assert max_abs_diff(final, weights(resumed)) <= 1e-5
    assert max_abs_diff(final, weights(interrupted)) <= 1e-5
    assert read_history(resumed) == read_history(straight) == read_history(interrupted)
    last = images.read_png(straight / "samples" / "epoch_0004.png")
    np.testing.assert_array_equal(last, images.read_png(interrupted / "samples" / "epoch_0004.png"))


@pytest.fixture(scope="module")
def trained_cdcgan(tmp_path_factory, tiny_mnist_files):
    """One tiny trained cDCGAN shared by the --generate tests."""
    folder, spec = tiny_mnist_files
    out = tmp_path_factory.mktemp("cdcgan") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(data.DATASETS, "mnist", spec)
        assert run("gan_cdcgan", out, folder, "--epochs", "1", "--steps-per-epoch", "2") == 0
    return out


def test_generate_with_a_label_writes_that_label(trained_cdcgan, tmp_path):
    import gan_cdcgan

    target = tmp_path / "sevens.npz"
    assert run_main(gan_cdcgan, ["--out-dir", trained_cdcgan, "--generate", "30", "--label", "7", "--to", target]) == 0
    out = np.load(target)
    assert out["images"].shape == (30, 28, 28, 1) and out["images"].dtype == np.float32
    assert out["labels"].tolist() == [7] * 30


def test_generate_without_a_label_is_balanced(trained_cdcgan, tmp_path):
    import gan_cdcgan

    target = tmp_path / "all.npz"
    assert run_main(gan_cdcgan, ["--out-dir", trained_cdcgan, "--generate", "1200", "--to", target]) == 0
    out = np.load(target)
    assert np.bincount(out["labels"]).tolist() == [120] * 10
    assert out["images"].min() >= -1 and out["images"].max() <= 1


def test_generate_label_changes_the_image(trained_cdcgan, tmp_path):
    """Same noise (same seed and chunk), different digit: the generator does read the label."""
    import gan_cdcgan

    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run_main(gan_cdcgan, ["--out-dir", trained_cdcgan, "--generate", "5", "--label", "1", "--to", a]) == 0
    assert run_main(gan_cdcgan, ["--out-dir", trained_cdcgan, "--generate", "5", "--label", "8", "--to", b]) == 0
    assert not np.allclose(np.load(a)["images"], np.load(b)["images"])


@pytest.mark.parametrize(
    "argv, words", [(["--label", "10", "--generate", "3"], "--label"), (["--label", "3"], "goes with --generate")]
)
def test_bad_label_flags(capsys, argv, words):
    import gan_cdcgan

    assert run_main(gan_cdcgan, argv) == 2
    assert words in capsys.readouterr().err


def test_a_dcgan_run_recorded_before_the_kernel_beta2_smoothing_7x7_and_z_mode_constants_resumes(tmp_path, tiny_mnist, capsys):
    """config.json without them (written before they were added, 2026-11-22) means the values that reproduce those runs:
    G with one 5×5 layer at 7×7 (and no layer at 7×7 in D) fed one Gaussian, which today's G no longer
    is, so such a run resumes only with those values given (and the modes' distance they were recorded
    with, 3, which one Gaussian never reads)."""
    before = ["--g-7x7-layers", "1", "--g-7x7-kernel", "5", "--d-7x7-layers", "0", "--z-modes", "0", "--z-mode-distance", "3"]
    out = tmp_path / "run"
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2", *before) == 0
    config = json.loads((out / "config.json").read_text())
    for name in (
        "g_kernel",
        "d_kernel",
        "beta2",
        "label_smoothing",
        "g_7x7_layers",
        "g_7x7_kernel",
        "d_7x7_layers",
        "z_modes",
        "z_mode_distance",
    ):
        del config["hparams"][name]
    (out / "config.json").write_text(json.dumps(config))
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2", *before, "--d-kernel", "3") == 2
    assert "d_kernel 5 -> 3" in capsys.readouterr().err
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2") == 2
    assert "g_7x7_kernel 5 -> 3" in capsys.readouterr().err
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2", *before) == 0


def test_a_dcgan_run_recorded_before_d_lr_resumes_with_d_learning_at_g_rate(tmp_path, tiny_mnist, capsys):
    """config.json without d_lr (written when one LR served both players) means D's rate was LR."""
    out = tmp_path / "run"
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "1", "--steps-per-epoch", "2", "--lr", "3e-4", "--d-lr", "3e-4") == 0
    config = json.loads((out / "config.json").read_text())
    del config["hparams"]["d_lr"]
    (out / "config.json").write_text(json.dumps(config))
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2", "--lr", "3e-4") == 2
    assert "d_lr 0.0003 -> 0.0002" in capsys.readouterr().err
    assert run("gan_dcgan", out, tiny_mnist, "--epochs", "2", "--steps-per-epoch", "2", "--lr", "3e-4", "--d-lr", "3e-4") == 0
