"""Training throughput of the three scripts on this machine, against its own matmul peak and against
the way the classic scripts drive the same models; the end of an epoch; the loop's host cost per step;
and a projected GPU epoch.

    python bench.py                          # all three models, default batch sizes
    python bench.py --model dcgan --steps 64 --json bench.json

Each model's real training graph is built by `loop.build` (the script's own `build_graph`, not a copy)
and driven by the real loop, `loop.Trainer`. A benchmark reports; it asserts nothing. What it prints,
and how each figure is obtained:
- images/s: `--steps` steps of `Trainer.run_steps`, `--repeats` times (the median): the session.runs
  of `--steps-per-run` steps each and the Python of every step (the history's rows, the progress bar);
- seconds per epoch, as a real epoch: its steps at that rate, plus the end of an epoch with the
  in-training evaluation after 30 epochs of history — so the figure and a real epoch cannot drift apart;
- achieved GFLOP/s: the FLOPs of one step ÷ its time. The FLOPs are counted from the graph itself: every
  op that one training step runs — the matmuls and convolutions of the forward passes (G once, D three
  times), of both backward passes and of the input gradients, plus elementwise math. Convolutions are
  counted by `conv_flops` (useful multiply-adds only, padding excluded), everything else by
  TensorFlow's own per-op statistics. Adam's fused updates have no FLOP count and are left out
  (they are memory-bound and small);
- the machine's peak: the best rate of a large float32 matmul in TensorFlow, measured in the same run,
  and the utilization = achieved ÷ peak;
- the host cost per step, at one step per run and at `--steps-per-run`: the real loop driving a step
  that does next to nothing, so what is left is the session.run, the while loop's own ops, the fetch
  and the Python of each step;
- the end of an epoch (`Trainer.end_epoch`) in a run folder with `--epoch-end` epochs of history,
  grids and GIF frames, without and with the in-training evaluation: its host work (the grid, the
  TensorBoard events, the epoch line), apart the device work (the sampling, the classifier, the
  Fréchet distance's matrix work, the weights' copy for the checkpoint), which a GPU runs in
  milliseconds, and apart the two threads' work while the next epoch trains (history.csv, the
  checkpoint and the best one; the loss plot and the GIF);
- a projected GPU epoch: each step's FLOPs and kernel count (ops a traced step runs, host ops left out)
  at the assumptions printed (GPU_PEAK_TFLOPS, GPU_EFFICIENCY, GPU_LAUNCH_S, GPU_EIGH_S), plus the host cost per
  step and the epoch end's host work measured here; and the share of it outside the step. Estimates;
- the classic-style loop: the same generator and discriminator fed numpy batches and numpy noise through
  `feed_dict`, with one `session.run` for D and another for G (which runs G forward again on fresh
  noise), our speed-up over it, and the ratio of its FLOPs to ours — on a compute-bound machine the
  most any loop can gain over it;
- peak resident memory of this process so far.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import numpy as np  # noqa: E402

import common  # noqa: F401, I001  (first: a Ctrl-C while the rest loads is one line, not a traceback)
from benchmarks import MNIST_TRAIN, gpu
from benchmarks.classic import bench_classic_style
from benchmarks.epoch_end import bench_epoch_end
from benchmarks.machine import machine_line, matmul_peak, peak_rss_mib
from benchmarks.startup import bench_startup
from benchmarks.steps import bench_host_cost, bench_ours, synthetic_mnist
from common import device, errors, files, flags, tfcompat  # noqa: E402
from common.session import session_config  # noqa: E402

MODELS = {"fc": "gan_fc", "dcgan": "gan_dcgan", "cdcgan": "gan_cdcgan"}


def _args(script, batch_size, extra=()):
    """The script's hyperparameters with `--batch-size` and the script flags `extra` applied."""
    module = importlib.import_module(script)
    argv = ([] if batch_size is None else ["--batch-size", str(batch_size)]) + list(extra)
    return module, flags.parse("bench.py", module.HPARAMS, argv, conditional=module.MODEL.conditional)


MAX_HISTORY = 1000  # epochs of history --epoch-end builds in memory and on disk (200 is 94,000 rows)


