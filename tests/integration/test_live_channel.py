"""The local AppSync Events API: subscribe over its WebSocket protocol, publish over HTTP (with
talkrate's own publisher) and over the WebSocket, fan-out, reconnects and malformed clients."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from sam_emulator.events.live import SUBPROTOCOL, LiveChannelEmulator, header_subprotocol
from talkrate.adapters.appsync_events import AppSyncEventsPublisher
from talkrate.errors import LivePublishFailed
from tests.live_client import Subscriber

pytestmark = pytest.mark.integration


@pytest.fixture
def live() -> Iterator[LiveChannelEmulator]:
    emulator = LiveChannelEmulator(namespaces=["talkrate"], keepalive_seconds=0.2)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def publisher(live: LiveChannelEmulator) -> AppSyncEventsPublisher:
    return AppSyncEventsPublisher(live.publish_url, timeout=2, api_key=live.api_key)


def subscriber(live: LiveChannelEmulator) -> Subscriber:
    return Subscriber(live.realtime_url, live.http_host, live.api_key)


def test_a_subscriber_receives_what_is_published_to_its_channel(
    live: LiveChannelEmulator, publisher: AppSyncEventsPublisher
) -> None:
    # Given a client subscribed to a talk's channel
    client = subscriber(live)
    assert client.connection_timeout_ms > 0
    sub_id, answer = client.subscribe("/talkrate/talks/t-1")
    assert answer == {"type": "subscribe_success", "id": sub_id}
    # When two events are published over HTTP
    publisher.publish("/talkrate/talks/t-1", [json.dumps({"n": 1}), json.dumps({"n": 2})])
    # Then it receives both, in order, as data of its subscription
    assert client.events(2) == [(sub_id, {"n": 1}), (sub_id, {"n": 2})]
    client.close()


def test_every_subscriber_of_a_channel_or_a_wildcard_above_it_gets_each_event(
    live: LiveChannelEmulator, publisher: AppSyncEventsPublisher
) -> None:
    # Given five clients on a talk's channel, one on every talk, one on another talk
    exact = [subscriber(live) for _ in range(5)]
    ids = [c.subscribe("/talkrate/talks/t-2")[0] for c in exact]
    everything = subscriber(live)
    wildcard_id, answer = everything.subscribe("/talkrate/talks/*")
    assert answer["type"] == "subscribe_success"
    other = subscriber(live)
    other.subscribe("/talkrate/talks/t-3")
    # When an event is published to the talk's channel, then one to the other talk's
    publisher.publish("/talkrate/talks/t-2", ['{"talk":"t-2"}'])
    publisher.publish("/talkrate/talks/t-3", ['{"talk":"t-3"}'])
    # Then each got exactly the events of what it subscribed to
    for client, sub_id in zip(exact, ids, strict=True):
        assert client.events(1) == [(sub_id, {"talk": "t-2"})]
    assert everything.events(2) == [(wildcard_id, {"talk": "t-2"}), (wildcard_id, {"talk": "t-3"})]
    assert [e for _, e in other.events(1)] == [{"talk": "t-3"}]
    for client in [*exact, everything, other]:
        client.close()


def test_a_client_that_reconnects_and_subscribes_again_receives_new_events(
    live: LiveChannelEmulator, publisher: AppSyncEventsPublisher
) -> None:
    # Given a client that subscribed, then lost its connection
    first = subscriber(live)
    first.subscribe("/talkrate/leaderboard")
    first.close()
    # When it connects again and subscribes anew, and an event is published
    again = subscriber(live)
    sub_id, _ = again.subscribe("/talkrate/leaderboard")
    publisher.publish("/talkrate/leaderboard", ['{"type":"leaderboard","talkIds":["a"]}'])
    # Then the new connection gets it, and the emulator kept nothing of the old one
    assert again.events(1) == [(sub_id, {"type": "leaderboard", "talkIds": ["a"]})]
    assert live.publish("/talkrate/leaderboard", ["1"])
    assert again.events(1)[0][1] == 1
    again.close()


@pytest.mark.parametrize("length", ["+{n}", "0_{n}", "0x{n:x}", "-1", " "])
def test_a_publish_whose_content_length_is_not_digits_is_refused(
    live: LiveChannelEmulator, length: str
) -> None:
    # Given a valid publish whose Content-Length is written as int() would read it (a sign, an
    # underscore) or not at all (hex, negative, blank)
    body = json.dumps({"channel": "/talkrate/talks/t-9", "events": ['"n"']})
    host, port = live.http_host.rsplit(":", 1)
    request = (
        f"POST /event HTTP/1.1\r\nhost: {live.http_host}\r\nx-api-key: {live.api_key}\r\n"
        f"content-type: application/json\r\ncontent-length: {length.format(n=len(body))}"
        f"\r\n\r\n{body}"
    )
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request.encode())
        status = connection.recv(1024).split(b"\r\n", 1)[0]
    # Then it is refused as malformed, as the gateway refuses it, not read as a size
    assert status == b"HTTP/1.1 400 Bad Request", status


@pytest.mark.parametrize(
    "malformed", ["not json", "[1, 2]", '{"no": "type"}', '{"type": "start", "id": "x"}', b"\x00"]
)
def test_a_malformed_message_closes_only_its_own_connection_with_an_error(
    live: LiveChannelEmulator, publisher: AppSyncEventsPublisher, malformed: str | bytes
) -> None:
    # Given two subscribers of one channel
    rude, polite = subscriber(live), subscriber(live)
    rude.subscribe("/talkrate/talks/t-4")
    sub_id, _ = polite.subscribe("/talkrate/talks/t-4")
    # When one of them sends a malformed message
    rude.connection.send(malformed)
    # Then it is told why and its connection is closed (1008)
    error = rude.receive()
    assert error["type"] == "error"
    assert error["errors"][0]["errorType"] in ("BadRequestException", "UnsupportedOperation")
    with pytest.raises(ConnectionClosedError) as closed:
        rude.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    # And the other one still receives what is published
    publisher.publish("/talkrate/talks/t-4", ['"still here"'])
    assert polite.events(1) == [(sub_id, "still here")]
    polite.close()


def test_unsubscribing_stops_the_events_and_unknown_ids_are_refused(
    live: LiveChannelEmulator, publisher: AppSyncEventsPublisher
) -> None:
    client = subscriber(live)
    sub_id, _ = client.subscribe("/talkrate/talks/t-5")
    keep_id, _ = client.subscribe("/talkrate/talks/t-6")
    client.send({"type": "unsubscribe", "id": sub_id})
    assert client.receive() == {"type": "unsubscribe_success", "id": sub_id}
    client.send({"type": "unsubscribe", "id": sub_id})
    assert client.receive()["type"] == "unsubscribe_error"
    publisher.publish("/talkrate/talks/t-5", ['"gone"'])
    publisher.publish("/talkrate/talks/t-6", ['"kept"'])
    assert client.events(1) == [(keep_id, "kept")]  # nothing of t-5 came before it
    client.close()


def test_bad_subscriptions_are_refused_and_the_connection_stays_usable(
    live: LiveChannelEmulator,
) -> None:
    client = subscriber(live)
    # (a segment with a dash at an end too: AppSync's pattern for a name starts and ends with a
    # letter or digit)
    bad = ["talkrate", "/talkrate/talks/has space", "/other/x", "/a/b/c/d/e/f", "/*"]
    for channel in [*bad, "/talkrate/talks/keynote-", "/talkrate/talks/-x"]:
        _, answer = client.subscribe(channel)
        assert answer["type"] == "subscribe_error", channel
    _, answer = client.subscribe("/talkrate/talks/t-7", api_key="da2-wrong")
    assert answer["errors"][0]["errorType"] == "UnauthorizedException"
    _sub_id, answer = client.subscribe("/talkrate/talks/t-7")
    assert answer["type"] == "subscribe_success"
    client.close()


def opened(live: LiveChannelEmulator, subprotocols: list[str]) -> ClientConnection:
    """A WebSocket connection offering these subprotocols, as the client's upgrade took it."""
    return connect(live.realtime_url, subprotocols=subprotocols, proxy=None, open_timeout=5)  # type: ignore[arg-type]


