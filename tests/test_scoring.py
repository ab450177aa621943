"""The scoring client: bodies, keys and errors (HTTP answers from a real local HTTP server)."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar
from unittest import mock

import numpy as np
import pytest
from azureml.core.webservice import AciWebservice, AksWebservice
from azureml.exceptions import WebserviceException
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from support.processes import free_port

from mnist_aci import scoring
from mnist_aci.credential import Credential
from mnist_aci.errors import ServiceCallError
from mnist_aci.tutorial import KEY_ENV

if TYPE_CHECKING:
    from mnist_aci.data import Dataset


class _Handler(BaseHTTPRequestHandler):
    status = 200
    body = b"[1, 2]"
    last_headers: ClassVar[dict[str, str]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).last_headers = dict(self.headers)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` on 127.0.0.1 in a thread: its scoring URL, for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/score"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {})
    with serving(handler) as url:
        yield url, handler


def test_npy_body_is_uint8_when_lossless(sample_data: Dataset) -> None:
    body = scoring.npy_body(sample_data.x_test[:10])
    array = np.load(io.BytesIO(body))
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array / 255.0, sample_data.x_test[:10])


def test_npy_body_keeps_floats_that_are_not_pixels_over_255() -> None:
    images = np.full((2, 784), 0.123456789)
    array = np.load(io.BytesIO(scoring.npy_body(images)))
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, images)


def npy_body_before(images: np.ndarray) -> bytes:
    """The .npy body as the client built it before it was made faster (np.save of the chosen array)."""
    images = np.asarray(images)
    with np.errstate(over="ignore"):
        pixels = np.rint(images * 255.0)
    if np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 255:
        as_uint8 = pixels.astype(np.uint8)
        if np.array_equal(as_uint8 / 255.0, images):
            images = as_uint8
    buffer = io.BytesIO()
    np.save(buffer, images, allow_pickle=False)
    return buffer.getvalue()


pixel_images = hnp.arrays(np.uint8, st.tuples(st.integers(1, 3), st.just(784)), fill=st.integers(0, 255)).map(
    lambda pixels: pixels / 255.0
)
odd_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-300, 300).map(lambda value: value / 255.0)
)
odd_images = hnp.arrays(
    np.float64, st.tuples(st.integers(1, 3), st.sampled_from([784, 3])), elements=odd_values, fill=odd_values
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images=st.one_of(pixel_images, odd_images, pixel_images.map(lambda images: images[:, ::-1])))
def test_npy_body_is_byte_for_byte_the_body_np_save_made(images: np.ndarray) -> None:
    assert scoring.npy_body(images) == npy_body_before(images)


def test_tutorial_body_is_json_of_the_list(sample_data: Dataset) -> None:
    import json

    assert json.loads(scoring.tutorial_body(sample_data.x_test[:2])) == {"data": sample_data.x_test[:2].tolist()}


def test_tutorial_body_refuses_non_finite_images() -> None:
    images = np.zeros((1, 784))
    images[0, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        scoring.tutorial_body(images)


def test_auth_headers_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    service = mock.create_autospec(AksWebservice, instance=True)
    service.auth_enabled = True
    service.get_keys.return_value = ("primary", "secondary")
    monkeypatch.delenv(KEY_ENV, raising=False)
    assert scoring.auth_headers() == {}
    assert scoring.auth_headers(service) == {"Authorization": "Bearer primary"}
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert scoring.auth_headers(service) == {"Authorization": "Bearer from-env"}
    assert scoring.auth_headers(service, key="explicit") == {"Authorization": "Bearer explicit"}
    service.auth_enabled = False
    monkeypatch.delenv(KEY_ENV)
    assert scoring.auth_headers(service) == {}


def test_a_token_is_fetched_again_once_its_refresh_time_has_passed_and_not_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    now = datetime.datetime.now()
    service = mock.create_autospec(AksWebservice, instance=True)
    service.auth_enabled, service.token_auth_enabled = False, True
    service.get_access_token.side_effect = [
        mock.Mock(access_token="due", refresh_after=now - datetime.timedelta(seconds=1)),
        mock.Mock(access_token="fresh", refresh_after=now + datetime.timedelta(hours=1)),
    ]
    credential = Credential(service)

    assert [credential.value() for _ in range(3)] == ["due", "fresh", "fresh"]
    assert service.get_access_token.call_count == 2
    assert credential.headers() == {"Authorization": "Bearer fresh"}
    service.get_keys.assert_not_called()
    assert scoring.auth_headers(service, key="explicit") == {"Authorization": "Bearer explicit"}
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert scoring.service_key(service) == "from-env"
    assert service.get_access_token.call_count == 2


def test_call_http_sends_json_and_the_key(fake_server: tuple[str, type[_Handler]], sample_data: Dataset) -> None:
    url, handler = fake_server
    handler.body = b"[7]"
    assert scoring.call_http(url, sample_data.x_test[:1], key="k1") == [7]
    assert handler.last_headers["Content-Type"] == "application/json"
    assert handler.last_headers["Authorization"] == "Bearer k1"


@pytest.mark.parametrize(("status", "hint"), [(401, "needs a key"), (500, "500"), (502, "502")])
def test_non_2xx_shows_status_and_body(fake_server: tuple[str, type[_Handler]], status: int, hint: str) -> None:
    url, handler = fake_server
    handler.status, handler.body = status, b'{"message": "boom"}'
    with pytest.raises(ServiceCallError, match=hint) as info:
        scoring.post(url, b"{}", scoring.JSON_TYPE, headers={"Authorization": "Bearer hidden-key"})
    assert info.value.status == status
    assert "boom" in info.value.body
    assert "hidden-key" not in str(info.value)


def test_answer_that_is_not_json_is_an_error(fake_server: tuple[str, type[_Handler]]) -> None:
    url, handler = fake_server
    handler.body = b"<html>"
    with pytest.raises(ServiceCallError, match="not JSON"):
        scoring.post(url, b"{}", scoring.JSON_TYPE)


def test_wrong_number_of_labels_is_an_error(fake_server: tuple[str, type[_Handler]], sample_data: Dataset) -> None:
    url, handler = fake_server
    handler.body = b"[1, 2]"
    with pytest.raises(ServiceCallError, match="Expected 3 integer labels"):
        scoring.predict(scoring.ServiceEndpoint(url), sample_data.x_test[:3])


def test_refused_connection_is_a_clear_error_naming_nothing_the_service_lacks() -> None:
    """A service known by its scoring URI alone has no state or log to look at: none is named."""
    url = f"http://127.0.0.1:{free_port()}/score"
    with pytest.raises(ServiceCallError, match="Lost the connection") as lost:
        scoring.predict(scoring.ServiceEndpoint(url), np.zeros((1, 784)))
    assert str(lost.value) == f"Lost the connection to {url} (ConnectionError). Is a service still running there?"


def test_predict_chunks_requests(fake_server: tuple[str, type[_Handler]], sample_data: Dataset) -> None:
    url, handler = fake_server
    handler.body = b"[0, 0]"
    labels = scoring.predict(scoring.ServiceEndpoint(url), sample_data.x_test[:6], chunk_rows=2)
    assert labels.tolist() == [0] * 6
    with pytest.raises(ValueError, match="chunk_rows must be >= 1"):
        scoring.predict(scoring.ServiceEndpoint(url), sample_data.x_test[:6], chunk_rows=0)


class _EchoHandler(_Handler):
    """Answers each .npy chunk with the labels written in its images (first pixel x 255); 500 from the
    request number ``fail_at`` on."""

    fail_at = 10**9
    received = 0
    answered = 0
    lock = threading.Lock()
    #: A chunk whose first label is ``held_label`` is answered only once ``release`` is set.
    held_label = -1
    release = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            type(self).received += 1
            failing = type(self).received >= self.fail_at
        first_pixels = np.load(io.BytesIO(body))[:, 0]
        labels = first_pixels if first_pixels.dtype == np.uint8 else np.rint(first_pixels * 255)
        if labels[0] == self.held_label:
            self.release.wait(timeout=60)
        with self.lock:
            type(self).answered += 1
        self.send_response(500 if failing else 200)
        self.end_headers()
        self.wfile.write(b"boom" if failing else json.dumps([int(label) for label in labels]).encode())


@pytest.fixture
def echo_server(fake_server: tuple[str, type[_Handler]]) -> Iterator[tuple[str, type[_EchoHandler]]]:
    handler = type("Echo", (_EchoHandler,), {"lock": threading.Lock(), "release": threading.Event()})
    with serving(handler) as url:
        yield url, handler


def labelled_images(count: int) -> np.ndarray:
    images = np.zeros((count, 784))
    images[:, 0] = np.arange(count) % 10 / 255.0
    return images


@pytest.mark.parametrize(("connections", "chunk_rows"), [(1, 3), (2, 1), (3, 4), (5, 100)])
def test_predict_returns_the_labels_in_order_whatever_the_connections(
    echo_server: tuple[str, type[_EchoHandler]], connections: int, chunk_rows: int
) -> None:
    url, handler = echo_server
    images = labelled_images(23)
    labels = scoring.predict(scoring.ServiceEndpoint(url), images, chunk_rows=chunk_rows, connections=connections)
    assert labels.tolist() == [index % 10 for index in range(23)]
    assert handler.received == -(-23 // chunk_rows)


@pytest.mark.parametrize("connections", [1, 2])
def test_predict_stops_sending_after_a_failed_chunk(
    echo_server: tuple[str, type[_EchoHandler]], connections: int
) -> None:
    url, handler = echo_server
    handler.fail_at = 2
    with pytest.raises(ServiceCallError, match="500"):
        scoring.predict(scoring.ServiceEndpoint(url), labelled_images(40), chunk_rows=2, connections=connections)
    assert handler.received <= 2 + connections - 1  # up to the failed chunk, and what was already in flight


def test_a_failed_chunk_does_not_wait_for_the_chunk_in_flight_on_the_other_connection(
    echo_server: tuple[str, type[_EchoHandler]],
) -> None:
    url, handler = echo_server
    handler.fail_at, handler.held_label = 1, 1  # the first request fails; the chunk of label 1 is held
    images = labelled_images(2)
    try:
        with pytest.raises(ServiceCallError, match="500"):
            scoring.predict(scoring.ServiceEndpoint(url), images, chunk_rows=1, connections=2)
        assert handler.answered <= 1  # the held chunk is still unanswered: predict did not wait for it
    finally:
        handler.release.set()


def test_predict_refuses_zero_connections(fake_server: tuple[str, type[_Handler]], sample_data: Dataset) -> None:
    url, _handler = fake_server
    with pytest.raises(ValueError, match="connections must be >= 1"):
        scoring.predict(scoring.ServiceEndpoint(url), sample_data.x_test[:6], connections=0)


def test_predict_tutorial_is_the_tutorials_service_run(sample_data: Dataset) -> None:
    service = mock.create_autospec(AciWebservice, instance=True)
    service.run.return_value = [3, 4]
    labels = scoring.predict_tutorial(service, sample_data.x_test[:2])
    service.run.assert_called_once_with(input_data=scoring.tutorial_body(sample_data.x_test[:2]))
    assert labels.tolist() == [3, 4]


def test_predict_tutorial_turns_sdk_errors_into_a_clear_error(sample_data: Dataset) -> None:
    service = mock.create_autospec(AciWebservice, instance=True)
    service.scoring_uri = "http://service/score"
    service.run.side_effect = WebserviceException("Received bad response from service.\nResponse Code: 502")
    with pytest.raises(ServiceCallError, match="http://service/score refused the request: Received bad response"):
        scoring.predict_tutorial(service, sample_data.x_test[:2])
