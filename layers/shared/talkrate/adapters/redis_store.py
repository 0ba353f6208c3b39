"""Redis: the read model (a histogram hash per talk, applied offsets, dead letters)."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from talkrate.errors import BackendUnavailable
from talkrate.models import RATING_VALUES, Histogram
from talkrate.ports import ProjectionBatch, ProjectionResult

HISTOGRAM_PREFIX = "ratings/"  # the workshop's key: ratings/<talkId>, a hash of value -> count
OFFSETS_KEY = "projector/offsets"  # "topic-partition" -> last applied offset
DEAD_LETTERS_KEY = "projector/dead-letters"

# Applies a whole batch in one atomic step. Per partition, records at or below the applied offset
# were counted before (a redelivery) and are skipped; the rest are aggregated per talk and value
# and added with one HINCRBY each. The applied offset moves in the same step, so a crash leaves
# either all of the batch or none of it.
_APPLY_BATCH = """
local batch = cjson.decode(ARGV[1])
local prefix = ARGV[2]
local applied, skipped, dead = 0, 0, 0
local totals = {}
for _, part in ipairs(batch) do
  local name, records = part[1], part[2]
  local last = tonumber(redis.call('HGET', KEYS[1], name) or '-1')
  local highest = last
  for _, r in ipairs(records) do
    local offset = r[1]
    if offset <= last then
      skipped = skipped + 1
    else
      if r[2] == 'r' then
        local talk = totals[r[3]]
        if not talk then talk = {}; totals[r[3]] = talk end
        talk[r[4]] = (talk[r[4]] or 0) + 1
        applied = applied + 1
      else
        redis.call('RPUSH', KEYS[2], r[3])
        dead = dead + 1
      end
      if offset > highest then highest = offset end
    end
  end
  if highest > last then
    redis.call('HSET', KEYS[1], name, string.format('%d', highest))
  end
end
for talk, counts in pairs(totals) do
  for value, n in pairs(counts) do
    redis.call('HINCRBY', prefix .. talk, value, n)
  end
end
return {applied, skipped, dead}
"""


class RedisReadModel:
    """RatingsReadModel on one lazily created, pooled Redis client."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: redis.Redis | None = None
        self._apply_script: Any = None

    @property
    def client(self) -> redis.Redis:
        """The Redis client, created on first use and reused for the life of the process."""
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
            self._apply_script = self._client.register_script(_APPLY_BATCH)
        return self._client

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's current histogram (zeros when it has no ratings)."""
        try:
            stored = self.client.hmget(HISTOGRAM_PREFIX + talk_id, RATING_VALUES)
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return Histogram.from_counts(dict(zip(RATING_VALUES, stored, strict=True)))

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        """Apply a batch atomically, skipping every record at or below its partition's offset."""
        partitions: dict[str, list[list[Any]]] = {}
        for rating in batch.ratings:
            partitions.setdefault(rating.partition, []).append(
                [rating.offset, "r", rating.event.talk_id, str(rating.event.value)]
            )
        for letter in batch.dead_letters:
            partitions.setdefault(letter.position, []).append(
                [letter.offset, "d", json.dumps(_dead_letter_entry(letter))]
            )
        if not partitions:
            return ProjectionResult(0, 0, 0)
        payload = json.dumps(list(partitions.items()), separators=(",", ":"))
        client = self.client  # creates the script object on first use
        applied, skipped, dead = self._apply_script(
            keys=[OFFSETS_KEY, DEAD_LETTERS_KEY], args=[payload, HISTOGRAM_PREFIX], client=client
        )
        return ProjectionResult(int(applied), int(skipped), int(dead))

    def applied_offset(self, partition: str) -> int | None:
        """The last offset applied for a "topic-partition", or None before the first."""
        value = self.client.hget(OFFSETS_KEY, partition)
        return None if value is None else int(value)

    def forget_offsets(self, topic: str) -> int:
        """Drop the applied offsets of a topic, for when the topic itself was recreated empty."""
        prefix = f"{topic}-"
        fields: list[bytes] = self.client.hkeys(OFFSETS_KEY)  # type: ignore[assignment]
        stale = [f for f in fields if f.decode().startswith(prefix)]
        return int(self.client.hdel(OFFSETS_KEY, *stale)) if stale else 0

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every record set aside so far, oldest first."""
        return [json.loads(item) for item in self.client.lrange(DEAD_LETTERS_KEY, 0, -1)]

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


def _dead_letter_entry(letter: Any) -> dict[str, Any]:
    return {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "reason": letter.reason,
        "key": _b64(letter.key),
        "value": _b64(letter.value),
    }


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
