"""Sample quality of trained runs, in the numbers the GAN literature uses, judged by the evaluation
classifier (common/classifier.py) — never by a GAN's own discriminator.

    python evaluate.py outputs/gan_dcgan/latest                 # a table, and metrics.json in the run
    python evaluate.py outputs/gan_dcgan/latest --checkpoint best   # ... metrics-best.json
    python evaluate.py outputs/gan_*/latest --real              # several runs, with the real data's row
    python evaluate.py outputs/gan_dcgan/latest --z-temperature 0.8,0.9,1   # a row per noise stddev
    python evaluate.py outputs/gan_dcgan/latest --draws 3      # ... and two more sets of 10,000: each number's range
    python evaluate.py --real                                   # the real data alone: the reference

Per run: 10,000 images from the latest checkpoint (balanced over the digits for the conditional
model), their classifier score (mean ± std over 10 splits of 1,000), the Fréchet distance of their
classifier features to the 10,000 test images, improved precision and recall in those features
(k = 3: the share of samples inside the test set's manifold, and of test images inside the samples'),
and the predicted-class histogram; for the conditional model also the classifier's accuracy on each
requested digit and the mean cross-entropy. `--real` adds the real data's own row: the test set's
score, the classifier's test accuracy, and the floor F0, the distance between 10,000 training images
and the test set, with their precision and recall: what real digits reach, to read a run's against.
Precision and recall cost about as much CPU as the rest of a run's evaluation (~14 s per 10,000
samples on this machine's CPU); the test set's side of them is cached beside the classifier.
"""

import common  # noqa: F401, I001  (first: a Ctrl-C while the rest loads is one line, not a traceback)
import argparse
import importlib

import numpy as np

from common import arguments, data, device, errors, files, flags, names, quality, runs, sampling, session, settings


def evaluate_run(run, count, references, which="latest", draw_from="average", z_temperature=None, draws=1, where=None):
    """The numbers of one run's latest (or best) checkpoint, also written to its metrics file (not
    for `draw_from` "g", the same checkpoint drawn by G itself, nor for another `z_temperature` than
    the run's: those are comparisons, only printed). With `draws` > 1 the row stays draw 0's, the
    numbers a one-draw evaluation gives, and adds every draw's under "draws": how far another set of
    `count` images would move them, which decides whether a difference between runs is real."""
    config = settings.read_config(run)
    module = importlib.import_module(config["script"])
    model = module.MODEL
    args = flags.parse(model.script, module.HPARAMS, [], conditional=model.conditional)
    settings.use_run_settings(args, run, model.script)
    if draw_from == "g":
        args.g_average = 0.0  # sample builds G itself, whose weights the checkpoint holds beside the average
    if z_temperature is not None:
        args.z_temperature = z_temperature
    key = (config["dataset"], config.get("data_dir"))
    if key not in references:
        references[key] = quality.Reference(*key)
    labels = sampling.balanced_labels(count) if model.conditional else None
    fake, checkpoint = sampling.generate_images(args, model, run, count, labels, which, draws)
    measured = [references[key].measure(images, labels, precision_recall=True) for images in np.split(fake, draws)]
    notes = [" (G itself)"] if draw_from == "g" else []
    notes += [f" (T {z_temperature:g})"] if z_temperature is not None else []
    row = {
        "run": f"{model.script}/{run.path.resolve().name}" + "".join(notes),
        "checkpoint": checkpoint,
        "samples": count,
        "device": where,
        **measured[0],
    }
    if draws > 1:
        row["draws"] = measured
    if draw_from == "average" and z_temperature is None:
        files.write_json(run.metrics(which), row)
    return row


def format_table(rows, floor=None, configs=(), drawn_as_recorded=True):
    """The table; with several runs (`configs`: the config.json record of each of their rows, in
    order, after the real row if there is one; a run drawn at several temperatures has a row per
    temperature, each with the same record object: two runs with equal records stay two runs), a
    first line naming the settings they differ in, and each run's values of those at the end of its
    row."""
    evaluated = [row for row in rows if "classifier_test_accuracy" not in row]
    distinct = list({id(config): config for config in configs}.values())
    differences = names.differing(distinct, drawn_as_recorded) if len(distinct) > 1 else {}
    head = (
        f"{'run':44s} {'checkpoint':>11s} {'score':>13s} {'FD':>8s} {'FD/F0':>6s} {'precision':>9s} {'recall':>6s} "
        f"{'classes %':>11s} {'cond. acc (min)':>16s}"
    )
    head += "  settings that differ" if differences else ""
    lines = [head, "-" * len(head)]
    if len(distinct) > 1:
        lines.insert(0, "the runs differ in: " + (names.describe_differences(differences) or "nothing that shapes the result"))
    for row in rows:
        mean, std = row["score"]
        ratio = f"{row['fd'] / floor:6.1f}" if floor else f"{'':6s}"
        manifolds = f"{row['precision']:9.3f} {row['recall']:6.3f}" if "precision" in row else f"{'':9s} {'':6s}"
        hist = 100 * np.asarray(row["histogram"])
        cond = row.get("conditional")
        acc = f"{cond['accuracy']:7.2%} ({min(cond['per_class']):.1%})" if cond else ""
        if "classifier_test_accuracy" in row:
            acc = f"classifier {row['classifier_test_accuracy']:.2%}"
        own = distinct.index(configs[evaluated.index(row)]) if differences and row in evaluated else None
        lines.append(
            f"{row['run'][:44]:44s} {row.get('checkpoint', '-'):>11s} {mean:6.2f} ± {std:4.2f} {row['fd']:8.2f} {ratio} "
            f"{manifolds} {hist.min():4.1f}–{hist.max():4.1f}  {acc:>16s}"
            + (f"  {names.describe_differences(differences, own)}" if own is not None else "")
        )
        if "draws" in row:
            lines.append(draws_line(row["draws"], row["samples"]))
    return "\n".join(lines)


