"""Sample grids, loss curves and the progress GIF: what a user compares by eye between runs.

Matplotlib's Agg backend is selected here so that nothing needs a display (GPU boxes rarely have one).
"""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from common import files  # noqa: E402
from common.errors import UsageError  # noqa: E402

PAD = 2  # pixels of background between and around the cells of a grid
CAPTION = 14  # pixels above each progress-GIF frame for its epoch


def grid(images, rows=None, cols=None):
    """Tile images in [-1, 1] ([N, H, W, 1] or [N, H, W]) into one uint8 [rows·(H+PAD)+PAD, …] image.

    Without `rows`/`cols` the grid is the smallest square that holds them all; empty cells stay black.
    A square grid whatever the count keeps the grids of different runs the same size side by side.
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    n, h, w = images.shape
    side = math.ceil(math.sqrt(n))
    rows, cols = rows or side, cols or side
    pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    out = np.zeros((rows * (h + PAD) + PAD, cols * (w + PAD) + PAD), dtype=np.uint8)
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        top, left = PAD + r * (h + PAD), PAD + c * (w + PAD)
        out[top : top + h, left : left + w] = pixels[i]
    return out


def save_png(path, image):
    """A uint8 grey image written pixel for pixel (no figure, no resampling, no colormap rounding),
    atomically: a crash or a full disk mid-write leaves the previous file, never a truncated one."""
    with files.replacing(path) as tmp:
        plt.imsave(tmp, np.repeat(image[..., None], 3, axis=-1))


def read_png(path):
    """A PNG written by `save_png` back as uint8 grey."""
    return np.rint(plt.imread(path)[..., 0] * 255).astype(np.uint8)


def read_grid(path, fix):
    """A run's sample grid, or a UsageError naming it as damaged with `fix` (what the caller's user can
    do about it): a half-written or foreign file must not become a traceback."""
    try:
        return read_png(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"{path} is damaged ({type(e).__name__}); {fix}") from None


def plot_losses(path, steps, columns):
    """Loss curves (left) and the discriminator's mean outputs D(x), D(G(z)) (right) against the step.

    `columns` maps a history column name to its values; the raw per-step values are drawn faintly and a
    moving average on top, since single GAN steps are too noisy to read.
    """
    fig, (ax_loss, ax_prob) = plt.subplots(1, 2, figsize=(11, 3.8))
    window = max(1, len(steps) // 100)
    for name, values in columns.items():
        ax = ax_prob if name.startswith("d_") and name != "d_loss" else ax_loss
        line = ax.plot(steps, values, alpha=0.25, linewidth=0.6)[0]
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, color=line.get_color(), label=name)
    ax_loss.set(xlabel="step", title="losses")
    ax_prob.set(xlabel="step", title="discriminator outputs", ylim=(0, 1))
    for ax in (ax_loss, ax_prob):
        ax.legend(loc="upper right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with files.replacing(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def save_gif(path, frame_paths, seconds_per_frame=0.5):
    """All epoch grids as one animation, each frame captioned with its file name ("epoch 0007").

    Composed with Pillow directly: it is rebuilt at every epoch end, and matplotlib's animation
    writer, which renders a figure per frame, took 0.8 s for 60 frames — a tenth of an FC epoch.
    """
    frames = []
    for frame_path in frame_paths:
        image = read_png(frame_path)
        h, w = image.shape
        frame = Image.new("L", (w, h + CAPTION), 255)
        frame.paste(Image.fromarray(image), (0, CAPTION))
        ImageDraw.Draw(frame).text((3, 2), frame_path.stem.replace("_", " "), fill=0)
        frames.append(frame)
    if frames:
        duration = int(seconds_per_frame * 1000)
        with files.replacing(path) as tmp:
            frames[0].save(tmp, save_all=True, append_images=frames[1:], duration=duration, loop=0)
