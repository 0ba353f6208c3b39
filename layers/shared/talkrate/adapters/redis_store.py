"""Redis: the read model (a histogram hash per talk, and the applied offset of each partition)."""

from __future__ import annotations

import json
from typing import Any

import redis

from talkrate.errors import BackendUnavailable, ReadModelRebuilding
from talkrate.leaderboard import PRIOR_MEAN, PRIOR_WEIGHT
from talkrate.models import RATING_VALUES, Histogram, RatingSubmitted
from talkrate.ports import ProjectionBatch, ProjectionResult, ReadModelMemory, ReadModelState

HISTOGRAM_PREFIX = "ratings/"  # the workshop's key: ratings/<talkId>, a hash of value -> count
VOTES_PREFIX = (
    "votes/"  # votes/<talkId>: voterId -> "value|occurredMs|eventId", the vote that counts
)
LEADERBOARD_KEY = "leaderboard"  # talk id scored by its Bayesian average
OFFSETS_KEY = "projector/offsets"  # "topic-partition" -> last applied offset
REBUILD_LOCK_KEY = "projector/rebuilding"
REBUILD_LOCK_SECONDS = 600
ACCEPTED_PREFIX = "accepted/"  # accepted/<eventId>: taken by the API, waiting for the projector
# Short: once projected, the event store answers; the marker only covers the seconds (minutes,
# when the projector is behind) between the 202 and the projection. Set by the rate limiter's
# round trip (talkrate.adapters.limiter).
ACCEPTED_SECONDS = 3600

# Shared by both scripts: a talk's leaderboard score from its histogram.
_SCORE = """
local function rescore(talk)
  local h = redis.call('HMGET', ARGV[2] .. talk, '1', '2', '3', '4', '5')
  local n, sum = 0, 0
  for v = 1, 5 do
    local c = tonumber(h[v] or '0') or 0
    n = n + c
    sum = sum + v * c
  end
  if n > 0 then
    local score = (ARGV[4] * ARGV[5] + sum) / (ARGV[5] + n)
    redis.call('ZADD', KEYS[3], string.format('%.17g', score), talk)
  else
    redis.call('ZREM', KEYS[3], talk)
  end
end
"""

# Applies a whole batch in one atomic step. Per partition, records at or below the applied offset
# were applied before (a redelivery) and are skipped. A partition comes in one of two forms:
# aggregated (ratings without a voter already summed per talk and value, voter ratings listed,
# duplicates and dead letters counted), used when none of its records was applied before, or
# detailed (every record with its offset and kind), used when the applied offset falls inside it;
# when a partition needs the detailed form and lacks it, the script writes nothing and answers
# DETAIL, and the caller sends the batch again in detail. Record kinds: a rating without a voter
# ('r'); a voter's rating ('v'), which replaces the voter's earlier one when it is newer
# (occurredAt, then eventId), whatever order the two arrive in; a duplicate ('x', an eventId first
# projected elsewhere) and a dead letter ('d'), which only move the offset. Every histogram is read
# before the first write (a key of another type fails the batch there), because Redis does not
# roll back a script that fails halfway; each changed histogram is then written with one HSET.
_APPLY_BATCH = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.error_reply('REBUILDING the read model is being rebuilt')
end
local batch = cjson.decode(ARGV[1])
local prefix, votes_prefix = ARGV[2], ARGV[3]
local prior_mean, prior_weight = tonumber(ARGV[4]), tonumber(ARGV[5])
local applied, skipped, duplicates, dead = 0, 0, 0, 0
local deltas, highest, votes = {}, {}, {}

local function add(talk, value, n)
  local t = deltas[talk]
  if not t then t = {}; deltas[talk] = t end
  t[value] = (t[value] or 0) + n
end

local function newer(a_ms, a_id, b_ms, b_id)
  return a_ms > b_ms or (a_ms == b_ms and a_id > b_id)
end

