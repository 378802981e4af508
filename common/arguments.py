"""Command-line values checked as they are read, so that a wrong one is refused before any work, in one line.

Shared by the scripts and the tools (evaluate.py, compare.py, bench.py): a value out of range — NaN
and infinities included — is an argparse error naming the range, and `Parser` prints an argparse
error as one line (exit code 2), without the usage block.
"""

import argparse
import math
from pathlib import Path

INT_MAX = 2**31 - 1  # counts and sizes: what TensorFlow's int32 shapes hold
SEED_MAX = 2**63 - 1  # seeds: the int64 of the stateless random ops


def _number(kind, low=None, high=None, low_open=False, high_open=False, what="a number"):
    def convert(text):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if kind is float and not math.isfinite(value):  # nan, inf, and 1e400 (which reads as inf)
            raise argparse.ArgumentTypeError(f"{text} is not a finite number: must be {what}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {what}")
        return value

    convert.__name__ = what  # argparse names the converter in its messages
    return convert


positive_int = _number(int, low=1, high=INT_MAX, what="a whole number from 1 to 2^31 − 1")
nonnegative_int = _number(int, low=0, high=INT_MAX, what="a whole number from 0 to 2^31 − 1")
seed = _number(int, low=0, high=SEED_MAX, what="a whole number from 0 to 2^63 − 1")
nonnegative_float = _number(float, low=0, what="a number ≥ 0")
positive_float = _number(float, low=0, low_open=True, what="a number > 0")
unit_interval = _number(float, low=0, high=1, high_open=True, what="a number in [0, 1)")
fraction = _number(float, low=0, high=1, low_open=True, what="a number in (0, 1]")
kernel_size = _number(int, low=1, high=9, what="a whole number from 1 to 9")
layer_count = _number(int, low=0, high=8, what="a whole number from 0 to 8")
kernel_at_7x7 = _number(int, low=1, high=7, what="a whole number from 1 to 7 (the maps are 7×7)")
# A layer's width or z's size: past 2^16 units a weight matrix of the model outgrows TensorFlow's shapes
# or any memory (16,384 × 65,536 floats are 4 GiB), and the graph would fail with a traceback.
width = _number(int, low=1, high=2**16, what="a whole number from 1 to 65,536")
mode_count = _number(int, low=0, high=2**16, what="a whole number from 0 to 65,536")


walk_steps = _number(int, low=2, high=INT_MAX, what="a whole number from 2 to 2^31 − 1 (a walk's images, both ends included)")
digit = _number(int, 0, 9, what="a digit 0–9")


def path(text):
    """A file or folder named on the command line: `~` expanded (a quoted `~/runs` reaches us as is),
    and an empty name refused — an unset shell variable must never mean "the current folder"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty (an unset shell variable?): name a file or folder")
    try:
        return Path(text).expanduser()
    except RuntimeError:  # `~name` of a user this machine does not know, or no home folder at all
        raise argparse.ArgumentTypeError(f"{text}: no such user's home folder; write the path out in full") from None


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: what is wrong and where to look, without the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
