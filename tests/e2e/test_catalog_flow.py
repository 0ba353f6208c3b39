"""The rest of the API end to end, through the local runtime: the catalog and its admin routes
(behind the template's AdminAuthorizer, with a real bearer token), the leaderboard, a rating's
status, one vote per attendee, HEAD, CORS as the HttpApi's CorsConfiguration has it for a named
origin (CorsAllowOrigin; by default there is none: test_web_cross_origin), and the runtime's
Swagger UI.

The runtime here has a catalog database, a Redis database and a ratings topic of its own: these
tests create and delete talks, and what they rate is projected by this runtime's projector only.
An organiser's changes are pushed on the runtime's live channel, heard by a real subscriber.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import psutil
import pytest

from talkrate.live import LEADERBOARD_CHANNEL, channel_for_talk
from tests.backends import CATALOG_RATINGS, CATALOG_TALKS
from tests.builders import http_event, unique_talk_id
from tests.e2e.conftest import (
    ROOT,
    Answer,
    Runtime,
    assert_problem,
    start_admin_runtime,
    stop_runtime,
    wait_for,
)
from tests.live_client import Subscriber

pytestmark = pytest.mark.e2e

# What a refusal says of a malformed talk id, and of a date-time no parser reads.
TALK_ID_SAID = (
    "may hold letters a-z and A-Z (no accents), digits and ._:~- only, at most 200 characters, "
    "starting with a letter or digit"
)
DATE_TIME_SAID = "must be an RFC 3339 date-time, e.g. 2026-12-06T10:00:00Z"
# The origin of a web page served elsewhere, which this runtime's CorsAllowOrigin names.
WEB_ORIGIN = "https://web.example"


@dataclass
class Catalog:
    """The module's runtime, its admin token, and the talks the tests made (removed at the end)."""

    runtime: Runtime
    token: str
    created: list[str] = field(default_factory=list)

    @property
    def admin(self) -> dict[str, str]:
        """The headers of an organiser."""
        return {"Authorization": f"Bearer {self.token}"}

    def add_talk(self, **fields: Any) -> dict[str, Any]:
        """Add a talk with a unique id through the admin route; the talk as the API answered."""
        talk = {"id": unique_talk_id(), "title": "A talk of the catalog tests", **fields}
        answer = self.runtime.request("POST", "/talks", json.dumps(talk), self.admin)
        assert answer.status == 201, answer.body
        self.created.append(talk["id"])
        created: dict[str, Any] = answer.json
        return created

    def rate(self, talk_id: str, value: int, voter_token: str | None = None) -> Answer:
        """Submit a rating as an attendee would (with their voter token, if given); the 202."""
        rating: dict[str, Any] = {"talkId": talk_id, "value": value}
        headers = {"Voter-Token": voter_token} if voter_token is not None else {}
        answer = self.runtime.request("POST", "/ratings", json.dumps(rating), headers)
        assert answer.status == 202, answer.body
        return answer

    def histogram(self, talk_id: str) -> dict[str, int]:
        """A talk's histogram as GET /ratings shows it."""
        answer = self.runtime.request("GET", f"/ratings?talkId={talk_id}")
        assert answer.status == 200, answer.body
        ratings: dict[str, int] = answer.json["ratings"]
        return ratings

    def status_of(self, event_id: str) -> str:
        """A rating's status as GET /ratings/{eventId} shows it."""
        answer = self.runtime.request("GET", f"/ratings/{event_id}")
        assert answer.status == 200, answer.body
        status: str = answer.json["status"]
        return status

    def projected(self, *ratings: Answer) -> None:
        """Wait (bounded) until the projector has counted these accepted ratings."""
        for rating in ratings:
            event_id = rating.json["eventId"]
            assert wait_for(lambda e=event_id: self.status_of(e) == "projected"), event_id


