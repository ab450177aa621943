"""A deployment's container, run on this machine: the real inference server started as the image starts it.

Azure ML's inference images start ``azmlinfsrv --entry_script $AZUREML_ENTRY_SCRIPT`` from the app root
(``/var/azureml-app``, also ``AML_APP_ROOT``), with ``AZUREML_MODEL_DIR`` and the deployment's environment
variables set, in the environment built into the image. The stand-in builds that app root as a local folder from
what the SDK uploaded and runs the same command from it, with the Python of the deployment's environment build
(:mod:`.environments`; never the tests' own), and one change: the server listens on 127.0.0.1, not 0.0.0.0.

Whether an Azure container's app root is writable is not documented (Microsoft's v1 and v2 deployment docs, and the
inference server's source, are silent): a container is started with a writable app root, or, when the stand-in's
``read_only_app_root`` is set, with a read-only one (:func:`read_only`), to run the flows both ways.

A container never outlives the test run that started it: it inherits the read end of a pipe whose write end
only this process holds, and stops its process group when the pipe closes, whichever way this process ends.

Deployments of the same files with the same settings are served by one server (:class:`ContainerPool`): a
deployment holds a :class:`Lease` on a container, and a container whose deployment is gone waits, idle, for
the next deployment with the same :func:`fingerprint` (most tests deploy the same ``score.py``, model and
environment).
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

#: ``azmlinfsrv`` itself (its ``run()``, which parses the same arguments), bound to 127.0.0.1, and stopping
#: its process group when the watchdog pipe (fd in ``STANDIN_WATCHDOG_FD``) reaches end-of-file.
LAUNCHER = """
import os, signal, sys, threading
fd = int(os.environ.pop("STANDIN_WATCHDOG_FD"))
def watch():
    while os.read(fd, 1):
        pass
    os.killpg(0, signal.SIGTERM)
