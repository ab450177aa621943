"""Scoring script of the sklearn_mnist web service: the tutorial's score.py.

``init()`` loads ``sklearn_mnist_model.pkl`` from the folder in ``AZUREML_MODEL_DIR``; ``run(raw_data)`` takes the
tutorial's ``{"data": [[784 numbers in 0..1], ...]}`` (or a ``.npy`` array) and returns the predicted labels.
Reading the request, refusing a bad one with a 4xx that says why, and publishing the service's contract
``swagger3.json`` are in ``score_io.py``, beside this file: every target deploys the two together, and the
inference server puts their folder on ``sys.path``. Neither imports anything from mnist_aci.
"""

import os

import joblib
from azureml_inference_server_http.api.aml_request import rawhttp  # type: ignore[import-untyped]  # no py.typed

import score_io

model: score_io.Classifier | None = None


def init() -> None:
    global model
    score_io.publish_contract()
    # AZUREML_MODEL_DIR is an environment variable created during deployment.
    # It is the path to the model folder (./azureml-models/$MODEL_NAME/$VERSION)
    # For multiple models, it points to the folder containing all deployed models (./azureml-models)
    model_path = score_io.model_file(os.getenv("AZUREML_MODEL_DIR", ""), "sklearn_mnist_model.pkl")
    model = score_io.checked_model(joblib.load(model_path), model_path)


@rawhttp  # type: ignore[untyped-decorator]  # run() gets the HTTP request itself: JSON or .npy, and 4xx refusals
def run(raw_data: score_io.RawData) -> score_io.Answer:
    try:
        data = score_io.read_images(raw_data)
    except score_io.PayloadError as error:
        return score_io.refusal(error)
    # make prediction
    y_hat = score_io.predict(model, data)
    # you can return any data type as long as it is JSON-serializable
    return y_hat.tolist()
