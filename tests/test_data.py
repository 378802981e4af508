"""The loader: shipped MNIST, gz and raw IDX, the search order, and every corrupt file named clearly."""

import dataclasses
import gzip
import hashlib
import shutil
import urllib.request

import numpy as np
import pytest
from helpers import write_idx

from common import data

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_shipped_mnist_is_the_canonical_set(mnist_train):
    images, labels = mnist_train
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == MNIST_TRAIN_COUNTS
    assert images.mean() == pytest.approx(33.318, abs=1e-3)
    test_images, test_labels = data.load("mnist", "test")
    assert test_images.shape == (10000, 28, 28) and len(test_labels) == 10000


def test_gz_and_raw_files_read_the_same(tmp_path):
    array = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    digest = write_idx(tmp_path / "a-images.gz", array)
    write_idx(tmp_path / "b-images", array, compress=False)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a-images.gz", digest), array)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b-images", digest), array)


def test_unit_range_matches_tanh_range():
    out = data.to_unit_range(np.array([[[0, 255]]], dtype=np.uint8))
    assert out.shape == (1, 1, 2, 1) and out.dtype == np.float32
    assert out.min() == -1.0 and out.max() == 1.0


def _images(n=4, size=28):
    return np.random.default_rng(0).integers(0, 256, (n, size, size), dtype=np.uint8)


def _bad_image_files(tmp_path):
    """(name, path, expected sha or None, words the message must contain) for each kind of bad file."""
    good = data.idx_bytes(_images())
    cases = []

    def add(name, content, words, sha=None):
        path = tmp_path / name
        path.write_bytes(content)
        cases.append((name, path, sha, words))

    add("html-images-idx3-ubyte.gz", b"<!DOCTYPE html><html><body>Moved</body></html>", "HTML")
    add("trunc-images-idx3-ubyte.gz", gzip.compress(good)[:200], "broken gzip")
    add("short-images-idx3-ubyte", good[:-100], "truncated")
    add("magic-images-idx3-ubyte", b"\x00\x00\x08\x01" + good[4:], "wrong IDX magic")
    add("size-images-idx3-ubyte", data.idx_bytes(_images(size=32)), "32x32")
    add("empty-images-idx3-ubyte.gz", b"", "empty")
    add("sum-images-idx3-ubyte.gz", gzip.compress(good), "checksum mismatch", sha="0" * 64)
    add("float-images-idx3-ubyte", b"\x00\x00\x0d\x03" + good[4:], "wrong IDX magic")
    return cases


@pytest.mark.parametrize("index", range(8))
def test_each_bad_file_is_named_with_its_fault(tmp_path, index):
    name, path, sha, words = _bad_image_files(tmp_path)[index]
    with pytest.raises(data.DataError) as err:
        data.read_idx(path, sha)
    message = str(err.value)
    assert str(path) in message and words in message, message
    assert "\n" not in message


def test_missing_file_names_the_folder(tmp_path):
    with pytest.raises(data.DataError, match="no train-images-idx3-ubyte"):
        data.load_folder(tmp_path, "train")


