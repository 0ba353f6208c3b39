"""Frames between the runtime and a function process: a 4-byte big-endian length, then JSON.

Both ends use it; it is standard library only because every function process imports it.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any, Final

_HEADER: Final = struct.Struct(">I")
# Lambda's limits are 6 MB each way; leave room for the envelope around the payload.
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024


class ChannelClosed(Exception):
    """The other end went away (the process exited or the socket was closed)."""


def send_frame(channel: socket.socket, message: Any) -> None:
    """Send one JSON message."""
    send_raw(channel, json.dumps(message, separators=(",", ":")).encode())


def send_raw(channel: socket.socket, data: bytes) -> None:
    """Send one message that is already JSON text (saves encoding a large payload twice)."""
    channel.sendall(_HEADER.pack(len(data)) + data)


def receive_frame(channel: socket.socket) -> Any:
    """Receive one JSON message; socket timeouts propagate as TimeoutError."""
    (length,) = _HEADER.unpack(_receive_exactly(channel, _HEADER.size))
    if length > MAX_FRAME_BYTES:
        raise ChannelClosed(f"frame of {length} bytes is over the limit")
    return json.loads(_receive_exactly(channel, length))


def _receive_exactly(channel: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = channel.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
