"""One validated settings model, read from the environment once per cold start (a plain class:
no validation library at cold start).

On AWS the connection strings and Kafka credentials live in Secrets Manager: the template hands the
functions only the secret ARNs, and `load_settings` resolves them here. Nothing else reads os.environ.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal, NamedTuple

MAX_PER_MINUTE = 10_000_000  # the template's MaxValue of each rate-limit parameter


class SettingsError(ValueError):
    """A variable holds a value talkrate cannot run with (the message names it)."""


class Secret:
    """A credential: its value only through get_secret_value(), never in a repr or a log."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def get_secret_value(self) -> str:
        """The credential itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


class _Number(NamedTuple):
    """A numeric setting's type and bounds (`above`: exclusive, `least`: inclusive)."""

    kind: type[int] | type[float]
    above: float | None = None
    least: float | None = None
    most: float | None = None


# The fields read as text, as secrets and as numbers, each from the variable of its name in capitals.
_TEXT: tuple[str, ...] = (
    "talks_connection",
    "ratings_connection",
    "streams_connection",
    "streams_security_protocol",
    "streams_sasl_mechanism",
    "streams_username",
    "ratings_topic",
    "projector_consumer_group",
    "stats_function_name",
    "rebuild_function_name",
    "lambda_endpoint_url",
    "ratings_lambda_url",
    "talks_proxy_endpoint",
    "aws_region",
    "admin_token_secret_arn",
    "voter_code_secret_arn",
    "voter_token_secret_arn",
    "edge_secret_arn",
    "stage",
    "live_publish_url",
    "cors_allow_origin",
)
_SECRETS = (
    "streams_password",
    "admin_token",
    "voter_token_key",
    "voter_token_previous_key",
    "voter_code",
    "live_api_key",
    "edge_secret",
)
_BLANK_IS_UNSET = ("voter_token_key", "voter_token_previous_key", "voter_code", "edge_secret")
# An event code of "-" is none, as an empty one: `sam deploy --guided` asks for the template's
# hidden VoterCode and takes no empty answer (its prompt repeats), so "-" is how it is left out.
NO_EVENT_CODE = "-"
_NUMBERS = {
    "publish_timeout_seconds": _Number(float, above=0, most=25),
    "stats_timeout_seconds": _Number(float, above=0, most=10),
    "talk_cache_seconds": _Number(float, least=0, most=3600),
    "talks_timeout_seconds": _Number(float, above=0, most=60),
    "voter_token_hours": _Number(float, above=0, most=366 * 24),
    "voter_token_renew_share": _Number(float, above=0, most=1),
    "rating_grace_hours": _Number(float, least=0, most=24 * 366),
    "ratings_per_voter_per_minute": _Number(int, least=0, most=MAX_PER_MINUTE),
    "ratings_per_address_per_minute": _Number(int, least=0, most=MAX_PER_MINUTE),
    "voters_per_address_per_minute": _Number(int, least=0, most=MAX_PER_MINUTE),
    "live_publish_timeout_seconds": _Number(float, above=0, most=10),
    # At least 5 s (the thread's first tries, at once and after 1, 2 and 4 s), at most a day.
    "live_unsent_change_seconds": _Number(float, least=5, most=86400),
    "live_api_key_expires": _Number(int, least=0),
}
VOTING_POLICIES = ("open", "attendee")
# The fewest characters an admin (organiser) token may have: 32 of the URL-safe alphabet the
# local runtime's and `secrets.token_urlsafe(24)`'s are made of carry 192 bits, beyond any
# guessing through the API's rate limits; the stack generates 48, `make run` 43. A token set by
# hand shorter than this ("admin", a word) is refused at cold start rather than guarded by.
ADMIN_TOKEN_LEAST_CHARACTERS = 32


