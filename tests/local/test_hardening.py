"""Bad input, load and secrets against the real local inference server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import pytest
import requests
from support.payloads import BAD_REQUESTS, BadRequest
from support.project import SCORE_PY

from mnist_aci import scoring
from mnist_aci.errors import ServiceCallError
from mnist_aci.local.service import start_local_service
from mnist_aci.tutorial import KEY_ENV

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset
    from mnist_aci.local.service import LocalWebservice


@pytest.fixture(scope="module")
def valid_check(
    live_service: LocalWebservice, small_model: OneVsRestClassifier, sample_data: Dataset
) -> Callable[[], None]:
    images = sample_data.x_test[:5]
    expected = small_model.predict(images).tolist()

    def check() -> None:
        assert live_service.run(scoring.tutorial_body(images)) == expected

    return check


def test_battery_has_at_least_forty_cases() -> None:
    assert len(BAD_REQUESTS) >= 40


@pytest.mark.parametrize("bad", BAD_REQUESTS, ids=lambda bad: bad.id)
def test_bad_request_gets_a_4xx_json_error_and_the_service_keeps_serving(
    live_service: LocalWebservice, valid_check: Callable[[], None], bad: BadRequest
) -> None:
    headers = {"Content-Type": bad.content_type} if bad.content_type else {}
    response = requests.request(bad.method, live_service.scoring_uri, data=bad.body, headers=headers, timeout=60)
    assert response.status_code == bad.status, response.text
    answer = response.json()
    assert bad.match in answer["error"]
    assert "784" in answer["expected"]
    valid_check()


def test_body_over_the_size_limit_gets_413(live_service: LocalWebservice, valid_check: Callable[[], None]) -> None:
    body = b" " * (100 * 1024 * 1024 + 1)
    response = requests.post(
        live_service.scoring_uri, data=body, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 413
    assert "over the limit of 104857600" in response.json()["error"]
    valid_check()


def test_the_tutorials_full_request_stays_within_the_limits(
    live_service: LocalWebservice, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = np.tile(sample_data.x_test, (10, 1))
    body = scoring.tutorial_body(images)
    assert len(body) < 100 * 1024 * 1024
    np.testing.assert_array_equal(np.asarray(live_service.run(body)), small_model.predict(images))


def test_concurrent_clients_get_every_prediction_right(
    live_service: LocalWebservice, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    """8 clients x 250 requests of 1 to 100 images, JSON and .npy mixed: zero errors, exact labels."""
    images = sample_data.x_test
    expected = small_model.predict(images)
    rng = np.random.default_rng(7)
    plan = [
        [(int(rng.integers(0, len(images) - 100)), int(rng.integers(1, 101))) for _ in range(250)] for _ in range(8)
    ]

    def client(requests_plan: list[tuple[int, int]]) -> int:
        errors = 0
        with requests.Session() as session:
            for number, (start, size) in enumerate(requests_plan):
                chunk = images[start : start + size]
                body, kind = (
                    (scoring.npy_body(chunk), scoring.NPY_TYPE)
                    if number % 2
                    else (scoring.tutorial_body(chunk), scoring.JSON_TYPE)
                )
                labels = scoring.post(live_service.scoring_uri, body, kind, session=session, timeout=60)
                errors += labels != expected[start : start + size].tolist()
        return errors

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(client, plan)) == 0


@pytest.mark.server
def test_keys_never_reach_logs_or_errors(
    small_model_file: Path, sample_data: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-key-do-not-leak"
    monkeypatch.setenv(KEY_ENV, secret)
    with start_local_service(small_model_file, SCORE_PY, name="secrets") as service:
        service.wait_for_deployment()
        scoring.predict(service, sample_data.x_test[:10])
        scoring.call_http(service.scoring_uri, sample_data.x_test[:1])
        with pytest.raises(ServiceCallError) as info:
            scoring.post(service.scoring_uri, b"{}", scoring.JSON_TYPE, headers=scoring.auth_headers())
        worker_environment = json.dumps(dict(__import__("psutil").Process(service.pid).environ()))
    assert secret not in str(info.value)
    assert secret not in service.get_logs()
    assert secret not in worker_environment
    assert secret not in repr(scoring.ServiceEndpoint("http://x", key=secret))
