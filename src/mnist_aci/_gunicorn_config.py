"""Gunicorn settings and hooks for the local inference server (``-c python:mnist_aci._gunicorn_config``).

The Python process that starts a local service keeps the write end of a pipe; the server's master
inherits the read end (its number is in ``MNIST_ACI_WATCHDOG_FD``). When the starting process dies,
however it dies and from whichever thread it started the server, the pipe reaches end-of-file and
the master shuts itself and its workers down: no server outlives its owner.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

WATCHDOG_FD_ENV = "MNIST_ACI_WATCHDOG_FD"

#: gunicorn >= 27 opens a control socket shared by every server in ~/.gunicorn: not wanted here
#: (older versions ignore unknown settings in a config module).
control_socket_disable = True


def _stop_when_owner_exits(fd: int) -> None:
    while os.read(fd, 1):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def on_starting(server: Any) -> None:
    """Start watching the owner's pipe as soon as the master starts."""
    fd = os.environ.get(WATCHDOG_FD_ENV)
    if fd is not None:
        threading.Thread(target=_stop_when_owner_exits, args=(int(fd),), daemon=True).start()


def post_fork(server: Any, worker: Any) -> None:
    """Workers do not need the pipe: close their copy."""
    fd = os.environ.get(WATCHDOG_FD_ENV)
    if fd is not None:
        os.close(int(fd))
