"""A rating POSTed to the local runtime reaches the pages subscribed to its talk, pushed."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from talkrate.live import LEADERBOARD_CHANNEL
from tests.e2e.conftest import Runtime, start_runtime, stop_runtime
from tests.live_client import Subscriber

pytestmark = pytest.mark.e2e


def new_talk(runtime: Runtime) -> dict[str, object]:
    """A talk of this test (the catalog's admin route needs a token, so through the database)."""
    import psycopg2

    from tests.backends import E2E_TALKS

    talk_id = f"live.{uuid.uuid4().hex[:12]}"  # a dot: its channel is named by a hash
    with psycopg2.connect(E2E_TALKS) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO talks (id, title) VALUES (%s, 'Live talk')", (talk_id,))
    answer = runtime.request("GET", f"/talks/{talk_id}")
    assert answer.status == 200, answer.body
    document: dict[str, object] = answer.json
    return document


def test_a_posted_rating_is_pushed_to_every_page_subscribed_to_its_talk(runtime: Runtime) -> None:
    # Given a talk, whose document names its live channel, and two pages subscribed to it
    talk = new_talk(runtime)
    channel = talk["channel"]
    assert isinstance(channel, str)
    assert channel.startswith("/talkrate/talks/t")
    pages = [Subscriber(runtime.live_url, "127.0.0.1", runtime.live_api_key) for _ in range(2)]
    subscriptions = [page.subscribe(channel)[0] for page in pages]
    board_id, _ = pages[0].subscribe(LEADERBOARD_CHANNEL)
    # When an attendee rates it through the API (the leaderboard's subscribers are told it moved)
    sent = time.monotonic()
    answer = runtime.request("POST", "/ratings", json.dumps({"talkId": talk["id"], "value": 4}))
    assert answer.status == 202, answer.body
    # Then both pages are sent the talk's new state, without asking
    state = {
        "type": "talk",
        "talkId": talk["id"],
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
        "count": 1,
        "avg": 4.0,
        "ratingsRevision": 1,
    }
    assert pages[1].events(1, timeout=20) == [(subscriptions[1], state)]
    # (the first page also watches the leaderboard, which other tests' ratings move too)
    talk_events, moved = [], set()
    while not talk_events or talk["id"] not in moved:
        [(sub_id, event)] = pages[0].events(1, timeout=20)
        if sub_id == board_id:
            moved.update(event["talkIds"])
        else:
            talk_events.append(event)
    assert talk_events == [state]
    assert time.monotonic() - sent < 20
    for page in pages:
        page.close()


def test_the_pages_api_key_can_subscribe_but_not_publish(runtime: Runtime) -> None:
    # Given the live channel a page learns from /app/config.json, and a page subscribed to a talk
    import urllib.error
    import urllib.request

    live = runtime.request("GET", "/app/config.json").json["live"]
    talk = new_talk(runtime)
    page = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    sub_id, answer = page.subscribe(str(talk["channel"]))
    assert answer["type"] == "subscribe_success"
    # When someone holding that key (every browser) publishes a made-up state to the talk
    forged = {"type": "talk", "talkId": talk["id"], "ratings": {"5": 9999}, "count": 9999}
    request = urllib.request.Request(
        f"http://{live['host']}/event",
        data=json.dumps({"channel": talk["channel"], "events": [json.dumps(forged)]}).encode(),
        headers={"content-type": "application/json", "x-api-key": live["apiKey"]},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    # Then it is refused, as the template's namespace (IAM publishes only) has AWS refuse it,
    # and the page hears only what a real rating changes
    assert refused.value.code == 401
    answer = runtime.request("POST", "/ratings", json.dumps({"talkId": talk["id"], "value": 2}))
    assert answer.status == 202, answer.body
    [(got_id, state)] = page.events(1, timeout=20)
    assert (got_id, state["count"], state["ratings"]["2"]) == (sub_id, 1, 1)
    page.close()


def test_on_every_interface_pages_are_sent_to_the_live_channel_by_the_host_they_asked(
    backends_env: dict[str, str], tmp_path: Path
) -> None:
    # Given the runtime listening on every interface (`--host 0.0.0.0`, to try the pages from a
    # phone on the same network)
    every_interface = ["--host", "0.0.0.0"]  # noqa: S104 - what the test is about
    runtime = start_runtime(backends_env, tmp_path / "runtime.log", every_interface)
    try:
        # When a page on another machine asks for its configuration by the machine's address
        port = runtime.url.rsplit(":", 1)[1]
        asked = runtime.request("GET", "/app/config.json", headers={"Host": f"192.0.2.7:{port}"})
        # Then it is sent to the live channel at that address, not at 0.0.0.0 (which a phone,
        # or a browser that refuses 0.0.0.0, cannot connect to)
        live = asked.json["live"]
        assert live["realtimeUrl"] == f"ws://192.0.2.7:{runtime.live_port}/event/realtime"
        assert live["host"].startswith("192.0.2.7:")
        # And a page on this machine is sent to the address it used
        here = runtime.request("GET", "/app/config.json").json["live"]
        assert here["realtimeUrl"] == f"ws://127.0.0.1:{runtime.live_port}/event/realtime"
        # And only what pages use listens on every interface: the endpoints AWS takes signed
        # requests at only (the Lambda Invoke API, the stats function's IAM URL, the live
        # channel's publish endpoint) check no signature here and stay on loopback, where
        # anyone on the network could otherwise invoke a function with an event of their
        # making or publish to the room screens
        listening = listening_addresses(runtime.process.pid)
        api_port, lambda_port = int(port), int(runtime.lambda_url.rsplit(":", 1)[1])
        assert listening[api_port] == {"0.0.0.0"}, listening  # noqa: S104
        assert listening[runtime.live_port] == {"0.0.0.0"}, listening  # noqa: S104
        assert listening[lambda_port] == {"127.0.0.1"}, listening
        assert listening[runtime.url_port] == {"127.0.0.1"}, listening
        others = set(listening) - {api_port, runtime.live_port, lambda_port, runtime.url_port}
        assert others, listening  # the publish endpoint
        assert all(listening[other] == {"127.0.0.1"} for other in others), listening
        # And the functions still publish there: a rating reaches a page subscribed to its talk
        talk = new_talk(runtime)
        page = Subscriber(runtime.live_url, "127.0.0.1", runtime.live_api_key)
        try:
            sub_id, _ = page.subscribe(str(talk["channel"]))
            body = json.dumps({"talkId": talk["id"], "value": 4})
            assert runtime.request("POST", "/ratings", body).status == 202
            [(got_id, state)] = page.events(1, timeout=20)
            assert (got_id, state["count"], state["ratings"]["4"]) == (sub_id, 1, 1)
        finally:
            page.close()
    finally:
        stop_runtime(runtime)


def listening_addresses(pid: int) -> dict[int, set[str]]:
    """The TCP ports a process and its children listen on, each with its addresses."""
    import psutil

    root = psutil.Process(pid)
    found: dict[int, set[str]] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN:
                found.setdefault(connection.laddr.port, set()).add(connection.laddr.ip)
    return found
