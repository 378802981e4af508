"""Flags: every constant is one, bad values are argparse errors (exit 2), run names follow settings."""

import hashlib
import json
import re
from types import SimpleNamespace

import pytest
from helpers import REPO

import gan_dcgan
import gan_fc
from common import flags, names, runs, settings

HPARAMS = gan_fc.HPARAMS


def parse(*argv):
    return flags.parse("test", HPARAMS, list(argv))


def test_every_uppercase_constant_is_a_flag():
    assert {"EPOCHS", "BATCH_SIZE", "LR", "BETA1", "Z_DIM", "G_HIDDEN", "D_HIDDEN", "LABEL_SMOOTHING", "SEED"} <= set(HPARAMS)
    args = parse("--g-hidden", "64", "--label-smoothing", "0.1", "--lr", "1e-4")
    assert (args.g_hidden, args.label_smoothing, args.lr) == (64, 0.1, 1e-4)
    assert args.hparams["g_hidden"] == 64 and args.hparams["epochs"] == gan_fc.EPOCHS


def test_the_readmes_run_folder_is_the_default_dcgans():
    """The README's outputs/ tree names the folder `python gan_dcgan.py` trains into: a user looks for it
    there, and the name's hash changes whenever a default does."""
    shown = set(re.findall(r"defaults_[0-9a-f]{6}", (REPO / "README.md").read_text()))
    assert shown == {names.run_name(flags.parse("gan_dcgan", gan_dcgan.HPARAMS, []), "gan_dcgan")}


def test_fraction_one_is_allowed():
    assert parse("--gpu-memory-fraction", "1").gpu_memory_fraction == 1.0


def test_run_name_says_what_differs_from_the_defaults_but_not_epochs():
    def name(*argv):
        return names.run_name(parse(*argv), "gan_fc")

    base = name()
    assert re.fullmatch(r"defaults_[0-9a-f]{6}", base)
    assert name("--epochs", "99") == base
    assert name("--deterministic", "--gpu-memory-fraction", "0.5", "--no-gpu-allow-growth") == base
    assert re.fullmatch(r"lr2e-4_[0-9a-f]{6}", name("--lr", "2e-4"))
    assert re.fullmatch(r"d-hidden128_[0-9a-f]{6}", name("--d-hidden", "128"))
    assert re.fullmatch(r"no-g-batch-norm_[0-9a-f]{6}", name("--no-g-batch-norm"))
    assert name("--lr", "2e-4", "--d-hidden", "128") == name("--d-hidden", "128", "--lr", "2e-4")  # the constants' order
    assert name("--d-hidden", "512") == base  # a flag at its default changes nothing
    assert re.fullmatch(r"steps-per-epoch10_[0-9a-f]{6}", name("--steps-per-epoch", "10"))
    assert name("--dataset", "fashion_mnist").startswith("fashion_mnist_")
    many = name("--lr", "1e-4", "--beta1", "0.9", "--z-dim", "50", "--g-hidden", "64", "--d-hidden", "64", "--seed", "3")
    assert many.startswith("lr1e-4_beta1-0.9_z-dim50_+3more_") and len(many) < 60


def test_a_run_under_its_older_name_is_found_and_resumed_there(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "OUTPUTS_DIR", tmp_path)
    args = flags.parse("test", gan_dcgan.HPARAMS, [])
    assert runs.for_args(args, "gan_dcgan").path.name.startswith("defaults_")
    old = tmp_path / "gan_dcgan" / names.legacy_run_name(args)
    old.mkdir(parents=True)
    assert old.name.startswith("lr8e-4_b128_")
    assert runs.for_args(args, "gan_dcgan").path == old
    (tmp_path / "gan_dcgan" / names.run_name(args, "gan_dcgan")).mkdir()  # both: the new name wins
    assert runs.for_args(args, "gan_dcgan").path.name.startswith("defaults_")


