"""One validated settings model, read from the environment once per cold start.

On AWS the connection strings and Kafka credentials live in Secrets Manager: the template hands the
functions only the secret ARNs, and `load_settings` resolves them here. Nothing else reads os.environ.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Settings(BaseModel):
    """Every knob talkrate has; field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    talks_connection: str = Field(
        "postgresql://postgres@127.0.0.1:5432/talkrate", alias="TALKS_CONNECTION"
    )
    ratings_connection: str = Field("redis://127.0.0.1:6379/0", alias="RATINGS_CONNECTION")
    streams_connection: str = Field("127.0.0.1:9092", alias="STREAMS_CONNECTION")
    streams_security_protocol: str = Field("PLAINTEXT", alias="STREAMS_SECURITY_PROTOCOL")
    streams_sasl_mechanism: str | None = Field(None, alias="STREAMS_SASL_MECHANISM")
    streams_username: str | None = Field(None, alias="STREAMS_USERNAME")
    streams_password: SecretStr | None = Field(None, alias="STREAMS_PASSWORD")
    ratings_topic: str = Field("ratings", alias="RATINGS_TOPIC")
    stats_function_name: str | None = Field(None, alias="STATS_FUNCTION_NAME")
    lambda_endpoint_url: str | None = Field(None, alias="LAMBDA_ENDPOINT_URL")
    ratings_lambda_url: str | None = Field(None, alias="RATINGS_LAMBDA_URL")
    publish_timeout_seconds: float = Field(3.0, gt=0, le=25, alias="PUBLISH_TIMEOUT_SECONDS")
    stats_timeout_seconds: float = Field(1.0, gt=0, le=10, alias="STATS_TIMEOUT_SECONDS")
    talk_cache_seconds: float = Field(30.0, ge=0, le=3600, alias="TALK_CACHE_SECONDS")
    # An RDS Proxy endpoint that replaces the DSN's host. Behind a proxy, LISTEN would pin each
    # client to one database connection, so the talk cache relies on its TTL alone.
    talks_proxy_endpoint: str | None = Field(None, alias="TALKS_PROXY_ENDPOINT")
    aws_region: str | None = Field(None, alias="AWS_REGION")
    admin_token: SecretStr | None = Field(None, alias="ADMIN_TOKEN")
    # On AWS: read (and re-read after a rotation) by talkrate.admin_token, not at cold start.
    admin_token_secret_arn: str | None = Field(None, alias="ADMIN_TOKEN_SECRET_ARN")
    stage: str = Field("dev", alias="STAGE")

    # --- Votes you can trust: voter tokens, rating windows, rate limits -------------------------
    # open: a rating without a voter token counts (the workshop's behaviour); attendee: a token
    # is required.
    voting_policy: Literal["open", "attendee"] = Field("open", alias="VOTING_POLICY")
    # The key voter tokens are signed with (on AWS from VOTER_TOKEN_SECRET_ARN's "key").
    voter_token_key: SecretStr | None = Field(None, alias="VOTER_TOKEN_KEY")
    # The event code POST /voters asks for, when set (on AWS the secret's "code").
    voter_code: SecretStr | None = Field(None, alias="VOTER_CODE")
    voter_token_hours: float = Field(7 * 24, gt=0, le=366 * 24, alias="VOTER_TOKEN_HOURS")
    rating_grace_hours: float = Field(24, ge=0, le=24 * 366, alias="RATING_GRACE_HOURS")
    # Per minute; 0 turns a limit off.
    ratings_per_voter_per_minute: int = Field(
        30, ge=0, le=1_000_000, alias="RATINGS_PER_VOTER_PER_MINUTE"
    )
    ratings_per_address_per_minute: int = Field(
        3000, ge=0, le=10_000_000, alias="RATINGS_PER_ADDRESS_PER_MINUTE"
    )
    voters_per_address_per_minute: int = Field(
        300, ge=0, le=1_000_000, alias="VOTERS_PER_ADDRESS_PER_MINUTE"
    )

    @field_validator("voter_token_key", "voter_code")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    # The live channel's HTTP publish endpoint (AppSync Events `https://<http host>/event`);
    # unset: no live updates. The API key is for the local emulation; on AWS requests are signed.
    live_publish_url: str | None = Field(None, alias="LIVE_PUBLISH_URL")
    live_api_key: SecretStr | None = Field(None, alias="LIVE_API_KEY")
    live_publish_timeout_seconds: float = Field(
        1.0, gt=0, le=10, alias="LIVE_PUBLISH_TIMEOUT_SECONDS"
    )

    def where(self) -> dict[str, str | None]:
        """Where each backend is, built from the parsed host, port and database: no user name,
        password, token or option (for GET / outside prod)."""
        from talkrate.locations import kafka_location, postgres_location, redis_location, url_host

        return {
            "talks": postgres_location(self.talks_connection),
            "ratings": redis_location(self.ratings_connection),
            "streams": kafka_location(self.streams_connection),
            "ratings_lambda": self.stats_function_name or url_host(self.ratings_lambda_url),
        }


def read_secret_text(arn: str, fresh: bool = False) -> str:
    """Fetch a secret from Secrets Manager (boto3 imported only when one is configured);
    `fresh` skips the five-minute cache."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=300, force_fetch=fresh)
    return value if isinstance(value, str) else value.decode()


def _secret_values(arn: str) -> Mapping[str, Any]:
    """Fetch a JSON secret from Secrets Manager."""
    parsed = json.loads(read_secret_text(arn))
    if not isinstance(parsed, dict):
        raise ValueError("secret must be a JSON object")
    return parsed


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Build settings from an environment mapping, resolving the Secrets Manager ARNs it names."""
    values: dict[str, Any] = dict(environ)
    if arn := environ.get("CONNECTIONS_SECRET_ARN"):
        secret = _secret_values(arn)
        for name in ("TALKS_CONNECTION", "RATINGS_CONNECTION", "STREAMS_CONNECTION"):
            if secret.get(name):
                values[name] = secret[name]
    if arn := environ.get("STREAMS_SECRET_ARN"):
        secret = _secret_values(arn)
        values["STREAMS_USERNAME"] = secret.get("username")
        values["STREAMS_PASSWORD"] = secret.get("password")
    if arn := environ.get("VOTER_TOKEN_SECRET_ARN"):
        secret = _secret_values(arn)
        values["VOTER_TOKEN_KEY"] = secret.get("key")
        values["VOTER_CODE"] = secret.get("code") or ""
    # Blank values mean "not set": SAM cannot omit an environment variable conditionally.
    return Settings.model_validate({k: v for k, v in values.items() if v != ""})


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The process's settings, read once (at cold start) and cached."""
    return settings_from(os.environ)
