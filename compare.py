"""Runs side by side: their sample grids in one picture, titled with their numbers, and a table.

    python compare.py outputs/gan_dcgan/*                  # every DCGAN run so far
    python compare.py outputs/gan_*/latest --curves        # the newest of each script, with FD curves
    python compare.py outputs/gan_dcgan/* --checkpoint best --out dcgan_best.png
    python compare.py outputs/gan_dcgan/* --epochs 1,3,5,last   # one row per epoch: equal budgets

For each run: the grid of its last epoch (or, with `--checkpoint best`, of the epoch with the lowest
Fréchet distance in training; with `--epochs`, of each epoch named, one row per epoch and one column
per run, so candidates are judged by eye at equal budgets), and its numbers — from `metrics.json` (`metrics-best.json`) when
`evaluate.py` has evaluated that checkpoint (10,000 samples), else from the last (or best) evaluation
during training (2,000 samples, which reads higher: the table says which). Writes the picture, and the
table as text on the console and as Markdown beside the picture.
"""

import common  # noqa: F401, I001  (first: a Ctrl-C while the rest loads is one line, not a traceback)
import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from common import arguments, errors, files, history, images, names, runs, settings  # noqa: E402
from common.errors import UsageError  # noqa: E402


def _count(n):
    """10k for 10,000; 10 for 10 (an evaluation of a few samples is not "0k")."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def describe(run, which="latest", epoch=None):
    """What the picture and the table show of one run at `epoch` (None: its last epoch, or its best
    with `which` "best"); None before its first epoch's grid. A run that has no grid of `epoch` (it
    did not train that far) is described with `grid` None."""
    config = settings.read_config(run)
    grids = run.grids()
    if not grids:
        return None
    evaluations = history.evaluations(history.read(run.history))
    if epoch is None:
        epoch = max(grids)
        if which == "best":
            if not evaluations:
                raise UsageError(
                    f"{run.path} has no evaluations during training (trained with --eval-every 0?), so no best epoch; "
                    "leave out --checkpoint best, or pass --epochs"
                )
            epoch = min(evaluations, key=lambda e: e[2])[0]
    source, score, fd = "none", math.nan, math.nan
    for evaluated_epoch, evaluated_score, evaluated_fd in evaluations:
        if evaluated_epoch == epoch:
            source, score, fd = f"training, {_count(history.EVAL_SAMPLES)} samples", evaluated_score, evaluated_fd
    # evaluate.py's numbers (10k samples) when they are of this very checkpoint
    per_epoch = config.get("effective_steps_per_epoch")
    step = epoch * per_epoch if isinstance(per_epoch, int) else None
    for kind in runs.RunFolder.METRICS:
        saved = _read_metrics(run.metrics(kind))
        if saved.get("checkpoint") == f"ckpt-{step}":
            score, fd, source = saved["score"][0], saved["fd"], f"evaluate.py, {_count(saved['samples'])} samples"
    return {
        "name": f"{config['script']}/{run.path.resolve().name}",
        "epoch": epoch,
        "grid": grids.get(epoch),
        "score": score,
        "fd": fd,
        "source": source,
        "curve": evaluations,
        "config": config,
        "settings": "",  # what sets it apart from the other runs shown: see main
    }


def _read_metrics(path):
    """evaluate.py's record of one checkpoint ({} when there is none)."""
    if not path.exists():
        return {}
    fix = "delete it and run evaluate.py on the run again"
    saved = runs.read_record(path, {"checkpoint": str, "fd": (int, float), "samples": int, "score": list}, fix)
    if not saved["score"] or not isinstance(saved["score"][0], (int, float)):
        raise UsageError(f"{path} is damaged (score = {saved['score']!r}); {fix}")
    return saved


def epoch_list(text):
    """`1,3,5,last` -> [1, 3, 5, None] (None: each run's last epoch)."""
    epochs = []
    for part in text.split(","):
        part = part.strip()
        if part == "last":
            epochs.append(None)
        elif part.isdigit() and int(part) >= 1:
            epochs.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"{part!r} in {text!r} is not an epoch number ≥ 1 or 'last'")
    return epochs


def table(rows, markdown=False):
    head = ["run", "epoch", "score", "FD", "measured by", "settings that differ"]
    body = [[r["name"], str(r["epoch"]), f"{r['score']:.2f}", f"{r['fd']:.2f}", r["source"], r["settings"] or "–"] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) for cells in [head, *body])


