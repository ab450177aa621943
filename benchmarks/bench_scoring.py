"""Scoring the MNIST test set through the local service: the tutorial's path against the library's.

Prints, from one run on the same data: in-process ``model.predict`` time, the tutorial's single JSON
request as the tutorial writes it (``json.dumps``), the library's JSON path (the same request encoded
by orjson, read by score.py with simdjson), its default path (``mnist_aci.predict``: .npy chunks over
one connection), the ratios between them, the scoring worker's peak RSS for each path (a fresh
one-worker service per path),
single-image latency p50/p99, and throughput with concurrent clients. Timings are reported, never
asserted; predictions are checked equal to in-process ``model.predict`` for every path.

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
from pathlib import Path

import numpy as np
import psutil
import requests

from mnist_aci import load_model, save_model, scoring, train_model
from mnist_aci.data import load_mnist
from mnist_aci.local_service import LocalWebservice, start_local_service

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
JSON_PATH = "library JSON path (simdjson)"


def worker_peak_rss_mb(service: LocalWebservice) -> float:
    """Peak resident memory (VmHWM) of the service's scoring worker, in MB."""
    worker = psutil.Process(service.pid).children()[0]
    for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def best_of(repeats: int, action: Callable[[], object]) -> tuple[float, object]:
    """The fastest of ``repeats`` runs of ``action`` (seconds) and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure_path(model_file: Path, action: Callable[[LocalWebservice], np.ndarray]) -> tuple[float, float, np.ndarray]:
    """Run a scoring path on a fresh one-worker service: best time, worker peak RSS, predictions."""
    with start_local_service(model_file, ROOT / "score.py", name="bench") as service:
        service.wait_for_deployment()
        elapsed, labels = best_of(REPEATS, lambda: action(service))
        return elapsed, worker_peak_rss_mb(service), np.asarray(labels)


def latencies_ms(url: str, images: np.ndarray, count: int) -> list[float]:
    """Sequential one-image requests (the library's .npy body) over one connection."""
    out = []
    with requests.Session() as session:
        for i in range(count):
            body = scoring.npy_body(images[i % len(images)][None, :])
            start = time.perf_counter()
            scoring.post(url, body, scoring.NPY_TYPE, session=session)
            out.append((time.perf_counter() - start) * 1000)
    return out


def under_load(
    url: str, images: np.ndarray, clients: int, requests_per_client: int
) -> tuple[float, float, list[float]]:
    """``clients`` concurrent clients, each sending requests of 1 to 100 images (.npy bodies):
    requests/s, images/s and every request's latency in ms."""

    def client(seed: int) -> tuple[int, list[float]]:
        rng = np.random.default_rng(seed)
        sent, latencies = 0, []
        with requests.Session() as session:
            for _ in range(requests_per_client):
                size = int(rng.integers(1, 101))
                start = int(rng.integers(0, len(images) - size))
                body = scoring.npy_body(images[start : start + size])
                began = time.perf_counter()
                scoring.post(url, body, scoring.NPY_TYPE, session=session)
                latencies.append((time.perf_counter() - began) * 1000)
                sent += size
        return sent, latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - start
    all_latencies = [latency for _, latencies in results for latency in latencies]
    return len(all_latencies) / elapsed, sum(sent for sent, _ in results) / elapsed, all_latencies


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


def main() -> int:
    args = benchmark_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    if args is None:
        return 2
    data = load_mnist(args.data_dir)
    with tempfile.TemporaryDirectory() as folder:
        model_file = args.model or save_model(train_model(data.x_train, data.y_train), folder)
        model = load_model(model_file)
        x_test = data.x_test
        in_process, expected = best_of(5, lambda: model.predict(x_test))

        paths = {
            "tutorial as written (json.dumps)": lambda service: service.run(
                input_data=bytes(json.dumps({"data": x_test.tolist()}), "utf8")
            ),
            JSON_PATH: lambda service: scoring.predict_tutorial(service, x_test),
            "library default (.npy chunks)": lambda service: scoring.predict(service, x_test),
        }
        results = {name: measure_path(model_file, action) for name, action in paths.items()}

        with start_local_service(model_file, ROOT / "score.py", name="bench-latency") as service:
            service.wait_for_deployment()
            latency = latencies_ms(service.scoring_uri, x_test, 500)
            req_s, img_s, load_latency = under_load(service.scoring_uri, x_test, clients=8, requests_per_client=250)

    quantiles = statistics.quantiles(latency, n=100)
    tutorial_s = results["tutorial as written (json.dumps)"][0]
    default_s, default_rss, _ = results["library default (.npy chunks)"]
    json_s, json_rss, _ = results[JSON_PATH]
    print(f"MNIST test set: {len(x_test):,} images; best of {REPEATS} runs per path; one scoring worker")
    print(f"{'in-process model.predict':34} {in_process:7.3f} s")
    for name, (elapsed, rss, _) in results.items():
        print(f"{name:34} {elapsed:7.3f} s   worker peak RSS {rss:5.0f} MB")
    print(f"{'default vs tutorial as written':34} {tutorial_s / default_s:7.1f} x faster  (target >= 10 x)")
    print(f"{'default vs in-process':34} {default_s / in_process:7.1f} x slower  (target <= 5 x)")
    print(f"{'default worker peak RSS':34} {default_rss:7.0f} MB      (target <= 300 MB)")
    print(f"{'JSON path vs default':34} {json_s / default_s:7.1f} x slower  (target <= 4 x)")
    print(f"{'JSON path vs tutorial as written':34} {tutorial_s / json_s:7.1f} x faster")
    print(f"{'JSON path worker peak RSS':34} {json_rss:7.0f} MB      (target <= 310 MB)")
    print(f"{'single image latency (.npy)':34} p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms (500 requests)")
    load_q = statistics.quantiles(load_latency, n=100)
    print(f"{'8 clients x 250 req of 1-100 img':34} {req_s:.0f} requests/s, {img_s:,.0f} images/s")
    print(f"{'  latency under that load':34} p50 {load_q[49]:.1f} ms, p99 {load_q[98]:.1f} ms")
    identical = {name: bool(np.array_equal(labels, expected)) for name, (_, _, labels) in results.items()}
    print(f"predictions identical to model.predict: {identical}")
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
