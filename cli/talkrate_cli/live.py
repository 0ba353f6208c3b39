"""A subscriber of the live channel (the AppSync Events real-time WebSocket protocol).

Connects with the subprotocols `aws-appsync-event-ws` and `header-<base64url JSON auth>`, sends
`connection_init`, waits for `connection_ack` (its `connectionTimeoutMs` bounds the silence
between keep-alives), subscribes to channels and hands every `data` event (a JSON string) to a
callback. It reconnects with backoff; the watcher refetches over HTTP after each (re)connect, so
nothing published meanwhile is missed. A connection AppSync refuses (`connection_error`: a key
it does not take, a bad request) is not offered again and again: the app's configuration is read
again at once (a new key is tried at once), else the watch polls and offers it again 5 minutes
later.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SUBPROTOCOL = "aws-appsync-event-ws"
LEADERBOARD_CHANNEL = "/talkrate/leaderboard"


@dataclass(frozen=True)
class LiveEndpoint:
    """Where the live channel is, as the app's configuration names it."""

    realtime_url: str
    host: str
    api_key: str

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> LiveEndpoint | None:
        """From GET /app/config.json's `live` (None: the deployment has no live channel)."""
        live = (config or {}).get("live")
        if not isinstance(live, dict) or not live.get("realtimeUrl"):
            return None
        return cls(str(live["realtimeUrl"]), str(live.get("host", "")), str(live.get("apiKey", "")))

    @property
    def authorization(self) -> dict[str, str]:
        """The API-key authorization AppSync Events expects on connect and subscribe."""
        return {"host": self.host, "x-api-key": self.api_key}

    def subprotocols(self) -> list[str]:
        """The two subprotocols: the protocol's name and the authorization header."""
        header = json.dumps(self.authorization, separators=(",", ":")).encode()
        encoded = base64.urlsafe_b64encode(header).decode().rstrip("=")
        return [SUBPROTOCOL, f"header-{encoded}"]


def catalog_place(message: dict[str, Any]) -> int | None:
    """Where an organiser's change (a `catalog` message) stands among the changes to its talk,
    which two API instances may publish in either order: a document at its `revision`, a
    removal just after the revision of the talk it removed. Of two the lower is the older; a
    talk read over HTTP stands at twice its revision. None for a removal from an API of
    before, which carries no revision."""
    talk = message.get("talk")
    revision = message.get("revision")
    if revision is None and isinstance(talk, dict):
        revision = talk.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        return None
    return 2 * revision + (0 if talk else 1)


FIRST_RETRY_SECONDS = 0.5  # after a session that went live, the next try comes this soon
LAST_RETRY_SECONDS = 15.0  # the longest wait between tries while the channel stays away
REFUSED_RETRY_SECONDS = 300.0  # a connection refused for what it offers: offered again this late
# What AppSync refuses a connection for that offering it again will not change.
_REFUSALS = frozenset({"UnauthorizedException", "BadRequestException"})
# Close codes of a connection ended as AppSync ends one routinely (its maximum duration)
_ENDED = frozenset({1000, 1001})


class Refused(ConnectionError):
    """AppSync refused the connection for what it offered (`connection_error`)."""


class Ended(ConnectionError):
    """The channel ended a connection normally (AppSync does at a connection's maximum age)."""


def _connection_error(errors: Any) -> ConnectionError:
    """What a `connection_error`'s errors mean: Refused when offering the same again would be
    refused again, else a failure worth trying again soon (a throttle, the service's own)."""
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    kind, message = str(first.get("errorType", "")), str(first.get("message", ""))
    reason = f"{kind}: {message}" if kind and message else kind or message or "connection_error"
    return Refused(reason[:160]) if kind in _REFUSALS else ConnectionError(reason[:160])


