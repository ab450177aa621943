"""The local target: ``score.py`` served by the real Azure ML inference server on 127.0.0.1.

The same server runs ``score.py`` inside the ACI container. Here it runs under gunicorn in its own
process group, with ``AZUREML_MODEL_DIR`` laid out as Azure does
(``.../azureml-models/<name>/<version>/sklearn_mnist_model.pkl``) and the entry script staged alone in
a folder with its service contract (the server reads any ``config.json`` beside it).
:class:`LocalWebservice` has the surface the tutorial uses on an ACI service; ``delete()`` stops the
whole process group and removes the staging folder, and so do the context manager, interpreter exit,
and the death of the Python process that started it (then the server removes the folder itself).
The server's process and its workers are :class:`~mnist_aci.local.server.ServerProcess`'s.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import requests

from .._progress import step
from ..errors import DeploymentError, ModelIntegrityError, ModelTypeError, ServiceCallError, TargetError
from ..score_script import CONTRACT_VERSION, resolve_entry_script
from ..scoring import JSON_TYPE, post_to_service
from ..service import startup_error
from ..tutorial import LOCAL_TIMEOUT_S, LOG_TAIL_LINES, MODEL_FILENAME, MODEL_NAME
from ..versions import check_versions, runtime_versions
from .server import (
    CLIENT_READ_TIMEOUT_S,
    HOST,
    ServerProcess,
    bind_port,
    new_stage_dir,
    stage_deployment,
)
from .store import LocalModel, sha256_of

log = logging.getLogger(__name__)

#: How often a blocking wait in the main thread looks for a Ctrl-C.
SIGNAL_CHECK_S = 0.5
LOCAL_NAME = "sklearn-mnist-local"
#: How long a lost connection waits for the server's exit to become visible before it is reported
#: as a lost connection: when the server dies, the client often sees the socket drop first.
SERVER_EXIT_GRACE_S = 5.0
#: A local service's states, as the SDK names an ACI service's.
ServiceState = Literal["Transitioning", "Healthy", "Failed", "Deleted"]

_live_services: weakref.WeakSet[LocalWebservice] = weakref.WeakSet()


class LocalWebservice:
    """A running (or starting) inference server, with the SDK's web service surface.

    Build it with :func:`deploy` (or :func:`start_local_service`); then ``wait_for_deployment()``,
    ``run()``, ``scoring_uri``, ``get_logs()``, ``state`` and ``delete()`` behave as on an ``AciWebservice``.
    """

    auth_enabled = False

    def __init__(
        self, name: str, server: ServerProcess, port: int, *, exit_grace_s: float = SERVER_EXIT_GRACE_S
    ) -> None:
        self.name = name
        self.port = port
        self.scoring_uri = f"http://{HOST}:{port}/score"
        self.state: ServiceState = "Transitioning"
        self.error: str | None = None
        self._server = server
        self._exit_grace_s = exit_grace_s
        self._final_log: str | None = None
        self._deleted = False
        _live_services.add(self)

    @property
    def pid(self) -> int:
        """Process id of the gunicorn master (also the id of the server's process group)."""
        return self._server.pid

    @property
    def stage_dir(self) -> Path:
        """The staging folder the server runs from (removed by ``delete()``)."""
        return self._server.stage_dir

    @property
    def liveness_uri(self) -> str:
        return f"http://{HOST}:{self.port}/"

    @property
    def swagger_uri(self) -> str:
        """The service's OpenAPI 3 contract (``swagger3.json`` staged beside ``score.py``)."""
        return f"http://{HOST}:{self.port}/swagger.json?version={CONTRACT_VERSION}"

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the server's log (still available after ``delete()``)."""
        text = self._final_log if self._final_log is not None else self._server.log_text()
        return "\n".join(text.splitlines()[-num_lines:])

    def _fail(self, reason: str, keep_failed: bool, *, timed_out: bool = False) -> DeploymentError:
        cause = startup_error(self.get_logs())
        advice = "Fix score.py or the model file (see the log above), then deploy again."
        if cause:
            reason = f"{reason}; score.py failed to load or init() raised {cause}"
        elif timed_out and self._server.exit_code() is None:  # alive, no error in its log: it needs more time
            reason = f"{reason}; its server was still starting (it has not stopped)"
            advice = f"Give it longer with timeout_sec=<seconds> (default: {LOCAL_TIMEOUT_S:g} s), then deploy again."
        self.state = "Failed"
        self.error = reason
        tail = self.get_logs(LOG_TAIL_LINES)
        if not keep_failed:
            self.delete()
            self.state = "Failed"  # deleted because it failed: keep saying why
        return DeploymentError(
            f"Local deployment {self.name!r} failed: {reason}.\n"
            f"--- last lines of the server log ---\n{tail}\n---\n{advice}"
        )

    def wait_for_deployment(
        self, show_output: bool = False, timeout_sec: float | None = None, *, keep_failed: bool = False
    ) -> None:
        """Wait until the server answers its liveness route; raise :class:`DeploymentError` if it exits (``init()``
        failed, port taken) or is not healthy within ``timeout_sec`` (default: ``tutorial.LOCAL_TIMEOUT_S``)."""
        timeout = LOCAL_TIMEOUT_S if timeout_sec is None else float(timeout_sec)
        if show_output:
            log.info("Starting local service %s on %s ...", self.name, self.scoring_uri)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if (code := self._server.exit_code()) is not None:
                    raise self._fail(f"the inference server exited with code {code} while starting", keep_failed)
                try:
                    if requests.get(self.liveness_uri, timeout=1.0).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise self._fail(f"not healthy after {timeout:g} s", keep_failed, timed_out=True)
                self._server.wait(timeout=0.2)
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

        A call that got no HTTP answer gives the server up to ``exit_grace_s`` (:data:`SERVER_EXIT_GRACE_S`) to
        be seen exiting: a killed server drops its connections before its exit can be observed.
        """
        if exc.status is not None:
            return None
        code = self._server.wait(timeout=self._exit_grace_s)
        if code is None:
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
            while self._server.wait(timeout=SIGNAL_CHECK_S) is None:
                pass
        finally:
            self.delete()

    def delete(self) -> None:
        """Stop the server's whole process group and remove its staging folder; idempotent."""
        if self._deleted:
            return
        self._final_log = self._server.stop()
        self._deleted = True
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
    client_read_timeout_s: float = CLIENT_READ_TIMEOUT_S,
    exit_grace_s: float = SERVER_EXIT_GRACE_S,
) -> LocalWebservice:
    """Stage ``entry_script`` and ``model_file`` and start the inference server on 127.0.0.1.

    Returns at once, like ``Model.deploy``; call ``wait_for_deployment()`` on the result. ``workers``
    scoring processes (each with :data:`THREADS_PER_WORKER` threads) serve it. With ``sha256``, the
    staged copy of the model must have that hash (what the server will load). A client that sends nothing
    for ``client_read_timeout_s`` in the middle of a request is cut off.
    """
    if os.name != "posix":
        raise DeploymentError("The local target runs gunicorn, which needs Linux or macOS (on Windows, use WSL).")
    if workers < 1:
        raise TargetError(f"The local target needs workers >= 1 (scoring worker processes), got {workers}.")
    listener = bind_port(port)
    port = int(listener.getsockname()[1])
    stage_dir = new_stage_dir(name)
    try:
        app_dir, model_dir = stage_deployment(
            stage_dir, Path(model_file), Path(entry_script), model_name, model_version
        )
        if sha256 is not None and sha256_of(model_dir / MODEL_FILENAME) != sha256:
            raise ModelIntegrityError(
                f"Refusing to serve {model_file}: its content does not match the registered SHA-256 {sha256}."
            )
        server = ServerProcess.start(
            stage_dir,
            app_dir,
            model_dir,
            name=name,
            listener=listener,
            workers=workers,
            client_read_timeout_s=client_read_timeout_s,
        )
    except BaseException:
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise
    finally:
        listener.close()  # the server listens on its own copy
    return LocalWebservice(name, server, port, exit_grace_s=exit_grace_s)


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
