"""What the two peer processes share: their command line, the stopwatch that times their steps the way
`benchmarks.steps` times ours (a median of repeats, in images per second), the FLOP rule for a layer,
and the one JSON line each prints for bench.py to read. Nothing here imports a framework, so each peer
process loads only its own."""

import argparse
import json
import os
import statistics
import time

from benchmarks import counts, report
from common import arguments


def parser(description, threads_help):
    """The options both peers take; the caller adds its own variant switches."""
    parser = argparse.ArgumentParser(description=description, allow_abbrev=False)
    parser.add_argument("--model", choices=list(report.MODELS), required=True)
    parser.add_argument("--batch", type=arguments.positive_int, help="default: the script's BATCH_SIZE")
    parser.add_argument("--steps", type=arguments.positive_int, default=32, help="timed steps per repeat")
    parser.add_argument("--warmup", type=arguments.nonnegative_int, default=3, help="steps before the timing (after the first)")
    parser.add_argument("--repeats", type=arguments.positive_int, default=3)
    parser.add_argument("--threads", type=arguments.nonnegative_int, default=0, help=threads_help)
    return parser


def hyperparameters(model, batch):
    """The script's default hyperparameters (its UPPERCASE constants), with `batch` as the batch size:
    the peers build the networks these describe, so a changed default moves ours and theirs together."""
    _, hp = report.model_args(report.MODELS[model], batch)
    return hp


def mode_seeking_penalty(fake, z, pairs, ops):
    """gan_cdcgan.mode_seeking_penalty for a peer (`ops`: keras.ops or torch, whose `abs` and `mean`
    read alike): 1 / (mean image distance ÷ mean noise distance) over the pairs (i, i + pairs)."""
    images = ops.mean(ops.abs(fake[:pairs] - fake[pairs : 2 * pairs]))
    noises = ops.mean(ops.abs(z[:pairs] - z[pairs : 2 * pairs]))
    return 1.0 / (images / noises + 1e-5)


def adam_settings(hp):
    """(G's rate, D's rate, beta1, beta2). The FC has one rate for both; the scripts that set no BETA2
    take Adam's default, 0.999, as TensorFlow's AdamOptimizer does."""
    return hp.lr, getattr(hp, "d_lr", hp.lr), hp.beta1, getattr(hp, "beta2", 0.999)


def default_threads():
    """Every logical core: what TensorFlow's thread pools take when ours is left at its defaults."""
    return os.cpu_count() or 1


def conv_flops(in_size, out_size, kernel, stride, pad_before, in_channels, out_channels):
    """FLOPs of one image through a square convolution from an `in_size` map to an `out_size` one,
    counted as `counts.conv_flops` counts ours: 2 × the multiply-adds of the kernel taps that land on
    real input. A transposed convolution is this with the two sizes swapped (the convolution whose
    input gradient it is)."""
    taps = counts.valid_taps(in_size, out_size, kernel, stride, pad_before)
    return 2 * taps * taps * in_channels * out_channels


def time_steps(step, finish, steps, warmup, repeats):
    """Seconds of `steps` steps, `repeats` times, after one step and `warmup` more (tracing, compiling,
    first allocations). `finish()` waits for the last step's results, as our loop's fetch of each
    step's metrics does."""
    for _ in range(1 + warmup):
        step()
    finish()
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        finish()
        walls.append(time.perf_counter() - started)
    return walls


def report_line(args, batch, walls, sizes, **details):
    """Print the one JSON line bench.py reads: images/s (the median of the repeats), the networks'
    sizes and whatever the peer adds (its variant, threads, versions)."""
    record = {
        "model": args.model,
        "batch": batch,
        "images_per_s": args.steps * batch / statistics.median(walls),
        "repeat_seconds": walls,
        **sizes,
        **details,
    }
    print(json.dumps(record), flush=True)
    return record
