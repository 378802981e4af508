"""The throughput report, the default measurement: it runs every family in the order a reader needs the
figures (the machine and its peak first, then each model's steps, epoch ends, projection and the classic
loop) and derives what no single family can (seconds per epoch, the share outside the step, the speed-up),
so that each family stays a measurement and this is the one place their figures meet."""

import importlib
import time

import numpy as np

from benchmarks import MNIST_TRAIN, gpu, xla
from benchmarks.classic import bench_classic_style
from benchmarks.epoch_end import bench_epoch_end
from benchmarks.machine import machine_line, matmul_peak, peak_rss_mib
from benchmarks.steps import bench_host_cost, bench_ours, synthetic_mnist
from common import device, flags, tfcompat
from common.session import session_config

MODELS = {"fc": "gan_fc", "dcgan": "gan_dcgan", "cdcgan": "gan_cdcgan"}


def model_args(script, batch_size, extra=()):
    """The script's hyperparameters with `--batch-size` and the script flags `extra` applied."""
    module = importlib.import_module(script)
    argv = ([] if batch_size is None else ["--batch-size", str(batch_size)]) + list(extra)
    return module, flags.parse("bench.py", module.HPARAMS, argv, conditional=module.MODEL.conditional)


def run(args):
    """The report's results, printed as they come: a long run shows each model's line when it is done."""
    names = list(MODELS) if args.model == "all" else [args.model]
    models = {name: model_args(MODELS[name], args.batch_size, args.flags.split()) for name in names}  # bad flags: before any work
    started = time.perf_counter()
    if args.xla:  # before TensorFlow first uses XLA, which reads its flags once
        xla.enable()
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
    model_config = session_config(intra_op_threads=args.intra_op_threads, inter_op_threads=args.inter_op_threads)
    if args.xla:  # the models' steps only: the peak and the host cost stay plain TensorFlow's
        xla.configure(model_config)
        print("XLA: auto-clustering on; a cluster's kernels counted from its compiled module (an upper bound for a GPU)")
    results = {
        "xla": bool(args.xla),
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
        ours = bench_ours(
            module, hp, data, args.steps, args.repeats, args.warmup, model_config, args.steps_per_run, args.profile, args.xla
        )
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
                _, fresh = model_args(MODELS[name], args.batch_size, args.flags.split())
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
