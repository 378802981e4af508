"""Shared fixtures: tiny IDX data cut from the shipped MNIST (tests never download); the tiny model
flags and other shared helpers are in helpers.py."""

import dataclasses

import pytest
from helpers import write_idx

from common import data


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
