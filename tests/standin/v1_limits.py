"""SDK v1 web services' limits, as Azure applies them: ACI's resource caps, the scoring front's timeout and AKS's
request queue, the memory a container may use, and a container that stops after it started.

- **ACI's caps.** A container group gets at most 31 cores and 240 GB (Microsoft's "Resource availability & quota
  limits for ACI", standard containers, hard limits; Azure ML puts a service's container, and its front
  ``azureml-fe-aci``, in one group: Microsoft's v1 "Troubleshooting remote model deployment"). Beyond them the
  resource check before a deployment (``services/validate/resource``) answers ACI's own refusal ("The requested
  resource with 'x' CPU and 'y.z' GB memory is not available in the location ...": Microsoft's "Troubleshoot
  common issues in Azure Container Instances", resource not available); how Azure ML relays it is not documented.
- **The scoring timeout (504).** Microsoft's v1 troubleshooting ("HTTP status code 504"): a 504 means the request
  timed out; the default timeout is one minute. AKS's is the service's ``scoringTimeoutMs`` (aks.py:
  ``scoring_timeout_ms`` "Defaults to 60000"); ACI's deployment configuration has no such setting
  (``AciWebservice.deploy_configuration``), so its timeout is the default, :data:`ACI_SCORING_TIMEOUT_S`, which a
  test shortens through :attr:`Limits.aci_scoring_timeout_s`. The 504's body is not documented: the stand-in's.
- **AKS's queue (503).** A replica scores ``maxConcurrentRequestsPerContainer`` requests at once (aks.py: default 1);
  one more waits in the queue at most ``maxQueueWaitMs`` ("the maximum amount of time a request will stay in the
  queue (in milliseconds) before returning a 503 error. Defaults to 500"). The stand-in runs one container however
  many replicas the service has and never scales: it takes as many requests at once as the replicas it starts with
  (``numReplicas``, else the autoscaler's ``minReplicas``) would. ACI has no documented queue: none here.
- **Memory.** An ACI container may use the memory it asked for (``memory_gb``: ACI's limit is the request unless a
  limit is given, Microsoft's "Container groups in Azure Container Instances", resource allocation); an AKS pod
  only its ``memoryInGBLimit`` when one is given (aks.py: ``memory_gb`` "Corresponds to the pod memory request, not
  the limit"). Past it the container is killed, as the kernel's OOM killer would, with a line in its log (the
  stand-in's wording, in Kubernetes' term ``OOMKilled``). Memory is the resident size of the container's process
  tree; a GB is taken as 2**30 bytes (Azure does not say which).
- **A container that stops** after it started (killed, or ``score.py`` ending its process) leaves the service
  ``Unhealthy`` ("The service has deployed but is currently unreachable": Microsoft's v1 "Deploy machine learning
  models to Azure", web service states), the reason in its log and its ``error``, whose code is the stand-in's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests
from werkzeug.wrappers import Request, Response

from .azureml_v1 import now
from .container import Lease
from .server import relay

ACI_MAX_CPU = 31
ACI_MAX_MEMORY_GB = 240
#: ACI's scoring timeout: Microsoft's v1 troubleshooting, "The default timeout is 1 minute".
ACI_SCORING_TIMEOUT_S = 60.0
#: AKS's defaults for what the SDK leaves out (aks.py's ``deploy_configuration`` docstring).
AKS_SCORING_TIMEOUT_MS = 60000
AKS_MAX_CONCURRENT_REQUESTS = 1
AKS_MAX_QUEUE_WAIT_MS = 500
GB = 2**30
#: How often a container's memory and liveness are checked, and how often its processes are listed again.
WATCH_PERIOD_S = 0.1
TREE_REFRESH_S = 1.0
#: How long a scoring call that lost its container waits for the watcher to record why (it notices within
#: :data:`WATCH_PERIOD_S`).
DEATH_RECORD_WAIT_S = 5.0


def aci_resources_refusal(payload: dict[str, Any], region: str) -> str | None:
    """ACI's refusal of a service asking for more than a container group may have, or None."""
    if payload.get("computeType") != "ACI":
        return None
    resources = payload.get("containerResourceRequirements") or {}
    cpu, memory = resources.get("cpu") or 0, resources.get("memoryInGB") or 0
    if cpu <= ACI_MAX_CPU and memory <= ACI_MAX_MEMORY_GB:
        return None
    return (
        f"The requested resource with '{cpu:g}' CPU and '{memory:g}' GB memory is not available in the location "
        f"'{region}' at this moment. Please retry with a different resource request or in another location."
    )


def memory_limit_gb(record: dict[str, Any]) -> float | None:
    """The memory a service's container may use: ACI's ``memoryInGB``, AKS's ``memoryInGBLimit`` (None: no limit)."""
    resources = record.get("containerResourceRequirements") or {}
    limit = resources.get("memoryInGB") if record["computeType"] == "ACI" else resources.get("memoryInGBLimit")
    return float(limit) if limit else None


def scoring_timeout_s(record: dict[str, Any], aci_timeout_s: float) -> float:
    if record["computeType"] == "ACI":
        return aci_timeout_s
    return (record.get("scoringTimeoutMs") or AKS_SCORING_TIMEOUT_MS) / 1000


