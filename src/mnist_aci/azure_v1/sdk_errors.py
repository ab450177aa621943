"""What SDK v1 (azureml-core) raises, turned into the package's errors: what failed, the HTTP status the
service answered, and what to do about it.

azureml-core reports a refused REST call either as an ``AzureMLException`` whose text carries the answer
(``Response Code: 429``, its headers, its content; ``Code: 404`` for environments), or, from its generated
REST clients, as msrest's ``HttpOperationError`` holding the ``response``. It retries 429 and 5xx answers
itself (msrest's own retries, then ``ClientBase._execute_func``: three more, backing off 32 s, 64 s, 128 s by
default, ``AZUREML_DEFAULT_BACKOFF`` sets the base) before it gives up; what reaches the user is the last answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import DeploymentError, MnistAciError, is_sdk_v1_error, sdk_message

STATUS = re.compile(r"(?:Response Code|Code|StatusCode|status code)\W{0,3}(\d{3})\b", re.IGNORECASE)
SERVICE_MESSAGE = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)+)"')
RETRY_AFTER = re.compile(r"['\"]Retry-After['\"]:\s*['\"](\d+)['\"]", re.IGNORECASE)
#: How ACI refuses more cores or memory than it can give a container group (Microsoft's "Troubleshoot common issues
#: in Azure Container Instances": resource not available).
RESOURCE_NOT_AVAILABLE = "The requested resource with"
RESOURCE_ADVICE = (
    "An ACI container group has at most 31 cores and 240 GB of memory (Microsoft's \"Resource availability & quota "
    'limits for ACI"), and a busy region may give less: lower cpu_cores and memory_gb in the deployment '
    "configuration (aci_config()), or deploy to AKS."
)


def _text(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    answer = getattr(response, "text", "") if response is not None else ""
    return f"{getattr(exc, 'message', '') or exc}\n{answer if isinstance(answer, str) else ''}"


def sdk_status(exc: BaseException) -> int | None:
    """The HTTP status an SDK v1 exception reports, if it names one."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status
    found = STATUS.search(_text(exc))
    return int(found.group(1)) if found else None


def retry_after_s(exc: BaseException) -> int | None:
    """The ``Retry-After`` seconds of the throttled answer an SDK v1 exception carries, if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    found = RETRY_AFTER.search(_text(exc))
    return int(found.group(1)) if found else None


def advice(status: int | None, retry_after: int | None) -> str:
    """What to do about an answer with ``status``."""
    if status in (401, 403):
        return (
            "Your sign-in (az login, or the service principal in AZUREML_SERVICE_PRINCIPAL_*) may not do this in "
            "the workspace: check its role there (Contributor or AzureML Data Scientist)."
        )
    if status == 409:
        return "Another operation on it is still running in Azure ML: wait until it ends, then try again."
    if status == 429:
        wait = f" (the service asked for {retry_after} s)" if retry_after is not None else ""
        return f"Azure ML is throttling this subscription's requests: wait a minute{wait} and run the command again."
    if status is not None and status >= 500:
        return "Azure ML had an internal error: try again in a few minutes; if it persists, check Azure's status page."
    return "Check the names in the command and config.json, and your access to the workspace."


def service_message(exc: BaseException) -> str:
    """The service's own error message inside an SDK v1 exception (its JSON ``message``, then those of its
    ``details``, where model management puts the cause: "The request is invalid: ..."), else its first line."""
    found = dict.fromkeys(SERVICE_MESSAGE.findall(_text(exc)))
    return ": ".join(found) if found else sdk_message(exc)


def describe(action: str, exc: BaseException) -> str:
    """One message for a failed SDK v1 call: what failed, the service's answer, and what to do."""
    status, message = sdk_status(exc), service_message(exc)
    answered = f"Azure ML answered {status}: " if status is not None else ""
    todo = RESOURCE_ADVICE if RESOURCE_NOT_AVAILABLE in message else advice(status, retry_after_s(exc))
    return f"{action} failed. {answered}{message}\n{todo}"


@contextmanager
def azure_ml_call(action: str, error: type[MnistAciError] = DeploymentError) -> Iterator[None]:
    """Turn an SDK v1 error raised inside the block into ``error`` with :func:`describe`'s message."""
    try:
        yield
    except Exception as exc:
        if not is_sdk_v1_error(exc):
            raise
        raise error(describe(action, exc)) from exc
