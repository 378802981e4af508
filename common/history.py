"""history.csv: one row per training step, its four step metrics, and on the last step of each
evaluated epoch the in-training evaluation's score and Fréchet distance.

Rows are dicts keyed by the column names below (a missing evaluation is NaN in memory, an empty cell
in the file), so no reader depends on a column's position.
"""

import csv
import io
import math

from common import files
from common.errors import UsageError

STEP_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")  # what every training step records
EVALUATION = ("score", "fd")  # filled on the last step of an evaluated epoch, empty elsewhere
EVAL_SAMPLES = 2000  # the images behind each of those evaluations (evaluate.py uses 10,000)
COLUMNS = ("step", "epoch", *STEP_METRICS, *EVALUATION)


def row(step, epoch, metrics, score=math.nan, fd=math.nan):
    return {"step": step, "epoch": epoch, **{k: float(metrics[k]) for k in STEP_METRICS}, "score": score, "fd": fd}


def rows(first_step, epoch, values):
    """The rows of consecutive steps from `first_step` on, from their metrics [steps, STEP_METRICS]: a
    few microseconds a step, which on a GPU is a share of the step itself."""
    nan = math.nan
    return [dict(zip(COLUMNS, (first_step + i, epoch, *v, nan, nan), strict=True)) for i, v in enumerate(values.tolist())]


def _cell(name, value):
    if name in ("step", "epoch"):
        return int(value)
    return "" if math.isnan(value) else f"{value:.6g}"


def _text(rows, header=False):
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(COLUMNS)
    writer.writerows([_cell(name, r[name]) for name in COLUMNS] for r in rows)
    return out.getvalue()


def write(path, rows):
    """The whole history, written atomically (a crash mid-write keeps the previous file): once per
    session, to drop the rows of steps that a resume replays."""
    files.write_text(path, _text(rows, header=True))


def append(path, rows):
    """Add an epoch's rows at the end, in one write: the cost of an epoch's end must not grow with the
    run. A crash mid-write can only cut the last line, and `read` drops a cut line: its rows belong
    to steps after the newest checkpoint (history.csv is written before it), which a resume replays."""
    if not path.exists():
        write(path, rows)
        return
    with open(path, "a", newline="") as f:
        f.write(_text(rows))


def read(path, upto_step=None):
    """The rows of history.csv (none if there is no file), up to `upto_step` when given: after a crash
    the steps replayed from the last checkpoint must not be written twice. A file without rows beside
    a checkpoint has lost them: the loop never writes one (see `Trainer`), only a missing file means
    a history moved away on purpose. A last line without its
    line end is an append that a crash cut short (see `append`), and is left out."""
    if not path.exists():
        return []
    rows, previous = [], None
    try:
        with open(path, newline="") as f:
            text = f.read()
        if not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        for line, record in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=2):
            if None in record:  # more cells than columns: two lines run together
                raise ValueError(f"line {line} has {len(COLUMNS) + len(record[None])} cells, not {len(COLUMNS)}")
            values = {name: float(record[name]) if record.get(name) else math.nan for name in COLUMNS}
            if any(math.isnan(values[name]) for name in ("step", "epoch", *STEP_METRICS)):
                raise ValueError(f"line {line} lacks a step, an epoch or a step metric")
            values["step"], values["epoch"] = int(values["step"]), int(values["epoch"])
            if previous is not None and values["step"] != previous + 1:
                raise ValueError(f"line {line}: step {values['step']} after step {previous}")
            previous = values["step"]
            if upto_step is None or values["step"] <= upto_step:
                rows.append(values)
        if upto_step and not rows:  # rows go to the file before their checkpoint: none is lost content
            raise ValueError(f"it has no rows, but the checkpoint is at step {upto_step}")
        if upto_step is not None and rows and rows[-1]["step"] < upto_step:  # cut before the checkpoint's step
            raise ValueError(f"it ends at step {rows[-1]['step']}, before the checkpoint's step {upto_step}")
    except (OSError, ValueError, TypeError, OverflowError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(
            f"{path} is damaged ({e}); restore it from a copy, or move it away: the run then goes on with a "
            "history that starts where it resumes"
        ) from None
    return rows


def evaluations(rows):
    """[(epoch, score, fd)] of the evaluated epochs."""
    return [(r["epoch"], r["score"], r["fd"]) for r in rows if not math.isnan(r["fd"])]
