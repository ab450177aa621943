"""Scoring the MNIST test set through the local service, beside in-process predict and MLServer.

Prints, from one run on the same data and model file, each path's best time beside in-process
``model.predict``'s best time measured in turn with it (so that both see the same machine): the tutorial's
single JSON request as the tutorial writes it (``json.dumps``), the library's JSON path (the same request
encoded by orjson, read by score.py with simdjson), its default path (``mnist_aci.predict``: .npy chunks
over two connections), each path's scoring-worker peak RSS (a fresh one-worker service per path), and
MLServer serving the same model file (``mlserver_beside``: 1,000 images per request, its peak RSS);
then single-image latency p50/p99 of both services, requests interleaved, and throughput with 8
concurrent clients sending 1-100 images, against MLServer with adaptive batching off and on. Each figure
is printed beside its target, and beside MLServer's where MLServer runs it. Timings are reported, never
asserted; predictions are checked equal to in-process ``model.predict`` for every path. The machine's
load average is printed too: on a shared machine the times move with it (memory figures do not).

    MNIST_DATA_DIR=../shared/mnist python benchmarks/bench_scoring.py [--model sklearn_mnist_model.pkl]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mlserver_beside
import numpy as np
import psutil
import requests

from mnist_aci import load_model, save_model, scoring, train_model
from mnist_aci.data import load_mnist
from mnist_aci.local.service import LocalWebservice, start_local_service

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 5
LATENCY_REQUESTS = 500
CLIENTS = 8
REQUESTS_PER_CLIENT = 250
TUTORIAL = "tutorial as written (json.dumps)"
JSON_PATH = "library JSON path (simdjson)"
DEFAULT = "library default (.npy chunks)"
MLSERVER = "MLServer REST (x 1000 images)"
#: The targets: worker peak RSS of the default and JSON paths, default path time over in-process.
DEFAULT_RSS_TARGET_MB = 200
JSON_RSS_TARGET_MB = 310
DEFAULT_RATIO_TARGET = 1.5

#: Sends images in one request on a kept-alive session and returns the labels.
Sender = Callable[[requests.Session, np.ndarray], object]


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def worker_peak_rss_mb(service: LocalWebservice) -> float:
    """Peak resident memory (VmHWM) of the service's scoring worker, in MB."""
    return peak_rss_mb(psutil.Process(service.pid).children()[0].pid)


@dataclass(frozen=True)
class PathResult:
    """A scoring path's best time, in-process ``model.predict``'s best time in the same runs (one each,
    in turn, so that both see the same machine), the serving process's peak RSS, and its labels."""

    seconds: float
    in_process_seconds: float
    peak_rss_mb: float
    labels: np.ndarray

    @property
    def ratio(self) -> float:
        return self.seconds / self.in_process_seconds


def best_of_interleaved(
    repeats: int, action: Callable[[], object], baseline: Callable[[], object]
) -> tuple[float, float, object]:
    """``action`` and ``baseline`` run in turn ``repeats`` times: the best time (seconds) of each, and the
    last result of ``action``."""
    times: list[float] = []
    baseline_times: list[float] = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        baseline()
        baseline_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), min(baseline_times), result


def measure_path(
    model_file: Path, action: Callable[[LocalWebservice], np.ndarray], baseline: Callable[[], object]
) -> PathResult:
    """Run a scoring path on a fresh one-worker service, in turn with ``baseline`` (in-process predict)."""
    with start_local_service(model_file, ROOT / "score.py", name="bench") as service:
        service.wait_for_deployment()
        action(service)  # warm-up: the first request after start pays one-time costs
        elapsed, in_process, labels = best_of_interleaved(REPEATS, lambda: action(service), baseline)
        return PathResult(elapsed, in_process, worker_peak_rss_mb(service), np.asarray(labels))


def measure_mlserver(model_file: Path, images: np.ndarray, baseline: Callable[[], object]) -> PathResult:
    """MLServer on the same images, 1,000 per request, in turn with ``baseline`` (in-process predict)."""
    with mlserver_beside.running_mlserver(model_file) as server:
        mlserver_beside.predict(server.infer_url, images)  # warm-up, as for the project's paths
        elapsed, in_process, labels = best_of_interleaved(
            REPEATS, lambda: mlserver_beside.predict(server.infer_url, images), baseline
        )
        return PathResult(elapsed, in_process, peak_rss_mb(server.pid), np.asarray(labels))


