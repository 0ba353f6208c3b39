"""One validated settings model, read from the environment once per cold start.

On AWS the connection strings and Kafka credentials live in Secrets Manager: the template hands the
functions only the secret ARNs, and `load_settings` resolves them here. Nothing else reads os.environ.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

_SECRET_KEYS = re.compile(r"(pass(word)?|secret|token|key|credential)", re.IGNORECASE)


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
    aws_region: str | None = Field(None, alias="AWS_REGION")
    admin_token: SecretStr | None = Field(None, alias="ADMIN_TOKEN")
    # The live channel's HTTP publish endpoint (AppSync Events `https://<http host>/event`);
    # unset: no live updates. The API key is for the local emulation; on AWS requests are signed.
    live_publish_url: str | None = Field(None, alias="LIVE_PUBLISH_URL")
    live_api_key: SecretStr | None = Field(None, alias="LIVE_API_KEY")
    live_publish_timeout_seconds: float = Field(
        1.0, gt=0, le=10, alias="LIVE_PUBLISH_TIMEOUT_SECONDS"
    )

    def where(self) -> dict[str, str | None]:
        """Where each backend is, with passwords and tokens removed (for GET /)."""
        return {
            "talks": redact(self.talks_connection),
            "ratings": redact(self.ratings_connection),
            "streams": redact(self.streams_connection),
            "ratings_lambda": self.stats_function_name or redact(self.ratings_lambda_url or ""),
        }


def redact(connection: str) -> str:
    """Remove credentials from a URL or a libpq `key=value` connection string."""
    if not connection:
        return connection
    if "://" in connection:
        parts = urlsplit(connection)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        if "@" in parts.netloc:
            user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
            netloc = f"{user}@{netloc}" if user else netloc
        query = urlencode(
            [(k, "***" if _SECRET_KEYS.search(k) else v) for k, v in parse_qsl(parts.query)]
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    if "=" not in connection:
        return connection  # e.g. Kafka bootstrap servers: host:port lists carry no credentials
    return " ".join(
        f"{k}=***" if _SECRET_KEYS.search(k) else f"{k}={v}"
        for k, _, v in (item.partition("=") for item in connection.split())
    )


def _secret_text(arn: str) -> str:
    """Fetch a secret from Secrets Manager (boto3 imported only when one is configured)."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=300)
    return value if isinstance(value, str) else value.decode()


def _secret_values(arn: str) -> Mapping[str, Any]:
    """Fetch a JSON secret from Secrets Manager."""
    parsed = json.loads(_secret_text(arn))
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
    if arn := environ.get("ADMIN_TOKEN_SECRET_ARN"):
        values["ADMIN_TOKEN"] = _secret_text(arn)
    # Blank values mean "not set": SAM cannot omit an environment variable conditionally.
    return Settings.model_validate({k: v for k, v in values.items() if v != ""})


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The process's settings, read once (at cold start) and cached."""
    return settings_from(os.environ)
