"""Full MNIST (MNIST_DATA_DIR): every scoring path gives model.predict's labels on all 10,000 images."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import requests
from support.project import SCORE_PY

from mnist_aci import scoring
from mnist_aci.local.service import start_local_service

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset

pytestmark = [pytest.mark.server, pytest.mark.full_mnist]


def test_every_path_predicts_exactly_what_the_model_predicts(
    full_model: OneVsRestClassifier, full_model_file: Path, full_data: Dataset
) -> None:
    x_test = full_data.x_test
    expected = full_model.predict(x_test)
    with start_local_service(full_model_file, SCORE_PY, name="full") as service:
        service.wait_for_deployment()
        np.testing.assert_array_equal(scoring.predict(service, x_test), expected)
        np.testing.assert_array_equal(scoring.predict_tutorial(service, x_test), expected)
        raw = requests.post(
            service.scoring_uri,
            scoring.tutorial_body(x_test),
            headers={"Content-Type": "application/json"},
            timeout=300,
        )
        assert raw.json() == expected.tolist()
        np.testing.assert_array_equal(scoring.call_http(service.scoring_uri, x_test), expected)
