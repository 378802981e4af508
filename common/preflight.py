"""A run folder's checks before training starts, so that what would stop or end the run is found in seconds.

A folder that cannot be written and a damaged sample grid would otherwise fail the run after an epoch
of training; a run with nothing left to do is told so from its files, without TensorFlow's import.
"""

import math

from common import checkpoints, history, images, runs, settings
from common.errors import UsageError


def prepare_folder(run, *subfolders):
    """Create the run folder (and `subfolders`) and prove it writable before any training time is spent."""
    if run.path.is_symlink() and not run.path.exists():
        raise UsageError(
            f"{run.path} is a link to {run.path.readlink()}, which does not exist; fix the link or pass another --out-dir"
        )
    fix = "pass --out-dir with a writable folder"  # (called twice: the lock needs the folder, --fresh comes after it)
    try:
        for folder in (run.path, *subfolders):
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write to {run.path} ({e.strerror}); {fix}") from None
    runs.check_writable(run.path, fix)


def check_grids(run):
    """A damaged sample grid would break the progress GIF after an epoch of training: name it now."""
    for epoch, path in run.grids().items():
        images.read_grid(path, f"delete it (the progress GIF then skips epoch {epoch}) and run again")


def finished_step(run, args, steps_per_epoch):
    """The step of a run that has nothing left to do — its newest checkpoint whole and at or past the
    last epoch, with that epoch's history row (and evaluation, when due) and grid written, and the
    settings on record (check_same_run compared them) — or None. Anything less (an end of epoch cut
    short, a damaged checkpoint, a lost config.json) goes the long way, which completes or refuses it."""
    found = checkpoints.steps(run.checkpoints)
    if not found or found[-1] < args.epochs * steps_per_epoch or found[-1] % steps_per_epoch:
        return None
    if not settings.read_config(run)["hparams"] or not checkpoints.looks_whole(run.checkpoints, found[-1]):
        return None  # no record to check the settings against (the checkpoint itself must), or a damaged one
    step, epoch = found[-1], found[-1] // steps_per_epoch
    rows = history.read(run.history, upto_step=step)
    if not rows or rows[-1]["step"] != step or not run.grid(epoch).exists():
        return None
    fd = rows[-1]["fd"]
    if args.eval_every and epoch % args.eval_every == 0 and (math.isnan(fd) or not checkpoints.best_is_decided(run, fd)):
        return None
    return step
