"""Step 1 of the tutorial: the SDK version and the workspace (``Workspace.from_config``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NETWORK_HELP, WorkspaceError, connection_failure, sdk_message
from ..workspace_config import read_workspace_config

if TYPE_CHECKING:
    from azureml.core import Workspace


def load_workspace(path: str | Path | None = None, *, tenant_id: str | None = None) -> Workspace:
    """``Workspace.from_config(path)``, with the config file checked first.

    ``tenant_id`` is for users whose account belongs to several Azure tenants: it logs in
    interactively on that tenant (``InteractiveLoginAuthentication(tenant_id=...)``).
    """
    from azureml.core import Workspace
    from azureml.core.authentication import InteractiveLoginAuthentication
    from azureml.exceptions import AzureMLException

    found, config = read_workspace_config(path)
    try:
        auth = InteractiveLoginAuthentication(tenant_id=tenant_id) if tenant_id else None
        return Workspace.from_config(path=str(found), auth=auth)
    except Exception as exc:  # the sign-in's requests errors escape azureml-core unwrapped
        if (failure := connection_failure(exc)) is not None:
            raise WorkspaceError(
                f"Could not reach Azure to open workspace {config['workspace_name']!r} ({failure}). {NETWORK_HELP}"
            ) from exc
        if not isinstance(exc, AzureMLException | ValueError):  # MSAL raises ValueError for an unknown tenant
            raise
        raise WorkspaceError(
            f"Could not open workspace {config['workspace_name']!r} from {found}: {sdk_message(exc)}. "
            "Check the resource group and workspace name, that your account can access them, and "
            "with several Azure tenants pass tenant_id=<tenant>."
        ) from exc
