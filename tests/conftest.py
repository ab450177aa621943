"""Shared fixtures: small real models, the real local inference server, full MNIST when available."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sklearn.linear_model  # noqa: F401  # its first import runs lscpu (numpy.testing): at collection, not in a test
from standin import AzureStandIn, running_standin
from standin.azureml_v1 import WorkspaceV1
from standin.azureml_v1_manage import ServiceManagement
from standin.azureml_v1_services import WebservicesV1
from standin.azureml_v2 import WorkspaceV2
from standin.environments import EnvironmentBuilds, locked
from support.azure import AzureV1
from support.lanes import install_audit_hook, lanes_of, left_out_of_unit_lane, mark_from_fixtures, watching
from support.processes import ADOPTS_ORPHANS, adopt_orphans, note_current_lanes, restore_ctrl_c
from support.project import ROOT, SCORE_PY
from support.workers import group_costly_fixtures, shared_temp

from mnist_aci.data import Dataset, load_mnist, load_sample
from mnist_aci.local.service import LocalWebservice, start_local_service
from mnist_aci.training import load_model, save_model, train_model
from mnist_aci.versions import UV_ENV

if TYPE_CHECKING:
    from sklearn.multiclass import OneVsRestClassifier

if ADOPTS_ORPHANS:
    adopt_orphans()
restore_ctrl_c()
install_audit_hook()
# The resolver of the cloud environments' pins (mnist_aci.versions): the uv the Makefile installs when none is on PATH.
if not shutil.which("uv") and (ROOT / ".tools" / "bin" / "uv").is_file():
    os.environ.setdefault(UV_ENV, str(ROOT / ".tools" / "bin" / "uv"))
# ... with this machine's package cache, also under the stand-in's own HOME.
os.environ.setdefault("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Generator[None, object, object]:
    made = yield
    return [] if made is not None and left_out_of_unit_lane(collector, obj) else made


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_from_fixtures(items)
    group_costly_fixtures(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    note_current_lanes(lanes_of(item))
    with watching(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with watching(item):
        return (yield)


@pytest.fixture(scope="session")
def sample_data() -> Dataset:
    return load_sample()


@pytest.fixture(scope="session")
def small_model(sample_data: Dataset) -> OneVsRestClassifier:
    return train_model(sample_data.x_train[:2000], sample_data.y_train[:2000])


@pytest.fixture(scope="session")
def small_model_file(small_model: OneVsRestClassifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(small_model, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def live_service(small_model_file: Path) -> Iterator[LocalWebservice]:
    """The real inference server with score.py and the small model, on 127.0.0.1."""
    service = start_local_service(small_model_file, SCORE_PY, name="test-live")
    try:
        service.wait_for_deployment(timeout_sec=120)
        yield service
    finally:
        service.delete()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = os.environ.get("MNIST_DATA_DIR")
    if not folder:
        pytest.skip("full MNIST not available: set MNIST_DATA_DIR to the folder of the four MNIST files")
    return Path(folder)


@pytest.fixture(scope="session")
def full_data(mnist_dir: Path) -> Dataset:
    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def full_model_file(full_data: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial's model trained on the 60,000 MNIST training images (about 35-80 s), saved: trained once
    per test run, by the first worker that needs it; the others wait for it and load it."""
    folder = shared_temp(tmp_path_factory) / "full-model"
    with locked(shared_temp(tmp_path_factory) / "full-model.lock"):
        saved = next(folder.glob("*.pkl"), None)
        if saved is None:
            saved = save_model(train_model(full_data.x_train, full_data.y_train), folder)
    return saved


@pytest.fixture(scope="session")
def full_model(full_model_file: Path) -> OneVsRestClassifier:
    """The full model (:func:`full_model_file`), loaded."""
    return load_model(full_model_file)


@pytest.fixture(scope="session")
def environment_builds(tmp_path_factory: pytest.TempPathFactory) -> EnvironmentBuilds:
    """The Azure stand-in's image builds: one venv per distinct environment, shared by every worker of the run."""
    return EnvironmentBuilds(shared_temp(tmp_path_factory) / "environment-builds")


@pytest.fixture(scope="session")
def standin_session(
    tmp_path_factory: pytest.TempPathFactory, environment_builds: EnvironmentBuilds
) -> Iterator[AzureStandIn]:
    """The Azure stand-in (proxy, server, tenant), started once per test worker."""
    with running_standin(tmp_path_factory.mktemp("azure-standin"), environment_builds) as standin:
        yield standin


@pytest.fixture
def azure_standin(standin_session: AzureStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureStandIn]:
    """The stand-in, with no calls, faults or containers left from other tests, and its environment set in
    this process (subprocesses the test starts inherit it): the SDKs reach it instead of Azure. A test that sent a
    request no route answers fails (a test that sends one on purpose clears ``server.unknown`` once it checked it)."""
    standin_session.reset()
    standin_session.server.take_unknown()
    for name, value in standin_session.environment().items():
        monkeypatch.setenv(name, value)
    for name in ("MSI_ENDPOINT", "IDENTITY_ENDPOINT"):  # a managed identity would be tried before the principal
        monkeypatch.delenv(name, raising=False)
    yield standin_session
    standin_session.reset()
    unanswered = [str(call) for call in standin_session.server.take_unknown()]
    assert not unanswered, f"requests the stand-in has no route for (model them, or say why sent): {unanswered}"


@pytest.fixture(scope="session")
def v1_session(standin_session: AzureStandIn) -> tuple[WorkspaceV1, WebservicesV1]:
    workspace = WorkspaceV1(registry=standin_session.environments)
    workspace.install(standin_session.server, standin_session.entra)
    services = WebservicesV1(standin_session, workspace)
    services.install()
    ServiceManagement(services).install()
    return workspace, services


@pytest.fixture
def azure_v1(
    azure_standin: AzureStandIn, v1_session: tuple[WorkspaceV1, WebservicesV1], tmp_path: Path
) -> Iterator[AzureV1]:
    """An empty SDK v1 workspace behind the stand-in, with its ``config.json`` in ``tmp_path``."""
    workspace, services = v1_session
    workspace.reset()
    services.reset()
    config = tmp_path / "config.json"
    config.write_text(json.dumps(workspace.config()), encoding="utf-8")
    yield AzureV1(azure_standin, workspace, services, config)
    services.reset()
    workspace.reset()


@pytest.fixture(scope="session")
def workspace_v2_session(standin_session: AzureStandIn) -> WorkspaceV2:
    """The SDK v2 workspace of the stand-in (management API, blob storage, scoring hosts), installed once."""
    workspace = WorkspaceV2(standin_session)
    workspace.install(standin_session.server)
    return workspace


@pytest.fixture
def workspace_v2(azure_standin: AzureStandIn, workspace_v2_session: WorkspaceV2) -> Iterator[WorkspaceV2]:
    """The SDK v2 workspace, empty, with the stand-in's environment set (see ``azure_standin``)."""
    workspace_v2_session.reset()
    yield workspace_v2_session
    workspace_v2_session.reset()
