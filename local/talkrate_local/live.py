"""The live channel as talkrate's pages are told of it: the `live` section of /app/config.json."""

from __future__ import annotations

from typing import Any

from sam_emulator.events import live


def live_config(reached_as: str | None = None) -> dict[str, Any] | None:
    """`{"realtimeUrl", "host", "apiKey"}` of the emulated AppSync Event API (the template's
    LiveApi), or None when the emulator runs none: pages then poll. `reached_as` is the host
    name the page was asked of, which names the endpoints when they listen on every interface."""
    return live.client_config(reached_as)
