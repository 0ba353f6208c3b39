"""Redis: the read model (a histogram hash per talk with its applied offsets, and the leaderboard).

Key layout (docs/decisions.md, 2026-12-01): every key of a talk carries the talk id as its hash
tag, so a talk's keys share one slot of a Redis Cluster and one script updates them atomically:

- `ratings/{<talkId>}`: a hash of value ("1".."5") -> count, and "<topic>-<partition>" -> the last
  offset of that partition applied to this talk (so a talk's update is idempotent on its shard);
  and "revision", the number of records applied to the talk (a changed vote too): pages and
  `talkrate simulate --verify` tell a newer state from an older one by it;
- `votes/{<talkId>}`: voterId -> "value|occurredMs|eventId", the vote that counts;
- `leaderboard`: talk id scored by its Bayesian average, always written as an absolute score;
  on a cluster, `{leaderboard}/revisions` (same slot) keeps the talk's revision each score was read
  at, so a batch that read a talk earlier never writes over a later batch's score;
- `projector/offsets`: "<topic>-<partition>" -> the offset up to which whole batches were applied
  (dead letters and duplicates, which belong to no talk, are judged against it);
- `projector/rebuilding`: held while the read model is rebuilt;
- `rebuilt/<key>`: a rebuild's keys before its swap renames them over `<key>` (same hash tag),
  and `rebuilt/ready` (on a cluster `rebuilt/ready/{<n>}` in each slot it swaps), holding the
  rebuild's token until its swap;
- `projector/built`: set by a rebuild (a Redis without it lost the read model); on a cluster also
  `projector/built/{<n>}` in every one of the 16,384 slots, so a shard that loses its data loses
  marks of its own with it. A batch's apply refuses to write where the mark of its slot is
  missing (NOTBUILT): Redis lost its data after the projector looked, and the retry rebuilds.

One Redis or a Redis Cluster, chosen by the URL: `redis://host:port?cluster=true` (or `rediss://`).
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import (
    ClusterDownError,
    ClusterError,
    NoScriptError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from talkrate.adapters.cluster_client import (
    BoundedCluster,
    BudgetedConnection,
    BudgetedSSLConnection,
    ClusterDownOnRead,
    answered_once,
)
from talkrate.errors import (
    BackendUnavailable,
    ReadModelNotBuilt,
    ReadModelRebuilding,
    ReadModelUnreachable,
    RebuildLockLost,
    RebuildNotSwapped,
)
from talkrate.events import Rating
from talkrate.leaderboard import PRIOR_MEAN, PRIOR_WEIGHT
from talkrate.observability import logger
from talkrate.projected import (
    LOCK_HOLDERS,
    LockHolder,
    ProjectionBatch,
    ProjectionResult,
    ReadModelMemory,
    ReadModelState,
    RebuildLock,
)
from talkrate.redis_urls import UNREAD_OPTION, misread
from talkrate.values import RATING_VALUES, Histogram, ReadableHistograms

_Method = TypeVar("_Method", bound=Callable[..., Any])
_Read = TypeVar("_Read")

# What a call raises when Redis gives no answer: redis-py's errors, and a cluster client's own
# (RedisClusterException, which is no RedisError: "Redis Cluster cannot be connected" when no
# node it knows answers, as its client is made or when it looks for the cluster's nodes again).
_UNANSWERED = (redis.RedisError, RedisClusterException)


def unreachable_as_backend_error(method: _Method) -> _Method:
    """Redis not answering (away, BUSY with a long script, or a cluster that serves no command
    just now) becomes ReadModelUnreachable, a BackendUnavailable, which callers (the operator's
    commands among them) turn into one line instead of a connection library's traceback (and on
    which the projector says on the live channel that the counts cannot be read just now).

    A cluster's refusals are as passing as a refused connection: CLUSTERDOWN (MasterDownError
    is one) while a primary is lost and its replica not yet promoted (a failover), and TRYAGAIN
    (or the client's "TTL exhausted" after its redirections) while a slot moves, once the
    batch's own wait for it (SLOT_MOVE_WAIT_S) is over. A method that waits out BUSY itself
    (unlock_after_rebuild, replace_all's swap) only gets here once it has given up."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, RedisClusterException) as error:
            raise ReadModelUnreachable(f"Redis (the read model) is unreachable: {error}") from error
        except ClusterDownError as error:
            raise ReadModelUnreachable(
                "Redis (the read model) is unreachable: the cluster is failing over (a primary "
                "lost, its replica not yet promoted) or lost a shard, and serves no command "
                f"until every slot is served again ({error}): try again in a moment"
            ) from error
        except (TryAgainError, ClusterError) as error:
            raise ReadModelUnreachable(
                "Redis (the read model) is unreachable: the cluster is moving a slot "
                f"(TRYAGAIN) and did not serve it in time ({error}): try again in a moment"
            ) from error
        except redis.ResponseError as error:
            if not _busy(error):
                raise
            raise ReadModelUnreachable(
                "Redis (the read model) is busy running a long script (BUSY) and answers no "
                "command until it ends (or `SCRIPT KILL` stops it): try again then"
            ) from error

    return guarded  # type: ignore[return-value]


LEADERBOARD_KEY = "leaderboard"  # talk id scored by its Bayesian average
# On a cluster: talk id -> the revision of the talk's state its leaderboard score was read at
# (the hash tag puts it in the leaderboard's slot).
RANKED_REVISIONS_KEY = "{leaderboard}/revisions"
OFFSETS_KEY = "projector/offsets"  # "topic-partition" -> offset up to which batches were applied
REBUILD_LOCK_KEY = "projector/rebuilding"
# Set when the read model is built from the event store (a rebuild's swap, which the projector
# runs itself when the key is missing): a Redis without it lost the read model, or never had one.
BUILT_KEY = "projector/built"
# A rebuild renews its lock at each step of its read (every 5,000 events): a lock that lasted
# longer would, when the rebuilding process dies (a Lambda's timeout, out of memory), hold the
# projector off (and every other rebuild) that much longer.
REBUILD_LOCK_SECONDS = 60
# A rebuild writes the rebuilt keys under this prefix and its own token (`rebuilt/<token>/...`,
# staged_key: two rebuilds never share a key), then renames them over the live ones (_SWAP);
# its ready mark (a cluster: one in each slot swapped) holds its token until the swap, then
# _SWAPPED until the rebuild drops it.
STAGED_PREFIX = "rebuilt/"
_SWAPPED = "swapped"
_STAGED_SLICE = 1000  # fields (a talk's votes, the leaderboard's talks) written by one command
# How long a rebuild waits for Redis to answer again after its swap's (or its unlock's) call was
# cut by a timeout or BUSY, to find out whether the swap happened and to release its lock.
SWAP_ANSWER_WAIT_S = 30.0
SOCKET_TIMEOUT_S = 5.0  # a command's answer taken as lost after this long
REPLICA_WAIT_MS = 1000  # how long a shard may take to confirm a batch on its replicas
# A read of the programme or the leaderboard that every shard of a cluster refused (CLUSTERDOWN:
# a failover under way) is made again every FAILOVER_STEP_S until the cluster answers, a read
# again begun no later than FAILOVER_RIDE_S after the read's start. On the test cluster a primary
# killed made every node refuse for 0.64 to 0.88 s (five kills, a quiet machine); Redis's replica
# asks for the votes 0.5 to 1 s after it sees its primary fail, whatever the node timeout. 4 s
# holds that window on a machine three times slower (2.7 s) with a second and more to spare; the
# last read again is bounded as any call (socket timeout and REFRESH_WAIT_S: 6 s), so a read
# ends within 10 s, inside the function's 12 s and a page's 15 s (docs/decisions.md, 2026-12-07).
FAILOVER_STEP_S = 0.25
FAILOVER_RIDE_S = 4.0
LIVE_REPLICAS_SECONDS = 10.0  # how long one Redis's count of its replicas is taken as it was
# How long a batch's call waits for its slot while the cluster moves it (TRYAGAIN: the talk's keys
# are half moved), trying again every SLOT_MOVE_RETRY_S, before the batch fails.
SLOT_MOVE_WAIT_S = 10.0
SLOT_MOVE_RETRY_S = 0.1
ACCEPTED_PREFIX = "accepted/"  # accepted/<eventId>: taken by the API, waiting for the projector
# Short: once projected, the event store answers; the marker only covers the seconds (minutes,
# when the projector is behind) between the 202 and the projection. Set by the rate limiter's
# round trip (talkrate.adapters.limiter).
ACCEPTED_SECONDS = 3600
HISTOGRAM_PATTERN = "ratings/{*}"
VOTES_PATTERN = "votes/{*}"

ReadModelClient = redis.Redis | RedisCluster


def histogram_key(talk_id: str) -> str:
    """The talk's histogram hash (its applied offsets beside the counts), in the talk's slot."""
    return f"ratings/{{{talk_id}}}"


def votes_key(talk_id: str) -> str:
    """The talk's voters' current votes, in the talk's slot."""
    return f"votes/{{{talk_id}}}"


def talk_of(key: str) -> str:
    """The talk id of a talk's key (the hash tag between the braces)."""
    return key[key.index("{") + 1 : key.rindex("}")]


@dataclass(frozen=True)
class RedisUrl:
    """A read model URL: redis-py's URL, and talkrate's own query options taken out of it.

    `cluster=true`: a Redis Cluster (such as ElastiCache Serverless). `replicas=N`: on a
    cluster, a batch counts as applied only once up to N replicas of each shard it wrote have it
    (Redis `WAIT`; a shard with fewer live replicas waits for those it has), so a primary lost
    right after a batch cannot take the batch with it while it had a replica; on one Redis (a
    primary with replicas, such as ElastiCache with cluster mode off and automatic failover),
    once N replicas have it, or the batch fails and is retried. `nodes=host:port,host:port`: on a
    cluster, more nodes to ask for the cluster's slots when its client is made, beside the URL's
    own (a cluster without one stable address: a client made while the URL's node is down, its
    replica promoted, asks the others; ElastiCache Serverless has one address and needs none).
    """

    url: str
    cluster: bool = False
    replicas: int = 0
    nodes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def parse(cls, url: str) -> RedisUrl:
        """Split talkrate's options off the URL (redis-py would refuse them).

        BackendUnavailable, naming RATINGS_CONNECTION and never its value, for a URL redis-py
        cannot read or would read other than as written (talkrate.redis_urls).
        """
        if problem := misread(url):
            raise BackendUnavailable(problem)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {k: v for k, v in query if k in ("cluster", "replicas", "nodes")}
        if not ours:
            return cls(url)
        replicas = ours.get("replicas") or "0"
        if not replicas.isdigit():
            raise BackendUnavailable(UNREAD_OPTION)
        cluster = ours.get("cluster", "").lower() in ("true", "1", "yes")
        if "nodes" in ours and not cluster:  # one Redis has no other nodes to ask
            raise BackendUnavailable(UNREAD_OPTION)
        rest = urlencode([(k, v) for k, v in query if k not in ours])
        return cls(
            urlunsplit(parts._replace(query=rest)),
            cluster,
            int(replicas),
            _nodes(ours.get("nodes", "")),
        )


_NODE_HOST = re.compile(r"[A-Za-z0-9.-]+|[0-9A-Fa-f:.]+")


def _nodes(listed: str) -> tuple[tuple[str, int], ...]:
    """The `nodes` option's host:port pairs (a host may be a bracketed IPv6 address);
    BackendUnavailable naming the setting for one that is no such pair."""
    nodes = []
    for node in filter(None, (part.strip() for part in listed.split(","))):
        host, _, port = node.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        # A host name or an IP address, nothing else: no `user:password@` (percent-encoded, it
        # decodes to a host that connection errors would quote)
        if not _NODE_HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
            raise BackendUnavailable(UNREAD_OPTION)
        nodes.append((host, int(port)))
    return tuple(nodes)


def checked(url: str) -> RedisUrl:
    """The URL read as `connect` reads it, without making a client: BackendUnavailable naming
    RATINGS_CONNECTION for one it cannot take (see `connect`)."""
    parsed = RedisUrl.parse(url)
    try:  # redis-py's own reading (untyped): a database or an option value it cannot cast
        parse_url(parsed.url)  # type: ignore[no-untyped-call]
    except ValueError:
        raise BackendUnavailable(UNREAD_OPTION) from None  # (its error may quote the URL)
    return parsed


def connect(url: str, **options: Any) -> ReadModelClient:
    """A client for the URL: a RedisCluster when it says `cluster=true`, else a plain Redis.

    The one place a Redis URL becomes a client (the functions, the local runtime, the operations
    command, the tests and the bench), so `?cluster=true` works wherever a URL is configured.
    A URL it cannot take is BackendUnavailable naming RATINGS_CONNECTION, never its value (it
    may hold a password): said as Redis being away (ratings 503 with Retry-After, reads from the
    event store, one line from the runtime and the commands), not a 500 on every rating.
    """
    parsed = checked(url)
    if parsed.cluster:
        others = [ClusterNode(host, port) for host, port in parsed.nodes]  # type: ignore[no-untyped-call]
        # Its nodes' connections bound each call's waits for answers that do not come
        # (talkrate.adapters.cluster_client). redis-py takes the class from the scheme (rediss://
        # is its SSLConnection, over any given), so the URL is handed over as redis:// with the
        # class of its scheme: the TLS options of its query go to that class as before.
        scheme, _, rest = parsed.url.partition("://")
        tls = scheme.lower() == "rediss"
        return BoundedCluster.from_url(
            f"redis://{rest}",
            startup_nodes=others,
            connection_class=BudgetedSSLConnection if tls else BudgetedConnection,
            **options,
        )
    client = redis.Redis.from_url(parsed.url, **options)
    # An option no connection takes (a typo, ?clustr=true) would fail each command with a
    # TypeError (a 500): one is made here, without connecting, so that it is said as the rest.
    pool = client.connection_pool
    try:
        pool.connection_class(**pool.connection_kwargs)
    except (TypeError, redis.RedisError):
        client.close()
        raise BackendUnavailable(UNREAD_OPTION) from None
    return client


def _of_topic(name: bytes, prefix: bytes) -> bool:
    """Whether an offset's field ("<topic>-<partition>") is of the topic of `prefix` ("<topic>-"),
    not of another topic whose name starts with it ("ratings-v2-0" is not of "ratings")."""
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


# Applies talks' parts of a batch atomically, and (when given the keys) judges the records that
# belong to no talk against the partition offsets, checks the rebuild lock and ranks the talks.
# On one Redis the whole batch is one call; on a cluster it is one call per slot (each talk's
# keys declared), then one call for the partition offsets, and the leaderboard written by the
# caller from the absolute scores returned.
# ARGV: payload, prior mean, prior weight, then the KEYS index of the rebuild lock, the partition
# offsets and the leaderboard (0 when not part of this call), and of the first talk key (each talk
# has two: its histogram, its votes), then the formats of a talk's two key names. A cluster needs
# every key declared; on one Redis the talks' keys are named by the script from the formats (base
# 0) instead: declaring two keys a talk cost the client about as much as the script's own work.
# (The parts of the names around the talk id: ARGV 8 and 9 the histogram's, 10 and 11 the votes'.)
# ARGV 12, when '1', adds the id of the node that ran the call to the reply. ARGV 13: the KEYS
# index of the built mark of the call's slot (BUILT_KEY on one Redis, slot_mark on a cluster):
# a call that finds it missing writes nothing and answers NOTBUILT.
# A talk's part of one partition comes aggregated (counts per value, voters' ratings listed), used
# when none of its records was applied before, or detailed (every record with its offset), used
# when the talk's applied offset falls inside it; when a part needs the detailed form and lacks
# it, the script writes nothing and answers DETAIL, and the caller sends it again in detail.
# The order of a voter's ratings, for the scripts that compare two of them: newer by occurredAt,
# then eventId; and a vote as the votes hash keeps it ("value|occurredMs|eventId") read into them.
_VOTE_ORDER = """
local function newer(a_ms, a_id, b_ms, b_id)
  return a_ms > b_ms or (a_ms == b_ms and a_id > b_id)
end

local function read_vote(kept)
  local value, ms, id = string.match(kept, '^(%d)|(-?%d+)|(.+)$')
  return value, tonumber(ms), id
end
"""

# A voter's rating replaces the voter's earlier one when it is newer (_VOTE_ORDER), whatever
# order the two arrive in. Everything is read before the first write (a key of another type
# fails the call there), because Redis does not roll back a script that fails halfway.
_APPLY = (
    _VOTE_ORDER
    + """
local p = cjson.decode(ARGV[1])
-- Locals for what the loops call a thousand times (a global is a table lookup each time).
local call, rpcall, tonumber, format = redis.call, redis.pcall, tonumber, string.format
local unpack = unpack
local prior_mean, prior_weight = tonumber(ARGV[2]), tonumber(ARGV[3])
local lock_i, marks_i, board_i, base = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]),
  tonumber(ARGV[7])
if lock_i > 0 and call('EXISTS', KEYS[lock_i]) == 1 then
  return redis.error_reply('REBUILDING the read model is being rebuilt')
end
-- ARGV 13: the KEYS index of the built mark of the slot this call writes (one Redis: its only
-- one). Without it Redis lost the read model (flushed, restarted empty) since the projector
-- looked: the batch would count onto nothing, so it is refused, retried, and rebuilt first.
local built_i = tonumber(ARGV[13] or '0')
if built_i > 0 and call('EXISTS', KEYS[built_i]) == 0 then
  return redis.error_reply('NOTBUILT the read model is not built (Redis lost it): rebuilt first')
end
local applied, skipped, duplicates, dead = 0, 0, 0, 0
local names = {'1', '2', '3', '4', '5'}

-- A voter's rating: replaces the voter's current vote when newer; `votes` caches what is read.
local function vote(vkey, votes, delta, value, voter, ms, id)
  local current = votes[voter]
  if current == nil then current = call('HGET', vkey, voter) or false end
  if current then
    local c_value, c_ms, c_id = read_vote(current)
    if not newer(ms, id, c_ms, c_id) then return end
    delta[tonumber(c_value)] = delta[tonumber(c_value)] - 1
  end
  delta[tonumber(value)] = delta[tonumber(value)] + 1
  votes[voter] = value .. '|' .. format('%d', ms) .. '|' .. id
end

-- p.n: the batch's partition names; p.r: each one's first and top offset in the batch, side by
-- side. p.t: the talks, one after the other in one flat array (one table for cjson to build, not
-- five per talk): talk id, number of parts, then per part (a talk's records from one partition):
-- the partition's place in p.n, the counts of values 1..5, the number of voters' ratings, -1 (no
-- detail) or the number of records in detail; then the voters' ratings, each as value, voter,
-- occurredMs, eventId; then the records in detail, each as its length and then offset, value
-- (and voter, occurredMs, eventId for a voter's rating). A part is judged by its partition's
-- range in the batch: before it, after it, or cut (then record by record).
-- The partition offsets, when this call has them: every record at or below one was applied (a
-- batch moves them only once all its talks are applied). A call that moves them in the same atomic
-- step (one Redis) needs nothing else; talks applied in calls of their own (a cluster's slots)
-- keep their own offsets too, since a batch can then be half applied.
local partition_offsets, own_offsets = {}, marks_i == 0
if marks_i > 0 then
  for _, m in ipairs(p.m) do
    partition_offsets[m[1]] = tonumber(call('HGET', KEYS[marks_i], m[1]) or '-1')
  end
end
-- What each talk's writes need, in arrays side by side, its counts as read, and the changes to
-- them in one flat array (five numbers a talk): no table per talk for the plan.
local t, pn, pr, i, talk_n = p.t, p.n, p.r, 1, 0
local hkeys, vkeys, talks, stored, votes_of, marks_of, planned = {}, {}, {}, {}, {}, {}, {}
-- Per talk: the records this call applied to it, and where its revision is in what HMGET read.
local counted_of, revision_at = {}, {}
local starts, fields, delta = {}, {'1', '2', '3', '4', '5'}, {0, 0, 0, 0, 0}
while i <= #t do
  talk_n = talk_n + 1
  local talk, nparts = t[i], t[i + 1]
  local hkey, vkey
  if base > 0 then
    hkey, vkey = KEYS[base + 2 * talk_n - 2], KEYS[base + 2 * talk_n - 1]
  else
    hkey = ARGV[8] .. talk .. ARGV[9]  -- the votes key is named when a vote needs it
  end
  local j = i + 2
  for k = 1, nparts do
    starts[k] = j
    if own_offsets then fields[5 + k] = pn[t[j]] end
    local records = t[j + 7]
    j = j + 8 + t[j + 6] * 4
    for _ = 1, records do j = j + 1 + t[j] end
  end
  i = j
  local h
  if own_offsets then
    fields[6 + nparts] = 'revision'
    h = rpcall('HMGET', hkey, unpack(fields, 1, 6 + nparts))
    revision_at[talk_n] = 6 + nparts
  else
    h = rpcall('HMGET', hkey, '1', '2', '3', '4', '5', 'revision')
    revision_at[talk_n] = 6
  end
  if h.err then return redis.error_reply('WRONGTYPE ' .. hkey .. ' is not a hash') end
  delta[1], delta[2], delta[3], delta[4], delta[5] = 0, 0, 0, 0, 0
  local votes, marks = false, false
  local applied_before = applied
  for k = 1, nparts do
    local s = starts[k]
    local place, voters = t[s], t[s + 6]
    local first, top, name = pr[2 * place - 1], pr[2 * place], pn[place]
    local last = partition_offsets[name] or tonumber(h[5 + k]) or -1
    local d = s + 8 + voters * 4  -- where the records in detail start
    local counted = true
    if last >= top then
      skipped = skipped + voters + t[s + 1] + t[s + 2] + t[s + 3] + t[s + 4] + t[s + 5]
      counted = false
    elseif last < first then
      for v = 1, 5 do
        local n = t[s + v]
        if n ~= 0 then
          delta[v] = delta[v] + n
          applied = applied + n
        end
      end
      if voters > 0 then
        vkey = vkey or (ARGV[10] .. talk .. ARGV[11])
        votes = votes or {}
        for q = s + 8, d - 1, 4 do
          vote(vkey, votes, delta, t[q], t[q + 1], t[q + 2], t[q + 3])
        end
        applied = applied + voters
      end
    elseif t[s + 7] < 0 then
      return 'DETAIL'
    else
      local q = d
      for _ = 1, t[s + 7] do
        local length = t[q]
        if t[q + 1] <= last then
          skipped = skipped + 1
        elseif length == 2 then
          local v = tonumber(t[q + 2])
          delta[v] = delta[v] + 1
          applied = applied + 1
        else
          vkey = vkey or (ARGV[10] .. talk .. ARGV[11])
          votes = votes or {}
          vote(vkey, votes, delta, t[q + 2], t[q + 3], t[q + 4], t[q + 5])
          applied = applied + 1
        end
        q = q + 1 + length
      end
    end
    if counted and own_offsets then
      marks = marks or {}
      marks[#marks + 1] = name
      marks[#marks + 1] = format('%d', top)
    end
  end
  hkeys[talk_n], vkeys[talk_n], talks[talk_n], stored[talk_n] = hkey, vkey or false, talk, h
  counted_of[talk_n] = applied - applied_before
  votes_of[talk_n], marks_of[talk_n] = votes, marks
  local at = (talk_n - 1) * 5
  planned[at + 1], planned[at + 2], planned[at + 3] = delta[1], delta[2], delta[3]
  planned[at + 4], planned[at + 5] = delta[4], delta[5]
end

local watermarks = {}
if marks_i > 0 then
  for _, m in ipairs(p.m) do
    local mark = partition_offsets[m[1]]
    for _, o in ipairs(m[3]) do
      if o <= mark then skipped = skipped + 1 else dead = dead + 1 end
    end
    for _, o in ipairs(m[4]) do
      if o <= mark then skipped = skipped + 1 else duplicates = duplicates + 1 end
    end
    if m[2] > mark then
      watermarks[#watermarks + 1] = m[1]
      watermarks[#watermarks + 1] = format('%d', m[2])
    end
  end
end

local scored, unscored, args, revisions = {}, {}, {}, {}
-- A talk's revision counts the records applied to it (a voter's changed rating too, which
-- leaves the total as it was): pages tell a newer state from an older one by it, and a
-- rebuild gives it back as the talk's stored events. A cluster's talk call returns it too: its
-- leaderboard score is written by another call (another slot), and a score read at a later
-- revision must win there, whatever order two batches' writes arrive in.
local revised = board_i == 0 and base > 0
for n_ = 1, talk_n do
  local at, k, n, sum, h = (n_ - 1) * 5, 0, 0, 0, stored[n_]
  local marks = marks_of[n_]
  if marks then
    for m = 1, #marks do args[m] = marks[m] end
    k = #marks
  end
  for v = 1, 5 do
    local c, change = tonumber(h[v]) or 0, planned[at + v]
    if change ~= 0 then
      c = c + change
      args[k + 1], args[k + 2] = names[v], c
      k = k + 2
    end
    n = n + c
    sum = sum + v * c
  end
  local revision = (tonumber(h[revision_at[n_]]) or 0) + counted_of[n_]
  if counted_of[n_] > 0 then
    args[k + 1], args[k + 2] = 'revision', revision
    k = k + 2
  end
  if k > 0 then call('HSET', hkeys[n_], unpack(args, 1, k)) end
  if votes_of[n_] then
    for voter, record in pairs(votes_of[n_]) do call('HSET', vkeys[n_], voter, record) end
  end
  if n > 0 then
    scored[#scored + 1] = format('%.17g', (prior_mean * prior_weight + sum) / (prior_weight + n))
    scored[#scored + 1] = talks[n_]
  else
    unscored[#unscored + 1] = talks[n_]
  end
  if revised then
    revisions[#revisions + 1] = talks[n_]
    revisions[#revisions + 1] = revision
  end
end
if #watermarks > 0 then call('HSET', KEYS[marks_i], unpack(watermarks)) end
if board_i > 0 then
  -- ZADD and ZREM take many members at once; in slices, as Lua's unpack has a bounded stack.
  for i = 1, #scored, 1000 do
    call('ZADD', KEYS[board_i], unpack(scored, i, math.min(i + 999, #scored)))
  end
  for i = 1, #unscored, 1000 do
    call('ZREM', KEYS[board_i], unpack(unscored, i, math.min(i + 999, #unscored)))
  end
  scored, unscored = {}, {}
end
local reply = {applied, skipped, duplicates, dead, scored, unscored, revisions}
-- ARGV 12 '1' (a cluster whose batches wait for replicas): the id of the node that ran the call,
-- which is not the one it was sent to when the client followed an ASK.
if ARGV[12] == '1' then reply[8] = call('CLUSTER', 'MYID') end
return reply
"""
)

# Ranks talks on a cluster's leaderboard from the scores its talk calls returned, each only when
# its revision is at least the one the leaderboard last took for the talk (KEYS: the leaderboard,
# then the revisions it took, in the same slot, and that slot's built mark: missing, NOTBUILT, as
# _APPLY's). ARGV: talk, revision, score ("" when the talk has no rating left) for each talk.
# Answers how many talks it ranked or unranked.
_RANK = """
local call, unpack, tonumber = redis.call, unpack, tonumber
if KEYS[3] and call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOTBUILT the read model is not built (Redis lost it): rebuilt first')
end
local board, taken, n = KEYS[1], KEYS[2], #ARGV / 3
local talks, known = {}, {}
for i = 1, n do talks[i] = ARGV[3 * i - 2] end
for i = 1, n, 1000 do
  local part = call('HMGET', taken, unpack(talks, i, math.min(i + 999, n)))
  for k = 1, #part do known[i + k - 1] = part[k] end
end
local added, removed, revs = {}, {}, {}
for i = 1, n do
  local revision, score = ARGV[3 * i - 1], ARGV[3 * i]
  if tonumber(revision) >= (tonumber(known[i]) or -1) then
    if score == '' then
      removed[#removed + 1] = talks[i]
    else
      added[#added + 1] = score
      added[#added + 1] = talks[i]
    end
    revs[#revs + 1] = talks[i]
    revs[#revs + 1] = revision
  end
end
for i = 1, #added, 1000 do call('ZADD', board, unpack(added, i, math.min(i + 999, #added))) end
for i = 1, #removed, 1000 do call('ZREM', board, unpack(removed, i, math.min(i + 999, #removed))) end
for i = 1, #revs, 1000 do call('HSET', taken, unpack(revs, i, math.min(i + 999, #revs))) end
return #revs / 2
"""

# Swaps rebuilt keys in for the live ones, written beforehand under STAGED_PREFIX (same hash
# tag, same slot), in one atomic step: on one Redis the whole read model at once (the partition
# offsets, the leaderboard and the built mark with the counts), on a cluster a slot's talks. Only
# UNLINK and RENAME: the old keys (a talk's votes hash holds a field a voter) are freed in the
# background, and nothing is copied, so Redis is held for milliseconds, not seconds (writing a
# million votes and freeing the old ones inside one script held it 3.7 s, and a client's 5 s
# socket timeout cut the call while the swap went on). KEYS: the staging's ready mark, then at
# the indexes ARGV 3..6 name (0: not part of this call) the rebuild lock, the partition offsets
# and the leaderboard (each followed by its staged key), the built mark, then from ARGV 7 four
# keys a talk (live histogram, live votes, staged histogram, staged votes), then from ARGV 8 the
# stale keys to drop. ARGV 1: the rebuild's
# token, which the ready mark holds until the swap, then "swapped": a call that finds that
# answers 0 (an earlier call, cut by a timeout, swapped already) and does nothing, so a call is
# safe to send again; a mark gone (dropped by another rebuild, evicted) is an error, NOTREADY,
# never taken as swapped. ARGV 2: the built mark's value. Answers 1 when it swapped.
_SWAP = """
local token = ARGV[1]
local lock_i, marks_i, board_i, built_i = tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6])
local base, stale = tonumber(ARGV[7]), tonumber(ARGV[8])
local call = redis.call
if lock_i > 0 and call('GET', KEYS[lock_i]) ~= token then
  return redis.error_reply('LOCKLOST the rebuild lock ran out before the swap; nothing replaced')
end
local ready = call('GET', KEYS[1])
if ready == 'swapped' then return 0 end
if ready ~= token then
  return redis.error_reply('NOTREADY the rebuilt read model is no longer all there; nothing replaced')
end
local function swap(live, next)
  call('UNLINK', live)
  if call('EXISTS', next) == 1 then call('RENAME', next, live) end
end
for i = base, stale - 1, 4 do
  -- The talk's stored events, or the revision it had when that is higher (counted on a
  -- cluster before revisions counted records): pages never see a talk's revision go back.
  local kept = tonumber(call('HGET', KEYS[i], 'revision')) or 0
  if kept > (tonumber(call('HGET', KEYS[i + 2], 'revision')) or 0) then
    call('HSET', KEYS[i + 2], 'revision', string.format('%d', kept))
  end
  swap(KEYS[i], KEYS[i + 2])
  swap(KEYS[i + 1], KEYS[i + 3])
end
for i = stale, #KEYS do call('UNLINK', KEYS[i]) end
if marks_i > 0 then swap(KEYS[marks_i], KEYS[marks_i + 1]) end
if board_i > 0 then swap(KEYS[board_i], KEYS[board_i + 1]) end
if built_i > 0 then call('SET', KEYS[built_i], ARGV[2]) end
call('SET', KEYS[1], 'swapped')
return 1
"""

_PRIOR = (str(PRIOR_MEAN), str(PRIOR_WEIGHT))
_FIXED_KEYS = [REBUILD_LOCK_KEY, OFFSETS_KEY, LEADERBOARD_KEY]  # KEYS 1..3 on one Redis
_APPLY_KEYS = [*_FIXED_KEYS, BUILT_KEY]  # and the built mark, KEYS 4, for a batch's one call
# The parts of a talk's two key names around its id, for the script (ARGV 8 to 11).
_KEY_FORMATS = (*histogram_key("\n").split("\n"), *votes_key("\n").split("\n"))


# A talk's records from one partition in one batch, aggregated, exactly as the _APPLY payload
# takes it (so a batch's payload is the parts one after the other): [partition's place, count of
# 1, ... count of 5, number of voters' ratings, -1 (no detail), then the voters' ratings, four
# items each].
_TalkPart = list[Any]
_VOTERS, _DETAIL = 6, 7


@dataclass
class _Mark:
    """A partition's range of offsets in one batch, and its records that belong to no talk."""

    first: int = -1
    top: int = -1
    dead: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


class SharedClient:
    """A read model's client for the adapters that share it, each attribute taken from the read
    model's client at its use: a client not made yet is made then, and one that cannot be made
    (a cluster none of whose nodes it knows answers: redis-py makes a cluster's client by asking
    a node for the cluster's slots) raises what an unanswered call raises, at that call, again
    at the next. Handed the client itself at wiring, a container starting while the cluster
    could not be reached failed every rating with a 500, where one Redis away lets ratings
    through (the container counts the rate limits) and answers reads from the event store."""

    def __init__(self, model: RedisReadModel) -> None:
        self._model = model
        self.is_cluster = model.cluster

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model.client, name)


class RedisReadModel:
    """RatingsReadModel on one lazily created, pooled client of a Redis or a Redis Cluster."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: ReadModelClient | None = None
        try:
            parsed = RedisUrl.parse(url)
        except BackendUnavailable:  # said by each use of the client (connect), as Redis away
            parsed = RedisUrl(url)
        self.cluster, self._replicas = parsed.cluster, parsed.replicas
        self._live, self._replicas_read_at = 0, -LIVE_REPLICAS_SECONDS
        self._sha: dict[str, str] = {}
        self._rebuild_token: str | None = None
        self._node_names: dict[str, str] = {}  # a cluster's node ids -> addresses, when needed
        self._refused_at = -FAILOVER_RIDE_S  # when a read last met a CLUSTERDOWN (a failover)
        self._down_since: float | None = None  # the first CLUSTERDOWN since a read answered

    @property
    def client(self) -> ReadModelClient:
        """The Redis client, created on first use and reused for the life of the process."""
        if self._client is None:
            options: dict[str, Any] = {
                "socket_connect_timeout": 2,
                "socket_timeout": SOCKET_TIMEOUT_S,
            }
            if not self.cluster:
                options["health_check_interval"] = 30
            self._client = connect(self._url, **options)
        return self._client

    def shared_client(self) -> SharedClient:
        """This read model's client as the API's other Redis adapters hold it (the rate limits,
        the Idempotency-Key records): a cluster's made at its first call, not when they are
        wired. A URL it cannot take is said now, as before (every rating and pass 503), and one
        Redis's client is made now, as before too (it connects at its first command)."""
        if self.cluster:
            checked(self._url)
        else:
            _ = self.client
        return SharedClient(self)

    def histogram(self, talk_id: str) -> Histogram:
        """The talk's current histogram (zeros when it has no ratings)."""
        try:
            with answered_once():
                stored = self.client.hmget(histogram_key(talk_id), _READ_FIELDS)
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return _histogram(stored)

    def histograms(self, talk_ids: list[str]) -> dict[str, Histogram]:
        """The histograms of several talks, in one round trip (one per node on a cluster)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for talk_id in talk_ids:
                pipe.hmget(histogram_key(talk_id), _READ_FIELDS)
            with answered_once():
                stored = pipe.execute()
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return {
            talk_id: _histogram(fields) for talk_id, fields in zip(talk_ids, stored, strict=True)
        }

    def readable_histograms(self, talk_ids: list[str]) -> ReadableHistograms:
        """The histograms of several talks that can be read, and the talks whose cannot.

        One round trip (one per node on a cluster) while every node answers. On a cluster that
        does not (a shard lost whole, its slots unserved while the others serve theirs:
        `cluster-require-full-coverage no`; or a primary killed, its replica not promoted yet),
        each shard's talks are read apart and a shard's that fails is said unreadable. While a
        failover was seen under way (a CLUSTERDOWN in the last FAILOVER_RIDE_S) the talks not read
        are asked again every FAILOVER_STEP_S until all are read, up to FAILOVER_RIDE_S from the
        start. BackendUnavailable when no talk's
        histogram can be read."""
        if not talk_ids:
            return ReadableHistograms({})
        started = time.monotonic()
        try:
            read = self.histograms(talk_ids)
            self._down_since = None
            return ReadableHistograms(read)
        except BackendUnavailable as error:
            if not self.cluster:
                raise
            self._refused(isinstance(error.__cause__, ClusterDownOnRead))
        read, refused = self._histograms_by_shard(talk_ids)
        # While a failover was seen under way (a refusal in the last FAILOVER_RIDE_S, this read's
        # or another's), the talks not read are read again: the shards answer again as they
        # learn of the promotion, and the client finds the promoted replica only at a read
        # after it (the dead primary's talks unread meanwhile, the others' answered)
        while len(read) < len(talk_ids) and self._refused(refused) and self._may_ride(started):
            time.sleep(FAILOVER_STEP_S)
            more, refused = self._histograms_by_shard([t for t in talk_ids if t not in read])
            read.update(more)
        if not read:
            raise BackendUnavailable("the read model is unreachable")
        if not self._refused(refused):
            self._down_since = None  # (the shards that refused answer again)
        logger.warning(
            "a shard of the read model is unreachable: some talks listed without their ratings",
            extra={"unreadable": len(talk_ids) - len(read)},
        )
        return ReadableHistograms(read, tuple(t for t in talk_ids if t not in read))

    def _histograms_by_shard(self, talk_ids: list[str]) -> tuple[dict[str, Histogram], bool]:
        """The talks' histograms read shard by shard, those of the shards that answer; and
        whether a shard refused with CLUSTERDOWN (the cluster failing over)."""
        shards: dict[str, list[str]] = defaultdict(list)
        for talk_id in talk_ids:
            try:
                shards[self.client.get_node_from_key(histogram_key(talk_id)).name].append(talk_id)  # type: ignore[union-attr]
            except _UNANSWERED:  # (a slot no node serves, as the client knows the cluster)
                continue
        read: dict[str, Histogram] = {}
        refused = False
        for talks in shards.values():
            try:
                read.update(self.histograms(talks))
            except BackendUnavailable as error:
                refused = refused or isinstance(error.__cause__, ClusterDownOnRead)
        return read, refused

    def _refused(self, now: bool) -> bool:
        """Whether a read met a CLUSTERDOWN (a failover under way) in the last FAILOVER_RIDE_S,
        `now` saying whether the read just made did."""
        if now:
            self._refused_at = time.monotonic()
            if self._down_since is None:
                self._down_since = self._refused_at
        return time.monotonic() - self._refused_at < FAILOVER_RIDE_S

    def _may_ride(self, started: float) -> bool:
        """Whether a read that the cluster refused (CLUSTERDOWN) may be made again, a step from
        now: within FAILOVER_RIDE_S of the read's start (`started`, time.monotonic), and of the
        first refusal since a read answered. A cluster that keeps refusing (a shard lost whole,
        every slot required) costs one ride per process, the reads after it answered at once,
        not each request FAILOVER_RIDE_S."""
        now = time.monotonic()
        young = self._down_since is None or now - self._down_since < FAILOVER_RIDE_S
        return young and now + FAILOVER_STEP_S - started <= FAILOVER_RIDE_S

    def _riding_out_failover(self, read: Callable[[], _Read]) -> _Read:
        """The read, made again every FAILOVER_STEP_S while the cluster refuses it at once
        (CLUSTERDOWN: a failover under way), up to FAILOVER_RIDE_S from the start; its errors
        as the read raises them."""
        started = time.monotonic()
        while True:
            try:
                with answered_once():
                    answer = read()
                self._down_since = None
                return answer
            except ClusterDownOnRead:
                if not self.cluster or not (self._refused(True) and self._may_ride(started)):
                    raise
            time.sleep(FAILOVER_STEP_S)

    @unreachable_as_backend_error
    def apply(self, batch: ProjectionBatch) -> ProjectionResult:
        """Apply a batch, each talk atomically, skipping what was applied to the talk before.

        On one Redis the whole batch is one script call (one round trip; a second one only for a
        talk whose redelivery was cut differently). On a cluster: the rebuild lock is checked,
        then the talks are sent grouped by slot, one pipelined call per node, then the partition
        offsets and the leaderboard (absolute scores) are written.
        """
        talks, marks = _plan(batch)
        if not talks and not marks:
            return ProjectionResult(0, 0, 0)
        try:
            if self.cluster:
                totals = self._apply_on_cluster(batch, talks, marks)
            else:
                totals = self._apply_on_one(batch, talks, marks)
        except redis.ResponseError as error:
            # The apply script's own refusals; Redis away or BUSY is the decorator's to say.
            if str(error).startswith("REBUILDING"):
                raise ReadModelRebuilding(str(error)) from error
            if str(error).startswith("NOTBUILT"):
                raise ReadModelNotBuilt(str(error)) from error
            raise
        applied, skipped, duplicates, dead = totals
        return ProjectionResult(applied, skipped, dead, duplicates)

    def _apply_on_one(
        self,
        batch: ProjectionBatch,
        talks: dict[str, dict[str, _TalkPart]],
        marks: dict[str, _Mark],
    ) -> list[int]:
        names = list(talks)
        payload = _payload(names, talks, marks)
        fixed = [*_PRIOR, 1, 2, 3, 0, *_KEY_FORMATS, "0", 4]
        reply = self._eval("apply", _APPLY_KEYS, [payload, *fixed])
        if reply == b"DETAIL":
            payload = _payload(names, talks, marks, _detailed(batch, set(names)))
            reply = self._eval("apply", _APPLY_KEYS, [payload, *fixed])
        self._wait_for_replicas()
        return [int(n) for n in reply[:4]]

    def _wait_for_replicas(self) -> None:
        """On one Redis with `replicas=N` (a primary with replicas, failing over to one): the
        writes so far count only once the replicas it has, up to N, have them (as a cluster's
        shard waits for those it has), else the (idempotent) batch fails and is retried; a
        failover right after it cannot take the batch with the primary while it had a replica.
        A primary left without replicas (after a failover, until one is replaced) is said in a
        warning, and its batches go on."""
        if not self._replicas or self.cluster:
            return
        wanted = min(self._replicas, self._live_replicas())
        if wanted == 0:
            return
        confirmed = int(self.client.wait(wanted, REPLICA_WAIT_MS))
        if confirmed < wanted:
            # A replica gone since the count was read (a failover): counted again now
            wanted = min(self._replicas, self._live_replicas(again=True))
        if confirmed < wanted:
            raise BackendUnavailable(
                f"the read model's writes were confirmed by {confirmed} of its {wanted} "
                f"replicas within {REPLICA_WAIT_MS} ms: the batch is retried"
            )

    def _live_replicas(self, again: bool = False) -> int:
        """The replicas the primary has now (read at most every LIVE_REPLICAS_SECONDS, unless
        asked `again`). A user not allowed INFO (an ACL without @dangerous) is taken to have
        the replicas asked for."""
        now = time.monotonic()
        if again or now - self._replicas_read_at > LIVE_REPLICAS_SECONDS:
            try:
                live = int(self.client.info("replication").get("connected_slaves", 0))
            except redis.exceptions.NoPermissionError:
                live = self._replicas
            if live < self._replicas:
                logger.warning(
                    "the read model's primary has fewer replicas than replicas= asks: batches "
                    "wait for those it has",
                    extra={"replicas": live, "asked": self._replicas},
                )
            self._live, self._replicas_read_at = live, now
        return self._live

    def _apply_on_cluster(
        self,
        batch: ProjectionBatch,
        talks: dict[str, dict[str, _TalkPart]],
        marks: dict[str, _Mark],
    ) -> list[int]:
        if self.client.exists(REBUILD_LOCK_KEY):
            raise ReadModelRebuilding("REBUILDING the read model is being rebuilt")
        groups = _by_slot(talks)
        ran_where = "1" if self._replicas else "0"
        # Each call declares its slot's built mark last: a shard that lost its data since the
        # projector looked refuses its talks' calls (NOTBUILT) instead of counting onto nothing.
        calls = [
            (
                [*_talk_keys(names), _mark_of(histogram_key(names[0]))],
                [
                    _payload(names, talks, marks, judge=False),
                    *_PRIOR,
                    *(0, 0, 0, 1),
                    *_KEY_FORMATS,
                    ran_where,
                    2 * len(names) + 1,
                ],
            )
            for names in groups
        ]
        replies = self._eval_many("apply", calls, wait_on=self._replicas)
        retry = [i for i, reply in enumerate(replies) if reply == b"DETAIL"]
        if retry:
            detail = _detailed(batch, {t for i in retry for t in groups[i]})
            again = self._eval_many(
                "apply",
                wait_on=self._replicas,
                calls=[
                    (
                        calls[i][0],
                        [
                            _payload(groups[i], talks, marks, detail, judge=False),
                            *_PRIOR,
                            *(0, 0, 0, 1),
                            *_KEY_FORMATS,
                            ran_where,
                            2 * len(groups[i]) + 1,
                        ],
                    )
                    for i in retry
                ],
            )
            for i, reply in zip(retry, again, strict=True):
                replies[i] = reply
        totals = [0, 0, 0, 0]
        for reply in replies:
            for i in range(4):
                totals[i] += int(reply[i])
        payload = _payload([], talks, marks)

        ranks: list[Any] = []  # talk, revision, score ("" to unrank) for each talk
        for reply in replies:
            scored, revisions = reply[4], reply[6]
            score_of = {scored[i + 1]: scored[i] for i in range(0, len(scored), 2)}
            for i in range(0, len(revisions), 2):
                talk = revisions[i]
                ranks += [talk, revisions[i + 1], score_of.get(talk, b"")]

        # The leaderboard from the talks' absolute scores (a retried batch writes the same),
        # each taken unless a later revision of the talk was ranked already (another batch's,
        # at the same time), then the partition offsets: only once every talk of the batch is
        # applied. Both idempotent, so sent again like the talks' calls while a slot moves.
        last: list[tuple[str, list[str], list[Any]]] = []
        if ranks:
            board = [LEADERBOARD_KEY, RANKED_REVISIONS_KEY, _mark_of(LEADERBOARD_KEY)]
            last.append(("rank", board, ranks))
        if marks:
            offsets = [OFFSETS_KEY, _mark_of(OFFSETS_KEY)]
            args = [payload, *_PRIOR, 0, 1, 0, 2, *_KEY_FORMATS, "0", 2]
            last.append(("apply", offsets, args))
        results = self._eval_each(last)
        if marks:
            for i in range(4):
                totals[i] += int(results[-1][i])
        return totals

    def _script_sha(self, name: str) -> str:
        sha = self._sha.get(name)
        if sha is None:
            loaded = self.client.script_load(_SCRIPTS[name])
            sha = self._sha[name] = loaded.decode() if isinstance(loaded, bytes) else str(loaded)
        return sha

    def _eval(self, name: str, keys: list[str], args: list[Any]) -> Any:
        sha = self._script_sha(name)
        try:
            return self.client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            self._sha.pop(name, None)
            return self.client.evalsha(self._script_sha(name), len(keys), *keys, *args)

    def _eval_many(
        self, name: str, calls: list[tuple[list[str], list[Any]]], wait_on: int = 0
    ) -> list[Any]:
        """Run the script `name` once per call (keys, args), in one pipeline (one round trip
        per node): `_eval_each`."""
        return self._eval_each([(name, keys, args) for keys, args in calls], wait_on)

    def _eval_each(
        self, calls: list[tuple[str, list[str], list[Any]]], wait_on: int = 0
    ) -> list[Any]:
        """Run each call's script (name, keys, args) in one pipeline (one round trip per node).

        With `wait_on`, each node the calls went to is asked, in the same round trip, to wait
        until that many replicas have its writes; fewer fails the whole (idempotent) batch. A
        call whose slot is being moved is sent again until it is answered
        (`_until_slots_moved`), and a call the client sent on to another primary is waited for
        there too (`_wait_where_sent_on`).
        """
        # Each call goes to the primary of its keys' slot, named here: left to find it, the
        # cluster client asks the server which keys an EVALSHA has (COMMAND GETKEYS), one round
        # trip a call, which took half of a batch's time. A slot that moved since the client
        # last read the slots answers MOVED, and the client sends that call again where it went.
        shards = [self._shard(keys[0]) for _, keys, _ in calls]
        waits: dict[str, tuple[Any, int]] = {}  # primary name -> (primary, replicas to wait for)
        if wait_on:
            for shard in shards:
                waits[shard[0].name] = (shard[0], min(wait_on, len(shard) - 1))

        def build(pipe: Any) -> None:
            for call, shard in zip(calls, shards, strict=True):
                self._queue_call(pipe, call, shard[0])
            _queue_waits(pipe, waits)

        results = self._pipelined(build, keep=_slot_moving)
        replies, acked = results[: len(calls)], results[len(calls) :]
        resent = self._until_slots_moved(calls, replies)
        if wait_on:
            self._confirmed(list(waits.values()), acked)
            waited = self._wait_where_sent_on(calls, shards, resent, wait_on)
            self._wait_where_asked(replies, set(waits) | waited, wait_on)
        return replies

    def _queue_call(self, pipe: Any, call: tuple[str, list[str], list[Any]], primary: Any) -> None:
        """Queue a script call (name, keys, args) on the pipeline, for the primary named."""
        name, keys, args = call
        sha = self._script_sha(name)
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args, target_nodes=primary)

    def _shard(self, key: str) -> list[Any]:
        """The primary serving the key's slot, then its replicas, as the client knows them."""
        shard: list[Any] | None = self.client.nodes_manager.slots_cache.get(key_slot(key.encode()))  # type: ignore[union-attr]
        if not shard:  # as the client says of a slot no node serves (after a failover)
            raise SlotNotCoveredError(f"the slot of {key} is not covered by the cluster")
        return shard

    def _until_slots_moved(
        self, calls: list[tuple[str, list[str], list[Any]]], replies: list[Any]
    ) -> set[int]:
        """Send again, until it is answered, each call whose slot the cluster was moving; the
        calls sent again.

        A cluster scaling out (ElastiCache Serverless does it by itself) moves slots key by key;
        a talk's script meeting its keys half moved gets TRYAGAIN, which the client follows for
        a few tens of milliseconds only. Each call is atomic and idempotent on its talk, so the
        calls still waiting are sent again (to the slot's primary as the client now knows it)
        for up to SLOT_MOVE_WAIT_S, instead of failing the whole batch for a retry.
        """
        deadline = time.monotonic() + SLOT_MOVE_WAIT_S
        waiting = [i for i, reply in enumerate(replies) if _slot_moving(reply)]
        resent = set(waiting)
        while waiting:
            if time.monotonic() > deadline:
                raise replies[waiting[0]]
            time.sleep(SLOT_MOVE_RETRY_S)
            sent = [(calls[i], self._shard(calls[i][1][0])[0]) for i in waiting]

            def build(
                pipe: Any, sent: list[tuple[tuple[str, list[str], list[Any]], Any]] = sent
            ) -> None:
                for call, primary in sent:
                    self._queue_call(pipe, call, primary)

            for i, reply in zip(waiting, self._pipelined(build, keep=_slot_moving), strict=True):
                replies[i] = reply
            waiting = [i for i in waiting if _slot_moving(replies[i])]
        return resent

    def _wait_where_sent_on(
        self,
        calls: list[tuple[str, list[str], list[Any]]],
        shards: list[list[Any]],
        resent: set[int],
        wait_on: int,
    ) -> set[str]:
        """Wait for the replicas of the primary each call ended on, where that is not the one
        it was sent to with the batch's WAIT, or it was sent again after that WAIT; the names
        of the primaries waited on.

        A call that met MOVED (its slot moved since the client last read the slots) was sent
        on by the client after the pipeline's own WAITs had run, and so was a call sent again
        while its slot moved: their writes are waited for here, one more round trip, only then.
        The client's entry for a slot it followed a MOVED to lacks the slot's replicas, so the
        slots are read again first. (A call sent on by ASK, while its slot is half moved,
        leaves no trace in the client: `_wait_where_asked` finds it from the call's reply.)
        """
        slots = self.client.nodes_manager.slots_cache  # type: ignore[union-attr]
        sent_on = [
            i
            for i, (_, keys, _) in enumerate(calls)
            if i in resent
            or (slots.get(key_slot(keys[0].encode())) or shards[i])[0].name != shards[i][0].name
        ]
        if not sent_on:
            return set()
        self.client.nodes_manager.initialize()  # type: ignore[union-attr]
        replicas_of: dict[str, int] = {}
        for shard in self.client.nodes_manager.slots_cache.values():  # type: ignore[union-attr]
            replicas_of[shard[0].name] = max(replicas_of.get(shard[0].name, 0), len(shard) - 1)
        waits: dict[str, tuple[Any, int]] = {}
        for i in sent_on:
            primary = self._shard(calls[i][1][0])[0]
            waits[primary.name] = (primary, min(wait_on, replicas_of.get(primary.name, 0)))

        self._confirmed(
            list(waits.values()), self._pipelined(lambda pipe: _queue_waits(pipe, waits))
        )
        return set(waits)

    def _wait_where_asked(self, replies: list[Any], waited: set[str], wait_on: int) -> None:
        """Wait for the replicas of each node that ran a call but was not waited on: a call the
        client sent on by ASK (its slot half moved to another primary, its keys not on the old
        one) runs on the new primary after the batch's WAITs, and redis-py's pipeline keeps no
        trace of where it went; the call's reply names the node that ran it (its id, which the
        cluster's node table maps to an address). Nothing more on the usual path, where every
        call ran where it was sent."""
        ran = {
            r[7].decode() if isinstance(r[7], bytes) else str(r[7]) for r in replies if _ran_on(r)
        }
        unknown = ran - set(self._node_names)
        if unknown:
            self._node_names = self._cluster_node_names()
        elsewhere = {self._node_names.get(node_id) for node_id in ran} - waited - {None}
        if not elsewhere:
            return
        self.client.nodes_manager.initialize()  # type: ignore[union-attr]
        waits: dict[str, tuple[Any, int]] = {}
        for shard in self.client.nodes_manager.slots_cache.values():  # type: ignore[union-attr]
            primary = shard[0]
            if primary.name in elsewhere:
                waits[primary.name] = (primary, min(wait_on, len(shard) - 1))
        self._confirmed(
            list(waits.values()), self._pipelined(lambda pipe: _queue_waits(pipe, waits))
        )

    def _cluster_node_names(self) -> dict[str, str]:
        """Each node's id -> its address as the client names nodes ("host:port")."""
        table = self.client.cluster_nodes()  # type: ignore[union-attr]
        return {str(node["node_id"]): address for address, node in table.items()}

    @staticmethod
    def _confirmed(waits: list[tuple[Any, int]], acked: list[Any]) -> None:
        """Fail the (idempotent) batch when a primary's writes reached fewer replicas than asked."""
        for (node, replicas), confirmed in zip(waits, acked, strict=True):
            if int(confirmed) < replicas:
                raise redis.ConnectionError(f"{node.name}: {confirmed} of {replicas} replicas")

    def _pipelined(
        self, build: Callable[[Any], None], keep: Callable[[Any], bool] | None = None
    ) -> list[Any]:
        """Execute the commands `build` queues; once more if a node lacked a script.

        A replica promoted after a failover may lack the scripts its primary had. An error
        `keep` accepts is returned among the replies; any other is raised.
        """
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            build(pipe)
            results: list[Any] = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                self._sha.clear()
                continue
            for result in results:
                if isinstance(result, Exception) and not (keep and keep(result)):
                    raise result
            return results
        raise AssertionError("unreachable")

    def leaderboard(self, limit: int, among: list[str] | None = None) -> list[tuple[str, float]]:
        """The best talks by Bayesian average, best first; `among` restricts to those talks."""
        try:
            if among is None:
                ranked: list[tuple[bytes, float]] = self._riding_out_failover(
                    lambda: self.client.zrevrange(LEADERBOARD_KEY, 0, limit - 1, withscores=True)  # type: ignore[arg-type,return-value]
                )
                return [(talk.decode(), float(score)) for talk, score in ranked]
            scores = (
                self._riding_out_failover(lambda: self.client.zmscore(LEADERBOARD_KEY, among))
                if among
                else []
            )
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        scored = [(t, float(s)) for t, s in zip(among, scores, strict=True) if s is not None]
        # Ties in the order Redis gives the whole board (ZREVRANGE: the greater id first), so a
        # track's board is read as the whole board is (the catalog orders ties by its rule).
        return sorted(scored, key=lambda item: (item[1], item[0].encode()), reverse=True)[:limit]

    def tied(self, score: float, among: list[str] | None = None) -> list[str]:
        """The talks on the board of exactly this score (of `among` if given), in no set order:
        one ZRANGEBYSCORE on the board's one key (one slot on a cluster). The score is sent as
        its repr, which Redis parses back to the very float the board holds."""
        try:
            with answered_once():
                if among is None:
                    members: list[bytes] = self.client.zrangebyscore(  # type: ignore[assignment]
                        LEADERBOARD_KEY, score, score
                    )
                    return [talk.decode() for talk in members]
                scores = self.client.zmscore(LEADERBOARD_KEY, among) if among else []
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return [t for t, s in zip(among, scores, strict=True) if s is not None and s == score]

    def forget_talk(self, talk_id: str) -> None:
        """Take a removed talk off the leaderboard (its histogram stays, like its events)."""
        try:
            self.client.zrem(LEADERBOARD_KEY, talk_id)
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error

    def rank_talk(self, talk_id: str) -> None:
        """Put a talk (back) on the leaderboard from the histogram it has, if it has ratings.

        A removed talk keeps its histogram; added again under its id, it is counted on its page
        and in the export at once, so it is ranked at once too, not at its next rating. It is
        ranked as a batch ranks it, by the batch's own path with nothing to apply: atomically
        with the read of its histogram on one Redis, at the talk's revision on a cluster. While
        the read model is rebuilt nothing is done (the rebuild ranks every talk)."""
        talks: dict[str, dict[str, _TalkPart]] = {talk_id: {}}
        try:
            if self.cluster:
                self._apply_on_cluster(ProjectionBatch(), talks, {})
            else:
                self._apply_on_one(ProjectionBatch(), talks, {})
        except ReadModelRebuilding:
            return
        except redis.ResponseError as error:
            if str(error).startswith(("REBUILDING", "NOTBUILT")):
                return
            raise BackendUnavailable(f"the read model refused the ranking: {error}") from error
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error

    @unreachable_as_backend_error
    def rename_voter(self, voter_id: str, pseudonym: str, talk_ids: list[str]) -> tuple[int, int]:
        """File a voter's votes of these talks under `pseudonym` (`ops forget-voter`): each
        talk's vote moved atomically, as it was, so every count and every later comparison of
        that voter's ratings stays the same. Answers how many talks had a vote of theirs, and
        of those how many had one under the pseudonym already (counted twice until a rebuild)."""
        calls = [([votes_key(talk)], [voter_id, pseudonym]) for talk in sorted(set(talk_ids))]
        if not calls:
            return 0, 0
        if self.cluster:
            replies = self._eval_many("rename_voter", calls, wait_on=self._replicas)
        else:
            replies = [self._eval("rename_voter", keys, args) for keys, args in calls]
            self._wait_for_replicas()
        answers = [int(reply) for reply in replies]
        return sum(1 for a in answers if a), answers.count(2)

    def was_accepted(self, event_id: str) -> bool:
        """True when the API accepted the event within the last hour."""
        try:
            with answered_once():
                return bool(self.client.exists(ACCEPTED_PREFIX + event_id))
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error

    def has_applied(self, partition: str, offset: int) -> bool:
        """Whether whole batches were applied up to this offset of a "topic-partition" (the
        partition offsets move with a batch on one Redis, after all its talks on a cluster)."""
        try:
            applied = self.client.hget(OFFSETS_KEY, partition)
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return applied is not None and int(applied) >= offset

    @unreachable_as_backend_error
    def has_counted(self, talk_id: str, partition: str, offset: int) -> bool:
        """Whether the record at this offset of a "topic-partition" was applied to the talk: by
        the partition's offsets on one Redis (they move with the batch), by the talk's own on a
        cluster (the partition's move only once every talk of the batch is applied)."""
        if not self.cluster:
            return self.has_applied(partition, offset)
        applied = self.applied_offset(partition, talk_id)
        return applied is not None and applied >= offset

    @unreachable_as_backend_error
    def applied_offset(self, partition: str, talk_id: str | None = None) -> int | None:
        """The last offset applied for a "topic-partition" (to one talk, when given), or None."""
        if talk_id is None:
            value = self.client.hget(OFFSETS_KEY, partition)
        else:
            value = self.client.hget(histogram_key(talk_id), partition)
        return None if value is None else int(value)

    @unreachable_as_backend_error
    def applied_offsets(self) -> dict[str, int]:
        """Every "topic-partition" with the offset up to which batches were applied."""
        applied: dict[bytes, bytes] = self.client.hgetall(OFFSETS_KEY)  # type: ignore[assignment]
        return {name.decode(): int(offset) for name, offset in applied.items()}

    @unreachable_as_backend_error
    def counted_histograms(self) -> dict[str, Histogram]:
        """The histogram of each talk the read model counts ratings of (a scan of every
        histogram: for the operator's commands, never on a request's path)."""
        keys = self.client.scan_iter(match=HISTOGRAM_PATTERN, count=1000)
        talks = [talk_of(key.decode()) for key in keys]
        counted: dict[str, Histogram] = {}
        for start in range(0, len(talks), 500):
            for talk, histogram in self.histograms(talks[start : start + 500]).items():
                if histogram.total:
                    counted[talk] = histogram
        return counted

    def counted_talks(self) -> dict[str, int]:
        """Each talk the read model counts ratings of, with how many (`counted_histograms`)."""
        return {talk: histogram.total for talk, histogram in self.counted_histograms().items()}

    @unreachable_as_backend_error
    def forget_offsets(self, topic: str, retired: str | None = None) -> int:
        """Drop the applied offsets of a topic, for when the topic itself was recreated empty.

        With `retired` (the name the event store filed the topic's positions under,
        `projected.retired_topic`), each partition's offset is kept under that name instead, in
        one step: a rating stored at a retired position was counted when its offset was
        applied, and its status still tells so. Answers how many partition offsets were
        dropped or moved; the talks' own offsets of the topic are dropped (no record of a
        retired topic is delivered again to be judged by them).
        """
        prefix = f"{topic}-".encode()
        client = self.client
        dropped = int(
            self._eval(
                "retire_offsets", [OFFSETS_KEY], [topic + "-", f"{retired}-" if retired else ""]
            )
        )
        keys = list(client.scan_iter(match=HISTOGRAM_PATTERN, count=1000))
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            pipe = client.pipeline(transaction=False)
            for key in chunk:
                pipe.hkeys(key)
            drop = client.pipeline(transaction=False)
            for key, names in zip(chunk, pipe.execute(), strict=True):
                mine = [n for n in names if _of_topic(n, prefix)]
                if mine:
                    drop.hdel(key, *mine)
            if len(drop):
                drop.execute()
        return dropped

    @unreachable_as_backend_error
    def lock_for_rebuild(self, by: LockHolder = "rebuild") -> bool:
        """Hold the projector off (its batches fail and are retried) while a rebuild runs (or
        `ops forget-voter`, `by`).

        The lock holds a token of this rebuild's own, for REBUILD_LOCK_SECONDS at a time: the
        time it was taken (milliseconds since the epoch, for `rebuild_lock`), a uuid, then what
        took it (a version before it had no third part, and reads the first two alike)."""
        token = f"{int(time.time() * 1000)}-{uuid.uuid4().hex}-{by}"
        if not self.client.set(REBUILD_LOCK_KEY, token, nx=True, ex=REBUILD_LOCK_SECONDS):
            return False
        self._rebuild_token = token
        return True

    @unreachable_as_backend_error
    def rebuild_lock(self) -> RebuildLock | None:
        """The rebuild's lock when anything holds it, with how long it has been held, when it
        runs out (None: never, it has no expiry) and what took it (when its value says); None
        when no rebuild is running (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(REBUILD_LOCK_KEY)
        pipe.pttl(REBUILD_LOCK_KEY)
        token, left_ms = pipe.execute()
        if token is None or left_ms == -2:  # (-2: it ran out between the two)
            return None
        taken, _, rest = token.partition(b"-")
        held = max(0.0, time.time() - int(taken) / 1000) if taken.isdigit() and rest else None
        by = rest.partition(b"-")[2].decode(errors="replace") if held is not None else ""
        holder = next((h for h in LOCK_HOLDERS if h == by), None)
        return RebuildLock(held, None if left_ms == -1 else max(0.0, left_ms / 1000), holder)

    @unreachable_as_backend_error
    def hold_rebuild_lock(self) -> bool:
        """Renew this rebuild's lock; False when it ran out (or another rebuild took it)."""
        return self._rebuild_token is not None and bool(
            self._eval("hold", [REBUILD_LOCK_KEY], [self._rebuild_token, REBUILD_LOCK_SECONDS])
        )

    @unreachable_as_backend_error
    def unlock_after_rebuild(self) -> None:
        """Let the projector apply batches again (the lock is dropped only while it is ours).

        Redis busy (BUSY, a timeout: a long script of someone's) is asked again until it
        answers, for up to SWAP_ANSWER_WAIT_S: left to its expiry, the lock would hold the
        projector and every other rebuild off for up to REBUILD_LOCK_SECONDS more."""
        token = self._rebuild_token
        if token is None:
            return
        cut: Exception
        try:
            self._eval("hold", [REBUILD_LOCK_KEY], [token, 0])
        except redis.ResponseError as error:
            if not _busy(error):
                raise
            cut = error
        except (redis.TimeoutError, redis.ConnectionError) as error:
            cut = error
        else:
            self._rebuild_token = None
            return
        self._once_answering(cut)
        self._eval("hold", [REBUILD_LOCK_KEY], [token, 0])
        self._rebuild_token = None

    @unreachable_as_backend_error
    def replace_all(self, state: ReadModelState) -> str | None:
        """Replace every histogram, vote and offset with the rebuilt ones.

        The rebuilt keys are written first beside the live ones (STAGED_PREFIX), in pipelined
        slices that hold Redis a moment each, then swapped in by RENAME (_SWAP): on one Redis in
        one atomic step, the partition offsets and the leaderboard with them; on a cluster each
        slot's talks atomically, then the partition offsets and the leaderboard. Call it
        holding the rebuild lock: no batch can add a talk between the scan for the existing
        keys and the swap.

        A swap whose answer Redis did not give in time (a timeout, BUSY with another script) is
        looked at again once Redis answers (for up to SWAP_ANSWER_WAIT_S): swapped, it answers
        a line that says so; not, RebuildNotSwapped, with nothing replaced."""
        client = self.client
        if not self.hold_rebuild_lock():
            raise RebuildLockLost("the rebuild's lock ran out before the swap; nothing replaced")
        # Before the built mark: the API takes a Redis with it and without a voter's mark as
        # saying the voter was not forgotten.
        self._mark_forgotten(state)
        self._drop_staged()
        existing = {
            key.decode()
            for pattern in ("ratings/*", "votes/*")  # the keys of before the hash tags too
            for key in client.scan_iter(match=pattern, count=1000)
        }
        talks = sorted(set(state.histograms) | set(state.votes) | set(state.talk_offsets))
        stale = sorted(existing - set(_talk_keys(talks)))
        scores = {talk: s for talk in talks if (s := _score(state.histograms.get(talk, {})))}
        token = self._rebuild_token or ""
        if not self.cluster:
            ready = _ready_key(token)
            keys = [
                ready,
                REBUILD_LOCK_KEY,
                OFFSETS_KEY,
                _staged_beside(OFFSETS_KEY, token),
                LEADERBOARD_KEY,
                _staged_beside(LEADERBOARD_KEY, token),
                BUILT_KEY,
                *_swap_keys(talks, token),
                *stale,
            ]
            args = [token, _now_text(), 2, 3, 5, 7, 8, 8 + 4 * len(talks)]
            with self._staging(token, [ready]):
                self._stage(talks, state, {ready: talks}, scores)
                said = self._swap([("swap", keys, args)], on_one=True)
            self._wait_for_replicas()
            return said
        groups: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
        for talk in talks:
            groups[key_slot(histogram_key(talk).encode())][0].append(talk)
        for key in stale:
            groups[key_slot(key.encode())][1].append(key)
        tags = _tags_by_slot()
        marks = {slot: _ready_key(token, tags[slot]) for slot in groups}
        calls = [
            (
                "swap",
                [marks[slot], *_swap_keys(names, token), *old],
                [token, "", 0, 0, 0, 0, 2, 2 + 4 * len(names)],
            )
            for slot, (names, old) in groups.items()
        ]
        said = None
        with self._staging(token, list(marks.values())):
            self._stage(talks, state, {marks[s]: names for s, (names, _) in groups.items()}, scores)
            for start in range(0, len(calls), 1000):
                # A cluster swaps slot by slot: the lock is checked (and kept) before each
                # thousand.
                if not self.hold_rebuild_lock():
                    raise RebuildLockLost(
                        "the rebuild's lock ran out during the swap; run it again"
                    )
                said = self._swap(calls[start : start + 1000], on_one=False) or said
            # Each renamed over its live key (RENAME replaces at once): a reader finds the old
            # leaderboard or offsets, then the rebuilt ones, never none. One left unstaged (no
            # offsets, no scores) had nothing to hold: the live one goes.
            staged = {
                OFFSETS_KEY: state.offsets,
                LEADERBOARD_KEY: scores,
                RANKED_REVISIONS_KEY: talks,
            }
            for key, written in staged.items():  # (a cluster pipelines no RENAME: one each)
                if written:
                    client.rename(_staged_beside(key, token), key)
                else:
                    client.unlink(key)
        pipe = client.pipeline(transaction=False)
        built = _now_text()
        pipe.set(BUILT_KEY, built)
        for tag in _slot_tags():
            pipe.set(slot_mark(tag), built)
        pipe.execute()
        return said

    @contextmanager
    def _staging(self, token: str, marks: list[str]) -> Iterator[None]:
        """Around a rebuild's staging and swap: its staged keys are dropped as it ends, each
        ready mark first (a swap call still to run then swaps nothing), the rest too when it
        failed; Redis out of memory (maxmemory) while staging becomes RebuildNotSwapped."""
        try:
            yield
        except BaseException as error:
            with suppress(*_UNANSWERED):
                self._unlink_keys(iter(marks))
                self._unlink_keys(self.client.scan_iter(match=staged_key("*", token), count=1000))
            if isinstance(error, redis.exceptions.OutOfMemoryError):
                raise RebuildNotSwapped(
                    "Redis ran out of memory (maxmemory) writing the rebuilt read model beside "
                    "the live one; nothing was replaced and what was written is dropped: a "
                    "rebuild needs about twice the read model's memory, raise maxmemory and run "
                    "it again"
                ) from error
            raise
        # Swapped: a mark left (Redis gone a moment) is dropped by the next rebuild.
        with suppress(*_UNANSWERED):
            self._unlink_keys(iter(marks))

    def _unlink_keys(self, keys: Iterator[Any]) -> None:
        """UNLINK the keys, a thousand to a pipeline."""
        client = self.client
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.unlink(key)
            if len(pipe) >= 1000:
                pipe.execute()
                pipe = client.pipeline(transaction=False)
        if len(pipe):
            pipe.execute()

    def _stage(
        self,
        talks: list[str],
        state: ReadModelState,
        ready: dict[str, list[str]],
        scores: dict[str, float],
    ) -> None:
        """Write the rebuilt talks under STAGED_PREFIX and the rebuild's token, in pipelined
        slices (the lock renewed after each), with the partition offsets and the leaderboard
        (on a cluster its revisions too) each in its live key's slot (_staged_beside); then
        each ready mark (its talks' slot's, on a cluster), holding the rebuild's token, which
        tells the swap its keys are all written."""
        client = self.client
        token = self._rebuild_token or ""
        pipe = client.pipeline(transaction=False)

        def sent(pipe: Any) -> Any:
            pipe.execute()
            if not self.hold_rebuild_lock():
                raise RebuildLockLost(
                    "the rebuild's lock ran out while the rebuilt read model was written; "
                    "nothing replaced: run it again"
                )
            return client.pipeline(transaction=False)

        for talk in talks:
            fields: dict[str, int] = {
                value: count for value, count in state.histograms.get(talk, {}).items() if count
            }
            fields.update(state.talk_offsets.get(talk, {}))
            if revision := state.revisions.get(talk, 0):
                fields["revision"] = revision
            if fields:
                pipe.hset(staged_key(histogram_key(talk), token), mapping=fields)  # type: ignore[arg-type]
            votes = list(state.votes.get(talk, {}).items())
            for start in range(0, len(votes), _STAGED_SLICE):
                chunk = dict(votes[start : start + _STAGED_SLICE])
                pipe.hset(staged_key(votes_key(talk), token), mapping=chunk)  # type: ignore[arg-type]
            if len(pipe) >= 500:
                pipe = sent(pipe)
        if state.offsets:
            pipe.hset(_staged_beside(OFFSETS_KEY, token), mapping=state.offsets)  # type: ignore[arg-type]
        items = list(scores.items())
        for start in range(0, len(items), _STAGED_SLICE):
            pipe.zadd(
                _staged_beside(LEADERBOARD_KEY, token), dict(items[start : start + _STAGED_SLICE])
            )
        if self.cluster:
            # The revisions the rebuilt scores are of, as a batch's ranking leaves them: a batch
            # that read a talk before the swap and ranks it after is then refused its older
            # score, which it would otherwise put over the rebuilt one (no revision taken, any
            # was taken). One Redis ranks in the batch's own script and keeps none.
            taken = [(talk, state.revisions.get(talk, 0)) for talk in talks]
            for start in range(0, len(taken), _STAGED_SLICE):
                revised = dict(taken[start : start + _STAGED_SLICE])
                pipe.hset(_staged_beside(RANKED_REVISIONS_KEY, token), mapping=revised)  # type: ignore[arg-type]
        for key in ready:
            pipe.set(key, token)
        sent(pipe)

    def _drop_staged(self) -> None:
        """Drop what any rebuild staged and did not swap in (it failed, or its process died):
        only under the rebuild lock, which no other rebuild then holds. On one Redis each
        thousand keys are dropped by a script that checks the lock first (RebuildLockLost
        when it ran out): a rebuild stopped after its check would otherwise, once resumed,
        drop what the rebuild that took the lock since is staging."""
        client = self.client
        keys = client.scan_iter(match=f"{STAGED_PREFIX}*", count=1000)
        if self.cluster:  # the lock is in another slot: no script can look at both
            self._unlink_keys(keys)
            return
        token = self._rebuild_token or ""
        chunk: list[Any] = []
        for key in [*keys, None]:
            if key is not None:
                chunk.append(key)
            if chunk and (key is None or len(chunk) >= 1000):
                if not self._eval("drop_staged", [REBUILD_LOCK_KEY, *chunk], [token]):
                    raise RebuildLockLost(
                        "the rebuild's lock ran out before the rebuilt read model was written; "
                        "nothing replaced: run it again"
                    )
                chunk = []

    def _swap(self, calls: list[tuple[str, list[str], list[Any]]], on_one: bool) -> str | None:
        """Run the swap's calls; None when each answered, else (their answer cut by a timeout
        or BUSY) what was found once Redis answered: a line saying they swapped, or
        RebuildNotSwapped (what was staged dropped). Each call swaps at most once (_SWAP), so
        on a cluster the calls a cut left unanswered are sent again."""
        try:
            if on_one:
                name, keys, args = calls[0]
                self._eval(name, keys, args)
            else:
                self._eval_each(calls)
            # A call answering 0 found its ready mark saying "swapped": an earlier sending of
            # it (a client's retry after a timeout) swapped already.
            return None
        except redis.ResponseError as error:
            _raise_refused_swap(error)
            if not _busy(error):
                raise
            cut: Exception = error
        except (redis.TimeoutError, redis.ConnectionError) as error:
            cut = error
        self._once_answering(cut)
        if not on_one:
            try:
                self._eval_each(calls)  # the slots not swapped yet; the others answer 0
            except redis.ResponseError as error:
                _raise_refused_swap(error)
                raise
            return (
                f"Redis answered part of the swap late ({_cut_said(cut)}); its slots not "
                "swapped were sent again once it answered: the rebuilt read model was swapped in"
            )
        # The ready mark taken back, if the swap has not taken it: the cut call, should Redis
        # still run it, then swaps nothing, so what is said below stays true.
        if not int(self._eval("unready", [calls[0][1][0]], [calls[0][2][0]])):
            return (
                f"Redis answered the swap late ({_cut_said(cut)}); looked at again once it "
                "answered: the rebuilt read model was swapped in"
            )
        raise RebuildNotSwapped(
            f"Redis did not run the swap ({_cut_said(cut)}); looked at again once it answered: "
            "nothing was replaced, run the rebuild again"
        )

    def _once_answering(self, cut: Exception) -> None:
        """Return once Redis answers a PING (a harmless command, should Redis run it late),
        up to SWAP_ANSWER_WAIT_S after a call was `cut` by a timeout or BUSY; else
        BackendUnavailable saying that call's outcome is not known."""
        deadline = time.monotonic() + SWAP_ANSWER_WAIT_S
        while True:
            try:
                if self.cluster:  # every primary: a cluster's PING goes to one node alone
                    self.client.ping(target_nodes=RedisCluster.PRIMARIES)
                else:
                    self.client.ping()
                return
            except (redis.TimeoutError, redis.ConnectionError, redis.ResponseError) as error:
                if isinstance(error, redis.ResponseError) and not _busy(error):
                    raise
                if time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"Redis (the read model) did not answer for {SWAP_ANSWER_WAIT_S:.0f} s "
                        f"after the rebuild's call ({_cut_said(cut)}): whether its swap was "
                        f"done is not known (`HGETALL {OFFSETS_KEY}` shows the offsets it "
                        "has); run the rebuild again once it answers"
                    ) from error
                time.sleep(0.25)

    def _mark_forgotten(self, state: ReadModelState) -> None:
        """The forgotten voters' marks again (`ops forget-voter` set them in this Redis, which
        may have lost them): every voter kept as forgotten (forgotten_voters), and every voter
        filed under a `forgotten-` id in the event store."""
        from talkrate.adapters.limiter import forgotten_key

        pseudonyms = sorted(
            state.forgotten
            | {
                voter
                for votes in state.votes.values()
                for voter in votes
                if voter.startswith("forgotten-")
            }
        )
        pipe = self.client.pipeline(transaction=False)
        for pseudonym in pseudonyms:
            pipe.set(forgotten_key(pseudonym), "1")
        if pseudonyms:
            pipe.execute()

    def memory(self) -> ReadModelMemory:
        """How full Redis is and how it evicts (INFO memory: one round trip, allowed on
        ElastiCache, where CONFIG is not). On a cluster: the fullest primary's."""
        try:
            if self.cluster:
                per_node: dict[str, Any] = self.client.info(
                    "memory", target_nodes=RedisCluster.PRIMARIES
                )
                nodes = [i for i in per_node.values() if isinstance(i, dict)] or [per_node]
                info = max(nodes, key=_fullness)
            else:
                info = self.client.info("memory")
        except _UNANSWERED as error:
            raise BackendUnavailable("the read model is unreachable") from error
        return ReadModelMemory(
            used_bytes=int(info.get("used_memory", 0)),
            max_bytes=int(info.get("maxmemory", 0)),
            policy=str(info.get("maxmemory_policy", "unknown")),
        )

    @unreachable_as_backend_error
    def built_for(self, talk_ids: list[str]) -> bool:
        """Whether the read model is built where these talks are kept: on a cluster the marks
        of their slots only (one pipeline), so a shard lost elsewhere does not stop the answer;
        on one Redis, is_built."""
        if not self.cluster:
            return self.is_built()
        marks = sorted({_mark_of(histogram_key(talk_id)) for talk_id in talk_ids})
        pipe = self.client.pipeline(transaction=False)
        for mark in marks:
            pipe.exists(mark)
        with answered_once():
            return all(pipe.execute())

    @unreachable_as_backend_error
    def is_built(self) -> bool:
        """Whether Redis holds a read model built from the event store (False after Redis lost
        its data, or before the first build)."""
        if not self.cluster:
            return bool(self.client.exists(BUILT_KEY))
        # BUILT_KEY lives in one slot, on one shard: a shard that lost its data (restarted
        # empty, flushed, replaced without a replica) is seen by its own slots' marks. One
        # slot's mark a primary, read in one pipeline.
        marks = [BUILT_KEY, *(slot_mark(tag) for tag in _one_slot_a_primary(self.client))]
        pipe = self.client.pipeline(transaction=False)
        for mark in marks:
            pipe.exists(mark)
        return all(pipe.execute())

    def ping(self) -> bool | Literal["empty", "evicting"]:
        """True when Redis answers and holds the read model, "empty" when it answers without
        one (lost, or not built yet: the projector's next batch builds it; on a cluster, one
        shard's share lost is enough), "evicting" when it holds it under a maxmemory-policy
        that may evict its counts (an allkeys-* one: see SAFE_EVICTION_POLICIES), else False."""
        try:
            if not self.is_built():
                return "empty"
        except (BackendUnavailable, *_UNANSWERED):
            return False
        try:
            return True if self.memory().policy_is_safe else "evicting"
        except BackendUnavailable:
            return True  # (it answered the read above: how it evicts is told another time)


