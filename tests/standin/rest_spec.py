"""Request bodies checked against the published REST API of Microsoft.MachineLearningServices (stub)."""

from __future__ import annotations

from typing import Any


def check_body(method: str, path: str, api_version: str, body: Any) -> str | None:
    """None when the spec accepts ``body``, else what it refuses."""
    return None
