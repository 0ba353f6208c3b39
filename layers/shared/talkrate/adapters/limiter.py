"""Rate limits in Redis: one counter per subject and minute, checked and counted in one script.

A request is counted against each of its limits only when none is used up, so a refused request
counts for nothing (not even against the limit). A counter lives for the minute that starts with
its first request (fixed window): at most twice a limit can pass across a window's edge, which is
as precise as a room's limit needs to be, for one key and one round trip per subject. The same
round trip remembers an admitted rating as accepted (for GET /ratings/{eventId}), which POST
/ratings did with a round trip of its own before there were limits.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException

from talkrate.adapters.redis_store import (
    ACCEPTED_PREFIX,
    ACCEPTED_SECONDS,
    BUILT_KEY,
    ReadModelClient,
    SharedClient,
    slot_mark,
    unreachable_as_backend_error,
)
from talkrate.errors import BackendUnavailable
from talkrate.values import Admission, Limit

if TYPE_CHECKING:
    from talkrate.container_limits import ContainerLimits

_T = TypeVar("_T")

_HERE_MADE = threading.Lock()  # RedisRequestLimiter.admit_here's counts, made once

# limit/{limits}/<scope>/<subject>: requests in the current minute. One hash tag for every
# counter: a request's limits are checked and counted in one script, which a Redis Cluster runs
# only on keys of one slot (so on a cluster one shard does all the counting).
LIMIT_PREFIX = "limit/{limits}/"
WINDOW_MS = 60_000

# limit/{limits}/forgotten/<pseudonym>: a voter `ops forget-voter` filed away (never expires).
# In the counters' slot, so the check is one more key in the script the request runs anyway.
FORGOTTEN_PREFIX = LIMIT_PREFIX + "forgotten/"

# The read model's built mark in the counters' slot: BUILT_KEY on one Redis, its slot's mark
# (slot_mark) on a cluster. Set by a rebuild after it wrote the forgotten voters' marks again: a
# Redis without it may have lost them (flushed, restarted empty), and its "no mark" says nothing.
LIMITS_BUILT_MARK = slot_mark("43202")  # (the first number whose slot is the counters')

# KEYS: the counters, then (optional) a forgotten voter's mark and the built mark of its slot,
# then (optional) the accepted marker. ARGV: how many counters, the window (ms), the marker's
# lifetime (s), whether a mark is given (0/1), then each counter's limit. Answers {1}; {0, ms to
# wait, the place (from 1) of the counter used up}; {2} when the mark is there; or {3} when the
# built mark is not (the marks may be lost: whether the voter was forgotten is not known here).
# Nothing is counted with {2} or {3}.
_ADMIT = """
local n, window, marked = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
if marked == 1 then
  if redis.call('EXISTS', KEYS[n + 1]) == 1 then return {2} end
  if redis.call('EXISTS', KEYS[n + 2]) == 0 then return {3} end
end
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[4 + i]) then
    local wait = redis.call('PTTL', KEYS[i])
    if wait < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      wait = window
    end
    return {0, wait, i}
  end
end
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], window) end
end
if #KEYS > n + 2 * marked then
  redis.call('SET', KEYS[n + 2 * marked + 1], '1', 'EX', tonumber(ARGV[3]))
end
return {1}
"""


# KEYS: the counters, then (optional) the accepted marker. ARGV: how many counters. Takes back
# one request from each counter still in its window (a counter of a window that ended is gone,
# and stays gone), and drops the marker.
_GIVE_BACK = """
local n = tonumber(ARGV[1])
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
if #KEYS > n then redis.call('DEL', KEYS[n + 1]) end
return 1
"""


def _answered(call: Callable[[], _T], refused: str) -> _T:
    """`call`'s answer from Redis: ReadModelUnreachable when Redis does not answer (as the read
    model's calls tell it: unreachable_as_backend_error), BackendUnavailable ("`refused`: ...")
    when it answers with a refusal (full, read-only, a user who may not)."""
    try:
        return unreachable_as_backend_error(call)()
    except (redis.RedisError, RedisClusterException) as error:
        raise BackendUnavailable(f"{refused}: {error}") from error


def limit_key(limit: Limit) -> str:
    """The counter of one limit's subject."""
    return f"{LIMIT_PREFIX}{limit.scope}/{limit.subject}"


