"""The local target: ``score.py`` served by the real Azure ML inference server on 127.0.0.1.

The same server runs ``score.py`` inside the ACI container. Here it runs under gunicorn in its own
process group, with ``AZUREML_MODEL_DIR`` laid out as Azure does
(``.../azureml-models/<name>/<version>/sklearn_mnist_model.pkl``) and the entry script staged alone in
a folder with its service contract (the server reads any ``config.json`` beside it).
:class:`LocalWebservice` has the surface the tutorial uses on an ACI service; ``delete()`` stops the
whole process group and removes the staging folder, and so do the context manager, interpreter exit,
and the death of the Python process that started it (then the server removes the folder itself).

Each worker is gunicorn's threaded worker with :data:`THREADS_PER_WORKER` threads, and every client
connection has a receive timeout of :data:`CLIENT_READ_TIMEOUT_S` seconds: a client that stops sending
in the middle of a request holds one thread, and only until that timeout, as the nginx front of an ACI
container (which buffers each request before it reaches the one sync worker) holds a stalled client only
until its ``client_body_timeout`` of 60 s. Up to ``THREADS_PER_WORKER - 1`` stalled clients per worker
leave the others served at once; beyond that, a request waits for the oldest stall's timeout.

Each worker is kept lean: it leaves out :data:`WORKER_HIDDEN_MODULES` (pandas and pyarrow, which
scikit-learn imports when installed but a worker never uses: 69 MB; ``MNIST_ACI_HIDDEN_MODULES`` set in
the environment overrides the list, empty for none), and :data:`WORKER_ENV_DEFAULTS` apply unless the
environment sets them: one glibc malloc arena (with one per thread, each of the 4 threads kept the freed
buffers of its last request, 6 MB for 1,000 images, and the worker's peak grew with every thread used)
and one OpenBLAS thread per BLAS call (the model's products are 1,000 x 784 by 784 x 1 at most: extra
BLAS threads only spun, 21,000 ``sched_yield`` calls and 70% of the worker's CPU time for 30
requests, and took the cores the request threads and the clients need).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from ._gunicorn_config import HIDDEN_MODULES_ENV, READ_TIMEOUT_ENV, STAGE_DIR_ENV, WATCHDOG_FD_ENV
from ._progress import step
from .errors import (
    DeploymentError,
    ModelIntegrityError,
    ModelTypeError,
    PortInUseError,
    ServiceCallError,
    TargetError,
)
from .model_store import LocalModel, sha256_of
from .score_script import CONTRACT_VERSION, resolve_entry_script, stage_scoring_folder
from .scoring import JSON_TYPE, post_to_service
from .service import startup_error
from .tutorial import KEY_ENV, LOG_TAIL_LINES, MODEL_FILENAME, MODEL_NAME
from .versions import check_versions, runtime_versions

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
SERVER_APP = "azureml_inference_server_http.server.entry:app"
DEFAULT_STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
#: How often a blocking wait in the main thread looks for a Ctrl-C.
SIGNAL_CHECK_S = 0.5
LOCAL_NAME = "sklearn-mnist-local"
#: How long a lost connection waits for the server's exit to become visible before it is reported
#: as a lost connection: when the server dies, the client often sees the socket drop first.
SERVER_EXIT_GRACE_S = 5.0
#: The worker timeout gunicorn enforces on one request (the server's own default is 300 s).
WORKER_TIMEOUT_S = 300
#: Threads of each worker: a stalled client holds one of them until :data:`CLIENT_READ_TIMEOUT_S`.
THREADS_PER_WORKER = 4
#: How long a connection may send nothing in the middle of a request before it is closed
#: (nginx's default ``client_header_timeout`` and ``client_body_timeout``, as in front of ACI).
CLIENT_READ_TIMEOUT_S = 60.0
#: Installed packages a scoring worker leaves out (an import of them fails, saying why).
WORKER_HIDDEN_MODULES = ("pandas", "pyarrow")
#: The worker environment's defaults (a variable already set in the environment wins): one glibc malloc
#: arena (by default one per thread, up to 8 per core) and one OpenBLAS thread (by default one per core).
WORKER_ENV_DEFAULTS = {"MALLOC_ARENA_MAX": "1", "OPENBLAS_NUM_THREADS": "1"}


_live_services: weakref.WeakSet[LocalWebservice] = weakref.WeakSet()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def bind_port(port: int | None) -> socket.socket:
    """A socket bound to ``port`` on 127.0.0.1 (``None``: a free one the system picks), for the server to
    listen on: held from the choice to the server's start, the port cannot be taken in between.
    Raise :class:`PortInUseError` if ``port`` is taken."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, port or 0))
    except OSError as exc:
        listener.close()
        raise PortInUseError(
            f"Port {port} on {HOST} is already in use ({exc.strerror}). Stop what listens there, "
            "choose another port, or leave the port out to pick a free one."
        ) from exc
    return listener


