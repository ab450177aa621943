"""Throughput and latency of the local service under load, with 1 and 2 scoring workers.

For each worker count, a fresh local service (``start_local_service(workers=N)``) takes the load of
``bench_scoring.py`` (concurrent clients, each sending requests of 1 to 100 MNIST test images as .npy
bodies over a kept-alive connection) after a short warm-up; prints requests/s, images/s, latency p50/p99
and the speed-up over one worker. Figures are reported, never asserted; every answer is checked equal
to in-process ``model.predict`` first. The machine's load average is printed too: on a shared machine
the figures move with it.

    MNIST_DATA_DIR=../shared/mnist python benchmarks/bench_workers.py [--model sklearn_mnist_model.pkl]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_scoring import benchmark_arguments, project_sender, under_load

from mnist_aci import load_model, save_model, scoring, train_model
from mnist_aci.data import load_mnist
from mnist_aci.local.service import start_local_service

ROOT = Path(__file__).resolve().parents[1]
WORKER_COUNTS = (1, 2)


def measure(model_file: Path, x_test: np.ndarray, expected: np.ndarray, workers: int, args: argparse.Namespace) -> dict:
    """Requests/s, images/s and latency quantiles of a service with ``workers`` workers under load."""
    name = f"bench-workers-{workers}"
    with start_local_service(model_file, ROOT / "score.py", name=name, workers=workers) as service:
        service.wait_for_deployment()
        if not np.array_equal(scoring.predict(service, x_test), expected):
            raise SystemExit(f"{workers} worker(s): predictions differ from model.predict")
        send = project_sender(service.scoring_uri)
        under_load(send, x_test, clients=args.clients, requests_per_client=20)  # warm-up
        req_s, img_s, latencies = under_load(send, x_test, clients=args.clients, requests_per_client=args.requests)
    quantiles = statistics.quantiles(latencies, n=100)
    return {"req_s": req_s, "img_s": img_s, "p50": quantiles[49], "p99": quantiles[98]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--requests", type=int, default=250, help="requests per client (250)")
    args = benchmark_arguments(parser)
    if args is None:
        return 2
    data = load_mnist(args.data_dir)
    with tempfile.TemporaryDirectory() as folder:
        model_file = args.model or save_model(train_model(data.x_train, data.y_train), folder)
        expected = load_model(model_file).predict(data.x_test)
        loads = [os.getloadavg()[0]]
        results = {}
        for workers in WORKER_COUNTS:
            results[workers] = measure(model_file, data.x_test, expected, workers, args)
            loads.append(os.getloadavg()[0])

    load = f"{os.cpu_count()} CPUs; 1-minute load average {min(loads):.1f} to {max(loads):.1f} during the run"
    print(f"{args.clients} clients x {args.requests} requests of 1-100 images (.npy); {load}")
    print(f"{'workers':>7} {'requests/s':>11} {'images/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'speed-up':>9}")
    for workers, figures in results.items():
        speed_up = figures["req_s"] / results[WORKER_COUNTS[0]]["req_s"]
        print(
            f"{workers:>7} {figures['req_s']:>11.0f} {figures['img_s']:>10,.0f} "
            f"{figures['p50']:>8.1f} {figures['p99']:>8.1f} {speed_up:>8.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
