"""Grids, PNGs, loss plots and the GIF: right pixel sizes and values."""

import threading

import numpy as np
import pytest
from PIL import Image

from common import background, images


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
    columns = {"d_loss": np.sin(steps), "g_loss": np.cos(steps), "d_real": steps / 300}
    plot = images.LossPlot(columns)
    plot.add(steps, columns)
    plot.save(tmp_path / "l.png")
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


def _grids(folder, count, rng):
    paths = []
    for epoch in range(1, count + 1):
        paths.append(folder / f"epoch_{epoch:04d}.png")
        images.save_png(paths[-1], images.grid(rng.uniform(-1, 1, (16, 28, 28))))
    return paths


def _frames(path):
    with Image.open(path) as gif:
        out = []
        for i in range(gif.n_frames):
            gif.seek(i)
            out.append((np.asarray(gif.convert("L")), gif.info.get("duration")))
        return out


def test_progress_gif_extended_a_frame_per_epoch_equals_one_built_at_once(tmp_path):
    paths = _grids(tmp_path, 4, np.random.default_rng(0))
    gif = images.ProgressGif()
    for count in range(1, 5):
        gif.save(tmp_path / "p.gif", paths[:count])
    images.save_gif(tmp_path / "whole.gif", paths)
    extended, whole = _frames(tmp_path / "p.gif"), _frames(tmp_path / "whole.gif")
    assert len(extended) == len(whole) == 4
    for (a, da), (b, db) in zip(extended, whole, strict=True):
        np.testing.assert_array_equal(a, b)
        assert da == db == 500


def test_progress_gif_is_rebuilt_when_the_grids_are_not_the_ones_it_drew(tmp_path):
    """A grid replaced between two epochs' ends (a resume writing a missing grid) must not leave a stale frame."""
    paths = _grids(tmp_path, 3, np.random.default_rng(0))
    gif = images.ProgressGif()
    gif.save(tmp_path / "p.gif", [paths[0], paths[2]])
    gif.save(tmp_path / "p.gif", paths)  # epoch 2 appeared in the middle
    frames = _frames(tmp_path / "p.gif")
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[1][0][images.CAPTION :], images.read_png(paths[1]))


def test_loss_plot_draws_a_bounded_number_of_points_and_their_means(tmp_path):
    plot = images.LossPlot(["d_loss", "g_loss"])
    steps = np.arange(1, 100_001)
    values = {"d_loss": np.where(steps % 2, 1.0, 3.0), "g_loss": steps / 1e5}
    plot.add(steps[:60_000], {k: v[:60_000] for k, v in values.items()})  # two sessions: added in two parts
    plot.add(steps[60_000:], {k: v[60_000:] for k, v in values.items()})
    plot.save(tmp_path / "l.png")
    d_line, g_line = plot.lines["d_loss"], plot.lines["g_loss"]
    assert len(d_line.get_xdata()) == images.LossPlot.BINS
    np.testing.assert_allclose(d_line.get_ydata(), 2.0)  # each bin's mean of the alternating 1s and 3s
    assert g_line.get_ydata()[-1] == pytest.approx(values["g_loss"][-250:].mean())
    assert (tmp_path / "l.png").stat().st_size > 1000


def test_drawing_thread_draws_the_newest_and_hands_back_its_error(tmp_path):
    drawing, drawn, started = background.Worker("drawing"), [], threading.Event()
    release = threading.Event()

    def slow(tag):
        started.set()
        release.wait(5)
        drawn.append(tag)

    drawing.submit("plot", lambda: slow(1))
    started.wait(5)  # the first drawing is under way: the next two queue, and only the newer is kept
    drawing.submit("plot", lambda: drawn.append(2))
    drawing.submit("plot", lambda: drawn.append(3))
    release.set()
    drawing.wait()
    assert drawn == [1, 3]

    def full_disk():
        raise OSError(28, "No space left on device")

    drawing.submit("plot", full_disk)
    with pytest.raises(OSError, match="No space left"):
        drawing.close()
    drawing.close()  # raised once; closing again is quiet