def stage_deployment(
    root: Path, model_file: Path, entry_script: Path, model_name: str, model_version: int
) -> tuple[Path, Path]:
    """Lay out the app folder (:func:`~mnist_aci.score_script.stage_scoring_folder`) and the Azure-style
    model folder under ``root``."""
    if not model_file.is_file():
        raise DeploymentError(f"Model file {model_file} does not exist. Train or register a model first.")
    app_dir = stage_scoring_folder(entry_script, root / "app")
    model_dir = root / "azureml-models" / model_name / str(model_version)
    model_dir.mkdir(parents=True)
    shutil.copyfile(model_file, model_dir / MODEL_FILENAME)
    return app_dir, model_dir


class LocalWebservice:
    """A running (or starting) inference server, with the SDK's web service surface.

    Build it with :func:`deploy` (or :func:`start_local_service`); then ``wait_for_deployment()``,
    ``run()``, ``scoring_uri``, ``get_logs()``, ``state`` and ``delete()`` behave as on an ``AciWebservice``.
    """

    auth_enabled = False

    def __init__(
        self, name: str, stage_dir: Path, process: subprocess.Popen[bytes], port: int, watchdog_fd: int
    ) -> None:
        self.name = name
        self.port = port
        self.scoring_uri = f"http://{HOST}:{port}/score"
        self.state = "Transitioning"
        self.error: str | None = None
        self._stage_dir = stage_dir
        self._log_path = stage_dir / "server.log"
        self._process = process
        self._final_log: str | None = None
        self._watchdog_fd: int | None = watchdog_fd
        self._stopped = False
        _live_services.add(self)

    @property
    def pid(self) -> int:
        """Process id of the gunicorn master (also the id of the server's process group)."""
        return self._process.pid

    @property
    def liveness_uri(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def swagger_uri(self) -> str:
        """The service's OpenAPI 3 contract (``swagger3.json`` staged beside ``score.py``)."""
        return f"http://{HOST}:{self.port}/swagger.json?version={CONTRACT_VERSION}"

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the server's log (still available after ``delete()``)."""
        if self._final_log is not None:
            text = self._final_log
        elif self._log_path.is_file():
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        else:
            text = ""
        return "\n".join(text.splitlines()[-num_lines:])

    def _fail(self, reason: str, keep_failed: bool) -> DeploymentError:
        cause = startup_error(self.get_logs())
        if cause:
            reason = f"{reason}; score.py failed to load or init() raised {cause}"
        self.state = "Failed"
        self.error = reason
        tail = self.get_logs(LOG_TAIL_LINES)
        if not keep_failed:
            self.delete()
            self.state = "Failed"  # deleted because it failed: keep saying why
        return DeploymentError(
            f"Local deployment {self.name!r} failed: {reason}.\n"
            f"--- last lines of the server log ---\n{tail}\n---\n"
            "Fix score.py or the model file (see the log above), then deploy again."
        )

    def wait_for_deployment(
        self, show_output: bool = False, timeout_sec: float | None = None, *, keep_failed: bool = False
    ) -> None:
        """Wait until the server answers its liveness route; raise :class:`DeploymentError` if it
        exits (``init()`` failed, port taken) or is not healthy within ``timeout_sec``."""
        timeout = DEFAULT_STARTUP_TIMEOUT_S if timeout_sec is None else float(timeout_sec)
        if show_output:
            log.info("Starting local service %s on %s ...", self.name, self.scoring_uri)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._process.poll() is not None:
                    raise self._fail(
                        f"the inference server exited with code {self._process.returncode} while starting",
                        keep_failed,
                    )
                try:
                    if requests.get(self.liveness_uri, timeout=1.0).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise self._fail(f"not healthy after {timeout:g} s", keep_failed)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=0.2)
        except KeyboardInterrupt:
            self.delete()
            raise
        self.state = "Healthy"
        if show_output:
            log.info('Local service creation operation finished, operation "Succeeded" (%s)', self.scoring_uri)

    def get_keys(self) -> tuple[None, None]:
        """A local service has no keys (``auth_enabled`` is False), as an ACI service without auth."""
        return None, None

    def run(self, input_data: str | bytes) -> Any:
        """POST the tutorial's JSON body, as ``AciWebservice.run(input_data)`` does; return the answer."""
        return post_to_service(self, input_data, JSON_TYPE)

    def stopped_error(self, exc: ServiceCallError) -> ServiceCallError | None:
        """The precise error for a failed call when the server itself has stopped, else None.

        A call that got no HTTP answer gives the server up to :data:`SERVER_EXIT_GRACE_S` to be
        seen exiting: a killed server drops its connections before its exit can be observed.
        """
        if exc.status is not None:
            return None
        try:
            code = self._process.wait(timeout=SERVER_EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            return None
        self.state = "Failed"
        return ServiceCallError(
            f"Local service {self.name!r} stopped (server exit code {code}). "
            f"Last log lines:\n{self.get_logs(LOG_TAIL_LINES)}\nDeploy it again.",
            status=exc.status,
            body=exc.body,
        )

    def serve_until_stopped(self) -> None:
        """Block while the server runs; Ctrl-C deletes the service.

        The wait is in short steps: a Ctrl-C that the kernel hands to another thread (joblib leaves
        some behind after training) only sets a flag, which a single blocking ``waitpid`` never sees.
        """
        try:
            while self._process.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=SIGNAL_CHECK_S)
        finally:
            self.delete()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def delete(self) -> None:
        """Stop the server's whole process group and remove its staging folder; idempotent."""
        if self._stopped:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._process.wait()
        self._signal_group(signal.SIGKILL)  # workers orphaned by a master that died first
        if self._watchdog_fd is not None:
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        if self._final_log is None:
            self._final_log = self.get_logs()
        shutil.rmtree(self._stage_dir, ignore_errors=True)
        self._stopped = True
        self.state = "Deleted"
        _live_services.discard(self)

    def __enter__(self) -> LocalWebservice:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()

    def __repr__(self) -> str:
        return f"LocalWebservice(name={self.name!r}, scoring_uri={self.scoring_uri!r}, state={self.state!r})"


