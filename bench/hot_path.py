"""Hot path: POST and GET /ratings in process, warm, against the real backends, beside the floor.

    python -m bench.hot_path --out result.json [--calls 2000]   (run by `python -m bench`)

ApiFunction is loaded by path as Lambda loads it and called with API Gateway (payload 2.0)
events. In the same loop, interleaved call by call so that both see the same machine, the floor:
the round trips a POST or a GET cannot avoid, made with the raw clients on their own connections:
the talk lookup (psycopg2, `SELECT 1 FROM talks WHERE id = %s`), the Kafka produce acknowledged by
the broker (kafka-python, acks=all), the histogram read (redis-py HMGET). Each handler call also
records the CPU time the process spent in it. A last, separate pass runs the handler under cProfile
to show where a call's time goes (waiting on a socket or a lock, or computing, by package).
The environment comes from the caller (bench.common.function_environment): no StatsFunction, so a
GET answers without stats, as it does when StatsFunction is unreachable.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from bench.common import LOAD_LIMIT, child_main, quantile_curve, summary

Timer = Callable[[], int]


class Floor:
    """The unavoidable round trips, each made with the raw client on its own connection."""

    def __init__(self, talks: str, ratings: str, bootstrap: str, topic: str) -> None:
        import psycopg2
        import redis
        from kafka import KafkaProducer

        from talkrate.adapters.redis_store import histogram_key

        self._key = histogram_key
        self._pg = psycopg2.connect(talks, connect_timeout=5)
        self._pg.autocommit = True
        self._cursor = self._pg.cursor()
        self._redis = redis.Redis.from_url(ratings, socket_connect_timeout=5)
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=0
        )
        self._topic = topic
        from talkrate.adapters.limiter import RedisRequestLimiter

        self._limiter = RedisRequestLimiter(self._redis)

    def talk_lookup(self, talk_id: str) -> float:
        """One catalog round trip, in ms."""
        started = time.perf_counter_ns()
        self._cursor.execute("SELECT 1 FROM talks WHERE id = %s", (talk_id,))
        found = self._cursor.fetchone()
        elapsed = (time.perf_counter_ns() - started) / 1e6
        assert found is not None, talk_id
        return elapsed

    def produce(self, key: bytes, value: bytes) -> float:
        """One record sent and acknowledged by the broker (acks=all), in ms."""
        started = time.perf_counter_ns()
        self._producer.send(self._topic, key=key, value=value).get(timeout=5)
        return (time.perf_counter_ns() - started) / 1e6

    def limiter_admit(self, event_id: str) -> float:
        """The rate limiter's round trip as POST makes it (one address limit, the accepted
        marker), in ms: what replaced the marker's own SET."""
        from talkrate.values import Limit

        started = time.perf_counter_ns()
        admission = self._limiter.admit([Limit("address", "bench-floor", LOAD_LIMIT)], event_id)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        assert admission.allowed
        return elapsed

    def marker_set(self, event_id: str) -> float:
        """The accepted marker's SET as POST made it before there were limits, in ms."""
        started = time.perf_counter_ns()
        self._redis.set(f"accepted/{event_id}", b"1", ex=3600)
        return (time.perf_counter_ns() - started) / 1e6

    def histogram_read(self, talk_id: str) -> float:
        """One HMGET of a talk's histogram, in ms."""
        started = time.perf_counter_ns()
        self._redis.hmget(self._key(talk_id), ["1", "2", "3", "4", "5"])
        return (time.perf_counter_ns() - started) / 1e6

    def close(self) -> None:
        """Close every connection."""
        self._producer.close(timeout=2)
        self._redis.close()
        self._pg.close()


