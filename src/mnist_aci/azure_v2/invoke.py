"""``online_endpoints.invoke`` made safe to call: one call at a time, no key left in the SDK's shared headers,
refusals as :class:`~mnist_aci.errors.ServiceCallError`, and no poller dots between the progress lines."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ServiceCallError, sdk_message
from ..scoring import refused_call

#: ``online_endpoints.invoke`` writes the key and the deployment name into a dict shared by every call in
#: the process (``EndpointInvokeFields.DEFAULT_HEADER``); calls go one at a time and clean it each time.
_INVOKE_LOCK = threading.Lock()


class _DropPollerDots(io.TextIOBase):
    """``sys.stdout`` without the dots azure-ai-ml's poller prints there after each status poll."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return len(text) if text.strip(".") == "" and text else self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()


@contextlib.contextmanager
def quiet_poller() -> Iterator[None]:
    """No poller dots between the progress lines (``AzureMLPolling.update_status`` prints them)."""
    with contextlib.redirect_stdout(_DropPollerDots(sys.stdout)):
        yield


def _forget_call_headers() -> None:
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    shared = EndpointInvokeFields.DEFAULT_HEADER
    shared.pop(EndpointInvokeFields.AUTHORIZATION, None)
    shared.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)


@contextlib.contextmanager
def _refusals_as_service_call_errors(where: str) -> Iterator[None]:
    """While ``online_endpoints.invoke`` runs, a non-200 answer raises :class:`ServiceCallError` with the model's
    status and body: the SDK's own check (``validate_response``) reads ``error`` as an object, and score.py's
    ``{"error": "<text>"}`` makes it raise ``AttributeError``, a non-JSON body an ``MlException`` without status."""
    from azure.ai.ml.operations import _online_endpoint_operations as operations

    checked = getattr(operations, "validate_response")  # noqa: B009 - replaced for the call, put back after

    def check(response: Any) -> None:
        if response.status_code not in (200, 201):
            raise refused_call(where, response.status_code, response.headers, response.text()[:2000])
        checked(response)

    setattr(operations, "validate_response", check)  # noqa: B010
    try:
        yield
    finally:
        setattr(operations, "validate_response", checked)  # noqa: B010


def invoke(ml_client: Any, endpoint_name: str, body: str | bytes, deployment_name: str | None = None) -> Any:
    """``ml_client.online_endpoints.invoke(...)`` with ``body`` as the request file; the decoded answer.

    The SDK's shared default headers are cleaned before and after, so no key or deployment name set by one
    call reaches another. A refused call raises :class:`ServiceCallError` with the model's status and message.
    """
    from azure.core.exceptions import AzureError

    where = f"Endpoint {endpoint_name}"
    with _INVOKE_LOCK, tempfile.TemporaryDirectory(prefix="mnist-aci-request-") as folder:
        request = Path(folder, "request.json")
        request.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
        _forget_call_headers()
        try:
            with _refusals_as_service_call_errors(where):
                answer = ml_client.online_endpoints.invoke(
                    endpoint_name=endpoint_name, request_file=str(request), deployment_name=deployment_name
                )
        except AzureError as exc:
            status = getattr(exc, "status_code", None)
            raise ServiceCallError(f"{where} could not be called: {sdk_message(exc)}", status=status) from exc
        except ValueError as exc:  # invoke parses the request file before sending it
            raise ServiceCallError(
                f"The request body is not JSON ({exc}); online_endpoints.invoke sends JSON only. Send other "
                "bodies with mnist_aci.predict or a POST to service.scoring_uri."
            ) from exc
        finally:
            _forget_call_headers()
    try:
        return json.loads(answer)
    except ValueError as exc:
        raise ServiceCallError(
            f"Endpoint {endpoint_name} answered with a body that is not JSON: {answer[:500]}"
        ) from exc
