"""Grids, PNGs, loss plots and the GIF: right pixel sizes and values."""

import numpy as np
from PIL import Image

from common import images


def test_grid_places_each_image_and_maps_range():
    batch = np.full((6, 28, 28, 1), -1.0, np.float32)
    batch[4] = 1.0
    g = images.grid(batch, rows=2, cols=3)
    pad = images.PAD
    assert g.shape == (2 * (28 + pad) + pad, 3 * (28 + pad) + pad) and g.dtype == np.uint8
    top, left = pad + 1 * (28 + pad), pad + 1 * (28 + pad)  # image 4 is row 1, col 1
    assert (g[top : top + 28, left : left + 28] == 255).all()
    assert g.sum() == 255 * 28 * 28


def test_default_grid_is_square():
    assert images.grid(np.zeros((10, 28, 28))).shape == images.grid(np.zeros((16, 28, 28))).shape


def test_png_has_the_grid_pixel_size(tmp_path):
    g = images.grid(np.linspace(-1, 1, 64 * 28 * 28).reshape(64, 28, 28, 1), 8, 8)
    images.save_png(tmp_path / "g.png", g)
    with Image.open(tmp_path / "g.png") as im:
        assert im.size == (g.shape[1], g.shape[0])
    np.testing.assert_array_equal(images.read_png(tmp_path / "g.png"), g)


def test_loss_plot_and_gif(tmp_path):
    steps = np.arange(1, 301)
    images.plot_losses(tmp_path / "l.png", steps, {"d_loss": np.sin(steps), "g_loss": np.cos(steps), "d_real": steps / 300})
    assert (tmp_path / "l.png").stat().st_size > 1000
    frames = []
    for i in range(3):
        frames.append(tmp_path / f"epoch_{i:04d}.png")
        images.save_png(frames[-1], images.grid(np.full((4, 28, 28), i / 3)))
    images.save_gif(tmp_path / "p.gif", frames)
    with Image.open(tmp_path / "p.gif") as gif:
        assert gif.n_frames == 3
        for i, frame in enumerate(frames):  # each frame: a caption band over the grid, pixel for pixel
            gif.seek(i)
            pixels = np.asarray(gif.convert("L"))
            np.testing.assert_array_equal(pixels[images.CAPTION :], images.read_png(frame))
            assert pixels[: images.CAPTION].min() < 64  # the caption's dark text on white
