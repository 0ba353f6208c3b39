"""`talkrate simulate --verify` against a small API of the test's own on loopback, whose counts
never move: the run sends its ratings, then waits for a projector that never counts them, and
the test stops it there, as an operator or a vanished API would."""

from __future__ import annotations

import _thread
import io
import itertools
import json
import re
import signal
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from rich.console import Console

from talkrate_cli.main import main
from talkrate_cli.simulation.ledger import Ledger
from talkrate_cli.simulation.progress import SendProgress, figures_line
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit


class QuietServer(ThreadingHTTPServer):
    """A server that does not print a client's reset connection (the run's own, as it ends)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def is_rating(body: bytes) -> bool:
    """Whether a POST /ratings body is a rating of the one talk (the run's bad ones are not)."""
    try:
        rating = json.loads(body)
    except ValueError:
        return False
    if not isinstance(rating, dict) or set(rating) != {"talkId", "value"}:
        return False
    return bool(rating["talkId"] == "t1" and rating["value"] in range(1, 6))


class StillApi(LoopbackServer):
    """One untimed talk; POST /ratings answers a rating of it 202 (422 otherwise), and the counts
    stay at zero. `on_verify`
    runs at the first read of the programme after a rating was sent (the verification's);
    with `gone`, that read and every request after it get no answer (the API went away)."""

    def __init__(self, on_verify: Any = None, gone: bool = False, on_rating: Any = None) -> None:
        self.rated = 0
        self.verifying = threading.Event()
        # With `on_rating`: run at the first POST /ratings, which (as every one after it, bad
        # or not) is never answered, until the server closes.
        self.released = threading.Event()
        events = itertools.count()
        first = threading.Lock()  # two POSTs at once: one of them is the first
        api = self

        class Handler(StandInHandler):
            def went_away(self) -> bool:
                if not (gone and api.verifying.is_set()):
                    return False
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return True

            def do_GET(self) -> None:
                if self.path.startswith("/talks?") and api.rated and not api.verifying.is_set():
                    api.verifying.set()
                    if on_verify is not None:
                        on_verify()
                if self.went_away():
                    return
                zero = {value: 0 for value in "12345"}
                if self.path.startswith("/talks?"):
                    talk = {"id": "t1", "title": "Still", "summary": {"count": 0, "ratings": zero}}
                    self.answer(200, {"items": [talk], "total": 1})
                elif self.path.startswith("/ratings?"):
                    self.answer(200, {"talkId": "t1", "ratings": zero, "ratingsRevision": 0})
                elif self.path.startswith("/ratings/"):
                    self.answer(200, {"status": "accepted"})
                else:
                    self.answer(404, {"title": "Not found", "status": 404})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.went_away():
                    return
                if self.path == "/ratings" and on_rating is not None:
                    # Every POST is held, the run's deliberately bad ones too: the run must
                    # stop before any answer, whichever kind it sends first.
                    with first:
                        is_first = not api.rated
                        api.rated += is_first
                    if is_first:
                        on_rating()
                    api.released.wait(10)
                    self.close_connection = True
                elif self.path == "/ratings" and not is_rating(body):
                    self.answer(422, {"title": "Invalid request", "status": 422})
                elif self.path == "/ratings":
                    api.rated += 1
                    self.answer(202, {"eventId": f"e{next(events)}", "status": "accepted"})
                else:
                    self.answer(404, {"title": "Not found", "status": 404})

        super().__init__(Handler, QuietServer)


@pytest.fixture
def ctrl_c_reaches_the_test() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here, even in a suite started with SIGINT ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def simulate(api: StillApi, as_json: bool) -> int:
    return main(
        [
            *(["--json"] if as_json else []),
            "--api",
            api.url,
            "simulate",
            "--attendees",
            "10",
            "--seed",
            "2",
            "--slot-seconds",
            "0.1",
            "--verify",
            "--give-up-after",
            "2",
        ]
    )


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ctrl_c_while_verifying_reports_what_was_sent(
    ctrl_c_reaches_the_test: None, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    # Given a verified simulation waiting for a projector that does not count its ratings
    api = StillApi(on_verify=lambda: _thread.interrupt_main(signal.SIGINT))
    try:
        # When the operator presses Ctrl-C while it waits
        status = simulate(api, as_json)
    finally:
        api.close()
    out, err = capsys.readouterr()
    # Then it stops (130) with the report of what it sent, as Ctrl-C while sending does, and
    # says the counts were not verified (it said "interrupted", and the figures were lost)
    assert status == 130, err
    assert api.verifying.is_set()
    assert "not verified" in err.strip().splitlines()[-1], err
    if as_json:
        document = json.loads(out)
        assert document["accepted"] == api.rated > 0
        assert "verified" not in document
        assert document["error"]["type"] == "urn:talkrate:cli:interrupted"
    else:
        assert f"accepted {api.rated} " in out, out


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_api_gone_while_verifying_leaves_the_report_of_what_was_sent(
    capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    # Given a verified simulation whose API goes away once the ratings are sent
    api = StillApi(gone=True)
    try:
        status = simulate(api, as_json)
    finally:
        api.close()
    out, err = capsys.readouterr()
    # Then it fails (1) saying why, with the report of what it sent (it had only the reason)
    assert status == 1, err
    assert "cannot reach the API" in err.strip().splitlines()[-1], err
    assert "not verified" in err.strip().splitlines()[-1], err
    if as_json:
        document = json.loads(out)
        assert document["accepted"] == api.rated > 0
        assert document["error"]["type"] == "urn:talkrate:cli:unreachable"
    else:
        assert f"accepted {api.rated} " in out, out


def test_a_run_stopped_before_any_answer_says_its_latencies_are_unknown(
    ctrl_c_reaches_the_test: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a simulation whose first rating gets no answer
    api = StillApi(on_rating=lambda: _thread.interrupt_main(signal.SIGINT))
    try:
        # When the operator presses Ctrl-C while it waits for it
        status = main(
            ["--api", api.url, "simulate", "--talk", "t1", "--rate", "5", "--duration", "10"]
        )
    finally:
        api.released.set()
        api.close()
    out, _ = capsys.readouterr()
    # Then its report says the latencies are unknown, as its progress line does (it printed
    # Python's "None ms")
    assert status == 130
    latency = [line for line in out.splitlines() if line.startswith("latency")]
    assert latency == ["latency   p50 - · p95 - · p99 - · max -"], out
    assert "None" not in out


def test_the_progress_says_the_rate_now_beside_the_average_the_report_gives() -> None:
    # Given a run 100 s in that has sent 2290 requests, 16 of them answered in the last 2 s
    ledger = Ledger(tokens=True)
    ledger.started, now = 1000.0, 1100.0
    ledger.sent, ledger.accepted, ledger.errors, ledger.throttled = 2290, 2245, 3, 12
    ledger.recent.extend((now - 1.9 + 0.1 * n, 0.045) for n in range(16))
    # When its figures are said
    figures = figures_line(ledger, now)
    # Then the last 2 s ("now", 8/s) and the average so far (22.9/s, the report's rate) are
    # each named (it said "8/s" alone, and the report then said 22.9/s)
    assert figures == "now 8/s · avg 22.9/s · p50 45 ms · errors 3 · 429 12 · accepted 2245"
    ledger.finished = now
    assert f"{ledger.average_rate():.1f}" == "22.9"


def test_the_progress_fits_a_terminal_of_80_columns_whole() -> None:
    # Given a big run's figures (100,000 requests), drawn in a terminal of 80 columns
    screen = Console(file=io.StringIO(), width=80, color_system=None)
    progress = SendProgress(screen)
    figures = "now 1200/s · avg 980.4/s · p50 233 ms · errors 999 · 429 9999 · accepted 99999"
    progress.add_task("send", total=100_000, completed=99_999, stats=figures)
    # When it is drawn
    screen.print(progress.get_renderable())
    lines = screen.file.getvalue().splitlines()  # type: ignore[attr-defined]
    # Then the bar with its count, and the figures, are each a whole line within 80 columns
    # (on one line the count was cut to "12…" and the elapsed time to "0:0…")
    assert len(lines) == 2, lines
    assert all(len(line) <= 80 for line in lines), lines
    assert re.fullmatch(r"sending \S+ +99999/100000 \d:\d\d:\d\d", lines[0]), lines
    assert lines[1] == figures
