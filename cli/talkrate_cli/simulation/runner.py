"""Sends a planned crowd to the API at the planned moments, as many at once as allowed.

Ratings of a talk that answered 409 (its rating window is closed) are not sent any more.
Each attendee's requests go one after another (one phone each), so their newest 202 is their
newest rating. A rating carries an Idempotency-Key and is retried on no answer or a 5xx, so it
counts once however often it was sent; a 429 is counted apart and not retried.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from talkrate_cli.client import USER_AGENT
from talkrate_cli.simulation.ledger import SILENCE_SECONDS, Ledger
from talkrate_cli.simulation.scenario import VOTER_ID_IN_BODY, Action

RETRIES = 4
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class NotSent(Exception):
    """A request the run could not make, said in its own words (the report's last error)."""


def request_body(action: Action) -> str:
    """The body of an action's POST /ratings: a rating, or a deliberately bad one."""
    rating: dict[str, Any] = {"talkId": action.talk_id, "value": action.value}
    if action.bad == "value-out-of-range":
        rating["value"] = 6
    elif action.bad == "value-as-text":
        rating["value"] = "5"
    elif action.bad == "unknown-talk":
        rating["talkId"] = f"no-such-talk-{uuid.uuid4().hex[:12]}"
    elif action.bad == "not-json":
        return '{"talkId": "' + action.talk_id + '", "value": '
    elif action.bad == VOTER_ID_IN_BODY:
        rating = {"talkId": action.talk_id, "value": 3, "voterId": f"attendee-{action.attendee}"}
    return json.dumps(rating)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(10.0, max(0.1, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


def _slug(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit(":", 1)[-1]
    except (ValueError, AttributeError):
        return ""


def _event_id(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["eventId"])
    except (ValueError, KeyError, TypeError):
        return None


class Runner:
    """One simulated crowd against one API."""

    def __init__(
        self,
        api_url: str,
        ledger: Ledger,
        concurrency: int,
        use_tokens: bool,
        code: str | None = None,
        silence: float = SILENCE_SECONDS,
    ) -> None:
        self.api_url = api_url
        self.silence = silence  # the run stops when the API has not answered for this long
        self.ledger = ledger
        self.concurrency = concurrency
        self.use_tokens = use_tokens
        self.code = code
        self.tokens: dict[int, str] = {}
        self.voter_retries = 0  # POST /voters waits on 429: the address's limit
        self.voter_busy = 0  # and on 503: the API busy or stopping
        self.stopped: str | None = None  # why the run stopped early: it cannot go on as it is
        self._locks: dict[int, asyncio.Lock] = {}
        self._last_answer: float | None = None  # loop time of the API's last answer

    def _answered(self) -> None:
        self._last_answer = asyncio.get_running_loop().time()

    def _unanswered(self, error: Exception) -> bool:
        """Note a request that got no answer; True when the API has been silent so long that the
        run stops (`stopped` then says why)."""
        now = asyncio.get_running_loop().time()
        if self._last_answer is None:
            self._last_answer = now  # silent from the start: counted from the first try
        if not self.stopped and now - self._last_answer >= self.silence:
            self.stopped = (
                f"the API has not answered for {self.silence:g} s ({type(error).__name__}: {error})"
            )
        return self.stopped is not None

    async def run(self, plan: list[Action], tick: Callable[[], None]) -> None:
        """Send the whole plan; `tick` is called a few times a second for the progress view."""
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(
            base_url=self.api_url,
            timeout=TIMEOUT,
            limits=limits,
            headers={"user-agent": USER_AGENT},
        ) as http:
            slots = asyncio.Semaphore(self.concurrency)
            ticker = asyncio.create_task(self._tick(tick))
            loop = asyncio.get_running_loop()
            start = loop.time()
            tasks: set[asyncio.Task[None]] = set()
            for action in plan:
                if self.stopped:
                    break
                delay = start + action.at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await slots.acquire()
                task = asyncio.create_task(self._one(http, action))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: slots.release())
            if tasks:
                await asyncio.gather(*tasks)
            ticker.cancel()
        tick()

    async def _tick(self, tick: Callable[[], None]) -> None:
        while True:
            tick()
            await asyncio.sleep(0.25)

    async def _one(self, http: httpx.AsyncClient, action: Action) -> None:
        lock = self._locks.setdefault(action.attendee, asyncio.Lock())
        async with lock:
            if action.bad is None and action.talk_id in self.ledger.closed_talks:
                self.ledger.skipped += 1  # outside its rating window: no use sending more
                return
            if self.stopped:
                return  # not sent: the report counts the planned requests it did not send
            try:
                await self._send(http, action)
            except NotSent as error:  # said in the run's own words
                self.ledger.failed(action, str(error))
            except Exception as error:  # recorded, never fatal to the run
                self.ledger.failed(action, f"{type(error).__name__}: {error}")

    async def _voter(self, http: httpx.AsyncClient, attendee: int) -> str:
        """The attendee's voter token, from POST /voters on first use (waits out a 429)."""
        if attendee in self.tokens:
            return self.tokens[attendee]
        body = json.dumps({"code": self.code} if self.code else {})
        for attempt in range(30):
            try:
                response = await http.post(
                    "/voters", content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as error:
                if self._unanswered(error):
                    raise NotSent(f"POST /voters: {self.stopped}") from error
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            self._answered()
            if response.status_code == 201:
                self.tokens[attendee] = str(response.json()["voterToken"])
                return self.tokens[attendee]
            if response.status_code in (429, 503):
                if response.status_code == 429:
                    self.voter_retries += 1
                else:
                    self.voter_busy += 1
                await asyncio.sleep(_retry_after(response))
                continue
            raise NotSent(f"POST /voters answered {response.status_code}")
        raise NotSent("POST /voters kept refusing")

    async def _send(self, http: httpx.AsyncClient, action: Action) -> None:
        headers = {"content-type": "application/json"}
        if self.use_tokens:
            headers["voter-token"] = await self._voter(http, action.attendee)
        if action.bad is None:
            headers["idempotency-key"] = str(uuid.uuid4())
        body = request_body(action)
        loop = asyncio.get_running_loop()
        last = ""
        for attempt in range(RETRIES + 1):
            started = loop.time()
            try:
                response = await http.post("/ratings", content=body, headers=headers)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
                if self._unanswered(error):
                    break
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            self._answered()
            latency = loop.time() - started
            if response.status_code >= 500 and attempt < RETRIES:
                last = f"HTTP {response.status_code}"
                await asyncio.sleep(
                    _retry_after(response) if response.status_code == 503 else 0.2 * 2**attempt
                )
                continue
            if response.status_code == 202:
                self.ledger.answered(action, 202, latency, event_id=_event_id(response))
                return
            slug = _slug(response)
            if response.status_code == 409 and slug == "request-in-progress" and attempt < RETRIES:
                # The first try with this key is still being taken (its answer was lost or
                # slow): asked again, the key answers what that try did, once it is done.
                last = f"HTTP 409 {slug}"
                await asyncio.sleep(_retry_after(response))
                continue
            self.ledger.answered(action, response.status_code, latency, slug)
            if response.status_code == 401 and action.bad is None:
                self.stopped = f"the API refused a rating: 401 {slug}" + (
                    "" if self.use_tokens else " (the policy needs voter tokens: drop --no-tokens)"
                )
            return
        self.ledger.failed(action, last)
