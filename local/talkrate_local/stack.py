"""talkrate's dev stack, plugged into the emulator (sam_emulator.plugins.DevStack): PostgreSQL,
Redis and Kafka configured, found or embedded; the catalog database prepared; the projector's
offsets forgotten when the broker's storage is new."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from redis import RedisError

from sam_emulator.console import console
from sam_emulator.lambda_.reload import package_dir
from sam_emulator.plugins import Services
from sam_emulator.template import Template
from talkrate.adapters.kafka_stream import client_options
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.config import settings_from
from talkrate.locations import kafka_location, postgres_location, redis_location
from talkrate_local import database
from talkrate_local.backends import Backends, Choice, choose
from talkrate_local.dev_secrets import dev_secrets
from talkrate_local.live import function_environment as live_environment
from talkrate_local.live import start_live_channel
from talkrate_local.live_channel import LiveChannelProcess

DATA_DIR_NAME: Final = ".local"
# Kafka client settings the emulator's consumers and the functions' producers both take from here.
_STREAMS_SETTINGS: Final = (
    "STREAMS_SECURITY_PROTOCOL",
    "STREAMS_SASL_MECHANISM",
    "STREAMS_USERNAME",
    "STREAMS_PASSWORD",
)


@dataclass(frozen=True)
class LocalConfig:
    """Where the backing services are, and what to do when they are not configured (read once
    from the environment; command-line options override)."""

    talks_connection: str | None
    ratings_connection: str | None
    streams_connection: str | None
    streams_settings: Mapping[str, str]
    embedded: bool = False
    memory_broker: bool = False
    data_dir: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalConfig:
        """TALKS_CONNECTION, RATINGS_CONNECTION, STREAMS_CONNECTION; TALKRATE_LOCAL_EMBEDDED=1
        (embedded services even when the default ports answer), TALKRATE_LOCAL_BROKER=memory
        (an in-memory broker instead of the durable one), TALKRATE_LOCAL_DATA (data folder)."""
        data_dir = environ.get("TALKRATE_LOCAL_DATA")
        return cls(
            talks_connection=environ.get("TALKS_CONNECTION") or None,
            ratings_connection=environ.get("RATINGS_CONNECTION") or None,
            streams_connection=environ.get("STREAMS_CONNECTION") or None,
            streams_settings={k: environ[k] for k in _STREAMS_SETTINGS if environ.get(k)},
            embedded=_flag(environ.get("TALKRATE_LOCAL_EMBEDDED")),
            memory_broker=environ.get("TALKRATE_LOCAL_BROKER", "").lower() == "memory",
            data_dir=Path(data_dir) if data_dir else None,
        )

    def connections(self) -> dict[str, str]:
        """The configured connections, by environment variable."""
        return {
            "TALKS_CONNECTION": self.talks_connection or "",
            "RATINGS_CONNECTION": self.ratings_connection or "",
            "STREAMS_CONNECTION": self.streams_connection or "",
        }


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The dev stack's command-line options."""
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="embedded services for every backend not configured, even if a default port answers "
        "(TALKRATE_LOCAL_EMBEDDED=1)",
    )
    parser.add_argument(
        "--broker",
        choices=("embedded", "memory"),
        help="the broker started when none is configured or found: durable (embedded, the "
        "default) or tansu in memory (TALKRATE_LOCAL_BROKER)",
    )
    parser.add_argument(
        "--live-port",
        type=int,
        default=3004,
        help="the live channel's WebSocket port (AppSync Events emulation; 0: any free one)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder of the embedded services' data (TALKRATE_LOCAL_DATA; default: .local "
        "beside the template)",
    )


