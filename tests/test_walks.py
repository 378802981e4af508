"""--generate with --walk, --walk-digits, --modes and --walk-modes (common/walks.py): each picture's
ends are the images plain generation draws from the same noise, it is the same from one call to the
next, and a bad value is one line and exit code 2, before anything is drawn."""

import importlib
import shlex
import shutil

import numpy as np
import pytest
from helpers import REPO, TINY, run_main
from PIL import Image

import gan_cdcgan
import gan_dcgan
import gan_fc
from common import data, flags, gan, images, inputs, runs, sampling, settings, walks
from common.tfcompat import tf

CLOSE = dict(atol=1e-6)  # G run on batches of other sizes may round differently in the last bit
MODULES = {"gan_fc": gan_fc, "gan_dcgan": gan_dcgan, "gan_cdcgan": gan_cdcgan}


@pytest.fixture(scope="module")
def trained(tiny_mnist_files, tmp_path_factory):
    """trained(script, *flags): the folder of a tiny run of `script` trained for 2 steps an epoch,
    trained once in this file for each set of flags (the tiny data registered as MNIST meanwhile)."""
    folder, spec = tiny_mnist_files
    made = {}

    def train(script, *extra):
        if (script, extra) not in made:
            out = tmp_path_factory.mktemp(script)
            argv = [*TINY[script], "--data-dir", folder, "--out-dir", out, "--epochs", "1", "--steps-per-epoch", "2", *extra]
            with pytest.MonkeyPatch.context() as mp:
                mp.setitem(data.DATASETS, "mnist", spec)
                assert run_main(importlib.import_module(script), argv) == 0
            made[script, extra] = out
        return made[script, extra]

    return train


def generated(module, run, tmp_path, *argv, name="out.npz"):
    """`--generate …` of `run` into tmp_path/name: the images and label weights (or None) of a .npz,
    the path of a picture."""
    target = tmp_path / name
    assert run_main(module, ["--out-dir", run, "--generate", *argv, "--to", target]) == 0
    if target.suffix != ".npz":
        return target
    with np.load(target) as saved:
        return saved["images"], saved.get("labels")


def run_args(module, run):
    """The flags --generate uses for `run`: its recorded settings."""
    args = flags.parse("test", module.HPARAMS, ["--out-dir", run], conditional=module.MODEL.conditional)
    settings.use_run_settings(args, runs.RunFolder(run), module.MODEL.script)
    return args


# ----------------------------------------------------------------------------------- the paths
def test_slerp_keeps_a_shared_norm_and_both_ends_to_the_bit():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 100)).astype(np.float32)
    b *= np.linalg.norm(a, axis=1, keepdims=True) / np.linalg.norm(b, axis=1, keepdims=True)  # equal norms, row by row
    t = walks.fractions(9)
    path = walks.slerp(a, b, t)
    assert path.shape == (5, 9, 100) and path.dtype == np.float32
    np.testing.assert_array_equal(path[:, 0], a)
    np.testing.assert_array_equal(path[:, -1], b)
    norms = np.linalg.norm(path, axis=2)
    np.testing.assert_allclose(norms, np.linalg.norm(a, axis=1, keepdims=True).repeat(9, axis=1), rtol=1e-5)
    straight = np.linalg.norm(walks.lerp(a, b, t), axis=2)
    assert (straight[:, 4] < 0.8 * norms[:, 4]).all()  # the straight line cuts inside the sphere, ~0.71 halfway

    unit = np.eye(2, dtype=np.float32)
    np.testing.assert_allclose(walks.slerp(unit[:1], unit[1:], [0.5])[0, 0], [0.5**0.5, 0.5**0.5], rtol=1e-6)
    np.testing.assert_allclose(walks.slerp(unit[:1], 2 * unit[:1], t), walks.lerp(unit[:1], 2 * unit[:1], t))  # parallel


