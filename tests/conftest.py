"""Shared fixtures: tiny IDX data (tests never download) and tiny models (tests stay fast)."""

import dataclasses
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common import data  # noqa: E402

# Tiny models; no per-epoch sample-quality evaluation (tests/test_evaluate.py covers it).
TINY_FC = ["--z-dim", "8", "--g-hidden", "32", "--d-hidden", "16", "--batch-size", "16", "--eval-every", "0"]
TINY_CONV = ["--z-dim", "8", "--g-filters", "4", "--d-filters", "4", "--batch-size", "8", "--eval-every", "0"]
TINY = {"gan_fc": TINY_FC, "gan_dcgan": TINY_CONV, "gan_cdcgan": TINY_CONV}


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic 0x08 + ndim, big-endian dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(f">I{array.ndim}I", 0x0800 + array.ndim, *array.shape) + array.tobytes()


def write_idx(path, array, compress=True):
    raw = idx_bytes(array)
    Path(path).write_bytes(gzip.compress(raw) if compress else raw)
    return hashlib.sha256(raw).hexdigest()


@pytest.fixture(scope="session")
def mnist_train():
    return data.load("mnist", "train")


@pytest.fixture(scope="session")
def tiny_mnist_files(tmp_path_factory, mnist_train):
    """A folder with 4096 train and 128 test images of real MNIST as IDX .gz files, and the dataset
    spec whose checksums match them."""
    images, labels = mnist_train
    folder = tmp_path_factory.mktemp("tiny_mnist")
    sums = {}
    for split, sl in (("train", slice(0, 4096)), ("test", slice(4096, 4224))):
        img_name, lbl_name = data.FILES[split]
        sums[img_name] = write_idx(folder / f"{img_name}.gz", images[sl])
        sums[lbl_name] = write_idx(folder / f"{lbl_name}.gz", labels[sl])
    return folder, dataclasses.replace(data.DATASETS["mnist"], sha256=sums)


@pytest.fixture
def tiny_mnist(tiny_mnist_files, monkeypatch):
    """The tiny folder, registered as the canonical MNIST so the scripts accept it via --data-dir."""
    folder, spec = tiny_mnist_files
    monkeypatch.setitem(data.DATASETS, "mnist", spec)
    return folder


def run_main(module, argv):
    """Run a script's main in this process; return its exit code (0 when it returns)."""
    try:
        module.main([str(a) for a in argv])
    except SystemExit as e:
        return e.code
    return 0
