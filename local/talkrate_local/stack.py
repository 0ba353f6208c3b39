"""talkrate's dev stack, plugged into the emulator (sam_emulator.plugins.DevStack): PostgreSQL,
Redis and Kafka configured, found or embedded; the catalog database prepared; the projector's
offsets forgotten when the broker's storage is new."""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import psycopg2
from kafka.errors import KafkaError
from redis import RedisError

from sam_emulator import stopwatch
from sam_emulator.console import console
from sam_emulator.events.kafka import ensure_topics, unconsumed
from sam_emulator.lambda_.reload import package_dir
from sam_emulator.plugins import BrokerGenerations, Services
from sam_emulator.template import KafkaMapping, Template
from talkrate.adapters.kafka_stream import checked_client_options
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.config import settings_from
from talkrate.connection_strings import redacted
from talkrate.errors import BackendUnavailable, TalkrateError
from talkrate.locations import kafka_location, postgres_location, redis_location
from talkrate.projected import retired_topic
from talkrate.rebuild import rebuild_if_lost
from talkrate_local import database
from talkrate_local.backends import BACKENDS, Backends, Choice, choose
from talkrate_local.data_lock import DataDirInUse, DataDirLock
from talkrate_local.dev_secrets import dev_secrets
from talkrate_local.embedded import EmbeddedPostgres, KeptBroker
from talkrate_local.kept_drain import drain_kept_broker
from talkrate_local.live import live_config
from talkrate_local.watchdog import Watchdog
from talkrate_local.web_app import SECURITY_HEADERS, event_time_zone, page_config, web_app_site
from talkrate_local.web_assets import SOURCE_VARIABLE

