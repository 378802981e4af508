"""The run folder: its name, its layout, its config.json, and who may write in it.

The folder's file names are defined here (`RunFolder`) and asked for by name elsewhere; the names
inside checkpoints/ are TensorFlow's `ckpt-<step>`, owned by common/checkpoints.py. A run folder is
named after the settings that shape what is learned, so rerunning a command resumes its run and a
changed constant starts a new folder beside it. No TensorFlow here, so `compare.py` stays quick.
"""

import fcntl
import hashlib
import json
import os
import socket
from pathlib import Path

from common import files, flags, guards
from common.data import DATASETS, REPO_DIR
from common.errors import UsageError

OUTPUTS_DIR = REPO_DIR / "outputs"

SCRIPTS = ("gan_fc", "gan_dcgan", "gan_cdcgan")


# Hyperparameters added after the first runs were recorded: for each script that has one, what
# reproduces a run whose config.json predates it (a value, or CopyOf the setting it copied then).
# Such a run still loads, and resuming it with other settings is refused (sampling-only ones aside).
class CopyOf(str):
    """The earlier value was this other setting's (a separate D rate copied the one rate `lr`)."""


ADDED_LATER = {
    "g_average": dict.fromkeys(SCRIPTS, 0.0),
    "d_lr": dict.fromkeys(("gan_dcgan", "gan_cdcgan"), CopyOf("lr")),
    "beta2": {"gan_dcgan": 0.999},
    "label_smoothing": {"gan_dcgan": 0.0},  # gan_fc.py has had it from the start
    "g_kernel": {"gan_dcgan": 5},
    "d_kernel": {"gan_dcgan": 5},
    "g_7x7_layers": {"gan_dcgan": 1, "gan_cdcgan": 0},
    "g_7x7_kernel": {"gan_dcgan": 5},
    "d_7x7_layers": {"gan_dcgan": 0, "gan_cdcgan": 0},
    "d_condition": {"gan_cdcgan": "input"},
    "z_modes": {"gan_dcgan": 0},
    "z_mode_distance": {"gan_dcgan": 3.0},
    "z_temperature": {"gan_dcgan": 1.0, "gan_cdcgan": 1.0},
    "g_batch_norm": {"gan_fc": False},
    "bn_momentum": {"gan_fc": 0.9},
}

# Settings that change only how a trained G is drawn, not what it learns. Changing one needs no new run:
# a run keeps its recorded value (training when resumed too: its history stays comparable from epoch to
# epoch) unless the command line gives the flag, and evaluate.py has its own `--z-temperature`.
SAMPLING_ONLY = {"z_temperature"}

# Flags that do not change what is learned, so they are left out of the run name.
NOT_IN_RUN_NAME = {"epochs"} | SAMPLING_ONLY


class RunFolder:
    """The files of one run: their paths, and the two things that concern the folder as a whole
    (whether it is ours, and --fresh). Reading and writing each file is the job of the module that
    owns its content (history, checkpoints, the loop's epoch outputs, evaluate.py)."""

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

    # What --fresh removes: the files the project writes, by name, and the folders they leave empty.
    WRITTEN = (
        CONFIG,
        HISTORY,
        LOSSES,
        PROGRESS,
        *METRICS.values(),
        f"{SAMPLES}/epoch_*.png",
        f"{LOGS}/events.out.tfevents.*",
        f"{CHECKPOINTS}/ckpt-*",
        f"{CHECKPOINTS}/checkpoint",
        f"{CHECKPOINTS}/{BEST}/ckpt-*",
        f"{CHECKPOINTS}/{BEST}/{BEST_RECORD}",
    )

    def made_by_this_project(self):
        """Whether this folder holds a run of ours, as its config.json says. A folder named by mistake
        (`--out-dir .`, another project's run) does not, whatever else is in it."""
        try:
            config = json.loads(self.config.read_text())
        except (OSError, ValueError):
            return False
        return isinstance(config, dict) and config.get("script") in SCRIPTS and "run_name" in config

    def start_over(self, checkpoint_is_ours=False):
        """--fresh: remove the files the project wrote here, and nothing else (a user's own file in
        samples/ stays), and only in a run folder of ours: its config.json says so, or (a run that lost
        its config.json) the caller found our networks in its checkpoint."""
        written = [p for pattern in self.WRITTEN for p in self.path.glob(pattern) if p.is_file()]
        if written and not (checkpoint_is_ours or self.made_by_this_project()):
            raise UsageError(
                f"--fresh: {self.path} is not a run folder of this project (no config.json of ours), so nothing in "
                "it is removed; pass --out-dir of a run folder or a new folder, or delete this one yourself"
            )
        for path in written:
            path.unlink()
            guards.fault_point("sigint-fresh", 0)
        for folder in (self.best, self.checkpoints, self.samples, self.logs):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if written:
            print(f"--fresh: removed {len(written)} files of the old run from {self.path}")


