"""The machine the figures were measured on, and what it can do at best: a step's GFLOP/s means little
without this machine's own matmul peak beside it, and a result file without the CPU, the threads and the
versions cannot be compared with another."""

import os
import platform
import resource

from benchmarks import timed
from common.tfcompat import tf


def matmul_peak(size, repeats, config):
    """GFLOP/s of the best of `repeats` float32 [size × size] @ [size × size] in TensorFlow."""
    with tf.Graph().as_default():
        a = tf.Variable(tf.random.normal([size, size]))
        b = tf.Variable(tf.random.normal([size, size]))
        product = tf.reduce_sum(tf.matmul(a, b))  # the sum keeps the result from crossing to Python
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(product)
            best = min(timed(lambda: sess.run(product)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine_line(config):
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    threads = (
        f"intra-op {config.intra_op_parallelism_threads or 'auto'}, inter-op {config.inter_op_parallelism_threads or 'auto'}"
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "tensorflow": tf.VERSION,
        "threads": threads,
        "python": platform.python_version(),
    }
