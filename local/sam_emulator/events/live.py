"""A local AWS AppSync Events API: its real-time WebSocket protocol and its HTTP publish endpoint.

What a page or a command written for AppSync Events does against AWS, it does here unchanged:
- WebSocket `ws://<host>/event/realtime`, subprotocols `aws-appsync-event-ws` and
  `header-<base64url JSON of {"host", "x-api-key"}>`; messages `connection_init` ->
  `connection_ack` (`connectionTimeoutMs`), `ka` every few seconds, `subscribe` (`id`, `channel`,
  `authorization`) -> `subscribe_success` / `subscribe_error`, `data` (`id`, `event` as a JSON
  text), `unsubscribe` -> `unsubscribe_success` / `unsubscribe_error`, `publish` ->
  `publish_success` / `publish_error`. A message that is not a JSON object with a known `type`
  gets an `error` and its connection is closed; no other connection notices.
- A connection AppSync would refuse is upgraded all the same and refused in the protocol, as
  AppSync refuses it: its first message is answered `connection_error` (`errors` of
  `errorType`, `message`, `errorCode`), then it is closed (1000). A wrong or missing API key is
  `UnauthorizedException` (401); a header that is not base64url JSON of an object, or no
  `aws-appsync-event-ws` among the subprotocols, `BadRequestException` (400).
- A connection is closed (1000) once it has lasted `max_connection_seconds`: AppSync's last
  24 hours at most (SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS sets a shorter one, to watch
  clients reconnect).
- HTTP `POST http://<host>/event` with `{"channel", "events": [up to 5 JSON texts]}` and an
  `x-api-key` header or a SigV4 signature (IAM; not checked locally), answered
  `{"successful": [{"identifier", "index"}], "failed": []}`.
- Channels `/<namespace>/<segment>...` (2 to 5 segments of 1 to 50 letters, digits or dashes);
  a subscription may end in `/*` to receive every channel below it.
- Each namespace's auth modes, as the template gives them: a publish or subscription with an API
  key (`API_KEY`) or a signature (`AWS_IAM`) that its namespace does not take is refused with
  `UnauthorizedException`, as AWS refuses it (the pages' key, which every browser holds, cannot
  publish where only IAM may). A namespace whose modes are not given takes both.

It stands alone (asyncio and the `websockets` package), serves from a thread of its own, and fans
each event out to every matching subscription. As an event source of the emulator (`bind`), each
Event API of the template runs in a process of its own, as AppSync is a service of its own, and
the functions whose environment names its endpoints (`!GetAtt Api.Dns.Http`, or a `!Sub` of it)
are given the local ones.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from sam_emulator.events import EventSource, Options
from sam_emulator.lambda_.environment import UNCHECKED_CREDENTIAL
from sam_emulator.lambda_.pool import Invoker
from sam_emulator.plugins import Services
from sam_emulator.serving import SIGNED_ONLY_HOST, declared_length
from sam_emulator.template import Template
from sam_emulator.template.appsync_events import EventApi, local_value
from sam_emulator.template.intrinsics import REGION

SUBPROTOCOL: Final = "aws-appsync-event-ws"
API_KEY: Final = "API_KEY"
AWS_IAM: Final = "AWS_IAM"
REALTIME_PATH: Final = "/event/realtime"
PUBLISH_PATH: Final = "/event"
MAX_EVENTS_PER_PUBLISH: Final = 5
MAX_EVENT_BYTES: Final = 240 * 1024
MAX_SUBSCRIPTIONS_PER_CONNECTION: Final = 100
MAX_ID_LENGTH: Final = 128
CONNECTION_TIMEOUT_MS: Final = 300_000  # what AppSync announces in connection_ack
MAX_CONNECTION_SECONDS: Final = 24 * 60 * 60  # AppSync closes a connection that lasted a day
# What AppSync answers a connection whose key it refuses (its very words: clients show them).
NOT_AUTHORIZED: Final = "You are not authorized to make this call."
# A channel segment: letters, digits and dashes, at most 50, a letter or digit at each end (the
# pattern AWS's API reference gives a namespace name; a dash at an end is refused here).
_SEGMENT: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
_MAX_HEAD_BYTES: Final = 16 * 1024
_MAX_BODY_BYTES: Final = MAX_EVENTS_PER_PUBLISH * MAX_EVENT_BYTES + 64 * 1024
_REASONS: Final = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
# Addresses that mean "every interface": listened on, never connected to from elsewhere.
_WILDCARDS: Final = frozenset({"0.0.0.0", "::", "[::]", ""})  # noqa: S104 - compared, not bound  # nosec B104


class ProtocolError(Exception):
    """A client message or request this API refuses, with AppSync's error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type

    def errors(self) -> list[dict[str, str]]:
        """The `errors` list AppSync answers with."""
        return [{"errorType": self.error_type, "message": str(self)}]

    def connection_error(self) -> dict[str, Any]:
        """The `connection_error` AppSync refuses a connection with (its errors carry the
        HTTP status AppSync would have meant: 401 unauthorised, 400 a bad request)."""
        code = 401 if self.error_type == "UnauthorizedException" else 400
        return {"type": "connection_error", "errors": [{**self.errors()[0], "errorCode": code}]}


