"""`bench.py --peers`: our training step beside its peers, Keras 3 (tf.function, XLA) and PyTorch (eager,
channels-last), for each model at its default batch size, in two rounds. A busy machine's speed drifts
over minutes; the two rounds, each running every column once in the same order, show how far, and
a ratio that holds in both is one to trust.

Ours is timed in this process by `steps.bench_ours`, the very figure `python bench.py` prints: the
script's graph driven by the real loop. (A `bench.py` subprocess would time the same thing after
paying for the matmul peak and the host-cost measurements first.) Each peer runs in a process of its
own, one at a time, while this one waits: only one measured thing runs at once.
"""

import dataclasses
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from benchmarks import report, xla
from benchmarks.machine import machine_line
from benchmarks.peers import ours
from benchmarks.steps import bench_ours, synthetic_mnist
from common import device, tfcompat
from common.session import session_config

ROUNDS = 2
REPO = Path(__file__).resolve().parents[2]
TORCH_MISSING = "PyTorch not installed: its columns skipped (pip install torch)"
FRAMEWORKS = {"keras": "Keras", "pytorch": "PyTorch"}
LEGEND = "    images/s, round 1 · round 2; ×: ours ÷ the peer, means of the rounds (above 1: ours is faster)"


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    title: str
    framework: str = ""  # "" for ours
    command: tuple = ()  # the peer's module and its variant's flags
    convolutional_only: bool = False  # channels-last means nothing to the FC's dense layers


KERAS, TORCH = "benchmarks.peers.keras_peers", "benchmarks.peers.torch_peers"
COLUMNS = (
    Column("ours", "ours"),
    Column("keras", "Keras 3 + tf.function", "keras", (KERAS,)),
    Column("keras_xla", "Keras + XLA", "keras", (KERAS, "--jit")),
    Column("pytorch", "PyTorch", "pytorch", (TORCH,)),
    Column("pytorch_channels_last", "PyTorch, channels-last", "pytorch", (TORCH, "--channels-last"), convolutional_only=True),
)
OURS_XLA = Column("ours_xla", "ours + XLA")  # with --xla: our step auto-clustered (benchmarks/xla.py)
WIDTHS = (16, 13, 24, 24, 24, 24, 24)  # the model column, then the columns''


def torch_installed():
    return importlib.util.find_spec("torch") is not None


def measure_ours(name, args, config, data, compiled=False):
    """Images/s of our step: `bench_ours` at the script's defaults and `--batch-size`."""
    module, hp = report.model_args(report.MODELS[name], args.batch_size)
    step = bench_ours(module, hp, data, args.steps, args.repeats, args.warmup, config, args.steps_per_run, compiled=compiled)
    return step["images_per_s"]


def measure_peer(column, name, batch, args):
    """The peer's JSON line (harness.report_line), or {"error": its last line of errors}."""
    command = [sys.executable, "-m", *column.command, "--model", name, "--batch", str(batch)]
    command += ["--steps", str(args.steps), "--warmup", str(args.warmup), "--repeats", str(args.repeats)]
    command += ["--threads", str(args.intra_op_threads)] if args.intra_op_threads else []
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        errors = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        return {"error": errors[-1]}
    return json.loads(lines[-1])


