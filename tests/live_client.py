"""A test's subscriber to the live channel, speaking the AppSync Events protocol."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from typing import Any

from websockets.sync.client import ClientConnection, connect

from talkrate_local.live_channel import SUBPROTOCOL, header_subprotocol


class Subscriber:
    """One WebSocket connection, initialised, with helpers to subscribe and read messages."""

    def __init__(self, realtime_url: str, host: str, api_key: str) -> None:
        self.authorization = {"host": host, "x-api-key": api_key}
        self._stack = ExitStack()
        self.connection: ClientConnection = self._stack.enter_context(
            connect(
                realtime_url,
                subprotocols=[SUBPROTOCOL, header_subprotocol(self.authorization)],  # type: ignore[list-item]
                proxy=None,
                open_timeout=5,
            )
        )
        self.send({"type": "connection_init"})
        ack = self.receive()
        assert ack["type"] == "connection_ack", ack
        self.connection_timeout_ms = ack["connectionTimeoutMs"]

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def receive(self, timeout: float = 5, skip_keepalives: bool = True) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = json.loads(self.connection.recv(timeout=timeout))
            if not (skip_keepalives and message["type"] == "ka"):
                return message

    def subscribe(self, channel: str, api_key: str | None = None) -> tuple[str, dict[str, Any]]:
        """Subscribe; the subscription id and the answer."""
        sub_id = str(uuid.uuid4())
        authorization = dict(self.authorization)
        if api_key is not None:
            authorization["x-api-key"] = api_key
        self.send(
            {"type": "subscribe", "id": sub_id, "channel": channel, "authorization": authorization}
        )
        return sub_id, self.receive()

    def events(self, count: int, timeout: float = 5) -> list[tuple[str, Any]]:
        """The next `count` data messages as (subscription id, decoded event)."""
        received = []
        while len(received) < count:
            message = self.receive(timeout)
            assert message["type"] == "data", message
            received.append((message["id"], json.loads(message["event"])))
        return received

    def close(self) -> None:
        self._stack.close()
