"""A Redis Cluster client whose every call waits a bounded time, in all, for nodes that do not answer.

redis-py's cluster client follows a node that does not answer by asking the cluster's nodes for
its slots again, one after the other, each with the full socket timeout, and by trying the call
again: on a cluster whose nodes accept connections and never answer (processes stopped, a host
overloaded) one read took 35 s (5 s for the command, then 5 s for each of six nodes asked), where
one Redis takes its socket timeout (5 s), and the API's read of the read model, which falls back
to the event store, ran past the function's 12 s (a 503). Here the answers one call waits for and
never gets add up to at most its socket timeout and REFRESH_WAIT_S more (a second for asking the
other nodes for the slots: they answer at once when they can, so a failover or a reshard is
followed as before). Each call of the client, and each pipeline's execute, has its own budget; a
call made inside another (a script loaded again, a pipeline's redirections) shares it. A node's
connect spends from it as a read does: an address that no longer answers at all (no RST) took its
connect timeout (2 s) at each try and each refresh that asked it, uncounted (a read 22 s).

A read made `answered_once` takes a CLUSTERDOWN as its answer: redis-py tries a call the cluster
refuses so (a shard lost, or a failover under way) ten more times, each after a quarter of a
second and a refresh (2.8 s, more when the refresh meets a node that does not answer), which a
write riding out a failover needs and a read that has somewhere else to go (the event store) or
something to say (`unavailable`) does not. Such a read takes a node's refused connection as its
answer too once its client has read the slots again (they may name the refusing node's promoted
replica) and they still name it: redis-py tries a call whose node refuses the connection ten more
times, reading the slots again at each (a fresh connection to a node, its handshake, CLUSTER
SLOTS), which for a shard lost whole (primary and replica) cost the programme 22 reads of the
slots in one request, 0.1 s on a quiet machine and 1.3 s on a loaded one.

A request that makes several reads (the programme: its page's pipeline, then each shard's own
read when that fails) makes them inside `one_request`: they share one budget, and a node that
left one of them unanswered is not waited on again by the others (they fail at once for it), so
a node that answers nothing costs the request one wait, not one per read (the programme waited
6 s for the pipeline and 6 s more for the shard's own read: 12 s, the function's timeout).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import redis
from redis.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import ClusterDownError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a call may wait, beyond one socket timeout, for nodes that do not answer: its client
# asking other nodes for the slots after one did not answer.
REFRESH_WAIT_S = 1.0
# In a request's budget (one_request), what a read of a node not yet silent may still wait once
# the budget is spent: a live shard answers in milliseconds, and its counts are not lost to the
# wait a silent node spent (each node at most once: it is silent after).
SPENT_GRACE_S = 0.5


class _Unanswered:
    """What is left of one call's wait for answers that do not come (set at its first read, from
    that connection's socket timeout)."""

    left: float | None = None
    grace = 0.0  # (SPENT_GRACE_S in a request's budget)

    def __init__(self) -> None:
        # the nodes (host, port) that left a read, or a connect, unanswered within this budget
        self.silent: set[tuple[str, int]] = set()


_budget: ContextVar[_Unanswered | None] = ContextVar("cluster_call_unanswered", default=None)
_once: ContextVar[bool] = ContextVar("cluster_read_answered_once", default=False)
# The nodes (host, port) that refused one call's connection (each call its own, a request's too:
# a failover ridden out reads again, and finds the promoted replica by reading the slots again)
_refused: ContextVar[set[tuple[str, int]] | None] = ContextVar("cluster_call_refused", default=None)


class ClusterDownOnRead(redis.ResponseError):
    """A CLUSTERDOWN (or MASTERDOWN) answered to a read made `answered_once`: a ResponseError
    that is no ClusterDownError, so redis-py neither waits, reads the slots again nor tries the
    call again, and the caller takes it as Redis not answering (a RedisError)."""


class RefusedOnRead(redis.RedisError):
    """A read made `answered_once` connecting again to a node that refused its connection in the
    same call: a RedisError that is no ConnectionError, so redis-py neither reads the slots again
    nor tries the call again, and the caller takes it as Redis not answering."""


@contextmanager
def answered_once() -> Iterator[None]:
    """The cluster's calls inside take a CLUSTERDOWN as their answer (see the module); on one
    Redis, nothing changes."""
    token = _once.set(True)
    try:
        yield
    finally:
        _once.reset(token)


@contextmanager
def one_request() -> Iterator[None]:
    """One budget for every call of the cluster inside (see the module), unless inside one;
    once spent, a node not silent yet is still waited SPENT_GRACE_S."""
    if _budget.get() is not None:
        yield
        return
    budget = _Unanswered()
    budget.grace = SPENT_GRACE_S
    token = _budget.set(budget)
    try:
        yield
    finally:
        _budget.reset(token)


