"""The service contract (swagger3.json beside score.py): a valid OpenAPI 3 document that states score.py's
limits, served by the real inference server, and fuzzed against it with schemathesis."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING

import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.payloads import crafted_npy
from support.project import ROOT, SCORE_PY, load_score_module

from mnist_aci.local.server import HOST
from mnist_aci.local.service import start_local_service
from mnist_aci.project_files import CONTRACT, packaged_file
from mnist_aci.score_script import stage_scoring_folder
from mnist_aci.scoring import tutorial_body

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset
    from mnist_aci.local.service import LocalWebservice

CONTRACT_FILE = ROOT / CONTRACT
DOCUMENT = json.loads(CONTRACT_FILE.read_text())
SCORE = load_score_module()
POST = DOCUMENT["paths"]["/score"]["post"]


def resolve(node: dict) -> dict:
    """``node``, or the component its ``$ref`` points to."""
    if "$ref" not in node:
        return node
    found: dict = DOCUMENT
    for part in node["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    return found


def test_the_contract_is_a_valid_openapi_3_document() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.")


def test_the_packaged_contract_is_the_top_level_one() -> None:
    assert packaged_file(CONTRACT).read_bytes() == CONTRACT_FILE.read_bytes()


def test_the_contract_states_score_pys_limits_and_content_types() -> None:
    body = POST["requestBody"]
    assert body["x-max-body-bytes"] == SCORE.MAX_BODY_BYTES
    assert set(body["content"]) == {SCORE.JSON_TYPE, *SCORE.NPY_TYPES}
    rows = resolve(body["content"][SCORE.JSON_TYPE]["schema"])["properties"]["data"]
    assert (rows["minItems"], rows["maxItems"]) == (1, SCORE.MAX_ROWS)
    assert (rows["items"]["minItems"], rows["items"]["maxItems"]) == (SCORE.N_PIXELS, SCORE.N_PIXELS)
    assert (rows["items"]["items"]["minimum"], rows["items"]["items"]["maximum"]) == (0, 1)
    labels = resolve(POST["responses"]["200"]["content"]["application/json"]["schema"])
    assert (labels["maxItems"], labels["items"]["minimum"], labels["items"]["maximum"]) == (SCORE.MAX_ROWS, 0, 9)


def test_every_refusal_score_py_can_make_is_a_documented_error_body() -> None:
    refusals = {SCORE.BAD_REQUEST, SCORE.REQUEST_TIMEOUT, SCORE.TOO_LARGE, SCORE.UNSUPPORTED_TYPE}
    documented = {int(code) for code in POST["responses"] if code != "200"}
    assert documented == refusals
    assert set(DOCUMENT["paths"]["/score"]["get"]["responses"]) == {str(SCORE.NOT_ALLOWED)}
    for operation in DOCUMENT["paths"]["/score"].values():
        for code, response in operation["responses"].items():
            if code != "200":
                schema = resolve(resolve(response)["content"]["application/json"]["schema"])
                assert schema["required"] == ["error", "expected"]


def test_staging_copies_the_contract_beside_score_py(tmp_path: Path) -> None:
    folder = stage_scoring_folder(SCORE_PY, tmp_path / "app")
    assert sorted(path.name for path in folder.iterdir()) == ["score.py", "score_io.py", "swagger3.json"]
    assert (folder / CONTRACT).read_bytes() == CONTRACT_FILE.read_bytes()


def test_a_script_without_a_contract_is_staged_alone_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_score.py").write_text("def init():\n    pass\n\ndef run(raw_data):\n    return []\n")
    (mine / "config.json").write_text("{}")
    caplog.set_level(logging.INFO, logger="mnist_aci")
    folder = stage_scoring_folder(mine / "my_score.py", tmp_path / "app")
    assert [path.name for path in folder.iterdir()] == ["score.py"]
    assert f"no swagger3.json beside {mine / 'my_score.py'}" in caplog.text


@pytest.mark.server
def test_the_server_publishes_the_contract_at_swagger_json(live_service: LocalWebservice) -> None:
    assert live_service.swagger_uri == f"http://{HOST}:{live_service.port}/swagger.json?version=3"
    response = requests.get(live_service.swagger_uri, timeout=30)
    assert response.status_code == 200
    assert response.json() == DOCUMENT


@pytest.mark.server
def test_a_score_py_without_a_contract_is_served_with_the_servers_generic_document(
    tmp_path: Path, small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    alone = tmp_path / "score.py"
    alone.write_bytes(SCORE_PY.read_bytes())
    (tmp_path / "score_io.py").write_bytes((ROOT / "score_io.py").read_bytes())  # what score.py imports
    with start_local_service(small_model_file, alone, name="no-contract") as service:
        service.wait_for_deployment()
        generic = requests.get(service.swagger_uri, timeout=30).json()
        assert generic["components"]["schemas"]["ServiceInput"] == {"type": "object", "example": {}}
        images = sample_data.x_test[:2]
        assert service.run(tutorial_body(images)) == small_model.predict(images).tolist()


# --- Fuzzing: schemathesis against the real server, bounded in examples ---

#: Examples per operation against the real server (about a minute on 2 busy cores, with schemathesis'
#: coverage phase); the .npy mutations get many more in process, where they cost microseconds.
FUZZ_EXAMPLES = 200
IN_PROCESS_EXAMPLES = 3000


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def data_offset(body: bytes) -> int:
    """Where a .npy file's data starts (after the magic, the header length and the header)."""
    stream = io.BytesIO(body)
    version = np.lib.format.read_magic(stream)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(stream)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
    else:
        np.lib.format.read_array_header_2_0(stream)  # type: ignore[no-untyped-call]  # numpy 1.26's stub is untyped
    return stream.tell()


