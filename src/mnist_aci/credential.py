"""How calls to a service are authorized: ``Authorization: Bearer`` with a key or an access token.

A key comes from the caller, the ``MNIST_ACI_SERVICE_KEY`` environment variable or the service
(``service.get_keys()``). An AKS service with token auth takes access tokens instead
(``service.get_access_token()``), which expire: a new one is fetched once the current one's refresh time has passed,
as Microsoft's v1 docs ask ("Configure authentication for models deployed as web services"). Neither is ever printed
or put in an error message.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Protocol, runtime_checkable

from .service import ScoringService
from .tutorial import KEY_ENV


@runtime_checkable
class TokenService(Protocol):
    """A service that can take access tokens: SDK v1's ``AksWebservice``, whose ``token_auth_enabled`` says whether
    it does."""

    token_auth_enabled: bool | None

    def get_access_token(self) -> Any:
        """A new token: its ``access_token``, and ``refresh_after``, the datetime after which to fetch another."""


class Credential:
    """What a service's calls carry: ``key``, else ``$MNIST_ACI_SERVICE_KEY``, else the service's access token when
    it has token auth (fetched again once its refresh time has passed), else its primary key when it has key auth;
    nothing for a service without auth. One credential may serve several threads."""

    def __init__(self, service: ScoringService | None = None, key: str | None = None) -> None:
        self._value = key or os.environ.get(KEY_ENV) or None
        self._tokens: TokenService | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()
        if self._value is None and isinstance(service, TokenService) and service.token_auth_enabled is True:
            self._tokens = service
        elif self._value is None and service is not None and service.auth_enabled:
            self._value = str(service.get_keys()[0])

    def value(self) -> str | None:
        """The key or token to send now; None when the service needs neither."""
        if self._tokens is None:
            return self._value
        with self._lock:
            if self._value is None or time.time() >= self._refresh_at:
                token = self._tokens.get_access_token()  # refresh_after: a naive local time, as the SDK makes it
                self._value, self._refresh_at = str(token.access_token), token.refresh_after.timestamp()
            return self._value

    def headers(self) -> dict[str, str]:
        """``{"Authorization": "Bearer <key or token>"}``, or ``{}`` when the service needs neither."""
        value = self.value()
        return {"Authorization": f"Bearer {value}"} if value else {}
