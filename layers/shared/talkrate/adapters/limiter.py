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
from typing import Any

import redis

from talkrate.adapters.redis_store import ACCEPTED_PREFIX, ACCEPTED_SECONDS
from talkrate.errors import BackendUnavailable
from talkrate.ports import Admission, Limit

LIMIT_PREFIX = "limit/"  # limit/<scope>/<subject>: requests in the current minute
WINDOW_MS = 60_000

# KEYS: the counters, then (optional) the accepted marker. ARGV: how many counters, the window
# (ms), the marker's lifetime (s), then each counter's limit. Answers {1} or {0, ms to wait}.
_ADMIT = """
local n, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[3 + i]) then
    local wait = redis.call('PTTL', KEYS[i])
    if wait < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      wait = window
    end
    return {0, wait}
  end
end
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], window) end
end
if #KEYS > n then redis.call('SET', KEYS[n + 1], '1', 'EX', tonumber(ARGV[3])) end
return {1}
"""


def limit_key(limit: Limit) -> str:
    """The counter of one limit's subject."""
    return f"{LIMIT_PREFIX}{limit.scope}/{limit.subject}"


class RedisRequestLimiter:
    """RequestLimiter on the read model's Redis client."""

    def __init__(self, client: redis.Redis, window_ms: int = WINDOW_MS) -> None:
        self._client = client
        self._window_ms = window_ms
        self._script: Any = None

    def admit(self, limits: list[Limit], accepted_event_id: str | None = None) -> Admission:
        """Count the request against every limit unless one is used up (then count nothing);
        an admitted rating is remembered as accepted in the same round trip."""
        active = [limit for limit in limits if limit.per_minute > 0]
        keys = [limit_key(limit) for limit in active]
        if accepted_event_id is not None:
            keys.append(ACCEPTED_PREFIX + accepted_event_id)
        if not keys:
            return Admission(True)
        if self._script is None:
            self._script = self._client.register_script(_ADMIT)
        args = [len(active), self._window_ms, ACCEPTED_SECONDS]
        args += [limit.per_minute for limit in active]
        try:
            reply = self._script(keys=keys, args=args, client=self._client)
        except redis.RedisError as error:
            raise BackendUnavailable(f"the rate limits are unreachable: {error}") from error
        if int(reply[0]) == 1:
            return Admission(True)
        return Admission(False, max(1, math.ceil(int(reply[1]) / 1000)))

    def forget_accepted(self, event_id: str) -> None:
        """Drop the accepted marker of a rating that was not stored after all."""
        try:
            self._client.delete(ACCEPTED_PREFIX + event_id)
        except redis.RedisError as error:
            raise BackendUnavailable(f"the read model is unreachable: {error}") from error
