"""The API over HTTP: the command is a client of the published contract, nothing more."""

from __future__ import annotations

import errno
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from talkrate_cli.errors import ApiProblem, BadInput, CliError, Unreachable

# How many times a programme that changes while its pages are read is read again
READS_OF_A_CHANGING_PROGRAMME = 3

USER_AGENT = "talkrate-cli/0.1"


def retry_schedule(first: float) -> tuple[float, float, float]:
    """The pauses before a write whose answer was lost (or said "later") is sent again with its
    Idempotency-Key: `first`, then twice and four times as long."""
    return (first, first * 2, first * 4)


# The pauses by default (TALKRATE_RETRY_SECONDS sets the first: talkrate_cli.settings).
RATE_RETRY_SECONDS = retry_schedule(1.0)
# The longest Retry-After a rating waits for before it is sent again: the API's wait while it
# updates its voter-token keys is at most 30 s (talkrate.admin_token.REREAD_FLOOR_SECONDS).
RATE_WAIT_SECONDS = 30.0
# The API's 429 for a voter pass it cannot check until it reads its voter-token keys again (a
# key put since it last read them may have signed it): "later", with the same pass, not a limit.
KEYS_UPDATING = "voter-keys-updating"


def check_url(url: str) -> str:
    """The API's base URL without a trailing slash, nor the spaces and line ends around it (a
    TALKRATE_API from a .env file of CRLF lines); refused as bad input (exit 2, not the 1 of an
    API out of reach) unless it is http(s) with a host."""
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise BadInput(f"bad API URL {url!r}: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadInput(f"bad API URL {url!r}: expected http(s)://host[:port]")
    if parsed.port is not None and not 0 < parsed.port < 65536:  # httpx takes any number
        raise BadInput(f"bad API URL {url!r}: port {parsed.port} is not one (1 to 65535)")
    return url.rstrip("/")


# Set to 1 to send the organiser token over plain HTTP to another machine (a local runtime on
# the network, `make run --host 0.0.0.0`): anyone on the way reads it.
PLAIN_HTTP_SETTING = "TALKRATE_ALLOW_PLAIN_HTTP"


def refuse_plain_http(url: str) -> None:
    """BadInput (exit 2) before the organiser token is sent in clear to another machine: an
    `http://` URL whose host is not this machine's, unless TALKRATE_ALLOW_PLAIN_HTTP=1. A
    mistyped `--api http://…` sent it to the network before any server could refuse it."""
    import os

    from talkrate_cli.settings import is_loopback

    parsed = httpx.URL(url)
    if parsed.scheme != "http" or is_loopback(url):
        return
    if os.environ.get(PLAIN_HTTP_SETTING, "").strip() == "1":
        return
    raise BadInput(
        f"the organiser token is not sent over plain HTTP to {parsed.host} (anyone on the way "
        "could read it): use the API's https:// address; for a local runtime on your network, "
        f"set {PLAIN_HTTP_SETTING}=1"
    )


def unreachable(url: str, error: Exception) -> Unreachable:
    """One line for a transport failure, whatever httpx raised."""
    reason = str(error) or type(error).__name__
    if refused(error):
        reason = "connection refused (is the API running? `make run` starts it locally)"
    elif isinstance(error, httpx.ConnectError) and _plain_answer_to_tls(error):
        reason = "it does not answer in TLS (is its address http://, as the local runtime's is?)"
    elif isinstance(error, httpx.TimeoutException):
        reason = f"no answer in time ({type(error).__name__})"
    lost = isinstance(
        error,
        httpx.TimeoutException | httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError,
    ) and not isinstance(error, httpx.ConnectTimeout)
    return Unreachable(f"cannot reach the API at {url}: {reason}", answer_lost=lost)


def refused(error: Exception) -> bool:
    """Whether a transport failure is a refused connection: nothing listens at the address (yet),
    and nothing of the request was sent. Known by what the socket raised under httpx's
    ConnectError (ConnectionRefusedError, or an OSError of errno ECONNREFUSED), not by its
    words, which are the system's (another language on another system): an unknown host
    (socket.gaierror) or one out of reach (no route) is no refusal."""
    return isinstance(error, httpx.ConnectError) and any(
        isinstance(cause, ConnectionRefusedError)
        or (isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED)
        for cause in _causes(error)
    )


def _plain_answer_to_tls(error: Exception) -> bool:
    """Whether a connection's TLS handshake met an answer in plain HTTP (https:// to the local
    runtime): OpenSSL's WRONG_VERSION_NUMBER, read from the SSLError's reason."""
    return any(
        isinstance(cause, ssl.SSLError) and cause.reason == "WRONG_VERSION_NUMBER"
        for cause in _causes(error)
    )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or while handling, each once: httpx's ConnectError
    over httpcore's, over the socket's own OSError."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


# Statuses that, without the API's problem document, say no route of the API is there.
NO_ROUTE = (404, 405, 501)


def raise_for_problem(response: httpx.Response, base_url: str | None = None) -> None:
    """ApiProblem for any 4xx/5xx, read from its problem+json body (or a summary of the body).

    The API answers every unknown path or method with a problem document of its own (routes
    cover every path): a 404, 405 or 501 without one comes from something else at `base_url`
    (the Lambda port, a web server, a stage path the API is not under), and says so."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and not body.get("type") and isinstance(body.get("message"), str):
        # API Gateway's own answer, not the API's (its throttle's {"message": "Too Many
        # Requests"}): said in its words, without a problem type.
        body = {"title": body["message"][:200]}
    elif not isinstance(body, dict):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        if _a_page(response, text):
            # A gateway's error page (CloudFront's 502 and 504 are HTML): said in words, not
            # printed as markup.
            text = GATEWAY_PAGE_WORDS.get(response.status_code, OTHER_PAGE_WORDS)
        body = {"title": response.reason_phrase or "error", "detail": text}
    if base_url and response.status_code in NO_ROUTE and not body.get("type"):
        body = {
            "title": str(body.get("title") or response.reason_phrase or "error"),
            "detail": f"{response.request.method} {response.request.url.path} is no route of the "
            f"talkrate API at {base_url}: is it the API's base URL?",
        }
    raise ApiProblem(response.status_code, body, retry_after(response))


# What a gateway's HTML error page says, in words (the page itself is markup).
GATEWAY_PAGE_WORDS = {
    502: "the gateway in front of the API could not get an answer from it (an error page of "
    "its own, not the API's)",
    504: "the gateway in front of the API gave up waiting for its answer (an error page of its "
    "own, not the API's)",
}
OTHER_PAGE_WORDS = "answered with a web page, not the API's problem document"


def _a_page(response: httpx.Response, text: str) -> bool:
    """Whether an answer is an HTML page (a gateway's or a web server's, never the API's)."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml") or text.lower().startswith(
        ("<!doctype html", "<html")
    )


def retry_after(response: httpx.Response) -> float | None:
    """The seconds an answer's Retry-After asks to wait (the API sends seconds), or None."""
    text = response.headers.get("retry-after", "").strip()
    return float(text) if text.isdigit() else None


def talk_path(talk_id: str) -> str:
    """The URL path of a talk (ids are opaque: quoted as a path segment)."""
    return "/talks/" + quote(talk_id, safe="")


class Api:
    """A small client of the talkrate HTTP API."""

    def __init__(
        self,
        url: str,
        admin_token: str | None = None,
        timeout: float = 15.0,
        config_url: str | None = None,
        retry_pauses: tuple[float, ...] | None = None,
    ) -> None:
        self.url = check_url(url)
        # The pauses before a write is sent again (post_once, a voter pass): the session's
        # TALKRATE_RETRY_SECONDS, else RATE_RETRY_SECONDS
        self._retry_pauses = retry_pauses
        # The organiser token admin requests carry (the session sets it when it reads it late:
        # from a stack's secret, once an admin command needs it)
        self.admin_token = admin_token
        # Where /app/config.json is when the pages are on another origin than the API (a
        # stack's CloudFront distribution beside its execute-api URL); else the API's own.
        self._config_url = config_url
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, headers={"user-agent": USER_AGENT}
        )
        # GET /app/config.json as first read (its document, or the error it failed with)
        self._page_config: dict[str, Any] | CliError | None = None
        self._page_config_read = False
        # Whether the last read of the programme found its ratings being rebuilt (GET /talks's
        # `rebuilding`: the API's Redis lost them; its talks came without their summaries)
        self.ratings_rebuilding = False
        # Where a GET answered 503 goes (with Retry-After or without: a gateway's own), while a
        # caller waits out a busy API (a verify reading the counts, before the run and after
        # it): it waits, and the GET is sent again, or it raises. A request that may be sent
        # twice (`again`: a voter pass) goes there too.
        self.busy_reads: Callable[[ApiProblem], None] | None = None
        # Where a GET whose connection was refused goes (nothing listens at the address yet: a
        # local runtime starting), while a caller waits for the API to listen (a simulation
        # before its crowd starts): it waits, and the GET is sent again, or it raises.
        self.refused_reads: Callable[[str], None] | None = None

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        admin: bool = False,
        again: bool = False,
    ) -> httpx.Response:
        """One request; ApiProblem for an error answer, Unreachable when there is none. A GET
        answered 503 is sent again after `busy_reads` when it is set, and one whose connection
        was refused after `refused_reads`; so is another request said to do no harm sent twice
        (`again`)."""
        sent = dict(headers or {})
        if admin:
            refuse_plain_http(self.url)
            sent["authorization"] = f"Bearer {self.admin_token or ''}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = None if body is None else json.dumps(body)
        if content is not None:
            sent["content-type"] = "application/json"
        again = again or method == "GET"
        while True:
            try:
                response = self._http.request(
                    method, path, params=query, content=content, headers=sent
                )
            except httpx.HTTPError as error:
                if not (again and self.refused_reads is not None and refused(error)):
                    raise unreachable(self.url, error) from None
                self.refused_reads(self.url)
                continue
            try:
                raise_for_problem(response, self.url)
            except ApiProblem as problem:
                busy = problem.status == 503 and again
                if not (busy and self.busy_reads is not None):
                    raise
                self.busy_reads(problem)
                continue
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of a successful answer."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.url} answered {method} {path} with something else than the talkrate "
                f"API's JSON ({response.headers.get('content-type') or 'no type'}): is it the "
                "API's base URL?"
            ) from None

    # Reading

    def index(self) -> dict[str, Any]:
        """GET /: where the backends are."""
        return dict(self.json("GET", "/"))

    def talks(self, track: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
        """Every talk of the programme (all pages), optionally of one track or matching words.

        The programme is read 100 talks a page, in its order (start time, then id): a talk added,
        removed or moved in time meanwhile shifts the pages, so that one talk is read twice and
        another not at all. A talk read twice is kept once; a programme whose total changed
        between pages, or that came with fewer talks than its total, is read again (three
        tries, then CliError: an export or import that silently missed a talk is worse).
        """
        for _ in range(READS_OF_A_CHANGING_PROGRAMME):
            read: dict[str, dict[str, Any]] = {}
            totals = set()
            self.ratings_rebuilding = False
            for page in self._pages(track, search):
                totals.add(page["total"])
                self.ratings_rebuilding |= page.get("rebuilding") is True
                for talk in page["items"]:
                    read.setdefault(talk["id"], talk)
            if len(totals) <= 1 and len(read) >= max(totals, default=0):
                return list(read.values())
        raise CliError(
            "the programme changed while it was read, "
            f"{READS_OF_A_CHANGING_PROGRAMME} times: try again in a moment"
        )

    def _pages(self, track: str | None, search: str | None) -> Iterator[dict[str, Any]]:
        """The programme's pages, in order."""
        offset = 0
        while True:
            page = self.json(
                "GET",
                "/talks",
                params={"track": track, "q": search, "limit": 100, "offset": offset},
            )
            yield page
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def talk(self, talk_id: str) -> dict[str, Any]:
        """GET /talks/{id}."""
        return dict(self.json("GET", talk_path(talk_id)))

    def ratings(self, talk_id: str) -> dict[str, Any]:
        """GET /ratings?talkId=: the histogram and its statistics."""
        return dict(self.json("GET", "/ratings", params={"talkId": talk_id}))

    def leaderboard(self, limit: int = 10, track: str | None = None) -> dict[str, Any]:
        """GET /leaderboard."""
        return dict(self.json("GET", "/leaderboard", params={"limit": limit, "track": track}))

    def page_config(self, again: bool = False) -> dict[str, Any] | None:
        """GET /app/config.json (voting policy, live channel, the venue's time zone), or None
        where it is not served. Read once by a client (a command's run): what it said then,
        its failure too, is said again, unless asked `again` (a watch reconnecting, whose live
        channel may have moved)."""
        if again or not self._page_config_read:
            try:
                config = self.json("GET", self._config_url or "/app/config.json")
                self._page_config = config if isinstance(config, dict) else None
            except ApiProblem as problem:
                self._page_config = None if problem.status in (403, 404) else problem
            except CliError as error:
                self._page_config = error
            self._page_config_read = True
        if isinstance(self._page_config, CliError):
            raise self._page_config
        return self._page_config

    # Rating

    def new_voter(self, code: str | None = None, key: str | None = None) -> dict[str, Any] | None:
        """POST /voters: a voter token, or None where the API has no voter tokens. Under the
        Idempotency-Key `key` (a new one when None): asked again with the same key, the API
        gives the same pass, one voter (talkrate_cli.voting.new_voter asks again so). Asked
        again as a GET is (`busy_reads`, `refused_reads`), under the same key."""
        body = {"code": code} if code else {}
        headers = {"idempotency-key": key or uuid.uuid4().hex}
        try:
            return dict(self.json("POST", "/voters", body=body, headers=headers, again=True))
        except ApiProblem as problem:
            if problem.status in (404, 405):
                return None
            raise

    def renew_voter(self, token: str, code: str | None = None) -> dict[str, Any]:
        """POST /voters presenting `token`: the same voter's token with a new expiry
        (`"renewed": true`), or, when the API cannot renew it (expired, no longer accepted), a
        new voter's (`"renewed": false`: asked for as any new one, with the event code, under an
        Idempotency-Key)."""
        body = {"code": code} if code else {}
        headers = {"voter-token": token, "idempotency-key": uuid.uuid4().hex}
        return dict(self.json("POST", "/voters", body=body, headers=headers))

    @property
    def retry_pauses(self) -> tuple[float, ...]:
        """The pauses before a write whose answer was lost, or said "later", is sent again."""
        return self._retry_pauses or RATE_RETRY_SECONDS

    def rate(
        self,
        talk_id: str,
        value: int,
        voter_token: str | None = None,
        waiting: Callable[[ApiProblem, float], None] | None = None,
    ) -> dict[str, Any]:
        """POST /ratings, with the voter token when there is one and an Idempotency-Key.

        An answer lost on the way (a timeout, a dropped connection, a gateway's own 502 or
        504), a 503, "request in progress", the API updating its voter-token keys (429
        voter-keys-updating) or API Gateway's throttle is retried after 1, 2 and 4 s (retry_pauses)
        with the same key (and the same voter token), which the API counts once; after the answer's Retry-After instead
        when it gives one, up to RATE_WAIT_SECONDS (a longer one ends the tries: the ApiProblem
        says it). `waiting` hears each answer waited out, and for how long. A refusal, or an API
        that cannot be reached at all, is not retried.
        """
        headers = {"idempotency-key": uuid.uuid4().hex}
        if voter_token:
            headers["voter-token"] = voter_token
        body = {"talkId": talk_id, "value": value}
        return self.post_once("/ratings", body, headers, waiting=waiting)

    def post_once(
        self,
        path: str,
        body: Any,
        headers: dict[str, str],
        admin: bool = False,
        waiting: Callable[[ApiProblem, float], None] | None = None,
    ) -> dict[str, Any]:
        """A POST under its Idempotency-Key (in `headers`), sent again with the same key (and
        headers) after 1, 2 and 4 s (retry_pauses) while its answer is lost on the way (a timeout, a dropped
        connection, a gateway's own 502 or 504) or says "later" (a 503, "request in progress",
        the API updating its voter-token keys, API Gateway's throttle): the API answers a retry
        as it did the first, and creates (or counts) it once. After the answer's Retry-After
        instead when it gives one, up to RATE_WAIT_SECONDS (a longer one ends the tries: the
        ApiProblem says it). `waiting` hears each answer waited out, and for how long. A
        refusal, or an API that cannot be reached at all, is not retried."""
        for pause in self.retry_pauses:
            wait = pause
            try:
                return dict(self.json("POST", path, body=body, headers=headers, admin=admin))
            except ApiProblem as problem:
                if not (
                    problem.status == 503
                    or problem.slug in ("request-in-progress", KEYS_UPDATING)
                    or problem.gateway_busy
                    or problem.answer_lost
                ):
                    raise
                if problem.retry_after is not None:
                    # The API's own wait (the keys it is updating, a store to come back): sent
                    # before it, the request is only answered so again.
                    if problem.retry_after > RATE_WAIT_SECONDS:
                        raise
                    wait = problem.retry_after
                if waiting is not None:
                    waiting(problem, wait)
            except Unreachable as error:
                if not error.answer_lost:
                    raise
            time.sleep(wait)
        # the last try
        return dict(self.json("POST", path, body=body, headers=headers, admin=admin))

    # Organising

    def check_organiser(self) -> None:
        """GET /organiser: ApiProblem 401 or 403, as a write would get, unless the token is the
        organiser's. An API from before the route (404, 405) cannot say: its writes will."""
        try:
            self.request("GET", "/organiser", admin=True)
        except ApiProblem as problem:
            if problem.status not in (404, 405):
                raise

    def put_talk(
        self, talk_id: str, fields: dict[str, Any], revision: int | None = None, new: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """PUT /talks/{id}: 201 created or 200 replaced; with `revision` (the talk as it was
        read) only if nobody changed it since, with `new` only if there is no such talk yet
        (ApiProblem 412 otherwise, nothing changed)."""
        headers = {"if-none-match": "*"} if new else {}
        if revision is not None:
            headers["if-match"] = f'"{revision}"'
        response = self.request("PUT", talk_path(talk_id), body=fields, headers=headers, admin=True)
        return response.status_code, response.json()

    def add_talk(self, talk: dict[str, Any]) -> dict[str, Any]:
        """POST /talks: 409 when the id is taken. Under an Idempotency-Key, sent again with it
        while its answer is lost (post_once): added once, and answered as it was added."""
        headers = {"idempotency-key": uuid.uuid4().hex}
        return self.post_once("/talks", talk, headers, admin=True)

    def remove_talk(self, talk_id: str) -> None:
        """DELETE /talks/{id}."""
        self.request("DELETE", talk_path(talk_id), admin=True)