def run(args):
    """The table's results, each model's row printed when its two rounds are done."""
    names = list(report.MODELS) if args.model == "all" else [args.model]
    if args.xla:  # before TensorFlow first uses XLA, which reads its flags once
        xla.enable()
    tfcompat.load()
    config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    xla_config = (
        xla.configure(session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads))
        if args.xla
        else None
    )
    machine = {**machine_line(config), "device": device.choose(args.device)}
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, TF {machine['tensorflow']}, threads {machine['threads']}")
    columns = [COLUMNS[0], OURS_XLA, *COLUMNS[1:]] if args.xla else list(COLUMNS)
    if not torch_installed():
        print(TORCH_MISSING)
        columns = [c for c in columns if c.framework != "pytorch"]
    lines = [_cells(["model (batch)", *(c.title for c in columns)]), LEGEND]
    print("\n".join(lines), flush=True)
    data = synthetic_mnist(np.random.default_rng(0))
    results = {"machine": machine, "rounds": ROUNDS, "models": {}, "table": lines}
    for name in names:
        module, hp = report.model_args(report.MODELS[name], args.batch_size)
        row = {"batch_size": hp.batch_size, "ours_sizes": ours.sizes(name, module, hp), "columns": {}}
        measured = [c for c in columns if not (c.convolutional_only and name == "fc")]
        for _ in range(ROUNDS):
            for column in measured:
                cell = row["columns"].setdefault(column.key, {"images_per_s": []})
                if column.framework:
                    record = measure_peer(column, name, hp.batch_size, args)
                    cell.setdefault("runs", []).append(record)
                    cell["images_per_s"].append(record.get("images_per_s"))
                else:
                    compiled = column is OURS_XLA
                    cell["images_per_s"].append(measure_ours(name, args, xla_config if compiled else config, data, compiled))
        _compare(row, columns)
        printed = _row(name, row, columns)
        lines.extend(printed)
        print("\n".join(printed), flush=True)
        results["models"][name] = row
    return results


def _compare(row, columns):
    """Add to each peer's cell ours ÷ its mean speed (above 1: ours is faster), and to the row whether
    each framework's networks are ours (their parameters and FLOPs, from the first run that reported them)."""
    cells, row["same_networks"] = row["columns"], {}
    ours_mean = statistics.mean(cells["ours"]["images_per_s"])
    for column in columns:
        cell = cells.get(column.key, {})
        if column.framework and cell and None not in cell["images_per_s"]:
            cell["ours_over_peer"] = ours_mean / statistics.mean(cell["images_per_s"])
        sized = [run for run in cell.get("runs", []) if "params" in run]
        if sized and column.framework not in row["same_networks"]:
            row["same_networks"][column.framework] = {
                key: {"peer": sized[0][key], "ours": row["ours_sizes"][key]} for key in ("params", "flops_per_image")
            }


def _cells(texts):
    return " | ".join(f"{text:{width}s}" for text, width in zip(texts, WIDTHS, strict=False)).rstrip()


def _row(name, row, columns):
    """The model's line of speeds ("round 1 · round 2" images/s, then ×ours ÷ peer), the same-networks
    check of each framework, and each failed peer's last line of errors."""
    texts, notes = [f"{name} ({row['batch_size']})"], []
    for column in columns:
        cell = row["columns"].get(column.key)
        if cell is None:
            texts.append("–")
        elif None in cell["images_per_s"]:
            texts.append("failed")
            notes.append(f"    {column.title} failed: {next(run['error'] for run in cell['runs'] if 'error' in run)}")
        else:
            ratio = f" ×{cell['ours_over_peer']:.2f}" if column.framework else ""
            texts.append(" · ".join(f"{speed:.0f}" for speed in cell["images_per_s"]) + ratio)
    checks = [f"{FRAMEWORKS[framework]} {_same(sizes)}" for framework, sizes in row["same_networks"].items()]
    return [_cells(texts)] + (["    same networks: " + "; ".join(checks)] if checks else []) + notes


def _same(sizes):
    """`params ✓, FLOPs ✓`, or ✗ with the peer's and our G and D figures."""
    parts = []
    for key, label in (("params", "params"), ("flops_per_image", "FLOPs")):
        theirs, mine = sizes[key]["peer"], sizes[key]["ours"]
        if theirs == mine:
            parts.append(f"{label} ✓")
        else:
            parts.append(f"{label} ✗ (G {theirs['g']:,} vs ours {mine['g']:,}, D {theirs['d']:,} vs ours {mine['d']:,})")
    return ", ".join(parts)
