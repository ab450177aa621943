"""Step 1 of the tutorial on SDK v2: an ``MLClient`` for the workspace in the same ``config.json``.

``MLClient.from_config(credential, path=...)`` reads the file SDK v1's ``Workspace.from_config`` reads.
The credential is azure-identity's ``DefaultAzureCredential`` (``az login``, the ``AZURE_*`` environment
variables of a service principal, a managed identity, ...), or with ``tenant_id`` the Azure CLI's login on
that tenant, then an interactive browser login on it (as SDK v1's ``InteractiveLoginAuthentication``). The
credential is tried once before any other call, so a missing login is one clear error, not a deep one, and a
network that does not reach Azure is said so, not taken for a missing login.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NETWORK_HELP, WorkspaceError, connection_failure, sdk_message
from ..workspace_config import read_workspace_config

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

#: The scope a credential must give a token for to manage Azure ML resources.
ARM_SCOPE = "https://management.azure.com/.default"
LOGIN_HELP = (
    "Log in with `az login` (with several tenants: `az login --tenant <id>` and tenant_id=<id>), set "
    "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal, or run where a managed "
    "identity has access to the workspace; then run again."
)


def azure_credential(tenant_id: str | None = None) -> TokenCredential:
    """``DefaultAzureCredential()``; with ``tenant_id``, the Azure CLI's then a browser login on that tenant."""
    from azure.identity import (
        AzureCliCredential,
        ChainedTokenCredential,
        DefaultAzureCredential,
        InteractiveBrowserCredential,
    )

    if tenant_id is None:
        return DefaultAzureCredential()
    return ChainedTokenCredential(
        AzureCliCredential(tenant_id=tenant_id), InteractiveBrowserCredential(tenant_id=tenant_id)
    )


class _Failures(logging.Handler):
    """Keeps the exceptions that azure-identity logs with their ``exc_info``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.exceptions: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exceptions.append(record.exc_info[1])


@contextmanager
def credential_failures() -> Iterator[list[BaseException]]:
    """What each credential tried in the block raised, with nothing of azure-identity's log shown: a chain of
    credentials (``DefaultAzureCredential``) raises one error holding only their messages, and logs each one's
    exception at DEBUG (its warning would repeat the error the caller raises, as a page of text)."""
    identity_log = logging.getLogger("azure.identity")
    level, propagate = identity_log.level, identity_log.propagate
    failures = _Failures()
    identity_log.addHandler(failures)
    identity_log.setLevel(logging.DEBUG)
    identity_log.propagate = False
    try:
        yield failures.exceptions
    finally:
        identity_log.removeHandler(failures)
        identity_log.setLevel(level)
        identity_log.propagate = propagate


def check_credential(credential: Any) -> None:
    """Ask ``credential`` for a token once; no login raises :class:`WorkspaceError` saying how to log in, a sign-in
    that never reached Azure (no network, a proxy refusing it) one saying to check the network."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    with credential_failures() as failures:
        try:
            credential.get_token(ARM_SCOPE)
        except ClientAuthenticationError as exc:
            # A credential that is unavailable here did not try (a managed identity's endpoint is absent off Azure).
            tried = [exc, *(e for e in failures if not isinstance(e, CredentialUnavailableError))]
            failure = next(filter(None, map(connection_failure, tried)), None)
            if failure is not None:
                raise WorkspaceError(f"Could not reach Azure to sign in ({failure}). {NETWORK_HELP}") from exc
            raise WorkspaceError(f"No Azure credential could sign in ({sdk_message(exc)}). {LOGIN_HELP}") from exc


def load_ml_client(path: str | Path | None = None, *, tenant_id: str | None = None) -> MLClient:
    """``MLClient.from_config(credential, path=config.json)``, with the file and the login checked first."""
    from azure.ai.ml import MLClient
    from azure.core.exceptions import AzureError

    found, config = read_workspace_config(path)
    credential = azure_credential(tenant_id)
    check_credential(credential)
    try:
        return MLClient.from_config(credential, path=str(found))
    except AzureError as exc:
        raise WorkspaceError(
            f"Could not open workspace {config['workspace_name']!r} from {found}: {sdk_message(exc)}. "
            "Check the subscription, resource group and workspace name, and that your account can access them."
        ) from exc
