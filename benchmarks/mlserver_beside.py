"""MLServer serving the same model file on 127.0.0.1, as the benchmark's yardstick.

MLServer runs from its own environment, ``.tools/mlserver`` (``make mlserver``: pinned MLServer and
mlserver-sklearn, with the project's scikit-learn, numpy, joblib and scipy so that it loads the same pickle).
It serves the model with ``mlserver_sklearn.SKLearnModel`` in its own process (``parallel_workers: 0``:
no hop to an inference worker process, its fastest set-up for one request), with adaptive batching off,
or on (``max_batch_size`` 8 requests, ``max_batch_time`` 2 ms) for the concurrent-clients figure.
Requests use its REST API (Open Inference Protocol v2): JSON bodies, the images as FP64, encoded by orjson.
The server runs in its own process group with its files in a temporary folder; both go when the
``running_mlserver`` block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import requests

from mnist_aci.local.server import bind_port

ROOT = Path(__file__).resolve().parents[1]
MLSERVER = ROOT / ".tools" / "mlserver" / "bin" / "mlserver"
MODEL_NAME = "mnist"
STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
BATCHING = {"max_batch_size": 8, "max_batch_time": 0.002}


def mlserver_missing() -> str | None:
    """Why MLServer cannot run here (None when it can)."""
    if not MLSERVER.is_file():
        return f"{MLSERVER.relative_to(ROOT)} is not installed; `make mlserver` installs it"
    return None


def mlserver_versions() -> str:
    """The installed MLServer and mlserver-sklearn releases, as their metadata folders name them."""
    folders = sorted(MLSERVER.parents[1].glob("lib/python*/site-packages/mlserver*.dist-info"))
    return ", ".join(folder.name.removesuffix(".dist-info").replace("-", " ") for folder in folders)


@dataclass(frozen=True)
class MLServer:
    """A running MLServer: its inference URL and the process that predicts."""

    infer_url: str
    pid: int


def _write_settings(folder: Path, model_file: Path, batching: bool) -> int:
    """MLServer's settings and the model's, in ``folder``; returns the HTTP port."""
    with contextlib.ExitStack() as held:  # three free ports, held together while chosen: three different ones
        port, grpc_port, metrics_port = (held.enter_context(bind_port(None)).getsockname()[1] for _ in range(3))
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "parallel_workers": 0,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_dir = folder / MODEL_NAME
    model_dir.mkdir()
    shutil.copyfile(model_file, model_dir / "model.joblib")
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
        **(BATCHING if batching else {}),
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
    return port


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"MLServer exited with code {process.returncode} while starting:\n{tail}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/ready", timeout=1).ok:
                return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
    raise RuntimeError(f"MLServer not ready after {STARTUP_TIMEOUT_S:g} s; its log is {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever it started and left behind


@contextlib.contextmanager
def running_mlserver(model_file: Path, *, batching: bool = False) -> Iterator[MLServer]:
    """MLServer serving ``model_file`` on 127.0.0.1, stopped (process group and folder) on exit."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mlserver-"))
    try:
        port = _write_settings(folder, model_file, batching)
        log = folder / "mlserver.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [str(MLSERVER), "start", str(folder)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_until_ready(process, port, log)
            yield MLServer(f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/infer", process.pid)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def infer_body(images: np.ndarray) -> bytes:
    """The Open Inference Protocol request for ``images`` (n, 784) as FP64."""
    array = np.ascontiguousarray(images, dtype=np.float64)
    tensor = {"name": "images", "shape": list(array.shape), "datatype": "FP64", "data": array.ravel()}
    return orjson.dumps({"inputs": [tensor]}, option=orjson.OPT_SERIALIZE_NUMPY)


def infer(session: requests.Session, url: str, images: np.ndarray) -> np.ndarray:
    """MLServer's labels for ``images`` (one request)."""
    response = session.post(url, data=infer_body(images), headers={"Content-Type": "application/json"}, timeout=120)
    response.raise_for_status()
    return np.asarray(response.json()["outputs"][0]["data"])


def predict(url: str, images: np.ndarray, chunk_rows: int = 1000) -> np.ndarray:
    """MLServer's labels for ``images``, ``chunk_rows`` per request over one kept-alive connection."""
    with requests.Session() as session:
        labels = [
            infer(session, url, images[start : start + chunk_rows]) for start in range(0, len(images), chunk_rows)
        ]
    return np.concatenate(labels)