class TalkrateStack:
    """The backends talkrate's functions need, for one run of the emulator."""

    def __init__(
        self,
        config: LocalConfig,
        environ: Mapping[str, str],
        host: str = "127.0.0.1",
        live_port: int = 3004,
    ) -> None:
        self.config = config
        self.environ = environ
        self.host = host
        self.live_port = live_port
        self.backends: Backends | None = None
        self.live: LiveChannelProcess | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> TalkrateStack:
        """The environment's configuration, with the command line's options over it."""
        config = LocalConfig.from_environ(environ)
        return cls(
            replace(
                config,
                embedded=config.embedded or args.embedded,
                memory_broker=(args.broker == "memory") if args.broker else config.memory_broker,
                data_dir=args.data_dir or config.data_dir,
            ),
            environ,
            args.host,
            args.live_port,
        )

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        """Start the backends, prepare the catalog, and forget offsets of a fresh broker."""
        config = self.config
        data_dir = config.data_dir or template.directory / DATA_DIR_NAME
        secrets = dev_secrets(data_dir, self.environ)
        try:
            self.live = start_live_channel(self.host, self.live_port, self.environ)
        except OSError as error:
            raise OSError(
                f"the live channel cannot listen on {self.host}:{self.live_port}: {error}"
            ) from error
        backends = Backends(
            choose(config.connections(), config.embedded, config.memory_broker), data_dir
        )
        self.backends = backends
        for choice in backends.choices.values():
            console(f"[runtime] {choice.name:<8} {_origin_line(choice)}")
        started = time.perf_counter()
        backends.start()
        if backends.services or backends.memory_broker:
            console(f"[runtime] backends ready in {time.perf_counter() - started:.1f} s")
        self._prepare_database(backends.talks)
        if backends.broker_is_new:
            self._forget_offsets_of_fresh_topics(template, backends.ratings)
        environment = {
            "TALKS_CONNECTION": backends.talks,
            "RATINGS_CONNECTION": backends.ratings,
            "STREAMS_CONNECTION": backends.streams,
            "LAMBDA_ENDPOINT_URL": lambda_endpoint,
            **live_environment(self.live),
            **config.streams_settings,
            **secrets.environment,
        }
        shared = package_dir("talkrate")
        return Services(
            environment=environment,
            kafka_bootstrap=backends.streams,
            kafka_options=client_options(settings_from(environment)),
            watch=(shared,) if shared else (),
            summary=(
                *(
                    f"{choice.name:<8} {_location(choice):<48} {_origin_line(choice)}"
                    for choice in backends.choices.values()
                ),
                f"live     {self.live.realtime_url}  (AppSync Events; publish "
                f"{self.live.publish_url})",
            ),
            # On a line of its own: the admin routes' bearer token (ADMIN_TOKEN sets another).
            announcements=(
                (f"organiser token: {secrets.organiser_token}",) if secrets.organiser_token else ()
            ),
        )

    def stop(self) -> None:
        """Stop the live channel and the embedded backends (the broker before its storage)."""
        if self.live is not None:
            self.live.stop()
        if self.backends is not None:
            self.backends.stop()

    @staticmethod
    def _prepare_database(talks: str) -> None:
        try:
            database.prepare(talks)
        except Exception as error:  # the API reports a down backend on GET /; keep running
            console(
                f"[runtime] could not prepare {postgres_location(talks)}: "
                f"{type(error).__name__}: {str(error).strip()}"
            )

    @staticmethod
    def _forget_offsets_of_fresh_topics(template: Template, ratings: str) -> None:
        # The broker's storage is new, so its topics start again at offset 0; offsets the read
        # model recorded for an earlier broker would make the projector skip new records. A broker
        # that kept its data (configured, found, or embedded with its folder) keeps its offsets.
        topics = {topic for mapping in template.kafka_mappings for topic in mapping.topics}
        try:
            read_model = RedisReadModel(ratings)
            forgotten = sum(read_model.forget_offsets(topic) for topic in sorted(topics))
        except RedisError as error:
            console(f"[runtime] could not reset the projector's offsets: {error}")
            return
        if forgotten:
            console(f"[runtime] new broker: forgot {forgotten} applied offsets of {sorted(topics)}")


def _location(choice: Choice) -> str:
    """Where a backend is, built from its parsed parts (never its credentials)."""
    where = {"talks": postgres_location, "ratings": redis_location, "streams": kafka_location}
    return where[choice.name](choice.connection) if choice.name in where else choice.name


def _origin_line(choice: Choice) -> str:
    """How the dev stack came by a backend, in a few words."""
    if choice.origin == "configured":
        return f"configured ({choice.reason})"
    if choice.origin == "found":
        return f"found ({choice.reason})"
    if choice.origin == "memory":
        return "tansu in memory, started by the runtime"
    if choice.reason:
        return f"embedded ({choice.reason})"
    return "embedded: starting it"
