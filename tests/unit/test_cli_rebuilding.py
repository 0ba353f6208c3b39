"""The talkrate command while the API's read model is being rebuilt (its Redis lost it), or is
down: a stand-in API on loopback answers as the API does then (GET /leaderboard: no talks and
`rebuilding`; GET /talks: the talks without their summaries and `rebuilding`, or without
either once its Redis is down), so that `watch --leaderboard` and `talks` are seen to say why
the counts are missing, in one line."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from talkrate_cli.main import main
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

TALK = {
    "id": "keynote",
    "title": "Keynote",
    "speakers": ["Ana"],
    "room": "Hall A",
    "startsAt": "2026-12-05T09:00:00Z",
    "endsAt": "2026-12-05T09:45:00Z",
    "revision": 1,
}
SUMMARY = {"count": 3, "avg": 4.33, "ratings": {"4": 2, "5": 1}}
PLACE = {
    "rank": 1,
    "talkId": "keynote",
    "title": "Keynote",
    "score": 3.3,
    "avg": 4.33,
    "count": 3,
}
PRIOR = {"mean": 3.0, "weight": 10.0}
RECOUNTED = "being rebuilt from the stored ratings (the API's Redis lost them)"
UNREACHABLE = "the API cannot reach the Redis that keeps them"


class RebuildingApi(LoopbackServer):
    """The API while `rebuilding` (set), and once rebuilt (cleared)."""

    def __init__(self) -> None:
        self.rebuilding = threading.Event()
        self.rebuilding.set()
        # Its Redis down altogether: the talks without their summaries, and no `rebuilding`
        self.redis_down = False
        api = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                lost = api.rebuilding.is_set()
                if path == "/app/config.json":
                    self.answer(200, {"live": None, "votingPolicy": "open", "timeZone": "UTC"})
                elif path == "/talks" and api.redis_down:
                    self.answer(200, {"items": [dict(TALK)], "total": 1})
                elif path == "/talks":
                    talk: dict[str, Any] = dict(TALK) if lost else {**TALK, "summary": SUMMARY}
                    body: dict[str, Any] = {"items": [talk], "total": 1}
                    self.answer(200, {**body, "rebuilding": True} if lost else body)
                elif path == "/leaderboard" and api.redis_down:
                    self.answer(
                        503,
                        {
                            "type": "urn:talkrate:problem:read-model-unavailable",
                            "title": "Counts unavailable",
                            "status": 503,
                            "detail": "the counts and averages cannot be read just now",
                        },
                    )
                elif path == "/leaderboard":
                    board: dict[str, Any] = {"talks": [] if lost else [PLACE], "prior": PRIOR}
                    self.answer(200, {**board, "rebuilding": True} if lost else board)
                else:
                    self.answer(404, {"title": "Not Found", "status": 404})

        super().__init__(Handler)


@pytest.fixture
def api() -> Iterator[RebuildingApi]:
    served = RebuildingApi()
    yield served
    served.close()


def run(api: RebuildingApi, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`talkrate --api URL ARGS`: its exit status and its stdout (stderr must be empty)."""
    status = main(["--api", api.url, *args])
    out, err = capsys.readouterr()
    assert err == ""
    return status, out


def test_talks_lists_the_programme_and_says_its_counts_are_being_recounted(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's read model being rebuilt
    # When an attendee lists the talks
    status, out = run(api, capsys, "talks")
    # Then the talk is listed, and one line says why it has no count
    assert status == 0
    assert "Keynote" in out
    [said] = [line for line in out.splitlines() if RECOUNTED in line]
    assert said.startswith("no counts or averages now: they are being rebuilt"), said
    # And once rebuilt, nothing of it is said
    api.rebuilding.clear()
    status, out = run(api, capsys, "talks")
    assert (status, RECOUNTED in out, "4.33" in out) == (0, False, True)


def test_talks_lists_the_programme_and_says_its_counts_cannot_be_read_with_redis_down(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's Redis down altogether (its talks listed without their summaries, and no
    # `rebuilding`: nothing is being recounted)
    api.redis_down = True
    # When an attendee lists the talks
    status, out = run(api, capsys, "talks")
    # Then the talk is listed, its count a dash, and one line says why
    assert status == 0
    assert "Keynote" in out
    assert [line for line in out.splitlines() if "no counts or averages" in line] == [
        f"no counts or averages now: {UNREACHABLE}; try again in a moment"
    ], out
    assert RECOUNTED not in out


def test_a_watched_leaderboard_says_it_is_recounted_then_shows_the_board_again(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's read model being rebuilt
    # When the leaderboard is watched (polled) until it stops
    args = ("watch", "--leaderboard", "--poll", "--interval", "0.2", "--duration", "0.6")
    status, out = run(api, capsys, *args)
    # Then its view says, in one line, that the board is being recounted, not an empty board
    assert status == 0
    assert [line for line in out.splitlines() if RECOUNTED in line] == [
        "the leaderboard cannot be read now: it is being rebuilt from the stored ratings "
        "(the API's Redis lost them); it shows again once recounted"
    ], out
    # And a watch that sees the read model rebuilt meanwhile goes on and shows the board
    threading.Timer(0.5, api.rebuilding.clear).start()
    status, out = run(api, capsys, *args[:-1], "1.5")
    assert status == 0
    assert RECOUNTED not in out
    assert "keynote" in out, out
    assert "4.33" in out, out


UNREADABLE = "the API cannot reach the Redis that keeps the counts"


def test_a_leaderboard_watched_while_redis_is_down_says_so_then_shows_the_board_by_itself(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's Redis down (GET /leaderboard: 503 read-model-unavailable)
    api.rebuilding.clear()
    api.redis_down = True
    # When the leaderboard is watched, Redis coming back a second in (its polls 20 s apart)
    threading.Timer(1.0, setattr, (api, "redis_down", False)).start()
    args = ("watch", "--leaderboard", "--poll", "--interval", "20", "--duration", "7")
    status, out = run(api, capsys, *args)
    # Then the watch does not fail: its view said, in one line, that the counts cannot be read
    # (a view drawn once where the output is no terminal: the last one, the board, is checked)
    assert status == 0, out
    # And it read the board again by itself within seconds, not at the next 20 s poll
    assert "4.33" in out, out
    assert UNREADABLE not in out


def test_a_watched_leaderboard_while_redis_is_down_says_the_counts_cannot_be_read(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's Redis down
    api.rebuilding.clear()
    api.redis_down = True
    # When the leaderboard is watched until it stops
    status, out = run(api, capsys, "watch", "--leaderboard", "--poll", "--duration", "0.5")
    # Then its view says in one line that the counts cannot be read, not an empty board
    assert status == 0, out
    assert [line for line in out.splitlines() if UNREADABLE in line] == [
        "the leaderboard cannot be read now: the API cannot reach the Redis that keeps the "
        "counts (every rating is kept); it shows again once it can"
    ], out


def test_a_watched_leaderboard_being_recounted_is_read_again_within_seconds(
    api: RebuildingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the API's read model being rebuilt, done a second in
    threading.Timer(1.0, api.rebuilding.clear).start()
    # When the leaderboard is watched with polls 20 s apart (as a live channel's safety
    # refetch: 30 s; no message comes when a rebuild ends)
    args = ("watch", "--leaderboard", "--poll", "--interval", "20", "--duration", "7")
    status, out = run(api, capsys, *args)
    # Then the board shows within seconds of the rebuild's end
    assert status == 0, out
    assert RECOUNTED not in out
    assert "4.33" in out, out