def test_unreadable_file(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    path.mkdir()  # unreadable as a file even for root, unlike chmod 0
    with pytest.raises(data.DataError, match="cannot read"):
        data.read_idx(path)


def test_image_and_label_counts_must_match(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", _images(4))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(data.DataError, match="4 images but 3 labels"):
        data.load_folder(tmp_path, "train")


def test_labels_outside_0_to_9_are_refused(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", _images(2))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([1, 12], np.uint8))
    with pytest.raises(data.DataError, match="label 12"):
        data.load_folder(tmp_path, "train")


def test_explicit_data_dir_is_the_only_place_looked(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.load("mnist", "train", data_dir=tmp_path)
    assert str(tmp_path) in str(err.value)


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No shipped copy, an empty Keras cache, and a network that refuses every request."""
    monkeypatch.setattr(data, "REPO_DIR", tmp_path / "repo")
    monkeypatch.setattr(data, "KERAS_DIR", tmp_path / "keras")
    (tmp_path / "keras").mkdir()
    requests = []

    def refuse(url, timeout=None):
        requests.append(url)
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return requests


def test_keras_cache_is_used_and_verified(nowhere, tmp_path, monkeypatch):
    x, y = _images(6), np.arange(6, dtype=np.uint8)
    np.savez(tmp_path / "keras" / "mnist.npz", x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    sums = {
        "train-images-idx3-ubyte": hashlib.sha256(data.idx_bytes(x)).hexdigest(),
        "train-labels-idx1-ubyte": hashlib.sha256(data.idx_bytes(y)).hexdigest(),
    }
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], sha256=sums))
    got_x, got_y = data.load("mnist", "train")
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    assert nowhere == []  # found locally: no download tried


def test_keras_npz_with_wrong_keys(nowhere, tmp_path):
    np.savez(tmp_path / "keras" / "mnist.npz", images=_images())
    with pytest.raises(data.DataError, match="no array x_train, y_train"):
        data.load("mnist", "train")


def test_keras_npz_with_other_content_fails_its_checksum(nowhere, tmp_path):
    x = _images(6)
    np.savez(tmp_path / "keras" / "mnist.npz", x_train=x, y_train=np.zeros(6, np.uint8), x_test=x, y_test=x[:, 0, 0])
    with pytest.raises(data.DataError, match="checksum mismatch"):
        data.load("mnist", "train")


def test_failed_download_says_where_it_looked_and_how_to_fix(nowhere, tmp_path, monkeypatch):
    no_system_copy = dataclasses.replace(data.DATASETS["fashion_mnist"], system_dirs=())
    monkeypatch.setitem(data.DATASETS, "fashion_mnist", no_system_copy)
    with pytest.raises(data.DataError) as err:
        data.load("fashion_mnist", "train")
    message = str(err.value)
    assert nowhere and all(url.endswith("-ubyte.gz") for url in nowhere)
    assert "download failed" in message and "--data-dir" in message and "apt-get install dataset-fashion-mnist" in message
    looked = message[message.index("looked in ") + 10 : message.index(")")].split(", ")
    assert len(looked) == len(set(looked)) == 2  # the project's folder and the Keras cache, each named once
    assert not list((tmp_path / "repo" / "data" / "fashion_mnist").glob("*.part"))


def test_download_keeps_only_verified_files(nowhere, tmp_path, monkeypatch):
    """A mirror that serves an HTML page instead of the file leaves nothing that looks complete."""

    class Page:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b"<html>rate limited</html>"

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Page())
    with pytest.raises(data.DataError, match="HTML"):
        data.load("mnist", "train")
    assert list((tmp_path / "repo" / "data" / "mnist").iterdir()) == []


def test_system_folder_is_searched_after_the_project_folder(nowhere, tmp_path, monkeypatch):
    """Debian's dataset-fashion-mnist puts the files in /usr/share/datasets; a stand-in folder here.
    Both folders hold a data set, each with its own checksums: the project's must win while it is
    there (reading the system's first would fail its checksum), the system's serves once it is gone."""
    project, system = tmp_path / "repo" / "data" / "fashion_mnist", tmp_path / "usr-share"
    y = np.arange(5, dtype=np.uint8)
    sums = {}
    for folder, x in ((project, _images(5)), (system, 255 - _images(5))):
        folder.mkdir(parents=True)
        sums[folder] = {
            "train-images-idx3-ubyte": write_idx(folder / "train-images-idx3-ubyte.gz", x),
            "train-labels-idx1-ubyte": write_idx(folder / "train-labels-idx1-ubyte.gz", y),
        }

    def load_checked_against(folder):
        spec = dataclasses.replace(data.DATASETS["fashion_mnist"], system_dirs=(str(system),), sha256=sums[folder])
        monkeypatch.setitem(data.DATASETS, "fashion_mnist", spec)
        return data.load("fashion_mnist", "train")[0]

    np.testing.assert_array_equal(load_checked_against(project), _images(5))
    shutil.rmtree(project)
    np.testing.assert_array_equal(load_checked_against(system), 255 - _images(5))
    assert nowhere == []


def test_data_dir_that_is_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(data.DataError, match="is not a folder"):
            data.load("mnist", "train", data_dir=bad)
