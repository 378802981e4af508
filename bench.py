"""Training throughput of the three scripts on this machine, against its own matmul peak and against
the way the classic scripts drive the same models; the end of an epoch; the loop's host cost per step;
and a projected GPU epoch.

    python bench.py                          # all three models, default batch sizes
    python bench.py --model dcgan --steps 64 --json bench.json

Each model's real training graph is built by `graphs.build` (the script's own `build_graph`, not a copy)
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
- a projected GPU epoch: each step's FLOPs and kernel count (ops a traced step runs, host ops left out,
  in the graph as a GPU builds it: see ops.gpu_layers)
  at the assumptions printed (GPU_PEAK_TFLOPS, GPU_EFFICIENCY, GPU_LAUNCH_S, GPU_EIGH_S), plus the host cost per
  step and the epoch end's host work measured here; and the share of it outside the step. Estimates;
- the classic-style loop: the same generator and discriminator fed numpy batches and numpy noise through
  `feed_dict`, with one `session.run` for D and another for G (which runs G forward again on fresh
  noise), our speed-up over it, and the ratio of its FLOPs to ours — on a compute-bound machine the
  most any loop can gain over it;
- peak resident memory of this process so far.

`--peers` times ours instead beside reference implementations of the same networks in Keras 3
(tf.function, XLA) and PyTorch (eager, channels-last), in two rounds, and checks that their parameters
and FLOPs are ours (benchmarks/peers/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import common  # noqa: F401, I001  (first: a Ctrl-C while the rest loads is one line, not a traceback)
from benchmarks import MNIST_TRAIN, report, startup
from benchmarks.peers import rounds
from common import arguments, errors, files, flags, runs

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
    parser.add_argument("--model", choices=[*report.MODELS, "all"], default="all")
    parser.add_argument("--steps", type=flags.positive_int, default=32, help="timed steps per repeat")
    parser.add_argument(
        "--steps-per-run",
        type=arguments.positive_int,
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
    parser.add_argument("--repeats", type=arguments.positive_int, default=3)
    parser.add_argument("--warmup", type=arguments.nonnegative_int, default=3)
    parser.add_argument("--batch-size", type=arguments.positive_int, help="default: each script's own")
    parser.add_argument(
        "--flags",
        default="",
        metavar="'--NAME VALUE …'",
        help="hyperparameter flags for the model, e.g. the tutorial's D: --flags='--no-d-batch-norm --dropout 0.3' "
        "(the scripts' run flags, such as --steps-per-run, are bench.py's own)",
    )
    parser.add_argument("--peak-size", type=arguments.positive_int, default=4096, help="matmul size for the peak")
    parser.add_argument("--intra-op-threads", type=arguments.nonnegative_int, default=0)
    parser.add_argument("--inter-op-threads", type=arguments.nonnegative_int, default=0)
    parser.add_argument("--no-classic-style", action="store_true", help="skip the classic-style comparison")
    parser.add_argument("--profile", action="store_true", help="also trace one step and print its costliest op types")
    parser.add_argument(
        "--xla",
        action="store_true",
        help="the models' steps with XLA auto-clustering (benchmarks/xla.py): a lever measured, not a setting of the scripts",
    )
    parser.add_argument("--json", type=arguments.path, help="also write the results here")
    flags.add_device_flag(parser)
    parser.add_argument(
        "--startup",
        action="store_true",
        help="time the start-up of the scripts instead (see bench_startup): --help, a bad flag, a rerun, a first step",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="time ours beside Keras 3 and PyTorch peers of the default networks, two rounds, instead (benchmarks/peers)",
    )
    parser.add_argument(
        "--repo",
        type=arguments.path,
        default=Path(__file__).resolve().parent,
        help="with --startup: the checkout whose scripts are timed (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        parser.error(f"--json {args.json}: name a file in an existing folder")
    if args.batch_size is not None and args.batch_size > MNIST_TRAIN:
        parser.error(f"--batch-size {args.batch_size}: at most {MNIST_TRAIN}, the images of an epoch")
    if args.peers and (args.startup or args.flags):
        parser.error("--peers: the default networks, without --startup or --flags")
    if args.startup and not (args.repo / "gan_fc.py").is_file():
        parser.error(f"--repo {args.repo}: no gan_fc.py there; name a checkout of this project")
    with errors.exit_codes("bench.py"):
        if args.json is not None:  # an unwritable place is found before the bench, not after it
            runs.check_writable(args.json.parent, f"--json {args.json}: name a file in a writable folder")
        if args.startup:
            results = {"startup": startup.bench_startup(args.repo, args.repeats)}
        else:
            results = rounds.run(args) if args.peers else report.run(args)
        if args.json is not None:
            files.write_json(args.json, results)
        return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
