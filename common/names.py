"""A run's name and how runs differ: the settings that shape what is learned, spelled as their flags.

A run folder is named after what differs from the script's shipped defaults plus a hash of everything
that shapes the result, so rerunning a command resumes its run, a changed constant starts a new folder
beside it, and compare.py / evaluate.py can say in words how the runs they show differ.
"""

import hashlib
import json
from pathlib import Path

from common import flags

# Settings that change only how a trained G is drawn, not what it learns. Changing one needs no new run:
# a run keeps its recorded value (training when resumed too: its history stays comparable from epoch to
# epoch) unless the command line gives the flag, and evaluate.py has its own `--z-temperature`.
SAMPLING_ONLY = {"z_temperature"}

# Flags that do not change what is learned, so they are left out of the run name.
NOT_IN_RUN_NAME = {"epochs"} | SAMPLING_ONLY


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


def _digest(args, leave_out=()):
    shaping = result_shaping(args.hparams, args.dataset, args.steps_per_epoch)
    shaping = {k: v for k, v in shaping.items() if k not in leave_out}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:6]


def earlier_digests(args, added_later):
    """The hashes these settings had before each setting in `added_later` existed — {name: its value
    then}, in the order they were added — newest first: a run made before a new setting, with the
    value that reproduces it, is the same run under an older hash. Stops at a setting with another
    value: no run of these settings can predate it."""
    leave_out, found = set(), []
    for name, then in reversed(list(added_later.items())):
        if name not in args.hparams or name in NOT_IN_RUN_NAME:
            continue  # not a setting of this script, or never part of the hash
        if args.hparams[name] != then:
            break
        leave_out.add(name)
        found.append(_digest(args, leave_out))
    return found


def legacy_run_name(args):
    """The folder name runs had before their names listed what differs: `lr3e-4_b128_3f9a1c` (the same hash)."""
    prefix = "" if args.dataset == "mnist" else f"{args.dataset}_"
    return f"{prefix}lr{_short_number(args.lr)}_b{args.batch_size}_{_digest(args)}"


def differing(configs, drawn_as_recorded=True):
    """The settings in which the runs of `configs` (config.json records) differ: {name: [value per
    run, None where a run has no such setting]}, in the constants' order; the data set included.
    With `drawn_as_recorded`, also the sampling-only ones: each run's grids and in-training FD are
    drawn at its own Z_TEMPERATURE, so FDs of runs at 1 and 1.05 are not alike (1.05 reads lower)."""
    left_out = NOT_IN_RUN_NAME - SAMPLING_ONLY if drawn_as_recorded else NOT_IN_RUN_NAME
    names = []
    for config in configs:
        names += [k for k in ["dataset", *config["hparams"]] if k not in names and k not in left_out]

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