@pytest.fixture(scope="module")
def catalog(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """One runtime for the module, with ADMIN_TOKEN set and backends of its own, started empty
    but for the dev talks."""
    # A topic of its own: no other runtime's projector (same consumer group) takes its ratings.
    topic = f"ratings-catalog-{uuid.uuid4().hex[:8]}"
    runtime, token = start_admin_runtime(
        CATALOG_TALKS,
        CATALOG_RATINGS,
        kafka_bootstrap,
        tmp_path_factory.mktemp("catalog") / "runtime.log",
        ["--param", f"RatingsTopic={topic}", "--param", f"CorsAllowOrigin={WEB_ORIGIN}"],
    )
    state = Catalog(runtime, token)
    yield state
    for talk_id in state.created:  # those a test has not removed itself
        runtime.request("DELETE", f"/talks/{talk_id}", headers=state.admin)
    stop_runtime(runtime)


@pytest.fixture
def track() -> str:
    """A track no other test uses, so lists and boards hold this test's talks only."""
    return f"track-{uuid.uuid4().hex[:10]}"


# --- Browsing the catalog ----------------------------------------------------------------------


def test_the_programme_is_searched_by_title_or_speaker_and_paged_by_track(
    catalog: Catalog, track: str
) -> None:
    # Given three talks of a track, one of them by a speaker nobody else has
    word = f"w{uuid.uuid4().hex[:8]}"
    speaker = f"Ada {uuid.uuid4().hex[:6]}"
    talks = [
        catalog.add_talk(
            title=f"{word} part {n}",
            track=track,
            speakers=[speaker] if n == 3 else ["Grace Hopper"],
            startsAt=f"2026-11-26T1{n}:00:00Z",
            endsAt=f"2026-11-26T1{n}:45:00Z",
        )
        for n in (1, 2, 3)
    ]
    ids = [t["id"] for t in talks]
    # When attendees search by a word of the title, in any case
    by_title = catalog.runtime.request("GET", f"/talks?q={word.upper()}")
    # Then they find the three, in programme order, each with its (empty) rating summary
    assert by_title.status == 200, by_title.body
    assert [t["id"] for t in by_title.json["items"]] == ids
    assert by_title.json["items"][0]["summary"] == {
        "count": 0,
        "avg": None,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    # And by a speaker's name
    by_speaker = catalog.runtime.request("GET", f"/talks?q={speaker.split()[1]}")
    assert [t["id"] for t in by_speaker.json["items"]] == [ids[2]]
    # When they page through the track two at a time
    first = catalog.runtime.request("GET", f"/talks?track={track}&limit=2")
    # Then the first page has two, the total, and a link to the next page
    assert first.status == 200
    assert [t["id"] for t in first.json["items"]] == ids[:2]
    assert (first.json["total"], first.json["limit"], first.json["offset"]) == (3, 2, 0)
    assert first.json["links"]["next"] == f"/talks?track={track}&limit=2&offset=2"
    # And the next page has the last one and no further link
    second = catalog.runtime.request("GET", first.json["links"]["next"])
    assert [t["id"] for t in second.json["items"]] == ids[2:]
    assert second.json["links"] == {}


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=ten", "offset=-1", "q=", "track="],
)
def test_a_bad_page_or_search_is_400(catalog: Catalog, query: str) -> None:
    assert_problem(catalog.runtime.request("GET", f"/talks?{query}"), 400)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/talks?q=%FF", "q"),
        ("/talks?track=caf%C3", "track"),
        ("/leaderboard?track=%FF", "track"),
        ("/ratings?talkId=%FF", "talkId"),
        ("/talks/a-talk%FF", "talkId"),
    ],
)
def test_bytes_that_are_not_utf8_in_a_parameter_are_400_naming_it(
    catalog: Catalog, path: str, field: str
) -> None:
    # When a client sends percent-encoded bytes that are not UTF-8 in a query or path parameter
    answer = catalog.runtime.request("GET", path)
    # Then the runtime's gateway and the API refuse it as bad input, naming the parameter
    assert_problem(answer, 400)
    assert answer.json["errors"] == [
        {
            "field": field,
            "message": "must be UTF-8 text: it holds percent-encoded bytes that are not",
        }
    ]


def test_a_talk_is_shown_with_its_rating_summary(catalog: Catalog) -> None:
    # Given a talk rated 5 and 4 by two attendees
    talk = catalog.add_talk(title="Summarised", speakers=["Ada Byron"], room="Hall A")
    catalog.projected(catalog.rate(talk["id"], 5), catalog.rate(talk["id"], 4))
    # When its page is read
    answer = catalog.runtime.request("GET", f"/talks/{talk['id']}")
    # Then it shows the talk and how it is rated
    assert answer.status == 200, answer.body
    assert (answer.json["title"], answer.json["room"]) == ("Summarised", "Hall A")
    assert answer.json["summary"] == {
        "count": 2,
        "avg": 4.5,
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1},
    }


def test_an_unknown_talk_is_404_and_a_malformed_id_400(catalog: Catalog) -> None:
    assert_problem(catalog.runtime.request("GET", f"/talks/{unique_talk_id('missing')}"), 404)
    assert_problem(catalog.runtime.request("GET", "/talks/-not-an-id"), 400)


def test_a_talk_id_is_percent_decoded_once(catalog: Catalog) -> None:
    # Given a talk whose id holds a ":" and a "-", found under its id percent-encoded once
    talk_id = catalog.add_talk(id=f"{unique_talk_id('colon')}:x")["id"]
    once = talk_id.replace(":", "%3A").replace("-", "%2D")
    assert catalog.runtime.request("GET", f"/talks/{once}").json["id"] == talk_id
    # When a client names the id encoded twice (its "%" encoded again)
    twice = once.replace("%", "%25")
    # Then that is the id "…%3Ax", which no talk can have (400), not the talk "…:x"
    assert_problem(catalog.runtime.request("GET", f"/talks/{twice}"), 400)
    removal = catalog.runtime.request("DELETE", f"/talks/{twice}", headers=catalog.admin)
    assert_problem(removal, 400)
    assert catalog.runtime.request("GET", f"/talks/{once}").status == 200