# ----------------------------------------------------------------------------------- name and config


def _short_number(x):
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def result_shaping(hparams, dataset, steps_per_epoch):
    """Everything that changes what a run learns: it names the run folder, and a resume must match it."""
    shaping = {k: v for k, v in hparams.items() if k not in NOT_IN_RUN_NAME}
    shaping.update(dataset=dataset, steps_per_epoch=steps_per_epoch)
    return shaping


# The shipped defaults of every script's constants. A run's folder name and compare.py's titles list
# what differs from them, so a constant edited at the top of a script shows in the name just as its flag
# would. (A test keeps this file equal to the scripts' constants as they ship.)
SHIPPED = json.loads((Path(__file__).with_name("defaults.json")).read_text())


def _value_text(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return _short_number(value) if value and not 1e-2 <= abs(value) < 1e4 else f"{value:g}"
    return str(value)


def changed_settings(hparams, script, dataset="mnist", steps_per_epoch=None):
    """{name: value} of the settings that shape the result and differ from the script's shipped
    defaults (the data set and --steps-per-epoch included), in the constants' order."""
    shipped = SHIPPED.get(script, {})
    changed = {k: v for k, v in hparams.items() if k not in NOT_IN_RUN_NAME and k in shipped and shipped[k] != v}
    if dataset != "mnist":
        changed = {"dataset": dataset, **changed}
    if steps_per_epoch is not None:
        changed["steps_per_epoch"] = steps_per_epoch
    return changed


def _name_part(name, value):
    """A changed setting as its flag: `fashion_mnist`, `g-batch-norm`, `no-d-batch-norm`, `lr1e-4`,
    `beta1-0.9` (a dash where the flag ends in a digit)."""
    if name == "dataset":
        return value
    flag = flags.flag_of(name)[2:]
    if isinstance(value, bool):
        return flag if value else "no-" + flag
    return f"{flag}{'-' if flag[-1].isdigit() else ''}{_value_text(value)}"


def run_name(args, script):
    """`lr1e-4_d-hidden128_3f9a1c`: the settings that differ from the script's shipped defaults, as
    their flags (`defaults_3f9a1c` when none does), then a hash of everything that shapes the result,
    which keeps the name unique and unchanged by the order of the flags.

    The epoch count is left out, so raising `--epochs` continues the same run instead of starting a
    new one; any other edited constant or flag of the model gives a new folder beside the old one.
    """
    changed = changed_settings(args.hparams, script, args.dataset, args.steps_per_epoch)
    parts = [_name_part(name, value) for name, value in changed.items()]
    if len(parts) > MAX_NAMED:
        parts = [*parts[: MAX_NAMED - 1], f"+{len(parts) - MAX_NAMED + 1}more"]
    return "_".join([*(parts or ["defaults"]), _digest(args)])


MAX_NAMED = 4  # settings spelled out in a run folder's name; the rest are counted (config.json has them all)


def _digest(args):
    shaping = result_shaping(args.hparams, args.dataset, args.steps_per_epoch)
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:6]


def legacy_run_name(args):
    """The folder name runs had before their names listed what differs: `lr3e-4_b128_3f9a1c` (the same hash)."""
    prefix = "" if args.dataset == "mnist" else f"{args.dataset}_"
    return f"{prefix}lr{_short_number(args.lr)}_b{args.batch_size}_{_digest(args)}"


def for_args(args, script):
    """The run folder of a command line: `--out-dir`, or outputs/<script>/<run name> — or the folder
    of the same settings under its older name, when only that one exists (it resumes there)."""
    if args.out_dir:
        return RunFolder(args.out_dir)
    parent = OUTPUTS_DIR / script
    path, legacy = parent / run_name(args, script), parent / legacy_run_name(args)
    return RunFolder(legacy if not path.exists() and legacy.is_dir() else path)


def differing(configs):
    """The settings in which the runs of `configs` (config.json records) differ: {name: [value per
    run, None where a run has no such setting]}, in the constants' order; the data set included."""
    names = []
    for config in configs:
        names += [k for k in ["dataset", *config["hparams"]] if k not in names and k not in NOT_IN_RUN_NAME]

    def value(config, name):
        return config.get("dataset") if name == "dataset" else config["hparams"].get(name)

    return {name: [value(c, name) for c in configs] for name in names if len({json.dumps(value(c, name)) for c in configs}) > 1}


def describe_differences(differences, index=None):
    """`d_hidden 256 → 128; lr 3e-4 → 1e-4` for two runs (`256 | 128 | 64` for more, in their order);
    with `index`, that run's own values, `d_hidden 128, lr 1e-4`; "" when the runs do not differ."""

    def text(value):
        return "–" if value is None else _value_text(value)

    if index is not None:
        return ", ".join(f"{name} {text(values[index])}" for name, values in differences.items())
    return "; ".join(
        f"{name} " + (" → " if len(values) == 2 else " | ").join(text(v) for v in values) for name, values in differences.items()
    )


