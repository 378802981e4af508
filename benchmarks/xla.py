"""XLA auto-clustering of our training step, as a lever to measure (`bench.py --xla`): TensorFlow groups
the step's compilable ops into clusters and XLA compiles each into fused kernels. It is not a setting of
the scripts: on this CPU it makes a step slower (docs/results.md), and on a GPU, where fewer kernel
launches would be its gain, nobody has measured it here.

A traced step shows a cluster as one `_XlaRun` op, plus the host-side ops that look its executable up
(`_XlaCompile`, `Switch`, `Merge`, `_XlaMerge`). Counted as a GPU would launch them, a cluster is the
kernels of its compiled module: every instruction of the module's entry computation but parameters,
constants, tuples and bitcasts (fusions, convolutions, matmuls, copies). The modules are XLA's own
dumps, compiled for this CPU; a GPU's compiler also fuses independent small kernels side by side
(horizontal fusion, e.g. the optimizers' per-variable updates), so on a GPU the count is an upper bound.
"""

import os
import re
import tempfile
from pathlib import Path

TRIVIAL = {"parameter", "constant", "tuple", "get-tuple-element", "bitcast"}
_RUN = re.compile(r"(cluster_\d+)_\d+/xla_run")
_CLUSTER_SCOPE = re.compile(r"cluster_\d+_\d+/")
_DUMP_DIR = None


def enable():
    """Turn auto-clustering on for this CPU and have XLA dump what it compiles. Both flags are read once,
    when XLA is first used: this must run before any session does."""
    global _DUMP_DIR
    _DUMP_DIR = Path(tempfile.mkdtemp(prefix="bench-xla-"))
    os.environ["TF_XLA_FLAGS"] = f"{os.environ.get('TF_XLA_FLAGS', '')} --tf_xla_cpu_global_jit".strip()
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={_DUMP_DIR} --xla_dump_hlo_as_text".strip()


def configure(config):
    """The session setting that clusters every session's graph (ON_1: the level TensorFlow's docs use)."""
    from common.tfcompat import tf

    config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    return config


def compiled_modules():
    """The dumped modules so far: {file name: its path}, the optimized form of each cluster XLA compiled."""
    if _DUMP_DIR is None:
        return {}
    return {p.name: p for p in sorted(_DUMP_DIR.glob("*after_optimizations.txt"))}


def module_kernels(text):
    """Kernels of one compiled module: its entry computation's instructions but the trivial ones."""
    entry = text[text.index("\nENTRY") :]
    entry = entry[: entry.index("\n}\n")]
    kinds = re.findall(r"=\s*\S+\s+([a-z][a-z\-]*)\(", entry)
    return sum(1 for kind in kinds if kind not in TRIVIAL)


def cluster_kernels(new_files):
    """{cluster name: kernels} of the modules in `new_files` (those one model's run compiled; a later
    recompilation of a cluster replaces the earlier one)."""
    kernels = {}
    for name in sorted(new_files):
        cluster = name.split(".", 1)[1].split("__", 1)[0]  # module_0007.cluster_6__XlaCompiledKernel_…
        kernels[cluster] = module_kernels(new_files[name].read_text())
    return kernels


def traced_kernels(node_name, kind, clusters):
    """How many kernels one traced op stands for: a cluster's run its module's, the host-side ops that
    pick its executable none, any other op None (counted as TensorFlow runs it)."""
    run = _RUN.fullmatch(node_name)
    if run:
        return clusters.get(run.group(1), 1)
    return 0 if _CLUSTER_SCOPE.match(node_name) else None
