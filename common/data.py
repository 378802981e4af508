"""MNIST and Fashion-MNIST from their IDX files, verified, with no network needed for MNIST.

Where the files are looked for, in order (the first place that has all four files is used, and if its
files are bad that is an error, not a reason to look elsewhere — a silent fallback would hide the fault):

1. `--data-dir`, when given (then only there);
2. the project's own `data/<dataset>/` (MNIST is shipped there; downloads land there too);
3. the system copy: Debian's `dataset-fashion-mnist` puts Fashion-MNIST in /usr/share/datasets;
4. Keras' cache (`~/.keras/datasets/mnist.npz`, `~/.keras/datasets/fashion-mnist/`);
5. a download from the mirrors below into `data/<dataset>/`.

Every file is checked: gzip or raw is told by its first bytes (so an HTML error page saved as `.gz` is
named as such), then the IDX magic, shape and length, then the SHA-256 of the uncompressed bytes. Any
fault is a `DataError` whose message names the file and the fix, and the scripts print it as one line.
"""

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UsageError

REPO_DIR = Path(__file__).resolve().parent.parent
KERAS_DIR = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


class DataError(UsageError):
    """A dataset file is missing or wrong; the message is one line with the fix (exit code 2)."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    sha256: dict  # uncompressed IDX file name -> SHA-256 of its bytes
    mirrors: tuple
    system_dirs: tuple = ()
    keras_npz: str = ""  # file in Keras' cache holding all four arrays
    keras_dir: str = ""  # folder in Keras' cache holding the four .gz files
    install_hint: str = ""


FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

DATASETS = {
    "mnist": DatasetSpec(
        name="mnist",
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        keras_npz="mnist.npz",
    ),
    # Hashes of the uncompressed files of Debian's dataset-fashion-mnist (upstream commit 55506a9);
    # Debian recompressed the .gz files, so only the uncompressed bytes can be compared with upstream.
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        keras_dir="fashion-mnist",
        install_hint="apt-get install dataset-fashion-mnist",
    ),
}

IMAGE_SHAPE = (28, 28)
_IDX_NDIM = {"images": 3, "labels": 1}
_GZIP_MAGIC = b"\x1f\x8b"


def _kind(file_name):
    return "images" if "images" in file_name else "labels"


def _describe_junk(head):
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"<head")):
        return "an HTML/XML page (a failed download saved as data?)"
    if not head:
        return "empty"
    return f"neither gzip nor IDX (starts with {head[:8]!r})"


def decode_idx(raw, file_name, path, expected_sha256=None):
    """Check and decode the uncompressed bytes of one IDX file; `path` is only for messages."""
    fix = f"delete {path} and run again, or copy a good {file_name} there"
    kind = _kind(file_name)
    ndim = _IDX_NDIM[kind]
    if len(raw) < 4 or raw[0:2] != b"\x00\x00":
        raise DataError(f"{path}: not an IDX file: {_describe_junk(raw[:64])}; {fix}")
    dtype_code, got_ndim = raw[2], raw[3]
    if dtype_code != 0x08 or got_ndim != ndim:
        raise DataError(
            f"{path}: wrong IDX magic 0x{raw[:4].hex()} (want 0x0000080{ndim}: uint8 {kind} with {ndim} "
            f"dimension{'s' if ndim > 1 else ''}); {fix}"
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes); {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    if kind == "images" and tuple(dims[1:]) != IMAGE_SHAPE:
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28; {fix}")
    expected_len = header_len + int(np.prod(dims))
    if len(raw) != expected_len:
        raise DataError(
            f"{path}: {len(raw)} bytes but its header promises {expected_len} ({dims[0]} {kind}): truncated or padded; {fix}"
        )
    if expected_sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != expected_sha256:
            raise DataError(
                f"{path}: checksum mismatch (SHA-256 of the uncompressed bytes is {digest[:12]}…, "
                f"expected {expected_sha256[:12]}…): not the canonical file; {fix}"
            )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)


def read_idx(path, expected_sha256=None, file_name=None):
    """Read one IDX file, gzip-compressed or raw (told by its first bytes, not by its name)."""
    path = Path(path)
    file_name = file_name or path.name.removesuffix(".gz")
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror}); check the path and its permissions") from None
    if blob[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(blob)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path}: broken gzip ({e}): truncated or corrupt download; delete it and run again") from None
    else:
        raw = blob
        if path.name.endswith(".gz") and raw[:2] != b"\x00\x00":
            raise DataError(f"{path}: not gzip: {_describe_junk(raw[:64])}; delete it and run again")
    return decode_idx(raw, file_name, path, expected_sha256)


def _find_file(folder, file_name):
    for candidate in (folder / f"{file_name}.gz", folder / file_name):
        if candidate.exists():
            return candidate
    return None


def _check_pair(images, labels, where):
    if len(images) != len(labels):
        raise DataError(
            f"{where}: {len(images)} images but {len(labels)} labels; the two files are from different "
            "sets — replace them with a matching pair"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{where}: label {labels.max()} outside 0–9; replace the labels file")


def load_folder(folder, split, sha256=None):
    """(images, labels) of one split from a folder of IDX files; `sha256` maps file names to hashes
    (None: do not compare, for data a test or a user made)."""
    folder = Path(folder)
    pair = []
    for file_name in FILES[split]:
        path = _find_file(folder, file_name)
        if path is None:
            raise DataError(f"{folder}: no {file_name} (.gz or raw); copy the four IDX files of the dataset there")
        if not path.is_file():  # a FIFO would block the read forever, a folder fail with a traceback
            raise DataError(f"{path} is not a regular file; replace it with the IDX file of that name")
        pair.append(read_idx(path, None if sha256 is None else sha256[file_name]))
    _check_pair(*pair, where=folder)
    return tuple(pair)


def idx_bytes(array):
    """The IDX encoding of a uint8 array: magic 0x08 + ndim, big-endian dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(f">I{array.ndim}I", 0x0800 + array.ndim, *array.shape) + array.tobytes()


