"""Kafka: publishing RatingSubmitted events (Redpanda, Amazon MSK or any Kafka-API broker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kafka import KafkaProducer
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotEnoughReplicasAfterAppendError,
    RequestTimedOutError,
)

from talkrate.config import Settings
from talkrate.errors import BackendUnavailable, PublishUnconfirmed
from talkrate.events import CORRELATION_HEADER
from talkrate.observability import logger

if TYPE_CHECKING:
    from talkrate.ports import Publishable


# A record handed to the producer whose acknowledgement failed in one of these ways may be on
# the topic: no answer in time (the request may be in flight, or sent when the broker answers
# again), a connection broken under the request, or a leader that wrote it without its replicas.
# Any other error is the broker's refusal: nothing was written.
_UNSETTLED = (
    KafkaTimeoutError,
    KafkaConnectionError,
    RequestTimedOutError,
    NotEnoughReplicasAfterAppendError,
)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection and security options shared by every Kafka client talkrate creates."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.streams_connection.split(","),
        "security_protocol": settings.streams_security_protocol,
        "client_id": "talkrate",
    }
    if settings.streams_sasl_mechanism:
        options["sasl_mechanism"] = settings.streams_sasl_mechanism
        if settings.streams_username:
            options["sasl_plain_username"] = settings.streams_username
        if settings.streams_password:
            options["sasl_plain_password"] = settings.streams_password.get_secret_value()
    return options


def require_no_credentials(bootstrap: str) -> None:
    """BackendUnavailable when Kafka bootstrap servers hold an `@`: a user and password, which
    no Kafka client reads there (kafka-python takes `user:pw` for a host and a port, and quotes
    the port it cannot read; a password holding a `,` splits into entries it tries to reach).
    The message names the setting, never a piece of its value."""
    if "@" in bootstrap:
        raise BackendUnavailable(
            "STREAMS_CONNECTION (the Kafka bootstrap servers) holds an '@', a user and password: "
            "they go in STREAMS_USERNAME and STREAMS_PASSWORD (KafkaUsername and KafkaPassword "
            "on AWS); no Kafka client was built from it"
        )


def checked_client_options(settings: Settings) -> dict[str, Any]:
    """`client_options`, for a client about to connect: BackendUnavailable instead when
    STREAMS_CONNECTION holds a user and password (`require_no_credentials`), so that no client
    is built from it and none quotes it. The API's producer and the local runtime's clients
    (its Kafka mappings' consumers, their topics and lag) take the setting through it."""
    require_no_credentials(settings.streams_connection)
    return client_options(settings)


Client = TypeVar("Client")


def built_client(build: Callable[[], Client], bootstrap: str) -> Client:
    """The kafka-python client `build` makes for the bootstrap servers `bootstrap`, or
    BackendUnavailable in the one wording of every client talkrate builds (the API's producer,
    the operator commands' admin client, the replay's consumer): Kafka named as GET / names
    it, unreachable with the client's reason (its quoted entries shown so too), or, for an
    entry that is no host:port, that it cannot be asked, without the client's words (they
    quote the entry, which may hold a piece of a password); nothing chained."""
    from talkrate.locations import kafka_located, kafka_location

    try:
        return build()
    except KafkaError as error:
        said = kafka_located(str(error), bootstrap)
        raise BackendUnavailable(
            f"Kafka at {kafka_location(bootstrap)} is unreachable: {said}"
        ) from None
    except ValueError:
        # (raised outside this block, so that not even the context keeps its words)
        pass
    raise BackendUnavailable(
        f"Kafka at {kafka_location(bootstrap)} cannot be asked: STREAMS_CONNECTION (the Kafka "
        "bootstrap servers) holds an entry that is no host:port, so no Kafka client could be "
        "built from it"
    )


# How long the operator commands wait for the broker to say what a consumer group committed.
GROUP_ANSWER_TIMEOUT_MS = 5_000


def committed_topics(settings: Settings, group: str) -> list[str]:
    """The topics on which the consumer group `group` has committed an offset, sorted: what it
    consumes (a topic it reads from the start has none until it takes a record of it). One
    OffsetFetch for every topic of the group, a standard Kafka request (0.10.2 on: Apache
    Kafka, Amazon MSK, Redpanda, tansu). With MSK IAM the caller needs kafka-cluster:DescribeGroup
    on the group, and sees only the topics it may describe. BackendUnavailable, naming the
    broker as GET / does, when it does not answer or refuses to describe the group."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import GroupAuthorizationFailedError

    from talkrate.locations import kafka_located, kafka_location

    options = checked_client_options(settings)
    bootstrap = settings.streams_connection
    where = kafka_location(bootstrap)
    admin = built_client(
        lambda: KafkaAdminClient(
            **options,
            request_timeout_ms=GROUP_ANSWER_TIMEOUT_MS,
            bootstrap_timeout_ms=GROUP_ANSWER_TIMEOUT_MS,
        ),
        bootstrap,
    )
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    except GroupAuthorizationFailedError:
        raise BackendUnavailable(
            f"Kafka at {where} refused to say which topics the consumer group {group!r} "
            "consumes (not authorised to describe the group: with MSK IAM, "
            "kafka-cluster:DescribeGroup on it)"
        ) from None
    except KafkaError as error:
        said = kafka_located(str(error), bootstrap)
        raise BackendUnavailable(
            f"Kafka at {where} did not say which topics the consumer group {group!r} "
            f"consumes: {said}"
        ) from None
    finally:
        admin.close()
    return sorted({tp.topic for tp, committed in offsets.items() if committed.offset >= 0})


class KafkaRatingPublisher:
    """RatingPublisher over one producer, created on first use and reused across invocations."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def publish(self, event: Publishable) -> None:
        """Send with acks=all and wait for the acknowledgement within the time budget."""
        timeout = self._settings.publish_timeout_seconds
        # The request being answered (API Gateway's request id), as the logger knows it.
        correlation_id = logger.get_correlation_id()
        headers = [(CORRELATION_HEADER, correlation_id.encode())] if correlation_id else None
        try:
            future = self._get_producer().send(
                self._settings.ratings_topic, key=event.key, value=event.to_json(), headers=headers
            )
        except (KafkaError, OSError) as error:  # not handed over: no metadata, a bad record
            raise BackendUnavailable(f"the event stream did not acknowledge: {error}") from error
        try:
            future.get(timeout=timeout)
        except (KafkaError, OSError) as error:
            unsettled = isinstance(error, _UNSETTLED) or not isinstance(error, KafkaError)
            raised = PublishUnconfirmed if unsettled else BackendUnavailable
            raise raised(f"the event stream did not acknowledge: {error}") from error

    def ping(self) -> bool:
        """True when the stream answers a metadata request for the ratings topic, now.

        `partitions_for` alone answers from the producer's cached metadata once it knows the
        topic: a broker that died after the first rating was still reported up by GET /.
        """
        try:
            producer = self._get_producer()
            if not producer.partitions_for(self._settings.ratings_topic):
                return False
            # kafka-python has no public call for a fresh metadata round trip: its cluster
            # metadata's update future is what its own send path waits on.
            answered = threading.Event()
            update = producer._metadata.request_update()
            update.add_both(lambda *_: answered.set())
            return answered.wait(self._settings.publish_timeout_seconds) and update.succeeded()
        except (KafkaError, OSError, AttributeError, BackendUnavailable):
            return False

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = self._new_producer()
            return self._producer

    def _new_producer(self) -> KafkaProducer:
        """The producer, or BackendUnavailable (a publish failure: the API keeps the rating in
        the outbox) when STREAMS_CONNECTION cannot name brokers or none answers, said as every
        client says it (`built_client`)."""
        options = checked_client_options(self._settings)
        timeout_ms = int(self._settings.publish_timeout_seconds * 1000)
        return built_client(
            lambda: KafkaProducer(
                **options,
                acks="all",
                linger_ms=0,
                retries=3,
                retry_backoff_ms=100,
                # Never block a request longer than the API's time budget for the stream.
                max_block_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                delivery_timeout_ms=timeout_ms,
                bootstrap_timeout_ms=timeout_ms,
                reconnect_backoff_max_ms=1000,
            ),
            self._settings.streams_connection,
        )

    def close(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            self._producer.close(timeout=2)
            self._producer = None


class PausingPublisher:
    """A RatingPublisher that stops trying a stream that has just failed: for a pause after a
    failure, a rating is refused at once (BackendUnavailable: the API keeps it in the outbox,
    which the relay publishes later) instead of each waiting out the publish budget. After the
    pause the next rating tries the stream again; each failed try doubles the pause, up to
    `longest`, and one that is acknowledged ends it.

    Without it, a broker that is down costs every rating the whole budget (3 s): requests
    queue behind one another, and the API's concurrency climbs to its limit.
    """

    def __init__(
        self,
        publisher: Any,
        first: float = 2.0,
        longest: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self._first = first
        self._longest = longest
        self._clock = clock
        self._pause = 0.0  # the current pause, 0 while the stream answers
        self._failed_at = 0.0
        self._lock = threading.Lock()

    def publish(self, event: Publishable) -> None:
        """Publish through the stream, or refuse at once while it is paused."""
        with self._lock:
            waited = self._clock() - self._failed_at
            if self._pause and waited < self._pause:
                raise BackendUnavailable(
                    f"the event stream failed {waited:.1f} s ago: not tried again for "
                    f"{self._pause - waited:.1f} s"
                )
        try:
            self._publisher.publish(event)
        except BackendUnavailable:
            with self._lock:
                self._pause = min(self._longest, self._pause * 2) if self._pause else self._first
                self._failed_at = self._clock()
            raise
        with self._lock:
            self._pause = 0.0

    def ping(self) -> bool:
        """The stream's own answer, paused or not (GET / reports what is, not the pause)."""
        return bool(self._publisher.ping())

    def close(self) -> None:
        """Close the stream's client."""
        self._publisher.close()
