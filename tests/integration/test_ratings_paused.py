"""Organisers pausing and resuming a talk's ratings (PUT /talks/{talkId} with ratingsPaused),
through ApiFunction's handler in process and a second API instance in a process of its own,
and the projector given ratings accepted before the pause; against the real backends."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 (a second API instance, the test's own code)
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from talkrate.adapters.redis_store import histogram_key
from tests.builders import ROOT, LambdaContextStub, http_event, load_function
from tests.integration.test_handlers import project_all
from tests.integration.test_kafka_publisher import count_records

pytestmark = pytest.mark.integration

Call = Callable[..., dict[str, Any]]
ADMIN = {"admin": True, "reason": "ok"}
PAUSED = "urn:talkrate:problem:ratings-paused"


@pytest.fixture
def api(configure: Callable[..., None]) -> Call:
    """ApiFunction's handler with its talk cache kept an hour: a pause it sees is heard, not
    read again at the cache's end."""
    configure(TALK_CACHE_SECONDS="3600")
    handler = load_function("api")

    def call(method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        text = None if body is None else json.dumps(body)
        response = handler(http_event(method, path, body=text, **kwargs), LambdaContextStub())
        response["json"] = json.loads(response["body"]) if response.get("body") else None
        return response

    return call


def counts(client: redis.Redis, talk: str) -> list[int]:
    """The talk's histogram in the read model, 1 to 5."""
    return [int(n or 0) for n in client.hmget(histogram_key(talk), ["1", "2", "3", "4", "5"])]


def rate(api: Call, talk: str, value: int = 4) -> dict[str, Any]:
    return api("POST", "/ratings", {"talkId": talk, "value": value})


def paused(api: Call, talk: str, to: bool | None, **fields: Any) -> dict[str, Any]:
    """The organisers' PUT of the talk, its ratings paused (True), resumed (False) or not said
    (None)."""
    body: dict[str, Any] = {"title": "A test talk", **fields}
    if to is not None:
        body["ratingsPaused"] = to
    return api("PUT", f"/talks/{talk}", body, authorizer=ADMIN)


def test_an_organiser_pauses_a_talk_s_ratings_and_resumes_them(
    api: Call, talk: str, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given a talk that takes ratings, not paused
    assert api("GET", f"/talks/{talk}")["json"]["ratingsPaused"] is False
    assert rate(api, talk)["statusCode"] == 202
    published = count_records(kafka_bootstrap, topic)
    # When an organiser pauses it, twice (a retried request)
    first, again = paused(api, talk, True), paused(api, talk, True)
    # Then both answers say it is paused, and so does the talk as read
    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert first["json"]["ratingsPaused"] is again["json"]["ratingsPaused"] is True
    assert api("GET", f"/talks/{talk}")["json"]["ratingsPaused"] is True
    # And a rating is refused 409 in the problem shape, a type of its own, nothing published
    refused = rate(api, talk)
    assert refused["statusCode"] == 409
    assert refused["headers"]["Content-Type"] == "application/problem+json"
    assert refused["json"]["type"] == PAUSED
    assert refused["json"]["title"] == "Ratings paused"
    assert "paused" in refused["json"]["detail"]
    assert count_records(kafka_bootstrap, topic) == published
    # And an edit that does not say (an edit form, a programme imported again) keeps it paused
    edited = paused(api, talk, None, room="Hall B")
    assert (edited["json"]["room"], edited["json"]["ratingsPaused"]) == ("Hall B", True)
    assert rate(api, talk)["json"]["type"] == PAUSED
    # When resumed, ratings are taken again
    resumed = paused(api, talk, False)
    assert resumed["statusCode"] == 200
    assert resumed["json"]["ratingsPaused"] is False
    assert rate(api, talk, 5)["statusCode"] == 202
    assert count_records(kafka_bootstrap, topic) == published + 1
    # And the projector counts the two accepted, the refused ones nowhere
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == [0, 0, 0, 1, 1]


def test_only_the_organisers_pause_and_only_with_a_boolean(api: Call, talk: str) -> None:
    # An attendee's PUT is refused, and the talk takes ratings still
    assert api("PUT", f"/talks/{talk}", {"title": "x", "ratingsPaused": True})["statusCode"] == 401
    assert rate(api, talk)["statusCode"] == 202
    # "yes", 1 or "true" are not true: 422 naming the field, nothing changed
    for wrong in ("yes", 1, "true"):
        answer = paused(api, talk, wrong)  # type: ignore[arg-type]
        assert answer["statusCode"] == 422, answer["body"]
        assert [e["field"] for e in answer["json"]["errors"]] == ["ratingsPaused"]
    assert api("GET", f"/talks/{talk}")["json"]["ratingsPaused"] is False


def test_a_talk_added_paused_takes_no_rating(api: Call, talk: str) -> None:
    new = f"{talk}-added"
    try:
        added = api(
            "POST",
            "/talks",
            {"id": new, "title": "Added paused", "ratingsPaused": True},
            authorizer=ADMIN,
        )
        assert added["statusCode"] == 201
        assert added["json"]["ratingsPaused"] is True
        assert rate(api, new)["json"]["type"] == PAUSED
        plain = api("POST", "/talks", {"id": f"{new}-2", "title": "Plain"}, authorizer=ADMIN)
        assert plain["json"]["ratingsPaused"] is False
    finally:
        for removed in (new, f"{new}-2"):
            api("DELETE", f"/talks/{removed}", authorizer=ADMIN)


def test_a_closed_window_is_said_before_a_pause(api: Call, talk: str) -> None:
    # A talk whose rating closed, paused: resuming it would not open it, so the window says why
    closed = {"startsAt": "2020-01-01T10:00:00Z", "endsAt": "2020-01-01T11:00:00Z"}
    assert paused(api, talk, True, **closed)["statusCode"] == 200
    answer = rate(api, talk)
    assert answer["statusCode"] == 409
    assert answer["json"]["type"] == "urn:talkrate:problem:rating-window-closed"


# A second API instance: a process of its own (its own database connection), given the events
# on its standard input, printing each answer's status.
_SECOND_INSTANCE = """
import json, sys
sys.path[:0] = [{layer!r}, {function!r}]
import app

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "api", 512, "second"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:api"
    def get_remaining_time_in_millis(self):
        return 30000

for event in json.load(sys.stdin):
    print("status", app.lambda_handler(event, Context())["statusCode"])
"""


def on_second_instance(*events: dict[str, Any]) -> list[int]:
    """The statuses a second API instance answers the events with."""
    code = _SECOND_INSTANCE.format(
        layer=str(ROOT / "layers" / "shared"), function=str(ROOT / "functions" / "api")
    )
    ran = subprocess.run(  # nosec B603 (this interpreter, the test's own code)
        [sys.executable, "-c", code],
        input=json.dumps(list(events)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "talkrate"},
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    return [int(line.split()[1]) for line in ran.stdout.splitlines() if line.startswith("status ")]


def first_answer(api: Call, talk: str, status: int, within: float = 2.0) -> dict[str, Any]:
    """The first rating answered `status`, rating again until one is (or `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        answer = rate(api, talk)
        if answer["statusCode"] == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.01)


def test_a_pause_made_on_another_instance_is_seen_at_once(api: Call, talk: str) -> None:
    # Given an instance that knows the talk (its cache keeps it an hour)
    assert rate(api, talk)["statusCode"] == 202
    assert rate(api, talk)["statusCode"] == 202
    # When another instance pauses its ratings
    pause = http_event(
        "PUT",
        f"/talks/{talk}",
        body=json.dumps({"title": "A test talk", "ratingsPaused": True}),
        authorizer=ADMIN,
    )
    assert on_second_instance(pause) == [200]
    # Then this one refuses the next ratings (heard from the catalog's notification, not after
    # the hour)
    refused = first_answer(api, talk, 409)
    assert (refused["statusCode"], refused["json"]["type"]) == (409, PAUSED)
    # And when the other resumes them, this one takes ratings again as soon
    resume = http_event(
        "PUT",
        f"/talks/{talk}",
        body=json.dumps({"title": "A test talk", "ratingsPaused": False}),
        authorizer=ADMIN,
    )
    assert on_second_instance(resume) == [200]
    assert first_answer(api, talk, 202)["statusCode"] == 202


def test_a_rating_accepted_before_the_pause_counts_once(
    api: Call, talk: str, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given ratings accepted (202) and on their way to the projector when the talk is paused
    assert rate(api, talk, 3)["statusCode"] == 202
    assert rate(api, talk, 5)["statusCode"] == 202
    assert paused(api, talk, True)["statusCode"] == 200
    # When the projector gets them, and again (a redelivered batch)
    project_all(topic, kafka_bootstrap)
    project_all(topic, kafka_bootstrap)
    # Then each counts, once: the pause is checked at the door, never by the projector
    assert counts(redis_client, talk) == [0, 0, 1, 0, 1]
    counted = api("GET", "/ratings", query={"talkId": talk})["json"]
    assert sum(counted["ratings"].values()) == 2


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "Line {}break"), ("track", "Web{}Track"), ("room", "Hall{}B")],
)
def test_a_line_or_paragraph_separator_in_a_talk_s_text_is_refused(
    api: Call, talk: str, separator: str, field: str, value: str
) -> None:
    body = {"title": "A test talk", field: value.format(separator)}
    answer = api("PUT", f"/talks/{talk}", body, authorizer=ADMIN)
    assert answer["statusCode"] == 422, answer["body"]
    assert answer["json"]["errors"] == [
        {"field": field, "message": "cannot hold line breaks or other control characters"}
    ]
    speakers = api(
        "PUT",
        f"/talks/{talk}",
        {"title": "A test talk", "speakers": [f"Ada{separator}Lovelace"]},
        authorizer=ADMIN,
    )
    assert speakers["statusCode"] == 422
    assert [e["field"] for e in speakers["json"]["errors"]] == ["speakers.0"]
    assert api("GET", f"/talks/{talk}")["json"]["title"] == "A test talk"
