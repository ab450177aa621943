"""The test lanes: markers that say what a test starts, and a guard that keeps the unit lane free of processes.

A test with none of :data:`LANES` is a unit test (``make check`` runs those). Markers come from the fixtures a
test uses where a fixture tells (:data:`FIXTURE_LANES`: a test using the stand-in is a ``standin`` test, however
it got the fixture), and from explicit marks elsewhere. While a test is set up and run, every process this
process starts is seen (an audit hook on process creation): a unit test that starts one fails at once, and a
marked test fails if it started an inference server or a kernel without saying so (``server``, ``kernel``).
Processes started by the test's own subprocesses are not seen: a CLI run that serves is marked by hand.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

#: Every lane marker (described in pyproject.toml); a test with none of them is a unit test.
LANES = ("server", "standin", "kernel", "subprocess", "build", "full_mnist", "soak")
#: The lanes whose tests may start processes.
PROCESS_LANES = ("server", "standin", "kernel", "subprocess", "build")
#: The unit lane, as a ``-m`` expression (``make check``).
UNIT_LANE = "not (" + " or ".join(LANES) + ")"
#: Fixtures that put every test using them, directly or through other fixtures, in a lane.
FIXTURE_LANES = {
    "live_service": "server",
    "standin_session": "standin",
    "environment_builds": "standin",  # the stand-in's image builds run uv
    "mnist_dir": "full_mnist",
    "dists": "build",
}
#: What in a started command shows it is the inference server, or a Jupyter kernel.
SERVER_SIGNS = ("gunicorn", "azureml_inference_server_http")
KERNEL_SIGNS = ("ipykernel",)
#: The audit events of process creation.
PROCESS_EVENTS = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system"}


class ProcessInUnitTest(RuntimeError):
    """A unit test (no lane marker) started a process."""


@dataclass
class _Watch:
    """The test being set up or run, and the commands it started."""

    nodeid: str | None = None
    unit: bool = False
    started: list[str] = field(default_factory=list)


_watch = _Watch()
_hooked = False


def describe(event: str, args: tuple[Any, ...]) -> str:
    """The command an audited process creation runs, as one line."""
    if event == "subprocess.Popen":
        executable, argv = args[0], args[1]
        words = [argv] if isinstance(argv, str | bytes) else list(argv or [executable])
        return " ".join(str(word) for word in words)
    if event in {"os.posix_spawn", "os.exec", "os.spawn"}:
        return " ".join(str(word) for word in args[1])
    return f"{event}{args!r}"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in PROCESS_EVENTS or _watch.nodeid is None:
        return
    command = describe(event, args)
    _watch.started.append(command)
    if _watch.unit:
        raise ProcessInUnitTest(f"{_watch.nodeid} is a unit test but started a process: {command[:300]}. " + ADVICE)


ADVICE = f"Mark it with the lane that says what it starts ({', '.join(PROCESS_LANES)}), or start nothing."


def install_audit_hook() -> None:
    """Watch process creation in this process (once: an audit hook cannot be removed)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True


def lanes_of(item: pytest.Item) -> set[str]:
    return {mark.name for mark in item.iter_markers() if mark.name in LANES}


def left_out_of_unit_lane(collector: pytest.Collector, obj: object) -> bool:
    """True if only the unit lane runs (``-m`` is :data:`UNIT_LANE`) and ``obj``, a test function, is marked
    with a lane: its items need not be built (a schemathesis test computes its cases as it is collected)."""
    if collector.config.getoption("markexpr", "") != UNIT_LANE:
        return False
    marks = [*getattr(obj, "pytestmark", []), *collector.iter_markers()]
    return any(mark.name in LANES for mark in marks)


def mark_from_fixtures(items: list[pytest.Item]) -> None:
    """Add the lane marker of each fixture in :data:`FIXTURE_LANES` that a test uses; ``soak`` implies ``server``."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, lane in FIXTURE_LANES.items():
            if fixture in names:
                item.add_marker(lane)
        if item.get_closest_marker("soak"):
            item.add_marker("server")


def missing_lanes(lanes: set[str], started: list[str]) -> list[str]:
    """What ``started`` shows that the test's ``lanes`` do not say, one sentence each."""
    problems = []
    if started and not lanes & set(PROCESS_LANES):
        problems.append(f"started {len(started)} process(es) (first: {started[0][:300]}) but is in no process lane")
    if "server" not in lanes and any(sign in command for command in started for sign in SERVER_SIGNS):
        problems.append("started the inference server but is not marked server")
    if "kernel" not in lanes and any(sign in command for command in started for sign in KERNEL_SIGNS):
        problems.append("started a Jupyter kernel but is not marked kernel")
    return problems


@contextlib.contextmanager
def watching(item: pytest.Item) -> Iterator[None]:
    """Watch the processes started while ``item`` is set up or run; fail it if its lanes do not say them."""
    before = (_watch.nodeid, _watch.unit, _watch.started)
    lanes = lanes_of(item)
    _watch.nodeid, _watch.unit, _watch.started = item.nodeid, not lanes & set(LANES), []
    started = _watch.started
    try:
        yield
    finally:
        _watch.nodeid, _watch.unit, _watch.started = before
    problems = missing_lanes(lanes, started)
    if problems:
        pytest.fail(f"{item.nodeid} " + "; ".join(problems) + ". " + ADVICE, pytrace=False)
