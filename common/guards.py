"""Process guards of a training: Ctrl-C and SIGTERM become a clean stop, and a test hook that
signals the process at a named point (how the tests make real crashes happen where they want them)."""

import os
import signal
import sys

FAULT_ENV = "GAN_FAULT"  # test hook, see fault_point()


class StopOnSignal:
    """Turn Ctrl-C and SIGTERM into a flag the loop checks after each step, so the step in flight
    finishes and a checkpoint is written before the program exits."""

    def __init__(self):
        self.signum = None

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        else:
            print("\nstill saving the checkpoint; it takes a moment", file=sys.stderr)

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    @property
    def name(self):
        return signal.Signals(self.signum).name


def armed():
    """Whether a test has set a fault point (GAN_FAULT): the loop then checks each step for it."""
    return FAULT_ENV in os.environ


def fault_point(point, step):
    """Test hook: with GAN_FAULT=<point>@<step> the process signals itself there — SIGINT for the
    `sigint…` points (Ctrl-C), and for the `sigkill…` points a SIGKILL, which no handler sees: a real
    crash. A `sigint…` point named `sigterm…` in GAN_FAULT sends SIGTERM there instead."""
    wanted = os.environ.get(FAULT_ENV)
    if wanted == f"{point}@{step}":
        os.kill(os.getpid(), signal.SIGINT if point.startswith("sigint") else signal.SIGKILL)
    elif point.startswith("sigint") and wanted == f"sigterm{point.removeprefix('sigint')}@{step}":
        os.kill(os.getpid(), signal.SIGTERM)
