"""mitmproxy addon of the Azure stand-in: every request the SDKs send goes to the stand-in's server.

It runs inside mitmdump (its own venv, see ``requirements-mitmproxy.txt``), not in the project's: it imports
nothing of the project. The SDK connects to the real host name (``management.azure.com``,
``login.microsoftonline.com``, ``<account>.blob.core.windows.net``, an ACI scoring host...) through the proxy,
which terminates TLS with a certificate of the test's own authority; this addon then sends the request, as
plain HTTP, to the stand-in at ``STANDIN_UPSTREAM`` (``127.0.0.1:PORT``), with the host and scheme the SDK
asked for in two headers. Nothing leaves the machine.
"""

from __future__ import annotations

import os

from mitmproxy import http

UPSTREAM_HOST, _, UPSTREAM_PORT = os.environ["STANDIN_UPSTREAM"].rpartition(":")
HOST_HEADER = "X-Standin-Host"
SCHEME_HEADER = "X-Standin-Scheme"
#: An answer of the stand-in meaning "nothing answers at this address" (``telemetry.UNREACHABLE``).
UNREACHABLE_HEADER = "X-Standin-Unreachable"


def request(flow: http.HTTPFlow) -> None:
    """Send the request to the stand-in, saying which host and scheme it was meant for."""
    flow.request.headers[HOST_HEADER] = flow.request.pretty_host
    flow.request.headers[SCHEME_HEADER] = flow.request.scheme
    flow.request.scheme = "http"
    flow.request.host = UPSTREAM_HOST
    flow.request.port = int(UPSTREAM_PORT)


def response(flow: http.HTTPFlow) -> None:
    """An address nothing answers at (the stand-in says so in a header): close the client's connection, as an
    unreachable host leaves it, instead of relaying an answer."""
    if flow.response is not None and UNREACHABLE_HEADER in flow.response.headers:
        flow.kill()
