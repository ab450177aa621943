"""What the SDKs send beside the service: their telemetry, and (azure-ai-ml in a kernel) the VM metadata address.

In a notebook kernel (``in_jupyter_notebook()``), ``MLClient`` turns on Azure Monitor's OpenTelemetry distro
(azure-ai-ml 1.35.2, ``azure/ai/ml/_telemetry/logging_handler.py`` ``configure_appinsights_logging``; off outside a
kernel, or with ``MLClient(..., enable_telemetry=False)``, which the package leaves at the SDK's default). The
distro then:

- posts telemetry items to Application Insights' ingestion, ``POST https://<region>.in.applicationinsights.azure.com
  /v2.1/track``, a JSON list of items, answered 200 with ``{"itemsReceived", "itemsAccepted", "errors"}``
  (``azure/monitor/opentelemetry/exporter/_generated``: ``track``, ``TrackResponse``). The stand-in accepts every
  item and keeps their count (:attr:`Telemetry.items`);
- (azureml-core, SDK v1, in any process that uses it) posts its usage events through the ``applicationinsights``
  package to that package's default endpoint, ``POST https://dc.services.visualstudio.com/v2/track``
  (``applicationinsights/channel/SenderBase.py``: ``DEFAULT_ENDPOINT_URL``), also a JSON list of items; the
  sender reads only a 2xx status (``SenderBase.send``), answered as above;
- asks the Azure Instance Metadata Service at ``http://169.254.169.254/metadata/instance/compute`` whether it runs
  on an Azure VM (``exporter/statsbeat/_statsbeat_metrics.py`` ``_get_azure_compute_metadata``, and OpenTelemetry's
  Azure VM resource detector). IMDS answers only from inside an Azure VM (Microsoft Learn, "Azure Instance
  Metadata Service"); the tutorial's user runs elsewhere, where the connection fails, which the exporter reads as
  "Not in VM". The stand-in answers with :data:`UNREACHABLE`, on which the proxy's addon closes the connection
  (:mod:`.relay_addon`): the SDK sees the connection error it would see there.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from .server import StandInServer, json_response

#: The header of an answer the proxy turns into a closed connection (an address nothing answers at).
UNREACHABLE = "X-Standin-Unreachable"
INGESTION = r"[a-z0-9-]+\.in\.applicationinsights\.azure\.com|dc\.services\.visualstudio\.com"
IMDS = r"169\.254\.169\.254"


@dataclass
class Telemetry:
    """Application Insights' ingestion, and the VM metadata address that nothing answers off Azure."""

    items: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, server: StandInServer) -> None:
        server.route("POST", INGESTION, r"/v2(\.1)?/track")(self.track)
        for method in ("GET", "POST", "PUT"):
            server.route(method, IMDS, r"/.*")(self.unreachable)

    def track(self, request: Request, match: re.Match[str]) -> Response:
        """Every item accepted: ``{"itemsReceived": n, "itemsAccepted": n, "errors": []}``."""
        count = len(json.loads(request.get_data() or b"[]"))
        with self._lock:
            self.items += count
        return json_response(200, {"itemsReceived": count, "itemsAccepted": count, "errors": []})

    @staticmethod
    def unreachable(request: Request, match: re.Match[str]) -> Response:
        return Response(status=502, headers={UNREACHABLE: "1"})
