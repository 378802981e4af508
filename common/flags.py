"""The scripts' command line: every hyperparameter a flag, the run and --generate flags, and what goes together.

Each script's UPPERCASE constants are its hyperparameters; `parse` turns every one into a flag
(`BATCH_SIZE` -> `--batch-size`) with the constant as default, so editing the file and passing a flag
are the same thing. Each value is checked against its range as it is read (common/arguments.py), and
`check_value` checks a value read back from a run's config.json as its flag would.
"""

from __future__ import annotations

import argparse
import sys

from common import device
from common.arguments import (
    Parser,
    digit,
    fraction,
    kernel_at_7x7,
    kernel_size,
    layer_count,
    mode_count,
    nonnegative_float,
    nonnegative_int,
    path,
    positive_float,
    positive_int,
    seed,
    unit_interval,
    walk_steps,
    width,
)
from common.data import DATASETS


def _pair(one, what):
    """`3,8`: two different values, each read by the converter `one` (the two ends of a walk)."""

    def convert(text):
        parts = text.split(",")
        try:
            if len(parts) != 2:
                raise argparse.ArgumentTypeError("not two")
            a, b = (one(part.strip()) for part in parts)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if a == b:
            raise argparse.ArgumentTypeError(f"{text} names one end twice: must be {what}")
        return a, b

    convert.__name__ = what
    return convert


def _one_of(*choices):
    def convert(text):
        if text not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    convert.__name__ = " or ".join(choices)
    return convert


# Training steps per session.run (--steps-per-run) where a GPU is visible. A session.run and the loop's
# Python around it cost the host ~250 µs (bench.py, this CPU), a tenth of a GPU DCGAN step (~3 ms) and
# half an FC step; 64 steps a run bring the host cost to ~15 µs a step, and a run still takes under
# half a second, so Ctrl-C answers at once. On a CPU a step takes 10–500 ms and the cost is lost in it,
# while 64 DCGAN steps would keep Ctrl-C and the progress bar waiting ~20 s: there the default is 1.
# Results do not depend on it (bit for bit, tested), so it is not part of a run's name.
STEPS_PER_RUN = 64

# Hyperparameters whose range is not the default for their type (int: ≥ 1, float: > 0).
RANGES = {
    "SEED": seed,
    "BETA1": unit_interval,
    "BETA2": unit_interval,
    "LABEL_SMOOTHING": unit_interval,
    "DROPOUT": unit_interval,
    "LR_DECAY": fraction,
    "D_LR_DECAY": fraction,
    "DECAY_START": nonnegative_int,  # 0: from the first step
    "BN_MOMENTUM": unit_interval,
    "G_AVERAGE": unit_interval,
    "INIT_STDDEV": nonnegative_float,  # 0: Glorot uniform
    "MODE_SEEKING": nonnegative_float,  # 0: off
    "CLASS_LOSS": nonnegative_float,  # 0: off
    "MINIBATCH_KERNELS": nonnegative_int,  # 0: off
    "G_KERNEL": kernel_size,  # the DCGAN's maps are 7×7 to 28×28: a larger kernel would be mostly padding
    "D_KERNEL": kernel_size,
    "G_7X7_LAYERS": layer_count,  # 0: the fc's 4F maps go straight to the upsampling layers
    "G_7X7_KERNEL": kernel_at_7x7,
    "D_7X7_LAYERS": layer_count,  # 0: D's second convolution feeds the logit
    "Z_MODES": mode_count,  # 0: one Gaussian
    **dict.fromkeys(("G_FILTERS", "D_FILTERS", "G_HIDDEN", "D_HIDDEN", "Z_DIM"), width),
    "D_CONDITION": _one_of("projection", "input"),
}


def hyperparameters(namespace):
    """The UPPERCASE int/float/str/bool constants of a script's globals, in the order written.

    A script calls it right after its hyperparameter block, so constants defined further down (grid
    sizes, the number of classes) are not flags.
    """
    return {
        name: value
        for name, value in namespace.items()
        if name.isupper() and not name.startswith("_") and isinstance(value, (int, float, str, bool))
    }


def _converter(name, default):
    if name in RANGES:
        return RANGES[name]
    if isinstance(default, bool):
        return None
    if isinstance(default, int):
        return positive_int
    if isinstance(default, float):
        return positive_float
    return str


def check_value(name, value, default):
    """Raise ValueError when `value` (read back from a run's config.json) could not have been given as
    the flag of the constant `name`, whose default is `default`: the wrong kind, or out of range."""
    if isinstance(default, bool) or isinstance(value, bool):
        if not (isinstance(value, bool) and isinstance(default, bool)):
            raise ValueError(f"not {'true or false' if isinstance(default, bool) else 'a number'}")
        return
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    if not isinstance(value, type(default)):
        raise ValueError(f"not a {type(default).__name__}")
    try:
        _converter(name.upper(), default)(repr(value) if isinstance(value, float) else str(value))
    except argparse.ArgumentTypeError as e:
        raise ValueError(str(e)) from None


