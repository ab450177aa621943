"""Gunicorn settings and hooks for the local inference server (``-c python:mnist_aci.local._gunicorn_config``).

The Python process that starts a local service keeps the write end of a pipe; the server's master
inherits the read end (its number is in ``MNIST_ACI_WATCHDOG_FD``). When the starting process dies,
however it dies and from whichever thread it started the server, the pipe reaches end-of-file and
the master shuts itself and its workers down, and then removes the service's staging folder
(``MNIST_ACI_STAGE_DIR``), which its dead owner can no longer remove: no server and no folder outlive
their owner. While the owner lives, its ``delete()`` removes the folder (it keeps the log first).

A client that stops sending in the middle of a request must not hold the service: every client
connection gets a receive timeout of ``MNIST_ACI_READ_TIMEOUT_S`` seconds (``SO_RCVTIMEO``, which
accepted connections inherit from the listening socket on Linux and macOS), so a stalled read ends
with an error and the connection is closed, as the nginx front of an ACI container closes a stalled
client after its ``client_body_timeout``.

Each worker leaves out the packages named in ``MNIST_ACI_HIDDEN_MODULES`` (comma-separated): an import of
one of them fails as if it were not installed, with a message that says why and how to allow it.
scikit-learn imports pandas (and pandas pyarrow) whenever they are installed, for data frames a worker
fed numpy arrays never sees: 69 MB of each worker's 247 MB at idle. The cloud environments of this
project install neither.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import shutil
import signal
import socket
import struct
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

WATCHDOG_FD_ENV = "MNIST_ACI_WATCHDOG_FD"
STAGE_DIR_ENV = "MNIST_ACI_STAGE_DIR"
READ_TIMEOUT_ENV = "MNIST_ACI_READ_TIMEOUT_S"
HIDDEN_MODULES_ENV = "MNIST_ACI_HIDDEN_MODULES"

#: gunicorn >= 27 opens a control socket shared by every server in ~/.gunicorn: not wanted here
#: (older versions ignore unknown settings in a config module).
control_socket_disable = True

_owner_gone = threading.Event()


def _stop_when_owner_exits(fd: int) -> None:
    while os.read(fd, 1):
        pass
    _owner_gone.set()
    os.kill(os.getpid(), signal.SIGTERM)


def on_starting(server: Any) -> None:
    """Start watching the owner's pipe as soon as the master starts."""
    fd = os.environ.get(WATCHDOG_FD_ENV)
    if fd is not None:
        threading.Thread(target=_stop_when_owner_exits, args=(int(fd),), daemon=True).start()


def when_ready(server: Any) -> None:
    """Give the listening sockets (and so every connection accepted from them) a receive timeout."""
    seconds = float(os.environ.get(READ_TIMEOUT_ENV, "0"))
    if seconds > 0:
        whole = int(seconds)
        timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
        for listener in server.LISTENERS:
            listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)


class HiddenModules(importlib.abc.MetaPathFinder):
    """An import finder that refuses the given top-level packages (and their submodules)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package = fullname.partition(".")[0]
        if package not in self.names:
            return None
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: the local scoring worker leaves {package} out to save memory "
            f"({HIDDEN_MODULES_ENV}={','.join(sorted(self.names))}). If score.py or the model needs it, "
            f"set {HIDDEN_MODULES_ENV} to the empty string (or to the packages to leave out) and deploy again.",
            name=fullname,
        )


def hide_modules(names: str) -> None:
    """Make the comma-separated top-level packages in ``names`` unimportable in this process."""
    packages = [name.strip() for name in names.split(",") if name.strip()]
    if packages:
        sys.meta_path.insert(0, HiddenModules(packages))


def post_fork(server: Any, worker: Any) -> None:
    """In each worker, before it loads the app: close its copy of the pipe (it does not need it) and
    leave out the packages of ``MNIST_ACI_HIDDEN_MODULES``."""
    fd = os.environ.get(WATCHDOG_FD_ENV)
    if fd is not None:
        os.close(int(fd))
    hide_modules(os.environ.get(HIDDEN_MODULES_ENV, ""))


def on_exit(server: Any) -> None:
    """Once the workers are stopped: remove the staging folder if the owner died (else it does)."""
    stage_dir = os.environ.get(STAGE_DIR_ENV)
    if stage_dir and _owner_gone.is_set():
        shutil.rmtree(stage_dir, ignore_errors=True)