def test_a_run_made_before_a_setting_existed_is_found_under_its_older_hash(tmp_path, monkeypatch):
    """A cDCGAN run hashed before DECAY_START and MODE_SEEKING (and G_CONDITIONAL_BN, D_LR_DECAY, CLASS_LOSS,
    MINIBATCH_KERNELS, MINIBATCH_BY_DIGIT) existed
    is the same run as today's defaults, whose values for all of them reproduce it: the command resumes
    it, not a new folder."""
    import gan_cdcgan

    monkeypatch.setattr(runs, "OUTPUTS_DIR", tmp_path)
    args = flags.parse("test", gan_cdcgan.HPARAMS, [])
    shaping = names.result_shaping(args.hparams, args.dataset, args.steps_per_epoch)

    def digest(*left_out):  # all three hashes below predate DECAY_START, D_LR_DECAY, CLASS_LOSS and MINIBATCH_KERNELS
        kept = {
            k: v
            for k, v in shaping.items()
            if k not in {*left_out, "decay_start", "d_lr_decay", "class_loss", "minibatch_kernels", "minibatch_by_digit"}
        }
        return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:6]

    parent = tmp_path / "gan_cdcgan"
    oldest = parent / f"defaults_{digest('mode_seeking', 'g_conditional_bn')}"
    oldest.mkdir(parents=True)
    assert runs.for_args(args, "gan_cdcgan").path == oldest
    newer = parent / f"defaults_{digest('mode_seeking')}"
    newer.mkdir()
    assert runs.for_args(args, "gan_cdcgan").path == newer  # the newest older hash first
    seeking = flags.parse("test", gan_cdcgan.HPARAMS, ["--mode-seeking", "1"])  # no run of these predates it
    assert runs.for_args(seeking, "gan_cdcgan").path.name == names.run_name(seeking, "gan_cdcgan")
    (parent / f"lr1e-4_{digest('mode_seeking')}").mkdir()  # two folders of that hash: neither is taken
    assert runs.for_args(args, "gan_cdcgan").path == oldest


@pytest.mark.parametrize("decay", [0.95, 1.0])
def test_a_cdcgan_run_recorded_with_one_decay_for_both_rates_reads_as_d_decaying_alike(tmp_path, decay):
    """config.json without d_lr_decay (written when LR_DECAY decayed both rates) means D's rate decayed
    by LR_DECAY too, whatever the default of D_LR_DECAY is now."""
    config = tmp_path / "config.json"
    hparams = {"epochs": 1, "lr_decay": decay, "decay_steps": 500}
    config.write_text(json.dumps({"script": "gan_cdcgan", "hparams": hparams, "dataset": "mnist", "steps_per_epoch": None}))
    assert settings.read_config(SimpleNamespace(config=config))["hparams"]["d_lr_decay"] == decay


def test_the_shipped_defaults_are_the_scripts_constants():
    """common/defaults.json, which run names and compare.py's titles are measured against, must be the
    constants at the top of the scripts as they ship."""
    import gan_cdcgan

    for module in (gan_fc, gan_dcgan, gan_cdcgan):
        assert names.SHIPPED[module.MODEL.script] == {k.lower(): v for k, v in module.HPARAMS.items()}


def test_differences_between_runs_are_named_with_their_values():
    a = {"dataset": "mnist", "hparams": {"lr": 3e-4, "d_hidden": 256, "seed": 0, "epochs": 60}}
    b = {"dataset": "mnist", "hparams": {"lr": 1e-4, "d_hidden": 256, "seed": 0, "epochs": 30}}
    c = {"dataset": "mnist", "hparams": {"lr": 1e-4, "d_hidden": 128, "seed": 0, "epochs": 60, "g_batch_norm": True}}
    assert names.describe_differences(names.differing([a, b])) == "lr 3e-4 → 1e-4"  # epochs: not a setting of the result
    three = names.differing([a, b, c])
    assert list(three) == ["lr", "d_hidden", "g_batch_norm"]
    assert names.describe_differences(three, 2) == "lr 1e-4, d_hidden 128, g_batch_norm on"
    assert names.describe_differences(three, 0) == "lr 3e-4, d_hidden 256, g_batch_norm –"
    assert names.differing([a, a]) == {}
    warm = {"dataset": "mnist", "hparams": {**a["hparams"], "z_temperature": 1.05}}
    cold = {"dataset": "mnist", "hparams": {**a["hparams"], "z_temperature": 1.0}}
    assert names.describe_differences(names.differing([cold, warm])) == "z_temperature 1 → 1.05"  # their FDs differ by it
    assert names.differing([cold, warm], drawn_as_recorded=False) == {}  # both drawn at one --z-temperature


@pytest.mark.parametrize(
    "script, argv",
    [
        ("gan_dcgan", ["--bn-momentum", "1"]),
        ("gan_dcgan", ["--dropout", "-0.1"]),
        ("gan_cdcgan", ["--lr-decay", "0"]),
        ("gan_cdcgan", ["--init-stddev", "-0.02"]),
        ("gan_cdcgan", ["--label", "-1", "--generate", "2"]),
    ],
)
def test_conv_script_ranges(capsys, script, argv):
    module = __import__(script)
    with pytest.raises(SystemExit) as e:
        flags.parse("test", module.HPARAMS, argv, conditional=module.MODEL.conditional)
    assert e.value.code == 2 and argv[0] in capsys.readouterr().err
