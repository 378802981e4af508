"""The one place sessions are configured, so that GPU memory and thread settings mean the same in all
three scripts (and in the benchmark)."""

from common.tfcompat import tf


def session_config(gpu_memory_fraction=0.8, allow_growth=False, intra_op_threads=0, inter_op_threads=0):
    """A `ConfigProto` for a training or sampling session.

    `gpu_memory_fraction` caps what TensorFlow reserves on each GPU (0.8, as in the classic scripts, leaves
    room for a second process or the desktop); `allow_growth` instead starts small and grows, which suits
    a shared GPU. Thread counts of 0 let TensorFlow use every core. Soft placement lets CPU-only ops
    (e.g. summaries) sit beside GPU ones without an error.
    """
    config = tf.ConfigProto(
        allow_soft_placement=True,
        intra_op_parallelism_threads=intra_op_threads,
        inter_op_parallelism_threads=inter_op_threads,
    )
    config.gpu_options.per_process_gpu_memory_fraction = gpu_memory_fraction
    config.gpu_options.allow_growth = allow_growth
    return config
