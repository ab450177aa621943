"""A managed online endpoint as a :class:`~mnist_aci.service.Service`: its name rules, state, keys, logs."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ..errors import ServiceNameError
from .invoke import invoke, quiet_poller

ENDPOINT_PREFIX = "sklearn-mnist-ep-"
#: Endpoint names: 3-32 characters, letters, digits and dashes, starting with a letter, no two dashes in a row
#: (the name is a DNS label of the scoring URL, ``<name>.<region>.inference.ml.azure.com``, where ``--`` is
#: reserved). They must be unique in the Azure region.
ENDPOINT_NAME_RULE = re.compile(r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]")
DEPLOYMENT_NAMES = ("blue", "green")
#: The header that sends a request to one deployment of an endpoint, whatever the traffic rules.
DEPLOYMENT_HEADER = "azureml-model-deployment"

#: How the deployment serves requests: the service's defaults are 5 s and one request at a time per instance
#: (the recorded deployment answer: ``requestTimeout PT5S``, ``maxConcurrentRequestsPerInstance 1``). The
#: package keeps at most two requests in flight (``predict``'s connections, within the 2 x per-instance limit of
#: managed endpoints), of at most :data:`REQUEST_ROWS` images; 30 s leaves a small instance room for a cold start
#: and a full request.
REQUEST_TIMEOUT_MS = 30_000
MAX_CONCURRENT_REQUESTS = 1
#: Images per JSON request of the tutorial's call on an endpoint (about 5 MB of JSON for MNIST): the whole test
#: set in one request (52 MB) does not fit an endpoint's request time-out and bandwidth.
REQUEST_ROWS = 1000


def new_endpoint_name() -> str:
    """``sklearn-mnist-ep-`` and 8 random hex digits (endpoint names are unique per Azure region)."""
    return ENDPOINT_PREFIX + uuid.uuid4().hex[:8]


def check_endpoint_name(name: str) -> str:
    """Return ``name`` if Azure ML accepts it as an endpoint name, else raise :class:`ServiceNameError`."""
    if not isinstance(name, str) or not ENDPOINT_NAME_RULE.fullmatch(name):
        raise ServiceNameError(
            f"Invalid endpoint name {name!r}: use 3-32 characters, letters, digits and single dashes, starting with "
            f"a letter and ending with a letter or digit (for example {ENDPOINT_PREFIX}1a2b3c4d)."
        )
    return name


def provisioning_state(resource: Any) -> str | None:
    """An endpoint's or deployment's provisioning state as Azure spells it (``Succeeded``, ``Creating``...):
    azure-ai-ml gives an enum whose ``str()`` is its Python name."""
    state = resource.provisioning_state
    return None if state is None else str(getattr(state, "value", state))


def live_deployment(endpoint: Any) -> str | None:
    """The deployment that takes the most of an endpoint's traffic (None when none takes any)."""
    traffic = {name: int(share) for name, share in (endpoint.traffic or {}).items() if int(share) > 0}
    return max(traffic, key=lambda name: traffic[name]) if traffic else None


class EndpointService:
    """A managed online endpoint with the surface of the tutorial's ``AciWebservice``.

    ``run`` is the tutorial-shaped call (``online_endpoints.invoke``); ``mnist_aci.predict`` POSTs ``.npy``
    chunks to ``scoring_uri`` with the endpoint's key. Keys are fetched when needed and never shown.
    ``mnist_aci.predict_tutorial`` sends at most :attr:`max_rows_per_request` images per ``run``.
    """

    max_rows_per_request = REQUEST_ROWS

    def __init__(self, ml_client: Any, endpoint: Any) -> None:
        self._ml = ml_client
        self._name: str = endpoint.name
        self._scoring_uri: str = endpoint.scoring_uri

    @property
    def name(self) -> str:
        return self._name

    @property
    def scoring_uri(self) -> str:
        return self._scoring_uri

    @property
    def auth_enabled(self) -> bool:
        return True  # SDK v2 endpoints always need a key or a token

    @property
    def state(self) -> str | None:
        """The endpoint's provisioning state (``Succeeded``, ``Failed``, ``Deleting``...)."""
        return provisioning_state(self._ml.online_endpoints.get(name=self._name))

    def get_keys(self) -> tuple[str | None, str | None]:
        keys = self._ml.online_endpoints.get_keys(name=self._name)
        return keys.primary_key, keys.secondary_key

    def run(self, input_data: str | bytes) -> Any:
        """The tutorial's ``service.run(input_data=...)``: the JSON body through ``online_endpoints.invoke``."""
        return invoke(self._ml, self._name, input_data)

    def get_logs(self, num_lines: int = 5000) -> str:
        """The last ``num_lines`` lines of the log of the deployment taking the traffic."""
        deployment = live_deployment(self._ml.online_endpoints.get(name=self._name))
        if deployment is None:
            return f"(endpoint {self._name} has no deployment taking traffic)"
        return str(self._ml.online_deployments.get_logs(name=deployment, endpoint_name=self._name, lines=num_lines))

    def delete(self) -> None:
        """``ml_client.online_endpoints.begin_delete(name=...)``: the endpoint and its deployments."""
        with quiet_poller():
            self._ml.online_endpoints.begin_delete(name=self._name).result()

    def __repr__(self) -> str:
        return f"EndpointService(name={self._name!r}, scoring_uri={self._scoring_uri!r})"


def get_service(ml_client: Any, name: str) -> EndpointService:
    """An existing endpoint by name; :class:`ServiceNameError` when there is none."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return EndpointService(ml_client, ml_client.online_endpoints.get(name=check_endpoint_name(name)))
    except ResourceNotFoundError as exc:
        raise ServiceNameError(f"No endpoint called {name!r} in this workspace.") from exc


def endpoint_exists(ml_client: Any, name: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        ml_client.online_endpoints.get(name=name)
    except ResourceNotFoundError:
        return False
    return True
