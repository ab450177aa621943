"""The processes a test run starts: inference servers seen, waited for and checked stopped, orphans adopted."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import sys
import time

import psutil
import pytest

from mnist_aci.local.server import SERVER_APP, bind_port
from mnist_aci.local.service import LocalWebservice

STOP_DEADLINE_S = 15.0
#: Linux's prctl: the tests adopt the servers their subprocesses leave behind (see :func:`adopt_orphans`).
ADOPTS_ORPHANS = sys.platform == "linux"
PR_SET_CHILD_SUBREAPER = 36


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


_current_lanes: set[str] = set()


def note_current_lanes(lanes: set[str]) -> None:
    """Record the lanes of the test being run (conftest.py's setup hook): :func:`inference_servers` reads them."""
    global _current_lanes
    _current_lanes = lanes


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
