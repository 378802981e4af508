"""A run's settings on record (its config.json), so that it resumes, samples and evaluates as it was made.

They are read back rather than taken from the script's constants, which may have been edited for the
next experiment since. A run recorded before a hyperparameter existed reads as it was made
(`ADDED_LATER`); a setting read back is checked as its flag would be, so a damaged config.json is named
before any work. No TensorFlow here, so `compare.py` stays quick.
"""

from common import files, flags, names
from common.data import DATASETS
from common.errors import UsageError
from common.runs import SCRIPTS, read_record


# Hyperparameters added after the first runs were recorded: for each script that has one, what
# reproduces a run whose config.json predates it (a value, or CopyOf the setting it copied then).
# Such a run still loads, and resuming it with other settings is refused (sampling-only ones aside).
class CopyOf(str):
    """The earlier value was this other setting's (a separate D rate copied the one rate `lr`; D's decay,
    the one decay `lr_decay`)."""


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
    "z_modes": {"gan_dcgan": 0, "gan_fc": 0},
    "z_mode_distance": {"gan_dcgan": 3.0, "gan_fc": 4.0},
    "z_temperature": {"gan_dcgan": 1.0, "gan_cdcgan": 1.0, "gan_fc": 1.0},
    "g_batch_norm": {"gan_fc": False},
    "g_conditional_bn": {"gan_cdcgan": False},
    "bn_momentum": {"gan_fc": 0.9},
    "mode_seeking": {"gan_cdcgan": 0.0},
    "packing": {"gan_fc": 1},
    "decay_start": {"gan_cdcgan": 0},
    "d_lr_decay": {"gan_cdcgan": CopyOf("lr_decay")},
    "class_loss": {"gan_cdcgan": 0.0},
    "minibatch_kernels": {"gan_fc": 0, "gan_cdcgan": 0},
    "minibatch_by_digit": {"gan_cdcgan": False},
}


def added_later(script, hparams):
    """{name: the value that reproduces a run made before it existed} of `script`'s later settings,
    in the order they were added (a CopyOf resolved against `hparams`)."""
    return {
        name: hparams.get(earlier[script]) if isinstance(earlier[script], CopyOf) else earlier[script]
        for name, earlier in ADDED_LATER.items()
        if script in earlier
    }


def config_record(args, script, steps_per_epoch, tensorflow_version):
    """What config.json records: enough to sample, evaluate or resume the run without the command line."""
    return {
        "script": script,
        "run_name": names.run_name(args, script),
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


CONFIG_FIELDS = {"script": str, "hparams": dict, "dataset": str, "steps_per_epoch": (int, type(None))}


def read_config(run):
    """A run's config.json ({"hparams": {}} when there is none)."""
    if not run.config.exists():
        return {"hparams": {}}
    fix = "restore it from a copy: it records the run's settings (not --fresh, which would delete the run)"
    config = read_record(run.config, CONFIG_FIELDS, fix)
    if config["script"] not in SCRIPTS or config["dataset"] not in DATASETS:
        raise UsageError(f"{run.config} is damaged (script {config['script']!r}, dataset {config['dataset']!r}); {fix}")
    if not isinstance(config.get("data_dir"), (str, type(None))):  # read by evaluate.py alone
        raise UsageError(f"{run.config} is damaged (data_dir = {config['data_dir']!r}); {fix}")
    hparams = config["hparams"]
    for name, earlier in ADDED_LATER.items():
        if hparams and config["script"] in earlier and name not in hparams:
            then = earlier[config["script"]]
            hparams[name] = hparams.get(then) if isinstance(then, CopyOf) else then
    return config


def write_config(run, record):
    files.write_json(run.config, record)


def check_same_run(run, args):
    """Refuse to resume a run folder with settings that would make it a different run."""
    config = read_config(run)
    if not config["hparams"]:
        return
    saved = names.result_shaping(config["hparams"], config["dataset"], config["steps_per_epoch"])
    wanted = names.result_shaping(args.hparams, args.dataset, args.steps_per_epoch)
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
    for name in names.SAMPLING_ONLY & recorded.keys() - args.given:
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
        if name not in names.SAMPLING_ONLY:
            setattr(args, name, value)
            args.hparams[name] = value
    keep_sampling_settings(args, run)