class RequestQueue:
    """An AKS service's front: ``capacity`` requests scored at once; each one beyond them waits up to ``wait_s`` for
    a slot."""

    def __init__(self, capacity: int, wait_s: float) -> None:
        self._slots = threading.BoundedSemaphore(capacity)
        self.wait_s = wait_s
        self.in_flight = 0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, record: dict[str, Any]) -> RequestQueue:
        scaler = record.get("autoScaler") or {}
        replicas = record.get("numReplicas") or scaler.get("minReplicas") or 1
        per_container = record.get("maxConcurrentRequestsPerContainer") or AKS_MAX_CONCURRENT_REQUESTS
        wait_ms = record.get("maxQueueWaitMs") or AKS_MAX_QUEUE_WAIT_MS
        return cls(int(per_container) * int(replicas), wait_ms / 1000)

    def score(self, send: Callable[[], Response]) -> Response:
        """``send()``'s answer once a slot is free; 503 if none frees within the wait."""
        if not self._slots.acquire(timeout=self.wait_s):
            return Response("Service Unavailable: the service's request queue is full.", status=503)
        with self._lock:
            self.in_flight += 1
        try:
            return send()
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()


class ContainerWatch:
    """Watches one deployment's container until its lease ends: kills it past its memory limit, and, once it has
    stopped, writes why in its log and calls ``on_stop(reason)``."""

    def __init__(self, lease: Lease, memory_gb: float | None, on_stop: Callable[[str], None]) -> None:
        self.lease = lease
        self.memory_gb = memory_gb
        self.on_stop = on_stop
        #: Set once the container's end is recorded.
        self.recorded = threading.Event()
        threading.Thread(target=self._watch, name="standin-container-watch", daemon=True).start()

    def _watch(self) -> None:
        container = self.lease.container
        tree = ProcessTree(container.process.pid)
        while not self.lease.stopped:
            if not container.running:
                self._record(f"Container terminated: its process exited with code {container.process.returncode}.")
                return
            if self.memory_gb is not None and tree.resident_bytes() > self.memory_gb * GB:
                os.killpg(container.process.pid, signal.SIGKILL)
                container.process.wait()
                self._record(
                    f"Container terminated: OOMKilled (exit code 137): it used more than its memory limit of "
                    f"{self.memory_gb:g} GB."
                )
                return
            time.sleep(WATCH_PERIOD_S)

    def _record(self, reason: str) -> None:
        with open(self.lease.container.log_path, "a", encoding="utf-8") as log:
            log.write(reason + "\n")
        self.on_stop(reason)
        self.recorded.set()


class ProcessTree:
    """A process and its descendants, listed again every :data:`TREE_REFRESH_S` (listing them reads all of
    ``/proc``: about 10 ms; reading their sizes, well under one)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._processes: list[psutil.Process] = []
        self._listed_at = -TREE_REFRESH_S

    def resident_bytes(self) -> int:
        """The resident bytes of the tree (0 once it is gone)."""
        if time.monotonic() - self._listed_at >= TREE_REFRESH_S:
            try:
                root = psutil.Process(self.pid)
                self._processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                self._processes = []
            self._listed_at = time.monotonic()
        total = 0
        for process in self._processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total


@dataclass
class Limits:
    """The scoring fronts' settings, and the queues and watched containers of the workspace's services."""

    aci_scoring_timeout_s: float = ACI_SCORING_TIMEOUT_S
    #: Each AKS service's queue, by scoring URI (unique to one deployment).
    queues: dict[str, RequestQueue] = field(default_factory=dict)
    watches: list[ContainerWatch] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, lease: Lease, record: dict[str, Any], on_stop: Callable[[str], None]) -> None:
        """Watch a deployment's container from its start (its memory limit from ``record``)."""
        watch = ContainerWatch(lease, memory_limit_gb(record), on_stop)
        with self._lock:
            self.watches = [kept for kept in self.watches if not kept.lease.stopped] + [watch]

    def queue(self, record: dict[str, Any]) -> RequestQueue | None:
        if record["computeType"] != "AKS":
            return None
        with self._lock:
            return self.queues.setdefault(record["scoringUri"], RequestQueue.of(record))

    def score(self, record: dict[str, Any], lease: Lease, request: Request) -> Response:
        """Relay ``request`` to the container through the service's queue (AKS), within its scoring timeout (504
        past it); a container lost meanwhile is first recorded as stopped (the 502 comes after its reason)."""
        timeout_s = scoring_timeout_s(record, self.aci_scoring_timeout_s)

        def send() -> Response:
            try:
                answer = relay(request, lease.base_url, path="/score", timeout_s=timeout_s)
            except requests.Timeout:
                return Response(f"Gateway Timeout: no answer from the service within {timeout_s:g} s.", status=504)
            if answer.status_code == 502:
                self.wait_until_recorded(lease)
            return answer

        queue = self.queue(record)
        return send() if queue is None else queue.score(send)

    def wait_until_recorded(self, lease: Lease) -> None:
        with self._lock:
            watch = next((kept for kept in self.watches if kept.lease is lease), None)
        if watch is not None:
            watch.recorded.wait(DEATH_RECORD_WAIT_S)


def mark_unhealthy(record: dict[str, Any], reason: str) -> None:
    """A deployed service whose container stopped: ``Unhealthy``, the reason in its ``error`` (a service still
    deploying is left to its operation, which fails)."""
    if record["state"] == "Healthy":
        error = {"code": "ContainerTerminated", "statusCode": 503, "message": reason}
        record |= {"state": "Unhealthy", "error": error, "updatedTime": now()}
