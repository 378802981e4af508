"""Flags: every constant is one, bad values are argparse errors (exit 2), run names follow settings."""

import re

import pytest
from helpers import REPO

import gan_dcgan
import gan_fc
from common import flags, runs

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
    shown = set(re.findall(r"lr[0-9e.-]+_b[0-9]+_[0-9a-f]{6}", (REPO / "README.md").read_text()))
    assert shown == {runs.run_name(flags.parse("gan_dcgan", gan_dcgan.HPARAMS, []))}


def test_fraction_one_is_allowed():
    assert parse("--gpu-memory-fraction", "1").gpu_memory_fraction == 1.0


def test_run_name_follows_settings_but_not_epochs():
    base = runs.run_name(parse())
    assert base.startswith("lr3e-4_b128_")
    assert runs.run_name(parse("--epochs", "99")) == base
    assert runs.run_name(parse("--deterministic", "--gpu-memory-fraction", "0.5", "--no-gpu-allow-growth")) == base
    assert runs.run_name(parse("--lr", "2e-4")).startswith("lr2e-4_b128_")
    assert runs.run_name(parse("--d-hidden", "128")) != base  # a change not in the readable part still counts
    assert runs.run_name(parse("--steps-per-epoch", "10")) != base
    assert runs.run_name(parse("--dataset", "fashion_mnist")).startswith("fashion_mnist_lr3e-4")


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
