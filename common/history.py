"""history.csv: one row per training step, its four step metrics, and on the last step of each
evaluated epoch the in-training evaluation's score and Fréchet distance.

Rows are dicts keyed by the column names below (a missing evaluation is NaN in memory, an empty cell
in the file), so no reader depends on a column's position.
"""

import csv
import math

from common import files
from common.errors import UsageError

STEP_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")  # what every training step records
EVALUATION = ("score", "fd")  # filled on the last step of an evaluated epoch, empty elsewhere
EVAL_SAMPLES = 2000  # the images behind each of those evaluations (evaluate.py uses 10,000)
COLUMNS = ("step", "epoch", *STEP_METRICS, *EVALUATION)


def row(step, epoch, metrics, score=math.nan, fd=math.nan):
    return {"step": step, "epoch": epoch, **{k: float(metrics[k]) for k in STEP_METRICS}, "score": score, "fd": fd}


def _cell(name, value):
    if name in ("step", "epoch"):
        return int(value)
    return "" if math.isnan(value) else f"{value:.6g}"


def write(path, rows):
    """The whole history, written atomically (a crash mid-write keeps the previous file)."""
    with files.replacing(path) as tmp, open(tmp, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows([_cell(name, r[name]) for name in COLUMNS] for r in rows)


def read(path, upto_step=None):
    """The rows of history.csv (none if there is no file), up to `upto_step` when given: after a crash
    the steps replayed from the last checkpoint must not be written twice."""
    if not path.exists():
        return []
    rows, previous = [], None
    try:
        with open(path, newline="") as f:
            for line, record in enumerate(csv.DictReader(f), start=2):
                values = {name: float(record[name]) if record.get(name) else math.nan for name in COLUMNS}
                if any(math.isnan(values[name]) for name in ("step", "epoch", *STEP_METRICS)):
                    raise ValueError(f"line {line} lacks a step, an epoch or a step metric")
                values["step"], values["epoch"] = int(values["step"]), int(values["epoch"])
                if previous is not None and values["step"] != previous + 1:
                    raise ValueError(f"line {line}: step {values['step']} after step {previous}")
                previous = values["step"]
                if upto_step is None or values["step"] <= upto_step:
                    rows.append(values)
    except (OSError, ValueError, TypeError, OverflowError, csv.Error) as e:
        raise UsageError(
            f"{path} is damaged ({e}); restore it from a copy, or move it away: the run then goes on with a "
            "history that starts where it resumes"
        ) from None
    return rows


def evaluations(rows):
    """[(epoch, score, fd)] of the evaluated epochs."""
    return [(r["epoch"], r["score"], r["fd"]) for r in rows if not math.isnan(r["fd"])]
