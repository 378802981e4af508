"""bench.py's measurements, one family a module, so that each can be read, and trusted, apart from the
others and from the command line that chooses among them (bench.py stays the one entry point).

Here only what every family shares: the size of the data set an epoch is measured against, and the
stopwatch and the never-set signal that the timed loops hand to the real one.
"""

import time

MNIST_TRAIN = 60000


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class NoSignal:
    signum = None
