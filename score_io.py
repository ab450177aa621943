"""What score.py needs beyond the tutorial's few lines, staged beside it wherever it is deployed: reading a request
(the tutorial's JSON, read with pysimdjson straight into float64 a slice of rows at a time, or a ``.npy`` array:
uint8 pixels 0..255 or floats 0..1, shaped (n, 784) or (n, 28, 28)), refusing a bad one with a 4xx whose JSON body
names the problem and the expected form (never a 500), the limits per request (MAX_ROWS images, MAX_BODY_BYTES
bytes), and publishing the service contract, the OpenAPI 3 document swagger3.json beside this file.

This module imports nothing from mnist_aci: it runs as is in the Azure container.
"""

import glob
import io
import math
import os
import re
import tempfile
import tokenize
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np
from azureml_inference_server_http.api.aml_response import AMLResponse  # type: ignore[import-untyped]  # no py.typed
from numpy.typing import NDArray
from sklearn import config_context

_loads: Callable[[bytes], object]
try:
    from orjson import loads as _loads
except ImportError:  # an environment without orjson still serves, with the standard parser
    from json import loads as _loads
try:
    import simdjson
except ImportError:  # an older environment without pysimdjson still serves, through the whole-body parse
    if not TYPE_CHECKING:  # (mypy checks the code that runs with pysimdjson)
        simdjson = None
if TYPE_CHECKING:
    from flask import Request  # what the server passes to run(); this module needs no flask at run time

N_PIXELS = 784
MAX_ROWS = 10_000
MAX_BODY_BYTES = 100 * 1024 * 1024
JSON_TYPE = "application/json"
NPY_TYPES = ("application/octet-stream", "application/x-npy")
EXPECTED_FORM = (
    'POST a JSON body {"data": [[784 numbers in 0..1], ...]} with Content-Type: application/json, '
    "or a .npy array of shape (n, 784) (uint8 0..255 or float 0..1) with Content-Type: "
    f"application/octet-stream; at most {MAX_ROWS} rows and {MAX_BODY_BYTES} bytes per request"
)
CONTRACT = "swagger3.json"  #: the contract published beside this script (OpenAPI 3, at /swagger.json?version=3)
UNPUBLISHED = "the contract stays unpublished"  #: in the log when the app root cannot take the contract

# The canonical body, {"data": [rows]} and nothing else, which is parsed a slice of rows at a time.
SPACE = rb"[ \t\n\r]*"  # JSON's whitespace only (a regex \s would also take \f and \v, which JSON refuses)
CANONICAL_HEAD = re.compile(rb"\A" + SPACE + rb"\{" + SPACE + rb'"data"' + SPACE + rb":" + SPACE + rb"\[")
CANONICAL_TAIL = re.compile(rb"\]" + SPACE + rb"\}" + SPACE + rb"\Z")
ROW_SEPARATOR = re.compile(SPACE + rb",")
ROWS_PER_SLICE = 100
# Images per model.predict call: a block's float64 images stay in the CPU's cache through the model's
# classifiers (10 for one-vs-rest), and uint8 pixels are scaled one block at a time.
ROWS_PER_PREDICT = 1000
NON_FINITE = "the data holds NaN or infinite values; every pixel must be a finite number in 0..1"
# The HTTP status of each kind of refusal.
BAD_REQUEST, NOT_ALLOWED, REQUEST_TIMEOUT, TOO_LARGE, UNSUPPORTED_TYPE = 400, 405, 408, 413, 415
Images = NDArray[np.uint8] | NDArray[np.float64]  #: as parsed: uint8 pixels 0..255 (.npy only) or float64 in 0..1


class Classifier(Protocol):  # what the service needs of the model it loads: scikit-learn's predict()
    def predict(self, images: NDArray[np.float64], /) -> NDArray[np.generic]: ...


RawData: TypeAlias = "Request | str | bytes"  #: what run() is given: an HTTP request (@rawhttp), or the JSON text
Answer: TypeAlias = "list[int] | AMLResponse"  #: what run() returns: the labels, or a refusal


