"""gan_dcgan.py --generate: images from a trained DCGAN run as .npz and as a .png grid."""

import numpy as np
from helpers import TINY_CONV, run_main
from PIL import Image

import gan_dcgan
from common import images


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
