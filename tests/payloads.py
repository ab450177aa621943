"""Malformed requests to /score: (id, method, body, content type, expected status, words the error must hold)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

ROW = [0.5] * 784
JSON = "application/json"
NPY = "application/octet-stream"


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


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
    BadRequest("npy-truncated", _npy(np.zeros((2, 784), dtype=np.uint8))[:-5], content_type=NPY, match="data bytes"),
    BadRequest("npy-object-dtype", _npy_object(), content_type=NPY, match="uint8 or float"),
    BadRequest("get", b"", method="GET", status=405, match="use POST"),
]
