"""Live updates under load: a rating's way from POST /ratings to the screens subscribed to its talk.

    python -m bench.live --out result.json [--rate 300] [--duration 20] [--subscribers 200]

The local runtime (its own tansu broker, the bench's PostgreSQL and Redis, the live channel's
emulation) gets `subscribers` WebSocket clients speaking the AppSync Events protocol, spread evenly
over `talks` fresh talks' channels, plus one on the leaderboard. POST /ratings are then scheduled
at `rate` per second for `duration` seconds (open loop, as the freshness part does). Each talk
message carries the talk's count, so the k-th rating a talk got (in the order the API answered 202)
is visible to a subscriber at the first message it receives with count >= k; latency runs from
the 202 (as the freshness part counts it) and, beside it, from the moment the POST was due, for
every (rating, subscriber) pair. Pairs never seen within
15 s of the end count as not delivered. Loopback only; bounded by --duration and fixed timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import multiprocessing
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    add_talks,
    child_main,
    quantile_curve,
    summary,
)
from bench.freshness import local_stack, open_loop, wait_until

DELIVERY_GRACE_SECONDS = 15.0


@dataclass
class Screen:
    """One subscribed client: the talk it watches and every (arrival, count) it was sent."""

    talk: str
    seen: list[tuple[float, int]] = field(default_factory=list)
    leaderboard: list[float] = field(default_factory=list)
    closed: str = ""


class Screens:
    """The subscribed clients, all on one asyncio loop in a thread of their own."""

    def __init__(self, config: dict[str, str], talks: list[str], per_talk: int) -> None:
        self.config = config
        self.screens = [Screen(talk) for talk in talks for _ in range(per_talk)]
        self.board = Screen("")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="screens", daemon=True)
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Future[None]] = []

    def start(self, within: float = 60) -> float:
        """Connect and subscribe every client; the seconds that took."""
        self._thread.start()
        started = time.monotonic()
        ready = asyncio.run_coroutine_threadsafe(self._open_all(), self._loop)
        ready.result(timeout=within)
        return time.monotonic() - started

    def stop(self) -> None:
        """Close every connection and the loop."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        done = asyncio.run_coroutine_threadsafe(self._close_all(), self._loop)
        try:
            done.result(timeout=20)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    async def _open_all(self) -> None:
        self._stop = asyncio.Event()
        subscribed: list[asyncio.Future[None]] = []
        for screen in [*self.screens, self.board]:
            ready: asyncio.Future[None] = self._loop.create_future()
            subscribed.append(ready)
            self._tasks.append(asyncio.ensure_future(self._watch(screen, ready)))
            await asyncio.sleep(0)  # connect gradually: a listen backlog has limits too
        await asyncio.gather(*subscribed)

    async def _close_all(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _watch(self, screen: Screen, ready: asyncio.Future[None]) -> None:
        from websockets.asyncio.client import connect

        from sam_emulator.events.live import SUBPROTOCOL, header_subprotocol
        from talkrate.live import LEADERBOARD_CHANNEL, channel_for_talk

        authorization = {"host": self.config["host"], "x-api-key": self.config["apiKey"]}
        channel = channel_for_talk(screen.talk) if screen.talk else LEADERBOARD_CHANNEL
        assert self._stop is not None
        try:
            async with connect(
                self.config["realtimeUrl"],
                subprotocols=[SUBPROTOCOL, header_subprotocol(authorization)],  # type: ignore[list-item]
                proxy=None,
                open_timeout=30,
                compression=None,
            ) as connection:
                await connection.send(json.dumps({"type": "connection_init"}))
                await connection.send(
                    json.dumps(
                        {
                            "type": "subscribe",
                            "id": str(uuid.uuid4()),
                            "channel": channel,
                            "authorization": authorization,
                        }
                    )
                )
                receiving = asyncio.ensure_future(self._receive(connection, screen, ready))
                stopping = asyncio.ensure_future(self._stop.wait())
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                receiving.cancel()
                stopping.cancel()
        except Exception as error:
            screen.closed = f"{type(error).__name__}: {error}"
            if not ready.done():
                ready.set_exception(error)

    @staticmethod
    async def _receive(connection: Any, screen: Screen, ready: asyncio.Future[None]) -> None:
        async for raw in connection:
            now = time.monotonic()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "data":
                event = json.loads(message["event"])
                if event.get("type") == "talk":
                    screen.seen.append((now, int(event["count"])))
                else:
                    screen.leaderboard.append(now)
            elif kind == "subscribe_success" and not ready.done():
                ready.set_result(None)
            elif kind in ("subscribe_error", "error") and not ready.done():
                ready.set_exception(RuntimeError(json.dumps(message)[:300]))


@contextmanager
def live_stack(concurrency: int, log: Path, live_port: int, api_key: str) -> Iterator[str]:
    """The freshness part's local stack with its live channel on `live_port`, whose clients
    subscribe with `api_key`; yields the runtime's URL."""
    with local_stack(
        concurrency,
        log,
        env={"SAM_EMULATOR_EVENTS_API_KEY": api_key},
        extra_args=("--live-port", str(live_port)),
    ) as url:
        yield url


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Rating -> visible to subscribed clients, at `args.rate` POST/s with `args.subscribers`."""
    if not (1 <= args.rate <= 1000 and 1 <= args.duration <= 60 and 1 <= args.subscribers <= 500):
        raise SystemExit("--rate 1..1000, --duration 1..60 s, --subscribers 1..500")
    from talkrate_local.launcher import free_port

    run = uuid.uuid4().hex[:8]
    talks = [f"bench-live-{run}-{i:03d}" for i in range(args.talks)]
    warm = f"bench-live-{run}-warm"
    add_talks([*talks, warm], "A talk of the live channel benchmark")
    total = round(args.rate * args.duration)
    api_key = f"da2-bench{uuid.uuid4().hex}"
    live_port = free_port()
    config = {
        "realtimeUrl": f"ws://127.0.0.1:{live_port}/event/realtime",
        "host": f"127.0.0.1:{live_port + 1}",
        "apiKey": api_key,
    }
    per_talk = max(1, args.subscribers // len(talks))
    folder = Path(tempfile.mkdtemp(prefix="talkrate-bench-live-"))
    log = folder / "runtime.log"
    # The screens run in a process of their own, so the POSTing threads here do not delay the
    # moment a message is read (monotonic clocks are one clock across processes on Linux).
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    watcher = context.Process(
        target=_screens_process, args=(there, config, talks, per_talk), name="screens"
    )
    watcher.start()
    try:
        with live_stack(args.concurrency, log, live_port, api_key) as url:
            _warm_up(url, warm)
            here.send("start")
            connect_s = _answer(here, 90)

            def body_for(i: int) -> str:
                return json.dumps({"talkId": talks[i % len(talks)], "value": i % 5 + 1})

            outcomes, _ = open_loop(
                url, total, args.rate, args.clients, body_for, lambda i, at: None
            )
            accepted = sum(1 for o in outcomes if o.status == 202)
            expected = {t: 0 for t in talks}
            for i, outcome in enumerate(outcomes):
                if outcome.status == 202:
                    expected[talks[i % len(talks)]] += 1
            here.send(expected)
            screens, settled = _answer(here, DELIVERY_GRACE_SECONDS + 60)
    except BaseException:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
        print(f"local runtime log ({log}), tail:\n{tail}", file=sys.stderr)
        raise
    finally:
        watcher.join(timeout=30)
        if watcher.is_alive():
            watcher.kill()
    result = _report(args, outcomes, talks, screens[:-1], screens[-1], per_talk, accepted, settled)
    result["connect_s"] = round(connect_s, 2)
    result["projector_ms"] = summary(_projector_durations(log))
    result["announce_ms"] = summary(_announcements(log))
    if result["not_delivered"] or result["errors"]:
        result["runtime_log"] = str(log)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _screens_process(pipe: Any, config: dict[str, str], talks: list[str], per_talk: int) -> None:
    """The subscribed clients' process: connect on "start", then, given the counts each talk
    should reach, wait for them (at most DELIVERY_GRACE_SECONDS) and send back what was seen."""
    if pipe.recv() != "start":
        return
    screens = Screens(config, talks, per_talk)
    try:
        pipe.send(screens.start())
        expected = pipe.recv()
        settled = wait_until(
            lambda: all(s.seen and s.seen[-1][1] >= expected[s.talk] for s in screens.screens),
            DELIVERY_GRACE_SECONDS,
            every=0.1,
        )
    finally:
        screens.stop()
    pipe.send(([*screens.screens, screens.board], settled))


def _answer(pipe: Any, within: float) -> Any:
    if not pipe.poll(within):
        raise RuntimeError(f"the subscribed clients did not answer within {within:.0f} s")
    return pipe.recv()


def _projector_durations(log: Path) -> list[float]:
    """How long each projector invocation took, from the REPORT lines of the runtime's log."""
    found = re.compile(r"\[ProjectorFunction\] REPORT .*?Duration: ([0-9.]+) ms")
    text = log.read_text(errors="replace") if log.exists() else ""
    return [float(m.group(1)) for m in found.finditer(text)]


def _announcements(log: Path) -> list[float]:
    """How long each batch's live updates took, from the projector's log lines."""
    found = re.compile(r'"message":"live updates announced".*?"ms":([0-9.]+)')
    text = log.read_text(errors="replace") if log.exists() else ""
    return [float(m.group(1)) for m in found.finditer(text)]


def _warm_up(url: str, talk: str) -> None:
    """One rating through the whole path, so no cold start lands in the measurement."""
    from bench.freshness import Client, read_model_total

    client = Client(url)
    try:
        status, _ = client.request("POST", "/ratings", json.dumps({"talkId": talk, "value": 5}))
    finally:
        client.close()
    if status != 202:
        raise RuntimeError(f"warm-up POST answered {status}")
    if not wait_until(lambda: read_model_total([talk]) > 0, 60, every=0.1):
        raise RuntimeError("the projector did not fold the warm-up rating within 60 s")


def _report(
    args: argparse.Namespace,
    outcomes: list[Any],
    talks: list[str],
    screens: list[Screen],
    board: Screen,
    per_talk: int,
    accepted: int,
    settled: bool,
) -> dict[str, Any]:
    # The k-th rating of a talk, in the order the API acknowledged them, is visible at the first
    # message with count >= k; its latency runs from its 202, and from when its POST was due
    # (open loop: a queue in front of the API counts there too).
    acked: dict[str, list[tuple[float, float]]] = {t: [] for t in talks}
    for i, outcome in enumerate(outcomes):
        if outcome.status == 202:
            acked[talks[i % len(talks)]].append((outcome.done, outcome.scheduled))
    for ratings in acked.values():
        ratings.sort()
    latencies: list[float] = []
    from_ack: list[float] = []
    not_delivered = 0
    for screen in screens:
        counts = [c for _, c in screen.seen]
        times = [t for t, _ in screen.seen]
        # counts only grow on one channel (messages are states, in order); keep it robust anyway
        best = 0
        monotonic_counts = []
        for count in counts:
            best = max(best, count)
            monotonic_counts.append(best)
        for k, (done, due) in enumerate(acked[screen.talk], start=1):
            at = bisect.bisect_left(monotonic_counts, k)
            if at == len(monotonic_counts):
                not_delivered += 1
            else:
                latencies.append((times[at] - due) * 1000)
                from_ack.append((times[at] - done) * 1000)
    statuses: dict[str, int] = {}
    for outcome in outcomes:
        key = str(outcome.status) if outcome.status else outcome.error or "none"
        statuses[key] = statuses.get(key, 0) + 1
    messages = sum(len(s.seen) for s in screens)
    return {
        "rate": args.rate,
        "duration_s": args.duration,
        "talks": len(talks),
        "subscribers": len(screens) + 1,
        "subscribers_per_talk": per_talk,
        "scheduled": len(outcomes),
        "accepted": accepted,
        "statuses": statuses,
        "errors": len(outcomes) - accepted,
        "visible_ms": summary(from_ack),
        "visible_from_schedule_ms": summary(latencies),
        "visible_curve": quantile_curve(from_ack) if from_ack else [],
        "pairs": len(latencies) + not_delivered,
        "not_delivered": not_delivered,
        "settled": settled,
        "talk_messages": messages,
        "talk_messages_per_subscriber_per_s": round(
            messages / max(1, len(screens)) / args.duration, 2
        ),
        "leaderboard_messages": len(board.leaderboard),
        "disconnected": sum(1 for s in [*screens, board] if s.closed),
    }


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--talks", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--clients", type=int, default=32, help="POSTing client threads")


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0] if __doc__ else "", _arguments, measure)
