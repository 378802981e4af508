"""Runs side by side: their sample grids in one picture, titled with their numbers, and a table.

    python compare.py outputs/gan_dcgan/*                  # every DCGAN run so far
    python compare.py outputs/gan_*/latest --curves        # the newest of each script, with FD curves
    python compare.py outputs/gan_dcgan/* --checkpoint best --out dcgan_best.png

For each run: the grid of its last epoch (or, with `--checkpoint best`, of the epoch with the lowest
Fréchet distance in training), and its numbers — from `metrics.json` (`metrics-best.json`) when
`evaluate.py` has evaluated that checkpoint (10,000 samples), else from the last (or best) evaluation
during training (2,000 samples, which reads higher: the table says which). Writes the picture, and the
table as text on the console and as Markdown beside the picture.
"""

import argparse
import csv
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import images  # noqa: E402


def _training_evaluations(run_dir):
    """[(epoch, score, fd)] from history.csv's evaluated rows."""
    path = run_dir / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r["epoch"]), float(r["score"]), float(r["fd"])) for r in rows if r.get("fd")]


def describe(run_dir, which):
    """What the picture and the table show of one run (None before its first epoch's grid)."""
    config = json.loads((run_dir / "config.json").read_text())
    grids = sorted((run_dir / "samples").glob("epoch_*.png"))
    if not grids:
        return None
    evaluations = _training_evaluations(run_dir)
    epoch = int(grids[-1].stem.split("_")[1])
    if which == "best" and evaluations:
        epoch = min(evaluations, key=lambda e: e[2])[0]
    source, score, fd = "none", math.nan, math.nan
    for evaluated_epoch, evaluated_score, evaluated_fd in evaluations:
        if evaluated_epoch == epoch:
            source, score, fd = "training, 2k samples", evaluated_score, evaluated_fd
    # evaluate.py's numbers (10k samples) when they are of this very checkpoint
    step = epoch * config.get("effective_steps_per_epoch", 0)
    for metrics_path in (run_dir / "metrics.json", run_dir / "metrics-best.json"):
        saved = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        if saved.get("checkpoint") == f"ckpt-{step}":
            score, fd, source = saved["score"][0], saved["fd"], f"evaluate.py, {saved['samples'] // 1000}k samples"
    grid = run_dir / "samples" / f"epoch_{epoch:04d}.png"
    return {
        "name": f"{config['script']}/{run_dir.resolve().name}",
        "epoch": epoch,
        "grid": grid if grid.exists() else grids[-1],
        "score": score,
        "fd": fd,
        "source": source,
        "curve": evaluations,
    }


def table(rows, markdown=False):
    head = ["run", "epoch", "score", "FD", "measured by"]
    body = [[r["name"], str(r["epoch"]), f"{r['score']:.2f}", f"{r['fd']:.2f}", r["source"]] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) for cells in [head, *body])


def draw(rows, path, curves):
    n = len(rows)
    fig = plt.figure(figsize=(3.2 * n, 4.2 + (2.8 if curves else 0)))
    grid_spec = fig.add_gridspec(2 if curves else 1, n, height_ratios=[3.2, 2.2] if curves else [1])
    for i, row in enumerate(rows):
        ax = fig.add_subplot(grid_spec[0, i])
        ax.imshow(images.read_png(row["grid"]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"{row['name']}\nepoch {row['epoch']}  score {row['score']:.2f}  FD {row['fd']:.1f}", fontsize=8)
        ax.axis("off")
    if curves:
        ax = fig.add_subplot(grid_spec[1, :])
        for row in rows:
            if row["curve"]:
                epochs, _, fds = zip(*row["curve"], strict=True)
                ax.plot(epochs, fds, marker="o", label=row["name"])
        ax.set(xlabel="epoch", ylabel="FD (training, 2k samples)")
        ax.grid(alpha=0.3)
        if any(row["curve"] for row in rows):
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        else:
            ax.text(
                0.5, 0.5, "no evaluations during training in these runs (see --eval-every)", ha="center", transform=ax.transAxes
            )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--checkpoint", choices=["latest", "best"], default="latest")
    parser.add_argument("--curves", action="store_true", help="add the FD-per-epoch curves from training")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare.png"), help="the picture (default outputs/compare.png)")
    args = parser.parse_args(argv)
    runs, seen = [], set()
    for run_dir in args.runs:
        if not (run_dir / "config.json").exists():
            continue  # e.g. a compare.png or a stray file matched by the shell's *
        if run_dir.resolve() not in seen:  # `latest` is a link to a run already listed
            seen.add(run_dir.resolve())
            runs.append(run_dir)
    if not runs:
        parser.error("none of these is a run folder (no config.json); pass e.g. outputs/gan_dcgan/*")
    rows = [describe(run_dir, args.checkpoint) for run_dir in runs]
    for run_dir, row in zip(runs, rows, strict=True):
        if row is None:
            parser.error(f"{run_dir} has no sample grids yet; train it first")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw(rows, args.out, args.curves)
    args.out.with_suffix(".md").write_text(table(rows, markdown=True) + "\n")
    print(table(rows))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return rows


if __name__ == "__main__":
    main()
