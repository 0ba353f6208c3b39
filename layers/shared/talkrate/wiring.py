"""The composition root: one adapter per backend, created on first use and reused while warm.

Each factory imports its adapter itself, so a function pays at cold start only for the clients it
uses: the projector never loads kafka-python, StatsFunction loads none of them.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import TYPE_CHECKING

from talkrate.config import load_settings, talks_connection_now

if TYPE_CHECKING:
    from talkrate.adapters.idempotency import IdempotentRequests
    from talkrate.adapters.kafka_stream import KafkaRatingPublisher, PausingPublisher
    from talkrate.adapters.limiter import RedisRequestLimiter
    from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore, PostgresOutbox
    from talkrate.adapters.redis_store import RedisReadModel
    from talkrate.adapters.talk_cache import CachedTalkCatalog
    from talkrate.announcer import Announcer
    from talkrate.edge import EdgeSecret
    from talkrate.ports import RebuildRequests, StatsCalculator
    from talkrate.rating import RatingRules
    from talkrate.voters import EventCode, VoterTokens


@lru_cache(maxsize=1)
def database() -> PostgresDatabase:
    """The one PostgreSQL connection of the process (docs/decisions.md: connections, bounded).

    Every function opens at most this one connection per execution environment, lazily, and
    keeps no session state on it beyond the talk cache's LISTEN (off behind RDS Proxy), so a pooler such as
    RDS Proxy can multiplex it: transactions are explicit BEGIN ... COMMIT, statements are sent
    with their parameters inlined by psycopg2 (no server-side PREPARE), no SET, no temporary
    table, no advisory lock.
    """
    from talkrate.adapters.postgres import PostgresDatabase

    settings = load_settings()
    return PostgresDatabase(
        settings.talks_connection,
        host=settings.talks_proxy_endpoint,
        answer_within=settings.talks_timeout_seconds,
        reread=talks_connection_now,
    )


@lru_cache(maxsize=1)
def talk_catalog() -> CachedTalkCatalog:
    """The talk catalog in PostgreSQL, with a bounded-TTL cache of which talks exist."""
    from talkrate.adapters.postgres import PostgresTalkCatalog
    from talkrate.adapters.talk_cache import CachedTalkCatalog

    settings = load_settings()
    return CachedTalkCatalog(
        PostgresTalkCatalog(database()),
        settings.talk_cache_seconds,
        listen=not settings.talks_proxy_endpoint,
    )


@lru_cache(maxsize=1)
def event_store() -> PostgresEventStore:
    """The event store in PostgreSQL."""
    from talkrate.adapters.postgres import PostgresEventStore

    return PostgresEventStore(database())


@lru_cache(maxsize=1)
def outbox() -> PostgresOutbox:
    """The outbox in PostgreSQL."""
    from talkrate.adapters.postgres import PostgresOutbox

    return PostgresOutbox(database())


@lru_cache(maxsize=1)
def rating_publisher() -> KafkaRatingPublisher:
    """The Kafka producer of RatingSubmitted events."""
    from talkrate.adapters.kafka_stream import KafkaRatingPublisher

    return KafkaRatingPublisher(load_settings())


@lru_cache(maxsize=1)
def api_publisher() -> PausingPublisher:
    """The stream as POST /ratings uses it: not tried for a while after it failed (the rating
    goes to the outbox at once), so a broker that is down does not cost every rating the
    whole publish budget."""
    from talkrate.adapters.kafka_stream import PausingPublisher

    return PausingPublisher(rating_publisher())


@lru_cache(maxsize=1)
def read_model() -> RedisReadModel:
    """The Redis read model."""
    from talkrate.adapters.redis_store import RedisReadModel

    return RedisReadModel(load_settings().ratings_connection)


@lru_cache(maxsize=1)
def idempotent_requests() -> IdempotentRequests:
    """Idempotency-Key handling, on the read model's Redis client."""
    from talkrate.adapters.idempotency import IdempotentRequests

    return IdempotentRequests(read_model().shared_client())


@lru_cache(maxsize=1)
def request_limiter() -> RedisRequestLimiter:
    """The rate limits, on the read model's Redis client."""
    from talkrate.adapters.limiter import RedisRequestLimiter

    return RedisRequestLimiter(read_model().shared_client())


@lru_cache(maxsize=1)
def rating_rules() -> RatingRules:
    """The grace after a talk's end and the rating limits, from the settings."""
    from datetime import timedelta

    from talkrate.rating import RatingRules

    settings = load_settings()
    return RatingRules(
        grace=timedelta(hours=settings.rating_grace_hours),
        per_voter=settings.ratings_per_voter_per_minute,
        per_address=settings.ratings_per_address_per_minute,
    )


