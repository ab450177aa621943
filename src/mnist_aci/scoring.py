"""Steps 7 and 10 of the tutorial: score images through the web service.

Three ways, one answer:

- :func:`predict_tutorial`: the tutorial's call, ``service.run(input_data=<JSON {"data": ...}>)``,
  with the JSON document of ``json.dumps(array.tolist())`` (the tutorial's ``str(list(row))`` is
  not JSON under numpy 2);
- :func:`predict`: the default, fast and lean path: the images as ``.npy`` bodies in chunks over
  two kept-alive connections, so that one chunk travels while the service predicts the other
  (uint8 pixels when the images are exactly ``pixels / 255.0``, as the tutorial's are, so nothing is
  rounded; float64 otherwise);
- :func:`call_http`: the tutorial's raw HTTP POST with ``requests``, optionally with a key.

Keys, and the access tokens of AKS services with token auth, come from :class:`~mnist_aci.credential.Credential`.
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import requests

from .credential import Credential
from .errors import ServiceCallError, sdk_message
from .refusals import explained, refusal_advice, sdk_response_status
from .service import ScoringService
from .tutorial import KEY_ENV

DEFAULT_CHUNK_ROWS = 2000
#: Requests :func:`predict` keeps in flight: one uploads while the service predicts the other. Not more: a
#: managed online endpoint refuses (429) requests beyond 2 x ``max_concurrent_requests_per_instance``
#: (default 1) x instances in parallel, and AKS queues requests beyond ``replica_max_concurrent_requests``.
DEFAULT_CONNECTIONS = 2
DEFAULT_TIMEOUT_S = 120.0
JSON_TYPE = "application/json"
#: The header in which a managed endpoint's 424 carries the status its container answered.
MODEL_STATUS_HEADER = "ms-azureml-model-error-statuscode"
NPY_TYPE = "application/octet-stream"
#: The waits before each new try of a request refused with 503 (an AKS service's queue was full): Microsoft's v1
#: troubleshooting has 503s come with spikes of requests that the autoscaler has not caught up with yet.
QUEUE_FULL_RETRY_WAITS_S = (0.5, 1.0, 2.0)


def tutorial_body(images: np.ndarray) -> bytes:
    """The tutorial's request body, ``{"data": [[...], ...]}``: the same JSON document as
    ``bytes(json.dumps({"data": images.tolist()}), "utf8")``, encoded about 20x faster by orjson
    (floats written in their shortest exact form, so the service reads back the very same numbers)."""
    array = np.ascontiguousarray(images, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError("The images hold NaN or infinite values, which JSON cannot carry; every pixel must be finite.")
    return orjson.dumps({"data": array}, option=orjson.OPT_SERIALIZE_NUMPY)


def as_pixels(images: np.ndarray) -> np.ndarray | None:
    """The uint8 pixels whose ``/ 255.0`` is exactly ``images``, or None if there are none."""
    with np.errstate(over="ignore", invalid="ignore"):  # NaN, infinities, values out of 0..255 fail the check
        scaled = np.multiply(images, 255.0, dtype=np.float64)
        np.rint(scaled, out=scaled)
        pixels = scaled.astype(np.uint8)
    np.divide(pixels, 255.0, out=scaled)
    return pixels if np.array_equal(scaled, images) else None


def npy_body(images: np.ndarray) -> bytes:
    """A ``.npy`` body for the images: uint8 when that is lossless (images == pixels / 255.0)."""
    images = np.asarray(images)
    pixels = as_pixels(images)
    buffer = io.BytesIO()
    np.save(buffer, images if pixels is None else pixels, allow_pickle=False)
    return buffer.getvalue()


def service_key(service: ScoringService | None = None, key: str | None = None) -> str | None:
    """The key or token to call a service with now: ``key``, else ``$MNIST_ACI_SERVICE_KEY``, else the service's
    access token (token auth) or primary key (key auth), else None (:class:`~mnist_aci.credential.Credential`)."""
    return Credential(service, key).value()


def auth_headers(service: ScoringService | None = None, key: str | None = None) -> dict[str, str]:
    """``{"Authorization": "Bearer <key or token>"}`` for a service with auth, else ``{}``."""
    return Credential(service, key).headers()


def refused_call(where: str, status: int, headers: Any, text: str, hint: str = "") -> ServiceCallError:
    """The error for a refused scoring call. A managed online endpoint relays any non-200 answer of its container
    as 424 with the container's status in ``ms-azureml-model-error-statuscode``: that status is reported."""
    model_status = headers.get(MODEL_STATUS_HEADER) if status == 424 else None
    if model_status is not None and str(model_status).isdigit():
        return ServiceCallError(
            f"{where}: the model answered {model_status} (relayed by the endpoint as 424): {text}{hint}",
            status=int(model_status),
            body=text,
        )
    return ServiceCallError(f"{where} answered {status}: {text}{hint}", status=status, body=text)


