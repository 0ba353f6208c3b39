"""talkrate's live channel in the local runtime: the AppSync Events emulation with the talkrate
namespace, what the functions are told of it, and what pages are told (/app/config.json)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from talkrate_local.live_channel import LiveChannelProcess

NAMESPACE = "talkrate"
API_KEY_VARIABLE = "TALKRATE_LOCAL_LIVE_API_KEY"


def start_live_channel(
    host: str, realtime_port: int, environ: Mapping[str, str] = os.environ
) -> LiveChannelProcess:
    """The local Event API, started in a process of its own (its fan-out then competes with no
    request of the gateway for an interpreter lock): WebSocket on `realtime_port` (0: any), HTTP
    publish on a free port; its API key from TALKRATE_LOCAL_LIVE_API_KEY, else a new one."""
    return LiveChannelProcess(
        host=host,
        realtime_port=realtime_port,
        api_key=environ.get(API_KEY_VARIABLE) or None,
        namespaces=[NAMESPACE],
    )


def function_environment(emulator: LiveChannelProcess | None) -> dict[str, str]:
    """What the projector needs to publish to the local live channel."""
    if emulator is None:
        return {}
    return {"LIVE_PUBLISH_URL": emulator.publish_url, "LIVE_API_KEY": emulator.api_key}


def live_config(emulator: LiveChannelProcess | None) -> dict[str, Any] | None:
    """The `live` section of /app/config.json: None (pages poll) when there is no live channel."""
    return emulator.client_config() if emulator is not None else None
