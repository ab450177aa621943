"""What a refused scoring call is told as, without a service (the SDK v1 services' cases run against the stand-in in
tests/azure_v1/test_limits.py)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from test_scoring import _Handler, serving

from mnist_aci import scoring
from mnist_aci.errors import ServiceCallError
from mnist_aci.refusals import sdk_response_status
from mnist_aci.service import memory_exhausted

OOM_LINE = "Container terminated: OOMKilled (exit code 137)."
GUNICORN_LINE = "[ERROR] Worker (pid:12) was sent SIGKILL! Perhaps out of memory?"


@pytest.mark.parametrize(
    ("log", "line"),
    [
        (f"Listening at: http://127.0.0.1:5001\n{OOM_LINE}\n", OOM_LINE),
        (f"Booting worker with pid: 12\n  {GUNICORN_LINE}\n", GUNICORN_LINE),
        ("Traceback (most recent call last):\nMemoryError", "MemoryError"),
        ("Listening at: http://127.0.0.1:5001\nBooting worker with pid: 12", None),
    ],
    ids=["kubernetes", "gunicorn", "python", "none"],
)
def test_memory_exhausted_finds_the_line_that_says_so(log: str, line: str | None) -> None:
    assert memory_exhausted(log) == line


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Received bad response from service.\nResponse Code: 504\nHeaders: {}", 504),
        ("Received bad response from service.\nResponse Code: 503\nContent: b''", 503),
        ("Error attempting to call webservice, scoring_uri unavailable.", None),
    ],
)
def test_the_status_of_an_sdk_run_error_is_read_from_its_text(text: str, status: int | None) -> None:
    assert sdk_response_status(RuntimeError(text)) == status


@pytest.mark.parametrize(
    ("status", "said"),
    [(504, "took longer than its scoring timeout"), (503, "request queue is full")],
)
def test_a_refusal_without_a_service_still_says_what_it_means(
    monkeypatch: pytest.MonkeyPatch, status: int, said: str
) -> None:
    monkeypatch.setattr(scoring, "QUEUE_FULL_RETRY_WAITS_S", (0.0, 0.0, 0.0))
    refusing = type("Refusing", (_Handler,), {"status": status})
    with serving(refusing) as url, pytest.raises(ServiceCallError, match=said) as refused:
        scoring.post(url, b"{}", scoring.JSON_TYPE)
    assert refused.value.status == status


class _QueueFullTwice(_Handler):
    statuses: ClassVar[list[int]] = [503, 503, 200]

    def do_POST(self) -> None:
        type(self).status = self.statuses.pop(0)
        super().do_POST()


def test_a_full_queue_is_tried_again_before_it_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring, "QUEUE_FULL_RETRY_WAITS_S", (0.0, 0.0, 0.0))
    with serving(_QueueFullTwice) as url:
        assert scoring.post(url, b"{}", scoring.JSON_TYPE) == [1, 2]
    assert _QueueFullTwice.statuses == []
