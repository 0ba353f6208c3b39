"""Freshness under load: end to end through the local runtime, open loop, at a fixed request rate.

    python -m bench.freshness --out result.json [--rate 300] [--duration 30] [--concurrency 4]

POST /ratings requests are scheduled at `rate` per second for `duration` seconds, whether or not
earlier ones have answered (open loop), and sent by a pool of client threads with keep-alive
connections; latency is counted from the scheduled time, so a queue in front of the runtime shows.
Every `--sample-every`-th rating goes to a talk of its own that nothing else rates: once its 202
arrives, a poller reads that talk's histogram from the read model GET /ratings serves (a pipelined
HMGET of every waiting sample every 10 ms) until the rating shows; freshness is the time from the
202 to then. At the end every talk is read through GET /ratings: ratings lost = 202s minus what
GET shows. The runtime gets its own tansu broker and the bench's PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    LOAD_LIMIT_PARAMETERS,
    RATINGS_CONNECTION,
    RATINGS_TOPIC,
    ROOT,
    TALKS_CONNECTION,
    add_talks,
    child_main,
    quantile_curve,
    summary,
)

POLL_SECONDS = 0.010
VISIBLE_WITHIN_SECONDS = 15.0  # a sample not visible by then counts as not visible
SETTLE_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 5.0


@dataclass
class Outcome:
    """One scheduled POST: when it was due, sent, answered, and how."""

    scheduled: float
    sent: float = math.nan
    done: float = math.nan
    status: int = 0
    error: str = ""


@dataclass
class Watcher:
    """Polls the read model for the sample talks until each one's rating shows."""

    redis_url: str
    key_of: Callable[[str], str]  # a talk's histogram key
    values: tuple[str, ...]
    pending: dict[str, float] = field(default_factory=dict)
    freshness_ms: list[float] = field(default_factory=list)
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (acked at, ms)
    not_visible: int = 0
    polls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def add(self, talk: str, acked_at: float) -> None:
        """Start watching a sample talk whose 202 arrived at `acked_at`."""
        with self._lock:
            self.pending[talk] = acked_at

    def run(self, origin: float, deadline: float) -> None:
        """Poll until stopped and nothing is pending, or until `deadline`."""
        import redis

        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        try:
            while time.monotonic() < deadline:
                with self._lock:
                    waiting = list(self.pending.items())
                if not waiting:
                    if self._stop.is_set():
                        return
                    time.sleep(POLL_SECONDS)
                    continue
                pipe = client.pipeline(transaction=False)
                for talk, _ in waiting:
                    pipe.hmget(self.key_of(talk), self.values)
                counts = pipe.execute()
                now = time.monotonic()
                self.polls += 1
                with self._lock:
                    for (talk, acked_at), stored in zip(waiting, counts, strict=True):
                        if sum(int(c or 0) for c in stored) > 0:
                            self.freshness_ms.append((now - acked_at) * 1000)
                            self.timeline.append((acked_at - origin, (now - acked_at) * 1000))
                            del self.pending[talk]
                        elif now - acked_at > VISIBLE_WITHIN_SECONDS:
                            self.not_visible += 1
                            del self.pending[talk]
                time.sleep(POLL_SECONDS)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop once nothing is pending."""
        self._stop.set()


class Client:
    """One keep-alive HTTP connection to the runtime, reopened after a failure."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._connection = self._open()

    def _open(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=REQUEST_TIMEOUT_SECONDS)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        """Send one request; (0, b"") when the connection failed."""
        try:
            self._connection.request(
                method, path, body=body, headers={"content-type": "application/json"}
            )
            response = self._connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self._connection.close()
            self._connection = self._open()
            return 0, b""

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def open_loop(
    url: str,
    total: int,
    rate: float,
    clients: int,
    body_for: Callable[[int], str],
    on_accepted: Callable[[int, float], None],
) -> tuple[list[Outcome], float]:
    """Send `total` POSTs scheduled at `rate` per second; returns the outcomes and the start."""
    jobs: queue.Queue[int | None] = queue.Queue()
    origin = time.monotonic() + 0.2
    outcomes = [Outcome(origin + i / rate) for i in range(total)]
    hard_deadline = origin + total / rate + SETTLE_SECONDS

    def dispatch() -> None:
        for i, outcome in enumerate(outcomes):
            delay = outcome.scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            jobs.put(i)
        for _ in range(clients):
            jobs.put(None)

    def work() -> None:
        client = Client(url)
        try:
            while (i := jobs.get()) is not None:
                outcome = outcomes[i]
                if time.monotonic() > hard_deadline:
                    outcome.error = "not sent before the deadline"
                    continue
                outcome.sent = time.monotonic()
                outcome.status, _ = client.request("POST", "/ratings", body_for(i))
                outcome.done = time.monotonic()
                if outcome.status == 202:
                    on_accepted(i, outcome.done)
                elif outcome.status == 0:
                    outcome.error = "connection failed or timed out"
        finally:
            client.close()

    threads = [threading.Thread(target=dispatch, name="dispatch")]
    threads += [threading.Thread(target=work, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes, origin


def read_counts(url: str, talks: list[str], threads: int = 8) -> dict[str, int]:
    """Each talk's number of ratings as GET /ratings shows it (-1 when the GET failed)."""
    local = threading.local()

    def count(talk: str) -> tuple[str, int]:
        if not hasattr(local, "client"):
            local.client = Client(url)
        status, body = local.client.request("GET", f"/ratings?talkId={talk}")
        if status != 200:
            return talk, -1
        return talk, sum(json.loads(body)["ratings"].values())

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(count, talks))


def read_model_total(talks: list[str]) -> int:
    """The sum of these talks' histograms in the read model (one pipelined round trip)."""
    import redis

    from talkrate.adapters.redis_store import histogram_key
    from talkrate.models import RATING_VALUES

    client = redis.Redis.from_url(RATINGS_CONNECTION, socket_timeout=5)
    try:
        pipe = client.pipeline(transaction=False)
        for talk in talks:
            pipe.hmget(histogram_key(talk), RATING_VALUES)
        return sum(int(c or 0) for stored in pipe.execute() for c in stored)
    finally:
        client.close()


def wait_until(condition: Callable[[], bool], within: float, every: float = 0.25) -> bool:
    """Poll `condition` until it holds or `within` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


@contextmanager
def local_stack(
    concurrency: int,
    log: Path,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[str]:
    """A tansu broker and the local runtime on the bench backends (with `env` and `extra_args`
    besides); yields the runtime's URL."""
    from sam_emulator.events.kafka import ensure_topics
    from talkrate_local.broker import LocalBroker
    from talkrate_local.launcher import running

    with LocalBroker() as broker:
        ensure_topics(broker.bootstrap, [RATINGS_TOPIC], partitions=3)
        environment = {
            "TALKS_CONNECTION": TALKS_CONNECTION,
            "RATINGS_CONNECTION": RATINGS_CONNECTION,
            "STREAMS_CONNECTION": broker.bootstrap,
            "SAM_EMULATOR_RELOAD": "0",  # no file watching on the request path
            **(env or {}),
        }
        with running(
            ROOT / "template.yaml",
            env=environment,
            log=log,
            extra_args=[
                *("--concurrency", str(concurrency)),
                *LOAD_LIMIT_PARAMETERS,
                *extra_args,
            ],
        ) as runtime:
            yield runtime.url


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Freshness, errors and ratings lost at `args.rate` requests/s for `args.duration` s."""
    if not (1 <= args.rate <= 2000 and 1 <= args.duration <= 120 and 1 <= args.clients <= 256):
        raise SystemExit("--rate 1..2000, --duration 1..120 s, --clients 1..256")
    from talkrate.adapters.redis_store import histogram_key
    from talkrate.models import RATING_VALUES

    total = round(args.rate * args.duration)
    run = uuid.uuid4().hex[:8]
    samples = [f"bench-sample-{run}-{i:05d}" for i in range(math.ceil(total / args.sample_every))]
    load = [f"bench-load-{run}-{i:04d}" for i in range(args.talks)]
    warm = f"bench-warm-{run}"
    add_talks([*load, *samples, warm], "A talk of the freshness benchmark")

    def talk_of(i: int) -> str:
        return (
            samples[i // args.sample_every] if i % args.sample_every == 0 else load[i % len(load)]
        )

    def body_for(i: int) -> str:
        return json.dumps({"talkId": talk_of(i), "value": i % 5 + 1})

    watcher = Watcher(RATINGS_CONNECTION, histogram_key, RATING_VALUES)

    def on_accepted(i: int, at: float) -> None:
        if i % args.sample_every == 0:
            watcher.add(talk_of(i), at)

    folder = Path(tempfile.mkdtemp(prefix="talkrate-bench-freshness-"))
    log = folder / "runtime.log"
    try:
        with local_stack(args.concurrency, log) as url:
            warmed = _warm_up(url, warm, args.concurrency)
            poller = threading.Thread(
                target=watcher.run,
                args=(time.monotonic(), time.monotonic() + args.duration + 60),
                name="watcher",
            )
            poller.start()
            try:
                outcomes, origin = open_loop(
                    url, total, args.rate, args.clients, body_for, on_accepted
                )
            finally:
                watcher.stop()
                poller.join()
            accepted = sum(1 for o in outcomes if o.status == 202)
            rated = [*load, *samples]
            settled = wait_until(lambda: read_model_total(rated) >= accepted, SETTLE_SECONDS)
            counts = read_counts(url, rated)
    except BaseException:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
        print(f"local runtime log ({log}), tail:\n{tail}", file=sys.stderr)
        raise
    result = _report(args, outcomes, origin, watcher, accepted, counts, settled, warmed)
    expected: dict[str, int] = {}
    for i, outcome in enumerate(outcomes):
        if outcome.status == 202:
            expected[talk_of(i)] = expected.get(talk_of(i), 0) + 1
    result["short_talks"] = {
        talk: {"accepted": n, "counted": counts.get(talk, 0)}
        for talk, n in expected.items()
        if counts.get(talk, 0) != n
    }
    if result["lost"] or result["errors"] or result["samples_not_visible"]:
        # Keep the runtime's log for whoever looks into it, and quote its projector trouble.
        result["runtime_log"] = str(log)
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        result["projector_trouble"] = [
            line
            for line in lines
            if "[kafka" in line.lower() and not line.rstrip().endswith(": ok")
        ][:40]
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _warm_up(url: str, talk: str, concurrency: int) -> dict[str, float]:
    """Start every execution environment, then wait until the projector is consuming."""
    started = time.monotonic()

    def request(method: str, path: str, body: str | None = None) -> int:
        client = Client(url)
        try:
            return client.request(method, path, body)[0]
        finally:
            client.close()

    with ThreadPoolExecutor(concurrency * 2) as pool:  # all at once: the pool starts them all
        for _ in range(3):
            list(
                pool.map(
                    lambda _: request("GET", f"/ratings?talkId={talk}"), range(concurrency * 2)
                )
            )
    environments = time.monotonic() - started
    status = request("POST", "/ratings", json.dumps({"talkId": talk, "value": 5}))
    if status != 202:
        raise RuntimeError(f"warm-up POST answered {status}")
    if not wait_until(lambda: read_model_total([talk]) > 0, 60, every=0.1):
        raise RuntimeError("the projector did not fold the warm-up rating within 60 s")
    return {
        "environments_s": round(environments, 2),
        "projector_live_s": round(time.monotonic() - started - environments, 2),
    }


def _report(
    args: argparse.Namespace,
    outcomes: list[Outcome],
    origin: float,
    watcher: Watcher,
    accepted: int,
    counts: dict[str, int],
    settled: bool,
    warmed: dict[str, float],
) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for outcome in outcomes:
        key = str(outcome.status) if outcome.status else outcome.error or "none"
        statuses[key] = statuses.get(key, 0) + 1
    answered = [o for o in outcomes if not math.isnan(o.done)]
    sent = [o for o in outcomes if not math.isnan(o.sent)]
    last_sent = max((o.sent for o in sent), default=origin)
    failed_reads = sum(1 for n in counts.values() if n < 0)
    counted = sum(n for n in counts.values() if n > 0)
    return {
        "rate": args.rate,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "clients": args.clients,
        "scheduled": len(outcomes),
        "sent": len(sent),
        "achieved_rate": round(len(sent) / max(last_sent - origin, 1e-9), 1),
        "statuses": statuses,
        "errors": len(outcomes) - accepted,
        "accepted": accepted,
        "counted_in_get": counted,
        "failed_count_reads": failed_reads,
        "lost": accepted - counted,
        "settled_before_counting": settled,
        "samples": len(watcher.freshness_ms) + watcher.not_visible + len(watcher.pending),
        "samples_visible": len(watcher.freshness_ms),
        "samples_not_visible": watcher.not_visible + len(watcher.pending),
        "poll_interval_ms": POLL_SECONDS * 1000,
        "polls": watcher.polls,
        "freshness_ms": summary(watcher.freshness_ms),
        "freshness_curve": quantile_curve(watcher.freshness_ms),
        "freshness_timeline": [(round(t, 3), round(ms, 1)) for t, ms in watcher.timeline],
        "post_latency_from_schedule_ms": summary([(o.done - o.scheduled) * 1000 for o in answered]),
        "post_latency_from_send_ms": summary([(o.done - o.sent) * 1000 for o in answered]),
        "send_lag_ms": summary([(o.sent - o.scheduled) * 1000 for o in sent]),
        "warm_up": warmed,
    }


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--sample-every", type=int, default=10)
    parser.add_argument("--talks", type=int, default=1000)


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], _arguments, measure)