# Renews the rebuild lock for ARGV[2] seconds while it holds ARGV[1] (its rebuild's token);
# ARGV[2] = 0 drops it. 1 when it was that rebuild's, else 0.
_HOLD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
"""

# A voter's vote of a talk (KEYS[1], its votes hash) filed under another id: ARGV[1] -> ARGV[2],
# the vote as it was. 0 when the talk had no vote of ARGV[1], 1 when it was moved, 2 when ARGV[2]
# had a vote already (a rating of the voter counted after an earlier run, as another voter's):
# the newer of the two is kept, by the apply script's order (_VOTE_ORDER), and the histogram,
# which counted both, waits for a rebuild.
_RENAME_VOTER = (
    _VOTE_ORDER
    + """
local vote = redis.call('HGET', KEYS[1], ARGV[1])
if not vote then return 0 end
local kept, answer = vote, 1
local other = redis.call('HGET', KEYS[1], ARGV[2])
if other then
  answer = 2
  local _, v_ms, v_id = read_vote(vote)
  local _, o_ms, o_id = read_vote(other)
  if newer(o_ms, o_id, v_ms, v_id) then kept = other end
end
redis.call('HSET', KEYS[1], ARGV[2], kept)
redis.call('HDEL', KEYS[1], ARGV[1])
return answer
"""
)

# The partition offsets (fields of KEYS[1]) of a topic, ARGV[1] .. "<partition>", dropped, or
# moved to ARGV[2] .. "<partition>" when ARGV[2] is not empty (the topic retired); how many.
_RETIRE_OFFSETS = """
local moved = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local name = fields[i]
  local partition = string.sub(name, #ARGV[1] + 1)
  if string.sub(name, 1, #ARGV[1]) == ARGV[1] and string.match(partition, '^%d+$') then
    if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2] .. partition, fields[i + 1]) end
    redis.call('HDEL', KEYS[1], name)
    moved = moved + 1
  end