def test_each_script_walks_its_own_noise():
    """Uniform noise straight, Gaussian noise along the circle; the DCGAN's z is its centre plus the
    Gaussian part, summed to the bit as its noise() sums it."""
    hp = {name: flags.parse("t", m.HPARAMS, TINY[name], conditional=m.MODEL.conditional) for name, m in MODULES.items()}
    with tf.Graph().as_default(), tf.Session() as sess:
        seed = inputs.stream_seed(0, inputs.Stream.GENERATE, 0)
        latents = {name: m.latent(50, seed, hp[name]) for name, m in MODULES.items()}
        classic_fc = gan_fc.latent(50, seed, flags.parse("t", gan_fc.HPARAMS, [*TINY["gan_fc"], *gan_fc.CLASSIC.split()]))
        assert [latents[name].spherical for name in MODULES] == [True, True, True] and not classic_fc.spherical
        assert classic_fc.centre is None and latents["gan_fc"].centre is not None and latents["gan_cdcgan"].centre is None
        parts = sess.run([latents["gan_dcgan"].centre, latents["gan_dcgan"].spread])
        plain = sess.run(gan_dcgan.noise(50, seed, hp["gan_dcgan"], hp["gan_dcgan"].z_temperature))
        centres = sess.run(gan.mode_centres(hp["gan_dcgan"]))
    np.testing.assert_array_equal(walks._whole(walks.Latent(*parts, True)), plain)
    assert centres.shape == (10, 10) and set(np.unique(centres)) == {0.0, hp["gan_dcgan"].z_mode_distance}
    assert all(any((row == c).all() for c in centres) for row in parts[0])  # each z's centre is one of the modes'


# ----------------------------------------------------------------------------------- the pictures
@pytest.mark.parametrize("script", ["gan_fc", "gan_dcgan"])
def test_a_walk_goes_from_one_plain_draw_to_the_next_the_same_each_time(trained, tmp_path, script):
    module = MODULES[script]
    run = trained(script)
    walk, labels = generated(module, run, tmp_path, "3", "--walk", "5")
    assert walk.shape == (3, 5, 28, 28, 1) and labels is None
    draws, _ = sampling.generate_images(run_args(module, run), module.MODEL, runs.RunFolder(run), 3, draws=2)
    plain, _ = generated(module, run, tmp_path, "3", name="plain.npz")
    np.testing.assert_array_equal(draws[:3], plain)
    np.testing.assert_allclose(walk[:, 0], plain, **CLOSE)  # the walks start at what --generate 3 draws
    np.testing.assert_allclose(walk[:, -1], draws[3:], **CLOSE)  # and end at the next draw
    assert np.abs(walk[:, 2] - walk[:, 0]).max() > 1e-3  # and move in between

    again, _ = generated(module, run, tmp_path, "3", "--walk", "5", name="again.npz")
    np.testing.assert_array_equal(again, walk)
    png = generated(module, run, tmp_path, "3", "--walk", "5", name="walk.png")
    np.testing.assert_array_equal(images.read_png(png), images.grid(walk.reshape(15, 28, 28, 1), 3, 5))


def test_a_walk_as_a_gif_has_a_frame_a_step(trained, tmp_path):
    run = trained("gan_fc")
    walk, _ = generated(gan_fc, run, tmp_path, "4", "--walk", "6")
    gif = generated(gan_fc, run, tmp_path, "4", "--walk", "6", name="walk.GIF")
    with Image.open(gif) as im:
        assert im.n_frames == 6
        im.seek(5)
        last = np.asarray(im.convert("L"))
    grid = images.grid(walk[:, 5])  # the four walks' last images, as a 2×2 grid under the caption
    np.testing.assert_array_equal(last[images.CAPTION : images.CAPTION + grid.shape[0], : grid.shape[1]], grid)
    assert not list(tmp_path.glob(".*tmp*"))


