"""Sample grids, loss curves and the progress GIF: what a user compares by eye between runs.

Matplotlib is imported at the first drawing, not with this module (half a second that `--help` and a
finished run's rerun need not spend), and only its Agg canvas is used, so nothing needs a display (GPU
boxes rarely have one).
"""

import io
import math

import numpy as np
from PIL import Image, ImageDraw

from common import files
from common.errors import UsageError

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
    atomically: a crash or a full disk mid-write leaves the previous file, never a truncated one. A
    grey PNG at zlib's fastest level: written at every epoch's end, where time counts on a GPU."""
    with files.replacing(path) as tmp:
        Image.fromarray(np.asarray(image, np.uint8)).save(tmp, format="PNG", compress_level=1)


def read_png(path):
    """A PNG written by `save_png` (or, before it wrote grey, as RGB) back as uint8 grey."""
    from matplotlib import image  # (see the module docstring)

    pixels = image.imread(path)
    return np.rint((pixels[..., 0] if pixels.ndim == 3 else pixels) * 255).astype(np.uint8)


def read_grid(path, fix):
    """A run's sample grid, or a UsageError naming it as damaged with `fix` (what the caller's user can
    do about it): a half-written or foreign file must not become a traceback."""
    try:
        return read_png(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"{path} is damaged ({type(e).__name__}); {fix}") from None


class LossPlot:
    """losses.png: the loss curves (left) and the discriminator's mean outputs D(x), D(G(z)) (right)
    against the step, redrawn at every epoch's end at a cost that does not grow with the run.

    Single GAN steps are too noisy to read, so the steps are summarised in at most BINS equal bins: the
    mean of each bin as a line, its spread (± one standard deviation) as a faint band. The figure is
    laid out once and its artists given new data, because building a figure costs more than drawing it.
    """

    BINS = 400

    def __init__(self, names):
        self.names = list(names)
        self.steps = np.zeros(0)
        self.values = np.zeros((0, len(self.names)))
        self.fig = None  # laid out at the first drawing

    def add(self, steps, columns):
        """Steps and their values (`columns`: name -> values) from the end of the history on."""
        new = np.stack([np.asarray(columns[name], np.float64) for name in self.names], axis=1)
        self.steps = np.concatenate([self.steps, np.asarray(steps, np.float64)])
        self.values = np.concatenate([self.values, new])

    def binned(self):
        """What `save` draws, to be handed to another thread: (steps, means, stds) of at most BINS
        consecutive bins (numpy over the arrays, no Python per step), or None before any step."""
        n = len(self.steps)
        if not n:
            return None
        starts = np.unique(np.linspace(0, n, min(n, self.BINS), endpoint=False).astype(int))
        counts = np.diff(np.append(starts, n))[:, None]
        mean = np.add.reduceat(self.values, starts, axis=0) / counts
        square = np.add.reduceat(self.values**2, starts, axis=0) / counts
        middle = np.add.reduceat(self.steps, starts) / counts[:, 0]
        return middle, mean, np.sqrt(np.maximum(square - mean**2, 0))

    def _layout(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(11, 3.8))  # not pyplot's: no global state, so it may be drawn in a thread
        FigureCanvasAgg(self.fig)
        ax_loss, ax_prob = self.fig.subplots(1, 2)
        self.axes, self.lines, self.bands = {}, {}, {}
        for name in self.names:
            ax = ax_prob if name.startswith("d_") and name != "d_loss" else ax_loss
            self.axes[name] = ax
            self.lines[name] = ax.plot([], [], label=name)[0]
            self.bands[name] = None
        ax_loss.set(xlabel="step", title="losses")
        ax_prob.set(xlabel="step", title="discriminator outputs", ylim=(0, 1))
        for ax in (ax_loss, ax_prob):
            if ax.lines:
                ax.legend(loc="upper right")
            ax.grid(alpha=0.3)
        self.fig.tight_layout()

    def save(self, path, binned=None):
        binned = self.binned() if binned is None else binned
        if binned is None:
            return
        if self.fig is None:
            self._layout()
        x, mean, std = binned
        for i, name in enumerate(self.names):
            line = self.lines[name]
            line.set_data(x, mean[:, i])
            if self.bands[name] is not None:
                self.bands[name].remove()
            ax = self.axes[name]
            self.bands[name] = ax.fill_between(
                x, mean[:, i] - std[:, i], mean[:, i] + std[:, i], color=line.get_color(), alpha=0.2, linewidth=0
            )
        for ax in set(self.axes.values()):
            ax.relim()
            ax.autoscale_view(scaley=ax.get_title() != "discriminator outputs")
        with files.replacing(path) as tmp:
            self.fig.savefig(tmp, dpi=100)


def _gif_frame(frame_path):
    """A grid as a GIF frame, captioned with its file name ("epoch 0007")."""
    image = read_png(frame_path)
    h, w = image.shape
    frame = Image.new("L", (w, h + CAPTION), 255)
    frame.paste(Image.fromarray(image), (0, CAPTION))
    ImageDraw.Draw(frame).text((3, 2), frame_path.stem.replace("_", " "), fill=0)
    return frame


def _gif_blocks(data):
    """(header with its global colour table, [(kind, bytes)] of the blocks after it) of a GIF file."""
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    header, blocks = data[:pos], []
    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x21:  # extension: introducer, label, sub-blocks
            pos += 2
        else:  # image: descriptor, local colour table, LZW code size, sub-blocks
            packed = data[pos + 9]
            pos += 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0) + 1
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
        blocks.append((data[start : start + 2], data[start:pos]))
    return header, blocks


def _frame_blocks(frame, duration):
    """The bytes that add `frame` to an animation: its timing extension and its image, which carries
    its own colour table (a one-frame GIF's global table, moved into the image descriptor)."""
    one = io.BytesIO()
    frame.save(one, format="GIF", duration=duration)
    header, blocks = _gif_blocks(one.getvalue())
    table = header[13:]
    out = b""
    for kind, block in blocks:
        if kind == b"\x21\xf9":  # graphic control: the frame's duration
            out += block
        elif kind[0] == 0x2C:
            packed = block[9]
            if not packed & 0x80:  # no local table: give it the global one
                size_bits = header[10] & 7
                block = block[:9] + bytes([packed | 0x80 | size_bits]) + table + block[10:]
            out += block
    return out


class ProgressGif:
    """progress.gif: every epoch's grid as one animation. Rebuilt from the grids once per session (they
    are the record; the GIF is derived from them), then extended by one frame per epoch: encoding one
    frame instead of every frame keeps an epoch's end from growing with the run. The file is still
    replaced atomically."""

    def __init__(self, seconds_per_frame=0.5):
        self.duration = int(seconds_per_frame * 1000)
        self.data, self.frames = None, []  # the file's bytes, and the grids it shows

    def save(self, path, frame_paths):
        frame_paths = list(frame_paths)
        if not frame_paths:
            return
        if self.data is not None and frame_paths[:-1] == self.frames:
            body = self.data[:-1] + _frame_blocks(_gif_frame(frame_paths[-1]), self.duration) + b"\x3b"
        elif self.data is not None and frame_paths == self.frames:
            body = self.data
        else:
            frames = [_gif_frame(p) for p in frame_paths]
            out = io.BytesIO()
            frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=self.duration, loop=0)
            body = out.getvalue()
        with files.replacing(path) as tmp:
            tmp.write_bytes(body)
        self.data, self.frames = body, frame_paths


def save_gif(path, frame_paths, seconds_per_frame=0.5):
    """All epoch grids as one animation, each frame captioned with its file name (see ProgressGif)."""
    ProgressGif(seconds_per_frame).save(path, frame_paths)