local function vote(talk, value, voter, ms, id)
  local vkey = votes_prefix .. talk
  local slot = vkey .. '\0' .. voter
  local current = votes[slot]
  if current == nil then current = redis.call('HGET', vkey, voter) or false end
  if current then
    local c_value, c_ms, c_id = string.match(current, '^(%d)|(%d+)|(.+)$')
    if newer(ms, id, tonumber(c_ms), c_id) then
      add(talk, c_value, -1)
      add(talk, value, 1)
      votes[slot] = value .. '|' .. string.format('%d', ms) .. '|' .. id
    end
  else
    add(talk, value, 1)
    votes[slot] = value .. '|' .. string.format('%d', ms) .. '|' .. id
  end
end

for _, part in ipairs(batch) do
  local name, first, top, size = part.name, part.first, part.top, part.size
  local last = tonumber(redis.call('HGET', KEYS[1], name) or '-1')
  if last >= top then
    skipped = skipped + size
  elseif last < first then
    for talk, counts in pairs(part.counts) do
      for value, n in pairs(counts) do
        add(talk, value, n)
        applied = applied + n
      end
    end
    for _, r in ipairs(part.voters) do
      vote(r[1], r[2], r[3], r[4], r[5])
      applied = applied + 1
    end
    duplicates = duplicates + part.duplicates
    dead = dead + part.dead
    highest[name] = top
  elseif part.records == nil then
    return 'DETAIL'
  else
    for _, r in ipairs(part.records) do
      local offset, kind = r[1], r[2]
      if offset <= last then
        skipped = skipped + 1
      elseif kind == 'r' then
        add(r[3], r[4], 1)
        applied = applied + 1
      elseif kind == 'v' then
        vote(r[3], r[4], r[5], r[6], r[7])
        applied = applied + 1
      elseif kind == 'x' then
        duplicates = duplicates + 1
      else
        dead = dead + 1
      end
    end
    highest[name] = top
  end
end

local histograms = {}
for talk, _ in pairs(deltas) do
  local h = redis.pcall('HMGET', prefix .. talk, '1', '2', '3', '4', '5')
  if h.err then return redis.error_reply('WRONGTYPE ' .. prefix .. talk .. ' is not a hash') end
  histograms[talk] = h
end
for slot, value in pairs(votes) do
  local vkey, voter = string.match(slot, '^(.-)%z(.*)$')
  redis.call('HSET', vkey, voter, value)