@st.composite
def valid_npy(draw: st.DrawFn) -> bytes:
    """A .npy body score.py accepts: 1-4 images, uint8 pixels or floats in 0..1, flat or 28 x 28."""
    rows = draw(st.integers(1, 4))
    shape = draw(st.sampled_from([(rows, 784), (rows, 28, 28)]))
    kind = draw(st.sampled_from(["<u1", "<f4", "<f8", ">f8"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "<u1":
        array = rng.integers(0, 256, size=shape, dtype=np.uint8)
    else:
        array = rng.random(shape).astype(np.dtype(kind))
    fortran = draw(st.booleans())
    return npy(np.asfortranarray(array) if fortran else array)


@st.composite
def mutated_npy(draw: st.DrawFn) -> bytes:
    """A valid .npy body with its header or its data bytes overwritten, cut, inserted or its header rewritten."""
    body = bytearray(draw(valid_npy()))
    start = data_offset(bytes(body))
    region = draw(st.sampled_from(["header", "data"]))
    low, high = (0, start - 1) if region == "header" else (start, len(body) - 1)
    operation = draw(st.sampled_from(["overwrite", "truncate", "insert", "rewrite-header"]))
    position = draw(st.integers(low, high))
    if operation == "overwrite":
        for offset in range(draw(st.integers(1, 8))):
            if position + offset < len(body):
                body[position + offset] = draw(st.integers(0, 255))
    elif operation == "truncate":
        del body[position:]
    elif operation == "insert":
        body[position:position] = draw(st.binary(min_size=1, max_size=16))
    else:
        header = body[:start].decode("latin-1")
        replacement = draw(
            st.sampled_from(
                [
                    ("'shape': (", "'shape': (100000000000, "),
                    ("'shape': (", "'shape': (-1, "),
                    ("'shape': (", "'shape': (0, "),
                    ("'shape': (", "'shape': ('x', "),
                    ("'descr': '", "'descr': '|O"),
                    ("'descr': '", "'descr': '<c16"),
                    ("'descr': '", "'descr': '<U"),
                    ("False", "None"),
                    ("True", "1"),
                    ("{", "["),
                    ("}", ""),
                ]
            )
        )
        body[:start] = header.replace(*replacement, 1).encode("latin-1")
    return bytes(body)


@settings(max_examples=IN_PROCESS_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_npy())
def test_any_mutated_npy_body_gives_images_or_a_refusal_in_process(body: bytes) -> None:
    """score.py's .npy reader on bodies mutated in header and data: images, or a PayloadError, nothing else."""
    try:
        outcome = SCORE.parse_npy(body)
    except SCORE.PayloadError as refusal:
        outcome = refusal
    if isinstance(outcome, SCORE.PayloadError):
        assert outcome.status in (SCORE.BAD_REQUEST, SCORE.TOO_LARGE)
    else:
        assert outcome.ndim == 2
        assert outcome.shape[1] == SCORE.N_PIXELS
        assert outcome.dtype in (np.uint8, np.float64)
        images = SCORE.as_float(outcome)
        assert images.dtype == np.float64
        assert 0.0 <= images.min() <= images.max() <= 1.0


NPY_BODIES = st.one_of(valid_npy(), mutated_npy(), mutated_npy(), crafted_npy(), st.binary(max_size=256))
schemathesis.openapi.media_type("application/octet-stream", NPY_BODIES, aliases=["application/x-npy"])

#: The contract's operations, fuzzed by the test that runs them: schemathesis builds a schema's test cases (its
#: coverage phase: bodies of up to 10,000 images) when they are parametrized, so a schema loaded at import would
#: have every pytest process that collects this file (each xdist worker, ``make check``) spend about 20 s of CPU
#: on cases it never sends. Loaded from a fixture, they are built once, where the test runs.
FUZZED = schemathesis.pytest.from_fixture("contract_schema")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schema reads and writes ``item._nodeid``, which pytest 9 no longer has."""
    request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module")
def contract_schema() -> schemathesis.BaseSchema:
    """The contract as schemathesis fuzzes it: valid requests and requests that break it."""
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return schema


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.server
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@FUZZED.parametrize()
def test_fuzzed_requests_get_answers_that_conform_to_the_contract(
    case: schemathesis.Case, live_service: LocalWebservice, session: requests.Session, node_id_for_schemathesis: None
) -> None:
    """No 5xx, no lost connection, every answer as the contract says; a valid JSON body is scored and
    a request that breaks the contract is refused with a 4xx (413 included, which schemathesis' own
    negative_data_rejection check does not count)."""
    response = case.call_and_validate(
        base_url=f"http://{HOST}:{live_service.port}", session=session, checks=CHECKS, timeout=60
    )
    assert case.meta is not None  # schemathesis sets it on every case it generates
    if case.meta.generation.mode == GenerationMode.NEGATIVE:
        assert 400 <= response.status_code < 500, response.text
    elif case.media_type == SCORE.JSON_TYPE:
        assert response.status_code == 200, response.text
