"""Bad data and bad flags as a user meets them, through the script: one line, exit code 2, no
traceback, and nothing written to the run folder."""

import dataclasses
import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import REPO, TINY_FC, run_main, write_idx

import gan_fc
from common import data

IMAGES, LABELS = data.FILES["train"]


def _replace(folder, name, content):
    for old in folder.glob(f"{name}*"):
        old.unlink()
    (folder / name).write_bytes(content)


def _good_images(folder):
    return gzip.decompress((folder / f"{IMAGES}.gz").read_bytes())


def missing_file(folder, mp):
    (folder / f"{LABELS}.gz").unlink()
    return f"no {LABELS}"


def empty_file(folder, mp):
    _replace(folder, f"{IMAGES}.gz", b"")
    return "empty"


def html_saved_as_gz(folder, mp):
    _replace(folder, f"{IMAGES}.gz", b"<!DOCTYPE html><html><title>404</title></html>")
    return "HTML"


def truncated_gzip(folder, mp):
    _replace(folder, f"{IMAGES}.gz", (folder / f"{IMAGES}.gz").read_bytes()[:5000])
    return "broken gzip"


def truncated_raw_idx(folder, mp):
    raw = _good_images(folder)
    _replace(folder, IMAGES, raw[: len(raw) // 2])
    return "truncated or padded"


def wrong_idx_magic(folder, mp):
    raw = _good_images(folder)
    _replace(folder, f"{IMAGES}.gz", gzip.compress(b"\x00\x00\x08\x01" + raw[4:]))
    return "wrong IDX magic"


def wrong_image_size(folder, mp):
    _replace(folder, f"{IMAGES}.gz", gzip.compress(data.idx_bytes(np.zeros((10, 32, 32), np.uint8))))
    return "32x32, expected 28x28"


def checksum_mismatch(folder, mp):
    raw = bytearray(_good_images(folder))
    raw[-1] ^= 0xFF  # one pixel changed: valid IDX, wrong content
    _replace(folder, f"{IMAGES}.gz", gzip.compress(bytes(raw)))
    return "checksum mismatch"


def count_mismatch(folder, mp):
    """Images and labels each valid (and registered as canonical), but from sets of different sizes."""
    labels = np.frombuffer(gzip.decompress((folder / f"{LABELS}.gz").read_bytes())[8:], np.uint8)
    sha = write_idx(folder / f"{LABELS}.gz", labels[:-1])
    spec = data.DATASETS["mnist"]
    mp.setitem(data.DATASETS, "mnist", dataclasses.replace(spec, sha256={**spec.sha256, LABELS: sha}))
    return "4096 images but 4095 labels"


def labels_out_of_range(folder, mp):
    labels = np.full(4096, 11, np.uint8)
    sha = write_idx(folder / f"{LABELS}.gz", labels)
    spec = data.DATASETS["mnist"]
    mp.setitem(data.DATASETS, "mnist", dataclasses.replace(spec, sha256={**spec.sha256, LABELS: sha}))
    return "label 11 outside 0–9"


def unreadable_file(folder, mp):
    (folder / f"{IMAGES}.gz").unlink()
    (folder / f"{IMAGES}.gz").mkdir()  # a folder where the file should be: unreadable even for root
    return "is not a regular file"


def data_dir_is_a_file(folder, mp):
    shutil.rmtree(folder)
    folder.write_text("not a folder")
    return "is not a folder"


def keras_npz_with_wrong_keys(folder, mp):
    """No --data-dir and no shipped copy: the Keras cache is next, and it holds the wrong arrays."""
    keras = folder.parent / "keras"
    keras.mkdir()
    np.savez(keras / "mnist.npz", images=np.zeros((2, 28, 28), np.uint8))
    mp.setattr(data, "REPO_DIR", folder.parent / "empty-repo")
    mp.setattr(data, "KERAS_DIR", keras)
    return "no array x_train, y_train"


DATA_CASES = [
    missing_file,
    empty_file,
    html_saved_as_gz,
    truncated_gzip,
    truncated_raw_idx,
    wrong_idx_magic,
    wrong_image_size,
    checksum_mismatch,
    count_mismatch,
    labels_out_of_range,
    unreadable_file,
    data_dir_is_a_file,
    keras_npz_with_wrong_keys,
]


@pytest.mark.parametrize("corrupt", DATA_CASES, ids=lambda f: f.__name__)
def test_bad_data_is_one_line_and_exit_2(tmp_path, tiny_mnist_files, monkeypatch, capsys, corrupt):
    source, spec = tiny_mnist_files
    folder = tmp_path / "data"
    shutil.copytree(source, folder)
    monkeypatch.setitem(data.DATASETS, "mnist", spec)
    words = corrupt(folder, monkeypatch)
    out = tmp_path / "run"
    argv = [*TINY_FC, "--out-dir", out] + ([] if corrupt is keras_npz_with_wrong_keys else ["--data-dir", folder])
    assert run_main(gan_fc, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("gan_fc.py: error:") and words in err, err
    assert not out.exists()  # refused before anything was written


BAD_FLAGS = [
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-4"], "--batch-size"),
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--lr", "0"], "--lr"),
    (["--lr", "-1e-3"], "--lr"),
    (["--gpu-memory-fraction", "0"], "--gpu-memory-fraction"),
    (["--gpu-memory-fraction", "1.5"], "--gpu-memory-fraction"),
    (["--dataset", "cifar10"], "--dataset"),
    (["--generate", "5", "--to", "x.jpg"], "unknown extension"),
    (["--generate", "5", "--label", "3"], "not conditional"),
    (["--generate", "-3"], "--generate"),
    (["--to", "x.npz"], "--to goes with --generate"),
    (["--label-smoothing", "1"], "--label-smoothing"),
    (["--no-such-flag"], "unrecognized arguments"),
    (["--packing", "3"], "packs of 3"),
    (["--packing", "0"], "--packing"),
]


@pytest.mark.parametrize("argv, words", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flags_are_one_line_and_exit_2(capsys, argv, words):
    assert run_main(gan_fc, argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and words in err and err.endswith("(see --help)"), err


def test_bad_values_that_need_the_data_or_a_run(tmp_path, tiny_mnist, capsys):
    import gan_cdcgan

    cases = [
        (
            gan_fc,
            ["--data-dir", tiny_mnist, "--out-dir", tmp_path / "a", "--batch-size", "4097"],
            "larger than the 4096 training images",
        ),
        (gan_cdcgan, ["--generate", "5", "--label", "10"], "a digit 0–9"),
        (gan_cdcgan, ["--mode-seeking", "1", "--batch-size", "1"], "in pairs"),
        (gan_cdcgan, ["--minibatch-by-digit"], "needs --minibatch-kernels"),  # 0 kernels: nothing to group
    ]
    for module, argv, words in cases:
        assert run_main(module, argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err, err


def test_bad_data_is_one_line_and_exit_2_without_traceback(tmp_path):
    """As a user sees it: a real process, an HTML page where the images should be."""
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"<html><body>404 Not Found</body></html>")
    result = subprocess.run(
        [sys.executable, str(REPO / "gan_fc.py"), "--data-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HTML" in lines[0] and "train-images-idx3-ubyte.gz" in lines[0], result.stderr