# --- Admin routes: AdminAuthorizer in the gateway, 401/403 from the API -----------------------


def _admin_requests(talk_id: str) -> list[tuple[str, str, str]]:
    fields = {"title": "Should not exist"}
    return [
        ("POST", "/talks", json.dumps({"id": talk_id, **fields})),
        ("PUT", f"/talks/{talk_id}", json.dumps(fields)),
        ("DELETE", f"/talks/{talk_id}", ""),
    ]


def test_admin_routes_without_a_token_are_401_and_change_nothing(catalog: Catalog) -> None:
    talk_id = unique_talk_id("unauthorised")
    for method, path, body in _admin_requests(talk_id):
        # When someone without a token tries to change the catalog
        answer = catalog.runtime.request(method, path, body or None)
        # Then the answer is 401 with a Bearer challenge
        assert_problem(answer, 401)
        assert answer.headers["www-authenticate"].startswith("Bearer")
    # And nothing was created
    assert_problem(catalog.runtime.request("GET", f"/talks/{talk_id}"), 404)


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("Bearer not-the-token", 403),  # a bearer token, not the admin's
        ("Bearer", 401),  # no token in it
        ("Basic YWRtaW46YWRtaW4=", 401),  # not a bearer token at all
    ],
)
def test_admin_routes_with_a_wrong_token_are_refused(
    catalog: Catalog, authorization: str, status: int
) -> None:
    talk_id = unique_talk_id("forbidden")
    for method, path, body in _admin_requests(talk_id):
        # When someone with the wrong credentials tries to change the catalog
        answer = catalog.runtime.request(method, path, body, {"Authorization": authorization})
        # Then it is refused
        assert_problem(answer, status)
    # And nothing was created
    assert_problem(catalog.runtime.request("GET", f"/talks/{talk_id}"), 404)


def test_an_organiser_adds_changes_and_removes_a_talk(catalog: Catalog) -> None:
    talk_id = unique_talk_id("organised")
    talk = {
        "id": talk_id,
        "title": "Late addition",
        "speakers": ["Ada Byron"],
        "track": "Keynote",
        "room": "Hall A",
        "startsAt": "2026-11-26T17:30:00Z",
        "endsAt": "2026-11-26T18:00:00Z",
    }
    catalog.created.append(talk_id)
    # When the organiser adds it
    created = catalog.runtime.request("POST", "/talks", json.dumps(talk), catalog.admin)
    # Then it is created, where the Location says
    assert created.status == 201, created.body
    assert created.headers["location"] == f"/talks/{talk_id}"
    assert catalog.runtime.request("GET", f"/talks/{talk_id}").json["title"] == "Late addition"
    # And adding it again is a conflict
    assert_problem(catalog.runtime.request("POST", "/talks", json.dumps(talk), catalog.admin), 409)
    # When the organiser moves it to another room
    fields = {k: v for k, v in talk.items() if k != "id"} | {"room": "Hall B"}
    replaced = catalog.runtime.request(
        "PUT", f"/talks/{talk_id}", json.dumps(fields), catalog.admin
    )
    # Then attendees see the new room
    assert replaced.status == 200, replaced.body
    assert catalog.runtime.request("GET", f"/talks/{talk_id}").json["room"] == "Hall B"
    # When the organiser removes it
    removed = catalog.runtime.request("DELETE", f"/talks/{talk_id}", headers=catalog.admin)
    # Then it is gone, and neither readable, removable again, nor open for ratings
    assert (removed.status, removed.body) == (204, b"")
    assert_problem(catalog.runtime.request("GET", f"/talks/{talk_id}"), 404)
    again = catalog.runtime.request("DELETE", f"/talks/{talk_id}", headers=catalog.admin)
    assert_problem(again, 404)
    rating = catalog.runtime.request(
        "POST", "/ratings", json.dumps({"talkId": talk_id, "value": 5})
    )
    assert_problem(rating, 404)


def test_put_creates_a_talk_under_a_new_id(catalog: Catalog) -> None:
    talk_id = unique_talk_id("put")
    catalog.created.append(talk_id)
    answer = catalog.runtime.request(
        "PUT", f"/talks/{talk_id}", json.dumps({"title": "Made by PUT"}), catalog.admin
    )
    assert answer.status == 201, answer.body
    assert answer.headers["location"] == f"/talks/{talk_id}"
    assert catalog.runtime.request("GET", f"/talks/{talk_id}").json["title"] == "Made by PUT"


