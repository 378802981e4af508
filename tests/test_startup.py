"""The loop around every run: the device named, a GPU box without CUDA libraries warned about,
`--device gpu` refused without a GPU, start-up work skipped where nothing needs it (no TensorFlow for
--help, a bad flag or a finished run; the test set's statistics read from their cache, unchanged)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, TINY, run_main

import gan_fc
from common import classifier, data, device, quality
from common.errors import UsageError

# Runs a script's main in a fresh interpreter and says whether TensorFlow was imported.
PROBE = """
import sys
sys.argv[0] = {script!r}
import {module} as m
try:
    m.main({argv!r})
except SystemExit as e:
    print("exit", e.code)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


def probe(module, argv, script=None):
    code = PROBE.format(module=module, argv=[str(a) for a in argv], script=script or f"{module}.py")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    return done.stdout, done.stderr


@pytest.mark.parametrize("module", ["gan_fc", "gan_dcgan", "gan_cdcgan", "evaluate", "compare", "bench"])
def test_help_and_a_bad_flag_need_no_tensorflow(module):
    out, _ = probe(module, ["--help"])
    assert "exit 0" in out and "tensorflow imported: False" in out
    out, err = probe(module, ["--no-such-flag"])
    assert "exit 2" in out and "tensorflow imported: False" in out and err.count("\n") == 1, err


def test_a_finished_run_is_told_so_without_tensorflow(tmp_path):
    argv = ["--out-dir", tmp_path / "run", *TINY["gan_fc"], "--epochs", "1", "--steps-per-epoch", "2"]  # the shipped MNIST
    assert run_main(gan_fc, argv) == 0
    out, err = probe("gan_fc", argv)
    assert "already trained 1 epochs" in out and "tensorflow imported: False" in out, out + err


def test_the_device_is_said_first_and_recorded(tmp_path, tiny_mnist, capsys):
    run = tmp_path / "run"
    argv = ["--out-dir", run, "--data-dir", tiny_mnist, *TINY["gan_fc"], "--epochs", "1", "--steps-per-epoch", "1"]
    assert run_main(gan_fc, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "device: CPU (TensorFlow sees no GPU)"
    assert json.loads((run / "config.json").read_text())["device"] == "CPU"
    assert run_main(gan_fc, [*argv, "--generate", "4", "--to", tmp_path / "four.png"]) == 0
    assert capsys.readouterr().out.startswith("device: CPU")


@pytest.fixture
def nvidia_driver(tmp_path, monkeypatch):
    """A machine whose NVIDIA driver is loaded (the file the kernel driver provides, made to exist)."""
    version = tmp_path / "nvidia-version"
    version.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15\n")
    monkeypatch.setattr(device, "NVIDIA_DRIVER_FILE", version)
    return version


@pytest.fixture
def no_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)


def test_a_driver_that_tensorflow_cannot_use_is_one_warning_line(nvidia_driver, capsys):
    assert device.choose("auto") == "CPU"
    captured = capsys.readouterr()
    assert captured.out == "device: CPU (TensorFlow sees no GPU)\n"
    assert captured.err.count("\n") == 1 and "NVIDIA driver" in captured.err and "tensorflow[and-cuda]" in captured.err
    device.choose("cpu")  # asked for: no warning
    assert capsys.readouterr().err == ""


def test_no_driver_no_warning(tmp_path, monkeypatch, no_nvidia_smi, capsys):
    monkeypatch.setattr(device, "NVIDIA_DRIVER_FILE", tmp_path / "absent")
    device.choose("auto")
    assert capsys.readouterr().err == ""


def test_device_gpu_refuses_without_a_gpu_in_one_line(nvidia_driver, tmp_path, tiny_mnist, capsys):
    with pytest.raises(UsageError, match=r"tensorflow\[and-cuda\]"):
        device.choose("gpu")
    run = tmp_path / "run"
    argv = ["--out-dir", run, "--data-dir", tiny_mnist, *TINY["gan_fc"], "--epochs", "1", "--device", "gpu"]
    assert run_main(gan_fc, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device gpu: TensorFlow sees no GPU" in err and "tensorflow[and-cuda]" in err
    assert not (run / "checkpoints").exists() or not list((run / "checkpoints").iterdir())


def test_the_cached_reference_gives_the_same_numbers_to_the_last_bit(tmp_path, monkeypatch):
    """Computed once, then read: the measure of some images and the real row are the same bit for bit,
    and a changed classifier or test set is given other statistics."""
    shipped = classifier.CLASSIFIER_DIR / "mnist"
    copy = tmp_path / "mnist"
    shutil.copytree(shipped, copy, ignore=shutil.ignore_patterns("reference-*"))
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tmp_path)
    images = np.random.default_rng(1).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32)

    computed = quality.Reference("mnist")
    (cache,) = copy.glob("reference-*.npz")
    read = quality.Reference("mnist")
    os.utime(cache)  # read, not rewritten
    for a, b in ((computed.measure(images), read.measure(images)), (computed.real(500), read.real(500))):
        assert json.dumps(a) == json.dumps(b)
    np.testing.assert_array_equal(computed.test_probs, read.test_probs)

    test_images, test_labels = data.load("mnist", "test")
    assert read.cache_path(test_images, test_labels) == cache
    other = test_images.copy()
    other[0, 0, 0] ^= 1
    assert read.cache_path(other, test_labels) != cache
    with open(copy / "classifier.index", "ab") as f:
        f.write(b"\0")  # a retrained classifier
    assert read.cache_path(test_images, test_labels) != cache


def test_a_damaged_cache_is_computed_again(tmp_path, monkeypatch):
    shutil.copytree(classifier.CLASSIFIER_DIR / "mnist", tmp_path / "mnist", ignore=shutil.ignore_patterns("reference-*"))
    monkeypatch.setattr(classifier, "CLASSIFIER_DIR", tmp_path)
    first = quality.Reference("mnist")
    (cache,) = (tmp_path / "mnist").glob("reference-*.npz")
    cache.write_bytes(cache.read_bytes()[:1000])
    again = quality.Reference("mnist")
    np.testing.assert_array_equal(first.test_probs, again.test_probs)
    assert quality._read_cache(cache) is not None  # written anew
