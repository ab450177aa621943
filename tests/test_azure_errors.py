"""SDK v1's errors as one message: the status, the service's own words and what to do, whatever the text holds."""

from __future__ import annotations

import pytest
import requests
from azureml.exceptions import WebserviceException
from hypothesis import given, strategies as st
from msrest.exceptions import HttpOperationError

from mnist_aci.azure_v1.sdk_errors import azure_ml_call, describe, retry_after_s, sdk_status
from mnist_aci.errors import DeploymentError, WorkspaceError, is_sdk_v1_error

BAD_RESPONSE = (
    "Received bad response from Model Management Service:\nResponse Code: {status}\n"
    "Headers: {{'Retry-After': '{wait}', 'Content-Type': 'application/json'}}\n"
    'Content: b\'{{"error": {{"code": "X", "message": "{message}"}}}}\''
)


def http_error(status: int, body: str, headers: dict[str, str]) -> HttpOperationError:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers.update(headers)
    return HttpOperationError(deserialize=None, response=response)


@pytest.mark.parametrize(
    ("exc", "status", "wait", "said", "advice"),
    [
        (
            WebserviceException(BAD_RESPONSE.format(status=429, wait=30, message="Slow down")),
            429,
            30,
            "Slow down",
            "throttling",
        ),
        (WebserviceException(BAD_RESPONSE.format(status=409, wait=0, message="Busy")), 409, 0, "Busy", "still running"),
        (Exception("Error retrieving the environment definition. Code: 403\n: {}"), 403, None, "Code: 403", "role"),
        (http_error(503, '{"error": {"message": "Try later"}}', {"Retry-After": "5"}), 503, 5, "Try later", "internal"),
        (http_error(404, "not json", {}), 404, None, "Operation returned", "names in the command"),
        (WebserviceException("No status here at all"), None, None, "No status here at all", "names in the command"),
    ],
)
def test_each_answer_is_described_with_its_status_message_and_advice(exc, status, wait, said, advice):
    assert sdk_status(exc) == status
    assert retry_after_s(exc) == wait
    message = describe("Doing it", exc)
    assert message.startswith("Doing it failed. ")
    assert said in message
    assert advice in message.splitlines()[-1]


@given(st.text(), st.integers(min_value=100, max_value=599))
def test_any_text_gives_one_message_naming_the_action(text, status):
    for exc in (WebserviceException(text), http_error(status, text, {})):
        message = describe("Looking up model 'sklearn_mnist'", exc)
        assert message.startswith("Looking up model 'sklearn_mnist' failed. ")
        assert len(message.splitlines()) >= 2


def test_only_sdk_errors_are_translated():
    with (
        pytest.raises(WorkspaceError, match="Opening failed. Azure ML answered 409"),
        azure_ml_call("Opening", WorkspaceError),
    ):
        raise WebserviceException(BAD_RESPONSE.format(status=409, wait=1, message="Busy"))
    with pytest.raises(KeyError), azure_ml_call("Opening"):
        raise KeyError("a bug of ours stays a bug")
    assert is_sdk_v1_error(http_error(500, "", {}))
    assert not is_sdk_v1_error(DeploymentError("ours"))