def refusal(connection: ClientConnection) -> tuple[dict[str, Any], int | None]:
    """What the channel answers a `connection_init` with, and the code it then closes with."""
    connection.send(json.dumps({"type": "connection_init"}))
    answer = json.loads(connection.recv(timeout=5))
    with pytest.raises(ConnectionClosed) as closed:
        connection.recv(timeout=5)
    return answer, closed.value.rcvd.code if closed.value.rcvd else None


@pytest.mark.parametrize(
    "header", [{"x-api-key": "da2-wrong"}, {"host": "elsewhere"}, None], ids=str
)
def test_a_connection_with_a_wrong_or_no_api_key_is_answered_connection_error_and_closed(
    live: LiveChannelEmulator, header: dict[str, str] | None
) -> None:
    # Given a client whose header names a wrong key, none, or which sends no header at all
    offered = [SUBPROTOCOL] + ([header_subprotocol(header)] if header else [])
    # When it connects (AppSync takes the upgrade: it answers in the protocol) and initialises
    with opened(live, offered) as connection:
        assert connection.subprotocol == SUBPROTOCOL
        answer, code = refusal(connection)
    # Then it is told it is not authorised, as AppSync tells it, and the connection is closed
    assert answer == {
        "type": "connection_error",
        "errors": [
            {
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call.",
                "errorCode": 401,
            }
        ],
    }
    assert code == 1000


