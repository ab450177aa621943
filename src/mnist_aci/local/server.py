"""The inference server's process: gunicorn in its own process group, its staging folder, log and watchdog.

The server runs ``score.py`` from a staging folder laid out as Azure does (the app folder, and the model under
``azureml-models/<name>/<version>/``). :class:`ServerProcess` starts it, tells whether it still runs, and stops
its whole process group and removes the folder. A pipe's write end stays with the Python process that started
it: when that process dies, the server sees the pipe close, stops and removes the folder itself.

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

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import DeploymentError, PortInUseError
from ..score_script import stage_scoring_folder
from ..tutorial import KEY_ENV, MODEL_FILENAME
from ._gunicorn_config import HIDDEN_MODULES_ENV, READ_TIMEOUT_ENV, STAGE_DIR_ENV, WATCHDOG_FD_ENV

HOST = "127.0.0.1"
SERVER_APP = "azureml_inference_server_http.server.entry:app"
STOP_TIMEOUT_S = 10.0
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


class ServerProcess:
    """A running inference server: its process group, staging folder, log file and watchdog pipe."""

    def __init__(self, process: subprocess.Popen[bytes], stage_dir: Path, watchdog_fd: int) -> None:
        self._process = process
        self.stage_dir = stage_dir
        self.log_path = stage_dir / "server.log"
        self._watchdog_fd: int | None = watchdog_fd

    @classmethod
    def start(
        cls,
        stage_dir: Path,
        app_dir: Path,
        model_dir: Path,
        *,
        name: str,
        listener: socket.socket,
        workers: int,
        client_read_timeout_s: float = CLIENT_READ_TIMEOUT_S,
    ) -> ServerProcess:
        """Start gunicorn listening on ``listener`` (:func:`bind_port`; the caller closes its copy) and serving
        ``app_dir``'s score.py with the model of ``model_dir``."""
        read_end, write_end = os.pipe()
        try:
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
                    READ_TIMEOUT_ENV: str(client_read_timeout_s),
                },
            )
            with open(stage_dir / "server.log", "wb") as log:
                process = subprocess.Popen(
                    gunicorn_command(listener.fileno(), workers),
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
            raise
        finally:
            os.close(read_end)
        os.set_inheritable(write_end, False)
        return cls(process, stage_dir, write_end)

    @property
    def pid(self) -> int:
        """Process id of the gunicorn master (also the id of the server's process group)."""
        return self._process.pid

    def exit_code(self) -> int | None:
        """The server's exit code, or None while it runs."""
        return self._process.poll()

    def wait(self, timeout: float) -> int | None:
        """Wait at most ``timeout`` seconds for the server to exit: its exit code, or None if it still runs."""
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self) -> str:
        """The server's whole log so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.is_file() else ""

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> str:
        """Stop the whole process group (SIGTERM, then SIGKILL after ``timeout``), remove the staging folder;
        returns the server's log."""
        self._signal_group(signal.SIGTERM)
        if self.wait(timeout) is None:
            self._signal_group(signal.SIGKILL)
            self._process.wait()
        self._signal_group(signal.SIGKILL)  # workers orphaned by a master that died first
        if self._watchdog_fd is not None:
            os.close(self._watchdog_fd)
            self._watchdog_fd = None
        text = self.log_text()
        shutil.rmtree(self.stage_dir, ignore_errors=True)
        return text


def gunicorn_command(listener_fd: int, workers: int) -> list[str]:
    """The server's command line: gunicorn's threaded workers running the inference server's app, listening
    on the bound socket it inherits as ``listener_fd``."""
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:mnist_aci.local._gunicorn_config",
        "--bind", f"fd://{listener_fd}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(THREADS_PER_WORKER),
        "--timeout", str(WORKER_TIMEOUT_S),
        "--graceful-timeout", "5",
        "--error-logfile", "-",
        SERVER_APP,
    ]  # fmt: skip


def new_stage_dir(name: str) -> Path:
    """A new staging folder for the server called ``name``."""
    return Path(tempfile.mkdtemp(prefix=f"mnist-aci-{name}-"))