def test_an_organiser_s_changes_are_pushed_to_the_pages_open_on_the_talk_and_the_programme(
    catalog: Catalog,
) -> None:
    # Given pages on the runtime's live channel, with the key /app/config.json gives every
    # browser: one on a talk's channel before the talk is added (a room screen set up early),
    # one on the leaderboard's (the programme)
    live = catalog.runtime.request("GET", "/app/config.json").json["live"]
    talk_id = f"pushed.{uuid.uuid4().hex[:12]}"  # a dot: its channel is named by a hash
    catalog.created.append(talk_id)
    screen = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    programme = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    screen.subscribe(channel_for_talk(talk_id))
    programme.subscribe(LEADERBOARD_CHANNEL)

    def pushed() -> tuple[Any, Any]:
        """The change the screen and the programme were sent (the programme's channel also
        carries the counts of ratings elsewhere)."""
        [(_, on_screen)] = screen.events(1, timeout=10)
        while True:
            [(_, on_programme)] = programme.events(1, timeout=10)
            if on_programme.get("type") == "catalog" and on_programme["talkId"] == talk_id:
                return on_screen, on_programme

    # When an organiser adds the talk (POST), moves it to another room (PUT), then removes it
    added = catalog.runtime.request(
        "POST", "/talks", json.dumps({"id": talk_id, "title": "Pushed"}), catalog.admin
    )
    assert added.status == 201, added.body
    on_add = pushed()
    moved = {"title": "Pushed, moved", "room": "Hall P", "speakers": ["Ada Byron"]}
    edited = catalog.runtime.request("PUT", f"/talks/{talk_id}", json.dumps(moved), catalog.admin)
    assert edited.status == 200, edited.body
    on_edit = pushed()
    removed = catalog.runtime.request("DELETE", f"/talks/{talk_id}", headers=catalog.admin)
    assert removed.status == 204, removed.body
    on_removal = pushed()

    # Then both pages were sent each state of the talk as the API answered it, without asking,
    # with the revision that orders them (the removal's: the one of the talk it removed)
    def message(talk: Any, revision: int) -> tuple[dict[str, Any], ...]:
        return ({"type": "catalog", "talkId": talk_id, "talk": talk, "revision": revision},) * 2

    assert on_add == message(added.json, added.json["revision"])
    assert on_edit == message(edited.json, edited.json["revision"])
    assert on_removal == message(None, edited.json["revision"])
    screen.close()
    programme.close()


def live_channel_process(runtime: Runtime) -> psutil.Process:
    """The runtime's live channel: the process of its own the AppSync Events emulation runs in."""
    [process] = [
        child
        for child in psutil.Process(runtime.process.pid).children(recursive=True)
        if "sam_emulator.events.live" in " ".join(child.cmdline())
    ]
    return process