@pytest.mark.parametrize(
    ("offered", "why"),
    [
        (["header-not*base64"], "header"),
        (["header-" + base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=")], "header"),
        ([], "subprotocol"),
    ],
    ids=["not base64url", "not an object", "no protocol subprotocol"],
)
def test_a_malformed_connection_is_answered_a_bad_request_and_closed(
    live: LiveChannelEmulator, offered: list[str], why: str
) -> None:
    # Given a client whose header is not base64url JSON of an object, or which does not offer
    # the protocol's subprotocol (only its header)
    key = header_subprotocol({"host": live.http_host, "x-api-key": live.api_key})
    protocols = [SUBPROTOCOL, *offered] if why == "header" else [key]
    # When it connects and initialises
    with opened(live, protocols) as connection:
        answer, code = refusal(connection)
    # Then it is told the request is bad, and why, and the connection is closed
    assert answer["type"] == "connection_error"
    [error] = answer["errors"]
    assert (error["errorType"], error["errorCode"]) == ("BadRequestException", 400)
    assert why in error["message"]
    assert code == 1000


def until_closed(client: Subscriber) -> ConnectionClosed:
    """Read (and drop) what comes until the channel closes the connection; how it closed."""
    while True:
        try:
            client.receive(timeout=5)
        except ConnectionClosed as closed:
            return closed


def test_a_connection_is_closed_when_it_has_lasted_the_maximum_duration() -> None:
    # Given an Event API whose connections last at most a second (AppSync's last a day)
    live = LiveChannelEmulator(namespaces=["talkrate"], max_connection_seconds=1)
    live.start()
    try:
        # (the clock started before the connection opens: started after the subscription, it
        # left out the connect and the subscribe, which a loaded machine may make last 0.2 s
        # and more, and the lower bound did not hold)
        opened_at = time.monotonic()
        first = subscriber(live)
        first_id, _ = first.subscribe("/talkrate/talks/t-13")
        # When it has lasted that long
        closed = until_closed(first)
        lasted = time.monotonic() - opened_at
        # Then the channel closes it, normally, as AppSync does at its cap
        assert closed.rcvd is not None
        assert closed.rcvd.code == 1000
        assert 0.8 < lasted < 4, lasted  # (the connect and subscribe inside it, loaded)
        # And a client that connects again gets what is published, for a second of its own
        again = subscriber(live)
        again_id, _ = again.subscribe("/talkrate/talks/t-13")
        live.publish("/talkrate/talks/t-13", ['"after"'])
        assert again.events(1) == [(again_id, "after")]
        assert until_closed(again).rcvd is not None
        assert first_id != again_id
    finally:
        live.stop()


def test_a_refused_connection_that_says_nothing_is_closed_at_the_maximum_duration() -> None:
    # Given an Event API whose connections last half a second, and a client with a wrong key
    live = LiveChannelEmulator(namespaces=["talkrate"], max_connection_seconds=0.5)
    live.start()
    try:
        offered = [SUBPROTOCOL, header_subprotocol({"x-api-key": "da2-wrong"})]
        # When it never sends connection_init
        # Then the channel does not hold it open for ever: it closes it at the cap
        with opened(live, offered) as connection, pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000
    finally:
        live.stop()


def test_the_maximum_duration_is_a_day_unless_asked_and_reaches_the_process() -> None:
    from sam_emulator.events.live import LiveChannelProcess

    assert LiveChannelEmulator().max_connection_seconds == 24 * 60 * 60
    process = LiveChannelProcess(namespaces=["talkrate"], max_connection_seconds=0.5)
    try:
        client = Subscriber(process.realtime_url, process.http_host, process.api_key)
        assert until_closed(client).rcvd is not None
    finally:
        process.stop()


def test_keepalives_arrive_after_the_acknowledgement(live: LiveChannelEmulator) -> None:
    client = subscriber(live)
    assert client.receive(timeout=3, skip_keepalives=False) == {"type": "ka"}
    client.close()


def test_publish_over_the_websocket_is_acknowledged_and_delivered(
    live: LiveChannelEmulator,
) -> None:
    listener, talker = subscriber(live), subscriber(live)
    sub_id, _ = listener.subscribe("/talkrate/talks/t-8")
    talker.send(
        {
            "type": "publish",
            "id": "p-1",
            "channel": "/talkrate/talks/t-8",
            "events": ['{"a":1}'],
            "authorization": talker.authorization,
        }
    )
    answer = talker.receive()
    assert answer["type"] == "publish_success"
    assert [s["index"] for s in answer["successful"]] == [0]
    assert listener.events(1) == [(sub_id, {"a": 1})]
    listener.close()
    talker.close()


def test_refused_publishes_raise_in_the_publisher(live: LiveChannelEmulator) -> None:
    wrong_key = AppSyncEventsPublisher(live.publish_url, timeout=2, api_key="da2-wrong")
    with pytest.raises(LivePublishFailed, match="401"):
        wrong_key.publish("/talkrate/talks/t-9", ['"x"'])
    right_key = AppSyncEventsPublisher(live.publish_url, timeout=2, api_key=live.api_key)
    with pytest.raises(LivePublishFailed, match="400"):
        right_key.publish("/talkrate/talks/t-9", ["{not json"])
    with pytest.raises(LivePublishFailed, match="400"):
        right_key.publish("/talkrate/talks/bad segment", ['"x"'])
    with pytest.raises(ValueError, match="1 to 5"):
        right_key.publish("/talkrate/talks/t-9", ['"x"'] * 6)
    right_key.publish("/talkrate/talks/t-9", ['"x"'])  # the connection is still usable


def test_an_unreachable_live_channel_fails_fast(live: LiveChannelEmulator) -> None:
    url = live.publish_url
    live.stop()
    with pytest.raises(LivePublishFailed, match="unreachable"):
        AppSyncEventsPublisher(url, timeout=1, api_key=live.api_key).publish("/talkrate/x", ["1"])


def test_without_an_api_key_the_publish_is_signed_for_appsync_as_botocore_signs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an endpoint that records what it is sent, and a publisher with IAM credentials only
    import threading
    from datetime import datetime
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    received: dict[str, object] = {}

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received["headers"] = {k.lower(): v for k, v in self.headers.items()}
            received["body"] = self.rfile.read(int(self.headers["content-length"]))
            answer = b'{"failed": [], "successful": [{"identifier": "x", "index": 0}]}'
            self.send_response(200)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.handle_request, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    environ = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret/key+"}
    environ["AWS_SESSION_TOKEN"] = "token/with+chars=="
    publisher = AppSyncEventsPublisher(
        f"http://{host}/event", timeout=2, region="eu-west-1", environ=environ
    )
    # When it publishes
    publisher.publish("/talkrate/talks/t-1", ['{"count":1}'])
    server.server_close()
    # Then the request carries the signature botocore computes for it at that moment
    headers = received["headers"]
    assert isinstance(headers, dict)
    assert "x-api-key" not in headers
    moment = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(auth, "get_current_datetime", lambda: moment)
    request = AWSRequest(
        method="POST",
        url=f"http://{host}/event",
        data=received["body"],
        headers={"content-type": "application/json"},
    )
    credentials = Credentials("AKIDEXAMPLE", "secret/key+", "token/with+chars==")
    auth.SigV4Auth(credentials, "appsync", "eu-west-1").add_auth(request)
    assert headers["authorization"] == request.headers["Authorization"]
    assert "/eu-west-1/appsync/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == "token/with+chars=="


def test_the_emulation_runs_as_a_process_of_its_own_and_ends_with_its_parent_s_word() -> None:
    from sam_emulator.events.live import LiveChannelProcess

    process = LiveChannelProcess(namespaces=["talkrate"])
    try:
        client = Subscriber(process.realtime_url, process.http_host, process.api_key)
        sub_id, _ = client.subscribe("/talkrate/talks/t-10")
        AppSyncEventsPublisher(process.publish_url, 2, process.api_key).publish(
            "/talkrate/talks/t-10", ['"from afar"']
        )
        assert client.events(1) == [(sub_id, "from afar")]
        client.close()
    finally:
        process.stop()
    with pytest.raises(LivePublishFailed, match="unreachable"):
        AppSyncEventsPublisher(process.publish_url, 1, process.api_key).publish(
            "/talkrate/x", ["1"]
        )


def test_a_publish_signed_with_iam_is_taken_without_an_api_key(live: LiveChannelEmulator) -> None:
    # Given a subscriber, and a publisher that signs as a Lambda role does (no API key)
    client = subscriber(live)
    sub_id, _ = client.subscribe("/talkrate/talks/t-11")
    environ = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    signed = AppSyncEventsPublisher(live.publish_url, 2, region=live.region, environ=environ)
    # When it publishes
    signed.publish("/talkrate/talks/t-11", ['"signed"'])
    # Then the event is delivered, its signature checked as AWS checks it
    assert client.events(1) == [(sub_id, "signed")]
    client.close()


@pytest.mark.parametrize(
    ("environ", "region", "refused"),
    [
        # Signed for another region than the API's (a function's AWS_REGION wrong)
        (
            {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
            "eu-central-1",
            "in eu-central-1, not appsync in",
        ),
        # With a secret that is not the access key's
        ({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "wrong"}, None, "does not match"),
        # With an access key the API does not know
        ({"AWS_ACCESS_KEY_ID": "other", "AWS_SECRET_ACCESS_KEY": "local"}, None, "access key"),
    ],
)
def test_a_publish_whose_signature_aws_would_refuse_is_refused_and_delivers_nothing(
    live: LiveChannelEmulator, environ: dict[str, str], region: str | None, refused: str
) -> None:
    # Given a subscriber, and a publisher signing wrongly as a misconfigured function would
    client = subscriber(live)
    sub_id, _ = client.subscribe("/talkrate/talks/t-13")
    wrong = AppSyncEventsPublisher(
        live.publish_url, 2, region=region or live.region, environ=environ
    )
    # When it publishes, Then it is refused as unauthorised, naming why
    with pytest.raises(LivePublishFailed, match=f"401.*{refused}"):
        wrong.publish("/talkrate/talks/t-13", ['"forged"'])
    # And a rightly signed publish after it is the only event delivered
    right = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    AppSyncEventsPublisher(live.publish_url, 2, region=live.region, environ=right).publish(
        "/talkrate/talks/t-13", ['"signed"']
    )
    assert client.events(1) == [(sub_id, "signed")]
    client.close()


def test_a_signed_publish_whose_body_was_changed_on_the_way_is_refused() -> None:
    from sam_emulator.events.live import signature_refusal
    from talkrate.sigv4 import Credentials as Signer
    from talkrate.sigv4 import signed_headers

    # Given a publish signed by the projector's signer, then its body changed
    body = b'{"channel": "/talkrate/talks/t-14", "events": ["1"]}'
    now = datetime.now(UTC)
    headers = signed_headers(
        "POST",
        "127.0.0.1:1",
        "/event",
        {"content-type": "application/json"},
        body,
        "us-east-1",
        "appsync",
        Signer("local", "local"),
        now,
    )
    received = {k.lower(): v for k, v in {**headers, "host": "127.0.0.1:1"}.items()}
    keys = {"local": "local"}
    # Then the signature holds for the body it signed, and not for another
    assert (
        signature_refusal("POST", "/event", received, body, "us-east-1", keys, now.timestamp())
        is None
    )
    changed = body.replace(b'"1"', b'"5"')
    said = signature_refusal(
        "POST", "/event", received, changed, "us-east-1", keys, now.timestamp()
    )
    assert said is not None
    assert "does not match" in said
    # And a signature older than AWS's skew is refused
    late = now.timestamp() + 16 * 60
    assert "too far" in (
        signature_refusal("POST", "/event", received, body, "us-east-1", keys, late) or ""
    )


def test_the_default_port_taken_the_event_api_takes_another_and_an_asked_one_fails(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import socket

    from sam_emulator.events import Options
    from sam_emulator.events import live as live_source
    from sam_emulator.template import load_template
    from tests.builders import ROOT

    template = load_template(ROOT / "template.yaml")
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", live_source.DEFAULT_REALTIME_PORT))
        holder.listen()
    except OSError:
        pass  # something else holds it already: the same situation
    try:
        [source] = live_source.bind(template, Options(), lambda *_: None)  # type: ignore[arg-type,return-value]
        assert isinstance(source, live_source.LiveEventApi)
        assert source.process.realtime_port != live_source.DEFAULT_REALTIME_PORT
        assert live_source.client_config() == source.process.client_config()
        source.stop()
        assert live_source.client_config() is None
        # And the taken default cost no error line on the console (make run's first line was
        # "live channel: [Errno 98] ... address already in use" though all was well)
        assert capfd.readouterr().err == ""
        with pytest.raises(OSError, match="cannot listen") as refused:
            live_source.bind(
                template,
                Options(live_port=live_source.DEFAULT_REALTIME_PORT),
                lambda *_: None,  # type: ignore[arg-type,return-value]
            )
        # An asked port that is taken says why, in the one error raised
        assert "in use" in str(refused.value)
        assert capfd.readouterr().err == ""
    finally:
        holder.close()


def test_a_namespace_that_takes_iam_publishes_only_refuses_the_pages_api_key() -> None:
    # Given an Event API whose namespace publishes with IAM and subscribes with the API key only,
    # as the template declares talkrate's, and a page subscribed with that key
    live = LiveChannelEmulator(
        namespaces=["talkrate"],
        publish_modes={"talkrate": ["AWS_IAM"]},
        subscribe_modes={"talkrate": ["API_KEY"]},
    )
    live.start()
    try:
        page = subscriber(live)
        sub_id, answer = page.subscribe("/talkrate/talks/t-12")
        assert answer["type"] == "subscribe_success"
        # When the key every browser holds publishes, over HTTP and over the WebSocket
        with pytest.raises(LivePublishFailed, match="401"):
            AppSyncEventsPublisher(live.publish_url, 2, api_key=live.api_key).publish(
                "/talkrate/talks/t-12", ['"forged"']
            )
        page.send(
            {
                "type": "publish",
                "id": "p-2",
                "channel": "/talkrate/talks/t-12",
                "events": ['"forged too"'],
                "authorization": page.authorization,
            }
        )
        # Then both are refused, as AWS refuses them, and only the signed publish arrives
        refused = page.receive()
        assert refused["type"] == "publish_error"
        assert refused["errors"][0]["errorType"] == "UnauthorizedException"
        environ = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        AppSyncEventsPublisher(live.publish_url, 2, region=live.region, environ=environ).publish(
            "/talkrate/talks/t-12", ['"signed"']
        )
        assert page.events(1) == [(sub_id, "signed")]
        page.close()
    finally:
        live.stop()


def test_a_namespace_without_api_key_subscriptions_refuses_them() -> None:
    # Given a namespace whose subscribers must sign (IAM)
    live = LiveChannelEmulator(namespaces=["private"], subscribe_modes={"private": ["AWS_IAM"]})
    live.start()
    try:
        client = subscriber(live)
        # When a client subscribes with the API key
        _, answer = client.subscribe("/private/things")
        # Then it is refused, and the connection stays usable
        assert answer["type"] == "subscribe_error"
        assert answer["errors"][0]["errorType"] == "UnauthorizedException"
        client.close()
    finally:
        live.stop()
