"""The stand-in itself: the real SDKs' sign-in reaches it through the proxy, and it refuses what it does not model."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import EnvironmentCredential
from azureml.core.authentication import ServicePrincipalAuthentication

MANAGEMENT_SCOPE = "https://management.azure.com/.default"


def test_azure_identity_signs_in_with_the_service_principal_of_the_environment(azure_standin):
    token = EnvironmentCredential().get_token(MANAGEMENT_SCOPE)

    assert token.token
    assert azure_standin.entra.issued == 1
    assert [call.host for call in azure_standin.server.calls] == ["login.microsoftonline.com"] * len(
        azure_standin.server.calls
    )


def test_azureml_core_signs_in_with_a_service_principal(azure_standin):
    principal = azure_standin.entra.principal
    auth = ServicePrincipalAuthentication(principal.tenant_id, principal.client_id, principal.client_secret)

    header = auth.get_authentication_header()

    assert header["Authorization"].startswith("Bearer ")
    assert azure_standin.entra.issued >= 1


def test_a_wrong_secret_is_refused_as_entra_refuses_it(azure_standin, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")

    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        EnvironmentCredential().get_token(MANAGEMENT_SCOPE)
    assert azure_standin.entra.issued == 0


def test_a_request_no_service_models_is_a_404_kept_for_the_test(azure_standin):
    answer = requests.get("https://example.blob.core.windows.net/nothing?comp=list", timeout=30)

    assert answer.status_code == 404
    assert "no route" in answer.json()["error"]["message"]
    assert [str(call) for call in azure_standin.server.unknown] == [
        "GET https://example.blob.core.windows.net/nothing?comp=list -> 404"
    ]


def test_bearer_tokens_are_checked(azure_standin):
    from standin.aad import Entra
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    token = EnvironmentCredential().get_token(MANAGEMENT_SCOPE).token
    signed = Request(EnvironBuilder(headers={"Authorization": f"Bearer {token}"}).get_environ())
    forged = Request(EnvironBuilder(headers={"Authorization": "Bearer e30.e30.c2ln"}).get_environ())

    assert Entra.refuse_unless_signed_in(signed) is None
    refused = Entra.refuse_unless_signed_in(forged)
    assert refused is not None
    assert refused.status_code == 401
