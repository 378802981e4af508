"""TensorFlow 1.x graph mode on TensorFlow 2.16+, with a quiet console, imported when first used.

Every script imports `tf` from here instead of `import tensorflow.compat.v1 as tf`. Both `tf` and `tf2`
are stand-ins that import TensorFlow at their first use, so `--help`, a bad flag, or a run that is
already trained answer in well under a second instead of after TensorFlow's ~5–9 s import. At that
first use, the three settings that must precede any graph work happen once, in one place:

- eager execution off (placeholders, `tf.Session` and the graph-mode optimizers need it);
- resource variables on (`tf.disable_v2_behavior()` would turn them off; we want their well-defined
  read/write ordering, which the D-then-G training step relies on);
- TensorFlow's C++ start-up chatter hidden. Most of it is printed while the shared library loads, before
  any log level is read, so standard error is pointed at /dev/null for the import only. Set
  `GAN_TF_VERBOSE=1` to see everything TensorFlow prints (and `TF_CPP_MIN_LOG_LEVEL=0` for its C++ logs).
"""

import os
import sys
import types

_VERBOSE = os.environ.get("GAN_TF_VERBOSE", "") not in ("", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if _VERBOSE else "3")

_loaded = {}


def _import_quietly():
    if _VERBOSE:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def load():
    """(tensorflow.compat.v1, tensorflow), imported and set up on the first call."""
    if not _loaded:
        tensorflow = _import_quietly()
        v1 = tensorflow.compat.v1
        v1.disable_eager_execution()
        v1.enable_resource_variables()
        v1.logging.set_verbosity(v1.logging.ERROR)
        _loaded.update(v1=v1, v2=tensorflow)
    return _loaded["v1"], _loaded["v2"]


def loaded():
    """Whether TensorFlow has been imported yet (start-up tests and `--help` check it has not)."""
    return bool(_loaded)


class _Lazy(types.ModuleType):
    def __init__(self, name, which):
        super().__init__(name)
        self._which = which

    def __getattr__(self, attribute):
        module = load()[self._which]
        return getattr(module, attribute)


tf = _Lazy("tensorflow.compat.v1", 0)
tf2 = _Lazy("tensorflow", 1)  # the few TF2-only ops: stateless shuffles and dropout

__all__ = ["tf", "tf2", "load", "loaded"]