def _timed(call: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Wall and CPU milliseconds of one call, and its result."""
    cpu, started = time.process_time_ns(), time.perf_counter_ns()
    result = call(*args)
    return (time.perf_counter_ns() - started) / 1e6, (time.process_time_ns() - cpu) / 1e6, result


SERIES = (
    "post_handler",
    "post_handler_cpu",
    "post_floor",
    "post_floor_lookup",
    "post_floor_produce",
    "post_limiter",
    "post_marker_set",
    "get_handler",
    "get_handler_cpu",
    "get_floor",
    "get_floor_lookup",
    "get_floor_read",
)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """POST and GET handler calls beside their floor, interleaved, `args.calls` each."""
    from talkrate.config import load_settings
    from talkrate.events import Rating
    from talkrate_local.devdata import ALWAYS_OPEN
    from tests.builders import LambdaContextStub, http_event, load_function

    settings = load_settings()
    handler = load_function("api")
    floor = Floor(
        settings.talks_connection,
        settings.ratings_connection,
        settings.streams_connection,
        settings.ratings_topic,
    )
    talks = list(ALWAYS_OPEN)  # the talks whose rating window never closes
    series: dict[str, list[float]] = {name: [] for name in SERIES}
    statuses: dict[str, int] = {}

    def events(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        talk, value = talks[i % len(talks)], i % 5 + 1
        body = json.dumps({"talkId": talk, "value": value})
        return http_event("POST", "/ratings", body=body), http_event(
            "GET", "/ratings", query={"talkId": talk}
        )

    try:
        for i in range(-args.warmup, args.calls):  # negative i: warm-up, not recorded
            talk, value = talks[i % len(talks)], i % 5 + 1
            post, get = events(i)
            record = Rating.new(talk, value)

            post_ms, post_cpu, posted = _timed(handler, post, LambdaContextStub("api"))
            lookup_ms = floor.talk_lookup(talk)
            produce_ms = floor.produce(record.key, record.to_json())
            limiter_ms = floor.limiter_admit(record.event_id)
            marker_ms = floor.marker_set(str(record.event_id))
            get_ms, get_cpu, got = _timed(handler, get, LambdaContextStub("api"))
            get_lookup_ms = floor.talk_lookup(talk)
            read_ms = floor.histogram_read(talk)

            for answer in (posted, got):
                key = f"{answer['statusCode']}"
                statuses[key] = statuses.get(key, 0) + 1
            if i < 0:
                continue
            for name, ms in zip(
                SERIES,
                (
                    post_ms,
                    post_cpu,
                    lookup_ms + produce_ms,
                    lookup_ms,
                    produce_ms,
                    limiter_ms,
                    marker_ms,
                    get_ms,
                    get_cpu,
                    get_lookup_ms + read_ms,
                    get_lookup_ms,
                    read_ms,
                ),
                strict=True,
            ):
                series[name].append(ms)
        profiles = {
            route: _profile(handler, [events(i)[n] for i in range(args.profile_calls)])
            for n, route in enumerate(("POST /ratings", "GET /ratings"))
        }
    finally:
        floor.close()
    return {
        "calls": args.calls,
        "warmup": args.warmup,
        "statuses": statuses,
        "ms": {name: summary(values) for name, values in series.items()},
        "curves": {name: quantile_curve(values) for name, values in series.items()},
        "profile": profiles,
    }


def _profile(handler: Callable[..., Any], prepared: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a call's time goes: cProfile's own time by package and by function, per call, and
    how often per call each I/O built-in runs (each socket send is about one round trip)."""
    import cProfile
    import pstats

    from tests.builders import LambdaContextStub

    contexts = [LambdaContextStub("api") for _ in prepared]
    profiler = cProfile.Profile()
    profiler.enable()
    for event, context in zip(prepared, contexts, strict=True):
        handler(event, context)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    calls = len(prepared)
    by_package: dict[str, float] = {}
    by_function: dict[str, float] = {}
    io_per_call: dict[str, float] = {}
    for (filename, line, name), (_, count, own, _, _) in stats.items():
        package = _package(filename, name)
        ms = own * 1000 / calls
        by_package[package] = by_package.get(package, 0.0) + ms
        label = name if filename == "~" else f"{_short(filename)}:{line} {name}"
        by_function[label] = by_function.get(label, 0.0) + ms
        if filename == "~" and any(w in name for w in ("execute", "send", "recv", "acquire")):
            io_per_call[name] = round(count / calls, 2)
    return {
        "calls": calls,
        "by_package_ms": _top(by_package, 10),
        "by_function_ms": _top(by_function, 12),
        "io_calls_per_call": io_per_call,
    }


_IO = "socket I/O (round trips)"
_LOCK = "waiting on a lock (the Kafka ack)"


def _top(values: dict[str, float], count: int) -> dict[str, float]:
    return {k: round(v, 4) for k, v in sorted(values.items(), key=lambda kv: -kv[1])[:count]}


def _package(filename: str, name: str) -> str:
    if filename == "~":  # a built-in: name the I/O waits, lump the rest
        if "acquire" in name:
            return _LOCK
        if any(word in name for word in ("recv", "poll", "select", "send")) or "psycopg2" in name:
            return _IO
        return "built-ins"
    parts = filename.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if "talkrate" in parts or "functions" in parts:
        return "talkrate"
    return "stdlib: " + parts[-1].removesuffix(".py")


def _short(filename: str) -> str:
    parts = filename.split("/")
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return "/".join(parts[-2:])


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--profile-calls", type=int, default=200)


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], _arguments, measure)