def _histories(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: whole numbers separated by commas, e.g. 30,200") from None
    if any(v < 0 or v > MAX_HISTORY for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: epochs of history from 0 to {MAX_HISTORY}")
    return [v for v in values if v > 0]


def main(argv=None):
    parser = flags.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--steps", type=flags.positive_int, default=32, help="timed steps per repeat")
    parser.add_argument(
        "--steps-per-run",
        type=flags.positive_int,
        default=flags.STEPS_PER_RUN,
        help="as the scripts' flag (default: theirs on a GPU)",
    )
    parser.add_argument(
        "--epoch-end",
        type=_histories,
        default=[30, 200],
        metavar="H1,H2",
        help="time the end of an epoch after these epochs of history (default 30,200; 0: not at all)",
    )
    parser.add_argument("--repeats", type=flags.positive_int, default=3)
    parser.add_argument("--warmup", type=flags.nonnegative_int, default=3)
    parser.add_argument("--batch-size", type=flags.positive_int, help="default: each script's own")
    parser.add_argument(
        "--flags",
        default="",
        metavar="'--NAME VALUE …'",
        help="hyperparameter flags for the model, e.g. the tutorial's D: --flags='--no-d-batch-norm --dropout 0.3' "
        "(the scripts' run flags, such as --steps-per-run, are bench.py's own)",
    )
    parser.add_argument("--peak-size", type=flags.positive_int, default=4096, help="matmul size for the peak")
    parser.add_argument("--intra-op-threads", type=flags.nonnegative_int, default=0)
    parser.add_argument("--inter-op-threads", type=flags.nonnegative_int, default=0)
    parser.add_argument("--no-classic-style", action="store_true", help="skip the classic-style comparison")
    parser.add_argument("--profile", action="store_true", help="also trace one step and print its costliest op types")
    parser.add_argument("--json", type=flags.path, help="also write the results here")
    flags.add_device_flag(parser)
    parser.add_argument(
        "--startup",
        action="store_true",
        help="time the start-up of the scripts instead (see bench_startup): --help, a bad flag, a rerun, a first step",
    )
    parser.add_argument(
        "--repo",
        type=flags.path,
        default=Path(__file__).resolve().parent,
        help="with --startup: the checkout whose scripts are timed (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        parser.error(f"--json {args.json}: name a file in an existing folder")
    if args.batch_size is not None and args.batch_size > MNIST_TRAIN:
        parser.error(f"--batch-size {args.batch_size}: at most {MNIST_TRAIN}, the images of an epoch")
    if args.startup and not (args.repo / "gan_fc.py").is_file():
        parser.error(f"--repo {args.repo}: no gan_fc.py there; name a checkout of this project")
    with errors.exit_codes("bench.py"):
        if args.startup:
            results = {"startup": bench_startup(args.repo, args.repeats)}
            if args.json is not None:
                files.write_json(args.json, results)
            return results
        return _bench(args)


def _bench(args):
    names = list(MODELS) if args.model == "all" else [args.model]
    models = {name: _args(MODELS[name], args.batch_size, args.flags.split()) for name in names}  # bad flags: before any work
    started = time.perf_counter()
    tfcompat.load()
    import_seconds = time.perf_counter() - started
    where = device.choose(args.device)
    config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    machine = {**machine_line(config), "device": where}
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores, device {machine['device']}, TF {machine['tensorflow']}, "
        f"threads {machine['threads']}; import {import_seconds:.1f} s"
    )
    peak = matmul_peak(args.peak_size, 5, config)
    print(f"matmul peak ({args.peak_size}×{args.peak_size} float32): {peak:.1f} GFLOP/s")
    host = {k: bench_host_cost(k, 32 * k, args.repeats, config) for k in sorted({1, args.steps_per_run})}
    print(
        "host cost per step (session.run, fetch, loop Python): " + ", ".join(f"K={k} {s * 1e6:.1f} µs" for k, s in host.items())
    )
    print(gpu.assumptions_line())
    data = synthetic_mnist(np.random.default_rng(0))
    results = {
        "machine": machine,
        "import_s": import_seconds,
        "matmul_peak_gflops": peak,
        "steps_per_run": args.steps_per_run,
        "host_s_per_step": {str(k): v for k, v in host.items()},
        "gpu_assumptions": gpu.assumptions(),
        "models": {},
    }
    from common import quality

    reference = quality.Reference("mnist", log=lambda *_: None) if args.epoch_end else None
    for name, (module, hp) in models.items():
        script = MODELS[name]
        per_epoch = MNIST_TRAIN // hp.batch_size
        ours = bench_ours(module, hp, data, args.steps, args.repeats, args.warmup, config, args.steps_per_run, args.profile)
        gflops = ours["flops_per_step"] / ours["step_seconds"] / 1e9
        row = {
            "batch_size": hp.batch_size,
            **ours,
            "gflops": gflops,
            "utilization": gflops / peak,
            "host_s_per_step": host[args.steps_per_run],
            "epoch_end": {},
        }
        for history_epochs in args.epoch_end:
            for evaluated in (None, reference):
                _, fresh = _args(MODELS[name], args.batch_size, args.flags.split())
                measured = bench_epoch_end(module, fresh, history_epochs, evaluated, config, args.repeats)
                row["epoch_end"][f"{history_epochs}_{'no_eval' if evaluated is None else 'eval'}"] = measured
        end = row["epoch_end"].get(f"{args.epoch_end[0]}_eval", {"total": 0.0}) if args.epoch_end else {"total": 0.0}
        # As a real epoch: its steps through the real loop, then its end with the in-training evaluation.
        row["seconds_per_epoch"] = per_epoch * ours["step_seconds"] + end["total"]
        row["share_outside_step"] = (per_epoch * row["host_s_per_step"] + end["total"]) / row["seconds_per_epoch"]
        row["gpu_projection"] = gpu.gpu_projection(row, per_epoch)
        row["peak_rss_mib"] = peak_rss_mib()
        if not args.no_classic_style:
            classic = bench_classic_style(script, module, hp, data, args.steps, args.repeats, args.warmup, config)
            row["classic_style_images_per_s"] = classic["images_per_s"]
            row["speedup_over_classic_style"] = ours["images_per_s"] / classic["images_per_s"]
            # The classic loop's extra work (a second G forward on fresh noise) bounds what any loop can
            # gain on a machine where the step is compute-bound: this ratio is that bound.
            row["classic_style_flop_ratio"] = classic["flops_per_step"] / ours["flops_per_step"]
        results["models"][name] = row
        _print_row(name, hp, row)
    if args.json:
        files.write_json(args.json, results)
    return results


def _print_row(name, hp, row):
    classic_part = (
        f"  classic-style {row['classic_style_images_per_s']:7.0f} img/s → ×{row['speedup_over_classic_style']:.2f}"
        f" (it does ×{row['classic_style_flop_ratio']:.2f} the FLOPs)"
        if "classic_style_images_per_s" in row
        else ""
    )
    print(
        f"{name:7s} batch {hp.batch_size:4d}  {row['images_per_s']:7.0f} img/s  {row['seconds_per_epoch']:7.1f} s/epoch  "
        f"{row['flops_per_step'] / hp.batch_size / 1e6:7.1f} MFLOP/img  {row['gflops']:6.1f} GFLOP/s = {row['utilization']:5.1%} of peak  "
        f"outside step {row['share_outside_step']:5.1%}  start-up {row['build_and_first_step_s']:.1f} s"
        f"{classic_part}  peak RSS {row['peak_rss_mib']:.0f} MiB",
        flush=True,
    )
    ends = row["epoch_end"]
    if ends:
        histories = sorted({int(key.split("_")[0]) for key in ends})
        parts = []
        for evaluate in ("no_eval", "eval"):
            hosts = " / ".join(f"{ends[f'{h}_{evaluate}']['host']:.3f}" for h in histories)
            devices = " / ".join(f"{ends[f'{h}_{evaluate}']['device']:.2f}" for h in histories)
            drawn = " / ".join(f"{ends[f'{h}_{evaluate}']['background']:.2f}" for h in histories)
            parts.append(
                f"{'with' if evaluate == 'eval' else 'without'} evaluation {hosts} s "
                f"(+ {devices} s of device work here; {drawn} s in the background threads)"
            )
        print(f"        epoch end, host work at {' / '.join(map(str, histories))} epochs of history: {'; '.join(parts)}")
    projected = row["gpu_projection"]
    print(
        f"        projected GPU: {projected['step_s'] * 1e3:.2f} ms/step ({row['flops_per_step'] / 1e9:.1f} GFLOP, "
        f"{row['kernels_per_step']} kernels), {projected['epoch_s']:.2f} s/epoch, {projected['share_outside_step']:.0%} of it outside the step"
    )
    for kind, ms, share in row.get("top_ops", []):
        print(f"    {kind:32s} {ms:8.1f} ms  {share:5.1%}")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
