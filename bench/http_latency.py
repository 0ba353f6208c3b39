"""Latency of POST /ratings and GET /ratings through the local runtime (loopback only, bounded).

    python bench/http_latency.py [--url http://127.0.0.1:3000] [--requests 200]

Sends the requests one after another over one keep-alive connection and prints the median and p95
of each route, in milliseconds. Without --url it starts the local runtime on free ports itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TALKS = ("testcontainers-integration-testing", "flight-of-the-gopher")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_runtime() -> Iterator[str]:
    port, lambda_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "talkrate_local",
            "--port",
            str(port),
            "--lambda-port",
            str(lambda_port),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(url: str, requests: int) -> dict[str, dict[str, float]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    timings: dict[str, list[float]] = {"POST /ratings": [], "GET /ratings": []}
    errors = 0
    for i in range(5):  # warm-up: connections, caches, the first Kafka metadata
        connection.request("GET", f"/ratings?talkId={TALKS[i % 2]}")
        connection.getresponse().read()
    for i in range(requests):
        body = json.dumps({"talkId": TALKS[i % 2], "value": i % 5 + 1})
        for route, method, path, payload in (
            ("POST /ratings", "POST", "/ratings", body),
            ("GET /ratings", "GET", f"/ratings?talkId={TALKS[i % 2]}", None),
        ):
            started = time.perf_counter()
            connection.request(
                method, path, body=payload, headers={"content-type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            timings[route].append((time.perf_counter() - started) * 1000)
            errors += response.status >= 400
    connection.close()
    report = {
        route: {
            "requests": len(values),
            "median_ms": round(statistics.median(values), 2),
            "p95_ms": round(statistics.quantiles(values, n=100)[94], 2),
            "max_ms": round(max(values), 2),
        }
        for route, values in timings.items()
    }
    report["errors"] = {"count": errors}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    if not 1 <= args.requests <= 5000:
        parser.error("--requests must be from 1 to 5000")
    if args.url:
        print(json.dumps(measure(args.url, args.requests), indent=2))
        return
    with local_runtime() as url:
        print(json.dumps(measure(url, args.requests), indent=2))


if __name__ == "__main__":
    main()