DATA_DIR_NAME: Final = ".local"
# A stop's budget when the emulator gives none. The embedded servers stop side by side with all
# of it (their own shutdown: PostgreSQL's checkpoint, Redis's append-only file); the broker's lag
# check leaves BROKER_STOP_SECONDS of it for the broker's own stop.
STOP_SECONDS: Final = 4.0
BROKER_STOP_SECONDS: Final = 0.2
# Publishes the outbox (its schedule runs it every minute); run at once when a broker is back.
RELAY_FUNCTION: Final = "RelayFunction"
RELAY_AFTER_RESTART_SECONDS: Final = 15.0
# How long a new broker waits for the mappings to deliver what they hold of the old one.
MAPPINGS_LET_GO_SECONDS: Final = 10.0
RELAY_EVERY_SECONDS: Final = 2.0
RELAY_RUNS_AFTER_RESTART: Final = 50
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
    s3_broker: bool = False
    data_dir: Path | None = None
    web_source: bool = False  # the web app's scripts and style sheets as written, not minified

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalConfig:
        """TALKS_CONNECTION, RATINGS_CONNECTION, STREAMS_CONNECTION; TALKRATE_LOCAL_EMBEDDED=1
        (embedded services even when the default ports answer), TALKRATE_LOCAL_BROKER=memory
        (a broker forgotten at every stop) or s3 (tansu storing into the embedded S3 server),
        TALKRATE_LOCAL_DATA (data folder), TALKRATE_WEB_SOURCE=1 (the web app unminified)."""
        data_dir = environ.get("TALKRATE_LOCAL_DATA")
        return cls(
            talks_connection=environ.get("TALKS_CONNECTION") or None,
            ratings_connection=environ.get("RATINGS_CONNECTION") or None,
            streams_connection=environ.get("STREAMS_CONNECTION") or None,
            streams_settings={k: environ[k] for k in _STREAMS_SETTINGS if environ.get(k)},
            embedded=_flag(environ.get("TALKRATE_LOCAL_EMBEDDED")),
            memory_broker=environ.get("TALKRATE_LOCAL_BROKER", "").lower() == "memory",
            s3_broker=environ.get("TALKRATE_LOCAL_BROKER", "").lower() == "s3",
            data_dir=Path(data_dir) if data_dir else None,
            web_source=_flag(environ.get(SOURCE_VARIABLE)),
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
        choices=("embedded", "memory", "s3"),
        help="the broker started when none is configured or found: tansu in memory, kept until "
        "its records are stored (embedded, the default), forgotten at every stop (memory), or "
        "storing every batch into the embedded S3 server (s3; slow) (TALKRATE_LOCAL_BROKER)",
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
    ) -> None:
        self.config = config
        self.environ = environ
        self.backends: Backends | None = None
        self._mappings: tuple[KafkaMapping, ...] = ()
        self._watchdog: Watchdog | None = None
        self._template: Template | None = None
        self._lambda_endpoint = ""
        self._generations = BrokerGenerations()  # a new one when the watchdog renews it
        # The runtime's own Kafka clients' options, read from STREAMS_CONNECTION and the
        # STREAMS_* settings as the functions read them (`_kafka_clients`).
        self._kafka_options: dict[str, Any] = {}
        self._stopping = threading.Event()  # set by stop: the relay runs after a restart end

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> TalkrateStack:
        """The environment's configuration, with the command line's options over it."""
        config = LocalConfig.from_environ(environ)
        return cls(
            replace(
                config,
                embedded=config.embedded or args.embedded,
                memory_broker=(args.broker == "memory") if args.broker else config.memory_broker,
                s3_broker=(args.broker == "s3") if args.broker else config.s3_broker,
                data_dir=args.data_dir or config.data_dir,
            ),
            environ,
        )

    def claim(self, template: Template) -> None:
        """Choose the backends and take the data folder (and a database another runtime could
        project into) before the emulator binds its ports: a second `make run` beside a
        running one is told that runtime holds the folder (its pid), not that port 3001 is
        taken. `stop` lets them go."""
        self.backends = self._claimed(template)

    def _claimed(self, template: Template) -> Backends:
        config = self.config
        event_time_zone(template.parameters)  # a zone that is none stops the start, said whole
        backends = Backends(
            choose(config.connections(), config.embedded, config.memory_broker),
            config.data_dir or template.directory / DATA_DIR_NAME,
            s3_broker=config.s3_broker,
            topics=tuple(sorted({t for m in template.kafka_mappings for t in m.topics})),
        )
        backends.claim_data_dir()
        return backends

    def start(self, template: Template, lambda_endpoint: str) -> Services:
        """Start the backends, prepare the catalog, and forget offsets of a fresh broker."""
        config = self.config
        backends = self.backends = self.backends or self._claimed(template)
        data_dir = backends.data_dir
        code = template.parameters.get("VoterCode")
        # The folder claimed first: a runtime refused it writes no secrets there.
        try:
            secrets = dev_secrets(data_dir, self.environ, code if isinstance(code, str) else "")
        except BaseException:
            backends.stop()
            raise
        self._mappings = template.kafka_mappings
        self._template, self._lambda_endpoint = template, lambda_endpoint
        for choice in backends.choices.values():
            kept = (
                choice.name == "streams"
                and not config.s3_broker
                and KeptBroker.left_running(data_dir / "kafka")
            )
            console(f"[runtime] {choice.name:<8} {_origin_line(choice, kept)}")
        started = time.perf_counter()
        backends.start()
        if backends.services or backends.memory_broker:
            console(f"[runtime] backends ready in {time.perf_counter() - started:.1f} s")
        self._prepare_database(backends.talks)
        try:
            self._drain_a_kept_broker(backends, data_dir)
        except BaseException:
            backends.stop()
            raise
        if backends.broker_is_new:
            self._forget_positions_of_fresh_topics(template, backends.talks, backends.ratings)
        self._build_read_model_if_missing(backends.talks, backends.ratings)
        _warn_of_eviction(backends.ratings)
        self._write_database_out(backends)
        if backends.services or backends.memory_broker:
            self._watchdog = Watchdog(backends, restarted=self._restarted, renewing=self._renewing)
            self._watchdog.start()
        environment = {
            "TALKS_CONNECTION": backends.talks,
            "RATINGS_CONNECTION": backends.ratings,
            "STREAMS_CONNECTION": backends.streams,
            "LAMBDA_ENDPOINT_URL": lambda_endpoint,
            **config.streams_settings,
            **secrets.environment,
        }
        self._kafka_options, unusable = _kafka_clients(environment)
        shared = package_dir("talkrate")
        return Services(
            environment=environment,
            kafka_bootstrap=backends.streams,
            kafka_options=self._kafka_options,
            kafka_unusable=unusable,
            kafka_generations=self._generations,
            watch=(shared,) if shared else (),
            summary=(
                *(
                    f"{choice.name:<8} {_location(choice):<48} {_origin_line(choice)}"
                    for choice in backends.choices.values()
                ),
            ),
            # On a line of its own: the admin routes' bearer token (ADMIN_TOKEN sets another).
            announcements=(
                *(
                    (f"organiser token: {secrets.organiser_token}",)
                    if secrets.organiser_token
                    else ()
                ),
                *_for_operations(backends),
            ),
            response_headers=SECURITY_HEADERS,  # CloudFront's, on AWS, before every answer
            sites=(
                web_app_site(
                    template.directory,
                    lambda reached_as: self._page_config(template, reached_as),
                    minified=not self.config.web_source,
                ),
            ),
        )

    def _page_config(self, template: Template, reached_as: str | None) -> dict[str, Any]:
        """/app/config.json: the live channel's endpoint (named by `reached_as`, the host the
        page was asked of, when it listens on every interface), the policy the API
        enforces (the template's VotingPolicy, with the local default), and the venue's time
        zone (EventTimeZone, checked at start)."""
        policy = template.parameters.get("VotingPolicy")
        return page_config(
            live_config(reached_as),
            policy if isinstance(policy, str) else "open",
            event_time_zone(template.parameters),
        )

    def stop(self, within: float = STOP_SECONDS) -> None:
        """Stop the embedded backends (the broker before its storage) within `within` seconds.
        The in-memory broker stays up when records on it are not stored yet, or when that
        cannot be told in time: the next start takes them over."""
        deadline = time.monotonic() + within
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.stop()  # the services stop on purpose now
            self._watchdog = None
        stopwatch.step("watchdog stopped")
        backends = self.backends
        if backends is None:
            return
        kept = backends.kept_broker

        def keep_broker() -> bool:
            # Asked beside PostgreSQL's and Redis's own shutdown (the functions have ended):
            # the lag check may take all the time the services do.
            if kept is None:
                return False
            if not kept.running:
                # Nothing to keep, and no offsets to ask it for (which would say "keeps running").
                console(
                    f"[runtime] the broker had stopped on its own (its log: {kept.log_path}): "
                    "records on it that the projector had not stored are gone"
                )
                return False
            lag_within = deadline - time.monotonic() - BROKER_STOP_SECONDS
            unstored = self._unstored_records(backends, lag_within)
            stopwatch.step(f"lag checked ({lag_within:.2f} s given): {unstored} unstored")
            if unstored is None:
                console(
                    "[runtime] the broker keeps running: whether records on it are not stored "
                    "yet could not be told in time; the next start takes it over"
                )
            elif unstored:
                console(
                    f"[runtime] the broker keeps running: {unstored} record(s) on it are not "
                    "stored yet; the next start takes it over"
                )
            return unstored is None or unstored > 0

        backends.stop(keep_broker=keep_broker, within=max(0.0, deadline - time.monotonic()))

    def abandon(self) -> None:
        """A second Ctrl-C: every embedded server is asked to stop and not waited for; the
        in-memory broker is left running (it may hold records not stored yet) for the next
        start to take over."""
        if self._watchdog is not None:
            self._watchdog.abandon()
        if self.backends is not None:
            self.backends.abandon()

    def _unstored_records(self, backends: Backends, within: float) -> int | None:
        """Records on the mappings' topics past their groups' committed offsets (None when that
        cannot be told within `within` seconds: the records are kept; it said "1 record"). The Kafka client's own
        timeouts overran `within` by up to 0.7 s under load: it is asked on a thread of its
        own, and not waited for past `within`."""
        deadline = time.monotonic() + within
        answer: list[int] = []

        def ask() -> None:
            try:
                answer.append(
                    sum(
                        unconsumed(
                            backends.streams,
                            mapping.consumer_group_id,
                            mapping.topics,
                            within=max(0.1, deadline - time.monotonic()),
                            **self._kafka_options,
                        )
                        for mapping in self._mappings
                    )
                )
            except (KafkaError, OSError) as error:  # cannot tell: keep the records
                console(f"[runtime] could not read the projector's offsets: {error!r}")

        asking = threading.Thread(target=ask, name="lag-check", daemon=True)
        asking.start()
        asking.join(max(0.1, deadline - time.monotonic()))
        if not answer:
            if asking.is_alive():
                console(
                    f"[runtime] the projector's offsets could not be read within {within:.1f} s"
                )
            return None
        return answer[0]

    def _drain_a_kept_broker(self, backends: Backends, data_dir: Path) -> None:
        """On another kind of broker than the default: store what the in-memory broker a killed
        run kept for this folder holds, then stop it (before a new broker's offsets are
        forgotten: the drained records' positions are the old broker's). The folder's claim is
        needed: without one, that broker may be a running runtime's own."""
        if backends.kept_broker is not None or not KeptBroker.left_running(data_dir / "kafka"):
            return  # the default broker takes it over; or there is none
        claim = None
        if backends.lock is None:
            claim = DataDirLock(data_dir)
            try:
                claim.acquire()
            except DataDirInUse:
                return  # another runtime's broker: not left behind
        try:
            self._build_read_model_if_missing(backends.talks, backends.ratings)
            said = drain_kept_broker(
                data_dir / "kafka", self._mappings, backends.talks, backends.ratings
            )
        finally:
            if claim is not None:
                claim.release()
        if said:
            console(said)

    @staticmethod
    def _prepare_database(talks: str) -> None:
        try:
            database.prepare(talks)
        except Exception as error:  # the API reports a down backend on GET /; keep running
            console(
                f"[runtime] could not prepare {postgres_location(talks)}: "
                f"{type(error).__name__}: {redacted(str(error), talks).strip()}"
            )

    @staticmethod
    def _write_database_out(backends: Backends) -> None:
        # Once the catalog is prepared: an embedded PostgreSQL checkpoints now, at the start,
        # rather than in Ctrl-C's stop (a new cluster's catalog is most of what it would write).
        talks = backends.services.get("talks")
        if not isinstance(talks, EmbeddedPostgres):
            return
        try:
            talks.checkpoint()
        except psycopg2.Error as error:  # its shutdown writes it out all the same
            console(f"[runtime] could not checkpoint PostgreSQL: {error}")

    @staticmethod
    def _forget_positions_of_fresh_topics(template: Template, talks: str, ratings: str) -> None:
        topics = sorted({topic for mapping in template.kafka_mappings for topic in mapping.topics})
        retire_positions_of_fresh_topics(topics, talks, ratings)

    def _renewing(self, name: str) -> None:
        """Before the watchdog starts a new, empty broker in place of one that stopped: the
        mappings deliver the records they hold and let go of the old broker, then its offsets
        are forgotten, as at a start with a new broker (a batch of the old broker's applied
        after that would mark the new one's first offsets as applied)."""
        if name != "streams" or self.backends is None or self._template is None:
            return
        if not self._generations.replace(MAPPINGS_LET_GO_SECONDS):
            console("[runtime] a Kafka mapping is still delivering the old broker's records")
        backends = self.backends
        self._forget_positions_of_fresh_topics(self._template, backends.talks, backends.ratings)

    def _restarted(self, name: str) -> None:
        """After the watchdog started an embedded service again: a Redis that came back
        without its data gets its read model at once, not with the next rating; a broker gets
        the mappings' topics and the outbox's ratings at once, not at the relay's next run."""
        if self.backends is None:
            return
        if name == "ratings":
            self._build_read_model_if_missing(self.backends.talks, self.backends.ratings)
        if name == "streams":
            topics = [topic for mapping in self._mappings for topic in mapping.topics]
            try:
                ensure_topics(
                    self.backends.streams, topics, timeout_ms=5_000, **self._kafka_options
                )
            except (KafkaError, OSError) as error:  # the mapping's consumer retries them
                console(f"[runtime] could not create the topics on the new broker: {error!r}")
            self._relay_now()

    def _relay_now(self) -> None:
        """Run the relay until the outbox is empty (on a thread: the watchdog goes on), as its
        schedule would over the next minutes: once at once, again straight away while a run
        leaves entries behind, and every few seconds for as long as the API may still be
        keeping ratings in the outbox (its pause after a failed publish, 10 s at most)."""
        template = self._template
        if template is None or RELAY_FUNCTION not in template.functions:
            return
        url = f"{self._lambda_endpoint}/2015-03-31/functions/{RELAY_FUNCTION}/invocations"

        def relay_once() -> tuple[int, int]:
            request = urllib.request.Request(url, data=b"{}", method="POST")  # noqa: S310 - ours
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - our own endpoint  # nosec B310
                result = json.loads(answer.read() or b"{}")
            if not isinstance(result, dict):
                return 0, 0
            return int(result.get("published") or 0), int(result.get("pending") or 0)

        def relay() -> None:
            until = time.monotonic() + RELAY_AFTER_RESTART_SECONDS
            for _ in range(RELAY_RUNS_AFTER_RESTART):
                if self._stopping.is_set():
                    return
                try:
                    published, pending = relay_once()
                except (OSError, ValueError) as error:  # its schedule runs it within a minute
                    if not self._stopping.is_set():
                        console(f"[runtime] could not run the relay now: {error!r}")
                    return
                if pending and published:
                    continue  # more than one run's worth
                if time.monotonic() >= until or self._stopping.wait(RELAY_EVERY_SECONDS):
                    return

        threading.Thread(target=relay, name="relay-now", daemon=True).start()

    @staticmethod
    def _build_read_model_if_missing(talks: str, ratings: str) -> None:
        # A new Redis, or one that lost its data, is built from the event store now rather than
        # by the projector's next batch: GET / says "up" and pages show the counts from the start.
        try:
            with database.event_store(talks) as store:
                built = rebuild_if_lost(store, RedisReadModel(ratings), progress=lambda _: None)
        except (TalkrateError, RedisError, psycopg2.Error) as error:
            console(f"[runtime] could not build the read model: {error}")
            return
        if built is not None:
            console(
                f"[runtime] read model built from the event store: {built.events} events, "
                f"{len(built.histograms)} rated talks"
            )