end
return moved
"""

# Takes a rebuild's ready mark (KEYS[1]) back while it holds the rebuild's token (ARGV[1]), so a
# swap call Redis has not run yet swaps nothing: 0 when the swap ran first (the mark says so),
# else 1 (taken back, or gone: no swap can run).
_UNREADY = """
local ready = redis.call('GET', KEYS[1])
if ready == 'swapped' then return 0 end
if ready == ARGV[1] then redis.call('UNLINK', KEYS[1]) end
return 1
"""

# Drops staged keys (KEYS 2...) while the rebuild lock (KEYS[1]) holds the token ARGV[1]:
# 1 when dropped, 0 (nothing dropped) when the lock is another's or gone.
_DROP_STAGED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1
"""

_SCRIPTS = {
    "drop_staged": _DROP_STAGED,
    "retire_offsets": _RETIRE_OFFSETS,
    "apply": _APPLY,
    "swap": _SWAP,
    "unready": _UNREADY,
    "hold": _HOLD,
    "rank": _RANK,
    "rename_voter": _RENAME_VOTER,
}


_READ_FIELDS = [*RATING_VALUES, "revision"]  # what a read of a talk's histogram asks for


def _queue_waits(pipe: Any, waits: dict[str, tuple[Any, int]]) -> None:
    """Queue, for each primary, a WAIT for its writes to reach that many replicas."""
    for node, replicas in waits.values():
        pipe.execute_command("WAIT", replicas, REPLICA_WAIT_MS, target_nodes=node)