def load_keras_npz(path, split, sha256=None):
    """Keras' `mnist.npz` holds the same arrays as the IDX files; they are checked by hashing the IDX
    bytes they stand for."""
    keys = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}[split]
    try:
        with np.load(path) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise DataError(
                    f"{path}: no array {', '.join(missing)} (has {', '.join(npz.files) or 'none'}): not "
                    "Keras' mnist.npz; delete it or pass --data-dir"
                )
            arrays = [np.ascontiguousarray(npz[k], dtype=np.uint8) for k in keys]
    except (OSError, ValueError, zlib.error) as e:
        raise DataError(f"{path}: unreadable .npz ({e}); delete it or pass --data-dir") from None
    for array, file_name in zip(arrays, FILES[split], strict=True):
        if sha256 is not None:
            decode_idx(idx_bytes(array), file_name, path, sha256[file_name])
    _check_pair(*arrays, where=path)
    return tuple(arrays)


def _download(spec, folder):
    """Fetch the four .gz files into `folder`; each is verified before it takes its final name, so an
    interrupted or wrong download never leaves a file that looks complete."""
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for file_name in FILES["train"] + FILES["test"]:
        target = folder / f"{file_name}.gz"
        if target.exists():
            continue
        for mirror in spec.mirrors:
            partial = folder / f"{target.name}.part"
            try:
                import urllib.request  # only when downloading (~0.1 s of imports)

                with urllib.request.urlopen(mirror + target.name, timeout=30) as response:
                    partial.write_bytes(response.read())
                read_idx(partial, spec.sha256[file_name], file_name=file_name)
                partial.replace(target)
                break
            except (OSError, DataError) as e:
                failures.append(f"{mirror}: {e}")
                partial.unlink(missing_ok=True)
        else:
            return failures
    return []


def load(dataset, split="train", data_dir=None):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of `split`, from the first place that has them."""
    spec = DATASETS[dataset]
    if data_dir is not None:
        if not Path(data_dir).is_dir():
            raise DataError(f"--data-dir {data_dir} is not a folder; point it at the folder holding the four IDX files")
        return load_folder(data_dir, split, spec.sha256)
    home = REPO_DIR / "data" / dataset
    looked = []
    for folder in (home, *map(Path, spec.system_dirs)):
        if all(_find_file(folder, f) for f in FILES[split]):
            return load_folder(folder, split, spec.sha256)
        looked.append(str(folder))
    if spec.keras_npz and (KERAS_DIR / spec.keras_npz).exists():
        return load_keras_npz(KERAS_DIR / spec.keras_npz, split, spec.sha256)
    if spec.keras_dir:
        folder = KERAS_DIR / spec.keras_dir
        if all(_find_file(folder, f) for f in FILES[split]):
            return load_folder(folder, split, spec.sha256)
    looked.append(str(KERAS_DIR))
    failures = _download(spec, home)
    if not failures:
        return load_folder(home, split, spec.sha256)
    hint = f" or `{spec.install_hint}`" if spec.install_hint else ""
    raise DataError(
        f"{dataset} not found (looked in {', '.join(looked)}) and the download failed ({failures[-1]}); "
        f"copy the four IDX files into {home}{hint}, or pass --data-dir"
    )


def to_unit_range(images):
    """uint8 [N, 28, 28] -> float32 [N, 28, 28, 1] in [-1, 1], the range of the generators' tanh: (x / 127.5) − 1,
    in place in one float32 array (the training set's is 190 MB: the arithmetic made three)."""
    out = np.asarray(images).astype(np.float32)[..., None]
    out /= 127.5
    out -= 1.0
    return out