def start_local_service(
    model_file: str | Path,
    entry_script: str | Path = "score.py",
    *,
    name: str = LOCAL_NAME,
    model_name: str = MODEL_NAME,
    model_version: int = 1,
    port: int | None = None,
    workers: int = 1,
    sha256: str | None = None,
) -> LocalWebservice:
    """Stage ``entry_script`` and ``model_file`` and start the inference server on 127.0.0.1.

    Returns at once, like ``Model.deploy``; call ``wait_for_deployment()`` on the result. ``workers``
    scoring processes (each with :data:`THREADS_PER_WORKER` threads) serve it. With ``sha256``, the
    staged copy of the model must have that hash (what the server will load).
    """
    if os.name != "posix":
        raise DeploymentError("The local target runs gunicorn, which needs Linux or macOS (on Windows, use WSL).")
    if workers < 1:
        raise TargetError(f"The local target needs workers >= 1 (scoring worker processes), got {workers}.")
    listener = bind_port(port)
    port = int(listener.getsockname()[1])
    stage_dir = Path(tempfile.mkdtemp(prefix=f"mnist-aci-{name}-"))
    read_end, write_end = os.pipe()
    try:
        app_dir, model_dir = stage_deployment(
            stage_dir, Path(model_file), Path(entry_script), model_name, model_version
        )
        if sha256 is not None and sha256_of(model_dir / MODEL_FILENAME) != sha256:
            raise ModelIntegrityError(
                f"Refusing to serve {model_file}: its content does not match the registered SHA-256 {sha256}."
            )
        env = {key: value for key, value in os.environ.items() if key != KEY_ENV}
        env.setdefault(HIDDEN_MODULES_ENV, ",".join(WORKER_HIDDEN_MODULES))
        env = {**WORKER_ENV_DEFAULTS, **env}
        env.update(
            AML_APP_ROOT=str(app_dir),
            AZUREML_ENTRY_SCRIPT="score.py",
            AZUREML_MODEL_DIR=str(model_dir),
            SERVICE_NAME=name,
            PYTHONUNBUFFERED="1",
            **{
                WATCHDOG_FD_ENV: str(read_end),
                STAGE_DIR_ENV: str(stage_dir),
                READ_TIMEOUT_ENV: str(CLIENT_READ_TIMEOUT_S),
            },
        )
        command = [
            sys.executable, "-m", "gunicorn",
            "--config", "python:mnist_aci._gunicorn_config",
            "--bind", f"fd://{listener.fileno()}",
            "--workers", str(workers),
            "--worker-class", "gthread",
            "--threads", str(THREADS_PER_WORKER),
            "--timeout", str(WORKER_TIMEOUT_S),
            "--graceful-timeout", "5",
            "--error-logfile", "-",
            SERVER_APP,
        ]  # fmt: skip
        with open(stage_dir / "server.log", "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=app_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(read_end, listener.fileno()),
            )
    except BaseException:
        os.close(write_end)
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise
    finally:
        os.close(read_end)
        listener.close()  # the server listens on its own copy
    os.set_inheritable(write_end, False)
    return LocalWebservice(name, stage_dir, process, port, write_end)


def deploy(
    model: LocalModel,
    entry_script: str | Path | None = None,
    *,
    port: int | None = None,
    workers: int = 1,
    timeout_sec: float | None = None,
    keep_failed: bool = False,
) -> LocalWebservice:
    """The local target: verify a model of the local store (SHA-256, versions), serve it on
    127.0.0.1 and wait until it is healthy."""
    if not isinstance(model, LocalModel):
        raise ModelTypeError(
            f"The local target deploys a model of the local store (LocalModelStore.get()), not {type(model).__name__}."
        )
    model.verify()
    check_versions(model.properties or None, runtime_versions(), "this Python environment")
    with step("Deploying on the local inference server (127.0.0.1)"):
        service = start_local_service(
            model.path,
            resolve_entry_script(entry_script),
            name=f"{model.name.replace('_', '-')}-local",
            model_name=model.name,
            model_version=model.version,
            port=port,
            workers=workers,
            sha256=model.sha256,
        )
        service.wait_for_deployment(show_output=True, timeout_sec=timeout_sec, keep_failed=keep_failed)
    return service


@atexit.register
def _delete_live_services() -> None:
    for service in list(_live_services):
        service.delete()