@lru_cache(maxsize=1)
def event_code() -> EventCode:
    """The event code POST /voters asks for, re-read from its secret while warm."""
    from talkrate.voters import EventCode

    return EventCode(load_settings())


@lru_cache(maxsize=1)
def edge_secret() -> EdgeSecret | None:
    """What vouches for a request that came through the CDN (X-Talkrate-Edge); None when no
    CDN is configured. From a secret (on AWS) its values are re-read while warm."""
    from talkrate.edge import FixedEdgeSecret, SecretEdgeSecret

    settings = load_settings()
    if settings.edge_secret_arn:
        return SecretEdgeSecret(settings.edge_secret_arn)
    if settings.edge_secret is not None:
        return FixedEdgeSecret(settings.edge_secret.get_secret_value())
    return None


@lru_cache(maxsize=1)
def voter_tokens() -> VoterTokens:
    """Issues and checks voter tokens; VoterTokensUnavailable when no key is configured. From
    a secret (on AWS), its keys are re-read while warm: a rotation needs no cold start."""
    from datetime import timedelta

    from talkrate.errors import VoterTokensUnavailable
    from talkrate.voters import SecretVoterTokens, VoterTokens

    settings = load_settings()
    if settings.voter_token_secret_arn:
        return SecretVoterTokens(settings)  # (reads its secret when first asked)
    if settings.voter_token_key is None:
        raise VoterTokensUnavailable("no voter-token key is configured")
    key = settings.voter_token_key.get_secret_value().encode()
    previous = settings.voter_token_previous_key
    return VoterTokens(  # a short key: 503 too
        key,
        timedelta(hours=settings.voter_token_hours),
        previous.get_secret_value().encode() if previous else None,
        settings.voter_token_renew_share,
    )


@lru_cache(maxsize=1)
def stats_calculator() -> StatsCalculator:
    """StatsFunction by name (Lambda Invoke) if configured, else by URL, else none."""
    from talkrate.adapters.stats_client import (
        LambdaStatsCalculator,
        NoStats,
        UrlStatsCalculator,
    )

    settings = load_settings()
    if settings.stats_function_name:
        return LambdaStatsCalculator(
            settings.stats_function_name,
            settings.lambda_endpoint_url,
            settings.stats_timeout_seconds,
        )
    if settings.ratings_lambda_url:
        return UrlStatsCalculator(settings.ratings_lambda_url, settings.stats_timeout_seconds)
    return NoStats()


@lru_cache(maxsize=1)
def rebuild_requests() -> RebuildRequests:
    """RelayFunction by name (Lambda Invoke, asynchronously) if configured, else none."""
    from talkrate.adapters.rebuild_requests import LambdaRebuildRequests, NoRebuildRequests

    settings = load_settings()
    if settings.rebuild_function_name:
        return LambdaRebuildRequests(settings.rebuild_function_name, settings.lambda_endpoint_url)
    return NoRebuildRequests()


@lru_cache(maxsize=1)
def live_announcer() -> Announcer | None:
    """The live channel's publisher behind its deadline, or None when none is configured."""
    from talkrate.adapters.appsync_events import AppSyncEventsPublisher
    from talkrate.announcer import Announcer

    settings = load_settings()
    if not settings.live_publish_url:
        return None
    key = settings.live_api_key.get_secret_value() if settings.live_api_key else None
    timeout = settings.live_publish_timeout_seconds
    publisher = AppSyncEventsPublisher(settings.live_publish_url, timeout, key, settings.aws_region)
    return Announcer(
        publisher, deadline_seconds=timeout, unsent_seconds=settings.live_unsent_change_seconds
    )


def reset() -> None:
    """Forget every adapter (tests use it to simulate a cold start with new settings)."""
    if rating_publisher.cache_info().currsize:
        rating_publisher().close()
    if database.cache_info().currsize:
        database().close()
    if live_announcer.cache_info().currsize and (announcer := live_announcer()) is not None:
        announcer.close()  # (its thread sending kept changes ends)
    for cached in (
        database,
        talk_catalog,
        event_store,
        outbox,
        rating_publisher,
        api_publisher,
        read_model,
        idempotent_requests,
        request_limiter,
        rating_rules,
        event_code,
        edge_secret,
        voter_tokens,
        stats_calculator,
        rebuild_requests,
        live_announcer,
        load_settings,
    ):
        cached.cache_clear()
    # The admin token's cache, when this process read it (the API's admin routes): imported
    # only there, so that other functions do not load hashing at cold start.
    if admin := sys.modules.get("talkrate.admin_token"):
        admin.admin_token.cache_clear()
