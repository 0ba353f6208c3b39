"""`talkrate simulate --verify` when the API stops answering its ratings' statuses
(GET /ratings/{eventId}, read STATUS_READERS at once): the command ends as soon as it says so,
whether a read failed or the operator pressed Ctrl-C, and sends nothing after it.

The API is a small one of the test's own on loopback that counts the run's ratings at once (so
that the verify asks after each of them), then holds every status read unanswered, for at most
HELD_S."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from talkrate_cli.client import Api
from talkrate_cli.errors import Unreachable
from talkrate_cli.simulation.verify import STATUS_READERS, statuses
from tests.builders import ROOT
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

HELD_S = 40.0  # the longest a status read is held unanswered (longer than the CLI's 15 s)
# How soon after its report line the command is to have ended (it took a whole HTTP timeout,
# 15 s, more)
PROMPT_S = 5.0


class HeldStatuses(LoopbackServer):
    """One talk, `t1`, whose counts and revision follow the ratings it accepted (202), as a
    projector that never lags would have them; every GET /ratings/{eventId} is held unanswered.
    With `drop_first`, once STATUS_READERS are held the first one's connection is dropped
    (the API went away under it) at `dropped`."""

    def __init__(self, drop_first: bool = False) -> None:
        self.counts = dict.fromkeys("12345", 0)
        self.revision = 0
        self.reads: list[float] = []  # when each status read arrived
        self.dropped: float | None = None
        self.all_held = threading.Event()
        self.released = threading.Event()
        lock = threading.Lock()
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                with lock:
                    counts, revision = dict(api.counts), api.revision
                if self.path.startswith("/talks?"):
                    summary = {"count": sum(counts.values()), "ratings": counts}
                    talk = {"id": "t1", "title": "Held", "summary": summary}
                    self.answer(200, {"items": [talk], "total": 1})
                elif self.path.startswith("/ratings?"):
                    body = {"talkId": "t1", "ratings": counts, "ratingsRevision": revision}
                    self.answer(200, body)
                elif self.path.startswith("/ratings/"):
                    self.held()
                else:
                    self.answer(404, {"title": "Not found", "status": 404})

            def held(self) -> None:
                with lock:
                    api.reads.append(time.monotonic())
                    first = len(api.reads) == 1
                    if len(api.reads) == STATUS_READERS:
                        api.all_held.set()
                if first and drop_first and api.all_held.wait(HELD_S):
                    api.dropped = time.monotonic()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                api.released.wait(HELD_S)
                self.close_connection = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rating = json.loads(body) if self.path == "/ratings" else None
                if not isinstance(rating, dict) or rating.get("talkId") != "t1":
                    self.answer(404, {"title": "Not found", "status": 404})
                    return
                with lock:
                    api.counts[str(rating["value"])] += 1
                    api.revision += 1
                    event_id = f"00000000-0000-4000-8000-{api.revision:012d}"
                self.answer(202, {"eventId": event_id, "status": "accepted"})

        super().__init__(Handler)

    def close(self) -> None:
        self.released.set()
        super().close()


def simulate_verify(api: HeldStatuses) -> subprocess.Popen[str]:
    """`talkrate simulate --verify` of about 30 ratings of t1, in a process of its own that
    takes Ctrl-C as a terminal's foreground program does (a suite started in the background
    has SIGINT ignored, which a child inherits)."""
    start = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from talkrate_cli.main import run; run()\n"
    )
    args = ["--api", api.url, "simulate", "--talk", "t1", "--rate", "30", "--duration", "1"]
    args += ["--bad-share", "0", "--change-mind", "0", "--no-tokens", "--verify"]
    return subprocess.Popen(
        [sys.executable, "-c", start, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ended(process: subprocess.Popen[str]) -> tuple[float, str]:
    """When the process ended (waited for at most HELD_S + 20 s), and its stderr."""
    _, err = process.communicate(timeout=HELD_S + 20)
    return time.monotonic(), err


def test_the_command_ends_when_a_status_read_fails_and_sends_no_read_after_it() -> None:
    # Given a verify whose status reads all wait for an answer
    api = HeldStatuses(drop_first=True)
    process = simulate_verify(api)
    try:
        # When the API drops one of them (it went away under it)
        assert api.all_held.wait(60), "the verify asked after no rating"
        at, err = ended(process)
    finally:
        process.kill()
        api.close()
    # Then the command says it cannot reach the API, without verifying, and ends at once: it
    # waited for the other reads' HTTP timeout (15 s), and one of its readers sent the next
    # rating's read after the failure
    assert process.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert "cannot reach the API" in last, err
    assert "not verified" in last, err
    assert "Traceback" not in err
    assert api.dropped is not None
    assert at - api.dropped < PROMPT_S, f"ended {at - api.dropped:.1f} s after the failure"
    assert len(api.reads) == STATUS_READERS, "a status read was sent after the failure"


def test_ctrl_c_while_the_statuses_are_read_ends_the_command_at_once() -> None:
    # Given a verify whose status reads all wait for an answer
    api = HeldStatuses()
    process = simulate_verify(api)
    try:
        assert api.all_held.wait(60), "the verify asked after no rating"
        # When the operator presses Ctrl-C, and again after a second and a half if it is still
        # there (it stayed for its readers' HTTP timeout, and the second one printed the
        # interpreter's traceback from joining them)
        pressed = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(1.5)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        at, err = ended(process)
    finally:
        process.kill()
        api.close()
    # Then it ends at once, interrupted (130), with its one line and no traceback
    assert process.returncode == 130, err
    assert "interrupted while waiting for the projector" in err, err
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert at - pressed < PROMPT_S, f"ended {at - pressed:.1f} s after Ctrl-C"
    assert len(api.reads) == STATUS_READERS, "a status read was sent after Ctrl-C"


def test_status_reads_that_time_out_end_the_reading_with_no_read_after_them() -> None:
    # Given an API that never answers a status read, asked after 20 ratings with a 1 s timeout
    api = HeldStatuses()
    client = Api(api.url, timeout=1.0)
    event_ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(20)]
    try:
        # When the statuses are read
        started = time.monotonic()
        with pytest.raises(Unreachable, match="no answer in time"):
            statuses(client, event_ids)
        took = time.monotonic() - started
        time.sleep(1.5)  # a read sent after the failure would have arrived by now
        readers: list[Any] = [t for t in threading.enumerate() if t.name.startswith("rating")]
    finally:
        client.close()
        api.close()
    # Then the reading fails at the first timeout, no reader takes another rating after it
    # (the first reader to time out sent the next rating's read), and the readers left in
    # their requests do not hold the interpreter's exit
    assert took < 1.0 + PROMPT_S, took
    # (at most one read a reader: a reader the loaded machine started late may not have sent
    # its first before the first timeout, and takes none after it; at least the one timed out)
    assert 1 <= len(api.reads) <= STATUS_READERS, f"{len(api.reads)} reads: one after the failure"
    assert all(reader.daemon for reader in readers), readers