def draws_line(draws, samples):
    """The range of each number over the draws, under the row of draw 0: the ± above is the spread
    within one draw's 10 parts, which says little about how far a whole draw moves."""
    scores = [d["score"][0] for d in draws]
    fds = [d["fd"] for d in draws]
    precisions, recalls = [d["precision"] for d in draws], [d["recall"] for d in draws]
    hists = 100 * np.asarray([d["histogram"] for d in draws])
    line = (
        f"  {len(draws)} draws of {samples:,}: score {min(scores):.3f}–{max(scores):.3f} (mean {np.mean(scores):.3f}), "
        f"FD {min(fds):.2f}–{max(fds):.2f} (mean {np.mean(fds):.2f}), precision {min(precisions):.3f}–{max(precisions):.3f}, "
        f"recall {min(recalls):.3f}–{max(recalls):.3f}, classes {hists.min():.1f}–{hists.max():.1f}"
    )
    if "conditional" in draws[0]:  # the worst digit is ~1,000 images: its share moves most from draw to draw
        accuracies = [d["conditional"]["accuracy"] for d in draws]
        worst = [min(d["conditional"]["per_class"]) for d in draws]
        line += f", accuracy {min(accuracies):.2%}–{max(accuracies):.2%} (worst digit {min(worst):.1%}–{max(worst):.1%})"
    return line


def temperatures(text):
    """--z-temperature's comma-separated list: one row per value, in the order given."""
    values = [arguments.positive_float(part.strip()) for part in text.split(",")]
    repeated = sorted({f"{v:g}" for v in values if values.count(v) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{text}: {', '.join(repeated)} given twice (each temperature is one row)")
    return values


MIN_SAMPLES = 10


def main(argv=None):
    parser = arguments.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("runs", nargs="*", type=arguments.path, help="run folders (outputs/<script>/<run name>)")
    parser.add_argument("--samples", type=arguments.positive_int, default=10000, help="images per run (default 10,000)")
    parser.add_argument("--real", action="store_true", help="add the real data's row (score, floor F0, precision and recall)")
    parser.add_argument("--checkpoint", choices=["latest", "best"], default="latest", help="latest, or best by FD in training")
    parser.add_argument("--dataset", choices=sorted(data.DATASETS), default="mnist", help="for --real without runs")
    parser.add_argument(
        "--draw-from",
        choices=["average", "g"],
        default="average",
        help="the weight average of G (as the scripts draw, the default), or G itself on the same checkpoint (printed only)",
    )
    parser.add_argument(
        "--z-temperature",
        type=temperatures,
        metavar="T[,T...]",
        help="draw each run's noise with this stddev instead of the run's Z_TEMPERATURE, a row per value (printed only)",
    )
    parser.add_argument(
        "--draws",
        type=arguments.positive_int,
        default=1,
        metavar="N",
        help="measure N independent sets of --samples images and print each number's range (the table's row is the first's)",
    )
    parser.add_argument("--deterministic", action="store_true", help="deterministic GPU kernels, as in training (slower)")
    flags.add_device_flag(parser)
    args = parser.parse_args(argv)
    if not args.runs and not args.real:
        parser.error("name at least one run folder, or --real")
    if args.samples < MIN_SAMPLES:
        parser.error(f"--samples {args.samples}: at least {MIN_SAMPLES} (the score averages 10 parts; the FD needs a covariance)")
    if args.deterministic:  # process-wide: before any graph is built
        session.deterministic_ops()
    folders = [runs.RunFolder(path) for path in args.runs]
    for run in folders:
        if not run.config.exists():
            parser.error(f"{run.path} is not a run folder (no {run.CONFIG}); pass e.g. outputs/gan_dcgan/latest")
    references, rows = {}, []
    floor = None
    with errors.exit_codes("evaluate.py"):
        for run in folders:  # every run's checkpoint found before the first run's metrics are written
            sampling.check_checkpoint(run, args.checkpoint)
        if args.draw_from == "average" and args.z_temperature is None:
            for run in folders:  # metrics.json goes there: a read-only folder is found before the evaluation
                runs.check_writable(run.path)
        where = device.choose(args.device)
        configs = []
        for run in folders:
            config = settings.read_config(run)
            for temperature in args.z_temperature or [None]:
                rows.append(
                    evaluate_run(run, args.samples, references, args.checkpoint, args.draw_from, temperature, args.draws, where)
                )
                configs.append(config)
        if args.real:
            keys = sorted(references) or [(args.dataset, None)]
            for key in keys:
                reference = references.get(key) or quality.Reference(*key)
                real = {"run": f"real ({key[0]} test set)", **reference.real(min(args.samples, 10000), precision_recall=True)}
                floor = real["fd"]
                rows.insert(0, real)
        print(format_table(rows, floor, configs, drawn_as_recorded=args.z_temperature is None))
    return rows


if __name__ == "__main__":
    main()
