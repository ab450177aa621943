"""Soak: thousands of mixed valid and malformed requests from 8 clients against the real server."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psutil
import pytest
import requests
from support.payloads import BAD_REQUESTS, BadRequest
from support.project import SCORE_PY

from mnist_aci import scoring
from mnist_aci.local.service import LocalWebservice, start_local_service

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset

pytestmark = [pytest.mark.server, pytest.mark.soak]

SOAK_REQUESTS = 5_000
WARM_UP_REQUESTS = 800
CLIENTS = 8
#: A generous bound for one answer on a busy machine: a request with none counts as a connection error.
REQUEST_TIMEOUT_S = 120
RSS_GROWTH_LIMIT = 20 * 1024 * 1024
#: Malformed requests of at most this size join the mix (the multi-megabyte ones are tested once, elsewhere).
SMALL_BODY = 1024 * 1024
SMALL_BAD_REQUESTS = [bad for bad in BAD_REQUESTS if len(bad.body) <= SMALL_BODY]


def workers_rss(service: LocalWebservice) -> int:
    """Resident memory of the server's worker processes, in bytes."""
    return sum(worker.memory_info().rss for worker in psutil.Process(service.pid).children())


def soak(
    service: LocalWebservice, plan: list[tuple[int, int, BadRequest | None]], images: np.ndarray, expected: list[int]
) -> Counter:
    """Send ``plan`` (start, size, malformed request or None for a valid one) from CLIENTS threads;
    count the outcomes: "ok", "wrong" (an unexpected answer), "5xx" and "connection error"."""

    def client(share: list[tuple[int, int, BadRequest | None]]) -> Counter:
        outcomes: Counter = Counter()
        with requests.Session() as session:
            for number, (start, size, bad) in enumerate(share):
                try:
                    if bad is None:
                        chunk = images[start : start + size]
                        body, kind = (
                            (scoring.npy_body(chunk), scoring.NPY_TYPE)
                            if number % 2
                            else (scoring.tutorial_body(chunk), scoring.JSON_TYPE)
                        )
                        response = session.post(
                            service.scoring_uri, data=body, headers={"Content-Type": kind}, timeout=REQUEST_TIMEOUT_S
                        )
                    else:
                        headers = {"Content-Type": bad.content_type} if bad.content_type else {}
                        response = session.request(
                            bad.method, service.scoring_uri, data=bad.body, headers=headers, timeout=REQUEST_TIMEOUT_S
                        )
                except requests.RequestException:  # no answer at all: refused, dropped or timed out
                    outcomes["connection error"] += 1
                    continue
                if response.status_code >= 500:
                    outcomes["5xx"] += 1
                    continue
                try:
                    if bad is None:
                        good = response.status_code == 200 and response.json() == expected[start : start + size]
                    else:
                        good = response.status_code == bad.status and bad.match in response.json()["error"]
                except ValueError:  # an answer that is not the JSON the contract promises
                    good = False
                outcomes["ok" if good else "wrong"] += 1
        return outcomes

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return sum(pool.map(client, [plan[i::CLIENTS] for i in range(CLIENTS)]), Counter())


def mixed_plan(count: int, n_images: int, seed: int) -> list[tuple[int, int, BadRequest | None]]:
    """Two valid requests (1 to 50 images) for every malformed one."""
    rng = random.Random(seed)
    plan: list[tuple[int, int, BadRequest | None]] = []
    for _ in range(count):
        size = rng.randint(1, 50)
        bad = rng.choice(SMALL_BAD_REQUESTS) if rng.random() < 1 / 3 else None
        plan.append((rng.randrange(n_images - size), size, bad))
    return plan


def test_thousands_of_mixed_requests_get_no_5xx_no_lost_connection_and_no_leak(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = sample_data.x_test
    expected = small_model.predict(images).tolist()
    with start_local_service(small_model_file, SCORE_PY, name="soak") as service:
        service.wait_for_deployment()
        warm = soak(service, mixed_plan(WARM_UP_REQUESTS, len(images), seed=1), images, expected)
        before = workers_rss(service)
        started = time.monotonic()
        outcomes = soak(service, mixed_plan(SOAK_REQUESTS, len(images), seed=2), images, expected)
        elapsed = time.monotonic() - started
        after = workers_rss(service)
    print(  # shown with pytest -s: the figures of this run
        f"soak: {SOAK_REQUESTS} requests in {elapsed:.1f} s; worker RSS {before / 2**20:.1f} MB before, "
        f"{after / 2**20:.1f} MB after; outcomes {dict(outcomes)}"
    )
    assert warm == Counter(ok=WARM_UP_REQUESTS)
    assert outcomes == Counter(ok=SOAK_REQUESTS)
    assert after - before < RSS_GROWTH_LIMIT, f"worker RSS grew from {before / 2**20:.1f} MB to {after / 2**20:.1f} MB"
