"""The one place sessions are configured, so that GPU memory, thread settings and determinism mean
the same in all three scripts (and in the tools, which take the defaults)."""

from __future__ import annotations

from common.tfcompat import tf, tf2


def session_config(gpu_memory_fraction=None, allow_growth=True, intra_op_threads=0, inter_op_threads=0):
    """A `ConfigProto` for a training or sampling session.

    GPU memory grows as it is needed by default: these models need under 2 GB, and TensorFlow's own
    default reserves nearly all of every visible GPU, most of an 80 GB card kept from other jobs.
    `gpu_memory_fraction` caps this process at that share of each GPU (grown into, or taken at the
    start without `allow_growth`). Thread counts of 0 let TensorFlow use every core. Soft placement
    lets CPU-only ops (e.g. summaries) sit beside GPU ones without an error.
    """
    config = tf.ConfigProto(
        allow_soft_placement=True,
        intra_op_parallelism_threads=intra_op_threads,
        inter_op_parallelism_threads=inter_op_threads,
    )
    if gpu_memory_fraction is not None:
        config.gpu_options.per_process_gpu_memory_fraction = gpu_memory_fraction
    config.gpu_options.allow_growth = allow_growth
    return config


def deterministic_ops():
    """Make every op deterministic for the rest of the process (`--deterministic`).

    On a CPU the scripts' results are already bit for bit repeatable; GPU kernels are not (parallel
    sums whose order varies), so exact resume on a GPU needs this. It is process-wide and read when
    graphs are built and run, so the entry points call it before building any; TensorFlow then also
    refuses a random op with no seed, which is why every graph sets one.
    """
    tf2.config.experimental.enable_op_determinism()