def test_an_organiser_s_changes_made_while_the_live_channel_hangs_reach_the_open_pages_after(
    catalog: Catalog,
) -> None:
    # Given a talk, and pages open on it and on the programme, live
    live = catalog.runtime.request("GET", "/app/config.json").json["live"]
    talk = catalog.add_talk(title="Before the hang", room="Hall A")
    talk_id = talk["id"]
    screen = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    programme = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    screen.subscribe(channel_for_talk(talk_id))
    programme.subscribe(LEADERBOARD_CHANNEL)
    # When the live channel stops answering (SIGSTOP: its connections are still accepted) while
    # an organiser moves the talk (its push hangs past the write's bound), then renames it (the
    # push after one that hung was skipped for 10 s), and then it answers again
    channel = live_channel_process(catalog.runtime)
    channel.suspend()
    try:
        moved = {"title": "Before the hang", "room": "Hall B"}
        answer = catalog.runtime.request(
            "PUT", f"/talks/{talk_id}", json.dumps(moved), catalog.admin
        )
        assert answer.status == 200, answer.body
        renamed = {"title": "After the hang", "room": "Hall B"}
        answer = catalog.runtime.request(
            "PUT", f"/talks/{talk_id}", json.dumps(renamed), catalog.admin
        )
        assert answer.status == 200, answer.body
    finally:
        channel.resume()
    latest = {
        "type": "catalog",
        "talkId": talk_id,
        "talk": answer.json,
        "revision": answer.json["revision"],
    }

    # Then both pages are sent the talk as the organiser left it, without reading it again
    def heard(page: Subscriber) -> bool:
        """Whether the page is sent the latest change within 20 s (other messages skipped)."""
        ends = time.monotonic() + 20
        while (left := ends - time.monotonic()) > 0:
            try:
                [(_, message)] = page.events(1, timeout=left)
            except TimeoutError:
                break
            if message == latest:
                return True
        return False

    assert heard(screen), "the room screen was never sent the rename"
    assert heard(programme), "the programme was never sent the rename"
    screen.close()
    programme.close()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "cannot be empty"),
        ({"title": None}, "title", "must be text"),
        ({"title": "x" * 301}, "title", "can be at most 300 characters long"),
        ({"speakers": "one"}, "speakers", "must be a list"),
        ({"startsAt": "2026-11-26T10:00:00"}, "startsAt", "must carry a time zone (RFC 3339)"),
        ({"startsAt": 0}, "startsAt", "must be an RFC 3339 date-time string"),
        (
            {"startsAt": "2026-11-26T10:00:00Z", "endsAt": "2026-11-26T09:00:00Z"},
            "endsAt",
            "must be after the start",
        ),
        (
            {"id": "-starts-with-a-dash"},
            "id",
            TALK_ID_SAID,
        ),
        ({"unknown": 1}, "unknown", "is not a field an organiser sets"),
    ],
)
def test_invalid_talks_are_422_with_field_errors(
    catalog: Catalog, change: dict[str, Any], field: str, message: str
) -> None:
    # When an organiser sends a talk with an invalid field
    talk = {"id": unique_talk_id("invalid"), "title": "T"} | change
    answer = catalog.runtime.request("POST", "/talks", json.dumps(talk), catalog.admin)
    # Then it is refused with the field named, and what is wrong said in plain words (the
    # organisers' page and the command line show them after the field's name)
    assert_problem(answer, 422)
    assert answer.json["errors"] == [{"field": field, "message": message}]
    # And nothing was created
    if "id" not in change:
        assert_problem(catalog.runtime.request("GET", f"/talks/{talk['id']}"), 404)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field", "message"),
    [
        # An id with an accented letter, in a body, a talk's body and a path
        ("POST", "/ratings", {"talkId": "t\u00e4lk", "value": 3}, 422, "talkId", TALK_ID_SAID),
        ("POST", "/talks", {"id": "caf\u00e9-keynote", "title": "T"}, 422, "id", TALK_ID_SAID),
        ("GET", "/talks/t%C3%A4lk", None, 400, "talkId", TALK_ID_SAID),
        # An hour and an offset out of range, which pydantic words as extra characters
        (
            "PUT",
            "/talks/x",
            {"title": "T", "startsAt": "2026-12-06T25:00:00Z"},
            422,
            "startsAt",
            DATE_TIME_SAID,
        ),
        (
            "PUT",
            "/talks/x",
            {"title": "T", "startsAt": "2026-12-06T10:00:00+25:00"},
            422,
            "startsAt",
            DATE_TIME_SAID,
        ),
        # A query parameter given twice, which the gateway hands on joined by a comma
        ("GET", "/ratings?talkId=a&talkId=b", None, 400, "talkId", "is given more than once"),
        ("GET", "/talks?limit=5&limit=6", None, 400, "limit", "is given more than once"),
        # Given once, a comma in a value is the value's own
        ("GET", "/ratings?talkId=a%2Cb", None, 400, "talkId", TALK_ID_SAID),
    ],
)
def test_a_refusal_says_what_is_wrong_with_what_arrived(
    catalog: Catalog,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    field: str,
    message: str,
) -> None:
    # When a client sends an id, a time or a query the API does not take
    answer = catalog.runtime.request(
        method, path, None if body is None else json.dumps(body), catalog.admin
    )
    # Then the refusal names the field and says what it takes, not something else
    assert_problem(answer, status)
    assert answer.json["errors"] == [{"field": field, "message": message}]