def post(
    url: str,
    body: str | bytes,
    content_type: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    session: requests.Session | None = None,
) -> Any:
    """POST ``body`` to a scoring URI and return the decoded JSON answer.

    A 503 (a full queue) is tried again after each of :data:`QUEUE_FULL_RETRY_WAITS_S`. A non-2xx answer, a lost
    connection, a timeout or an answer that is not JSON raises :class:`ServiceCallError` with the status and the
    body the service sent.
    """
    sender = session if session is not None else requests
    try:
        for wait_s in (*QUEUE_FULL_RETRY_WAITS_S, None):
            response = sender.post(
                url, data=body, headers={"Content-Type": content_type, **(headers or {})}, timeout=timeout
            )
            if response.status_code != 503 or wait_s is None:
                break
            time.sleep(wait_s)
    except requests.Timeout as exc:
        raise ServiceCallError(
            f"No answer from {url} within {timeout:g} s: the service may be overloaded or stuck (its log says which)."
        ) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:  # dropped mid-answer too
        raise ServiceCallError(
            f"Lost the connection to {url} ({exc.__class__.__name__}). Is a service still running there?"
        ) from exc
    if not response.ok:
        text = response.text[:2000]
        hint = ""
        if response.status_code == 401:
            hint = f" The service needs a key or token: pass key= or set {KEY_ENV}."
        elif response.status_code in (503, 504):
            hint = f" {refusal_advice(None, response.status_code)}"
        raise refused_call(url, response.status_code, response.headers, text, hint)
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceCallError(
            f"{url} answered {response.status_code} with a body that is not JSON: {response.text[:500]}",
            status=response.status_code,
            body=response.text[:2000],
        ) from exc


@dataclass(frozen=True)
class ServiceEndpoint:
    """A running service known by its scoring URI (and key, if it needs one)."""

    scoring_uri: str
    key: str | None = None

    @property
    def auth_enabled(self) -> bool:
        return self.key is not None

    def get_keys(self) -> tuple[str | None, None]:
        return self.key, None

    def run(self, input_data: str | bytes) -> Any:
        """POST the tutorial's JSON body and return the answer (as ``AciWebservice.run``)."""
        return post(self.scoring_uri, input_data, JSON_TYPE, headers=auth_headers(key=self.key))

    def __repr__(self) -> str:  # never show the key
        return f"ServiceEndpoint(scoring_uri={self.scoring_uri!r})"


def _labels(answer: Any, expected: int) -> np.ndarray:
    labels = np.asarray(answer)
    if labels.shape != (expected,) or labels.dtype.kind not in "iu":
        raise ServiceCallError(f"Expected {expected} integer labels from the service, got {str(answer)[:200]}")
    return labels