def forgotten_key(pseudonym: str) -> str:
    """The mark of a forgotten voter, by the id their ratings are filed under."""
    return FORGOTTEN_PREFIX + pseudonym


class RedisRequestLimiter:
    """RequestLimiter on the read model's Redis client."""

    def __init__(self, client: ReadModelClient | SharedClient, window_ms: int = WINDOW_MS) -> None:
        self._client = client
        # On a cluster the accepted marker (its own slot) is set after the script, not in it.
        self._cluster = isinstance(client, RedisCluster) or (
            isinstance(client, SharedClient) and client.is_cluster
        )
        self._window_ms = window_ms
        self._script: Any = None
        self._give_back: Any = None
        # Made at the first request Redis cannot count (its module is not loaded at init).
        self._here: ContainerLimits | None = None

    def admit(
        self,
        limits: list[Limit],
        accepted_event_id: str | None = None,
        forgotten: str | None = None,
    ) -> Admission:
        """Count the request against every limit unless one is used up (then count nothing);
        an admitted rating is remembered as accepted in the same round trip. With `forgotten`
        (a voter's pseudonym), the request is refused (barred) when that voter was forgotten, and
        counts nothing (`unknown`) when Redis holds no built read model: it may have lost the
        marks, so the caller asks the event store."""
        active = [limit for limit in limits if limit.per_minute > 0]
        keys = [limit_key(limit) for limit in active]
        if forgotten is not None:
            keys += [forgotten_key(forgotten), LIMITS_BUILT_MARK if self._cluster else BUILT_KEY]
        marker = None if accepted_event_id is None else ACCEPTED_PREFIX + accepted_event_id
        if marker is not None and not self._cluster:
            keys.append(marker)
        args = [len(active), self._window_ms, ACCEPTED_SECONDS, int(forgotten is not None)]
        args += [limit.per_minute for limit in active]
        try:
            if self._script is None:  # (a shared client not made yet is made here: see its class)
                self._script = self._client.register_script(_ADMIT)
            reply = self._counted(keys, args) if keys else [1]
            if int(reply[0]) == 1 and marker is not None and self._cluster:
                self._client.set(marker, "1", ex=ACCEPTED_SECONDS)
        except (redis.RedisError, RedisClusterException) as error:
            raise BackendUnavailable(f"the rate limits are unreachable: {error}") from error
        if int(reply[0]) == 1:
            return Admission(True)
        if int(reply[0]) == 2:
            return Admission(False, barred=True)
        if int(reply[0]) == 3:
            return Admission(False, unknown=True)
        # The limit used up (a script of an older version names none).
        full = active[int(reply[2]) - 1] if len(reply) > 2 else None
        return Admission(False, max(1, math.ceil(int(reply[1]) / 1000)), full)

    def _counted(self, keys: list[str], args: list[Any]) -> Any:
        """The admission script's answer. On a cluster it is sent to its slot's node once: when
        the cluster answers CLUSTERDOWN (a shard lost, or a primary not yet replaced), redis-py
        tries a call again ten times, each after a quarter of a second and a reading of the
        slots (2.8 s a request, then counted by the container all the same); a call given its
        node is tried once (redis-py's rule: its node may be gone after a reading of the slots).
        It still follows a MOVED or an ASK (a slot moved), and its failure reads the slots again
        for the next request; a primary lost has the requests of its failover counted by each
        container (`admit_here`), as whenever Redis does not answer."""
        if not self._cluster:
            return self._script(keys=keys, args=args, client=self._client)
        node = self._client.get_node_from_key(keys[0])  # type: ignore[union-attr]
        call = ("EVALSHA", self._script.sha, len(keys), *keys, *args)
        try:
            return self._client.execute_command(*call, target_nodes=node)
        except NoScriptError:  # (a node that lost its scripts: a restart, a replica promoted)
            self._client.script_load(_ADMIT)
            return self._client.execute_command(*call, target_nodes=node)

    def bar(self, pseudonym: str) -> None:
        """Mark a voter forgotten (`ops forget-voter`): from now on `admit` with their pseudonym
        refuses them, on every route that asks. ReadModelUnreachable when Redis does not answer
        (as the read model's calls tell it), BackendUnavailable when it answers with a refusal
        (full under noeviction, read-only, a user who may not write the mark)."""
        _answered(lambda: self._client.set(forgotten_key(pseudonym), "1"), "Redis refused the mark")

    def unbarred(self, pseudonyms: list[str]) -> list[str]:
        """Which of these forgotten voters' marks Redis lost while keeping its read model (one
        pipelined EXISTS each, between two of the built mark admission reads, in one round
        trip: every mark is in the limits' slot, and a flush among them finds the second one
        gone; not a transaction, which Redis refuses when full). None when it holds no built
        read model: the rebuild sets every mark again, and the API asks PostgreSQL until then.
        ReadModelUnreachable when Redis does not answer, BackendUnavailable when it refuses."""
        if not pseudonyms:
            return []
        built = LIMITS_BUILT_MARK if self._cluster else BUILT_KEY

        def held() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.exists(built)
            for pseudonym in pseudonyms:
                pipe.exists(forgotten_key(pseudonym))
            pipe.exists(built)
            return list(pipe.execute())

        found = _answered(held, "Redis refused to say which marks it holds")
        built_before, marks, built_after = found[0], found[1:-1], found[-1]
        if not (int(built_before) and int(built_after)):
            return []
        return [pseudonym for pseudonym, n in zip(pseudonyms, marks, strict=True) if not int(n)]

    def forgotten_marks(self) -> list[str]:
        """The pseudonyms of every forgotten voter this Redis holds a mark of (a SCAN of the
        keyspace, for an operator's command: never on a request's path)."""
        try:
            return sorted(
                name[len(FORGOTTEN_PREFIX) :]
                for key in self._client.scan_iter(match=FORGOTTEN_PREFIX + "*", count=1000)
                if (name := key.decode() if isinstance(key, bytes) else str(key))
            )
        except (redis.RedisError, RedisClusterException) as error:
            raise BackendUnavailable(f"the read model is unreachable: {error}") from error

    def give_back(self, limits: list[Limit], event_id: str) -> None:
        """Undo an admission whose rating was not stored after all: the request counts against
        no limit (a retry after the outage is not refused for it), and is not accepted."""
        keys = [limit_key(limit) for limit in limits if limit.per_minute > 0]
        marker = ACCEPTED_PREFIX + event_id
        try:
            if self._give_back is None:
                self._give_back = self._client.register_script(_GIVE_BACK)
            if keys:
                counters = len(keys)
                if not self._cluster:
                    keys.append(marker)
                self._give_back(keys=keys, args=[counters], client=self._client)
            if self._cluster or not keys:
                self._client.delete(marker)
        except (redis.RedisError, RedisClusterException) as error:
            raise BackendUnavailable(f"the read model is unreachable: {error}") from error

    def admit_here(self, limits: list[Limit]) -> Admission:
        """Count the request by this container alone, while Redis cannot count it
        (talkrate.container_limits)."""
        if self._here is None:
            with _HERE_MADE:  # (the first two requests Redis failed at once count in one)
                if self._here is None:
                    from talkrate.container_limits import ContainerLimits

                    self._here = ContainerLimits(self._window_ms / 1000)
        return self._here.admit(limits)

    def give_back_here(self, limits: list[Limit]) -> None:
        """Undo an `admit_here` whose rating was not stored after all."""
        if self._here is not None:
            self._here.give_back(limits)
