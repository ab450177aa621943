"""Malformed requests to /score: (id, method, body, content type, expected status, words the error must hold), and
.npy bodies whose header claims any shape and dtype (a hypothesis strategy)."""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

ROW = [0.5] * 784
JSON = "application/json"
NPY = "application/octet-stream"


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(
    shape: tuple[int, ...], dtype: np.dtype, data: bytes, *, fortran_order: bool = False, version: int = 1
) -> bytes:
    """A .npy body of format ``version`` (1, 2; 3 for a header outside latin-1) whose header claims ``shape`` and
    ``dtype``, then ``data``, whatever it holds: np.save writes only headers that match their array."""
    descr = np.lib.format.dtype_to_descr(dtype)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
    header = {"descr": descr, "fortran_order": fortran_order, "shape": shape}
    text = repr(header).encode("utf-8" if version == 3 else "latin-1")
    magic, length = np.lib.format.MAGIC_PREFIX + bytes([version, 0]), "<H" if version == 1 else "<I"
    text += b" " * (-(len(magic) + struct.calcsize(length) + len(text) + 1) % 64) + b"\n"  # as numpy pads it
    return magic + struct.pack(length, len(text)) + text + data


def _npy_object() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([[None] * 784], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class BadRequest:
    id: str
    body: bytes
    content_type: str | None = JSON
    status: int = 400
    match: str = ""
    method: str = "POST"


def _row_with(value: object) -> list[object]:
    return [value, *ROW[1:]]


BAD_REQUESTS = [
    BadRequest("invalid-json", b'{"data": [[0.1, 0.2', match="not valid JSON"),
    BadRequest("json-garbage", b"hello", match="not valid JSON"),
    BadRequest("empty-body", b"", match="body is empty"),
    BadRequest("json-null", b"null", match='object with a "data" key'),
    BadRequest("json-list", _json([ROW]), match='object with a "data" key'),
    BadRequest("json-string", _json("data"), match='object with a "data" key'),
    BadRequest("missing-data", _json({"images": [ROW]}), match='"data" key'),
    BadRequest("wrong-key-case", _json({"Data": [ROW]}), match='"data" key'),
    BadRequest("data-null", _json({"data": None}), match="list of rows"),
    BadRequest("data-number", _json({"data": 3}), match="list of rows"),
    BadRequest("data-string", _json({"data": "0.5,0.5"}), match="list of rows"),
    BadRequest("data-object", _json({"data": {"a": 1}}), match="list of rows"),
    BadRequest("data-flat-row", _json({"data": ROW}), match="list of rows"),
    BadRequest("empty-list", _json({"data": []}), match="empty"),
    BadRequest("empty-row", _json({"data": [[]]}), match="784 numbers"),
    BadRequest("row-783", _json({"data": [ROW[:783]]}), match="rows of [783]"),
    BadRequest("row-785", _json({"data": [[*ROW, 0.5]]}), match="rows of [785]"),
    BadRequest("ragged-rows", _json({"data": [ROW, ROW[:700]]}), match="784 numbers"),
    BadRequest("strings", _json({"data": [["0.5"] * 784]}), match="only numbers"),
    BadRequest("one-string", _json({"data": [_row_with("x")]}), match="only numbers"),
    BadRequest("booleans", _json({"data": [[True] * 784]}), match="only numbers"),
    BadRequest("one-boolean", _json({"data": [_row_with(True)]}), match="only numbers"),
    BadRequest("boolean-among-ints", _json({"data": [[False, *([0] * 783)]]}), match="only numbers"),
    BadRequest("nulls", _json({"data": [[None] * 784]}), match="only numbers"),
    BadRequest("one-null", _json({"data": [_row_with(None)]}), match="only numbers"),
    BadRequest("nested-objects", _json({"data": [_row_with({"v": 1})]}), match="only numbers"),
    BadRequest("nested-too-deep", _json({"data": [[[0.5]] * 784]}), match="784 numbers"),
    BadRequest("deep-nesting", b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", match="not valid JSON"),
    BadRequest("nan-literal", b'{"data": [[NaN' + b", 0.5" * 783 + b"]]}", match="NaN"),
    BadRequest("infinity-literal", b'{"data": [[Infinity' + b", 0.5" * 783 + b"]]}", match="NaN"),
    BadRequest("huge-number", b'{"data": [[1e400' + b", 0.5" * 783 + b"]]}", match="NaN"),
    BadRequest("raw-pixels", _json({"data": [[255] * 784]}), match="divide the raw 0-255 pixels by 255"),
    BadRequest("slightly-over-one", _json({"data": [_row_with(1.0001)]}), match="in 0..1"),
    BadRequest("negative", _json({"data": [_row_with(-0.1)]}), match="in 0..1"),
    BadRequest("too-many-rows", _json({"data": [[0] * 784] * 10_001}), status=413, match="limit of 10000"),
    BadRequest("text-plain", _json({"data": [ROW]}), content_type="text/plain", status=415, match="Content-Type"),
    BadRequest("form", b"data=1", content_type="application/x-www-form-urlencoded", status=415, match="Content-Type"),
    BadRequest("no-content-type", _json({"data": [ROW]}), content_type=None, status=415, match="Content-Type"),
    BadRequest("npy-garbage", b"\x93NUMPY garbage", content_type=NPY, match="not a readable .npy"),
    BadRequest("npy-empty", b"", content_type=NPY, match="not a readable .npy"),
    BadRequest("npy-pickled", b"\x80\x04\x95", content_type=NPY, match="not a readable .npy"),
    BadRequest("npy-wrong-width", _npy(np.zeros((2, 783), dtype=np.uint8)), content_type=NPY, match="784"),
    BadRequest("npy-int64", _npy(np.zeros((2, 784), dtype=np.int64)), content_type=NPY, match="uint8 or float"),
    BadRequest("npy-strings", _npy(np.array([["a"] * 784])), content_type=NPY, match="uint8 or float"),
    BadRequest("npy-nan", _npy(np.full((1, 784), np.nan)), content_type=NPY, match="NaN"),
    BadRequest("npy-raw-floats", _npy(np.full((1, 784), 255.0)), content_type=NPY, match="divide"),
    BadRequest("npy-zero-rows", _npy(np.zeros((0, 784), dtype=np.uint8)), content_type=NPY, match="empty"),
    BadRequest("npy-too-many-rows", _npy(np.zeros((10_001, 784), dtype=np.uint8)), content_type=NPY, status=413),
    BadRequest(
        "npy-header-claims-huge-shape",
        _npy(np.zeros((1, 784), dtype=np.uint8)).replace(b"(1, 784)", b"(1000000000000, 784)"),
        content_type=NPY,
        status=413,
        match="over the limit",
    ),
    BadRequest(
        "npy-header-unclosed",
        _npy(np.zeros((1, 784), dtype=np.uint8)).replace(b"}", b" ", 1),
        content_type=NPY,
        match="not a readable .npy",
    ),
    BadRequest(
        "npy-header-shape-overflows-int64",  # 16 * (49 + 2**60) is 784 + 2**64: 784 in numpy's int64 product
        npy_with_header((1, 16, 49 + 2**60), np.dtype(np.uint8), bytes(784)),
        content_type=NPY,
        match=f"shape [1, 16, {49 + 2**60}]",
    ),
    BadRequest(
        "npy-header-negative-dimensions",  # -28 * -28 is 784
        npy_with_header((1, -28, -28), np.dtype(np.uint8), bytes(784)),
        content_type=NPY,
        match="negative",
    ),
    BadRequest("npy-truncated", _npy(np.zeros((2, 784), dtype=np.uint8))[:-5], content_type=NPY, match="data bytes"),
    BadRequest("npy-object-dtype", _npy_object(), content_type=NPY, match="uint8 or float"),
    BadRequest("get", b"", method="GET", status=405, match="use POST"),
]


# --- .npy bodies with crafted headers ---

INT64 = 2**63
#: Dimensions a header may claim: small, the image's, over the row limit, zero, negative, and over 63 or 64 bits.
DIMENSIONS = st.one_of(
    st.integers(-3, 30),
    st.sampled_from([28, 784, 10_000, 10_001, 2**31, 2**32, INT64 - 1, INT64, 2**64, 2**64 + 784]),
    st.integers(-(2**70), 2**70),
)
#: The dtypes score.py accepts: uint8 and floats, either byte order.
IMAGE_DTYPES = st.sampled_from(["|u1", "<f2", "<f4", ">f4", "<f8", ">f8"]).map(np.dtype) | st.just(np.dtype("g"))
#: Every kind of dtype a header can name.
HEADER_DTYPES = st.one_of(
    IMAGE_DTYPES,
    npst.scalar_dtypes(),  # bool, signed and unsigned ints, floats, complex, datetime64, timedelta64
    npst.byte_string_dtypes(),
    npst.unicode_string_dtypes(),
    st.just(np.dtype(object)),
    npst.array_dtypes(allow_subarrays=True),  # structured
)
#: The most data bytes a crafted body holds (30 rows of 784 16-byte numbers, with room).
MAX_DATA_BYTES = 512 * 1024


@st.composite
def pixel_dimensions(draw: st.DrawFn) -> tuple[int, ...]:
    """One or two dimensions whose product is 784 as a reader may compute it: exactly, with both signs flipped,
    or only in int64 arithmetic, which wraps (16 * (49 + 2**60) is 784 + 2**64)."""
    twist = draw(st.sampled_from(["exact", "negated", "wrapped"]))
    width = draw(st.sampled_from([4, 8, 16] if twist == "wrapped" else [1, 2, 4, 8, 16]))  # powers of 2 dividing 784
    height = 784 // width
    if twist == "negated":
        return (-width, -height)
    if twist == "wrapped":  # under 2**63: numpy multiplies such a shape in int64
        return (width, height + draw(st.integers(1, width // 2 - 1)) * 2**64 // width)
    return (width, height) if width > 1 else (784,)


@st.composite
def crafted_npy(draw: st.DrawFn) -> bytes:
    """A .npy body whose header claims any shape of 1 to 4 dimensions (huge, zero, negative) and any dtype, or
    images in a shape whose product only seems to be 784; then as many data bytes as the header announces, as
    many as an int64 product of its shape announces, a byte more or less, or a few."""
    if draw(st.booleans()):  # anything
        shape = draw(st.lists(DIMENSIONS, min_size=1, max_size=4).map(tuple))
        dtype = draw(HEADER_DTYPES)
    else:  # images, in a shape whose product may only seem to be 784
        shape = (draw(st.integers(-1, 4) | DIMENSIONS), *draw(pixel_dimensions()))
        dtype = draw(IMAGE_DTYPES)
    count = math.prod(shape)
    wrapped = (count + INT64) % 2**64 - INT64
    size = draw(st.sampled_from([count, wrapped])) * dtype.itemsize + draw(st.sampled_from([0, 0, 1, -1]))
    if not 0 <= size <= MAX_DATA_BYTES:  # no body holds that many bytes
        size = draw(st.integers(0, 64))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = bytes(size) if draw(st.booleans()) else rng.bytes(size)  # zeros are valid uint8 and float pixels
    descr = np.lib.format.dtype_to_descr(dtype)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
    latin = all(ord(character) < 256 for character in repr(descr))
    version = draw(st.sampled_from([1, 2, 3] if latin else [3]))
    return npy_with_header(shape, dtype, data, fortran_order=draw(st.booleans()), version=version)
