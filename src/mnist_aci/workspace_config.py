"""The workspace ``config.json`` of the tutorial, found and checked before any SDK call (v1 and v2 alike).

SDK v1's ``Workspace.from_config`` and SDK v2's ``MLClient.from_config`` read the same file; this module
finds it as they do and refuses a missing, malformed or unfilled one with a message that says what to do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .errors import WorkspaceConfigError

CONFIG_KEYS = ("subscription_id", "resource_group", "workspace_name")
#: A value of config.json.example ("<your Azure subscription id>") that was not replaced.
PLACEHOLDER = re.compile(r"<[^<>]*>")


def config_search_paths(path: str | Path | None = None) -> list[Path]:
    """The files ``Workspace.from_config(path)`` looks at, in its order.

    A file is taken as it is; from a folder (default: the current one) the SDK looks for
    ``.azureml/config.json``, then ``aml_config/config.json``, then ``config.json``, each in
    the folder and then in each of its parents.
    """
    start = Path(path) if path is not None else Path.cwd()
    if start.is_file() or start.suffix == ".json":
        return [start]
    chain = [start.resolve(), *start.resolve().parents]
    return [folder / sub / "config.json" for sub in (".azureml", "aml_config", "") for folder in chain]


def read_workspace_config(path: str | Path | None = None) -> tuple[Path, dict[str, str]]:
    """Find and check the workspace ``config.json``: its path and its three required keys.

    Raises :class:`WorkspaceConfigError` naming every path searched when none exists, or the
    problem when the file is not JSON or lacks a key. Values are never echoed (they identify
    the subscription).
    """
    searched = config_search_paths(path)
    found = next((p for p in searched if p.is_file()), None)
    if found is None:
        listing = "\n  ".join(str(p) for p in searched)
        raise WorkspaceConfigError(
            f"No workspace config.json found. Searched:\n  {listing}\n"
            "Download config.json from your workspace in the Azure portal (or copy "
            "config.json.example and fill in your subscription, resource group and workspace), "
            "then pass its path with --config."
        )
    try:
        content: Any = json.loads(found.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceConfigError(
            f"{found} is not valid JSON ({exc.__class__.__name__} at {getattr(exc, 'pos', '?')}). "
            "Compare it with config.json.example."
        ) from exc
    if not isinstance(content, dict):
        raise WorkspaceConfigError(f"{found} must hold a JSON object; compare it with config.json.example.")
    missing = [key for key in CONFIG_KEYS if not isinstance(content.get(key), str) or not content[key].strip()]
    if missing:
        raise WorkspaceConfigError(
            f"{found} lacks {', '.join(missing)} (each a non-empty string). Compare it with config.json.example."
        )
    unfilled = [key for key in CONFIG_KEYS if PLACEHOLDER.fullmatch(content[key].strip())]
    if unfilled:
        raise WorkspaceConfigError(
            f"{found} still holds the example's placeholders for {', '.join(unfilled)}. Fill them in with your "
            "workspace's values (Azure portal > your Azure ML workspace > Download config.json), then run again."
        )
    return found, {key: content[key] for key in CONFIG_KEYS}
