"""Which device runs the graph: said in the first lines of every command that builds a session, and
recorded in config.json and the metrics files, so a GPU box that quietly trains on its CPU (plain
`pip install tensorflow` on a Linux box without a system CUDA) is caught in seconds, not hours.

`--device auto` (the default) uses a GPU when TensorFlow sees one; `gpu` refuses to start without one;
`cpu` hides the GPUs. Nothing here imports TensorFlow until `choose` is called.
"""

import contextlib
import os
import shutil
import sys
from pathlib import Path

from common.errors import UsageError

CHOICES = ("auto", "gpu", "cpu")
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")  # present where the NVIDIA kernel driver is loaded
CUDA_FIX = "pip install 'tensorflow[and-cuda]' (TensorFlow with its CUDA libraries)"


def nvidia_driver():
    """Whether this machine has an NVIDIA driver: a GPU that TensorFlow ought to see."""
    return NVIDIA_DRIVER_FILE.exists() or shutil.which("nvidia-smi") is not None


def _visible_gpus(requested):
    from common.tfcompat import loaded, tf2

    if requested == "cpu":
        if not loaded():
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before TensorFlow starts: it never opens the GPUs
        else:
            # Once the runtime is up this cannot change: tests that run many commands in one process.
            with contextlib.suppress(RuntimeError, ValueError):
                tf2.config.set_visible_devices([], "GPU")
    return [] if requested == "cpu" else tf2.config.list_physical_devices("GPU")


def describe(gpus):
    """`GPU 0 (NVIDIA A100-SXM4-40GB)`, with how many more there are, or `CPU`."""
    if not gpus:
        return "CPU"
    from common.tfcompat import tf2

    try:
        name = tf2.config.experimental.get_device_details(gpus[0]).get("device_name") or "unnamed"
    except (RuntimeError, ValueError):
        name = "unnamed"
    more = f"; {len(gpus) - 1} more visible, unused" if len(gpus) > 1 else ""
    return f"GPU 0 ({name}{more})"


def choose(requested="auto", log=print):
    """Decide and say which device runs the graphs of this process; return its description (for
    config.json and the metrics files). `--device gpu` without a GPU is a UsageError (exit 2)."""
    gpus = _visible_gpus(requested)
    if requested == "gpu" and not gpus:
        why = "this machine has an NVIDIA driver, so most likely" if nvidia_driver() else "no NVIDIA driver found, or"
        raise UsageError(
            f"--device gpu: TensorFlow sees no GPU ({why} TensorFlow was installed without its CUDA libraries); "
            f"{CUDA_FIX}, or leave out --device to run on the CPU"
        )
    where = describe(gpus)
    why = " (--device cpu)" if requested == "cpu" else "" if gpus else " (TensorFlow sees no GPU)"
    log(f"device: {where}{why}")
    if not gpus and requested == "auto" and nvidia_driver():
        print(
            "warning: this machine has an NVIDIA driver but TensorFlow sees no GPU, so this runs on the CPU "
            f"(tens of times slower); the usual reason is TensorFlow without its CUDA libraries: {CUDA_FIX}. "
            "--device cpu silences this",
            file=sys.stderr,
            flush=True,
        )
    return where
