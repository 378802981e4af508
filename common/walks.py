"""Latent walks and mode grids: what a trained G draws along a path through its noise, a way to see
what it has learnt rather than how well (White 2016, "Sampling generative networks").

    --generate N --walk STEPS                      N walks of STEPS images, each between two noise vectors
    --generate N --walk STEPS --walk-digits 3,8    gan_cdcgan.py: each row keeps its noise, its label goes 3 → 8
    --generate N --modes                           gan_dcgan.py: a row of N images per noise mode
    --generate N --walk STEPS --walk-modes 2,7     gan_dcgan.py: each row's Gaussian part carried from mode 2 to 7

A walk starts at the noise of the N images that `--generate N` draws (draw 0 of the GENERATE stream)
and ends at the next N (draw 1), keyed by the run's seed as every `--generate` is: the same command
draws the same picture, and a walk's first image is the plain draw's. The other pictures keep draw 0's
noise. Each script says how its z is made (`latent`): a centre (the DCGAN's mode centre; none in the
others), walked in a straight line, and a spread about it, walked along a great circle when it is
Gaussian and in a straight line when it is uniform. The paths are computed here, in numpy, and fed to G.

The picture: a .png with a walk (or a mode) a row, an animated .gif whose frame k holds every walk's
k-th image, or a .npz of images [rows, columns, 28, 28, 1] (for the conditional model with the ten
weights of each image's label).
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from common import device, files, gan, images, inputs, sampling
from common.errors import UsageError
from common.tfcompat import tf

SECONDS_PER_FRAME = 0.2  # a GIF's: ten steps go by in two seconds


class Latent(NamedTuple):
    """z as a script draws it for sampling (z = centre + spread), in the two parts a walk treats apart."""

    centre: Any  # [count, z_dim], or None: z is all spread
    spread: Any  # [count, z_dim]
    spherical: bool  # a Gaussian spread, walked along a great circle; else (uniform) in a straight line


def fractions(steps):
    """A walk's positions, from 0 to 1 in `steps` even steps, both ends exact."""
    return np.linspace(0.0, 1.0, steps)


def lerp(a, b, t):
    """[rows, len(t), dim]: from each row of `a` to the same row of `b` in a straight line, at the
    fractions `t` (a or b may be one row, shared by all). The ends are a and b to the bit."""
    a, b, t = _walkable(a, b, t)
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a, b, t):
    """[rows, len(t), dim]: from each row of `a` to the same row of `b` along the great circle through
    them (Shoemake 1985), as White (2016) walks a GAN's Gaussian noise. A Gaussian z in many dimensions
    lies near a sphere (radius σ√dim), and the straight line between two such z's cuts inside it, to
    norms G never saw (0.71 of it halfway between two orthogonal ones, which two draws nearly are);
    the circle keeps the norm where the ends share it. The ends are a and b to the bit; ends parallel
    or opposite, where no one circle passes, are joined by the straight line."""
    a, b, t = _walkable(a, b, t)
    norms = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        omega = np.arccos(np.clip(np.sum(a * b, -1, keepdims=True) / norms, -1.0, 1.0))
        sin = np.sin(omega)
        circle = sin > 1e-6  # False for NaN too (a zero end)
        from_a = np.where(circle, np.sin((1 - t) * omega) / np.where(circle, sin, 1.0), 1 - t)
        to_b = np.where(circle, np.sin(t * omega) / np.where(circle, sin, 1.0), t)
    return (from_a * a + to_b * b).astype(np.float32)


def _walkable(a, b, t):
    """a, b as [rows, 1, dim] and t as [1, steps, 1], in float64."""
    a, b = (np.asarray(x, np.float64)[:, None, :] for x in (a, b))
    return a, b, np.asarray(t, np.float64)[None, :, None]


# ----------------------------------------------------------------------------------- the pictures
def generate(args, model, run, target):
    """Draw the walks or the mode grid the flags ask for from the run's checkpoint into `target`
    (`sampling.generate` has read the run's settings and found a checkpoint)."""
    script = importlib.import_module(model.script)  # its `latent` (and the DCGAN's mode centres)
    classes = script.CLASSES if model.conditional else None
    check_modes(args)
    sampling.check_writable(target)
    device.choose(args.device)
    with sampling.restored(args, run, args.checkpoint, lambda: _graph(args, model, script, classes)) as (sess, graph, checkpoint):
        start = _noise(sess, graph, args.generate, draw=0)
        if args.walk_digits:
            z, weights, what = _label_walk(args, start, classes)
        elif args.modes or args.walk_modes:
            z, weights, what = _modes(args, start, sess.run(graph.centres))
        else:
            end = _noise(sess, graph, args.generate, draw=1)
            z, weights, what = _noise_walk(args, start, end, classes)
        out = _draw(sess, graph, z, weights)
    save(target, out, weights)
    print(f"wrote {what} from {checkpoint} to {target}")


def check_modes(args):
    """Refuse, before TensorFlow loads, the modes of a run trained without them, or a mode it lacks
    (the run's own Z_MODES counts, not the script's)."""
    flag = "--modes" if args.modes else "--walk-modes {},{}".format(*args.walk_modes) if args.walk_modes else None
    if flag and not args.z_modes:
        raise UsageError(
            f"{flag}: this run has no noise modes (trained with --z-modes 0); --walk STEPS walks between noise vectors"
        )
    if args.walk_modes and max(args.walk_modes) >= args.z_modes:
        raise UsageError(f"{flag}: this run has {args.z_modes} noise modes, numbered 0 to {args.z_modes - 1}")