def test_a_web_page_cannot_reach_the_organisers_routes_through_the_local_lambda_api(
    catalog: Catalog,
) -> None:
    # Given a talk, and ApiFunction's event for removing it with an authorizer's verdict in it
    # (what the gateway hands the function once the organiser token is checked)
    talk = catalog.add_talk()
    event = http_event("DELETE", f"/talks/{talk['id']}", authorizer={"admin": True})
    url = f"{catalog.runtime.lambda_url}/2015-03-31/functions/ApiFunction/invocations"
    # When another site open in the developer's browser posts it to the local Lambda API, as a
    # form or fetch(..., {mode: "no-cors"}) can without asking (a text body, its Origin named)
    request = urllib.request.Request(
        url,
        data=json.dumps(event).encode(),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://elsewhere.example"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    # Then it is refused, and the talk is still there
    assert refused.value.code == 403
    assert catalog.runtime.request("GET", f"/talks/{talk['id']}").status == 200
    # And an SDK's invoke (as ApiFunction calls StatsFunction) is served as before
    client = boto3.client(
        "lambda",
        endpoint_url=catalog.runtime.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    read = http_event("GET", f"/talks/{talk['id']}")
    answer = client.invoke(FunctionName="ApiFunction", Payload=json.dumps(read).encode())
    assert json.loads(answer["Payload"].read())["statusCode"] == 200


# --- Leaderboard, rating status, one vote per attendee ------------------------------------------


def test_the_leaderboard_ranks_by_bayesian_average_within_a_track(
    catalog: Catalog, track: str
) -> None:
    # Given a talk with one lucky 5 and a talk with twelve 4s, in a track of their own
    lucky = catalog.add_talk(title="One lucky vote", track=track)["id"]
    solid = catalog.add_talk(title="Many good votes", track=track)["id"]
    ratings = [catalog.rate(lucky, 5), *(catalog.rate(solid, 4) for _ in range(12))]
    catalog.projected(*ratings)
    # When the track's leaderboard is read
    board = catalog.runtime.request("GET", f"/leaderboard?track={track}")
    # Then many good votes beat a single perfect one, with count and average shown
    assert board.status == 200, board.body
    ranked = board.json["talks"]
    assert [(r["rank"], r["talkId"]) for r in ranked] == [(1, solid), (2, lucky)]
    assert (ranked[0]["count"], ranked[0]["avg"], ranked[0]["title"]) == (
        12,
        4.0,
        "Many good votes",
    )
    assert (ranked[1]["count"], ranked[1]["avg"]) == (1, 5.0)
    assert board.json["track"] == track
    assert board.json["prior"] == {"mean": 3.0, "weight": 10.0}
    # And a limit keeps the best only
    top = catalog.runtime.request("GET", f"/leaderboard?track={track}&limit=1")
    assert [r["talkId"] for r in top.json["talks"]] == [solid]
    # And the whole board has them too
    overall = catalog.runtime.request("GET", "/leaderboard?limit=100")
    assert {solid, lucky} <= {r["talkId"] for r in overall.json["talks"]}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=many", "track="])
def test_a_bad_leaderboard_query_is_400(catalog: Catalog, query: str) -> None:
    assert_problem(catalog.runtime.request("GET", f"/leaderboard?{query}"), 400)


def test_a_rating_is_accepted_then_projected(catalog: Catalog) -> None:
    # Given a talk
    talk_id = catalog.add_talk(title="Status")["id"]
    # When an attendee rates it
    answer = catalog.rate(talk_id, 3)
    # Then Kafka took it, and the answer links to its status
    event_id = answer.json["eventId"]
    assert answer.json["status"] == "accepted"
    assert answer.headers["location"] == f"/ratings/{event_id}"
    assert answer.json["links"]["status"] == f"/ratings/{event_id}"
    # And its status is accepted until the Kafka mapping's projector has counted it
    assert catalog.status_of(event_id) in ("accepted", "projected")
    assert wait_for(lambda: catalog.status_of(event_id) == "projected")
    assert catalog.histogram(talk_id)["3"] == 1


def test_an_unknown_rating_is_404_and_a_malformed_event_id_400(catalog: Catalog) -> None:
    assert_problem(catalog.runtime.request("GET", f"/ratings/{uuid.uuid4()}"), 404)
    assert_problem(catalog.runtime.request("GET", "/ratings/not-an-event-id"), 400)


def test_a_voter_s_second_rating_replaces_the_first(catalog: Catalog) -> None:
    # Given a talk an attendee rated 2, and an anonymous rating of 4
    talk_id = catalog.add_talk(title="Changed minds")["id"]
    voter = catalog.runtime.request("POST", "/voters").json["voterToken"]
    catalog.projected(catalog.rate(talk_id, 2, voter), catalog.rate(talk_id, 4))
    assert catalog.histogram(talk_id) == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
    # When the same attendee rates it again, 5
    second = catalog.rate(talk_id, 5, voter)
    assert second.json["rating"] == {"talkId": talk_id, "value": 5}
    catalog.projected(second)
    # Then the 5 replaced the 2: the attendee counts once, the anonymous rating still counts
    assert catalog.histogram(talk_id) == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    summary = catalog.runtime.request("GET", f"/talks/{talk_id}").json["summary"]
    assert (summary["count"], summary["avg"]) == (2, 4.5)


# --- HEAD, OPTIONS and CORS ----------------------------------------------------------------------


def test_head_answers_like_get_without_a_body(catalog: Catalog) -> None:
    # Given a talk
    talk_id = catalog.add_talk(title="Heads up")["id"]
    get = catalog.runtime.request("GET", f"/talks/{talk_id}")
    # When its page is asked for with HEAD
    head = catalog.runtime.request("HEAD", f"/talks/{talk_id}")
    # Then the status and content type are GET's, and there is no body
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]
    # And a missing talk is a 404 without a body either
    missing = catalog.runtime.request("HEAD", f"/talks/{unique_talk_id('missing')}")
    assert (missing.status, missing.body) == (404, b"")


def test_head_on_the_organiser_check_answers_like_get(catalog: Catalog) -> None:
    # Given an organiser's token, which GET /organiser takes
    assert catalog.runtime.request("GET", "/organiser", headers=catalog.admin).status == 200
    # When the same check is asked with HEAD
    head = catalog.runtime.request("HEAD", "/organiser", headers=catalog.admin)
    wrong = catalog.runtime.request("HEAD", "/organiser", headers={"Authorization": "Bearer no"})
    # Then it answers as GET does, without a body: 200 for the token, 403 for another
    assert (head.status, head.body) == (200, b"")
    assert (wrong.status, wrong.body) == (403, b"")


def _preflight(method: str, headers: str = "") -> dict[str, str]:
    asked = {"Origin": WEB_ORIGIN, "Access-Control-Request-Method": method}
    return asked | ({"Access-Control-Request-Headers": headers} if headers else {})


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/talks", "POST"),  # an admin route: its authorizer does not run for the preflight
        ("/talks/flight-of-the-gopher", "DELETE"),
        ("/ratings", "POST"),
        ("/no/such/route", "GET"),  # API Gateway answers preflights on any path
    ],
)
def test_a_preflight_is_answered_by_the_gateway(catalog: Catalog, path: str, method: str) -> None:
    # When a browser on another origin asks whether it may send the request
    answer = catalog.runtime.request(
        "OPTIONS", path, headers=_preflight(method, "authorization,content-type")
    )
    # Then the gateway allows it from the template's CorsConfiguration, with no body
    assert (answer.status, answer.body) == (204, b""), answer.body
    assert answer.headers["access-control-allow-origin"] == WEB_ORIGIN
    assert method in answer.headers["access-control-allow-methods"].split(",")
    allowed_headers = answer.headers["access-control-allow-headers"].split(",")
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed_headers)
    assert answer.headers["access-control-max-age"] == "600"


