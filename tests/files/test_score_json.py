"""Properties of score.py's JSON parse: the sliced simdjson parse gives, for any body, the very images of
the whole-body parse (bit for bit) or the very same refusal (status and message)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from unittest import mock

import numpy as np
import orjson
from hypothesis import HealthCheck, example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from support.project import load_score_module

if TYPE_CHECKING:
    from collections.abc import Callable

score = load_score_module()

# Bounded and deterministic enough for CI: no deadline (nothing timing-based), no example database on disk.
PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON_SPACE = st.sampled_from(["", " ", "\n", "\t", "\r\n", "  "])
# Tokens that may stand for a pixel: valid numbers of every JSON form, and what must be refused.
ODD_VALUES = [
    "0", "1", "-0", "-0.0", "0.0", "1.0", "5e-1", "5E-1", "0.5e0", "1e-400", "5e-324", "1e400", "-1e400",
    "1.0000001", "-0.1", "255", "100000000000000000000", "18446744073709551615", "-9223372036854775809",
    "true", "false", "null", '"0.5"', '""', "[]", "[0.5]", "{}", '{"v": 1}', "NaN", "Infinity", "-Infinity",
    "01", "1.", ".5", "+1", "0x1", "1e", "--1", "0.5 0.5", "",
    "0.5e-99999999999999999999", "1e99999999999999999999", "0." + "0" * 400 + "1", "1" + "0" * 400,
    "9007199254740993", "0.50000000000000011102230246251565404236316680908203125",
]  # fmt: skip
# What may stand around the "data" array: the canonical form, and other JSON (or not JSON) around it.
CANONICAL_ENDS = [('{"data":', "}"), ('{ "data" : ', " }"), ('\n{\n  "data": ', "\n}\n"), ('\t{"data"\r\n:', "}\t")]
OTHER_ENDS = [
    ('{"meta": 1, "data": ', "}"), ('{"data": ', ', "meta": "]"}'), ('{"data": ', ', "data": [[0.5]]}'),
    ('{"d\\u0061ta": ', "}"), ('{"Data": ', "}"), ('\x0c{"data": ', "}"), ('{"data": ', "}\x0b"),
    ('\ufeff{"data": ', "}"), ('{"data": [', "]}"), ('{"data": ', "}}"), ("", ""),
]  # fmt: skip
# Bytes that damage a body in the ways a parser might miss.
ROW = b"[" + b"0.5," * 783 + b"0.5]"
ODD_BYTES = [b"[", b"]", b",", b'"', b"{", b"}", b":", b" ", b"\x0c", b"\x0b", b"\x00", b"0", b"-", b"e", b".", b"\xff"]


def outcome(parse: Callable[[bytes], np.ndarray], body: bytes) -> tuple[object, ...]:
    """What a parse makes of a body: the images' exact bytes, or the refusal's status and message."""
    try:
        images = parse(body)
    except score.PayloadError as error:
        return ("refused", error.status, str(error))
    return ("images", images.shape, images.tobytes())


@st.composite
def tutorial_bodies(draw: st.DrawFn) -> bytes:
    """Bodies shaped like the tutorial's, from random images, with random JSON whitespace and number forms,
    and a few pixels replaced by odd tokens, some rows of other lengths, and odd keys around "data"."""
    n_rows = draw(st.integers(1, 5))
    images = draw(arrays(np.float64, (n_rows, 784), elements=st.floats(0.0, 1.0)))
    rows = [[repr(float(value)) for value in row] for row in images]
    for _ in range(draw(st.integers(0, 2))):
        row = draw(st.integers(0, n_rows - 1))
        rows[row][draw(st.integers(0, 783))] = draw(st.sampled_from(ODD_VALUES))
    if draw(st.booleans()):
        row = draw(st.integers(0, n_rows - 1))
        rows[row] = rows[row][: draw(st.sampled_from([0, 1, 783]))] if draw(st.booleans()) else [*rows[row], "0.5"]
    space = draw(JSON_SPACE)
    text_rows = [f"[{space}" + f"{space},{space}".join(row) + f"{space}]" for row in rows]
    data = "[" + draw(JSON_SPACE) + (draw(JSON_SPACE) + "," + draw(JSON_SPACE)).join(text_rows) + draw(JSON_SPACE) + "]"
    head, tail = draw(st.sampled_from(CANONICAL_ENDS) | st.sampled_from(OTHER_ENDS))
    return (head + data + tail).encode()


@st.composite
def damaged(draw: st.DrawFn, bodies: st.SearchStrategy[bytes]) -> bytes:
    """A body truncated, or with a byte deleted or inserted anywhere."""
    body = draw(bodies)
    at = draw(st.integers(0, len(body)))
    how = draw(st.sampled_from(["truncate", "delete", "insert"]))
    if how == "truncate":
        return body[:at]
    if how == "delete":
        return body[:at] + body[at + 1 :]
    return body[:at] + draw(st.sampled_from(ODD_BYTES)) + body[at:]


@PROPERTY
@given(body=tutorial_bodies() | damaged(tutorial_bodies()), rows_per_slice=st.integers(1, 3))
# Bodies that each check of the sliced parse exists to refuse, or to send to the whole-body parse:
@example(body=b'\x0c{"data": [' + ROW + b"]}", rows_per_slice=1)  # \f: whitespace to Python, not to JSON
@example(body=b'{"data": [' + ROW + b" " + ROW + b"]}", rows_per_slice=1)  # no comma between two slices
@example(body=b'{"data": [' + ROW[:-5] + b"]," + ROW[:-1] + b",0.5]]}", rows_per_slice=2)  # 783 + 785
@example(body=b'{"data": [' + ROW[:-5] + b",[" + ROW[1:-1] + b",0.5]]]}", rows_per_slice=2)  # 783 + a list of 785
@example(
    body=b'{"data": [[[' + ROW[1:-1] + b"," + ROW[5:] + b"], 0.5]}", rows_per_slice=2
)  # a list in a number's place
@example(body=b'{"data": [[1' + b"0" * 30 + ROW[4:] + b"]}", rows_per_slice=1)  # an integer over 64 bits
def test_sliced_parse_gives_the_whole_body_parse_images_or_refusal(body: bytes, rows_per_slice: int) -> None:
    with mock.patch.object(score, "ROWS_PER_SLICE", rows_per_slice):
        assert outcome(score.parse_json, body) == outcome(score._parse_whole, body)


@PROPERTY
@given(
    images=st.integers(1, 7).flatmap(lambda n: arrays(np.float64, (n, 784), elements=st.floats(0.0, 1.0))),
    encode=st.sampled_from(
        [
            lambda rows: orjson.dumps({"data": rows}, option=orjson.OPT_SERIALIZE_NUMPY),
            lambda rows: json.dumps({"data": rows.tolist()}).encode(),
            lambda rows: json.dumps({"data": rows.tolist()}, indent=1).encode(),
            lambda rows: json.dumps({"data": rows.tolist()}, separators=(",", ":")).encode(),
        ]
    ),
    rows_per_slice=st.integers(1, 3),
)
def test_valid_bodies_are_read_by_the_slices_exactly(
    images: np.ndarray, encode: Callable[[np.ndarray], bytes], rows_per_slice: int
) -> None:
    body = encode(images)
    with mock.patch.object(score, "ROWS_PER_SLICE", rows_per_slice):
        sliced = score._parse_in_slices(body)
    assert sliced is not None
    assert sliced.tobytes() == images.tobytes()
    assert sliced.tobytes() == np.array(json.loads(body)["data"], dtype=np.float64).tobytes()
