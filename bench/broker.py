"""What `make run` gives a newcomer: POST /ratings latency with 1 and 16 clients, and 202-to-visible,
through the local runtime on its default broker beside the same runtime on `--broker memory`.

    python -m bench.broker --out FILE [--requests 300] [--seconds 30] [--clients 16] [--samples 20]

Each broker in turn: `python -m talkrate_local --embedded` (PostgreSQL and Redis are the bench's,
configured; the broker is the one started for a newcomer) on free ports, one execution environment
per function as `make run` has. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    RATINGS_CONNECTION,
    ROOT,
    TALKS_CONNECTION,
    child_main,
    reset_backends,
    summary,
)

BROKERS = ("embedded", "memory")  # the default first, then the one it is held against
TALKS = ("testcontainers-integration-testing", "flight-of-the-gopher")
_VISIBLE_WITHIN_S = 30.0


class Client:
    """One keep-alive HTTP connection to the runtime."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def post_rating(self, talk_id: str, value: int) -> tuple[float, int, str]:
        """Milliseconds, status and the rating's status (accepted, queued)."""
        body = json.dumps({"talkId": talk_id, "value": value})
        started = time.perf_counter()
        self._connection.request(
            "POST", "/ratings", body=body, headers={"content-type": "application/json"}
        )
        response = self._connection.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        state = json.loads(payload).get("status", "") if response.status == 202 else ""
        return elapsed, response.status, state

    def count(self, talk_id: str) -> int:
        """Ratings of a talk that GET /ratings shows."""
        self._connection.request("GET", f"/ratings?talkId={talk_id}")
        response = self._connection.getresponse()
        counts: dict[str, int] = json.loads(response.read())["ratings"]
        return sum(counts.values())

    def close(self) -> None:
        self._connection.close()


def total(client: Client) -> int:
    return sum(client.count(talk) for talk in TALKS)


def one_client(url: str, requests: int) -> dict[str, Any]:
    client = Client(url)
    try:
        for i in range(10):  # warm-up: connections, the talk cache, the producer
            client.post_rating(TALKS[i % 2], 5)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        for i in range(requests):
            elapsed, status, state = client.post_rating(TALKS[i % 2], i % 5 + 1)
            latencies.append(elapsed)
            statuses[state or str(status)] = statuses.get(state or str(status), 0) + 1
        return {"post_ms": summary(latencies), "statuses": statuses}
    finally:
        client.close()


def many_clients(url: str, clients: int, seconds: float) -> dict[str, Any]:
    watcher = Client(url)
    before = total(watcher)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    last_accepted = [0.0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(index: int) -> None:
        client = Client(url)
        i = 0
        try:
            while time.monotonic() < stop_at:
                elapsed, status, state = client.post_rating(TALKS[(index + i) % 2], i % 5 + 1)
                i += 1
                with lock:
                    latencies.append(elapsed)
                    key = state or str(status)
                    statuses[key] = statuses.get(key, 0) + 1
                    if status == 202:
                        last_accepted[0] = time.monotonic()
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    accepted = statuses.get("accepted", 0) + statuses.get("queued", 0)
    deadline = time.monotonic() + _VISIBLE_WITHIN_S
    while (counted := total(watcher) - before) < accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    all_visible_s = time.monotonic() - last_accepted[0]
    watcher.close()
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "post_ms": summary(latencies),
        "statuses": statuses,
        "counted": counted,
        "all_visible_after_last_202_s": round(all_visible_s, 3) if counted >= accepted else None,
    }


def visibility(url: str, samples: int) -> dict[str, Any]:
    """202-to-visible of single ratings, one at a time (the projector otherwise idle)."""
    client = Client(url)
    delays = []
    try:
        for i in range(samples):
            talk = TALKS[i % 2]
            before = client.count(talk)
            _, status, _ = client.post_rating(talk, 4)
            accepted = time.monotonic()
            if status != 202:
                continue
            deadline = accepted + _VISIBLE_WITHIN_S
            while client.count(talk) <= before and time.monotonic() < deadline:
                time.sleep(0.01)
            delays.append((time.monotonic() - accepted) * 1000)
            time.sleep(0.2)
    finally:
        client.close()
    return {"visible_ms": summary(delays)}


def measure_broker(broker: str, args: argparse.Namespace) -> dict[str, Any]:
    from talkrate_local.launcher import running

    reset_backends()
    data = Path(tempfile.mkdtemp(prefix=f"talkrate-bench-broker-{broker}-"))
    environment = {
        "TALKS_CONNECTION": TALKS_CONNECTION,
        "RATINGS_CONNECTION": RATINGS_CONNECTION,
        "TALKRATE_LOCAL_DATA": str(data),
        "SAM_EMULATOR_RELOAD": "0",
    }
    base = {k: v for k, v in os.environ.items() if k != "STREAMS_CONNECTION"}
    with running(
        ROOT / "template.yaml",
        env={**base, **environment},
        log=data / "runtime.log",
        extra_args=["--embedded", "--broker", broker],
    ) as runtime:
        result = {
            "one_client": one_client(runtime.url, args.requests),
            "many_clients": many_clients(runtime.url, args.clients, args.seconds),
            **visibility(runtime.url, args.samples),
        }
    return result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    if not (1 <= args.requests <= 5000 and 1 <= args.seconds <= 120 and 1 <= args.clients <= 64):
        raise SystemExit("--requests 1..5000, --seconds 1..120, --clients 1..64")
    return {"brokers": {broker: measure_broker(broker, args) for broker in BROKERS}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=300, help="POSTs of the single client")
    parser.add_argument("--seconds", type=float, default=30, help="how long 16 clients POST")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--samples", type=int, default=20, help="202-to-visible samples")


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], add_arguments, measure)
