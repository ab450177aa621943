"""Azure Blob Storage (``<account>.blob.core.windows.net``): the operations azure-storage-blob sends for SDK v2.

An in-process store, answering the Blob service REST API as Microsoft documents it ("Put Blob", "Set Blob
Metadata", "Get Blob Properties", "Get Blob" with ``x-ms-range``, "List Blobs"), with the status codes,
headers and ``x-ms-error-code`` values of those pages. azure-ai-ml uploads a model with the caller's own Entra
token (the recorded workspace's datastore holds no credentials) and code through a container SAS that the
service hands out (``startPendingUpload``); both are checked here: a token of the stand-in's tenant, and the
Storage Blob Data role (:attr:`BlobStore.data_role`), or a SAS this store signed.

Why not Azurite: it accepts bearer tokens only over HTTPS with ``--oauth basic``, rejects the x-ms-version of
azure-storage-blob 12.31 unless told to skip the check, and needs the Host header kept through the proxy; the
few operations above are answered here with the documented shapes instead (see the README's table).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import quote
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from .aad import Entra
from .server import StandInServer

#: The SAS key of the stand-in (signs the container SAS handed out for code uploads).
_SAS_KEY = uuid.uuid4().bytes


@dataclass
class Blob:
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=lambda: f'"0x{uuid.uuid4().hex[:15].upper()}"')
    modified: str = field(default_factory=lambda: formatdate(usegmt=True))


@dataclass
class BlobStore:
    """One storage account: containers of blobs, and who may write them."""

    account: str
    containers: dict[str, dict[str, Blob]] = field(default_factory=dict)
    #: Whether the signed-in principal holds Storage Blob Data Contributor on the account (token uploads).
    data_role: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://{self.account}.blob.core.windows.net"

    def reset(self, containers: list[str]) -> None:
        with self._lock:
            self.containers = {name: {} for name in containers}
        self.data_role = True

    def install(self, server: StandInServer) -> None:
        host = rf"{re.escape(self.account)}\.blob\.core\.windows\.net"
        path = r"/(?P<container>[^/]+)/(?P<blob>.+)"
        server.route("PUT", host, path)(self.put_blob)
        server.route("HEAD", host, path)(self.get_blob)
        server.route("GET", host, path)(self.get_blob)
        server.route("GET", host, r"/(?P<container>[^/]+)/?")(self.list_blobs)

    # -- authorization -----------------------------------------------------------------------------------------

    def container_sas(self, container: str) -> str:
        """A container SAS query (``sv, sr=c, sp, sig``) this store accepts, as ``startPendingUpload`` returns."""
        sig = _sign(container)
        return f"sv=2021-08-06&se=2099-01-01T00%3A00%3A00Z&sr=c&sp=racwl&sig={quote(sig, safe='')}"

    def _refuse(self, request: Request, container: str) -> Response | None:
        """None if the request may touch ``container``: a valid SAS, or a token with the data role."""
        if "sig" in request.args:
            if request.args.get("sr") == "c" and hmac.compare_digest(request.args["sig"], _sign(container)):
                return None
            return blob_error(403, "AuthenticationFailed", "Signature did not match.")
        refused = Entra.refuse_unless_signed_in(request)
        if refused is not None:
            return blob_error(401, "NoAuthenticationInformation", "Server failed to authenticate the request.")
        if not self.data_role:
            return blob_error(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            )
        return None

    # -- operations --------------------------------------------------------------------------------------------

    def put_blob(self, request: Request, match: re.Match[str]) -> Response:
        """Put Blob (201) and, with ``comp=metadata``, Set Blob Metadata (200)."""
        container, name = match["container"], match["blob"]
        refused = self._refuse(request, container)
        if refused is not None:
            return refused
        with self._lock:
            blobs = self.containers.get(container)
            if blobs is None:
                return blob_error(404, "ContainerNotFound", "The specified container does not exist.")
            metadata = {
                key[len("x-ms-meta-") :].lower(): value
                for key, value in request.headers.items()
                if key.lower().startswith("x-ms-meta-")
            }
            if request.args.get("comp") == "metadata":
                if name not in blobs:
                    return blob_error(404, "BlobNotFound", "The specified blob does not exist.")
                blobs[name].metadata = metadata
                return Response(status=200, headers=_etag_headers(blobs[name]))
            if request.args.get("comp"):
                return blob_error(400, "UnsupportedQueryParameter", f"comp={request.args['comp']} is not modelled.")
            if request.headers.get("If-None-Match") == "*" and name in blobs:
                return blob_error(409, "BlobAlreadyExists", "The specified blob already exists.")
            blob = blobs[name] = Blob(request.get_data(), metadata)
        md5 = base64.b64encode(hashlib.md5(blob.data).digest()).decode()
        return Response(status=201, headers={**_etag_headers(blob), "Content-MD5": md5})

    def get_blob(self, request: Request, match: re.Match[str]) -> Response:
        """Get Blob Properties (HEAD) and Get Blob (GET, whole or ``x-ms-range``/``Range``: 206)."""
        container, name = match["container"], match["blob"]
        refused = self._refuse(request, container)
        if refused is not None:
            return refused
        with self._lock:
            blob = self.containers.get(container, {}).get(name)
        if blob is None:
            return blob_error(404, "BlobNotFound", "The specified blob does not exist.", head=request.method == "HEAD")
        headers = {
            **_etag_headers(blob),
            "x-ms-blob-type": "BlockBlob",
            "Content-Type": "application/octet-stream",
            **{f"x-ms-meta-{key}": value for key, value in blob.metadata.items()},
        }
        wanted = request.headers.get("x-ms-range") or request.headers.get("Range")
        data, status = blob.data, 200
        if wanted:
            start, _, end = wanted.removeprefix("bytes=").partition("-")
            last = min(int(end) if end else len(blob.data) - 1, len(blob.data) - 1)
            data, status = blob.data[int(start) : last + 1], 206
            headers["Content-Range"] = f"bytes {start}-{last}/{len(blob.data)}"
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(blob.data))
            return Response(status=200, headers=headers)
        return Response(data, status=status, headers=headers)

    def list_blobs(self, request: Request, match: re.Match[str]) -> Response:
        """List Blobs (``restype=container&comp=list``, ``prefix``): the XML ``EnumerationResults``."""
        container = match["container"]
        if request.args.get("comp") != "list":
            return blob_error(400, "UnsupportedQueryParameter", "Only comp=list is modelled on a container.")
        refused = self._refuse(request, container)
        if refused is not None:
            return refused
        prefix = request.args.get("prefix", "")
        with self._lock:
            if container not in self.containers:
                return blob_error(404, "ContainerNotFound", "The specified container does not exist.")
            found = sorted((name, blob) for name, blob in self.containers[container].items() if name.startswith(prefix))
        items = "".join(
            f"<Blob><Name>{escape(name)}</Name><Properties><Last-Modified>{blob.modified}</Last-Modified>"
            f"<Etag>{escape(blob.etag)}</Etag><Content-Length>{len(blob.data)}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties>"
            f"<Metadata>{''.join(f'<{k}>{escape(v)}</{k}>' for k, v in blob.metadata.items())}</Metadata></Blob>"
            for name, blob in found
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="{self.url}/" ContainerName="{escape(container)}">'
            f"<Prefix>{escape(prefix)}</Prefix><Blobs>{items}</Blobs><NextMarker /></EnumerationResults>"
        )
        return Response(xml, status=200, content_type="application/xml")

    def write(self, container: str, name: str, data: bytes) -> None:
        """Store a blob the service itself writes (an image build's log), not sent by a client."""
        with self._lock:
            self.containers.setdefault(container, {})[name] = Blob(data)

    def read(self, container: str, prefix: str) -> dict[str, bytes]:
        """The blobs of ``container`` under ``prefix`` (for a deployment's app root), by name."""
        with self._lock:
            return {
                name: blob.data for name, blob in self.containers.get(container, {}).items() if name.startswith(prefix)
            }


def _sign(container: str) -> str:
    return base64.b64encode(hmac.new(_SAS_KEY, container.encode(), hashlib.sha256).digest()).decode()


def _etag_headers(blob: Blob) -> dict[str, str]:
    return {"ETag": blob.etag, "Last-Modified": blob.modified, "x-ms-request-server-encrypted": "true"}


def blob_error(status: int, code: str, message: str, *, head: bool = False) -> Response:
    """The Blob service's error: ``x-ms-error-code`` and, except for HEAD, the XML ``<Error>`` body."""
    body = (
        ""
        if head
        else f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    )
    return Response(body, status=status, headers={"x-ms-error-code": code}, content_type="application/xml")