def _warn_of_eviction(ratings: str) -> None:
    """Said at the start when the read model's Redis may evict counts (an allkeys-*
    maxmemory-policy: a shared development Redis set up as a cache); not refused, the
    developer's Redis being theirs, and GET / says "evicting" meanwhile."""
    try:
        memory = RedisReadModel(ratings).memory()
    except TalkrateError:
        return  # (unreachable: the runtime says so where it needs Redis)
    if not memory.policy_is_safe:
        console(
            f"[runtime] warning: the read model's Redis has maxmemory-policy {memory.policy}, "
            "which may evict counts without a word; set noeviction "
            "(redis-cli config set maxmemory-policy noeviction), then `talkrate ops check`"
        )


def _kafka_clients(environment: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """The runtime's own Kafka clients' options, from STREAMS_CONNECTION and the STREAMS_*
    settings of the functions' `environment`, read by the reader the API's producer uses
    (`checked_client_options`): its bootstrap servers, security settings. Or, when no client may
    be built from the setting (a user and password in it), none, and why: its words name the
    setting, never a piece of it."""
    try:
        return checked_client_options(settings_from(environment)), ""
    except BackendUnavailable as error:
        return {}, str(error)


def _for_operations(backends: Backends) -> tuple[str, ...]:
    """The line that points `talkrate ops` (in another terminal) at the backends the runtime
    started or found: their ports change from run to run, and ops defaults to the usual ones.
    Configured backends are left out: they come from the person's own environment, and their
    connections may hold a password."""
    exports = [
        f"{backend.variable}={choice.connection}"
        for backend in BACKENDS
        if (choice := backends.choices.get(backend.name))
        and choice.origin != "configured"
        and choice.connection
    ]
    if not exports or all(c.origin == "found" for c in backends.choices.values()):
        return ()  # the usual ports: ops finds them by itself
    return ("for `talkrate ops` in another terminal: export " + " ".join(exports),)


def _location(choice: Choice) -> str:
    """Where a backend is, built from its parsed parts (never its credentials)."""
    where = {"talks": postgres_location, "ratings": redis_location, "streams": kafka_location}
    return where[choice.name](choice.connection) if choice.name in where else choice.name


def _origin_line(choice: Choice, kept: bool = False) -> str:
    """How the dev stack came by a backend, in a few words (`kept`: an embedded broker to start
    is the one a killed run left running, which the start takes over)."""
    if choice.origin == "configured":
        return f"configured ({choice.reason})"
    if choice.origin == "found":
        return f"found ({choice.reason})"
    if choice.origin == "memory":
        return "tansu in memory, started by the runtime"
    if choice.reason:
        return f"embedded ({choice.reason})"
    if kept:
        return "embedded: taking over the broker a killed run left running"
    return "embedded: starting it"


def retire_positions_of_fresh_topics(topics: list[str], talks: str, ratings: str) -> None:
    """After a new, empty broker took the old one's place: file the event store's positions of
    `topics` as retired and the read model's applied offsets with them.

    The broker's storage is new, so its topics start again at offset 0; offsets the read model
    recorded for an earlier broker would make the projector skip new records, and the event
    store's positions would bring them back at the next rebuild (its events still count, under
    the retired topic's name). A broker that kept its data (configured, found, or embedded with
    its folder) keeps its offsets."""
    names = {topic: retired_topic(topic) for topic in topics}
    try:
        with database.event_store(talks) as store:
            retired = sum(store.retire_topic(topic, names[topic]) for topic in topics)
    except (BackendUnavailable, psycopg2.Error) as error:  # GET / reports it; keep running
        console(
            "[runtime] could not retire the old broker's positions: " + redacted(str(error), talks)
        )
        retired = 0
    try:
        read_model = RedisReadModel(ratings)
        # Kept under the retired name: the ratings they applied still count, and say so.
        forgotten = sum(read_model.forget_offsets(topic, names[topic]) for topic in topics)
    except (RedisError, BackendUnavailable) as error:
        console(f"[runtime] could not reset the projector's offsets: {error}")
        return
    if forgotten or retired:
        console(
            f"[runtime] new broker: {forgotten} applied offsets of {topics} and {retired} "
            "stored positions filed as retired"
        )