class LiveSubscriber(threading.Thread):
    """Subscribes to channels in the background; `on_event` gets each event's decoded JSON,
    `on_state` a short description whenever the connection changes ("live", "reconnecting…").

    `endpoint_now`, when given, reads where the channel is again (the app's configuration)
    before each try after a failed one: a deploy or a restarted local runtime gives the channel
    a new API key or address, which a watch that began before it would otherwise offer forever.
    """

    def __init__(
        self,
        endpoint: LiveEndpoint,
        channels: list[str],
        on_event: Callable[[Any], None],
        on_state: Callable[[str], None],
        endpoint_now: Callable[[], LiveEndpoint | None] | None = None,
    ) -> None:
        super().__init__(name="live-subscriber", daemon=True)
        self.endpoint = endpoint
        self.channels = channels
        self.on_event = on_event
        self.on_state = on_state
        self.endpoint_now = endpoint_now
        self._stopping = threading.Event()
        self._went_live = False

    def stop(self) -> None:
        """Ask the thread to finish (it closes its connection within a second)."""
        self._stopping.set()

    def run(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while not self._stopping.is_set():
            self._went_live = False
            wait = None  # the next try's wait, when not the backoff's
            try:
                self._session()
            except Refused as refused:
                # Offering the same again is refused again: a new key is tried at once, else
                # the watch polls and offers it again much later (no loop of refusals).
                if self._read_endpoint_again():
                    continue
                wait = REFUSED_RETRY_SECONDS
                self.on_state(
                    f"polling (the live channel refused this watch: {refused}); "
                    f"again in {wait / 60:g} min"
                )
            except Ended:
                delay = FIRST_RETRY_SECONDS  # routine: connected again as soon as can be
                self.on_state("reconnecting (the live channel ended the connection)")
            except Exception as error:  # any failure: fall back to polling, try again later
                if self._went_live:  # it worked until now: back off from the start again
                    delay = FIRST_RETRY_SECONDS
                reason = str(error) or type(error).__name__
                self.on_state(f"polling (live channel: {reason}); again in {delay:g} s")
            if self._stopping.wait(delay if wait is None else wait):
                return
            delay = min(delay * 2, LAST_RETRY_SECONDS)
            self._read_endpoint_again()

    def _read_endpoint_again(self) -> bool:
        """Read where the channel is again; whether it names another one than was offered."""
        if self.endpoint_now is None:
            return False
        try:
            fresh = self.endpoint_now()
        except Exception:  # the API away too: the next try offers what was known
            return False
        if fresh is None or fresh == self.endpoint:
            return False
        self.endpoint = fresh
        return True

    def _session(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        with connect(
            self.endpoint.realtime_url,
            subprotocols=[Subprotocol(p) for p in self.endpoint.subprotocols()],
            open_timeout=5,
            close_timeout=1,
        ) as socket:
            socket.send(json.dumps({"type": "connection_init"}))
            ack = json.loads(socket.recv(timeout=5))
            if ack.get("type") == "connection_error":
                raise _connection_error(ack.get("errors"))
            if ack.get("type") != "connection_ack":
                raise ConnectionError(f"expected connection_ack, got {ack.get('type')}")
            silence = float(ack.get("connectionTimeoutMs", 300_000)) / 1000
            pending = {}
            for channel in self.channels:
                subscription = str(uuid.uuid4())
                pending[subscription] = channel
                socket.send(
                    json.dumps(
                        {
                            "type": "subscribe",
                            "id": subscription,
                            "channel": channel,
                            "authorization": self.endpoint.authorization,
                        }
                    )
                )
            quiet = 0.0
            while not self._stopping.is_set():
                try:
                    message = json.loads(socket.recv(timeout=1))
                except TimeoutError:
                    quiet += 1
                    if quiet > silence:
                        raise ConnectionError("no keep-alive in time") from None
                    continue
                except ConnectionClosed as closed:
                    code = closed.rcvd.code if closed.rcvd else None
                    if self._went_live and code in _ENDED:
                        raise Ended(f"ended ({code})") from None
                    raise ConnectionError(f"closed ({code or '-'})") from None
                quiet = 0.0
                kind = message.get("type")
                if kind == "subscribe_success":
                    pending.pop(message.get("id"), None)
                    if not pending:
                        self._went_live = True
                        self.on_state("live")
                elif kind == "connection_error":
                    raise _connection_error(message.get("errors"))
                elif kind in ("subscribe_error", "error"):
                    raise ConnectionError(f"{kind}: {json.dumps(message.get('errors'))[:120]}")
                elif kind == "data":
                    event = message.get("event")
                    try:
                        self.on_event(json.loads(event) if isinstance(event, str) else event)
                    except ValueError:
                        continue
