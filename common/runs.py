"""The run folder: its layout and who may write in it (its name: common/names.py, its config.json: common/settings.py).

The folder's file names are defined here (`RunFolder`) and asked for by name elsewhere; the names
inside checkpoints/ are TensorFlow's `ckpt-<step>`, owned by common/checkpoints.py. Nothing in the folder
is trusted by its name alone: a part that is a link or of the wrong kind is refused before training.
No TensorFlow here, so `compare.py` stays quick.
"""

import fcntl
import json
import os
import re
import socket
import sys
from pathlib import Path

from common import guards, names
from common.data import REPO_DIR
from common.errors import UsageError

OUTPUTS_DIR = REPO_DIR / "outputs"

SCRIPTS = ("gan_fc", "gan_dcgan", "gan_cdcgan")


class RunFolder:
    """The files of one run: their paths, and the two things that concern the folder as a whole
    (whether it is ours, and --fresh). Reading and writing each file is the job of the module that
    owns its content (settings for config.json, history, checkpoints, the loop's epoch outputs, evaluate.py)."""

    CONFIG = "config.json"
    HISTORY = "history.csv"
    LOSSES = "losses.png"
    PROGRESS = "progress.gif"
    LOGS = "logs"  # TensorBoard
    SAMPLES = "samples"
    CHECKPOINTS = "checkpoints"
    BEST = "best"  # checkpoints/best/: the checkpoint with the lowest in-training Fréchet distance
    BEST_RECORD = "best.json"
    METRICS = {"latest": "metrics.json", "best": "metrics-best.json"}  # evaluate.py, per checkpoint kind
    LOCK = ".lock"
    PATH_MAX = 4096  # bytes in a path with its closing NUL, on Linux (macOS: 1024, found by the write test)
    LONGEST_INSIDE = 200  # bytes the longest path written in a run folder adds (TensorBoard's events file
    # with the host's name; a checkpoint's temporary file in checkpoints/best/ is ~90)

    def __init__(self, path):
        self.path = Path(path)
        self.config = self.path / self.CONFIG
        self.history = self.path / self.HISTORY
        self.losses = self.path / self.LOSSES
        self.progress = self.path / self.PROGRESS
        self.logs = self.path / self.LOGS
        self.samples = self.path / self.SAMPLES
        self.checkpoints = self.path / self.CHECKPOINTS
        self.best = self.checkpoints / self.BEST
        self.best_record = self.best / self.BEST_RECORD

    def grid(self, epoch):
        """The sample grid drawn at the end of `epoch`."""
        return self.samples / f"epoch_{epoch:04d}.png"

    def grids(self):
        """{epoch: path} of the sample grids on disk, in epoch order."""
        found = {}
        for path in self.samples.glob("epoch_*.png"):
            number = path.stem.removeprefix("epoch_")
            if number.isdigit():
                found[int(number)] = path
        return dict(sorted(found.items()))

    def checkpoint_folder(self, which):
        """checkpoints/ for "latest", checkpoints/best/ for "best"."""
        return self.best if which == "best" else self.checkpoints

    def metrics(self, which):
        """evaluate.py's numbers of the latest or the best checkpoint."""
        return self.path / self.METRICS[which]

    # TensorFlow's names of a checkpoint's files: its index and its data shards (common/checkpoints.py
    # finds, rotates and cleans them by this pattern too).
    CHECKPOINT_FILE = r"ckpt-\d+\.(index|data-\d{5}-of-\d{5})"

    # The files the project writes, as exact patterns of their paths in the folder: what --fresh
    # removes (and the folders they leave empty), and what marks a folder as holding a run's outputs.
    # A user's `samples/epoch_1-notes.png` or `checkpoints/ckpt-old.txt` matches none of them.
    WRITTEN = re.compile(
        "|".join(
            [
                *map(re.escape, (CONFIG, HISTORY, LOSSES, PROGRESS, *METRICS.values(), f"{CHECKPOINTS}/checkpoint")),
                rf"{SAMPLES}/epoch_\d{{4,}}\.png",
                rf"{LOGS}/events\.out\.tfevents\.\d+\..+",
                rf"{CHECKPOINTS}/({BEST}/)?{CHECKPOINT_FILE}",
                re.escape(f"{CHECKPOINTS}/{BEST}/{BEST_RECORD}"),
            ]
        )
    )

    # Each part of a run folder, and whether it is a folder (else a regular file).
    PARTS = {
        **dict.fromkeys((CONFIG, HISTORY, LOSSES, PROGRESS, *METRICS.values(), LOCK), False),
        **dict.fromkeys((LOGS, SAMPLES, CHECKPOINTS, f"{CHECKPOINTS}/{BEST}"), True),
        f"{CHECKPOINTS}/checkpoint": False,
        f"{CHECKPOINTS}/{BEST}/{BEST_RECORD}": False,
    }

    def check_parts(self):
        """Refuse, before any training time is spent, a part of the folder that is a link (what is
        written, locked or deleted through it would be another folder's) or not the kind of thing the
        run makes there (a folder where it writes a file, a FIFO, a file where it keeps a folder). A
        path too long for the files inside would be made, and fail its first checkpoint an epoch later
        at every rerun: it is refused first."""
        length = len(os.fsencode(self.path.absolute()))
        if length + self.LONGEST_INSIDE >= self.PATH_MAX:
            raise UsageError(
                f"{str(self.path)[:60]}…: a path of {length:,} bytes, and the files inside need up to "
                f"{self.LONGEST_INSIDE} more, past the {self.PATH_MAX - 1:,} a path may have; pass a shorter --out-dir"
            )
        for name, is_folder in self.PARTS.items():
            path = self.path / name
            if path.is_symlink():
                raise UsageError(
                    f"{path} is a link (to {os.readlink(path)}); a run keeps its own files there: "
                    "remove the link, or pass another --out-dir"
                )
            if path.exists() and not (path.is_dir() if is_folder else path.is_file()):
                kind = "folder" if path.is_dir() else "file" if path.is_file() else "special file"
                raise UsageError(
                    f"{path} is a {kind} where a run keeps {'a folder' if is_folder else 'a regular file'}; "
                    "move it away, or pass another --out-dir"
                )

    def written_files(self):
        """The files in the folder that the project writes (WRITTEN), links never among them."""
        found = []
        for folder in (self.path, self.samples, self.logs, self.checkpoints, self.best):
            if folder.is_dir() and not folder.is_symlink():
                found += [
                    p
                    for p in sorted(folder.iterdir())
                    if p.is_file() and not p.is_symlink() and self.WRITTEN.fullmatch(p.relative_to(self.path).as_posix())
                ]
        return found

    def made_by_this_project(self):
        """Whether this folder holds a run of ours, as its config.json says. A folder named by mistake
        (`--out-dir .`, another project's run) does not, whatever else is in it."""
        try:
            config = json.loads(self.config.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(config, dict) and config.get("script") in SCRIPTS and "run_name" in config

    def check_ours(self, checkpoint_is_ours, doing="training"):
        """Refuse to write over or remove files named like a run's in a folder that holds no run of ours:
        its config.json says so, or (a run that lost its config.json) `checkpoint_is_ours()` finds our
        networks in its checkpoint (called only then: it loads TensorFlow). Returns the files."""
        written = self.written_files()
        if written and not (self.made_by_this_project() or checkpoint_is_ours()):
            raise UsageError(
                f"{doing}: {self.path} is not a run folder of this project (no config.json of ours) but holds files "
                f"named like a run's ({written[0].relative_to(self.path)}), so nothing in it is replaced or removed; "
                "pass --out-dir of a run folder or a new folder"
            )
        return written

    def start_over(self, checkpoint_is_ours):
        """--fresh: remove the files the project wrote here, and nothing else (a user's own file in
        samples/ stays), and only in a run folder of ours (see check_ours)."""
        written = self.check_ours(checkpoint_is_ours, "--fresh")
        for path in written:
            path.unlink()
            guards.fault_point("sigint-fresh", 0)
        for folder in (self.best, self.checkpoints, self.samples, self.logs):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if written:
            print(f"--fresh: removed {len(written)} files of the old run from {self.path}")


def for_args(args, script):
    """The run folder of a command line: `--out-dir`, or outputs/<script>/<run name> — or the folder
    of the same settings under an older name, when only that one exists (it resumes there): the name
    before names listed what differs, or the hash before a setting was added (one folder of it)."""
    if args.out_dir:
        return RunFolder(args.out_dir)
    from common.settings import added_later  # settings imports this module

    parent = OUTPUTS_DIR / script
    path, legacy = parent / names.run_name(args, script), parent / names.legacy_run_name(args)
    if path.exists():
        return RunFolder(path)
    if legacy.is_dir():
        return RunFolder(legacy)
    for digest in names.earlier_digests(args, added_later(script, args.hparams)):
        older = [p for p in parent.glob(f"*_{digest}") if p.is_dir() and not p.is_symlink()]
        if len(older) == 1:
            return RunFolder(older[0])
    return RunFolder(path)


def point_latest(run):
    """`outputs/<script>/latest` -> the newest run folder (a relative link, so the tree can move)."""
    link = run.path.parent / "latest"
    tmp = run.path.parent / ".latest.tmp"
    if link.exists() and not link.is_symlink():
        print(f"note: {link} is not a link of ours, so it is left as it is", file=sys.stderr)
        return
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run.path.name)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without links: the folder names still say which run is which


def read_record(path, fields, fix):
    """A JSON record of a run folder (config.json, best.json, metrics.json), with `fields` — {key:
    allowed types} — checked; a damaged one is a UsageError naming the file and `fix`."""
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        for key, kinds in fields.items():
            kinds = kinds if isinstance(kinds, tuple) else (kinds,)
            if key not in record:
                raise ValueError(f"no {key!r}")
            if not isinstance(record[key], kinds) or (isinstance(record[key], bool) and bool not in kinds):
                raise ValueError(f"{key} = {record[key]!r}")
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} is damaged ({e}); {fix}") from None
    return record


def check_writable(folder, fix="make it writable"):
    """Raise UsageError unless a file can be created in `folder`: found before long work, not after."""
    probe = folder / ".write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to {folder} ({e.strerror}); {fix}") from None


class Lock:
    """Keep a second process off a run folder. An flock is released by the kernel when its process
    ends however it ends, so a killed run never leaves the folder locked."""

    def __init__(self, run):
        self.path = run.path / RunFolder.LOCK
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a+")  # noqa: SIM115 (held open for the whole run)
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise UsageError(
                f"{self.path.parent} is in use by a running training ({holder}); wait for it to finish, or pass another --out-dir"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()