def _ran_on(reply: Any) -> bool:
    """Whether a talk call's reply names the node that ran it (ARGV 12)."""
    return isinstance(reply, list) and len(reply) > 7


def _slot_moving(reply: Any) -> bool:
    """Whether a call's reply says its slot is being moved: TRYAGAIN, or the cluster client
    giving up after following redirections and TRYAGAIN for its few attempts."""
    return isinstance(reply, TryAgainError) or (
        isinstance(reply, ClusterError) and "TTL exhausted" in str(reply)
    )


def _histogram(stored: list[Any]) -> Histogram:
    """A talk's histogram from the values HMGET read for _READ_FIELDS (a talk never rated has
    none: revision 0)."""
    return Histogram.from_counts(
        dict(zip(RATING_VALUES, stored[:5], strict=True)), revision=stored[5] or 0
    )


def slot_mark(tag: str) -> str:
    """The rebuild's mark in the slot `tag` hashes to (a cluster's)."""
    return f"{BUILT_KEY}/{{{tag}}}"


def _numbers_by_slot() -> Iterator[tuple[str, int]]:
    """Decimal numbers, from 0 up, each with its slot, the first number of each slot only: that
    number is the slot's tag, so a slot's mark is found without the whole table."""
    seen: set[int] = set()
    number = 0
    while len(seen) < REDIS_CLUSTER_HASH_SLOTS:
        tag = str(number)
        slot = key_slot(tag.encode())
        if slot not in seen:
            seen.add(slot)
            yield tag, slot
        number += 1


