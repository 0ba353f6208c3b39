"""The live-channel subscriber against a small server speaking the AppSync Events protocol.

The server checks what AppSync checks (the two subprotocols, the API key in the header and in
each subscribe) and answers in the protocol's shapes; the subscriber must hand each published
event to its callback and say when it is live.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from talkrate_cli.live import LiveEndpoint, LiveSubscriber

pytestmark = pytest.mark.unit

API_KEY = "da2-testkey"
HOST = "example.appsync-api.eu-west-1.amazonaws.com"


def decoded_header(protocols: list[str]) -> dict[str, Any]:
    [header] = [p for p in protocols if p.startswith("header-")]
    encoded = header.removeprefix("header-")
    return dict(json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))))


def appsync(connection: ServerConnection) -> None:
    """One connection: ack, confirm subscriptions, publish two events on each channel."""
    offered = (
        connection.request.headers.get_all("Sec-WebSocket-Protocol") if connection.request else []
    )
    protocols = [p.strip() for line in offered for p in line.split(",")]
    auth = decoded_header(protocols)
    if "aws-appsync-event-ws" not in protocols or auth.get("x-api-key") != API_KEY:
        connection.close(4001)
        return
    assert json.loads(connection.recv())["type"] == "connection_init"
    connection.send(json.dumps({"type": "connection_ack", "connectionTimeoutMs": 300000}))
    while True:
        message = json.loads(connection.recv())
        if message["type"] != "subscribe":
            continue
        if message["authorization"].get("x-api-key") != API_KEY:
            connection.send(json.dumps({"type": "subscribe_error", "id": message["id"]}))
            continue
        connection.send(json.dumps({"type": "subscribe_success", "id": message["id"]}))
        connection.send(json.dumps({"type": "ka"}))
        for n in (1, 2):
            event = {"type": "talk", "channel": message["channel"], "count": n}
            connection.send(
                json.dumps({"type": "data", "id": message["id"], "event": json.dumps(event)})
            )


def choose(_: ServerConnection, offered: Any) -> Any:
    """The protocol's subprotocol, when the client offers it (as AppSync selects it)."""
    return "aws-appsync-event-ws" if "aws-appsync-event-ws" in offered else None


@pytest.fixture
def server() -> Iterator[Server]:
    with serve(appsync, "127.0.0.1", 0, select_subprotocol=choose) as running:
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        yield running
        running.shutdown()


def test_events_arrive_and_the_subscriber_says_it_is_live(server: Server) -> None:
    port = server.socket.getsockname()[1]
    endpoint = LiveEndpoint.from_config(
        {
            "live": {
                "realtimeUrl": f"ws://127.0.0.1:{port}/event/realtime",
                "host": HOST,
                "apiKey": API_KEY,
            }
        }
    )
    assert endpoint is not None
    events: list[Any] = []
    states: list[str] = []
    arrived = threading.Event()

    def on_event(event: Any) -> None:
        events.append(event)
        if len(events) == 2:
            arrived.set()

    subscriber = LiveSubscriber(endpoint, ["/talkrate/talks/t1"], on_event, states.append)
    subscriber.start()
    try:
        assert arrived.wait(10)
    finally:
        subscriber.stop()
        subscriber.join(5)
    assert [e["count"] for e in events] == [1, 2]
    assert events[0]["channel"] == "/talkrate/talks/t1"
    assert "live" in states


def test_a_refused_key_falls_back_to_polling(server: Server) -> None:
    port = server.socket.getsockname()[1]
    endpoint = LiveEndpoint(f"ws://127.0.0.1:{port}/event/realtime", HOST, "wrong-key")
    states: list[str] = []
    said = threading.Event()
    subscriber = LiveSubscriber(
        endpoint, ["/talkrate/leaderboard"], print, lambda s: (states.append(s), said.set())
    )
    subscriber.start()
    try:
        assert said.wait(10)
    finally:
        subscriber.stop()
        subscriber.join(5)
    assert states[0].startswith("polling (live channel:")


def watch_with_an_old_key(
    server: Server, endpoint_now: Callable[[str], LiveEndpoint], within: float
) -> list[str]:
    """The states of a watch that began with the channel's old key (a deploy or a restarted
    runtime has renewed it since) and reads where the channel is with `endpoint_now(url)`,
    once it went live; fails when it does not within `within` seconds."""
    url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/event/realtime"
    states: list[str] = []
    went_live = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if state == "live":
            went_live.set()

    subscriber = LiveSubscriber(
        LiveEndpoint(url, HOST, "da2-the-old-key"),
        ["/talkrate/leaderboard"],
        print,
        on_state,
        endpoint_now=lambda: endpoint_now(url),
    )
    subscriber.start()
    try:
        assert went_live.wait(within), states
    finally:
        subscriber.stop()
        subscriber.join(5)
    return states