def test_the_conditional_walks(trained, tmp_path):
    """A label walk keeps each row's noise: its ends are the plain draws of digit A and of digit B. A
    noise walk keeps each row's digit, the one plain generation gives that image."""
    run = trained("gan_cdcgan")
    walk, weights = generated(gan_cdcgan, run, tmp_path, "4", "--walk", "4", "--walk-digits", "3,8")
    assert walk.shape == (4, 4, 28, 28, 1) and weights.shape == (4, 4, 10)
    np.testing.assert_allclose(weights[0, :, 3], [1, 2 / 3, 1 / 3, 0], rtol=1e-6)
    np.testing.assert_allclose(weights[0, :, 8], [0, 1 / 3, 2 / 3, 1], rtol=1e-6)
    threes, _ = generated(gan_cdcgan, run, tmp_path, "4", "--label", "3", name="threes.npz")
    eights, _ = generated(gan_cdcgan, run, tmp_path, "4", "--label", "8", name="eights.npz")
    np.testing.assert_allclose(walk[:, 0], threes, **CLOSE)
    np.testing.assert_allclose(walk[:, -1], eights, **CLOSE)

    noise_walk, weights = generated(gan_cdcgan, run, tmp_path, "4", "--walk", "3", name="noise.npz")
    plain, digits = generated(gan_cdcgan, run, tmp_path, "4", name="plain.npz")
    np.testing.assert_allclose(noise_walk[:, 0], plain, **CLOSE)
    np.testing.assert_array_equal(weights.argmax(2), np.repeat(digits[:, None], 3, axis=1))


def test_the_conditional_generator_draws_a_one_hot_weight_row_as_its_digit():
    args = flags.parse("test", gan_cdcgan.HPARAMS, TINY["gan_cdcgan"], conditional=True)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        z = tf.random.normal([20, args.z_dim], seed=2)
        digits = tf.range(20) % 10
        by_digit = gan_cdcgan.generator(z, digits, args, training=False)
        by_weights = gan_cdcgan.generator(z, tf.one_hot(digits, 10), args, training=False)
        between = gan_cdcgan.generator(z, 0.5 * tf.one_hot(digits, 10) + 0.5 * tf.one_hot(9 - digits, 10), args, training=False)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            a, b, c = sess.run([by_digit, by_weights, between])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_the_mode_grid_puts_each_plain_draw_in_its_modes_row(trained, tmp_path):
    """Row k draws every column's Gaussian part on mode k's centre, so image j of a plain draw (whose z
    sits in some mode m) stands in row m, column j; a walk between two modes' centres ends in their rows."""
    run = trained("gan_dcgan")
    grid, _ = generated(gan_dcgan, run, tmp_path, "6", "--modes")
    assert grid.shape == (10, 6, 28, 28, 1)
    plain, _ = generated(gan_dcgan, run, tmp_path, "6", name="plain.npz")
    args = run_args(gan_dcgan, run)
    with tf.Graph().as_default(), tf.Session() as sess:
        seed = inputs.stream_seed(args.seed, inputs.Stream.GENERATE, 0)
        modes = sess.run(gan.noise_parts(6, seed, args, args.z_temperature)[0]).argmax(1)
    np.testing.assert_allclose(grid[modes, np.arange(6)], plain, **CLOSE)
    assert np.abs(grid[0] - grid[1]).max() > 1e-3  # the mode matters

    walk, _ = generated(gan_dcgan, run, tmp_path, "6", "--walk", "4", "--walk-modes", "2,7", name="between.npz")
    np.testing.assert_allclose(walk[:, 0], grid[2], **CLOSE)
    np.testing.assert_allclose(walk[:, -1], grid[7], **CLOSE)
    png = generated(gan_dcgan, run, tmp_path, "6", "--modes", name="modes.png")
    np.testing.assert_array_equal(images.read_png(png), images.grid(grid.reshape(60, 28, 28, 1), 10, 6))


def test_the_best_checkpoint_walks_from_the_best_draw(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained("gan_fc", "--epochs", "2"), run)
    (run / "checkpoints" / "best").mkdir()
    for f in (run / "checkpoints").glob("ckpt-2.*"):  # epoch 1's, as if it had the lowest FD
        shutil.copy(f, run / "checkpoints" / "best")
    best, _ = generated(gan_fc, run, tmp_path, "3", "--checkpoint", "best", name="best.npz")
    walk, _ = generated(gan_fc, run, tmp_path, "3", "--walk", "3", "--checkpoint", "best")
    latest, _ = generated(gan_fc, run, tmp_path, "3", "--walk", "3", name="latest.npz")
    np.testing.assert_allclose(walk[:, 0], best, **CLOSE)
    assert np.abs(walk - latest).max() > 1e-4