@functools.cache
def _tags_by_slot() -> dict[int, str]:
    """Every slot's tag (about 110,000 numbers hashed, about 90 ms, once a process: a cluster
    projector's first batch, or a cluster rebuild)."""
    return {slot: tag for tag, slot in _numbers_by_slot()}


def _slot_tags() -> tuple[str, ...]:
    """Every slot's tag."""
    return tuple(_tags_by_slot().values())


def _mark_of(key: str) -> str:
    """The built mark (slot_mark) in the slot of `key`."""
    return slot_mark(_tags_by_slot()[key_slot(key.encode())])


def _one_slot_a_primary(client: Any) -> list[str]:
    """A slot's tag for each primary that serves slots, as the client knows the cluster now
    (a primary serving a third of the slots: a few numbers hashed)."""
    slots: dict[int, list[Any]] = client.nodes_manager.slots_cache
    primaries = {shard[0].name for shard in slots.values() if shard}
    tags: dict[str, str] = {}
    for tag, slot in _numbers_by_slot():
        shard = slots.get(slot)
        if shard and shard[0].name not in tags:
            tags[shard[0].name] = tag
            if len(tags) == len(primaries):
                break
    return list(tags.values())


def staged_key(key: str, token: str) -> str:
    """Where the rebuild holding `token` writes a key before its swap (the same hash tag: the
    same slot)."""
    return f"{STAGED_PREFIX}{token}/{key}"