def test_a_key_renewed_meanwhile_is_read_again_and_the_watch_goes_live(server: Server) -> None:
    # Given a watch that began with the channel's old key, and the app's configuration that
    # now names the new one
    asked: list[int] = []

    def endpoint_now(url: str) -> LiveEndpoint:
        asked.append(1)
        return LiveEndpoint(url, HOST, API_KEY)

    # When its first try is refused, Then it reads the configuration again and goes live
    states = watch_with_an_old_key(server, endpoint_now, within=10)
    assert states[0].startswith("polling (live channel:")
    assert asked


def test_a_configuration_that_cannot_be_read_is_asked_for_again(server: Server) -> None:
    # Given a watch offering an old key, whose API does not answer for its configuration once
    asked: list[int] = []

    def endpoint_now(url: str) -> LiveEndpoint:
        asked.append(1)
        if len(asked) == 1:
            raise ConnectionError("the API is away")
        return LiveEndpoint(url, HOST, API_KEY)

    # Then the failed read keeps it trying with what it knew, and the next read brings it live
    states = watch_with_an_old_key(server, endpoint_now, within=15)
    assert len(asked) >= 2
    assert sum(s.startswith("polling") for s in states) >= 2


def test_no_live_channel_configured_means_polling() -> None:
    assert LiveEndpoint.from_config({"live": None, "votingPolicy": "open"}) is None
    assert LiveEndpoint.from_config(None) is None


def test_after_a_session_that_went_live_the_next_try_comes_soon_again() -> None:
    # Given a live channel that confirms the subscription, then drops the connection, each time
    def drops(connection: ServerConnection) -> None:
        assert json.loads(connection.recv())["type"] == "connection_init"
        connection.send(json.dumps({"type": "connection_ack", "connectionTimeoutMs": 300000}))
        message = json.loads(connection.recv())
        connection.send(json.dumps({"type": "subscribe_success", "id": message["id"]}))
        connection.close(1011)

    states: list[str] = []
    dropped = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if sum(s.startswith("polling") for s in states) == 4:
            dropped.set()

    with serve(drops, "127.0.0.1", 0, select_subprotocol=choose) as running:
        threading.Thread(target=running.serve_forever, daemon=True).start()
        port = running.socket.getsockname()[1]
        endpoint = LiveEndpoint(f"ws://127.0.0.1:{port}/event/realtime", HOST, API_KEY)
        subscriber = LiveSubscriber(endpoint, ["/talkrate/leaderboard"], print, on_state)
        subscriber.start()
        try:
            # When it has dropped four sessions that were live
            assert dropped.wait(20)
        finally:
            subscriber.stop()
            subscriber.join(5)
            running.shutdown()
    # Then each drop is followed by the first, short wait, not one that grew with every drop
    waits = [s.rsplit("again in ", 1)[-1] for s in states if s.startswith("polling")]
    assert waits[:4] == ["0.5 s"] * 4, states
    assert states.count("live") >= 4


def refusing(connection: ServerConnection, accepted: str = API_KEY) -> None:
    """A live channel as AppSync answers a key it refuses: the upgrade taken, `connection_init`
    answered `connection_error`, the connection closed. `accepted` goes live."""
    offered = (
        connection.request.headers.get_all("Sec-WebSocket-Protocol") if connection.request else []
    )
    auth = decoded_header([p.strip() for line in offered for p in line.split(",")])
    assert json.loads(connection.recv())["type"] == "connection_init"
    if auth.get("x-api-key") != accepted:
        error = {
            "errorType": "UnauthorizedException",
            "message": "You are not authorized to make this call.",
            "errorCode": 401,
        }
        connection.send(json.dumps({"type": "connection_error", "errors": [error]}))
        connection.close(1000)
        return
    connection.send(json.dumps({"type": "connection_ack", "connectionTimeoutMs": 300000}))
    message = json.loads(connection.recv())
    connection.send(json.dumps({"type": "subscribe_success", "id": message["id"]}))
    with contextlib.suppress(ConnectionClosed):
        connection.recv()


