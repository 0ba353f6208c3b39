"""The composition root: one adapter per backend, created on first use and reused while warm."""

from __future__ import annotations

from functools import lru_cache

from talkrate.adapters.kafka_stream import KafkaRatingPublisher
from talkrate.adapters.postgres import PostgresTalkCatalog
from talkrate.adapters.redis_store import RedisReadModel
from talkrate.adapters.stats_client import LambdaStatsCalculator, NoStats, UrlStatsCalculator
from talkrate.config import load_settings
from talkrate.ports import StatsCalculator


@lru_cache(maxsize=1)
def talk_catalog() -> PostgresTalkCatalog:
    """The talk catalog in PostgreSQL."""
    return PostgresTalkCatalog(load_settings().talks_connection)


@lru_cache(maxsize=1)
def rating_publisher() -> KafkaRatingPublisher:
    """The Kafka producer of RatingSubmitted events."""
    return KafkaRatingPublisher(load_settings())


@lru_cache(maxsize=1)
def read_model() -> RedisReadModel:
    """The Redis read model."""
    return RedisReadModel(load_settings().ratings_connection)


@lru_cache(maxsize=1)
def stats_calculator() -> StatsCalculator:
    """StatsFunction by name (Lambda Invoke) if configured, else by URL, else none."""
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