def parse_channel(channel: Any, *, wildcard: bool) -> tuple[str, ...]:
    """The segments of a channel path; `wildcard` allows a final `*` (subscriptions only)."""
    if not isinstance(channel, str) or not channel:
        raise ProtocolError("BadRequestException", "channel must be a non-empty string")
    segments = tuple(channel.strip("/").split("/"))
    last_ok = wildcard and segments[-1] == "*"
    if not 2 <= len(segments) <= 5 or not all(
        _SEGMENT.fullmatch(s) or (last_ok and i == len(segments) - 1)
        for i, s in enumerate(segments)
    ):
        raise ProtocolError(
            "BadRequestException",
            f"invalid channel {channel[:120]!r}: a namespace and 1 to 4 more segments of 1 to 50 "
            "letters, digits or dashes" + (", optionally ending in /*" if wildcard else ""),
        )
    return segments


@dataclass(eq=False)
class _Client:
    """One WebSocket connection and its subscriptions (id -> channel segments)."""

    connection: ServerConnection
    initialised: bool = False
    subscriptions: dict[str, tuple[str, ...]] = field(default_factory=dict)


class Endpoints:
    """Where a local Event API listens, as clients and publishers name it."""

    host: str
    realtime_port: int
    http_port: int
    api_key: str

    @property
    def realtime_url(self) -> str:
        """Where clients connect: `ws://host:port/event/realtime`."""
        return f"ws://{self.host}:{self.realtime_port}{REALTIME_PATH}"

    @property
    def http_host(self) -> str:
        """The HTTP endpoint's host, as clients name it in their authorization header."""
        return f"{self.host}:{self.http_port}"

    @property
    def publish_url(self) -> str:
        """Where publishers POST: `http://127.0.0.1:port/event` (on loopback whatever the
        realtime endpoint's host: signatures are not checked here)."""
        return f"http://{SIGNED_ONLY_HOST}:{self.http_port}{PUBLISH_PATH}"

    def client_config(self, reached_as: str | None = None) -> dict[str, str]:
        """What a browser needs to subscribe: realtime URL, HTTP host and API key. Listening on
        every interface (0.0.0.0), the endpoints are named by `reached_as`, the host name the
        page itself was asked of (a phone on the network cannot connect to 0.0.0.0)."""
        host = reached_as if reached_as and self.host in _WILDCARDS else self.host
        return {
            "realtimeUrl": f"ws://{host}:{self.realtime_port}{REALTIME_PATH}",
            "host": f"{host}:{self.http_port}",
            "apiKey": self.api_key,
        }


