"""Azure's long-running operations, on a fast clock: they end when their time has passed, polled or not.

Azure runs an operation (an endpoint's creation, a deployment, a delete) whether or not its caller polls the
status URL: a DELETE nobody polls still ends, and the resource goes. The stand-in does the same on its own clock,
run fast (:class:`FastClock`: ``speed`` stand-in seconds per real second), so a test sees an operation take a
few real milliseconds where Azure takes minutes. How long each kind takes in Azure the sources do not say (the
recordings' polls carry no durations that playback keeps): :data:`DURATIONS_S` are the stand-in's own orders of
magnitude (Microsoft's deployment how-tos speak of "a few minutes" for a deployment). What the status URL answers
while an operation runs (``Updating``) is recorded (OD[2..4], see :mod:`.azureml_v2`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: How long each kind of operation takes, in Azure's seconds (the stand-in's own orders of magnitude, see above):
#: ``oeidp`` an endpoint's creation or traffic change, ``odidp`` a deployment, ``delete`` either's deletion.
DURATIONS_S = {"oeidp": 60.0, "odidp": 300.0, "delete": 60.0}


@dataclass
class FastClock:
    """Azure's time, run ``speed`` times faster than the real one; each timer it starts runs in its own daemon
    thread and is cancelled by :meth:`cancel_all` (between tests)."""

    #: Stand-in seconds per real second: at 2000 a 300 s deployment takes 150 ms.
    speed: float = 2000.0
    _timers: list[threading.Timer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def real_seconds(self, azure_seconds: float) -> float:
        return azure_seconds / self.speed

    def call_after(self, azure_seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``azure_seconds`` of Azure's time have passed."""
        timer = threading.Timer(self.real_seconds(azure_seconds), action)
        timer.daemon = True
        with self._lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def cancel_all(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()


@dataclass
class Operation:
    """A long-running operation: ``Updating`` until its time has passed (and, if a test holds it, until it is
    released), then ``finish()`` runs and its answer, an error or None, ends it ``Failed`` or ``Succeeded``."""

    id: str
    finish: Callable[[], dict[str, str] | None]
    status: str = "InProgress"
    error: dict[str, str] | None = None
    held: bool = False  # a test holds it: it stays "Updating" until released
    due: bool = False  # its time has passed
    ending: bool = False  # finish() runs
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> bool:
        return self.status not in {"Succeeded", "Failed", "Canceled"}

    def answer(self) -> str:
        """What its status URL says now: ``Updating`` while it runs (OD[2], OD[3]), then how it ended."""
        return "Updating" if self.running else self.status

    def time_is_up(self) -> None:
        """Its duration has passed on the clock: it ends now unless held (then when released)."""
        with self._lock:
            self.due = True
        self.end_if_due()

    def release(self) -> None:
        with self._lock:
            self.held = False
        self.end_if_due()

    def end_if_due(self) -> None:
        """Run ``finish()`` once, outside any lock (a deployment's waits for its container to start)."""
        with self._lock:
            if not self.due or self.held or self.ending:
                return
            self.ending = True
        try:
            error = self.finish()
        except Exception as exc:  # a bug of the stand-in: the operation fails with it rather than hang
            log.exception("operation %s failed in the stand-in", self.id)
            error = {"code": "StandInError", "message": f"finish() failed: {exc!r}"}
        self.error = error
        self.status = "Failed" if error else "Succeeded"