def point_latest(run):
    """`outputs/<script>/latest` -> the newest run folder (a relative link, so the tree can move)."""
    link = run.path.parent / "latest"
    tmp = run.path.parent / ".latest.tmp"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(run.path.name)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without links: the folder names still say which run is which


def config_record(args, script, steps_per_epoch, tensorflow_version):
    """What config.json records: enough to sample, evaluate or resume the run without the command line."""
    return {
        "script": script,
        "run_name": run_name(args, script),
        "hparams": args.hparams,
        "dataset": args.dataset,
        "steps_per_epoch": args.steps_per_epoch,  # the flag (None: whole epochs), part of the run's identity
        "effective_steps_per_epoch": steps_per_epoch,  # what it came to: compare.py maps epochs to checkpoints
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "gpu_memory_fraction": args.gpu_memory_fraction,  # None: no cap
        "gpu_allow_growth": args.gpu_allow_growth,
        "deterministic": args.deterministic,  # how the last session ran: not part of the run name
        "device": getattr(args, "device_name", None),  # where the last session trained (device.choose)
        "seed": args.seed,
        "tensorflow": tensorflow_version,
    }


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


CONFIG_FIELDS = {"script": str, "hparams": dict, "dataset": str, "steps_per_epoch": (int, type(None))}


def read_config(run):
    """A run's config.json ({"hparams": {}} when there is none)."""
    if not run.config.exists():
        return {"hparams": {}}
    fix = "restore it from a copy: it records the run's settings (not --fresh, which would delete the run)"
    config = read_record(run.config, CONFIG_FIELDS, fix)
    if config["script"] not in SCRIPTS or config["dataset"] not in DATASETS:
        raise UsageError(f"{run.config} is damaged (script {config['script']!r}, dataset {config['dataset']!r}); {fix}")
    hparams = config["hparams"]
    for name, earlier in ADDED_LATER.items():
        if hparams and config["script"] in earlier and name not in hparams:
            then = earlier[config["script"]]
            hparams[name] = hparams.get(then) if isinstance(then, CopyOf) else then
    return config


def check_writable(folder, fix="make it writable"):
    """Raise UsageError unless a file can be created in `folder`: found before long work, not after."""
    probe = folder / ".write-test"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write to {folder} ({e.strerror}); {fix}") from None


def write_config(run, record):
    files.write_json(run.config, record)


def check_same_run(run, args):
    """Refuse to resume a run folder with settings that would make it a different run."""
    config = read_config(run)
    if not config["hparams"]:
        return
    saved = result_shaping(config["hparams"], config["dataset"], config["steps_per_epoch"])
    wanted = result_shaping(args.hparams, args.dataset, args.steps_per_epoch)
    diffs = [
        f"{k} {saved.get(k)!r} -> {wanted.get(k)!r}" for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)
    ]
    if diffs:
        raise UsageError(
            f"{run.path} holds a run with other settings ({'; '.join(diffs)}); pass --fresh to start it over, "
            "or leave out --out-dir to get a folder of its own"
        )


def keep_sampling_settings(args, run):
    """Give `args` the sampling-only settings recorded in the run's config.json (or, predating them,
    the values that reproduce its draws), unless the command line gives them (`args.given`). A resumed
    run so goes on drawing its grids, history and best checkpoint as before, and `--generate` draws as
    the run did unless told otherwise."""
    recorded = read_config(run)["hparams"]
    for name in SAMPLING_ONLY & recorded.keys() - args.given:
        check_recorded(run, name, recorded[name], args)  # a damaged value is named now, not as a NaN grid
        setattr(args, name, recorded[name])
        args.hparams[name] = recorded[name]


def check_recorded(run, name, value, args):
    """Refuse a setting read back from the run's config.json that this script could not have been given."""
    try:
        if name not in args.hparams:
            raise ValueError("not a setting of this script")
        flags.check_value(name, value, args.hparams[name])
    except ValueError as e:
        raise UsageError(
            f"{run.config} says {name} = {value!r}, which this script cannot use ({e}); restore it from a copy: "
            "it records the run's settings"
        ) from None


def use_run_settings(args, run, script):
    """Give `args` the hyperparameters stored in the run's config.json, so a run can be sampled (or
    evaluated) after the constants at the top of the script were edited for the next experiment
    (the sampling-only ones as keep_sampling_settings says)."""
    config = read_config(run)
    if not config["hparams"]:  # no config.json (lost): the command's own settings, checked by the checkpoint
        return
    if config["script"] != script:
        raise UsageError(f"{run.path} is a run of {config['script']}.py, not of {script}.py; run python {config['script']}.py")
    for name, value in config["hparams"].items():
        check_recorded(run, name, value, args)
        if name not in SAMPLING_ONLY:
            setattr(args, name, value)
            args.hparams[name] = value
    keep_sampling_settings(args, run)


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