class PayloadError(ValueError):
    """A request the service cannot score; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


def too_many_rows(n_rows: int) -> PayloadError:
    return PayloadError(f"{n_rows} rows is over the limit of {MAX_ROWS} per request", TOO_LARGE)


def wrong_shape(shape: tuple[int, ...]) -> PayloadError:
    negative = ", with a negative dimension" if any(size < 0 for size in shape) else ""
    return PayloadError(f"expected rows of {N_PIXELS} numbers, got an array of shape {list(shape)}{negative}")


def publish_contract() -> None:
    """Copy the contract beside this script into the server's app root, the only place it reads it from: SDK v1
    (ACI, AKS) unpacks this script's folder one level below it (``/var/azureml-app/app/``), and ``init()`` runs before
    the server reads its contract files. Nothing is copied where the app root has the contract already (the local
    target, SDK v2). An app root that cannot be written leaves the server's generic document, and the log says so
    (:data:`UNPUBLISHED`, which the package looks for after deploying)."""
    app_root = os.getenv("AML_APP_ROOT")
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), CONTRACT)
    if not app_root or not os.path.isfile(source) or os.path.exists(os.path.join(app_root, CONTRACT)):
        return
    try:
        handle, copy = tempfile.mkstemp(prefix=".swagger3-", dir=app_root)
        with os.fdopen(handle, "wb") as target, open(source, "rb") as contract:
            target.write(contract.read())
        os.replace(copy, os.path.join(app_root, CONTRACT))  # whole, even with several workers at once
    except OSError as exc:
        print(
            f"score.py: {UNPUBLISHED}: the app root {app_root} refused {CONTRACT} ({exc.strerror or exc}), so "
            "/swagger.json?version=3 serves the inference server's generic document, not this service's contract"
        )


def model_file(model_dir: str, filename: str) -> str:
    """The path of ``filename`` in ``model_dir``, or in its one subfolder that holds it: SDK v2 puts a model
    registered from a folder one level down."""
    path = os.path.join(model_dir, filename)
    if not os.path.exists(path):
        found = glob.glob(os.path.join(model_dir, "*", filename))
        path = found[0] if len(found) == 1 else path
    return path


def checked_model(loaded: object, path: str) -> Classifier:
    """``loaded`` if it is a fitted model with ``predict()``; a TypeError naming what ``path`` holds otherwise."""
    if not callable(getattr(loaded, "predict", None)):
        raise TypeError(f"{path} holds a {type(loaded).__name__}, not a fitted model with predict()")
    return loaded  # type: ignore[return-value]  # checked just above: it has predict()


def _check_rows(images: NDArray[Any]) -> Images:
    """Shape (n, 784), 1 <= n <= MAX_ROWS, uint8 or finite 0..1: uint8 pixels returned as is, others as float64."""
    if images.ndim == 0 or images.shape[0] == 0:
        raise PayloadError("no images: the list of rows is empty")
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images.reshape(len(images), N_PIXELS)
    if images.ndim != 2 or images.shape[1] != N_PIXELS:
        raise wrong_shape(images.shape)
    if images.shape[0] > MAX_ROWS:
        raise too_many_rows(images.shape[0])
    if images.dtype == np.uint8:
        return images
    images = images.astype(np.float64, copy=False)
    if not np.isfinite(images).all():
        raise PayloadError(NON_FINITE)
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        hint = " (did you forget to divide the raw 0-255 pixels by 255?)" if high > 1.0 else ""
        raise PayloadError(f"pixel values must be in 0..1, got values from {low:g} to {high:g}{hint}")
    return images


def _slice_rows(parser: "simdjson.Parser", piece: bytes, n_rows: int) -> NDArray[np.float64] | None:
    """The float64 rows of ``[piece]`` if it is exactly ``n_rows`` flat rows of N_PIXELS numbers, else None."""
    try:
        rows = parser.parse(b"[" + piece + b"]")
        if not isinstance(rows, simdjson.Array) or len(rows) != n_rows:
            return None
        if not all(isinstance(row, simdjson.Array) and len(row) == N_PIXELS for row in rows):
            return None
        # as_buffer refuses booleans, nulls, strings and objects, but would flatten nested lists: the
        # piece holds n_rows closing brackets, one per row, so no row holds a list.
        return np.frombuffer(rows.as_buffer(of_type="d")).reshape(n_rows, N_PIXELS)
    except (ValueError, TypeError, RuntimeError):  # simdjson's refusals (RuntimeError: integers over 64 bits)
        return None


def _parse_in_slices(body: bytes) -> NDArray[np.float64] | None:
    """The canonical body read by simdjson ROWS_PER_SLICE rows at a time straight into one float64 array: no
    Python floats, and only one slice's parse at a time in memory. Returns None without simdjson, and for any
    body not in that exact form: the whole-body parse then decides, and explains what is wrong."""
    head, tail = CANONICAL_HEAD.match(body), CANONICAL_TAIL.search(body)
    if simdjson is None or head is None or tail is None:
        return None
    text = np.frombuffer(body, dtype=np.uint8, count=tail.start() - head.end(), offset=head.end())
    row_ends = head.end() + 1 + np.flatnonzero(text == ord("]"))  # just after each row, if the body is canonical
    if not 0 < len(row_ends) <= MAX_ROWS:
        return None
    cuts: list[int] = row_ends[ROWS_PER_SLICE - 1 : -1 : ROWS_PER_SLICE].tolist()
    images = np.empty((len(row_ends), N_PIXELS))
    parser = simdjson.Parser()
    first = 0
    for start, stop in zip([head.end(), *cuts], [*cuts, tail.start()], strict=True):
        if start != head.end():  # a slice after the first starts with the comma between two rows
            if (separator := ROW_SEPARATOR.match(body, start)) is None:
                return None
            start = separator.end()
        n_rows = body.count(b"]", start, stop)
        if (rows := _slice_rows(parser, body[start:stop], n_rows)) is None:
            return None
        images[first : first + n_rows] = rows
        first += n_rows
    return images


def _parse_whole(body: bytes) -> Images:
    """Images from the JSON body parsed whole (Python objects): any layout, and the explanation of any refusal."""
    if not body:
        raise PayloadError("the request body is empty")
    try:
        document = _loads(body)
    except (ValueError, RecursionError) as exc:
        if b"NaN" in body or b"Infinity" in body or "infinity" in str(exc):
            raise PayloadError(NON_FINITE) from None
        raise PayloadError(f"the body is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(document, dict) or "data" not in document:
        raise PayloadError('the JSON body must be an object with a "data" key')
    rows = document["data"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise PayloadError('"data" must be a list of rows, each a list of numbers')
    if len(rows) > MAX_ROWS:
        raise too_many_rows(len(rows))
    if bad_lengths := {len(row) for row in rows} - {N_PIXELS}:
        raise PayloadError(f"every row must hold {N_PIXELS} numbers, found rows of {sorted(bad_lengths)[:5]}")
    try:
        images = np.array(rows)
    except ValueError as exc:
        raise PayloadError(f'"data" is not a rectangular list of numbers ({exc})') from None
    # numpy turns booleans among numbers into 0/1: look for them, only when the text has any.
    booleans = (b"true" in body or b"false" in body) and any(type(value) is bool for row in rows for value in row)
    if images.dtype.kind not in "fiu" or booleans:
        raise PayloadError('"data" must hold only numbers (no strings, booleans, nulls or nested lists)')
    return _check_rows(images.astype(np.float64, copy=False))


def parse_json(body: bytes) -> Images:
    """Images from the tutorial's JSON body ``{"data": [[784 numbers], ...]}``."""
    return _parse_whole(body) if (images := _parse_in_slices(body)) is None else _check_rows(images)


