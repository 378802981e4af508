"""TensorFlow 1.x graph mode on TensorFlow 2.16+, with a quiet console.

Every script imports `tf` from here instead of `import tensorflow.compat.v1 as tf`, so that the three
settings that must precede any graph work happen once, in one place:

- eager execution off (placeholders, `tf.Session` and the graph-mode optimizers need it);
- resource variables on (`tf.disable_v2_behavior()` would turn them off; we want their well-defined
  read/write ordering, which the D-then-G training step relies on);
- TensorFlow's C++ start-up chatter hidden. Most of it is printed while the shared library loads, before
  any log level is read, so standard error is pointed at /dev/null for the import only. Set
  `GAN_TF_VERBOSE=1` to see everything TensorFlow prints (and `TF_CPP_MIN_LOG_LEVEL=0` for its C++ logs).
"""

import os
import sys

_VERBOSE = os.environ.get("GAN_TF_VERBOSE", "") not in ("", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if _VERBOSE else "3")


def _import_quietly():
    if _VERBOSE:
        import tensorflow.compat.v1 as tf_v1

        return tf_v1
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow.compat.v1 as tf_v1
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf_v1


tf = _import_quietly()
tf.disable_eager_execution()
tf.enable_resource_variables()
tf.logging.set_verbosity(tf.logging.ERROR)

import tensorflow as tf2  # noqa: E402  (the few TF2-only ops: stateless shuffles and dropout)

__all__ = ["tf", "tf2"]