def _staged_beside(key: str, token: str) -> str:
    """Where the rebuild holding `token` writes one of the keys all talks share (the partition
    offsets, the leaderboard, its revisions) before its swap: in that key's slot, its whole name
    the hash tag when it has none of its own."""
    return staged_key(key if "{" in key else "{" + key + "}", token)


def _ready_key(token: str, tag: str | None = None) -> str:
    """The rebuild's ready mark (a cluster's: in the slot of `tag`)."""
    return staged_key("ready" if tag is None else f"ready/{{{tag}}}", token)


def _raise_refused_swap(error: redis.ResponseError) -> None:
    """A swap the script refused as the rebuild's own error: its lock ran out, or its ready mark
    is gone (another rebuild dropped it, or Redis evicted it)."""
    if str(error).startswith("LOCKLOST"):
        raise RebuildLockLost(str(error)) from error
    if str(error).startswith("NOTREADY"):
        raise RebuildNotSwapped(f"{error}: run the rebuild again") from error


def _swap_keys(talks: list[str], token: str) -> list[str]:
    """A talk's four keys as _SWAP takes them: live histogram and votes, then the staged ones."""
    return [
        key
        for talk in talks
        for key in (
            histogram_key(talk),
            votes_key(talk),
            staged_key(histogram_key(talk), token),
            staged_key(votes_key(talk), token),
        )
    ]