def project_sender(url: str) -> Sender:
    """The library's .npy request to the project's service."""
    return lambda session, images: scoring.post(url, scoring.npy_body(images), scoring.NPY_TYPE, session=session)


def mlserver_sender(url: str) -> Sender:
    """MLServer's REST request."""
    return lambda session, images: mlserver_beside.infer(session, url, images)


def interleaved_latencies_ms(senders: dict[str, Sender], images: np.ndarray, count: int) -> dict[str, list[float]]:
    """One-image requests, each sender in turn (so that all see the same machine), one connection each;
    the first tenth of the requests warm up and are not counted."""
    latencies: dict[str, list[float]] = {name: [] for name in senders}
    sessions = {name: requests.Session() for name in senders}
    try:
        for i in range(count + count // 10):
            image = images[i % len(images)][None, :]
            for name, send in senders.items():
                start = time.perf_counter()
                send(sessions[name], image)
                if i >= count // 10:
                    latencies[name].append((time.perf_counter() - start) * 1000)
    finally:
        for session in sessions.values():
            session.close()
    return latencies


def under_load(
    send: Sender, images: np.ndarray, clients: int, requests_per_client: int
) -> tuple[float, float, list[float]]:
    """``clients`` concurrent clients, each sending requests of 1 to 100 images:
    requests/s, images/s and every request's latency in ms."""

    def client(seed: int) -> tuple[int, list[float]]:
        rng = np.random.default_rng(seed)
        sent, latencies = 0, []
        with requests.Session() as session:
            for _ in range(requests_per_client):
                size = int(rng.integers(1, 101))
                start = int(rng.integers(0, len(images) - size))
                began = time.perf_counter()
                send(session, images[start : start + size])
                latencies.append((time.perf_counter() - began) * 1000)
                sent += size
        return sent, latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - start
    all_latencies = [latency for _, latencies in results for latency in latencies]
    return len(all_latencies) / elapsed, sum(sent for sent, _ in results) / elapsed, all_latencies


def quantiles_ms(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 of latencies in ms."""
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49], cuts[98]


def benchmark_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace | None:
    """The command line with ``--data-dir`` and ``--model`` added and checked; None (said why) if unusable."""
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR"), help="full MNIST folder")
    parser.add_argument("--model", type=Path, help="a saved sklearn_mnist_model.pkl (default: train one)")
    args = parser.parse_args()
    if not args.data_dir:
        print("Set MNIST_DATA_DIR (or --data-dir) to the folder of the four MNIST files.", file=sys.stderr)
        return None
    if args.model is not None and not args.model.is_file():
        print(f"No model file at {args.model}.", file=sys.stderr)
        return None
    return args


def load_figures(
    model_file: Path, images: np.ndarray, mlserver_ok: bool
) -> dict[str, tuple[float, float, list[float]]]:
    """Throughput of the project's service (one worker) and, when it can run, MLServer (batching off, on)."""
    figures = {}
    with start_local_service(model_file, ROOT / "score.py", name="bench-load") as service:
        service.wait_for_deployment()
        figures["project service"] = under_load(
            project_sender(service.scoring_uri), images, CLIENTS, REQUESTS_PER_CLIENT
        )
    if mlserver_ok:
        for batching in (False, True):
            with mlserver_beside.running_mlserver(model_file, batching=batching) as server:
                name = f"MLServer, adaptive batching {'on' if batching else 'off'}"
                figures[name] = under_load(mlserver_sender(server.infer_url), images, CLIENTS, REQUESTS_PER_CLIENT)
    return figures


def latency_figures(model_file: Path, images: np.ndarray, mlserver_ok: bool) -> dict[str, list[float]]:
    """Single-image latencies of the project's service and MLServer (when it can run), interleaved."""
    with start_local_service(model_file, ROOT / "score.py", name="bench-latency") as service:
        service.wait_for_deployment()
        senders = {"project service (.npy)": project_sender(service.scoring_uri)}
        if not mlserver_ok:
            return interleaved_latencies_ms(senders, images, LATENCY_REQUESTS)
        with mlserver_beside.running_mlserver(model_file) as server:
            senders["MLServer (JSON FP64)"] = mlserver_sender(server.infer_url)
            return interleaved_latencies_ms(senders, images, LATENCY_REQUESTS)


def target_line(label: str, value: float, unit: str, target: float) -> str:
    """``label  value  target <= ...: met`` (or NOT met)."""
    verdict = "met" if value <= target else "NOT met"
    return f"  {label:28} {value:6.2f} {unit:2}   target <= {target:.2f} {unit}: {verdict}"


def main() -> int:
    args = benchmark_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    if args is None:
        return 2
    loads = [os.getloadavg()[0]]
    missing = mlserver_beside.mlserver_missing()
    data = load_mnist(args.data_dir)
    with tempfile.TemporaryDirectory() as folder:
        model_file = args.model or save_model(train_model(data.x_train, data.y_train), folder)
        model = load_model(model_file)
        x_test = data.x_test
        expected = model.predict(x_test)

        def baseline() -> object:
            return model.predict(x_test)

        paths = {
            TUTORIAL: lambda service: service.run(input_data=bytes(json.dumps({"data": x_test.tolist()}), "utf8")),
            JSON_PATH: lambda service: scoring.predict_tutorial(service, x_test),
            DEFAULT: lambda service: scoring.predict(service, x_test),
        }
        results = {}
        for name, action in paths.items():
            results[name] = measure_path(model_file, action, baseline)
            loads.append(os.getloadavg()[0])
        if missing is None:
            results[MLSERVER] = measure_mlserver(model_file, x_test, baseline)
        latency = latency_figures(model_file, x_test, missing is None)
        loads.append(os.getloadavg()[0])
        load = load_figures(model_file, x_test, missing is None)
        loads.append(os.getloadavg()[0])

    print(f"{os.cpu_count()} CPUs; 1-minute load average {min(loads):.1f} to {max(loads):.1f} during the run")
    print(
        f"MNIST test set: {len(x_test):,} images; best of {REPEATS} runs per path, each after an in-process "
        "model.predict; one scoring worker"
    )
    print(f"MLServer: {mlserver_beside.mlserver_versions() if missing is None else f'not available ({missing})'}")
    print(f"{'path':34} {'best s':>7} {'in-process best s':>18} {'ratio':>6}  serving process peak RSS")
    for name, result in results.items():
        print(
            f"{name:34} {result.seconds:7.3f} {result.in_process_seconds:18.3f} {result.ratio:5.1f}x"
            f"  {result.peak_rss_mb:5.0f} MB"
        )
    default, json_path = results[DEFAULT], results[JSON_PATH]
    print("targets:")
    print(target_line("default vs in-process", default.ratio, "x", DEFAULT_RATIO_TARGET))
    print(target_line("default worker peak RSS", default.peak_rss_mb, "MB", DEFAULT_RSS_TARGET_MB))
    print(target_line("JSON path worker peak RSS", json_path.peak_rss_mb, "MB", JSON_RSS_TARGET_MB))
    if MLSERVER in results:
        print(f"  {'default vs MLServer':28} {results[MLSERVER].seconds / default.seconds:6.1f} x faster")
        print(f"  {'default peak vs MLServer':28} {results[MLSERVER].peak_rss_mb - default.peak_rss_mb:6.0f} MB less")
    warm_up = LATENCY_REQUESTS // 10
    print(f"single-image latency ({LATENCY_REQUESTS} requests each, interleaved, after {warm_up} to warm up):")
    quantiles = {name: quantiles_ms(values) for name, values in latency.items()}
    for name, (p50, p99) in quantiles.items():
        print(f"  {name:32} p50 {p50:5.2f} ms   p99 {p99:5.2f} ms")
    if len(quantiles) == 2:
        (ours_p50, ours_p99), (their_p50, their_p99) = quantiles.values()
        print(target_line("p50 vs MLServer's p50", ours_p50, "ms", their_p50))
        print(target_line("p99 vs MLServer's p99", ours_p99, "ms", their_p99))
    else:
        print("  target p50 <= MLServer's p50: not measured (MLServer not available)")
    print(f"{CLIENTS} clients x {REQUESTS_PER_CLIENT} requests of 1-100 images:")
    for name, (req_s, img_s, latencies) in load.items():
        p50, p99 = quantiles_ms(latencies)
        print(f"  {name:36} {req_s:5.0f} requests/s {img_s:7,.0f} images/s   p50 {p50:5.1f} ms   p99 {p99:5.1f} ms")
    identical = {name: bool(np.array_equal(result.labels, expected)) for name, result in results.items()}
    print(f"predictions identical to model.predict: {identical}")
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