class Settings:
    """Every knob talkrate has; each is read from the environment variable of its name in
    capitals (TALKS_CONNECTION, ...). Read-only once made; checked by `model_validate`.

    A plain class with its defaults as class attributes: a cold start loads no validation
    library for it, and does not generate a dataclass's methods for forty fields (4 ms).
    """

    talks_connection: str = "postgresql://postgres@127.0.0.1:5432/talkrate"
    ratings_connection: str = "redis://127.0.0.1:6379/0"
    streams_connection: str = "127.0.0.1:9092"
    streams_security_protocol: str = "PLAINTEXT"
    streams_sasl_mechanism: str | None = None
    streams_username: str | None = None
    streams_password: Secret | None = None
    ratings_topic: str = "ratings"
    # The projector's Kafka consumer group (the template's ProjectorConsumerGroup): read only by
    # the operator commands that publish (`ops relay`, `ops redrive`), to refuse a topic the
    # projector does not consume. The functions are not given it.
    projector_consumer_group: str = "talkrate-projector"
    stats_function_name: str | None = None
    # The function the API invokes (asynchronously) to rebuild the read model when a read finds
    # it not built (RelayFunction); unset: the relay's own check, once a minute, rebuilds it.
    rebuild_function_name: str | None = None
    lambda_endpoint_url: str | None = None
    ratings_lambda_url: str | None = None
    publish_timeout_seconds: float = 3.0
    stats_timeout_seconds: float = 1.0
    talk_cache_seconds: float = 30.0
    # How long a call to PostgreSQL (its connect and statements) may wait for its answers before
    # the caller answers as for a database that is down (talkrate.adapters.postgres: a bounded
    # connection has no COPY). Unset: as long as the server takes. The template sets it for the
    # API, which a client waits on; the projector's batch is bounded by its function's timeout.
    talks_timeout_seconds: float | None = None
    # An RDS Proxy endpoint that replaces the DSN's host. Behind a proxy, LISTEN would pin each
    # client to one database connection, so the talk cache relies on its TTL alone.
    talks_proxy_endpoint: str | None = None
    aws_region: str | None = None
    admin_token: Secret | None = None
    # On AWS: read (and re-read after a rotation) by talkrate.admin_token, not at cold start.
    admin_token_secret_arn: str | None = None
    stage: str = "dev"

    # --- Votes you can trust: voter tokens, rating windows, rate limits -------------------------
    # open: a rating without a voter token counts (the workshop's behaviour); attendee: a token
    # is required.
    voting_policy: Literal["open", "attendee"] = "open"
    # The key voter tokens are signed with, and the one it replaced, whose tokens are still
    # taken (a rotation that keeps every attendee's pass). On AWS not these: the secret
    # VOTER_TOKEN_SECRET_ARN names ("key" and "previousKey"), read and re-read by
    # talkrate.voters.SecretVoterTokens.
    voter_token_key: Secret | None = None
    voter_token_previous_key: Secret | None = None
    voter_token_secret_arn: str | None = None
    # The event code POST /voters asks for, when set (on AWS VOTER_CODE_SECRET_ARN's "code",
    # read at cold start and re-read by talkrate.voters.EventCode while warm).
    voter_code: Secret | None = None
    voter_code_secret_arn: str | None = None
    voter_token_hours: float = 7 * 24
    # The share of a pass's life, at its end, in which it is renewed (its renewAfter): a
    # quarter. For tests that watch a short pass renewed (local runtime only; unset on AWS).
    voter_token_renew_share: float = 0.25
    rating_grace_hours: float = 24
    # Per minute; 0 turns a limit off.
    ratings_per_voter_per_minute: int = 30
    ratings_per_address_per_minute: int = 3000
    voters_per_address_per_minute: int = 300
    # What the CDN in front of the API (CloudFront on AWS) sends in its X-Talkrate-Edge header:
    # a request carrying it came through the CDN, so the viewer's address the CDN names
    # (X-Talkrate-Viewer, set by a CloudFront function) is the client's, for the per-address
    # limits; without it, the address API Gateway saw (the CDN's own, behind one). On AWS from
    # EDGE_SECRET_ARN (its current and previous values, re-read while warm: talkrate.edge).
    edge_secret: Secret | None = None
    edge_secret_arn: str | None = None
    # The origin of a page served elsewhere that may change things through its visitors'
    # browsers (the template's CorsAllowOrigin; `*` any, on a dev stack); unset or blank: only
    # the API's own pages (talkrate.api.cross_site).
    cors_allow_origin: str | None = None

    # The live channel's HTTP publish endpoint (AppSync Events `https://<http host>/event`);
    # unset: no live updates. The API key is for the local emulation; on AWS requests are signed.
    live_publish_url: str | None = None
    live_api_key: Secret | None = None
    live_publish_timeout_seconds: float = 1.0
    # How long the API keeps an organiser's change the live channel has not taken, sending it
    # again, before giving it up (CatalogChangesGivenUp): ten minutes covers a channel's hiccup
    # and a short outage, and the pages have read the catalogue several times by then.
    live_unsent_change_seconds: float = 600.0
    # When the pages' subscribe-only API key expires (Unix seconds; the template's
    # LiveApiKeyExpires): RelayFunction reports the days left. Unset: not known, nothing reported.
    live_api_key_expires: int | None = None

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from a mapping of environment variable names to values (others ignored);
        raises SettingsError naming the first variable whose value does not fit."""
        read: dict[str, Any] = {}
        for name in _TEXT:
            if (value := values.get(name.upper())) is not None:
                read[name] = _text(name, value)
        for name in _SECRETS:
            if (value := values.get(name.upper())) is not None:
                text = _text(name, value)
                if name == "voter_code" and text == NO_EVENT_CODE:
                    continue
                if name == "admin_token":
                    usable_admin_token(text, "ADMIN_TOKEN")
                if text or name not in _BLANK_IS_UNSET:
                    read[name] = Secret(text)
        for name, number in _NUMBERS.items():
            if (value := values.get(name.upper())) is not None:
                read[name] = _number(name, value, number)
        if (policy := values.get("VOTING_POLICY")) is not None:
            if policy not in VOTING_POLICIES:
                raise SettingsError(f"VOTING_POLICY must be one of {', '.join(VOTING_POLICIES)}")
            read["voting_policy"] = policy
        return cls(**read)

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only")

    def __repr__(self) -> str:
        """Secrets show as Secret('**********'), and a connection string or URL as where it
        points: a DSN or a Redis URL carries its password in its text."""
        from talkrate.locations import url_host

        where = self.where()
        shown: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS_IN_ORDER}
        shown["talks_connection"] = where["talks"]
        shown["ratings_connection"] = where["ratings"]
        shown["streams_connection"] = where["streams"]
        for name in ("ratings_lambda_url", "lambda_endpoint_url", "live_publish_url"):
            shown[name] = url_host(shown[name])
        return "Settings(" + ", ".join(f"{name}={value!r}" for name, value in shown.items()) + ")"

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


_FIELDS_IN_ORDER = tuple(name for name in Settings.__annotations__)
_FIELDS = frozenset(_FIELDS_IN_ORDER)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{name.upper()} must be text")
    return value


def _number(name: str, value: Any, number: _Number) -> float:
    variable = name.upper()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SettingsError(f"{variable} must be a number")
    try:
        parsed: float = number.kind(value)
    except ValueError:
        raise SettingsError(
            f"{variable} must be {'a whole' if number.kind is int else 'a'} number"
        ) from None
    if number.kind is int and isinstance(value, float) and value != parsed:
        raise SettingsError(f"{variable} must be a whole number")
    if parsed != parsed or parsed in (float("inf"), float("-inf")):
        raise SettingsError(f"{variable} must be a finite number")
    if number.above is not None and not parsed > number.above:
        raise SettingsError(f"{variable} must be greater than {number.above:g}")
    if number.least is not None and not parsed >= number.least:
        raise SettingsError(f"{variable} must be at least {number.least:g}")
    if number.most is not None and not parsed <= number.most:
        raise SettingsError(f"{variable} must be at most {number.most:g}")
    return parsed


def usable_admin_token(text: str, variable: str) -> str:
    """The admin token `text` holds, without the spaces and line ends around it (a token put
    from a file or `echo` ends with one, which no presented token has); SettingsError naming
    `variable`, never the value, when it is shorter than ADMIN_TOKEN_LEAST_CHARACTERS."""
    token = text.strip()
    if len(token) < ADMIN_TOKEN_LEAST_CHARACTERS:
        raise SettingsError(
            f"{variable} holds an admin token shorter than {ADMIN_TOKEN_LEAST_CHARACTERS} "
            "characters: set one of at least that many (`python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(36))'` makes 48)"
        )
    return token


def read_secret_text(arn: str, fresh: bool = False) -> str:
    """Fetch a secret from Secrets Manager (boto3 imported only when one is configured);
    `fresh` skips the five-minute cache."""
    from aws_lambda_powertools.utilities import parameters

    return secret_text(parameters.get_secret(arn, max_age=300, force_fetch=fresh))


def secret_text(value: str | bytes) -> str:
    """A secret's value as text: its SecretString, or its SecretBinary read as UTF-8 (one put
    with `--secret-binary`); UnicodeDecodeError for bytes that are not text."""
    return value if isinstance(value, str) else value.decode()


def _secret_values(arn: str, fresh: bool = False) -> Mapping[str, Any]:
    """Fetch a JSON secret from Secrets Manager (`fresh`: not from the five-minute cache)."""
    parsed = json.loads(read_secret_text(arn, fresh=fresh))
    if not isinstance(parsed, dict):
        raise ValueError("secret must be a JSON object")
    return parsed


def read_voter_code(arn: str, fresh: bool = False) -> str | None:
    """The event code its secret holds now (None when it holds none, empty or NO_EVENT_CODE)."""
    code = _secret_values(arn, fresh).get("code")
    return code if isinstance(code, str) and code and code != NO_EVENT_CODE else None


class VoterKeys(NamedTuple):
    """What the voter-token secret holds: its key ("key") and the one before it, still taken
    ("previousKey"), each None when it holds none (or an empty one); `ignored` names what a
    `previousKey` that is not text is (a number, …): it is left out, never shown."""

    key: str | None
    previous: str | None
    ignored: str | None = None


# What a JSON document starts with: a secret starting so is read as JSON, anything else as the
# key itself.
_JSON_STARTS = ("{", "[", '"')
_JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", list: "a list"}


def voter_keys_of(text: str) -> VoterKeys:
    """The keys of a voter-token secret's text: a JSON object's "key" and "previousKey" (the
    secret the template generates), or, for text that is not JSON, that text itself as the
    key, without the spaces and line ends around it (a secret put as the admin token's is:
    `--secret-string "$key"`). ValueError, saying why and never the text, for one that starts
    as JSON and is not an object."""
    stripped = text.strip()
    if not stripped.startswith(_JSON_STARTS):
        return VoterKeys(stripped or None, None)
    try:
        values = json.loads(stripped)
    except json.JSONDecodeError:
        raise ValueError("starts as JSON but is not JSON") from None
    if not isinstance(values, dict):
        raise ValueError("is JSON but not an object")
    key, previous = values.get("key"), values.get("previousKey")
    ignored = None
    if previous is not None and not isinstance(previous, str):
        ignored = _JSON_KINDS.get(type(previous), "an object")
    return VoterKeys(
        key if isinstance(key, str) and key else None,
        previous if isinstance(previous, str) and previous else None,
        ignored,
    )


def read_voter_keys(arn: str, fresh: bool = False) -> VoterKeys:
    """The voter-token keys their secret holds now (`voter_keys_of`)."""
    return voter_keys_of(read_secret_text(arn, fresh=fresh))


def talks_connection_now() -> str | None:
    """The database's connection string as the connections secret holds it now, not from the
    cache (read again when PostgreSQL refuses a login: a rotated password); None without one."""
    if not (arn := os.environ.get("CONNECTIONS_SECRET_ARN")):
        return None
    value = _secret_values(arn, fresh=True).get("TALKS_CONNECTION")
    return value if isinstance(value, str) and value else None


def _named_secret(variable: str, arn: str, fresh: bool = False) -> Mapping[str, Any]:
    """The JSON secret the variable names (`fresh`: not from the five-minute cache);
    SettingsError naming the variable when it cannot be read (no such secret, no credentials,
    no access) or is not a JSON object."""
    try:
        return _secret_values(arn, fresh)
    except json.JSONDecodeError:
        raise SettingsError(f"{variable} names a secret that is not JSON ({arn})") from None
    except ValueError as error:  # not an object
        raise SettingsError(f"{variable} names a secret that is not a JSON object ({arn})") from (
            error
        )
    except Exception as error:  # Powertools' GetParameterError carries AWS's own reason
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SettingsError(f"{variable} ({arn}) could not be read: {reason}") from None


def settings_from(environ: Mapping[str, str], fresh: bool = False) -> Settings:
    """Build settings from an environment mapping, resolving the Secrets Manager ARNs it names
    (`fresh`: each secret fetched now, not from the five-minute cache)."""
    values: dict[str, Any] = dict(environ)
    if arn := environ.get("CONNECTIONS_SECRET_ARN"):
        secret = _named_secret("CONNECTIONS_SECRET_ARN", arn, fresh)
        for name in ("TALKS_CONNECTION", "RATINGS_CONNECTION", "STREAMS_CONNECTION"):
            if secret.get(name):
                values[name] = secret[name]
    if arn := environ.get("STREAMS_SECRET_ARN"):
        secret = _named_secret("STREAMS_SECRET_ARN", arn, fresh)
        values["STREAMS_USERNAME"] = secret.get("username")
        values["STREAMS_PASSWORD"] = secret.get("password")
    # VOTER_TOKEN_SECRET_ARN's secret is read by talkrate.voters.SecretVoterTokens, when a pass
    # is first handed out or checked: one that cannot be read or used fails those alone (503),
    # not every route of every environment started meanwhile.
    # A secret of its own: a secret generated with the code in it got a new key at each change.
    if arn := environ.get("VOTER_CODE_SECRET_ARN"):
        values["VOTER_CODE"] = read_voter_code(arn, fresh) or ""
    # EDGE_SECRET_ARN's secret is read by talkrate.edge.SecretEdgeSecret, at the first request
    # through the CDN, and again while warm: a rotation needs no cold start.
    # Blank values mean "not set": SAM cannot omit an environment variable conditionally.
    return Settings.model_validate({k: v for k, v in values.items() if v != ""})


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """The process's settings, read once (at cold start) and cached."""
    return settings_from(os.environ)


def settings_now() -> Settings:
    """The settings as the environment and its secrets hold them now: every secret fetched
    again, nothing cached (`load_settings` is, for the life of the environment). For the schema
    step: a deploy that changes TalksConnection alone leaves SchemaFunction's environment warm,
    and each of CloudFormation's requests (a rollback's too) must reach the database the
    stack's secret names at that moment."""
    return settings_from(os.environ, fresh=True)
