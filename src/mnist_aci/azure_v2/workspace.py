"""Step 1 of the tutorial on SDK v2: an ``MLClient`` for the workspace in the same ``config.json``.

``MLClient.from_config(credential, path=...)`` reads the file SDK v1's ``Workspace.from_config`` reads.
The credential is azure-identity's ``DefaultAzureCredential`` (``az login``, the ``AZURE_*`` environment
variables of a service principal, a managed identity, ...), or with ``tenant_id`` the Azure CLI's login on
that tenant, then an interactive browser login on it (as SDK v1's ``InteractiveLoginAuthentication``). The
credential is tried once before any other call, so a missing login is one clear error, not a deep one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import WorkspaceError, sdk_message
from ..workspace_config import read_workspace_config

#: The scope a credential must give a token for to manage Azure ML resources.
ARM_SCOPE = "https://management.azure.com/.default"
LOGIN_HELP = (
    "Log in with `az login` (with several tenants: `az login --tenant <id>` and --tenant-id <id>), set "
    "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal, or run where a managed "
    "identity has access to the workspace; then run again."
)


def azure_credential(tenant_id: str | None = None) -> Any:
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


def check_credential(credential: Any) -> None:
    """Ask ``credential`` for a token once; no login raises :class:`WorkspaceError` saying how to log in."""
    from azure.core.exceptions import ClientAuthenticationError

    identity_log = logging.getLogger("azure.identity")
    level = identity_log.level
    identity_log.setLevel(logging.CRITICAL)  # its warning would repeat the error below, as a page of text
    try:
        credential.get_token(ARM_SCOPE)
    except ClientAuthenticationError as exc:
        raise WorkspaceError(f"No Azure credential could sign in ({sdk_message(exc)}). {LOGIN_HELP}") from exc
    finally:
        identity_log.setLevel(level)


def load_ml_client(path: str | Path | None = None, *, tenant_id: str | None = None) -> Any:
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