class LiveChannelEmulator(Endpoints):
    """The realtime endpoint and the HTTP publish endpoint of one local Event API."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        realtime_port: int = 0,
        http_port: int = 0,
        api_key: str | None = None,
        namespaces: Sequence[str] = ("default",),
        keepalive_seconds: float = 60.0,
        publish_modes: Mapping[str, Collection[str]] | None = None,
        subscribe_modes: Mapping[str, Collection[str]] | None = None,
        region: str = REGION,
        credentials: Mapping[str, str] | None = None,
        max_connection_seconds: float = MAX_CONNECTION_SECONDS,
    ) -> None:
        self.host = host
        # IAM: what a signed publish must be signed with, as AppSync checks it: a key the
        # functions were given (access key id -> secret), this region, the service `appsync`.
        self.region = region
        self.credentials = dict(credentials or {UNCHECKED_CREDENTIAL: UNCHECKED_CREDENTIAL})
        self.api_key = api_key or f"da2-local{secrets.token_hex(13)}"
        self.namespaces = frozenset(namespaces)
        self.max_connection_seconds = max_connection_seconds
        self._modes = {
            "publish": {ns: frozenset(m) for ns, m in (publish_modes or {}).items()},
            "subscribe": {ns: frozenset(m) for ns, m in (subscribe_modes or {}).items()},
        }
        self._ports = (realtime_port, http_port)
        self._keepalive = keepalive_seconds
        self._clients: set[_Client] = set()
        self._http_tasks: set[asyncio.Task[None]] = set()
        self._closing: set[asyncio.Future[None]] = set()  # connections closed at the cap
        # channel segments -> subscriptions; wildcards under their prefix (without the `*`)
        self._exact: dict[tuple[str, ...], dict[tuple[_Client, str], None]] = {}
        self._below: dict[tuple[str, ...], dict[tuple[_Client, str], None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self.realtime_port = 0
        self.http_port = 0
        self.published = 0  # events accepted, for diagnostics

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Bind both endpoints and serve them from a background thread."""
        self._thread = threading.Thread(target=self._run, name="live-channel", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise self._failure
        if not self._ready.is_set():
            raise RuntimeError("the live channel did not start in 10 s")

    def stop(self) -> None:
        """Close every connection (1001, going away) and both endpoints."""
        loop, self._loop = self._loop, None
        if loop is not None and self._stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def publish(self, channel: str, events: Sequence[str]) -> list[dict[str, Any]]:
        """Publish from another thread, as the HTTP endpoint would; the `successful` list."""
        if self._loop is None:
            raise RuntimeError("the live channel is not running")
        done = asyncio.run_coroutine_threadsafe(
            self._publish_async(channel, events, None), self._loop
        )
        return done.result(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to start() when binding failed
            self._failure = error
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        realtime: Server = await serve(
            self._session,
            self.host,
            self._ports[0],
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            select_subprotocol=_select_subprotocol,
            process_request=self._authorise_handshake,
            compression=None,
            max_size=_MAX_BODY_BYTES,
            ping_interval=20,
            ping_timeout=20,
            server_header=None,
        )
        publisher = await asyncio.start_server(
            self._http_session, SIGNED_ONLY_HOST, self._ports[1], limit=_MAX_HEAD_BYTES
        )
        self.realtime_port = realtime.sockets[0].getsockname()[1]
        self.http_port = publisher.sockets[0].getsockname()[1]
        keepalive = asyncio.create_task(self._send_keepalives())
        self._ready.set()
        await self._stopping.wait()
        keepalive.cancel()
        publisher.close()
        for task in list(self._http_tasks):
            task.cancel()
        await asyncio.gather(*self._http_tasks, return_exceptions=True)
        realtime.close(close_connections=True)
        await realtime.wait_closed()
        await publisher.wait_closed()

    # --- the realtime endpoint ------------------------------------------------------------

    def _authorise_handshake(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        # Anything else is upgraded: AppSync refuses a connection in its protocol (_refusal)
        if urlsplit(request.path).path != REALTIME_PATH:
            return connection.respond(404, "Not found: connect to /event/realtime\n")
        return None

    def _refusal(self, request: Request | None) -> ProtocolError | None:
        """Why AppSync would refuse this connection (its subprotocols), or None."""
        offered = _offered_subprotocols(request.headers) if request is not None else []
        if SUBPROTOCOL not in offered:
            return ProtocolError(
                "BadRequestException",
                f"SubProtocolNotSupported: offer the {SUBPROTOCOL} subprotocol",
            )
        header = next((p for p in offered if p.startswith("header-")), None)
        authorization = _decode_header_subprotocol(header) if header else {}
        if authorization is None:
            return ProtocolError(
                "BadRequestException", "the header subprotocol is not base64url JSON of an object"
            )
        if authorization.get("x-api-key") != self.api_key:
            return ProtocolError("UnauthorizedException", NOT_AUTHORIZED)
        return None

    async def _refuse(self, connection: ServerConnection, refusal: ProtocolError) -> None:
        """Answer the connection's first message with `connection_error`, then close it (one
        that says nothing is closed at the cap, as any connection is)."""
        try:
            await asyncio.wait_for(connection.recv(), self.max_connection_seconds)
            await connection.send(json.dumps(refusal.connection_error()))
        except (ConnectionClosed, TimeoutError):
            pass
        await connection.close(1000)

    async def _session(self, connection: ServerConnection) -> None:
        refusal = self._refusal(connection.request)
        if refusal is not None:
            await self._refuse(connection, refusal)
            return
        client = _Client(connection)
        self._clients.add(client)
        # AppSync's cap on a connection's life: closed as any close is (clients reconnect)
        expiry = asyncio.get_running_loop().call_later(
            self.max_connection_seconds, self._close_at_cap, connection
        )
        try:
            async for raw in connection:
                try:
                    reply = await self._handle(client, raw)
                except ProtocolError as error:  # malformed: say why, then close this one only
                    await connection.send(json.dumps({"type": "error", "errors": error.errors()}))
                    await connection.close(1008, error.error_type)
                    break
                await connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            expiry.cancel()
            self._clients.discard(client)
            for sub_id in list(client.subscriptions):
                self._forget(client, sub_id)

    def _close_at_cap(self, connection: ServerConnection) -> None:
        task = asyncio.ensure_future(connection.close(1000))
        self._closing.add(task)  # (held: the loop keeps only a weak reference to a task)
        task.add_done_callback(self._closing.discard)

    async def _handle(self, client: _Client, raw: str | bytes) -> dict[str, Any]:
        """The answer to one client message; ProtocolError when the message is malformed."""
        if isinstance(raw, bytes):
            raise ProtocolError("BadRequestException", "binary messages are not supported")
        try:
            message = json.loads(raw)
        except ValueError:
            raise ProtocolError("BadRequestException", "the message is not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ProtocolError("BadRequestException", "a message is a JSON object with a type")
        kind = message["type"]
        if kind == "connection_init":
            client.initialised = True
            return {"type": "connection_ack", "connectionTimeoutMs": CONNECTION_TIMEOUT_MS}
        if kind not in ("subscribe", "unsubscribe", "publish"):
            raise ProtocolError("UnsupportedOperation", f"{kind[:60]} is not supported")
        sub_id = message.get("id")
        if not isinstance(sub_id, str) or not 1 <= len(sub_id) <= MAX_ID_LENGTH:
            raise ProtocolError("BadRequestException", f"{kind} needs an id of 1 to 128 characters")
        if kind == "subscribe":
            return self._subscribe(client, sub_id, message)
        if kind == "unsubscribe":
            if sub_id not in client.subscriptions:
                return _failure(
                    "unsubscribe_error", sub_id, "UnknownOperationError", "no such subscription"
                )
            self._forget(client, sub_id)
            return {"type": "unsubscribe_success", "id": sub_id}
        return await self._publish_message(sub_id, message)

    def _subscribe(self, client: _Client, sub_id: str, message: dict[str, Any]) -> dict[str, Any]:
        try:
            self._authorise(message.get("authorization"))
            segments = parse_channel(message.get("channel"), wildcard=True)
            if segments[0] not in self.namespaces:
                raise ProtocolError("UnauthorizedException", f"no namespace {segments[0]!r}")
            self._allow("subscribe", segments[0], API_KEY)
            if sub_id in client.subscriptions:
                raise ProtocolError("BadRequestException", "a subscription with that id exists")
            if len(client.subscriptions) >= MAX_SUBSCRIPTIONS_PER_CONNECTION:
                raise ProtocolError("MaxSubscriptionsReachedError", "too many subscriptions")
        except ProtocolError as error:
            return {"type": "subscribe_error", "id": sub_id, "errors": error.errors()}
        client.subscriptions[sub_id] = segments
        if segments[-1] == "*":
            self._below.setdefault(segments[:-1], {})[client, sub_id] = None
        else:
            self._exact.setdefault(segments, {})[client, sub_id] = None
        return {"type": "subscribe_success", "id": sub_id}

    def _forget(self, client: _Client, sub_id: str) -> None:
        segments = client.subscriptions.pop(sub_id)
        index, key = (
            (self._below, segments[:-1]) if segments[-1] == "*" else (self._exact, segments)
        )
        subscribers = index.get(key)
        if subscribers is not None:
            subscribers.pop((client, sub_id), None)
            if not subscribers:
                del index[key]

    async def _publish_message(self, pub_id: str, message: dict[str, Any]) -> dict[str, Any]:
        try:
            self._authorise(message.get("authorization"))
            successful = await self._publish_async(
                message.get("channel"), message.get("events"), API_KEY
            )
        except ProtocolError as error:
            return {"type": "publish_error", "id": pub_id, "errors": error.errors()}
        return {"type": "publish_success", "id": pub_id, "successful": successful, "failed": []}

    def _authorise(self, authorization: Any) -> None:
        if not isinstance(authorization, dict) or authorization.get("x-api-key") != self.api_key:
            raise ProtocolError("UnauthorizedException", "missing or wrong API key")

    def _allow(self, action: str, namespace: str, mode: str) -> None:
        """Refuse `mode` (API_KEY, AWS_IAM) for `action` (publish, subscribe) where the
        namespace's auth modes do not include it."""
        modes = self._modes[action].get(namespace)
        if modes is not None and mode not in modes:
            raise ProtocolError(
                "UnauthorizedException",
                f"namespace {namespace!r} takes {action} with {', '.join(sorted(modes))} only, "
                f"not {mode}",
            )

    async def _send_keepalives(self) -> None:
        ka = json.dumps({"type": "ka"})
        while True:
            await asyncio.sleep(self._keepalive)
            broadcast([c.connection for c in self._clients if c.initialised], ka)

    # --- publishing and fan-out -----------------------------------------------------------

    async def _publish_async(
        self, channel: Any, events: Any, mode: str | None
    ) -> list[dict[str, Any]]:
        """Fan the events out; `mode` is how the publisher authorised (None: from this process,
        as the service itself)."""
        segments = parse_channel(channel, wildcard=False)
        if segments[0] not in self.namespaces:
            raise ProtocolError("UnauthorizedException", f"no namespace {segments[0]!r}")
        if mode is not None:
            self._allow("publish", segments[0], mode)
        texts = _valid_events(events)
        subscribers = list(self._exact.get(segments, ()))
        for depth in range(1, len(segments)):
            subscribers.extend(self._below.get(segments[:depth], ()))
        for text in texts:
            for client, sub_id in subscribers:
                data = json.dumps({"type": "data", "id": sub_id, "event": text})
                broadcast((client.connection,), data)
        self.published += len(texts)
        return [{"identifier": str(uuid.uuid4()), "index": i} for i in range(len(texts))]

    # --- the HTTP publish endpoint --------------------------------------------------------

    async def _http_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._http_tasks.add(task)
            task.add_done_callback(self._http_tasks.discard)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                status, body, keep_alive = await self._http_request(head, reader)
                payload = json.dumps(body).encode()
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                    "content-type: application/json\r\n"
                    f"content-length: {len(payload)}\r\n"
                    f"connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                if not keep_alive:
                    return
        except ConnectionError:
            return
        except asyncio.CancelledError:
            # Stopping cancels the open keep-alive sessions: ended quietly (asyncio 3.11 logs a
            # traceback for a connection's task that ends cancelled).
            return
        finally:
            writer.close()

    def _signature_refused(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> str | None:
        return signature_refusal(
            method, target, headers, body, self.region, self.credentials, time.time()
        )

    async def _http_request(
        self, head: bytes, reader: asyncio.StreamReader
    ) -> tuple[int, dict[str, Any], bool]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        keep_alive = headers.get("connection", "").lower() != "close"
        length = declared_length(headers.get("content-length", "0"))
        if length is None:
            return 400, _errors("BadRequestException", "bad content-length"), False
        if length > _MAX_BODY_BYTES or "transfer-encoding" in headers:
            return 400, _errors("BadRequestException", "body too large or chunked"), False
        try:
            raw = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return 400, _errors("BadRequestException", "body shorter than announced"), False
        if len(parts) != 3 or urlsplit(parts[1]).path != PUBLISH_PATH:
            return 404, _errors("NotFoundException", "publish with POST /event"), keep_alive
        if parts[0] != "POST":
            return 404, _errors("NotFoundException", "publish with POST /event"), keep_alive
        # IAM: a SigV4-signed request is taken as the role that signed it, once its signature
        # holds (the credentials the functions were given, the region, the service, the body):
        # a signer that gets any of them wrong fails here as it would on AWS.
        signed = headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 ")
        if signed and (refused := self._signature_refused(parts[0], parts[1], headers, raw)):
            return 401, _errors("UnauthorizedException", refused), keep_alive
        if headers.get("x-api-key") != self.api_key and not signed:
            return 401, _errors("UnauthorizedException", "missing or wrong API key"), keep_alive
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ProtocolError("BadRequestException", "the body is a JSON object")
            successful = await self._publish_async(
                body.get("channel"), body.get("events"), AWS_IAM if signed else API_KEY
            )
        except ValueError:
            return 400, _errors("BadRequestException", "the body is not JSON"), keep_alive
        except ProtocolError as error:
            status = 401 if error.error_type == "UnauthorizedException" else 400
            return status, {"errors": error.errors()}, keep_alive
        return 200, {"failed": [], "successful": successful}, keep_alive


_SIGV4: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
SIGNATURE_SKEW_SECONDS: Final = 15 * 60  # AWS refuses a request signed further off


def signature_refusal(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    credentials: Mapping[str, str],
    now: float,
) -> str | None:
    """Why AWS would refuse this SigV4-signed request to AppSync (`headers` lower-cased, as
    received), or None when its signature holds: recomputed with botocore's signer, not the
    caller's, over the headers it says it signed, with the secret of its access key."""
    from datetime import UTC, datetime

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    found = _SIGV4.fullmatch(headers.get("authorization", ""))
    if found is None:
        return "the Authorization header is not a SigV4 signature"
    if found["service"] != "appsync" or found["region"] != region:
        return f"signed for {found['service']} in {found['region']}, not appsync in {region}"
    secret = credentials.get(found["key"])
    if secret is None:
        return "the access key is not one this API knows"
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "no X-Amz-Date to sign with"
    if stamp[:8] != found["day"] or abs(now - signed_at) > SIGNATURE_SKEW_SECONDS:
        return "the signature's date is not the request's, or too far from now"
    names = found["signed"].split(";")
    if "host" not in names or any(name not in headers for name in names):
        return "a header it says it signed is missing (Host must be signed)"
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{target}",
        data=body,
        headers={name: headers[name] for name in names},
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(
        Credentials(found["key"], secret, headers.get("x-amz-security-token")),
        found["service"],
        found["region"],
    )
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not secrets.compare_digest(expected, found["signature"]):
        return "the signature does not match the request (its body, headers or secret)"
    return None


def _valid_events(events: Any) -> list[str]:
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_PUBLISH:
        raise ProtocolError("BadRequestException", "events: a list of 1 to 5 JSON texts")
    for event in events:
        if not isinstance(event, str) or len(event.encode()) > MAX_EVENT_BYTES:
            raise ProtocolError(
                "BadRequestException", "each event is a JSON text of 240 KB at most"
            )
        try:
            json.loads(event)
        except ValueError:
            raise ProtocolError("BadRequestException", "each event must be valid JSON") from None
    return list(events)


def _errors(error_type: str, message: str) -> dict[str, Any]:
    return {"errors": [{"errorType": error_type, "message": message}]}


def _failure(kind: str, op_id: str, error_type: str, message: str) -> dict[str, Any]:
    return {"type": kind, "id": op_id, "errors": [{"errorType": error_type, "message": message}]}


def _offered_subprotocols(headers: Headers) -> list[str]:
    return [
        p.strip()
        for value in headers.get_all("Sec-WebSocket-Protocol")
        for p in value.split(",")
        if p.strip()
    ]


def _select_subprotocol(connection: ServerConnection, offered: Sequence[str]) -> Any:
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def _decode_header_subprotocol(value: str) -> dict[str, Any] | None:
    """The authorization a client put in its `header-<base64url JSON>` subprotocol."""
    encoded = value.removeprefix("header-")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def header_subprotocol(authorization: dict[str, str]) -> str:
    """The `header-…` subprotocol that carries an authorization (what clients send)."""
    encoded = base64.urlsafe_b64encode(json.dumps(authorization).encode()).decode()
    return "header-" + encoded.rstrip("=")


# --- as a process of its own --------------------------------------------------------------------

API_KEY_ENV: Final = "LIVE_CHANNEL_API_KEY"


class LiveChannelProcess(Endpoints):
    """The emulation in a child process (`python -m …live_channel`), as AppSync is a service of
    its own: its fan-out then shares no interpreter lock with whoever started it. It ends when
    stopped, or when its parent goes away (its stdin closes)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        realtime_port: int = 0,
        http_port: int = 0,
        api_key: str | None = None,
        namespaces: Sequence[str] = ("default",),
        python: str = sys.executable,
        publish_modes: Mapping[str, Collection[str]] | None = None,
        subscribe_modes: Mapping[str, Collection[str]] | None = None,
        region: str = REGION,
        credentials: Mapping[str, str] | None = None,
        max_connection_seconds: float = MAX_CONNECTION_SECONDS,
    ) -> None:
        self.host = host
        # IAM: what a signed publish must be signed with, as AppSync checks it: a key the
        # functions were given (access key id -> secret), this region, the service `appsync`.
        self.region = region
        self.credentials = dict(credentials or {UNCHECKED_CREDENTIAL: UNCHECKED_CREDENTIAL})
        self.api_key = api_key or f"da2-local{secrets.token_hex(13)}"
        self.max_connection_seconds = max_connection_seconds
        command = [python, "-m", __name__, "--host", host]
        command += ["--max-connection-seconds", repr(max_connection_seconds)]
        command += ["--realtime-port", str(realtime_port), "--http-port", str(http_port)]
        for namespace in namespaces:
            command += ["--namespace", namespace]
        for flag, modes in (
            ("--publish-auth", publish_modes),
            ("--subscribe-auth", subscribe_modes),
        ):
            for namespace, types in (modes or {}).items():
                command += [flag, f"{namespace}={','.join(sorted(types))}"]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, API_KEY_ENV: self.api_key},
            cwd=Path(__file__).resolve().parents[2],  # the folder sam_emulator is in
        )
        assert self._process.stdout is not None
        # One JSON line: the ports once both are bound, or why they could not be (the caller
        # decides whether that is an error worth showing: a taken default port is not).
        ready = self._process.stdout.readline()
        ports = json.loads(ready) if ready else {}
        if "realtimePort" not in ports:
            self._process.wait(timeout=10)
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
            reason = ports.get("error") or f"exit {self._process.returncode}"
            raise OSError(f"the live channel did not start: {reason}")
        self.realtime_port, self.http_port = ports["realtimePort"], ports["httpPort"]

    def stop(self) -> None:
        """Stop the child (closing its stdin), killing it if it does not go."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


# --- as an event source of the emulator -----------------------------------------------------------

_running: list[LiveEventApi] = []  # the Event APIs of this process's emulator, for client_config


class LiveEventApi:
    """One Event API of the template, emulated in a process of its own (an event source)."""

    def __init__(self, api: EventApi, process: LiveChannelProcess) -> None:
        self.api = api
        self.process = process

    def function_environment(self, function_id: str) -> dict[str, str]:
        """The local values of the function's variables that name this API's endpoints."""
        # The functions publish on this machine, where the publish endpoint listens.
        publish_host = f"{SIGNED_ONLY_HOST}:{self.process.http_port}"
        endpoints = {self.api.logical_id: (publish_host, self._realtime_host)}
        values = {
            v.name: local_value(v.value, endpoints)
            for v in self.api.variables
            if v.function_id == function_id
        }
        return {name: value for name, value in values.items() if value is not None}

    @property
    def _realtime_host(self) -> str:
        return f"{self.process.host}:{self.process.realtime_port}"

    def start(self, services: Services) -> None:
        """Serving since `bind`: nothing more to start."""

    def stop(self) -> None:
        """Close every connection and end the process."""
        if self in _running:
            _running.remove(self)
        self.process.stop()

    def join(self, timeout: float) -> None:
        """Stopped in `stop`."""

    def summary(self) -> list[str]:
        """Where clients connect and publishers post."""
        return [
            f"events    {self.process.realtime_url:<28} -> {self.api.logical_id} "
            f"(AppSync Events; namespaces {', '.join(self.api.namespaces)}; publish "
            f"{self.process.publish_url})"
        ]


def client_config(reached_as: str | None = None) -> dict[str, str] | None:
    """What a browser needs to subscribe to the (first) emulated Event API: `realtimeUrl`,
    `host` and `apiKey` (named by `reached_as` when it listens on every interface); None when
    the emulator runs none."""
    return _running[0].process.client_config(reached_as) if _running else None


DEFAULT_REALTIME_PORT: Final = 3004
MAX_CONNECTION_ENV: Final = "SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS"


def max_connection_seconds(environ: Mapping[str, str]) -> float:
    """How long a connection may last: SAM_EMULATOR_EVENTS_MAX_CONNECTION_SECONDS when set (a
    number of seconds above 0), else AppSync's day; ValueError naming the variable otherwise."""
    value = environ.get(MAX_CONNECTION_ENV, "").strip()
    if not value:
        return MAX_CONNECTION_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{MAX_CONNECTION_ENV}={value[:40]!r}: give a number of seconds above 0")
    return seconds


def bind(template: Template, options: Options, invoke: Invoker) -> Sequence[EventSource]:
    """A process per Event API of the template; the first listens on `options.live_port` (by
    default 3004, or any free port when 3004 is taken: pages learn it from their configuration).
    Its API key is SAM_EMULATOR_EVENTS_API_KEY when set, else a new one; its connections last
    max_connection_seconds."""
    sources: list[EventSource] = []
    for index, api in enumerate(template.event_apis):
        wanted = options.live_port if index == 0 else 0
        port = DEFAULT_REALTIME_PORT if wanted is None else wanted
        key = options.environ.get("SAM_EMULATOR_EVENTS_API_KEY") or None
        settings: dict[str, Any] = {
            "namespaces": api.namespaces,
            "publish_modes": api.publish_modes,
            "subscribe_modes": api.subscribe_modes,
            "max_connection_seconds": max_connection_seconds(options.environ),
        }
        try:
            try:
                process = LiveChannelProcess(options.host, port, api_key=key, **settings)
            except OSError:
                if wanted is not None:
                    raise
                port = 0
                process = LiveChannelProcess(options.host, port, api_key=key, **settings)
        except OSError as error:
            raise OSError(
                f"{api.logical_id} (AppSync Events) cannot listen on {options.host}:{port}: {error}"
            ) from error
        source = LiveEventApi(api, process)
        _running.append(source)
        sources.append(source)
    return sources


def _auth_modes(values: Sequence[str]) -> dict[str, list[str]]:
    """`NAMESPACE=TYPE[,TYPE]` arguments as namespace -> auth types."""
    modes: dict[str, list[str]] = {}
    for value in values:
        namespace, _, types = value.partition("=")
        modes[namespace] = [t for t in types.split(",") if t]
    return modes


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stdin closes or SIGTERM/SIGINT; print the bound ports as one JSON line (or,
    when they cannot be bound, `{"error": …}` and exit 1)."""
    parser = argparse.ArgumentParser(description="A local AWS AppSync Events API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--realtime-port", type=int, default=0)
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--namespace", action="append", default=[])
    parser.add_argument(
        "--max-connection-seconds",
        type=float,
        default=MAX_CONNECTION_SECONDS,
        help="close a connection once it has lasted this long (AppSync: a day)",
    )
    for action in ("publish", "subscribe"):
        parser.add_argument(
            f"--{action}-auth",
            action="append",
            default=[],
            metavar="NAMESPACE=TYPE[,TYPE]",
            help=f"the auth types that may {action} in a namespace (default: any)",
        )
    args = parser.parse_args(argv)
    emulator = LiveChannelEmulator(
        args.host,
        args.realtime_port,
        args.http_port,
        api_key=os.environ.get(API_KEY_ENV) or None,
        namespaces=args.namespace or ["default"],
        publish_modes=_auth_modes(args.publish_auth),
        subscribe_modes=_auth_modes(args.subscribe_auth),
        max_connection_seconds=args.max_connection_seconds,
    )
    try:
        emulator.start()
    except OSError as error:  # the parent says where; a port in use needs no traceback
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    print(json.dumps({"realtimePort": emulator.realtime_port, "httpPort": emulator.http_port}))
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def until_parent_goes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_parent_goes, daemon=True).start()
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