def draw(table_rows, path, curves):
    """`table_rows`: one list per row of the picture (an epoch), one description per run."""
    n, m = len(table_rows[0]), len(table_rows)
    fig = plt.figure(figsize=(3.2 * n, 4.2 * m + (2.8 if curves else 0)))
    grid_spec = fig.add_gridspec(m + (1 if curves else 0), n, height_ratios=[3.2] * m + ([2.2] if curves else []))
    for r, cells in enumerate(table_rows):
        for i, cell in enumerate(cells):
            ax = fig.add_subplot(grid_spec[r, i])
            ax.axis("off")
            if cell["grid"] is None:
                ax.set_title(f"{cell['name']}\n{cell['settings']}\nepoch {cell['epoch']}", fontsize=8)
                ax.text(0.5, 0.5, f"no grid of epoch {cell['epoch']}", ha="center", transform=ax.transAxes)
                continue
            ax.imshow(
                images.read_grid(cell["grid"], "delete it (that epoch then shows as missing) or restore it"),
                cmap="gray",
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
            ax.set_title(
                f"{cell['name']}\n{cell['settings']}\nepoch {cell['epoch']}  score {cell['score']:.2f}  FD {cell['fd']:.1f}",
                fontsize=8,
            )
    if curves:
        ax = fig.add_subplot(grid_spec[m, :])
        rows = table_rows[0]
        for row in rows:
            if row["curve"]:
                epochs, _, fds = zip(*row["curve"], strict=True)
                ax.plot(epochs, fds, marker="o", label=row["settings"] or row["name"])
        ax.set(xlabel="epoch", ylabel=f"FD (training, {_count(history.EVAL_SAMPLES)} samples)")
        ax.grid(alpha=0.3)
        if any(row["curve"] for row in rows):
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        else:
            ax.text(
                0.5, 0.5, "no evaluations during training in these runs (see --eval-every)", ha="center", transform=ax.transAxes
            )
    fig.tight_layout()
    with files.replacing(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = arguments.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("runs", nargs="+", type=arguments.path, help="run folders")
    parser.add_argument("--checkpoint", choices=["latest", "best"], default="latest")
    parser.add_argument("--curves", action="store_true", help="add the FD-per-epoch curves from training")
    parser.add_argument("--epochs", type=epoch_list, help="e.g. 1,3,5,last: one row of grids per epoch")
    parser.add_argument(
        "--out", type=arguments.path, default=Path("outputs/compare.png"), help="the picture (default outputs/compare.png)"
    )
    args = parser.parse_args(argv)
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if args.out.is_dir():
        parser.error(f"--out {args.out} is a folder; name a file, e.g. {args.out / 'compare.png'}")
    table_file = args.out.with_suffix(".md")
    if table_file.is_dir() or table_file.is_symlink():
        parser.error(
            f"{table_file} (the table written beside --out) is a {'link' if table_file.is_symlink() else 'folder'}; pass another --out"
        )
    if table_file.exists() and not table_file.read_text(errors="replace").startswith("| run | epoch |"):
        parser.error(f"{table_file} exists and is not a table compare.py wrote (it writes one beside --out); pass another --out")
    if args.out.suffix.lower().lstrip(".") not in formats:
        parser.error(
            f"--out {args.out}: matplotlib cannot write {args.out.suffix or 'a file without extension'}; use .png, .pdf or .svg"
        )
    folders, seen = [], set()
    for path in args.runs:
        run = runs.RunFolder(path)
        if not run.config.exists():
            continue  # e.g. a compare.png or a stray file matched by the shell's *
        if path.resolve() not in seen:  # `latest` is a link to a run already listed
            seen.add(path.resolve())
            folders.append(run)
    if not folders:
        parser.error(f"none of these is a run folder (no {runs.RunFolder.CONFIG}); pass e.g. outputs/gan_dcgan/*")
    if args.epochs and args.checkpoint == "best":
        parser.error("--epochs names the epochs to show; leave out --checkpoint best")
    with errors.exit_codes("compare.py"):
        table_rows = [[describe(run, args.checkpoint, epoch) for run in folders] for epoch in args.epochs or [None]]
        for run, row in zip(folders, table_rows[0], strict=True):
            if row is None:
                parser.error(f"{run.path} has no sample grids yet; train it first")
        differences = names.differing([cell["config"] for cell in table_rows[0]])
        for cells in table_rows:
            for i, cell in enumerate(cells):
                if cell is not None:
                    cell["settings"] = names.describe_differences(differences, i)
        rows = [cell for cells in table_rows for cell in cells]
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            draw(table_rows, args.out, args.curves)
            files.write_text(table_file, table(rows, markdown=True) + "\n")
        except OSError as e:
            raise UsageError(f"cannot write {args.out} ({e.strerror}); pass --out in a writable folder") from None
        if len(folders) > 1:
            print("the runs differ in: " + (names.describe_differences(differences) or "nothing that shapes the result"))
        print(table(rows))
        print(f"wrote {args.out} and {table_file}")
    return rows


if __name__ == "__main__":
    main()