def _authorizer_runs(catalog: Catalog) -> int:
    assert catalog.runtime.log is not None
    return catalog.runtime.log.read_text().count("[AdminAuthorizerFunction] START")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/ratingz"),
        ("POST", "/no/such/route"),
        ("PUT", "/nope"),
        ("PATCH", "/nope"),
        ("DELETE", "/nope"),
        ("HEAD", "/nope"),
    ],
)
def test_a_path_the_api_does_not_have_is_a_problem_404(
    catalog: Catalog, method: str, path: str
) -> None:
    # When a client asks for a path no route declares, with the header a browser sends
    answer = catalog.runtime.request(method, path, "{}", {"Origin": WEB_ORIGIN})
    # Then the API answers it like every other error, readable from another origin
    assert answer.status == 404, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["access-control-allow-origin"] == WEB_ORIGIN
    if method != "HEAD":
        assert_problem(answer, 404)
        assert answer.json["type"] == "urn:talkrate:problem:not-found"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/ratings", "GET, HEAD, POST"),
        ("PUT", "/voters", "POST"),
        ("PATCH", "/talks", "GET, HEAD, POST"),
        ("DELETE", "/", "GET, HEAD"),
        ("POST", "/talks/flight-of-the-gopher", "DELETE, GET, HEAD, PUT"),
    ],
)
def test_a_method_a_path_does_not_take_is_405_with_allow(
    catalog: Catalog, method: str, path: str, allow: str
) -> None:
    # When a client uses a method the path's routes do not take
    answer = catalog.runtime.request(method, path, "{}")
    # Then 405, with the methods it takes in Allow and in the problem
    assert_problem(answer, 405)
    assert answer.headers["allow"] == allow
    assert answer.json["type"] == "urn:talkrate:problem:method-not-allowed"


def test_what_no_route_takes_never_reaches_the_organisers_authorizer(catalog: Catalog) -> None:
    # Given how often the organisers' authorizer ran so far
    before = _authorizer_runs(catalog)
    # When requests no route takes come in, with and without a token, near the admin routes
    for method, path, status in (
        ("PUT", "/talks", 405),
        ("DELETE", "/talks", 405),
        ("POST", "/talks/x/y", 404),
    ):
        for headers in ({}, catalog.admin, {"Authorization": "Bearer wrong"}):
            # Then the API answers them (not a 401: no token is asked for)
            assert_problem(catalog.runtime.request(method, path, "{}", headers), status)
    # And the authorizer never ran for them; an admin route asks it, as before
    assert _authorizer_runs(catalog) == before
    assert catalog.runtime.request("DELETE", f"/talks/{unique_talk_id('x')}").status == 401
    assert wait_for(lambda: _authorizer_runs(catalog) == before + 1, seconds=5)