def _graph(args, model, script, classes):
    """The run's G fed with z (and `classes` label weights) of our own, beside the script's noise and
    mode centres."""
    size, chunk = tf.placeholder(tf.int32, []), tf.placeholder(tf.int64, [])
    z = tf.placeholder(tf.float32, [None, args.z_dim])
    labels = tf.placeholder(tf.float32, [None, classes]) if classes else None
    return SimpleNamespace(
        size=size,
        chunk=chunk,
        latent=script.latent(size, inputs.stream_seed(args.seed, inputs.Stream.GENERATE, chunk), args),
        centres=gan.mode_centres(args) if args.modes or args.walk_modes else None,
        z=z,
        labels=labels,
        fake=model.sample(args, None, None, labels, z=z),
    )


def _noise(sess, graph, count, draw):
    """The parts of draw `draw` of `count` z's, in the chunks `sampling.generate_images` draws them in."""
    latent = graph.latent
    fetch = {"spread": latent.spread, **({} if latent.centre is None else {"centre": latent.centre})}
    parts = [sess.run(fetch, {graph.size: n, graph.chunk: counter}) for counter, _, n in sampling.chunks(count, draw)]
    joined = {key: np.concatenate([part[key] for part in parts]) for key in fetch}
    return Latent(joined.get("centre"), joined["spread"], latent.spherical)


def _whole(latent):
    """z itself, summed as the script's noise sums it (so G gets the plain draw's z to the bit)."""
    return latent.spread if latent.centre is None else latent.spread + latent.centre


def _noise_walk(args, start, end, classes):
    """--walk: row r from draw 0's z r to draw 1's, the centre straight, the spread as the script says;
    a conditional model's row (`classes`: its label count) keeps the digit `--generate` gives image r."""
    t = fractions(args.walk)
    z = (slerp if start.spherical else lerp)(start.spread, end.spread, t)
    if start.centre is not None:
        z = lerp(start.centre, end.centre, t) + z
    weights = None
    if classes:
        digits = np.full(args.generate, args.label) if args.label is not None else sampling.balanced_labels(args.generate)
        weights = np.eye(classes, dtype=np.float32)[digits][:, None, :].repeat(args.walk, axis=1)
    return z, weights, f"{args.generate} walks of {args.walk} steps"


def _label_walk(args, start, classes):
    """--walk-digits A,B: each row keeps draw 0's z while its label weights go from A's one-hot to B's."""
    a, b = args.walk_digits
    one_hot = np.eye(classes)
    weights = lerp(one_hot[[a]], one_hot[[b]], fractions(args.walk)).repeat(args.generate, axis=0)
    z = _whole(start)[:, None, :].repeat(args.walk, axis=1)
    return z, weights, f"{args.generate} walks of {args.walk} steps (digit {a} to {b})"


def _modes(args, start, centres):
    """--modes: row k puts draw 0's Gaussian parts on mode k's centre (a column keeps its Gaussian part,
    so it shows what each mode makes of it); --walk-modes A,B: row r carries draw 0's Gaussian part r
    from mode A's centre to mode B's."""
    if args.modes:
        return centres[:, None, :] + start.spread[None], None, f"{len(centres)} modes × {args.generate} images"
    a, b = args.walk_modes
    z = lerp(centres[[a]], centres[[b]], fractions(args.walk)) + start.spread[:, None, :]
    return z, None, f"{args.generate} walks of {args.walk} steps (mode {a}'s centre to mode {b}'s)"


def _draw(sess, graph, z, weights):
    """G's images [rows, columns, 28, 28, 1] of z [rows, columns, z_dim] (and label weights)."""
    rows, cols = z.shape[:2]
    z = z.reshape(rows * cols, -1)
    weights = None if weights is None else weights.reshape(rows * cols, -1)
    parts = []
    for start in range(0, len(z), sampling.CHUNK):
        feed = {graph.z: z[start : start + sampling.CHUNK]}
        if weights is not None:
            feed[graph.labels] = weights[start : start + sampling.CHUNK]
        parts.append(sess.run(graph.fake, feed))
    return np.concatenate(parts).astype(np.float32).reshape(rows, cols, 28, 28, 1)


def save(target, out, weights=None):
    """Images [rows, columns, 28, 28, 1] as a .png grid of those rows and columns, a .gif of the columns
    in turn, or a .npz (with the label weights, for the conditional model); written atomically."""
    rows, cols = out.shape[:2]
    kind = target.suffix.lower()
    if kind == ".png":
        images.save_png(target, images.grid(out.reshape(rows * cols, 28, 28, 1), rows, cols))
    elif kind == ".gif":
        save_gif(target, [images.grid(out[:, k]) for k in range(cols)])
    else:
        sampling.save_npz(target, {"images": out, **({} if weights is None else {"labels": weights})})


def save_gif(target, grids):
    """One frame a grid, looping, each captioned with its step: the caption also keeps Pillow from
    merging two steps that look alike into one frame, so a walk of STEPS is STEPS frames."""
    frames = []
    for k, grid in enumerate(grids):
        height, width = grid.shape
        frame = Image.new("L", (max(width, 72), height + images.CAPTION), 255)
        frame.paste(Image.fromarray(grid), (0, images.CAPTION))
        ImageDraw.Draw(frame).text((3, 2), f"step {k + 1}/{len(grids)}", fill=0)
        frames.append(frame)
    with files.replacing(target) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=int(SECONDS_PER_FRAME * 1000), loop=0)