def post_to_service(service: ScoringService, body: str | bytes, content_type: str, **options: Any) -> Any:
    """:func:`post` (with its ``options``) to ``service.scoring_uri``; a call that failed because the
    service's server stopped raises the service's own account of it, when it can give one
    (:meth:`LocalWebservice.stopped_error <mnist_aci.local.service.LocalWebservice.stopped_error>`), and a refusal
    its settings explain says which to change (:func:`~mnist_aci.refusals.explained`)."""
    try:
        return post(service.scoring_uri, body, content_type, **options)
    except ServiceCallError as exc:
        explain = getattr(service, "stopped_error", None)
        stopped = (explain(exc) if callable(explain) else None) or explained(service, exc)
        if stopped is None:
            raise
        raise stopped from exc


def predict_tutorial(service: ScoringService, images: np.ndarray) -> np.ndarray:
    """The tutorial's path: the images as JSON through ``service.run``, in one request, or in requests of at
    most ``service.max_rows_per_request`` images where the service has such a limit (a managed endpoint)."""
    from azureml.exceptions import WebserviceException

    rows = getattr(service, "max_rows_per_request", None) or max(len(images), 1)
    labels = []
    for start in range(0, len(images), rows):
        chunk = images[start : start + rows]
        try:
            answer = service.run(input_data=tutorial_body(chunk))
        except WebserviceException as exc:
            refused = f"{service.scoring_uri} refused the request: {sdk_message(exc)}"
            error = ServiceCallError(refused, status=sdk_response_status(exc))
            raise explained(service, error) or error from exc
        labels.append(_labels(answer, len(chunk)))
    return np.concatenate(labels) if labels else _labels(service.run(input_data=tutorial_body(images)), 0)


def predict(
    service: ScoringService,
    images: np.ndarray,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    headers: dict[str, str] | None = None,
    connections: int = DEFAULT_CONNECTIONS,
) -> np.ndarray:
    """Predicted labels for ``images`` (n, 784), sent as ``.npy`` chunks of ``chunk_rows`` images.

    ``connections`` kept-alive connections carry them, each one request at a time, so that the next
    chunk is encoded and uploaded while the service predicts the current one; labels come back in
    order. A failed chunk raises its error at its turn, and no chunk is sent after the failure (one
    already in flight on another connection is not waited for). ``headers`` are sent
    with every request besides the key's (for example ``{"azureml-model-deployment": "green"}`` to
    score one deployment of an endpoint). A service with token auth gets a new token once the
    current one's refresh time has passed.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1. Got {chunk_rows} instead.")
    if connections < 1:
        raise ValueError(f"connections must be >= 1. Got {connections} instead.")
    credential = Credential(service, key)
    local = threading.local()
    sessions: list[requests.Session] = []
    failed = threading.Event()

    def send(start: int) -> np.ndarray:
        if failed.is_set():  # a chunk after the failed one: its error is raised first, in order
            raise ServiceCallError("not sent: an earlier chunk failed")
        if not hasattr(local, "session"):
            local.session = requests.Session()
            sessions.append(local.session)
        chunk = images[start : start + chunk_rows]
        try:
            sent = {**(headers or {}), **credential.headers()}
            answer = post_to_service(
                service, npy_body(chunk), NPY_TYPE, headers=sent, timeout=timeout, session=local.session
            )
            return _labels(answer, len(chunk))
        except BaseException:
            failed.set()
            raise

    pool = ThreadPoolExecutor(connections, thread_name_prefix="mnist-aci-predict")
    try:
        labels = list(pool.map(send, range(0, len(images), chunk_rows)))
    finally:
        failed.set()  # on an error or Ctrl-C: chunks not yet started are not sent, and the caller does not
        pool.shutdown(wait=False, cancel_futures=True)  # wait for one in flight (its own timeout ends it)
        for session in sessions:
            session.close()
    return np.concatenate(labels) if labels else np.empty(0, dtype=np.int64)


def call_http(
    scoring_uri: str,
    images: np.ndarray,
    *,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[int]:
    """The tutorial's raw HTTP call: POST ``{"data": [...]}`` with ``requests`` (Bearer key optional)."""
    answer = post(scoring_uri, tutorial_body(images), JSON_TYPE, headers=auth_headers(key=key), timeout=timeout)
    return [int(label) for label in _labels(answer, len(images))]