threading.Thread(target=watch, daemon=True).start()
import azureml_inference_server_http.constants as constants
constants.DEFAULT_HOST = "127.0.0.1"
from azureml_inference_server_http.amlserver import run
sys.argv[0] = "azmlinfsrv"
run()
"""
#: What a container keeps of this machine's environment: no proxy, no Azure sign-in, no test settings.
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
STOP_TIMEOUT_S = 15.0
#: Idle containers kept for reuse (about 170 MB each); the oldest is stopped beyond that.
IDLE_LIMIT = 3


def reserved_port() -> int:
    """A free port on 127.0.0.1, left in TIME_WAIT: the system gives it to no other ``bind`` to port 0 (another
    test worker's) for a minute, while the server, which binds with ``SO_REUSEADDR`` as gunicorn does, can."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            accepted.close()  # this side closes first: the TIME_WAIT is on the listener's port
            client.recv(1)
        return int(listener.getsockname()[1])


def read_only(app_root: Path, command: list[str]) -> list[str]:
    """``command`` run with ``app_root`` read-only: as root, whom file modes do not stop, in a mount namespace of its
    own where the app root is a read-only bind mount (util-linux ``unshare``, ``mount``); otherwise with the write
    permission taken off the app root's folders (:func:`writable_again` gives it back)."""
    if os.geteuid() == 0:
        remount = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        namespace = ["unshare", "--mount", "--propagation", "private", "--"]
        return [*namespace, "sh", "-c", remount, "sh", str(app_root), *command]
    for folder in folders(app_root):
        folder.chmod(folder.stat().st_mode & ~0o222)
    return command


def writable_again(app_root: Path) -> None:
    """Give the owner back the write permission :func:`read_only` took (so the app root can be removed)."""
    for folder in folders(app_root):
        folder.chmod(folder.stat().st_mode | 0o200)


def folders(root: Path) -> list[Path]:
    """``root`` and every folder in it."""
    return [root, *(path for path in root.rglob("*") if path.is_dir())]


class Container:
    """The inference server of one deployment, serving from ``app_root`` with ``python``: the interpreter of its
    environment's build, whose folder comes first on ``PATH`` (the image's activated environment)."""

    def __init__(
        self, app_root: Path, environment: dict[str, str], entry_script: str, python: Path, *, read_only_root: bool
    ) -> None:
        self.app_root = app_root
        self.read_only_root = read_only_root
        self.port = reserved_port()
        self.log_path = app_root.parent / f"{app_root.name}.log"
        read_end, self._watchdog = os.pipe()
        env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        env["PATH"] = os.pathsep.join([str(python.parent), *filter(None, [env.get("PATH")])])
        env |= {"AML_APP_ROOT": str(app_root), **environment, "STANDIN_WATCHDOG_FD": str(read_end)}
        command = [str(python), "-c", LAUNCHER, "--entry_script", entry_script, "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                read_only(app_root, command) if read_only_root else command,
                cwd=app_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(read_end,),
                start_new_session=True,
            )
        os.close(read_end)
        #: The size of the log when the server first answered (its start-up lines); None until then.
        self.started_log_size: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_started(self, timeout_s: float) -> bool:
        """True once the server answers its liveness route; False if it exits (``init()`` failed) or times out."""
        if self.started_log_size is not None:
            return self.running
        deadline = time.monotonic() + timeout_s
        with requests.Session() as direct:
            direct.trust_env = False
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if direct.get(self.base_url + "/", timeout=2).status_code == 200:
                        self.started_log_size = self.log_size()
                        return True
                except requests.RequestException:
                    pass
                time.sleep(0.2)
        return False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def logs(self, num_lines: int | None = None, *, since: int = 0) -> str:
        """The server's output (the container's log), the last ``num_lines`` lines if given. ``since``: its
        start-up lines and what it wrote from that offset on (what one of several deployments would see)."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        started = self.started_log_size or 0
        text = (data if since <= started else data[:started] + data[since:]).decode(errors="replace")
        return text if num_lines is None else "\n".join(text.splitlines()[-num_lines:])

    def stop(self) -> None:
        """Stop the server and its workers; idempotent."""
        if self._watchdog >= 0:
            os.close(self._watchdog)
            self._watchdog = -1
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        if self.read_only_root and os.geteuid() != 0:
            writable_again(self.app_root)


def fingerprint(
    app_root: Path, environment: dict[str, str], entry_script: str, python: Path, *, read_only_root: bool = False
) -> str:
    """What a container would serve, taken before it starts: its environment's build (``python``), the files of
    every folder it is given (the app root, the model's folder: their contents, not their paths) and its other
    settings (whether its app root is read-only among them)."""
    digest = hashlib.sha256(f"{python}\0{entry_script}\0{read_only_root}".encode())
    for name, value in sorted({**environment, "AML_APP_ROOT": str(app_root)}.items()):
        digest.update(f"\0{name}=".encode())
        folder = Path(value)
        if not (folder.is_absolute() and folder.is_dir()):
            digest.update(value.encode())
            continue
        for file in sorted(path for path in folder.rglob("*") if path.is_file()):
            digest.update(f"\0{file.relative_to(folder)}\0".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


class Lease:
    """A deployment's use of a container: what the stand-in's services hold. Stopping it ends that use; the
    deployment sees a stopped server, its own log lines and the container's start-up lines."""

    def __init__(
        self, container: Container, key: str, release: Callable[[Lease], None], *, reused: bool = False
    ) -> None:
        self.container = container
        self.key = key
        self._release = release
        #: Where this deployment's lines begin: the whole log of a container started for it (one that crashes at
        #: once has written its error before the lease is made), what follows so far of a reused one.
        self._log_from = container.log_size() if reused else 0
        self.stopped = False

    @property
    def base_url(self) -> str:
        return self.container.base_url

    @property
    def running(self) -> bool:
        return not self.stopped and self.container.running

    def wait_until_started(self, timeout_s: float) -> bool:
        return not self.stopped and self.container.wait_until_started(timeout_s)

    def logs(self, num_lines: int | None = None) -> str:
        return self.container.logs(num_lines, since=self._log_from)

    def stop(self) -> None:
        """End this deployment's use of the container; idempotent."""
        if not self.stopped:
            self.stopped = True
            self._release(self)


class ContainerPool:
    """Containers by fingerprint: a deployment gets an idle one serving the same files and settings, else a new
    one; a container whose lease ends waits for the next such deployment if it is healthy, else is stopped."""

    def __init__(self, idle_limit: int = IDLE_LIMIT) -> None:
        self.idle_limit = idle_limit
        self.idle: list[tuple[str, Container]] = []  # oldest first
        self.started = 0
        self._lock = threading.Lock()  # the stand-in's services deploy and delete from their request threads

    def lease(
        self,
        app_root: Path,
        environment: dict[str, str],
        entry_script: str,
        python: Path,
        *,
        read_only_root: bool = False,
    ) -> Lease:
        key = fingerprint(app_root, environment, entry_script, python, read_only_root=read_only_root)
        with self._lock:
            for index, (idle_key, container) in enumerate(self.idle):
                if idle_key == key and container.running:
                    del self.idle[index]
                    return Lease(container, key, self._release, reused=True)
            self.started += 1
        container = Container(app_root, environment, entry_script, python, read_only_root=read_only_root)
        return Lease(container, key, self._release)

    def _release(self, lease: Lease) -> None:
        container = lease.container
        if container.started_log_size is None or not container.running:
            container.stop()
            return
        with self._lock:
            self.idle.append((lease.key, container))
            evicted = self.idle[: -self.idle_limit] if len(self.idle) > self.idle_limit else []
            del self.idle[: len(evicted)]
        for _, old in evicted:
            old.stop()

    def close(self) -> None:
        """Stop every idle container (those still leased are stopped with their lease)."""
        with self._lock:
            idle, self.idle = self.idle, []
        for _, container in idle:
            container.stop()