def flag_of(name):
    """`BATCH_SIZE` (or `batch_size`) -> `--batch-size`."""
    return "--" + name.lower().replace("_", "-")


def given_on_command_line(hparams, argv):
    """The hyperparameters (lowercase) whose flags appear in `argv`, even with their default values:
    given so, a sampling-only one overrides a run's recorded value (see names.SAMPLING_ONLY)."""
    given = set()
    for name in hparams:
        flag = flag_of(name)
        names = (flag, "--no-" + flag[2:])
        if any(a in names or a.startswith(flag + "=") for a in argv):
            given.add(name.lower())
    return given


def add_device_flag(parser):
    parser.add_argument(
        "--device",
        choices=device.CHOICES,
        default="auto",
        help="auto (the default): a GPU if TensorFlow sees one, else the CPU; gpu: refuse to start without one; cpu: hide the GPUs",
    )


def build_parser(description, hparams, conditional=False):
    # No abbreviations: `--label` must never quietly mean `--label-smoothing`.
    parser = Parser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    group = parser.add_argument_group("hyperparameters (defaults: the constants at the top of the script)")
    for name, default in hparams.items():
        flag = flag_of(name)
        if isinstance(default, bool):
            group.add_argument(flag, default=default, action=argparse.BooleanOptionalAction, help=f"{name} = {default}")
        else:
            kind = type(default).__name__.upper()
            group.add_argument(flag, type=_converter(name, default), default=default, metavar=kind, help=f"{name} = {default}")
    run = parser.add_argument_group("run")
    run.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    run.add_argument("--data-dir", type=path, help="folder with the four IDX files (default: search, see README)")
    run.add_argument("--out-dir", type=path, help="run folder (default: outputs/<script>/<run name>)")
    run.add_argument("--fresh", action="store_true", help="start over: delete this run's checkpoints and outputs")
    run.add_argument("--steps-per-epoch", type=positive_int, help="cap on steps per epoch, for quick runs")
    run.add_argument(
        "--steps-per-run",
        type=positive_int,
        metavar="K",
        help=f"training steps per session.run (default {STEPS_PER_RUN} on a GPU, 1 on a CPU): fewer host round trips; "
        "Ctrl-C is honoured after at most K steps",
    )
    run.add_argument(
        "--gpu-memory-fraction",
        type=fraction,
        metavar="F",
        help="cap on the share of each GPU's memory TensorFlow may take (default: no cap)",
    )
    run.add_argument(
        "--gpu-allow-growth",
        default=True,
        action=argparse.BooleanOptionalAction,
        help="take GPU memory as it is needed; --no-gpu-allow-growth reserves it all (or F) at the start",
    )
    run.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic GPU kernels, so that a resumed GPU run ends bit for bit as an unbroken one (slower)",
    )
    add_device_flag(run)
    run.add_argument(
        "--eval-every",
        type=nonnegative_int,
        default=1,
        metavar="N",
        help="classifier score and Fréchet distance every N epochs (0: never); default 1",
    )
    gen = parser.add_argument_group("generate (no training)")
    gen.add_argument("--generate", type=positive_int, metavar="N", help="write N images from the latest checkpoint")
    gen.add_argument(
        "--to", type=path, metavar="FILE", help="FILE.npz (float images in [-1, 1]), FILE.png (a grid), FILE.gif (a walk)"
    )
    gen.add_argument("--checkpoint", choices=["latest", "best"], help="latest (the default), or best by Fréchet distance")
    if conditional:
        gen.add_argument("--label", type=digit, help="draw only this digit")
    else:  # accepted only to say where it belongs
        gen.add_argument("--label", help=argparse.SUPPRESS)
    _add_walk_flags(gen, conditional, modes="Z_MODES" in hparams)
    return parser


def _add_walk_flags(gen, conditional, modes):
    """--walk for every script, --walk-digits for the conditional one, --modes and --walk-modes for the
    one whose noise has modes; the others accept these only to say where they belong (common/walks.py)."""
    gen.add_argument(
        "--walk",
        type=walk_steps,
        metavar="STEPS",
        help="N walks of STEPS images, each from one noise vector to another: a .png (a walk a row) or an animated .gif",
    )
    hidden = dict(help=argparse.SUPPRESS)
    digits = dict(
        type=_pair(digit, "two different digits 0–9, as 3,8"),
        metavar="A,B",
        help="with --walk: each row keeps its noise while its label goes from digit A to digit B",
    )
    gen.add_argument("--walk-digits", **(digits if conditional else hidden))
    grid = dict(help="a row of N images per noise mode; each column keeps its Gaussian part in every mode")
    gen.add_argument("--modes", action="store_true", **(grid if modes else hidden))
    between = dict(
        type=_pair(nonnegative_int, "two different mode numbers, as 2,7"),
        metavar="A,B",
        help="with --walk: each row keeps its Gaussian part, carried from mode A's centre to mode B's",
    )
    gen.add_argument("--walk-modes", **(between if modes else hidden))