def test_a_plain_options_is_routed_like_any_method(catalog: Catalog) -> None:
    # An OPTIONS without the preflight headers is no preflight: no route declares it
    for headers in ({}, {"Origin": WEB_ORIGIN}, {"Access-Control-Request-Method": "GET"}):
        answer = catalog.runtime.request("OPTIONS", "/talks", headers=headers)
        assert answer.status == 404, headers
        assert answer.json == {"message": "Not Found"}
        assert "access-control-allow-methods" not in answer.headers


def test_responses_to_another_origin_carry_the_cors_headers(catalog: Catalog) -> None:
    origin = {"Origin": WEB_ORIGIN}
    # A read
    read = catalog.runtime.request("GET", "/talks?limit=1", headers=origin)
    assert read.status == 200
    assert read.headers["access-control-allow-origin"] == WEB_ORIGIN
    exposed = read.headers["access-control-expose-headers"]
    assert exposed == "etag,location,retry-after,www-authenticate"
    # A write, whose Location the page may read
    talk = {"id": unique_talk_id("cors"), "title": "From the web"}
    catalog.created.append(talk["id"])
    written = catalog.runtime.request("POST", "/talks", json.dumps(talk), catalog.admin | origin)
    assert written.status == 201
    assert written.headers["access-control-allow-origin"] == WEB_ORIGIN
    assert "location" in written.headers["access-control-expose-headers"].split(",")
    # An error, so the page sees it rather than a CORS failure
    refused = catalog.runtime.request("POST", "/talks", json.dumps(talk), origin)
    assert refused.status == 401
    assert refused.headers["access-control-allow-origin"] == WEB_ORIGIN
    # And a request without an Origin gets no CORS headers
    plain = catalog.runtime.request("GET", "/talks?limit=1")
    assert not [name for name in plain.headers if name.startswith("access-control-")]
    # Nor does one of an origin CorsAllowOrigin does not name, preflight or not: its browser
    # keeps the answer from its page
    elsewhere = {"Origin": "https://elsewhere.example"}
    other = catalog.runtime.request("GET", "/talks?limit=1", headers=elsewhere)
    asked = catalog.runtime.request(
        "OPTIONS", "/voters", headers=elsewhere | {"Access-Control-Request-Method": "POST"}
    )
    assert (other.status, asked.status) == (200, 204)
    for answer in (other, asked):
        assert not [name for name in answer.headers if name.startswith("access-control-")]


# --- Swagger UI and the start-up summary ----------------------------------------------------------


def test_swagger_ui_shows_the_committed_spec(catalog: Catalog) -> None:
    # When a developer opens the docs
    page = catalog.runtime.request("GET", "/_docs/")
    # Then Swagger UI loads its own assets and the spec from the runtime, nothing from outside
    assert page.status == 200, page.body
    assert page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "/_docs/swagger-ui-bundle.js" in html
    assert "/_docs/docs-ui.js" in html
    assert (
        "/_docs/openapi.json" in catalog.runtime.request("GET", "/_docs/docs-ui.js").body.decode()
    )
    assert "https://" not in html
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
        served = catalog.runtime.request("GET", f"/_docs/{asset}")
        assert served.status == 200
        assert kind in served.headers["content-type"]
        assert len(served.body) > 10_000
    # And the spec is the committed docs/openapi.json, OpenAPI 3.1
    spec = catalog.runtime.request("GET", "/_docs/openapi.json")
    assert spec.status == 200
    assert spec.json == json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert spec.json["openapi"].startswith("3.1")


def test_the_docs_and_the_web_app_stay_beside_the_catch_all_routes(
    catalog: Catalog,
) -> None:
    assert catalog.runtime.request("GET", "/_docs/template.yaml").status == 404
    assert catalog.runtime.request("GET", "/_docs/../template.yaml").status == 404
    # GET and HEAD /{proxy+} take what no route takes, but name no /_docs path: the page answers
    head = catalog.runtime.request("HEAD", "/_docs/")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-type"].startswith("text/html")
    # And the web app is served before any route, as CloudFront serves /app/ before the API
    for path in ("/app/", "/app/talks/flight-of-the-gopher"):
        page = catalog.runtime.request("GET", path)
        assert page.status == 200, path
        assert page.headers["content-type"].startswith("text/html")


def test_the_start_up_summary_names_the_cors_settings_and_the_docs(catalog: Catalog) -> None:
    assert catalog.runtime.log is not None
    summary = catalog.runtime.log.read_text()
    assert f"cors      origins {WEB_ORIGIN} | methods GET,HEAD,POST,PUT,DELETE,OPTIONS" in summary
    assert f"docs      {catalog.runtime.url}/_docs/  (Swagger UI 5.31.0" in summary
    assert "route     GET /_docs" not in summary  # the runtime's page, not a template route