def test_a_key_the_channel_refuses_is_not_offered_again_and_again() -> None:
    # Given a live channel that refuses the watch's key (connection_error), and an app whose
    # configuration still names that key
    tries: list[int] = []

    def counted(connection: ServerConnection) -> None:
        tries.append(1)
        refusing(connection)

    states: list[str] = []
    with serve(counted, "127.0.0.1", 0, select_subprotocol=choose) as running:
        threading.Thread(target=running.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{running.socket.getsockname()[1]}/event/realtime"
        old = LiveEndpoint(url, HOST, "da2-refused")
        subscriber = LiveSubscriber(
            old, ["/talkrate/leaderboard"], print, states.append, endpoint_now=lambda: old
        )
        subscriber.start()
        try:
            # When three seconds pass (a retry after 0.5, 1 and 2 s before)
            time.sleep(3)
        finally:
            subscriber.stop()
            subscriber.join(5)
            running.shutdown()
    # Then it was offered once: the watch polls, saying why and when it tries the channel again
    assert len(tries) == 1, states
    assert states == [
        "polling (the live channel refused this watch: UnauthorizedException: You are not "
        "authorized to make this call.); again in 5 min"
    ]


def test_a_refused_key_whose_configuration_names_a_new_one_goes_live_at_once() -> None:
    # Given a watch that began with the channel's old key, which the channel refuses
    # (connection_error), and the app's configuration that now names the new one
    states: list[str] = []
    live = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if state == "live":
            live.set()

    with serve(refusing, "127.0.0.1", 0, select_subprotocol=choose) as running:
        threading.Thread(target=running.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{running.socket.getsockname()[1]}/event/realtime"
        subscriber = LiveSubscriber(
            LiveEndpoint(url, HOST, "da2-the-old-key"),
            ["/talkrate/leaderboard"],
            print,
            on_state,
            endpoint_now=lambda: LiveEndpoint(url, HOST, API_KEY),
        )
        subscriber.start()
        try:
            # Then it reads the configuration and connects with the new key without waiting
            assert live.wait(5), states
        finally:
            subscriber.stop()
            subscriber.join(5)
            running.shutdown()
    assert states == ["live"]


def test_a_session_the_channel_ends_normally_is_said_to_reconnect() -> None:
    # Given a live channel that closes a live connection normally (1000), as AppSync closes one
    # that has lasted its maximum duration
    def ends(connection: ServerConnection) -> None:
        assert json.loads(connection.recv())["type"] == "connection_init"
        connection.send(json.dumps({"type": "connection_ack", "connectionTimeoutMs": 300000}))
        message = json.loads(connection.recv())
        connection.send(json.dumps({"type": "subscribe_success", "id": message["id"]}))
        connection.close(1000)

    states: list[str] = []
    twice = threading.Event()

    def on_state(state: str) -> None:
        states.append(state)
        if states.count("live") == 2:
            twice.set()

    with serve(ends, "127.0.0.1", 0, select_subprotocol=choose) as running:
        threading.Thread(target=running.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{running.socket.getsockname()[1]}/event/realtime"
        subscriber = LiveSubscriber(LiveEndpoint(url, HOST, API_KEY), ["/t/x"], print, on_state)
        subscriber.start()
        try:
            assert twice.wait(10), states
        finally:
            subscriber.stop()
            subscriber.join(5)
            running.shutdown()
    # Then the watch says it reconnects, as routine, not why the channel failed, and is live again
    assert states[:3] == ["live", "reconnecting (the live channel ended the connection)", "live"]


class CatalogApi:
    """The two reads a talk's watch makes, counting the reads of the talk itself."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.talk_reads = 0

    def talk(self, talk_id: str) -> dict[str, Any]:
        self.talk_reads += 1
        return {"id": talk_id, "title": "Watched", "revision": self.revision}

    def ratings(self, talk_id: str) -> dict[str, Any]:
        return {"talkId": talk_id, "ratings": {"5": 1}}


def test_a_watch_lets_be_an_organiser_s_change_older_than_the_talk_it_read() -> None:
    import talkrate_cli.main  # noqa: F401  (the commands import it first)
    from talkrate_cli.commands.watch import Watcher

    # Given a live watch of a talk it read at revision 7: removed at 5, then added again
    api = CatalogApi(revision=7)
    watcher = Watcher(api, "t1", None, 10)  # type: ignore[arg-type]
    watcher.fetch()

    def heard(message: dict[str, Any]) -> bool:
        """Whether the watch, told of the change, reads the talk again at its next fetch."""
        watcher.wake.clear()
        watcher.on_event({"type": "catalog", "talkId": "t1", **message})
        reads = api.talk_reads
        if watcher.wake.is_set():
            watcher.fetch()
        return api.talk_reads > reads

    # When the removal of the talk as it was at 5 comes late (another API instance's publish),
    # and a save at 6; then the save it read, at 7, again
    # Then it reads nothing again for any of them
    assert not heard({"talk": None, "revision": 5})
    assert not heard({"talk": {"id": "t1", "revision": 6}, "revision": 6})
    assert not heard({"talk": {"id": "t1", "revision": 7}})
    # When the talk at 7 is removed: it reads the talk again (and finds it gone)
    assert heard({"talk": None, "revision": 7})
    # And a save of the talk it removed, published late, is let be; a newer one is read
    assert not heard({"talk": {"id": "t1", "revision": 7}, "revision": 7})
    api.revision = 9
    assert heard({"talk": {"id": "t1", "revision": 9}, "revision": 9})
    # And a removal from an API of before, without a revision, is always read
    assert heard({"talk": None})
