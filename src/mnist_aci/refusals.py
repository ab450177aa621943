"""What a refused scoring call means, in the user's terms: the service took longer than its timeout (504), its
queue was full (503), or its container stopped (a lost connection or a 502, the service no longer healthy).

The settings are read from the service where it has them (SDK v1's ``AksWebservice``: ``scoring_timeout_ms``,
``max_request_wait_time``, ``max_concurrent_requests_per_container``; ``container_resource_requirements``), as
Microsoft's v1 "Troubleshooting remote model deployment" tells them: 504 is a request that timed out, one minute by
default; 503 a spike of requests beyond what the replicas take (AKS); 502 a ``run()`` that raised or crashed.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ServiceCallError
from .service import memory_exhausted, startup_error

#: The status in the error of SDK v1's ``service.run`` ("Received bad response from service ... Response Code: 504").
RESPONSE_CODE = re.compile(r"Response Code: (\d{3})\b")
#: What bounds ACI's scoring time: Microsoft's v1 docs give the one-minute default, and
#: ``AciWebservice.deploy_configuration`` has no setting for it.
ACI_TIMEOUT = (
    "ACI's scoring timeout is one minute and its deployment configuration has no setting to raise it: send fewer "
    "images per request (chunk_rows=), make score.py's run() faster, or deploy to AKS, whose scoring_timeout_ms sets it"
)


def compute_type(service: Any) -> str | None:
    """``ACI`` or ``AKS`` for SDK v1's web services, else None."""
    kind = getattr(service, "compute_type", None)
    return kind.upper() if isinstance(kind, str) else None


def timeout_advice(service: Any = None) -> str:
    """Why a 504 came back and which setting to raise."""
    said = "The service took longer than its scoring timeout to answer (504)"
    kind = compute_type(service)
    if kind == "AKS":
        timeout_ms = getattr(service, "scoring_timeout_ms", None) or 60000
        return (
            f"{said}: raise scoring_timeout_ms ({timeout_ms} ms) in its deployment configuration "
            "(AksWebservice.deploy_configuration(scoring_timeout_ms=...)), send fewer images per request "
            "(chunk_rows=) or make score.py's run() faster."
        )
    if kind == "ACI":
        return f"{said}. {ACI_TIMEOUT}."
    return f"{said}: send fewer images per request (chunk_rows=) or make score.py's run() faster; on AKS raise " + (
        "scoring_timeout_ms (ACI's timeout is fixed at one minute)."
    )


def queue_advice(service: Any = None) -> str:
    """Why a 503 came back: the service's queue was full; what to change."""
    per_replica = getattr(service, "max_concurrent_requests_per_container", None) or 1
    wait_ms = getattr(service, "max_request_wait_time", None) or 500
    return (
        f"The service's request queue is full (503): each replica scores {per_replica} request(s) at a time and a "
        f"request waits at most max_request_wait_time ({wait_ms} ms) for its turn. Retry later with fewer requests "
        "at once (connections=1), or add replicas (autoscale_min_replicas, or num_replicas with autoscale off) or "
        "raise max_request_wait_time in its deployment configuration."
    )


def stopped_advice(service: Any) -> str | None:
    """If the service is no longer healthy, what stopped it (from its state, error and log), else None."""
    refresh = getattr(service, "update_deployment_state", None)
    if not callable(refresh):
        return None
    try:
        refresh()
        logs = str(service.get_logs())
    except Exception:  # an answer about the service is all this adds: without one, the call's own error stands
        return None
    state = getattr(service, "state", None)
    if state in (None, "Healthy"):
        return None
    said = f"{service.name} is {state}: its container stopped"
    if memory_exhausted(logs):
        return f"{said}: it ran out of memory. Raise {memory_setting(service)} in its deployment configuration."
    error = getattr(service, "error", None)
    reason = error.get("message") if isinstance(error, dict) else None
    reason = reason or startup_error(logs) or (logs.strip().splitlines() or ["its log is empty"])[-1]
    return f"{said} ({reason}). Its log (get_logs()) says more; fix score.py's run(), then deploy again."


def memory_setting(service: Any) -> str:
    """The setting that bounds a service's memory, and its value: ``memory_gb_limit`` where one is set (AKS),
    else ``memory_gb``."""
    resources = getattr(service, "container_resource_requirements", None)
    limit = getattr(resources, "memory_in_gb_limit", None)
    if limit:
        return f"memory_gb_limit ({limit:g} GB now)"
    given = getattr(resources, "memory_in_gb", None)
    return f"memory_gb ({given:g} GB now)" if isinstance(given, int | float) else "memory_gb"


def refusal_advice(service: Any, status: int | None) -> str | None:
    """What to do about a scoring call the service refused with ``status`` (None: the connection was lost)."""
    if status == 504:
        return timeout_advice(service)
    if status == 503:
        return queue_advice(service)
    if status in (None, 502):
        return stopped_advice(service)
    return None


def explained(service: Any, error: ServiceCallError) -> ServiceCallError | None:
    """``error`` (a failed call to ``service``) told with what to do about it, when :func:`refusal_advice` knows."""
    advice = refusal_advice(service, error.status)
    if advice is None:
        return None
    uri = service.scoring_uri
    what = f"{uri} answered {error.status}" if error.status else f"Lost the connection to {uri}"
    return ServiceCallError(f"{what}. {advice}", status=error.status, body=error.body)


def sdk_response_status(exc: BaseException) -> int | None:
    """The status of the answer an SDK v1 ``service.run`` error reports, if it names one."""
    found = RESPONSE_CODE.search(str(getattr(exc, "message", "") or exc))
    return int(found.group(1)) if found else None
