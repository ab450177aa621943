"""The SDKs' errors as one message. SDK v1's: the status, the service's own words and what to do, whatever the
text holds. SDK v2's (azure-core): the whole cause, details included."""

from __future__ import annotations

import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.core.exceptions import ARMErrorFormat
from azureml.exceptions import WebserviceException
from hypothesis import given, strategies as st
from msrest.exceptions import HttpOperationError
from msrest.serialization import Deserializer

from mnist_aci.azure_v1.sdk_errors import azure_ml_call, describe, retry_after_s, sdk_status
from mnist_aci.errors import DeploymentError, WorkspaceError, is_sdk_v1_error, sdk_message

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
    return HttpOperationError(deserialize=Deserializer(), response=response)


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
def test_each_answer_is_described_with_its_status_message_and_advice(
    exc: Exception, status: int | None, wait: int | None, said: str, advice: str
) -> None:
    assert sdk_status(exc) == status
    assert retry_after_s(exc) == wait
    message = describe("Doing it", exc)
    assert message.startswith("Doing it failed. ")
    assert said in message
    assert advice in message.splitlines()[-1]


@given(st.text(), st.integers(min_value=100, max_value=599))
def test_any_text_gives_one_message_naming_the_action(text: str, status: int) -> None:
    for exc in (WebserviceException(text), http_error(status, text, {})):
        message = describe("Looking up model 'sklearn_mnist'", exc)
        assert message.startswith("Looking up model 'sklearn_mnist' failed. ")
        assert len(message.splitlines()) >= 2


def test_only_sdk_errors_are_translated() -> None:
    with (
        pytest.raises(WorkspaceError, match="Opening failed. Azure ML answered 409"),
        azure_ml_call("Opening", WorkspaceError),
    ):
        raise WebserviceException(BAD_RESPONSE.format(status=409, wait=1, message="Busy"))
    with pytest.raises(KeyError), azure_ml_call("Opening"):
        raise KeyError("a bug of ours stays a bug")
    assert is_sdk_v1_error(http_error(500, "", {}))
    assert not is_sdk_v1_error(DeploymentError("ours"))


class Answer:
    """The little of an HTTP answer azure-core's HttpResponseError reads."""

    reason = "Bad Request"
    status_code = 400
    request = "PUT https://management.azure.com/"  # HttpResponseError's protocol names it; it never reads it

    def __init__(self, body: dict) -> None:
        self.body = json.dumps(body)

    def text(self) -> str:
        return self.body


def refusal(detail_message: str) -> HttpResponseError:
    """Azure's refusal of a deployment PUT, as azure-ai-ml's generated client raises it (ARM's error format)."""
    body = {
        "error": {
            "code": "BadRequest",
            "message": "The request is invalid.",
            "details": [{"code": "InferencingClientCreateDeploymentFailed", "message": detail_message}],
        }
    }
    return HttpResponseError(response=Answer(body), error_format=ARMErrorFormat)


#: The quota refusal users report (Azure-Samples/rag-data-openai-python-promptflow#4), subscription and trace hidden.
QUOTA = (
    "Not enough quota available for Standard_DS3_v2 in SubscriptionId X. Current usage/limit: 0/6. Additional "
    "needed: 8 Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-outofquota"
)
QUOTA_DETAIL = "InferencingClient HttpRequest error, error detail: " + json.dumps(
    {
        "errors": {"VmSize": [QUOTA]},
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "traceId": "00-0-0-01",
    }
)


def test_an_sdk_v2_refusal_is_told_with_the_cause_its_details_carry() -> None:
    exc = refusal(QUOTA_DETAIL)
    assert str(exc).splitlines()[0] == "(BadRequest) The request is invalid."  # all the first line says
    assert sdk_message(exc) == (
        f"(BadRequest) The request is invalid. (InferencingClientCreateDeploymentFailed) VmSize: {QUOTA}"
    )


@given(st.text(max_size=300))
def test_any_detail_of_an_sdk_v2_error_reaches_the_message(detail: str) -> None:
    message = sdk_message(refusal(detail))
    assert message.startswith("(BadRequest) The request is invalid. (InferencingClientCreateDeploymentFailed) ")
    if "{" not in detail:  # no validation problem in it: the detail as Azure wrote it
        assert message.endswith(detail)
