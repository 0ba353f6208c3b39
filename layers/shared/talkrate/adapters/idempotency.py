"""Idempotency-Key support: Powertools' idempotency utility on its Redis persistence layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceConnectionError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.persistence.redis import (
    RedisCachePersistenceLayer,
)

from talkrate.errors import BackendUnavailable, IdempotencyKeyReused, RequestInProgress

# A client retries within seconds or minutes; an hour bounds the records (PostgreSQL keeps the
# ratings themselves). Keys are scoped per client by the caller (talkrate.api.ratings).
KEY_TTL_SECONDS = 3600


class _RedisPersistence(RedisCachePersistenceLayer):
    """Powertools' Redis layer, keeping the payload hash when a record completes.

    Its `_update_record` rewrites the record without the validation hash, so every identical
    retry after completion failed validation (the same bug was fixed in Powertools for
    TypeScript's cache layer). This writes the completed record with the hash.
    """

    def _update_record(self, data_record: DataRecord) -> None:
        mapping: dict[str, Any] = {
            self.data_attr: data_record.response_data,
            self.status_attr: data_record.status,
            self.expiry_attr: data_record.expiry_timestamp,
        }
        if self.payload_validation_enabled:
            mapping[self.validation_key_attr] = data_record.payload_hash
        ttl = self._get_expiry_second(data_record.expiry_timestamp)
        self.client.set(
            name=data_record.idempotency_key, value=self._json_serializer(mapping), ex=ttl
        )


class IdempotentRequests:
    """Runs a request's work at most once per Idempotency-Key, replaying the first answer."""

    def __init__(self, client: Any, ttl_seconds: int = KEY_TTL_SECONDS) -> None:
        self._store = _RedisPersistence(client=client)
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="request",
            expires_after_seconds=ttl_seconds,
            raise_on_no_idempotency_key=True,
        )

    def once(
        self,
        key: str,
        request: dict[str, Any],
        work: Callable[[], dict[str, Any]],
        lambda_context: Any = None,
    ) -> dict[str, Any]:
        """The answer of `work` for the first use of `key`; the same answer for every repeat.

        Raises IdempotencyKeyReused when the key comes back with another request, and
        RequestInProgress while the first request with the key has not finished. With the
        Lambda context, a request that dies mid-way frees its key when the invocation's time
        is up rather than when the key's TTL ends.
        """
        if lambda_context is not None:
            self._config.register_lambda_context(lambda_context)

        @idempotent_function(
            data_keyword_argument="submission", persistence_store=self._store, config=self._config
        )
        def rate_once(submission: dict[str, Any]) -> dict[str, Any]:
            return work()

        try:
            result: dict[str, Any] = rate_once(submission={"key": key, "request": request})
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused(key) from error
        except IdempotencyAlreadyInProgressError as error:
            raise RequestInProgress(key) from error
        except (IdempotencyPersistenceLayerError, IdempotencyPersistenceConnectionError) as error:
            raise BackendUnavailable("the idempotency store is unreachable") from error
        return result