def parse_npy(body: bytes) -> Images:
    """Images from a .npy body: uint8 pixels 0..255 (returned as they are: see as_float) or float 0..1. The header
    is checked in Python integers (an int64 product wraps) before any memory is allocated: it may claim any shape."""
    stream = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(stream)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(stream)  # type: ignore[no-untyped-call]  # (numpy's stub)
    except (ValueError, OSError, EOFError, TypeError, SyntaxError, tokenize.TokenError) as exc:
        raise PayloadError(f"the body is not a readable .npy array ({str(exc)[:200]})") from None
    if dtype != np.uint8 and dtype.kind != "f":
        raise PayloadError(f"the .npy array must be uint8 or float, got {dtype}")
    if any(size < 0 for size in shape) or len(shape) not in (2, 3) or math.prod(shape[1:]) != N_PIXELS:
        raise wrong_shape(shape)
    if shape[0] > MAX_ROWS:
        raise too_many_rows(shape[0])
    data_bytes, announced = len(body) - stream.tell(), math.prod(shape) * dtype.itemsize
    if data_bytes != announced:
        raise PayloadError(f"the .npy body holds {data_bytes} data bytes, its header announces {announced}")
    images = np.frombuffer(body, dtype=dtype, offset=stream.tell())  # all the bytes after the header, as announced
    return _check_rows(images.reshape(shape, order="F" if fortran_order else "C"))