end
local scored, unscored, values = {}, {}, {'1', '2', '3', '4', '5'}
for talk, counts in pairs(deltas) do
  local h, fields, changed = histograms[talk], {}, 0
  local n, sum = 0, 0
  for v = 1, 5 do
    local c = tonumber(h[v]) or 0
    local change = counts[values[v]]
    if change and change ~= 0 then
      c = c + change
      fields[changed + 1] = values[v]
      fields[changed + 2] = c  -- a whole number: passed on as its digits
      changed = changed + 2
    end
    n = n + c
    sum = sum + v * c
  end
  if changed > 0 then redis.call('HSET', prefix .. talk, unpack(fields)) end
  if n > 0 then
    scored[#scored + 1] = string.format('%.17g', (prior_mean * prior_weight + sum) / (prior_weight + n))
    scored[#scored + 1] = talk
  else
    unscored[#unscored + 1] = talk
  end
end
-- ZADD and ZREM take many members at once; in slices, as Lua's unpack has a bounded stack.
for i = 1, #scored, 1000 do
  redis.call('ZADD', KEYS[3], unpack(scored, i, math.min(i + 999, #scored)))
end
for i = 1, #unscored, 1000 do
  redis.call('ZREM', KEYS[3], unpack(unscored, i, math.min(i + 999, #unscored)))
end
for name, top in pairs(highest) do
  redis.call('HSET', KEYS[1], name, string.format('%d', top))
end
return {applied, skipped, duplicates, dead}
"""

# Replaces the whole read model with a rebuilt one in one atomic step.
_REPLACE_ALL = (
    _SCORE
    + """
local state = cjson.decode(ARGV[1])
local prefix, votes_prefix = ARGV[2], ARGV[3]
for _, key in ipairs(state.stale) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1], KEYS[3])
for talk, counts in pairs(state.histograms) do
  for value, n in pairs(counts) do
    if n > 0 then redis.call('HSET', prefix .. talk, value, n) end
  end
  rescore(talk)
end
for talk, voters in pairs(state.votes) do
  for voter, vote in pairs(voters) do redis.call('HSET', votes_prefix .. talk, voter, vote) end
end
for name, offset in pairs(state.offsets) do
  redis.call('HSET', KEYS[1], name, string.format('%d', offset))
end
return 1
"""
)


_PREFIXES_AND_PRIOR = (HISTOGRAM_PREFIX, VOTES_PREFIX, str(PRIOR_MEAN), str(PRIOR_WEIGHT))


class RedisReadModel:
    """RatingsReadModel on one lazily created, pooled Redis client."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    @property
    def client(self) -> redis.Redis:
        """The Redis client, created on first use and reused for the life of the process."""
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
            )
            self._scripts = {
                "apply": self._client.register_script(_APPLY_BATCH),
                "replace": self._client.register_script(_REPLACE_ALL),
            }
        return self._client

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's current histogram (zeros when it has no ratings)."""
        try:
            stored = self.client.hmget(HISTOGRAM_PREFIX + talk_id, RATING_VALUES)
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return Histogram.from_counts(dict(zip(RATING_VALUES, stored, strict=True)))

    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        """Apply a batch atomically, skipping every record at or below its partition's offset.

        One round trip in the usual case (no record of the batch was applied before); a batch
        that a redelivery cut differently, part applied and part new, takes a second one.
        """
        partitions = _aggregated(batch)
        if not partitions:
            return ProjectionResult(0, 0, 0)
        reply = self._run_apply(partitions)
        if reply == b"DETAIL":
            for name, records in _detailed(batch).items():
                partitions[name]["records"] = records
            reply = self._run_apply(partitions)
        applied, skipped, duplicates, dead = reply
        return ProjectionResult(int(applied), int(skipped), int(dead), int(duplicates))

    def _run_apply(self, partitions: dict[str, dict[str, Any]]) -> Any:
        payload = json.dumps(list(partitions.values()), separators=(",", ":"))
        client = self.client  # registers the scripts on first use
        try:
            return self._scripts["apply"](
                keys=[OFFSETS_KEY, REBUILD_LOCK_KEY, LEADERBOARD_KEY],
                args=[payload, *_PREFIXES_AND_PRIOR],
                client=client,
            )
        except redis.ResponseError as error:
            if str(error).startswith("REBUILDING"):
                raise ReadModelRebuilding(str(error)) from error
            raise
        except redis.RedisError as error:
            raise BackendUnavailable(f"the read model is unreachable: {error}") from error

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        """The histograms of several talks, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for talk_id in talk_ids:
            pipe.hmget(HISTOGRAM_PREFIX + talk_id, RATING_VALUES)
        try:
            stored = pipe.execute()
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return {
            talk_id: Histogram.from_counts(dict(zip(RATING_VALUES, counts, strict=True)))
            for talk_id, counts in zip(talk_ids, stored, strict=True)
        }

    def leaderboard(self, limit: int, among: list[str] | None = None) -> list[tuple[str, float]]:
        """The best talks by Bayesian average, best first; `among` restricts to those talks."""
        try:
            if among is None:
                ranked: list[tuple[bytes, float]] = self.client.zrevrange(  # type: ignore[assignment]
                    LEADERBOARD_KEY, 0, limit - 1, withscores=True
                )
                return [(talk.decode(), float(score)) for talk, score in ranked]
            scores = self.client.zmscore(LEADERBOARD_KEY, among) if among else []
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error
        scored = [(t, float(s)) for t, s in zip(among, scores, strict=True) if s is not None]
        return sorted(scored, key=lambda item: (-item[1], item[0]))[:limit]

    def forget_talk(self, talk_id: str) -> None:
        """Take a removed talk off the leaderboard (its histogram stays, like its events)."""
        try:
            self.client.zrem(LEADERBOARD_KEY, talk_id)
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error

    def was_accepted(self, event_id: str) -> bool:
        """True when the API accepted the event within the last hour."""
        try:
            return bool(self.client.exists(ACCEPTED_PREFIX + event_id))
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error

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

    def lock_for_rebuild(self) -> bool:
        """Hold the projector off (its batches fail and are retried) while a rebuild runs."""
        return bool(self.client.set(REBUILD_LOCK_KEY, "1", nx=True, ex=REBUILD_LOCK_SECONDS))

    def unlock_after_rebuild(self) -> None:
        """Let the projector apply batches again."""
        self.client.delete(REBUILD_LOCK_KEY)

    def replace_all(self, state: ReadModelState) -> None:
        """Replace every histogram and offset with the rebuilt ones, atomically.

        Call it holding the rebuild lock: no batch can add a histogram between the scan for the
        existing ones and the replacement.
        """
        client = self.client
        stale = [
            key.decode()
            for prefix in (HISTOGRAM_PREFIX, VOTES_PREFIX)
            for key in client.scan_iter(match=prefix + "*", count=1000)
        ]
        payload = json.dumps(
            {
                "histograms": state.histograms,
                "offsets": state.offsets,
                "votes": state.votes,
                "stale": stale,
            }
        )
        self._scripts["replace"](
            keys=[OFFSETS_KEY, REBUILD_LOCK_KEY, LEADERBOARD_KEY],
            args=[payload, *_PREFIXES_AND_PRIOR],
            client=client,
        )

    def memory(self) -> ReadModelMemory:
        """How full Redis is and how it evicts (INFO memory: one round trip, allowed on
        ElastiCache, where CONFIG is not)."""
        try:
            info: dict[str, Any] = self.client.info("memory")
        except redis.RedisError as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return ReadModelMemory(
            used_bytes=int(info.get("used_memory", 0)),
            max_bytes=int(info.get("maxmemory", 0)),
            policy=str(info.get("maxmemory_policy", "unknown")),
        )

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


def _aggregated(batch: ProjectionBatch) -> dict[str, dict[str, Any]]:
    """The batch per partition in the aggregated form the apply script takes (see there)."""
    partitions: dict[str, dict[str, Any]] = {}

    def partition(name: str, offset: int) -> dict[str, Any]:
        part = partitions.get(name)
        if part is None:
            part = partitions[name] = {
                "name": name,
                "first": offset,
                "top": offset,
                "size": 0,
                "counts": {},
                "voters": [],
                "duplicates": 0,
                "dead": 0,
            }
        part["size"] += 1
        part["first"] = min(part["first"], offset)
        part["top"] = max(part["top"], offset)
        return part

    for rating in batch.ratings:
        event = rating.event
        part = partition(rating.position, rating.offset)
        if rating.duplicate:
            part["duplicates"] += 1
        elif event.voter_id is not None:
            part["voters"].append(_vote(event))
        else:
            counts = part["counts"].setdefault(event.talk_id, {})
            value = str(event.value)
            counts[value] = counts.get(value, 0) + 1
    for letter in batch.dead_letters:
        partition(letter.position, letter.offset)["dead"] += 1
    return partitions


def _detailed(batch: ProjectionBatch) -> dict[str, list[list[Any]]]:
    """Every record of the batch per partition, with its offset and kind (see the apply script)."""
    partitions: dict[str, list[list[Any]]] = {}
    for rating in batch.ratings:
        event = rating.event
        record: list[Any] = [rating.offset, "r", event.talk_id, str(event.value)]
        if rating.duplicate:
            record[1] = "x"
        elif event.voter_id is not None:
            record[1:] = ["v", *_vote(event)]
        partitions.setdefault(rating.position, []).append(record)
    for letter in batch.dead_letters:
        partitions.setdefault(letter.position, []).append([letter.offset, "d"])
    return partitions


def _vote(event: RatingSubmitted) -> list[Any]:
    """A voter's rating as the apply script takes it: talk, value, voter, occurredMs, eventId."""
    return [event.talk_id, str(event.value), event.voter_id, event.occurred_ms, str(event.event_id)]
