"""Latency of POST /ratings and GET /ratings through the local runtime (loopback only, bounded).

    python bench/http_latency.py [--url http://127.0.0.1:3000] [--requests 200]

Sends the requests one after another over one keep-alive connection and prints the median and p95
of each route, in milliseconds. Without --url it starts the local runtime on free ports itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from talkrate_local.launcher import running

ROOT = Path(__file__).resolve().parent.parent
TALKS = ("testcontainers-integration-testing", "flight-of-the-gopher")


def measure(url: str, requests: int) -> dict[str, dict[str, float]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
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
    with running(ROOT / "template.yaml") as runtime:
        print(json.dumps(measure(runtime.url, args.requests), indent=2))


if __name__ == "__main__":
    main()
