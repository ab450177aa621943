"""The test run's pytest-xdist workers: the folder they share, and the groups that keep a costly fixture on one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Costly fixtures, by the group of the tests that use them: with ``-n`` and ``--dist loadgroup`` (``make test``)
#: each group runs on one worker, which makes the fixture once (the full model's training, the wheel's build).
COSTLY_FIXTURES = {"full_model_file": "full-model", "dists": "wheel"}


def group_costly_fixtures(items: list[pytest.Item]) -> None:
    """Put each test that uses a :data:`COSTLY_FIXTURES` fixture in that fixture's group (one worker makes it)."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        group = next((group for fixture, group in COSTLY_FIXTURES.items() if fixture in used), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def shared_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this test run that every pytest-xdist worker sees (the base temp when not distributed)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