def _check_walk_flags(parser, args, conditional, modes):
    if args.walk_digits is not None and not conditional:
        parser.error("--walk-digits: this model is not conditional; gan_cdcgan.py walks from one digit to another")
    if (args.modes or args.walk_modes is not None) and not modes:
        parser.error(
            f"{'--modes' if args.modes else '--walk-modes'}: this model's noise has no modes (gan_dcgan.py's has, and gan_fc.py's with --z-modes)"
        )
    picture = "--walk" if args.walk else "--modes" if args.modes else None
    if picture and args.generate is None:
        parser.error(f"{picture} goes with --generate N ({'N walks' if args.walk else 'N images a mode'})")
    for flag, value in (("--walk-digits", args.walk_digits), ("--walk-modes", args.walk_modes)):
        if value is not None and not args.walk:
            parser.error(f"{flag} goes with --walk STEPS (the images in each walk)")
    if args.walk_digits is not None and args.label is not None:
        parser.error("--walk-digits walks from one digit to another: leave out --label")
    if args.modes and args.walk:
        parser.error("--modes draws a grid of the modes; to walk from one to another: --walk STEPS --walk-modes A,B")
    if picture and args.to is None:
        parser.error(f"{picture} draws a picture: name it with --to FILE.png (or .gif, .npz)")


def parse(description, hparams, argv=None, conditional=False):
    """Parse flags into one namespace: every hyperparameter (lowercase) plus the run flags, and
    `hparams`, the dict of hyperparameter values as they are for this run."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser(description, hparams, conditional)
    args = parser.parse_args(argv)
    if not conditional and args.label is not None:
        parser.error("--label: this model is not conditional; gan_cdcgan.py draws a chosen digit")
    if args.label is not None and args.generate is None:
        parser.error("--label goes with --generate N")
    if args.fresh and args.generate is not None:
        parser.error("--fresh goes with training; --generate only reads a run")
    if args.steps_per_run is not None and args.generate is not None:
        parser.error("--steps-per-run goes with training; --generate runs no training steps")
    if args.checkpoint is not None and args.generate is None:
        parser.error("--checkpoint goes with --generate N (training always resumes from the latest checkpoint)")
    if getattr(args, "z_modes", 0) > getattr(args, "z_dim", 0):
        parser.error(
            f"--z-modes {args.z_modes} needs --z-dim ≥ {args.z_modes} (each mode shifts its own axis of z), "
            f"not {args.z_dim}: raise --z-dim or lower --z-modes (0: one Gaussian)"
        )
    if args.batch_size % getattr(args, "packing", 1):
        parser.error(f"--batch-size {args.batch_size} does not split into packs of {args.packing}: make it a multiple")
    if getattr(args, "minibatch_by_digit", False) and not args.minibatch_kernels:
        parser.error("--minibatch-by-digit groups the batch closeness by digit: it needs --minibatch-kernels 1 or more")
    if getattr(args, "mode_seeking", 0) and args.batch_size < 2:
        parser.error("--mode-seeking compares images in pairs: it needs --batch-size 2 or more")
    args.checkpoint = args.checkpoint or "latest"
    _check_walk_flags(parser, args, conditional, "Z_MODES" in hparams)
    if args.to is not None:
        if args.generate is None:
            parser.error("--to goes with --generate N")
        if args.to.is_dir():
            parser.error(f"--to {args.to} is a folder; name a file in it, e.g. {args.to / 'digits.png'}")
        if args.to.suffix.lower() not in (".npz", ".png", ".gif"):
            parser.error(f"--to {args.to}: unknown extension {args.to.suffix or '(none)'}; use .npz or .png (.gif with --walk)")
        if args.to.suffix.lower() == ".gif" and not args.walk:
            parser.error(f"--to {args.to}: a GIF animates a walk; add --walk STEPS, or write a .png")
    args.hparams = {name.lower(): getattr(args, name.lower()) for name in hparams}
    args.given = given_on_command_line(hparams, argv)
    return args


def steps_per_run(args):
    """--steps-per-run, or its default for the devices TensorFlow sees (see STEPS_PER_RUN)."""
    if args.steps_per_run is not None:
        return args.steps_per_run
    from common.tfcompat import tf2

    return STEPS_PER_RUN if tf2.config.list_physical_devices("GPU") else 1
