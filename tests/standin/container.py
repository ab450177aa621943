"""A deployment's container, run on this machine: the real inference server started as the image starts it.

Azure ML's inference images start ``azmlinfsrv --entry_script $AZUREML_ENTRY_SCRIPT`` from the app root
(``/var/azureml-app``, also ``AML_APP_ROOT``), with ``AZUREML_MODEL_DIR`` and the deployment's environment
variables set. The stand-in builds that app root as a local folder from what the SDK uploaded and runs the
same command from it, with one change: the server listens on 127.0.0.1 instead of its default 0.0.0.0.

A container never outlives the test run that started it: it inherits the read end of a pipe whose write end
only this process holds, and stops its process group when the pipe closes, whichever way this process ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


class Container:
    """The inference server of one deployment, serving from ``app_root``."""

    def __init__(self, app_root: Path, environment: dict[str, str], entry_script: str) -> None:
        self.app_root = app_root
        self.port = reserved_port()
        self.log_path = app_root.parent / f"{app_root.name}.log"
        read_end, self._watchdog = os.pipe()
        env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
        env |= {"AML_APP_ROOT": str(app_root), **environment, "STANDIN_WATCHDOG_FD": str(read_end)}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "--entry_script", entry_script, "--port", str(self.port)],
                cwd=app_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(read_end,),
                start_new_session=True,
            )
        os.close(read_end)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_started(self, timeout_s: float) -> bool:
        """True once the server answers its liveness route; False if it exits (``init()`` failed) or times out."""
        deadline = time.monotonic() + timeout_s
        with requests.Session() as direct:
            direct.trust_env = False
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if direct.get(self.base_url + "/", timeout=2).status_code == 200:
                        return True
                except requests.RequestException:
                    pass
                time.sleep(0.2)
        return False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def logs(self, num_lines: int | None = None) -> str:
        """The server's output (the container's log), the last ``num_lines`` lines if given."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
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
