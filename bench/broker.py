"""What `make run` gives a newcomer: POST /ratings latency with 1 and 16 clients, and 202-to-visible,
through the local runtime on its default broker beside the same runtime on `--broker memory`.

    python -m bench.broker --out FILE [--requests 1000] [--seconds 30] [--clients 16] [--samples 20]
        [--brokers embedded,memory[,s3]]

One `python -m talkrate_local --embedded` per broker (PostgreSQL and Redis are the bench's,
configured; the broker is the one started for a newcomer), on free ports, one execution
environment per function as `make run` has, all started before the first measurement; then each
phase runs on them in turn (request by request, or in ABBAABBA slices), so a busy machine weighs on
both sides alike. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    LOAD_LIMIT_PARAMETERS,
    RATINGS_CONNECTION,
    ROOT,
    TALKS_CONNECTION,
    add_talks,
    child_main,
    reset_backends,
    summary,
)

BROKERS = ("embedded", "memory")  # the default first, then the one it is held against
TALKS = ("testcontainers-integration-testing", "flight-of-the-gopher")
_VISIBLE_WITHIN_S = 30.0
_WARM_UP_S = 2.0


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


def one_client(urls: dict[str, str], requests: int) -> dict[str, dict[str, Any]]:
    """Sequential POSTs, one broker then the other request by request (drift hits both)."""
    clients = {broker: Client(url) for broker, url in urls.items()}
    latencies: dict[str, list[float]] = {broker: [] for broker in urls}
    statuses: dict[str, dict[str, int]] = {broker: {} for broker in urls}
    try:
        for i in range(10):  # warm-up: connections, the talk cache, the producer
            for client in clients.values():
                client.post_rating(TALKS[i % 2], 5)
        for i in range(requests):
            for broker, client in clients.items():
                elapsed, status, state = client.post_rating(TALKS[i % 2], i % 5 + 1)
                latencies[broker].append(elapsed)
                key = state or str(status)
                statuses[broker][key] = statuses[broker].get(key, 0) + 1
    finally:
        for client in clients.values():
            client.close()
    return {b: {"post_ms": summary(latencies[b]), "statuses": statuses[b]} for b in urls}


def many_clients(url: str, talks: tuple[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads POSTing as fast as they can for `seconds`, on talks of their own; then
    how long after the last 202 every accepted rating is counted."""
    watcher = Client(url)
    before = sum(watcher.count(t) for t in talks)  # an earlier slice's, all counted by now
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
                elapsed, status, state = client.post_rating(talks[(index + i) % 2], i % 5 + 1)
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
    while (counted := sum(watcher.count(t) for t in talks) - before) < accepted:
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    all_visible_s = time.monotonic() - last_accepted[0]
    watcher.close()
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "latencies": latencies,
        "statuses": statuses,
        "counted": counted,
        "all_visible_after_last_202_s": round(all_visible_s, 3) if counted >= accepted else None,
    }


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The slices of one broker's 16-client load as one result."""
    latencies = [value for run in runs for value in run["latencies"]]
    statuses: dict[str, int] = {}
    for run in runs:
        for key, count in run["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
    seconds = sum(run["seconds"] for run in runs)
    visible = [run["all_visible_after_last_202_s"] for run in runs]
    return {
        "clients": runs[0]["clients"],
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "post_ms": summary(latencies),
        "statuses": statuses,
        "counted": sum(run["counted"] for run in runs),
        "all_visible_after_last_202_s": None if None in visible else max(visible),
    }


def visibility(urls: dict[str, str], samples: int) -> dict[str, dict[str, Any]]:
    """202-to-visible of single ratings, one at a time, the brokers in turn."""
    clients = {broker: Client(url) for broker, url in urls.items()}
    delays: dict[str, list[float]] = {broker: [] for broker in urls}
    try:
        for i in range(samples):
            for broker, client in clients.items():
                talk = TALKS[i % 2]
                before = client.count(talk)
                _, status, _ = client.post_rating(talk, 4)
                accepted = time.monotonic()
                if status != 202:
                    continue
                deadline = accepted + _VISIBLE_WITHIN_S
                while client.count(talk) <= before and time.monotonic() < deadline:
                    time.sleep(0.01)
                delays[broker].append((time.monotonic() - accepted) * 1000)
                time.sleep(0.1)
    finally:
        for client in clients.values():
            client.close()
    return {broker: {"visible_ms": summary(delays[broker])} for broker in urls}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every broker's runtime started side by side, then each phase on them in turn."""
    from talkrate_local.launcher import LaunchedRuntime, launch, stop

    if not (1 <= args.requests <= 5000 and 1 <= args.seconds <= 120 and 1 <= args.clients <= 64):
        raise SystemExit("--requests 1..5000, --seconds 1..120, --clients 1..64")
    brokers = [b for b in args.brokers.split(",") if b]
    if not set(BROKERS) <= set(brokers) <= {*BROKERS, "s3"}:
        raise SystemExit(f"--brokers: {','.join(BROKERS)}, and s3 if wanted")
    reset_backends()
    run = uuid.uuid4().hex[:8]
    own_talks = {b: (f"bench-broker-{run}-{b}-a", f"bench-broker-{run}-{b}-b") for b in brokers}
    add_talks([t for pair in own_talks.values() for t in pair], "A talk of the broker benchmark")
    runtimes: dict[str, LaunchedRuntime] = {}
    folders: list[Path] = []
    base = {k: v for k, v in os.environ.items() if k != "STREAMS_CONNECTION"}
    try:
        for broker in brokers:
            data = Path(tempfile.mkdtemp(prefix=f"talkrate-bench-broker-{broker}-"))
            folders.append(data)
            environment = {
                "TALKS_CONNECTION": TALKS_CONNECTION,
                "RATINGS_CONNECTION": RATINGS_CONNECTION,
                "TALKRATE_LOCAL_DATA": str(data),
                "SAM_EMULATOR_RELOAD": "0",
            }
            # A topic of its own: the runtimes share the bench's Redis (offsets by topic).
            runtimes[broker] = launch(
                ROOT / "template.yaml",
                {**base, **environment},
                data / "runtime.log",
                [
                    *("--embedded", "--broker", broker),
                    *("--param", f"RatingsTopic=ratings-{broker}"),
                    *LOAD_LIMIT_PARAMETERS,  # one address sends every request
                ],
            )
        urls = {broker: runtime.url for broker, runtime in runtimes.items()}
        single = one_client(urls, args.requests)
        for broker in brokers:  # unmeasured: 16 new connections, the first concurrent requests
            many_clients(urls[broker], own_talks[broker], args.clients, _WARM_UP_S)
        # ABBAABBA: each broker's load in four slices, in mirrored order, so drift and the
        # machine's other work weigh on both alike.
        order = (brokers + brokers[::-1]) * 2
        slices: dict[str, list[dict[str, Any]]] = {broker: [] for broker in brokers}
        for broker in order:
            slices[broker].append(
                many_clients(urls[broker], own_talks[broker], args.clients, args.seconds / 4)
            )
        seen = visibility(urls, args.samples)
    finally:
        for runtime in runtimes.values():
            stop(runtime)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "brokers": {
            broker: {
                "one_client": single[broker],
                "many_clients": merged(slices[broker]),
                **seen[broker],
            }
            for broker in brokers
        }
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=1000, help="POSTs of the single client")
    parser.add_argument("--seconds", type=float, default=30, help="how long 16 clients POST")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--samples", type=int, default=20, help="202-to-visible samples")
    parser.add_argument(
        "--brokers",
        default=",".join(BROKERS),
        help="the brokers measured; s3 adds tansu storing into the embedded S3 server",
    )


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], add_arguments, measure)
