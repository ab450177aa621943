"""The stand-in's HTTP server: routes by (method, host, path), a log of every call, injected faults.

The proxy (:mod:`.proxy`) hands it every request the SDKs send, with the host they asked for in
``X-Standin-Host``. Services of the stand-in (sign-in, SDK v1, SDK v2, blob storage, the containers' scoring
hosts) register routes; a request that no route answers gets a 404 naming it and is kept in
:attr:`StandInServer.unknown`, so a test can show that the flow sent nothing the stand-in does not model.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

HOST_HEADER = "X-Standin-Host"
SCHEME_HEADER = "X-Standin-Scheme"
#: Headers of the relay that a service behind the stand-in must not see.
RELAY_HEADERS = {HOST_HEADER.lower(), SCHEME_HEADER.lower(), "host", "content-length", "transfer-encoding"}

Handler = Callable[[Request, re.Match[str]], Response]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer, as the Azure services send them."""
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json; charset=utf-8")


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The error body of Azure's management and data-plane APIs (``{"error": {"code", "message"}}``)."""
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def target_host(request: Request) -> str:
    """The host the SDK sent this request to (lower case, no port)."""
    return request.headers.get(HOST_HEADER, request.host).split(":")[0].lower()


@dataclass
class Call:
    """One request the stand-in received, and its answer's status."""

    method: str
    scheme: str
    host: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    #: The answer's body (JSON answers only: what a test reads to follow states).
    answer: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}{'?' + self.query if self.query else ''}"

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status}"


@dataclass
class Route:
    method: str
    host: re.Pattern[str]
    path: re.Pattern[str]
    handler: Handler
    name: str


@dataclass
class Fault:
    """An answer given instead of the route's, ``times`` times, to requests matching method, host and path."""

    method: str
    host: re.Pattern[str]
    path: re.Pattern[str]
    respond: Callable[[Request], Response]
    times: int = 1
    used: int = 0


@dataclass
class StandInServer:
    """A threaded WSGI server on 127.0.0.1 that answers for the Azure hosts."""

    routes: list[Route] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unknown: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    def route(self, method: str, host: str, path: str, *, first: bool = False) -> Callable[[Handler], Handler]:
        """Register ``handler(request, match)`` for ``method`` on hosts and paths matching the patterns
        (full match, case-insensitive; the path's named groups are in ``match``). ``first``: tried before the
        routes already registered (a narrower route beside a broader one of another service)."""

        def register(handler: Handler) -> Handler:
            route = Route(method.upper(), re.compile(host, re.I), re.compile(path, re.I), handler, handler.__name__)
            if first:
                self.routes.insert(0, route)
            else:
                self.routes.append(route)
            return handler

        return register

    def inject(
        self, method: str, host: str, path: str, respond: Callable[[Request], Response], *, times: int = 1
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``respond(request)`` instead of their route."""
        fault = Fault(method.upper(), re.compile(host, re.I), re.compile(path, re.I), respond, times)
        with self._lock:
            self.faults.append(fault)
        return fault

    def reset(self) -> None:
        """Forget the calls and the faults (the routes stay; the requests no route answered stay until
        :meth:`take_unknown`)."""
        with self._lock:
            self.calls.clear()
            self.faults.clear()

    def take_unknown(self) -> list[Call]:
        """The requests no route answered since the last time, forgotten."""
        with self._lock:
            unknown, self.unknown = self.unknown, []
        return unknown

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The calls so far with this method whose path matches ``path`` (a regular expression)."""
        pattern = re.compile(path, re.I)
        with self._lock:
            return [call for call in self.calls if call.method == method.upper() and pattern.fullmatch(call.path)]

    # -- serving -------------------------------------------------------------------------------------------------

    def start(self) -> int:
        """Serve in a daemon thread; returns the port."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="azure-standin", daemon=True)
        self._thread.start()
        return self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.answer(request)
        return response(environ, start_response)

    def answer(self, request: Request) -> Response:
        """The response to ``request``: an injected fault, else its route, else a 404 naming it."""
        host = target_host(request)
        body = request.get_data()
        call = Call(
            request.method,
            request.headers.get(SCHEME_HEADER, "http"),
            host,
            request.path,
            request.query_string.decode("latin-1"),
            {key: value for key, value in request.headers.items() if key.lower() not in RELAY_HEADERS},
            body,
        )
        response = self._fault_for(request, host) or self._route_for(request, host, call)
        call.status = response.status_code
        if response.mimetype == "application/json" and not response.direct_passthrough:
            call.answer = response.get_data()
        with self._lock:
            self.calls.append(call)
        return response

    def _fault_for(self, request: Request, host: str) -> Response | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.used < fault.times
                    and fault.method == request.method
                    and fault.host.fullmatch(host)
                    and fault.path.fullmatch(request.path)
                ):
                    fault.used += 1
                    break
            else:
                return None
        return fault.respond(request)

    def _route_for(self, request: Request, host: str, call: Call) -> Response:
        for route in self.routes:
            match = route.path.fullmatch(request.path)
            if route.method == request.method and match and route.host.fullmatch(host):
                try:
                    return route.handler(request, match)
                except Exception as exc:  # a bug of the stand-in: say so in the answer, as a 500
                    return azure_error(500, "StandInError", f"{route.name} failed: {exc!r}")
        with self._lock:
            self.unknown.append(call)
        return azure_error(404, "StandInUnknownRoute", f"The stand-in has no route for {call.method} {call.url}")


def relay(request: Request, base_url: str, *, path: str | None = None, timeout_s: float = 300.0) -> Response:
    """Forward ``request`` to ``base_url`` (a container's server on 127.0.0.1), at ``path`` if given (a front
    that routes ``/api/v1/service/<name>/score`` to the container's ``/score``), and return its answer as is."""
    headers = {key: value for key, value in request.headers.items() if key.lower() not in RELAY_HEADERS}
    query = request.query_string.decode("latin-1")
    url = f"{base_url}{path or request.path}{'?' + query if query else ''}"
    try:
        with requests.Session() as direct:
            direct.trust_env = False  # never back through the proxy of the test's environment
            answer = direct.request(request.method, url, data=request.get_data(), headers=headers, timeout=timeout_s)
    except requests.ConnectionError as exc:
        return Response(f"upstream connect error: {exc}", status=502, content_type="text/plain")
    passed = {
        key: value
        for key, value in answer.headers.items()
        if key.lower() not in {"content-length", "transfer-encoding", "connection", "content-encoding"}
    }
    return Response(answer.content, status=answer.status_code, headers=passed)