def parse_request(request: "Request") -> Images:
    """Images from an HTTP request: method, content type, then the body's size, each checked in turn."""
    if request.method != "POST":
        raise PayloadError(f"{request.method} is not supported on /score; use POST", NOT_ALLOWED)
    content_type = (request.mimetype or "").lower()
    if content_type != JSON_TYPE and content_type not in NPY_TYPES:
        raise PayloadError(f"unsupported Content-Type {content_type or '(none)'!r}", UNSUPPORTED_TYPE)
    if (length := request.content_length) is not None and length > MAX_BODY_BYTES:
        raise PayloadError(f"the body of {length} bytes is over the limit of {MAX_BODY_BYTES}", TOO_LARGE)
    try:
        body = request.stream.read(MAX_BODY_BYTES + 1)
    except OSError:  # the server's receive timeout: the client stopped sending in mid-body
        raise PayloadError("the body stopped arriving before its end", REQUEST_TIMEOUT) from None
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"the body is over the limit of {MAX_BODY_BYTES} bytes", TOO_LARGE)
    return parse_json(body) if content_type == JSON_TYPE else parse_npy(body)


def as_float(images: Images) -> NDArray[np.float64]:
    """float64 images in 0..1: uint8 pixels divided by 255.0, exactly as the tutorial scales them."""
    return (images / 255.0 if images.dtype == np.uint8 else images).astype(np.float64, copy=False)  # no copy


def read_images(raw_data: RawData) -> Images:
    """The images of what run() is given (an HTTP request, or the tutorial's JSON text); a :class:`PayloadError`
    if they cannot be scored."""
    body = raw_data.encode("utf-8") if isinstance(raw_data, str) else raw_data
    try:
        return parse_json(body) if isinstance(body, bytes) else parse_request(body)
    except MemoryError:
        raise PayloadError("the request is too large for this service's memory; send fewer rows", TOO_LARGE) from None


def refusal(error: PayloadError) -> AMLResponse:
    """The 4xx answer to a request that cannot be scored: the problem, and the expected form."""
    return AMLResponse({"error": str(error), "expected": EXPECTED_FORM}, error.status, json_str=True)


def predict(model: Classifier | None, images: Images) -> NDArray[np.generic]:
    """The model's labels, ROWS_PER_PREDICT images at a time, which its classifiers need not check: they are finite."""
    assert model is not None, "init() loads the model before the server calls run()"
    with config_context(assume_finite=True):
        blocks = [images[start : start + ROWS_PER_PREDICT] for start in range(0, len(images), ROWS_PER_PREDICT)]
        return np.concatenate([model.predict(as_float(block)) for block in blocks])
