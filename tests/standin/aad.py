"""Sign-in: Microsoft Entra ID (``login.microsoftonline.com``) for a service principal with a client secret.

Both SDKs sign in through MSAL with the client-credentials grant (azure-identity's ``EnvironmentCredential``
for SDK v2; azureml-core's ``ServicePrincipalAuthentication`` for v1): instance discovery, the tenant's
OpenID configuration, then a POST to the token endpoint. Shapes follow the Microsoft identity platform
documentation ("OAuth 2.0 client credentials flow", "OpenID Connect discovery document"). Tokens are
JWTs signed with a key of this stand-in; the other services accept only tokens it issued
(:meth:`Entra.refuse_unless_signed_in`), so a flow that skipped the sign-in fails as it would on Azure.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import jwt
from werkzeug.wrappers import Request, Response

from .server import StandInServer, azure_error, json_response

LOGIN_HOST = r"login\.microsoftonline\.com|login\.windows\.net|login\.microsoft\.com"
TOKEN_LIFETIME_S = 3600
_SIGNING_KEY = "azure-standin-signing-key-" + uuid.uuid4().hex


@dataclass
class ServicePrincipal:
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: "standin-secret-" + uuid.uuid4().hex)
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def environment(self) -> dict[str, str]:
        """The variables of a service principal sign-in: azure-identity's ``EnvironmentCredential`` (SDK v2)
        reads ``AZURE_*``; azureml-core's ambient authentication (SDK v1, ``Workspace.from_config`` without
        ``auth``) reads ``AZUREML_SERVICE_PRINCIPAL_*`` (``azureml/core/authentication.py``, ``_get_ambient``)."""
        return {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZUREML_SERVICE_PRINCIPAL_TENANT_ID": self.tenant_id,
            "AZUREML_SERVICE_PRINCIPAL_ID": self.client_id,
            "AZUREML_SERVICE_PRINCIPAL_PASSWORD": self.client_secret,
        }


def issuer(tenant: str) -> str:
    return f"https://login.microsoftonline.com/{tenant}/v2.0"


@dataclass
class Entra:
    """The tenant's sign-in endpoints, for one service principal."""

    principal: ServicePrincipal = field(default_factory=ServicePrincipal)
    issued: int = 0

    def install(self, server: StandInServer) -> None:
        server.route("GET", LOGIN_HOST, r"/(?P<tenant>[^/]+)/discovery/instance")(self.instance_discovery)
        server.route("GET", LOGIN_HOST, r"/(?P<tenant>[^/]+)(?P<v2>/v2\.0)?/\.well-known/openid-configuration")(
            self.openid_configuration
        )
        server.route("POST", LOGIN_HOST, r"/(?P<tenant>[^/]+)/oauth2(?P<v2>/v2\.0)?/token")(self.token)

    def instance_discovery(self, request: Request, match: re.Match[str]) -> Response:
        authority = request.args.get(
            "authorization_endpoint", "https://login.microsoftonline.com/common/oauth2/authorize"
        )
        tenant = authority.split("/")[3] if authority.count("/") >= 3 else "common"
        return json_response(
            200,
            {
                "tenant_discovery_endpoint": f"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": "login.microsoftonline.com",
                        "preferred_cache": "login.windows.net",
                        "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com"],
                    }
                ],
            },
        )

    def openid_configuration(self, request: Request, match: re.Match[str]) -> Response:
        tenant = match["tenant"]
        if tenant not in (self.principal.tenant_id, "common", "organizations"):
            return _oauth_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        v2 = "/v2.0" if match["v2"] else ""
        base = f"https://login.microsoftonline.com/{tenant}"
        return json_response(
            200,
            {
                "token_endpoint": f"{base}/oauth2{v2}/token",
                "authorization_endpoint": f"{base}/oauth2{v2}/authorize",
                "device_authorization_endpoint": f"{base}/oauth2{v2}/devicecode",
                "issuer": issuer(tenant) if v2 else f"https://sts.windows.net/{tenant}/",
                "jwks_uri": f"{base}/discovery{v2}/keys",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": "EU",
            },
        )

    def token(self, request: Request, match: re.Match[str]) -> Response:
        tenant = match["tenant"]
        form = {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "AADSTS70003: only client credentials are modelled.")
        if tenant != self.principal.tenant_id:
            return _oauth_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        if (
            form.get("client_id") != self.principal.client_id
            or form.get("client_secret") != self.principal.client_secret
        ):
            return _oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
                "client secret value, not the client secret ID.",
            )
        scope = form.get("scope") or form.get("resource") or "https://management.azure.com/.default"
        audience = scope.split()[0].removesuffix(".default").removesuffix("/") + "/"
        self.issued += 1
        now = int(time.time())
        token = jwt.encode(
            {
                "aud": audience,
                "iss": f"https://sts.windows.net/{tenant}/",
                "iat": now,
                "nbf": now,
                "exp": now + TOKEN_LIFETIME_S,
                "appid": self.principal.client_id,
                "oid": self.principal.object_id,
                "sub": self.principal.object_id,
                "tid": tenant,
                "idtyp": "app",
                "ver": "1.0",
            },
            _SIGNING_KEY,
            algorithm="HS256",
        )
        answer = {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S}
        if not match["v2"]:
            answer |= {"expires_on": str(now + TOKEN_LIFETIME_S), "resource": form.get("resource", audience)}
        return json_response(200, {**answer, "access_token": token})

    @staticmethod
    def refuse_unless_signed_in(request: Request) -> Response | None:
        """None when the request carries a bearer token this stand-in issued, else Azure's 401."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise jwt.InvalidTokenError("no bearer token")
            jwt.decode(token, _SIGNING_KEY, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.InvalidTokenError as exc:
            return azure_error(
                401,
                "AuthenticationFailed" if scheme else "AuthenticationRequired",
                f"Authentication failed: {exc}.",
                {"WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common"'},
            )
        return None


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:].split(":")[0])] if description.startswith("AADSTS") else [],
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )
