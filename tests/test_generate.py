"""gan_dcgan.py --generate: images from a trained DCGAN run as .npz and as a .png grid."""

import json

import numpy as np
from helpers import TINY_CONV, max_abs_diff, run_main, snapshot, weights
from PIL import Image

import gan_dcgan
from common import flags, images, names


def test_generate_npz_and_png(tmp_path, tiny_mnist):
    """More images than one chunk (1000): every chunk must draw its own noise, and the .npz carries no
    labels (the model is not conditional)."""
    out = tmp_path / "run"
    argv = [*TINY_CONV, "--data-dir", tiny_mnist, "--out-dir", out, "--epochs", "1", "--steps-per-epoch", "3"]
    assert run_main(gan_dcgan, argv) == 0
    assert run_main(gan_dcgan, ["--out-dir", out, "--generate", "1200", "--to", tmp_path / "g.npz"]) == 0
    with np.load(tmp_path / "g.npz") as saved:
        assert list(saved) == ["images"]
        generated = saved["images"]
    assert generated.shape == (1200, 28, 28, 1) and generated.dtype == np.float32
    assert generated.min() >= -1 and generated.max() <= 1 and generated.std() > 0
    assert len(np.unique(generated.reshape(1200, -1), axis=0)) == 1200

    for name in ("ten.npz", "ten.png"):  # the same call draws the same images, whatever the format
        assert run_main(gan_dcgan, ["--out-dir", out, "--generate", "10", "--to", tmp_path / name]) == 0
    with Image.open(tmp_path / "ten.png") as im:
        assert im.size == (4 * (28 + images.PAD) + images.PAD,) * 2  # the smallest square grid for 10
    ten = np.load(tmp_path / "ten.npz")["images"]
    np.testing.assert_array_equal(images.read_png(tmp_path / "ten.png"), images.grid(ten))


def test_z_temperature_changes_the_samples_not_the_training_nor_the_run(tmp_path, tiny_mnist):
    """Z_TEMPERATURE is a sampling setting: two runs that differ only in it train bit for bit alike
    and share a run name, while their grids differ. `--generate` and a resumed training draw with the
    run's recorded value unless the flag is given, and resuming with another value is not refused."""
    argv = [*TINY_CONV, "--data-dir", tiny_mnist, "--epochs", "1", "--steps-per-epoch", "3"]
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    assert run_main(gan_dcgan, [*argv, "--out-dir", warm, "--z-temperature", "1"]) == 0
    assert run_main(gan_dcgan, [*argv, "--out-dir", cold, "--z-temperature", "0.5"]) == 0
    assert max_abs_diff(weights(warm), weights(cold)) == 0
    grid = "samples/epoch_0001.png"
    assert not np.array_equal(images.read_png(warm / grid), images.read_png(cold / grid))
    folders = {
        names.run_name(flags.parse("t", gan_dcgan.HPARAMS, [*argv, "--z-temperature", t]), "gan_dcgan") for t in ("1", "0.5")
    }
    assert len(folders) == 1

    def drawn(run, *extra):
        to = tmp_path / "drawn.npz"
        assert run_main(gan_dcgan, ["--out-dir", run, "--generate", "20", "--to", to, *extra]) == 0
        return np.load(to)["images"]

    assert np.array_equal(drawn(cold), drawn(warm, "--z-temperature", "0.5"))  # the flag, over the run's 1.0
    assert np.array_equal(drawn(warm), drawn(cold, "--z-temperature=1"))
    assert not np.array_equal(drawn(warm), drawn(cold))

    def recorded(run):
        return json.loads((run / "config.json").read_text())["hparams"]["z_temperature"]

    assert run_main(gan_dcgan, [*argv, "--out-dir", cold, "--epochs", "2"]) == 0  # resumed at its own 0.5
    assert recorded(cold) == 0.5 and np.array_equal(drawn(cold), drawn(cold, "--z-temperature", "0.5"))
    assert run_main(gan_dcgan, [*argv, "--out-dir", cold, "--epochs", "3", "--z-temperature", "1"]) == 0  # not refused
    assert recorded(cold) == 1.0


def test_a_damaged_recorded_temperature_is_refused_in_one_line_and_nothing_changes(tmp_path, tiny_mnist, capsys):
    """A resumed training takes Z_TEMPERATURE from config.json without the run-name check that guards
    the other settings, so a value no flag could give is refused there too (not trained on into grids
    drawn with it), as `--generate` refuses it; the run's files stay as they were. Given on the command
    line, the flag replaces the damaged value."""
    run = tmp_path / "run"
    argv = [*TINY_CONV, "--data-dir", tiny_mnist, "--out-dir", run, "--steps-per-epoch", "2"]
    assert run_main(gan_dcgan, [*argv, "--epochs", "1"]) == 0
    config = json.loads((run / "config.json").read_text())
    config["hparams"]["z_temperature"] = -1.0
    (run / "config.json").write_text(json.dumps(config))
    before = snapshot(run)
    capsys.readouterr()
    for command in ([*argv, "--epochs", "2"], ["--out-dir", run, "--generate", "4", "--to", tmp_path / "g.npz"]):
        assert run_main(gan_dcgan, command) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "z_temperature = -1.0" in err and "restore it from a copy" in err, err
        assert snapshot(run) == before
    assert not (tmp_path / "g.npz").exists()
    assert run_main(gan_dcgan, [*argv, "--epochs", "2", "--z-temperature", "0.9"]) == 0
    assert json.loads((run / "config.json").read_text())["hparams"]["z_temperature"] == 0.9