# ----------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "script, argv, words",
    [
        ("gan_fc", ["--generate", "4", "--walk", "1", "--to", "w.png"], "--walk: 1 is out of range"),
        ("gan_fc", ["--generate", "4", "--walk", "x", "--to", "w.png"], "--walk: 'x' is not a whole number"),
        ("gan_fc", ["--walk", "5", "--to", "w.png"], "--walk goes with --generate N"),
        ("gan_fc", ["--generate", "4", "--walk", "5"], "--walk draws a picture: name it with --to"),
        ("gan_fc", ["--generate", "4", "--to", "w.gif"], "a GIF animates a walk"),
        ("gan_fc", ["--generate", "4", "--walk", "5", "--to", "w.jpg"], "unknown extension .jpg"),
        ("gan_fc", ["--generate", "4", "--walk", "5", "--walk-digits", "3,8", "--to", "w.png"], "this model is not conditional"),
        ("gan_cdcgan", ["--generate", "4", "--modes", "--to", "w.png"], "--modes: this model's noise has no modes"),
        ("gan_cdcgan", ["--generate", "4", "--walk", "5", "--walk-digits", "3,3", "--to", "w.png"], "3,3 names one end twice"),
        (
            "gan_cdcgan",
            ["--generate", "4", "--walk", "5", "--walk-digits", "3,10", "--to", "w.png"],
            "'3,10' is not two different digits 0–9",
        ),
        (
            "gan_cdcgan",
            ["--generate", "4", "--walk", "5", "--walk-digits", "3", "--to", "w.png"],
            "'3' is not two different digits",
        ),
        ("gan_cdcgan", ["--generate", "4", "--walk-digits", "3,8", "--to", "w.png"], "--walk-digits goes with --walk STEPS"),
        (
            "gan_cdcgan",
            ["--generate", "4", "--walk", "5", "--walk-digits", "3,8", "--label", "2", "--to", "w.png"],
            "leave out --label",
        ),
        ("gan_dcgan", ["--generate", "4", "--modes", "--walk", "5", "--to", "w.png"], "--modes draws a grid of the modes"),
        ("gan_dcgan", ["--generate", "4", "--modes", "--to", "w.gif"], "a GIF animates a walk"),
        ("gan_dcgan", ["--generate", "4", "--walk-modes", "1,2", "--to", "w.png"], "--walk-modes goes with --walk STEPS"),
        (
            "gan_dcgan",
            ["--generate", "4", "--walk", "5", "--walk-modes", "1,-2", "--to", "w.png"],
            "not two different mode numbers",
        ),
    ],
)
def test_bad_walk_flags_are_one_line(capsys, script, argv, words):
    module = MODULES[script]
    with pytest.raises(SystemExit) as e:
        flags.parse("test", module.HPARAMS, argv, conditional=module.MODEL.conditional)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and words in err, err


def test_modes_of_a_run_without_them_or_beyond_its_own_are_refused_in_one_line(trained, tmp_path, capsys):
    """Refused from the run's config.json (its Z_MODES), before anything is drawn."""
    for run, argv, words in [
        (trained("gan_dcgan", "--z-modes", "0"), ["--modes"], "--modes: this run has no noise modes (trained with --z-modes 0)"),
        (
            trained("gan_dcgan", "--z-modes", "0"),
            ["--walk", "3", "--walk-modes", "0,1"],
            "--walk-modes 0,1: this run has no noise",
        ),
        (
            trained("gan_dcgan"),
            ["--walk", "3", "--walk-modes", "1,10"],
            "--walk-modes 1,10: this run has 10 noise modes, numbered 0 to 9",
        ),
    ]:
        capsys.readouterr()
        assert run_main(gan_dcgan, ["--out-dir", run, "--generate", "2", *argv, "--to", tmp_path / "x.png"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and words in err, err
        assert not (tmp_path / "x.png").exists()


def test_the_readmes_walk_commands_are_flags_the_scripts_take():
    readme = (REPO / "README.md").read_text().splitlines()
    lines = [line for line in readme if line.startswith("python gan_") and ("--walk" in line or "--modes" in line)]
    assert len(lines) == 3
    for line in lines:
        script, *argv = shlex.split(line)[1:]
        module = MODULES[script.removesuffix(".py")]
        args = flags.parse("test", module.HPARAMS, argv, conditional=module.MODEL.conditional)
        assert args.generate == 8 and (args.walk == 10 or args.modes)
