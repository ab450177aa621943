"""score.py for real, in-process: init() with a model trained in the test, run() on good and bad input."""

from __future__ import annotations

import io
import json
import sys
from typing import TYPE_CHECKING

import numpy as np
import pytest
from flask import Request
from hypothesis import HealthCheck, given, settings
from support.payloads import BAD_REQUESTS, NPY, BadRequest, _npy, crafted_npy
from support.project import ScoringScript, load_score_module
from werkzeug.test import EnvironBuilder

from mnist_aci.scoring import npy_body, tutorial_body

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset


@pytest.fixture(scope="module")
def score(small_model_file: Path) -> ScoringScript:
    module = load_score_module()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(small_model_file.parent))
        module.init()
    return module


def request(body: bytes, content_type: str | None = "application/json", method: str = "POST") -> Request:
    headers = [("Content-Type", content_type)] if content_type else []
    return Request(EnvironBuilder(method=method, data=body, headers=headers).get_environ())


def test_init_loads_the_model_from_azureml_model_dir(score: ScoringScript, small_model: OneVsRestClassifier) -> None:
    assert type(score.model) is type(small_model)
    np.testing.assert_array_equal(score.model.estimators_[0].coef_, small_model.estimators_[0].coef_)


def test_init_without_a_model_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_score_module()
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        module.init()


def test_run_with_the_tutorials_json_string(
    score: ScoringScript, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = sample_data.x_test[:25]
    text = json.dumps({"data": images.tolist()})
    assert score.run(text) == small_model.predict(images).tolist()
    assert score.run(text.encode()) == small_model.predict(images).tolist()


def test_run_with_an_http_json_request(
    score: ScoringScript, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = sample_data.x_test[:10]
    assert score.run(request(tutorial_body(images))) == small_model.predict(images).tolist()


@pytest.mark.parametrize("dtype", ["uint8", "float64", "float32-28x28"])
def test_run_with_an_npy_request(
    score: ScoringScript, small_model: OneVsRestClassifier, sample_data: Dataset, dtype: str
) -> None:
    images = sample_data.x_test[:10]
    if dtype == "uint8":
        body = npy_body(images)
        assert np.load(__import__("io").BytesIO(body)).dtype == np.uint8
        expected = small_model.predict(images)
    elif dtype == "float64":
        body = _npy(images)
        expected = small_model.predict(images)
    else:
        as32 = images.astype(np.float32)
        body = _npy(as32.reshape(-1, 28, 28))
        expected = small_model.predict(as32.astype(np.float64))
    assert score.run(request(body, NPY)) == expected.tolist()


@pytest.mark.parametrize("rows", [1, 999, 1000, 1001, 2500])
def test_requests_of_several_prediction_blocks_get_the_models_labels(
    score: ScoringScript, small_model: OneVsRestClassifier, sample_data: Dataset, rows: int
) -> None:
    """score.py predicts ROWS_PER_PREDICT images at a time: the labels are still the model's, in order."""
    assert score.ROWS_PER_PREDICT == 1000
    images = np.resize(sample_data.x_test, (rows, 784))
    expected = small_model.predict(images).tolist()
    assert score.run(request(npy_body(images), NPY)) == expected
    assert score.run(request(tutorial_body(images))) == expected


@pytest.mark.parametrize("simdjson", ["with simdjson", "without simdjson"])
@pytest.mark.parametrize("bad", BAD_REQUESTS, ids=lambda bad: bad.id)
def test_bad_requests_get_a_client_error_naming_the_problem(
    score: ScoringScript, bad: BadRequest, simdjson: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if simdjson == "without simdjson":
        monkeypatch.setattr(score, "simdjson", None)
    response = score.run(request(bad.body, bad.content_type, bad.method))
    assert response.status_code == bad.status
    answer = json.loads(response.get_data())
    assert bad.match in answer["error"]
    assert "784" in answer["expected"]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=crafted_npy())
def test_any_npy_header_gets_labels_or_a_client_error_naming_the_problem(score: ScoringScript, body: bytes) -> None:
    """Whatever shape and dtype a .npy header claims, and whatever data follows: one label per image, or a 4xx
    whose JSON body gives a reason; never an exception (the server's 500)."""
    answer = score.run(request(body, NPY))
    if isinstance(answer, list):
        assert len(answer) == len(np.load(io.BytesIO(body)))
        assert all(label in range(10) for label in answer)
    else:
        assert isinstance(answer, score.AMLResponse)
        assert 400 <= answer.status_code < 500
        assert json.loads(answer.get_data())["error"]


def test_body_over_the_size_limit_is_refused_without_reading_it(
    score: ScoringScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score, "MAX_BODY_BYTES", 1000)
    response = score.run(request(b"x" * 1001))
    assert response.status_code == 413
    assert "over the limit of 1000" in json.loads(response.get_data())["error"]


def test_bad_json_string_called_directly_is_a_client_error(score: ScoringScript) -> None:
    response = score.run('{"data": 5}')
    assert response.status_code == 400


@pytest.mark.parametrize(
    "encode",
    [
        lambda rows: json.dumps({"data": rows}),
        lambda rows: json.dumps({"data": rows}, indent=2),
        lambda rows: json.dumps({"data": rows, "meta": "extra key: whole-body parse"}),
        lambda rows: json.dumps({"data": rows}, separators=(",", ":")),
    ],
    ids=["tutorial", "indented", "extra-key", "compact"],
)
def test_json_is_read_exactly_whatever_its_layout(
    score: ScoringScript, sample_data: Dataset, encode: Callable[[list[list[float]]], str]
) -> None:
    images = sample_data.x_test[:250]
    body = encode(images.tolist()).encode()
    np.testing.assert_array_equal(score.parse_json(body), images)


def test_canonical_json_is_parsed_in_slices_without_a_whole_body_parse(
    score: ScoringScript, sample_data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = sample_data.x_test[:250]
    body = json.dumps({"data": images.tolist()}).encode()
    slice_rows: list[int] = []
    real_slice_rows = score._slice_rows
    monkeypatch.setattr(score, "_loads", None)  # the whole-body parse would fail

    def counted_slice_rows(parser: object, piece: bytes, n: int) -> object:
        slice_rows.append(n)
        return real_slice_rows(parser, piece, n)

    monkeypatch.setattr(score, "_slice_rows", counted_slice_rows)
    np.testing.assert_array_equal(score.parse_json(body), images)
    assert slice_rows == [100, 100, 50]


def test_without_simdjson_score_py_serves_the_tutorials_json(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "simdjson", None)  # import simdjson raises ImportError
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(small_model_file.parent))
    module = load_score_module()
    module.init()
    images = sample_data.x_test[:25]
    assert module.simdjson is None
    assert module.run(request(tutorial_body(images))) == small_model.predict(images).tolist()