@contextmanager
def _one_call() -> Iterator[None]:
    """A budget for the call about to run, unless it runs inside a call or a request that has
    one; and its own list of refusals, unless it runs inside a call."""
    refusals = _refused.set(set()) if _refused.get() is None else None
    budget = _budget.set(_Unanswered()) if _budget.get() is None else None
    try:
        yield
    finally:
        if budget is not None:
            _budget.reset(budget)
        if refusals is not None:
            _refused.reset(refusals)


class _BudgetedReads:
    """A connection whose reads wait no longer than what is left of their call's budget; a read
    that times out spends what it waited, and one with nothing left fails at once (the connection
    dropped, as a read that timed out drops it)."""

    socket_timeout: float | None
    socket_connect_timeout: float | None
    host: str
    port: int

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        if not _once.get():
            return self._read_in_budget(*args, **kwargs)
        try:
            return self._read_in_budget(*args, **kwargs)
        except ClusterDownError as refused:
            raise ClusterDownOnRead(str(refused)) from refused

    def _read_in_budget(self, *args: Any, **kwargs: Any) -> Any:
        budget = _budget.get()
        if budget is None or "timeout" in kwargs or self.socket_timeout is None:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        if budget.left is None:
            budget.left = self.socket_timeout + REFRESH_WAIT_S
        if max(budget.left, budget.grace) <= 0 or (self.host, self.port) in budget.silent:
            # (the command sent is not read: its answer must not be taken as the next one's)
            self.disconnect()  # type: ignore[attr-defined]
            raise RedisTimeoutError("no answer: the call's wait for this cluster is spent")
        if max(budget.left, budget.grace) < self.socket_timeout:
            kwargs["timeout"] = max(budget.left, budget.grace)
        started = time.monotonic()
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except RedisTimeoutError:
            budget.left -= time.monotonic() - started
            budget.silent.add((self.host, self.port))
            raise

    def _connect(self) -> Any:
        """The socket, its connect (and a TLS handshake) waiting no longer than what is left of
        the call's budget; one that fails spends what it waited, one with nothing left fails at
        once (redis-py says it as a TimeoutError, as a connect that timed out). A read made
        `answered_once` does not connect again to a node that refused it (RefusedOnRead)."""
        node, refused = (self.host, self.port), _refused.get()
        if refused is not None and node in refused and _once.get():
            raise RefusedOnRead(f"{self.host}:{self.port} refused this read's connection already")
        budget = _budget.get()
        wait, answer = self.socket_connect_timeout, self.socket_timeout
        if budget is None or wait is None or answer is None:
            return super()._connect()  # type: ignore[misc]
        if budget.left is None:
            budget.left = answer + REFRESH_WAIT_S
        left = max(budget.left, budget.grace)
        if left <= 0 or node in budget.silent:
            raise TimeoutError("no answer: the call's wait for this cluster is spent")
        # (the connection is this call's alone while it connects: its pool lent it)
        self.socket_connect_timeout = min(wait, left)
        self.socket_timeout = min(answer, left)  # (a TLS handshake reads within it)
        started = time.monotonic()
        try:
            sock = super()._connect()  # type: ignore[misc]
        except OSError as failed:
            budget.left -= time.monotonic() - started
            if isinstance(failed, TimeoutError):  # (no answer; a refusal is an answer)
                budget.silent.add(node)
            elif refused is not None:
                refused.add(node)
            raise
        finally:
            self.socket_connect_timeout, self.socket_timeout = wait, answer
        sock.settimeout(answer)
        return sock


class BudgetedConnection(_BudgetedReads, redis.Connection):
    """A cluster node's connection (redis://)."""


class BudgetedSSLConnection(_BudgetedReads, redis.SSLConnection):
    """A cluster node's connection over TLS (rediss://)."""


class _BudgetedPipeline(ClusterPipeline):
    """A cluster pipeline whose execute is one call, with one budget."""

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        with _one_call():
            return super().execute(raise_on_error)


class BoundedCluster(RedisCluster):
    """RedisCluster whose calls wait for unanswering nodes at most their socket timeout and
    REFRESH_WAIT_S in all (its connection class must be a Budgeted one: `connect`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Made as one call: it asks its startup nodes for the slots (each the full socket timeout
        when it does not answer: 15 s for a URL naming three nodes of a stopped cluster, and a
        client not made is made again at the next request)."""
        with _one_call():
            super().__init__(*args, **kwargs)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        """The command, its waits for answers that do not come bounded (see the module)."""
        with _one_call():
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        """redis-py's pipeline, its execute one bounded call."""
        pipe: ClusterPipeline = super().pipeline(transaction, shard_hint)  # type: ignore[no-untyped-call]
        pipe.__class__ = _BudgetedPipeline  # (a subclass adding a method only: no state to make)
        return pipe