def _score(counts: dict[str, int]) -> float | None:
    """A talk's Bayesian average as a batch's script ranks it, None without ratings."""
    n = sum(c for c in counts.values() if c > 0)
    if not n:
        return None
    total = sum(int(value) * c for value, c in counts.items() if c > 0)
    return (PRIOR_MEAN * PRIOR_WEIGHT + total) / (PRIOR_WEIGHT + n)


def _busy(error: Exception) -> bool:
    """Whether Redis refused a command because a script (or a function) runs too long (a
    pipeline's error says which command first: "Command # 1 (...) of pipeline caused error:
    BUSY ...")."""
    said = str(error)
    return said.startswith("BUSY") or "of pipeline caused error: BUSY" in said


def _cut_said(error: Exception) -> str:
    """What cut a call, in a few words."""
    if isinstance(error, redis.ResponseError):
        return "BUSY: Redis was running a long script"
    return f"{type(error).__name__}: {error}"


def _now_text() -> str:
    """When the read model was built, as the marker key holds it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fullness(info: dict[str, Any]) -> float:
    """How full a node is (0 when it has no limit)."""
    limit = int(info.get("maxmemory", 0))
    return int(info.get("used_memory", 0)) / limit if limit else 0.0


def _talk_keys(talks: list[str]) -> list[str]:
    return [key for talk in talks for key in (histogram_key(talk), votes_key(talk))]


def _by_slot(talks: dict[str, dict[str, _TalkPart]]) -> list[list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for talk in talks:
        groups[key_slot(histogram_key(talk).encode())].append(talk)
    return list(groups.values())


def _plan(batch: ProjectionBatch) -> tuple[dict[str, dict[str, _TalkPart]], dict[str, _Mark]]:
    """The batch per talk and partition (aggregated), and per partition what has no talk."""
    talks: dict[str, dict[str, _TalkPart]] = {}
    marks: dict[str, _Mark] = {}
    names: dict[tuple[str, int], str] = {}  # (topic, partition) -> "topic-partition"
    places: dict[str, int] = {}  # a partition's place in the payload's list of names (marks')
    for rating in batch.ratings:
        offset, where = rating.offset, (rating.topic, rating.partition)
        name = names.get(where)
        if name is None:
            name = names[where] = rating.position
            mark = marks[name] = _Mark(offset, offset)
            places[name] = len(marks)
        else:
            mark = marks[name]
            if offset > mark.top:
                mark.top = offset
            elif offset < mark.first:
                mark.first = offset
        if rating.duplicate:
            mark.duplicates.append(offset)
            continue
        event = rating.event
        parts = talks.get(event.talk_id)
        if parts is None:
            parts = talks[event.talk_id] = {}
        part = parts.get(name)
        if part is None:
            part = parts[name] = [places[name], 0, 0, 0, 0, 0, 0, -1]
        if event.voter_id is not None:
            part[_VOTERS] += 1
            part += _vote(event)
        else:
            part[event.value] += 1  # the count of the value
    for letter in batch.dead_letters:
        held = marks.get(letter.position)
        if held is None:
            held = marks[letter.position] = _Mark(letter.offset, letter.offset)
        held.first, held.top = min(held.first, letter.offset), max(held.top, letter.offset)
        held.dead.append(letter.offset)
    return talks, marks


def _payload(
    names: list[str],
    talks: dict[str, dict[str, _TalkPart]],
    marks: dict[str, _Mark],
    detail: dict[tuple[str, str], list[list[Any]]] | None = None,
    judge: bool = True,
) -> str:
    """The _APPLY payload for these talks (with their records in detail when given); `judge`:
    with the records that belong to no talk, for the call that moves the partition offsets."""
    flat: list[Any] = []
    for talk in names:
        parts = talks[talk]
        flat += (talk, len(parts))
        if detail is None:
            for part in parts.values():
                flat += part
            continue
        for name, part in parts.items():
            records = detail[(talk, name)]
            flat += part[:_DETAIL]
            flat.append(len(records))
            flat += part[_DETAIL + 1 :]
            for record in records:
                flat.append(len(record))
                flat += record
    judged = [[n, m.top, m.dead, m.duplicates] for n, m in marks.items()] if judge else []
    ranges = [offset for m in marks.values() for offset in (m.first, m.top)]
    return json.dumps(
        {"n": list(marks), "r": ranges, "t": flat, "m": judged}, separators=(",", ":")
    )


def _detailed(batch: ProjectionBatch, talks: set[str]) -> dict[tuple[str, str], list[list[Any]]]:
    """Every record of these talks per talk and partition, with its offset (see _APPLY)."""
    records: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    for rating in batch.ratings:
        event = rating.event
        if rating.duplicate or event.talk_id not in talks:
            continue
        record: list[Any] = [rating.offset, str(event.value)]
        if event.voter_id is not None:
            record = [rating.offset, *_vote(event)]
        records[(event.talk_id, rating.position)].append(record)
    return records


def _vote(event: Rating) -> list[Any]:
    """A voter's rating as the apply script takes it: value, voter, occurredMs, eventId."""
    return [str(event.value), event.voter_id, event.occurred_ms, str(event.event_id)]
