"""What a deployed service is, as types: every target's service satisfies :class:`Service`.

The tutorial uses an ``AciWebservice`` through a handful of members; the local target's
:class:`~mnist_aci.local.service.LocalWebservice` and the SDK's ACI/AKS web services all have them, so
the notebook, the CLI and :func:`mnist_aci.predict` never branch on the target. (A leaf module.)
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

#: A traceback's exception line ("ValueError: ..."), to name the cause of a failed start.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)(: .*)?$")
#: A log line saying a process was killed for its memory: Kubernetes' ``OOMKilled``, gunicorn's "Worker ... was
#: sent SIGKILL! Perhaps out of memory?", Python's ``MemoryError``.
OUT_OF_MEMORY = re.compile(r"OOMKilled|out of memory|MemoryError", re.IGNORECASE)


@runtime_checkable
class ScoringService(Protocol):
    """What scoring needs: where to POST, and the key if the service has one."""

    @property
    def scoring_uri(self) -> str:
        """Where the service takes ``POST`` requests."""

    @property
    def auth_enabled(self) -> bool:
        """Whether calls need ``Authorization: Bearer <key>``."""

    def run(self, input_data: str | bytes) -> Any:
        """POST the tutorial's JSON body and return the decoded answer."""

    def get_keys(self) -> tuple[str | None, str | None]:
        """The primary and secondary keys (only called when ``auth_enabled``)."""


@runtime_checkable
class Service(ScoringService, Protocol):
    """A deployed service of any target: scoring, plus its name, state, logs and deletion."""

    @property
    def name(self) -> str:
        """The service's name."""

    @property
    def state(self) -> str | None:
        """``Healthy``, ``Failed``, ``Deleted``... as the SDK reports it."""

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the service's log."""

    def delete(self) -> None:
        """Delete the service (and whatever runs it)."""


def startup_error(log: str) -> str | None:
    """The first exception line of a server log that is score.py's own (the root cause of a failed ``init()``:
    the inference server's ``UserScriptException`` wraps it), if any."""
    for line in log.splitlines():
        if EXCEPTION_LINE.match(line.strip()) and "UserScript" not in line:
            return line.strip()
    return None


def memory_exhausted(log: str) -> str | None:
    """The first line of a server log saying it ran out of memory, if any."""
    return next((line.strip() for line in log.splitlines() if OUT_OF_MEMORY.search(line)), None)
