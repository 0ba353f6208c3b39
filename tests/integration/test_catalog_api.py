"""The catalog, leaderboard and rating-status routes, in process, against the real backends."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest
import redis

from talkrate import wiring
from talkrate.adapters.redis_store import histogram_key
from talkrate.admin_token import fingerprint
from talkrate.models import RatingSubmitted
from tests.builders import (
    ROOT,
    LambdaContextStub,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
    sample_event,
    unique_talk_id,
)
from tests.integration.conftest import Call, forget_talk
from tests.integration.test_kafka_publisher import consume_all

pytestmark = pytest.mark.integration

ADMIN = {"admin": True, "reason": "ok"}


@pytest.fixture
def new_talk_id(talks_dsn: str, redis_client: redis.Redis) -> Iterator[str]:
    talk_id = unique_talk_id("new")
    yield talk_id
    forget_talk(talks_dsn, redis_client, talk_id)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def project(talk_values: dict[str, list[int]], topic: str) -> None:
    events = [rating_event(t, v) for t, values in talk_values.items() for v in values]
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, events)), LambdaContextStub("projector")
    )


def test_the_programme_can_be_browsed_searched_and_paged(api: Call) -> None:
    first = api("GET", "/talks", query={"limit": "5"})
    assert first["statusCode"] == 200
    assert len(first["json"]["items"]) == 5
    assert first["json"]["total"] >= 17
    assert first["json"]["links"]["next"].startswith("/talks?limit=5&offset=5")
    found = api("GET", "/talks", query={"q": "SCHEDULER"})["json"]["items"]
    assert [t["id"] for t in found] == ["flight-of-the-gopher"]
    by_speaker = api("GET", "/talks", query={"q": "holloway"})["json"]["items"]
    assert [t["id"] for t in by_speaker] == ["testcontainers-integration-testing"]
    testing = api("GET", "/talks", query={"track": "Testing", "limit": "100"})["json"]["items"]
    assert {t["track"] for t in testing} == {"Testing"}
    literal = api("GET", "/talks", query={"q": "100%_"})
    assert literal["statusCode"] == 200
    assert literal["json"]["items"] == []
    assert api("GET", "/talks", query={"limit": "0"})["statusCode"] == 400


def test_a_search_finds_every_word_anywhere_in_a_talk_with_accents_and_case_aside(
    api: Call, new_talk_id: str
) -> None:
    """As the web app's programme search does: the command line's `talks -q` uses this one."""
    talk = {
        "id": new_talk_id,
        "title": "Über Café Scheduling",
        "speakers": ["Zeynep Çelik"],
        "track": "Façades",
        "room": "Salle Lumière",
    }
    assert api("POST", "/talks", talk, authorizer=ADMIN)["statusCode"] == 201

    def found(q: str) -> bool:
        answer = api("GET", "/talks", query={"q": q, "limit": "100"})
        assert answer["statusCode"] == 200, answer["body"]
        return new_talk_id in [t["id"] for t in answer["json"]["items"]]

    for q in ("celik", "ÇELİK", "uber cafe", "cafe über", "scheduling celik", "facades lumiere"):
        assert found(q), q
    # And scripts whose vowels are marks: Hebrew points, Arabic harakat (as the web app's \p{M})
    pointed = {"title": "שָׁלוֹם עולם", "speakers": ["مُحَمَّد"]}
    assert api("PUT", f"/talks/{new_talk_id}", pointed, authorizer=ADMIN)["statusCode"] == 200
    for q in ("שלום", "محمد", "עולם שָׁלוֹם"):
        assert found(q), q
    for q in ("celik rust", "cafescheduling", "c%k"):
        assert not found(q), q
    # And apostrophes, straight or a phone's curly one, set aside on both sides
    quoted = {"title": "Don't Panic", "speakers": ["Siobhán O\u2019Brien"]}
    assert api("PUT", f"/talks/{new_talk_id}", quoted, authorizer=ADMIN)["statusCode"] == 200
    for q in ("dont", "don\u2019t", "DON'T panic", "obrien", "o'brien", "siobhan o\u02bcbrien"):
        assert found(q), q


def test_a_talk_comes_with_its_rating_summary(api: Call, talk: str, topic: str) -> None:
    project({talk: [5, 4, 4]}, topic)
    answer = api("GET", f"/talks/{talk}")
    assert answer["statusCode"] == 200
    assert answer["json"]["summary"] == {
        "count": 3,
        "avg": pytest.approx(4.3333, abs=1e-4),
        "ratings": {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1},
    }
    assert api("GET", "/talks/no-such-talk")["statusCode"] == 404


def test_admin_routes_need_the_admin_token(api: Call, new_talk_id: str) -> None:
    body = {"id": new_talk_id, "title": "Late addition"}
    missing = api("POST", "/talks", body)
    wrong = api("POST", "/talks", body, authorizer={"admin": False, "reason": "invalid-token"})
    assert (missing["statusCode"], wrong["statusCode"]) == (401, 403)
    assert missing["headers"]["Content-Type"] == "application/problem+json"
    assert missing["headers"]["WWW-Authenticate"].startswith("Bearer")
    assert api("GET", f"/talks/{new_talk_id}")["statusCode"] == 404  # nothing was created
    # Auth comes before validation: a caller without the token learns nothing about bodies
    assert api("PUT", f"/talks/{new_talk_id}", {"title": ""})["statusCode"] == 401


def test_an_organiser_checks_their_token_without_reading_or_changing_anything(api: Call) -> None:
    # Given the organiser token, a wrong one and none
    mine = {**ADMIN, "fingerprint": fingerprint("the-organiser-token")}
    wrong = {"admin": False, "reason": "invalid-token", "fingerprint": fingerprint("guess")}
    # When each asks GET /organiser
    ok, refused, missing = (api("GET", "/organiser", authorizer=a) for a in (mine, wrong, None))
    # Then the organiser's is 200 with the fingerprint the audit names, the others are the 403
    # and 401 a write gets
    assert ok["statusCode"] == 200, ok["body"]
    assert ok["json"] == {"organiser": True, "tokenFingerprint": fingerprint("the-organiser-token")}
    assert (refused["statusCode"], missing["statusCode"]) == (403, 401)
    written = api("POST", "/talks", {"title": "x"}, authorizer=wrong)
    assert refused["json"] == written["json"]
    assert missing["headers"]["WWW-Authenticate"].startswith("Bearer")
    assert_as_documented(ok, "GET", "/organiser")
    assert_as_documented(refused, "GET", "/organiser")


def test_an_organiser_adds_changes_and_removes_a_talk(api: Call, new_talk_id: str) -> None:
    talk = {
        "id": new_talk_id,
        "title": "Late addition",
        "speakers": ["Ada Byron"],
        "track": "Keynote",
        "room": "Hall A",
        # on now: it takes ratings
        "startsAt": _iso(datetime.now(UTC) - timedelta(minutes=10)),
        "endsAt": _iso(datetime.now(UTC) + timedelta(minutes=30)),
    }
    created = api("POST", "/talks", talk, authorizer=ADMIN)
    assert created["statusCode"] == 201
    assert created["headers"]["Location"] == f"/talks/{new_talk_id}"
    assert api("POST", "/talks", talk, authorizer=ADMIN)["statusCode"] == 409
    fields = {k: v for k, v in talk.items() if k != "id"} | {"room": "Hall B"}
    assert api("PUT", f"/talks/{new_talk_id}", fields, authorizer=ADMIN)["statusCode"] == 200
    assert api("GET", f"/talks/{new_talk_id}")["json"]["room"] == "Hall B"
    # the talk is open for ratings now
    rated = api("POST", "/ratings", {"talkId": new_talk_id, "value": 5})
    assert rated["statusCode"] == 202
    assert api("DELETE", f"/talks/{new_talk_id}", authorizer=ADMIN)["statusCode"] == 204
    assert api("DELETE", f"/talks/{new_talk_id}", authorizer=ADMIN)["statusCode"] == 404
    assert api("POST", "/ratings", {"talkId": new_talk_id, "value": 5})["statusCode"] == 404


def test_every_talk_document_says_when_its_rating_window_closes(
    configure: Callable[..., None], api: Call, new_talk_id: str
) -> None:
    # Given a grace of two hours after a talk's end
    configure(RATING_GRACE_HOURS="2")
    ends = datetime(2026, 11, 26, 11, 15, tzinfo=UTC)
    timed = {"title": "Timed", "startsAt": _iso(ends - timedelta(hours=1)), "endsAt": _iso(ends)}
    # When a talk is added, read, listed and replaced without times
    added = api("POST", "/talks", {"id": new_talk_id, **timed}, authorizer=ADMIN)["json"]
    read = api("GET", f"/talks/{new_talk_id}")["json"]
    listed = api("GET", "/talks", query={"q": "Timed", "limit": "100"})["json"]["items"]
    untimed = api("PUT", f"/talks/{new_talk_id}", {"title": "Untimed"}, authorizer=ADMIN)["json"]
    # Then each document names the end plus the grace, and no closing for a talk without an end
    closes = _iso(ends + timedelta(hours=2))
    assert added["ratingClosesAt"] == read["ratingClosesAt"] == closes
    assert [t["ratingClosesAt"] for t in listed if t["id"] == new_talk_id] == [closes]
    assert untimed["ratingClosesAt"] is None
    assert api("GET", f"/talks/{new_talk_id}")["json"]["ratingClosesAt"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"title": ""},
        {"title": None},
        {"speakers": "one"},
        {"startsAt": "2026-11-26T10:00:00"},
        {"startsAt": "2026-11-26T10:00:00Z", "endsAt": "2026-11-26T09:00:00Z"},
        {"unknown": 1},
        # Digits are not a time (pydantic would read them as Unix seconds)
        {"startsAt": "1796137956"},
        {"endsAt": "0"},
        # Years past what a window's end plus its grace can be, or before any programme
        {"endsAt": "9999-12-31T23:00:00Z"},
        {"startsAt": "0001-01-01T00:30:00+01:00"},
        {"endsAt": "9999-12-31T20:00:00-10:00"},
        # Not Unicode text: a lone surrogate, escaped in the JSON
        {"title": "\ud800"},
        # Blank: nothing to show but spaces
        {"title": "   "},
        {"speakers": ["Ada", "  "]},
        {"track": " "},
        {"room": "\u3000"},
        # Nothing visible: a zero-width space, a C1 control, a direction mark
        {"title": "\u200b"},
        {"title": "\u0085\u200e"},
        {"speakers": ["Ada", "\u2060"]},
        {"track": "\ufeff"},
        # A C1 control among visible text (U+009B starts an escape sequence in some terminals)
        {"title": "Go\u009b2J"},
        {"speakers": ["Ada\u0085Lovelace"]},
        {"room": "Hall\u0080A"},
    ],
)
def test_invalid_talks_are_422(api: Call, new_talk_id: str, change: dict[str, Any]) -> None:
    talk = {"id": new_talk_id, "title": "T"} | change
    answer = api("POST", "/talks", talk, authorizer=ADMIN)
    assert answer["statusCode"] == 422, answer["body"]
    assert answer["json"]["errors"]


def test_an_invalid_talk_is_not_stored_by_put(api: Call, new_talk_id: str) -> None:
    answer = api(
        "PUT",
        f"/talks/{new_talk_id}",
        {"title": "Far", "endsAt": "9999-12-31T23:00:00Z"},
        authorizer=ADMIN,
    )
    assert answer["statusCode"] == 422, answer["body"]
    assert api("GET", f"/talks/{new_talk_id}")["statusCode"] == 404


# Unicode's explicit direction controls: embeddings and overrides, then isolates.
DIRECTION_CONTROLS = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def test_a_direction_control_in_a_talk_s_text_is_422_naming_the_field_and_the_character(
    api: Call, new_talk_id: str
) -> None:
    # Given each of the nine controls, in each text field of a talk (a speaker's: the second)
    for at, control in enumerate(DIRECTION_CONTROLS):
        for field, change in (
            ("title", {"title": f"Keynote {control}flipped"}),
            ("speakers.1", {"speakers": ["Ada", f"Grace {control}Hopper"]}),
            ("track", {"track": f"Main{control}"}),
            ("room", {"room": f"{control}Hall A"}),
        ):
            # When an organiser's client adds the talk, or replaces one with it
            if at % 2:
                body = {"id": new_talk_id, "title": "T"} | change
                answer = api("POST", "/talks", body, authorizer=ADMIN)
            else:
                body = {"title": "T"} | change
                answer = api("PUT", f"/talks/{new_talk_id}", body, authorizer=ADMIN)
            # Then it is refused as any invalid field is, naming the field and the character
            assert answer["statusCode"] == 422, (control, field)
            assert answer["headers"]["Content-Type"] == "application/problem+json"
            [error] = answer["json"]["errors"]
            assert error["field"] == field
            assert f"U+{ord(control):04X}" in error["message"]
            assert "(character " in error["message"]
    # And nothing was stored
    assert api("GET", f"/talks/{new_talk_id}")["statusCode"] == 404


def test_direction_marks_in_right_to_left_text_are_taken(api: Call, new_talk_id: str) -> None:
    # Given a Hebrew title ending in "C++" kept in place by a right-to-left mark, a speaker's
    # name with a left-to-right mark, and an Arabic track with Arabic's own letter mark
    talk = {
        "id": new_talk_id,
        "title": "\u05e9\u05d9\u05d7\u05d4 \u05e2\u05dc C++\u200f",
        "speakers": ["\u200eAda Byron"],
        "track": "\u0645\u0633\u0627\u0631 \u061c\u0661",
    }
    # When an organiser adds the talk
    answer = api("POST", "/talks", talk, authorizer=ADMIN)
    # Then it is stored as typed
    assert answer["statusCode"] == 201, answer["body"]
    stored = api("GET", f"/talks/{new_talk_id}")["json"]
    assert (stored["title"], stored["speakers"], stored["track"]) == (
        talk["title"],
        talk["speakers"],
        talk["track"],
    )


def test_a_zero_width_no_break_space_in_a_talk_s_text_is_dropped(
    api: Call, new_talk_id: str
) -> None:
    # Given U+FEFF (a byte-order mark pasted with a name, shown as it is by every page and
    # terminal) inside, or at the start or end of, each text field of a talk
    sent = {
        "title": "Keynote\ufeff flipped",
        "speakers": ["Ada", "\ufeffGrace Hopper"],
        "track": "Main\ufeffTrack",
        "room": "Hall A \ufeff",
    }
    kept = {
        "title": "Keynote flipped",
        "speakers": ["Ada", "Grace Hopper"],
        "track": "MainTrack",
        "room": "Hall A",
    }
    # When an organiser's client adds the talk, then replaces it with the same texts
    added = api("POST", "/talks", {"id": new_talk_id} | sent, authorizer=ADMIN)
    replaced = api("PUT", f"/talks/{new_talk_id}", sent, authorizer=ADMIN)
    # Then each is taken without the character (trimmed once it is gone), and saved so
    assert (added["statusCode"], replaced["statusCode"]) == (201, 200), replaced["body"]
    for answer in (added, replaced, api("GET", f"/talks/{new_talk_id}")):
        assert {k: answer["json"][k] for k in kept} == kept
    # And a text of nothing else is still refused as holding nothing to show
    blank = api("PUT", f"/talks/{new_talk_id}", {"title": "T", "room": "\ufeff"}, authorizer=ADMIN)
    assert blank["statusCode"] == 422
    assert [e["field"] for e in blank["json"]["errors"]] == ["room"]


def test_a_talk_saved_with_a_zero_width_no_break_space_is_edited_and_cleaned(
    api: Call, new_talk_id: str, talks_dsn: str
) -> None:
    # Given a talk saved with U+FEFF in its texts before it was refused
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO talks (id, title, speakers, track, room) VALUES (%s, %s, %s, %s, %s)",
            (new_talk_id, "\ufeffKeynote", ["Ada", "Grace\ufeff Hopper"], "Main\ufeff", "Hall B"),
        )
    connection.close()
    # When an organiser changes only its room, sending its other texts back as they were read
    stored = api("GET", f"/talks/{new_talk_id}")["json"]
    fields = {k: stored[k] for k in ("title", "speakers", "track")} | {"room": "Hall C"}
    answer = api("PUT", f"/talks/{new_talk_id}", fields, authorizer=ADMIN)
    # Then the change is taken, and the talk saved without the character
    assert answer["statusCode"] == 200, answer["body"]
    saved = api("GET", f"/talks/{new_talk_id}")["json"]
    assert {k: saved[k] for k in ("title", "speakers", "track", "room")} == {
        "title": "Keynote",
        "speakers": ["Ada", "Grace Hopper"],
        "track": "Main",
        "room": "Hall C",
    }


def test_joiners_and_a_flag_s_tag_characters_in_a_talk_s_text_are_taken(
    api: Call, new_talk_id: str
) -> None:
    # Given a title with an emoji sequence (joined by U+200D), a Persian name whose word keeps
    # its letters apart with U+200C, and a track with Scotland's flag (tag characters
    # U+E0067..U+E007F after the black flag)
    talk = {
        "id": new_talk_id,
        "title": "Family talk \U0001f469\u200d\U0001f467",
        "speakers": ["\u0646\u06cc\u0645\u200c\u0631\u0648\u0632"],
        "track": "Scotland \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    }
    # When an organiser adds the talk
    answer = api("POST", "/talks", talk, authorizer=ADMIN)
    # Then it is stored as typed
    assert answer["statusCode"] == 201, answer["body"]
    stored = api("GET", f"/talks/{new_talk_id}")["json"]
    assert [stored[k] for k in ("title", "speakers", "track")] == [
        talk[k] for k in ("title", "speakers", "track")
    ]


def test_a_talk_s_language_is_stored_answered_everywhere_and_changed_by_put(
    api: Call, new_talk_id: str, topic: str
) -> None:
    # Given a talk in Hebrew, its title and speaker's name in Hebrew, rated once
    talk = {
        "id": new_talk_id,
        "title": "\u05e9\u05d9\u05d7\u05d4 \u05e2\u05dc \u05d1\u05d3\u05d9\u05e7\u05d5\u05ea",
        "speakers": ["\u05e0\u05d5\u05e2\u05d4 \u05db\u05d4\u05df"],
        "track": f"track-{new_talk_id}",
        "language": "he",
    }
    # When an organiser adds it
    created = api("POST", "/talks", talk, authorizer=ADMIN)
    assert created["statusCode"] == 201, created["body"]
    project({new_talk_id: [5]}, topic)
    # Then every document of the talk names its language: as added, read, listed, ranked
    assert created["json"]["language"] == "he"
    assert api("GET", f"/talks/{new_talk_id}")["json"]["language"] == "he"
    listed = api("GET", "/talks", query={"track": talk["track"]})["json"]["items"]
    assert [(t["id"], t["language"]) for t in listed] == [(new_talk_id, "he")]
    board = api("GET", "/leaderboard", query={"track": talk["track"]})["json"]["talks"]
    assert [(r["talkId"], r["language"]) for r in board] == [(new_talk_id, "he")]
    # And a replacement takes another, in the registry's case, or none when it names none
    fields = {k: v for k, v in talk.items() if k != "id"}
    changed = api(
        "PUT", f"/talks/{new_talk_id}", fields | {"language": " PT-br "}, authorizer=ADMIN
    )
    assert (changed["statusCode"], changed["json"]["language"]) == (200, "pt-BR")
    assert api("GET", f"/talks/{new_talk_id}")["json"]["language"] == "pt-BR"
    cleared = api("PUT", f"/talks/{new_talk_id}", fields | {"language": None}, authorizer=ADMIN)
    assert (cleared["statusCode"], cleared["json"]["language"]) == (200, None)
    without = api("PUT", f"/talks/{new_talk_id}", {"title": "T"}, authorizer=ADMIN)
    assert (without["statusCode"], without["json"]["language"]) == (200, None)
    assert api("GET", f"/talks/{new_talk_id}")["json"]["language"] is None


@pytest.mark.parametrize(
    "language", ["Hebrew", "en_GB", "en-", "", "he\u200f", "x" * 10_000, 5, ["he"], {"tag": "he"}]
)
def test_a_language_that_is_no_bcp_47_tag_is_422_naming_the_field_and_changes_nothing(
    api: Call, new_talk_id: str, language: Any
) -> None:
    # Given a talk in the catalog, in Hebrew
    added = api(
        "POST", "/talks", {"id": new_talk_id, "title": "T", "language": "he"}, authorizer=ADMIN
    )
    assert added["statusCode"] == 201, added["body"]
    # When an organiser's client sends a language that is no tag, adding a talk or replacing it
    for method, path, body in (
        ("POST", "/talks", {"id": f"{new_talk_id}-2", "title": "T", "language": language}),
        ("PUT", f"/talks/{new_talk_id}", {"title": "Changed", "language": language}),
    ):
        answer = api(method, path, body, authorizer=ADMIN)
        # Then it is refused as any invalid field is: 422, problem+json, the field named
        assert answer["statusCode"] == 422, (method, answer["body"])
        assert answer["headers"]["Content-Type"] == "application/problem+json"
        assert answer["json"]["status"] == 422
        assert [error["field"] for error in answer["json"]["errors"]] == ["language"]
        assert_as_documented(answer, method, path.replace(new_talk_id, "{talkId}"))
    # And nothing changed
    assert api("GET", f"/talks/{new_talk_id}-2")["statusCode"] == 404
    kept = api("GET", f"/talks/{new_talk_id}")["json"]
    assert (kept["title"], kept["language"]) == ("T", "he")


def test_a_talk_saved_with_an_override_before_it_was_refused_is_still_read_and_ranked(
    api: Call, new_talk_id: str, talks_dsn: str, topic: str
) -> None:
    # Given a talk saved before the controls were refused, an override in each of its texts
    track = f"Track {new_talk_id[-6:]} \u202eflipped"
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO talks (id, title, speakers, track, room) VALUES (%s, %s, %s, %s, %s)",
            (new_talk_id, "Saved \u202ebackwards", ["\u2067Ada\u2069"], track, "Hall\u202a B"),
        )
    connection.close()
    project({new_talk_id: [5, 4]}, topic)
    # When it is read, searched, listed by its track and ranked
    one = api("GET", f"/talks/{new_talk_id}")
    found = api("GET", "/talks", query={"q": "backwards"})
    listed = api("GET", "/talks", query={"track": track})
    board = api("GET", "/leaderboard", query={"track": track})
    # Then every route answers with it as saved
    assert [a["statusCode"] for a in (one, found, listed, board)] == [200] * 4
    assert one["json"]["title"] == "Saved \u202ebackwards"
    assert new_talk_id in [t["id"] for t in found["json"]["items"]]
    assert [t["room"] for t in listed["json"]["items"]] == ["Hall\u202a B"]
    assert [(r["talkId"], r["count"]) for r in board["json"]["talks"]] == [(new_talk_id, 2)]
    # And saved again with its override, it is refused (naming the field); without, it is taken
    fields = {k: one["json"][k] for k in ("title", "speakers", "track", "room")}
    again = api("PUT", f"/talks/{new_talk_id}", fields, authorizer=ADMIN)
    assert again["statusCode"] == 422
    assert [e["field"] for e in again["json"]["errors"]] == [
        "title",
        "speakers.0",
        "track",
        "room",
    ]
    cleaned = {k: v.replace("\u202e", "") for k, v in fields.items() if isinstance(v, str)}
    cleaned |= {"speakers": ["Ada"], "room": "Hall B"}
    assert api("PUT", f"/talks/{new_talk_id}", cleaned, authorizer=ADMIN)["statusCode"] == 200


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/talks", {"q": "\x00"}),
        ("/talks", {"q": "a\nb"}),
        ("/talks", {"track": "\x00"}),
        ("/talks", {"q": "a\u009bb"}),
        ("/leaderboard", {"track": "a\x00b"}),
    ],
)
def test_searches_with_control_characters_are_400(
    api: Call, path: str, query: dict[str, str]
) -> None:
    answer = api("GET", path, query=query)
    assert answer["statusCode"] == 400, answer["body"]
    assert answer["json"]["type"] == "urn:talkrate:problem:validation"


def test_a_talk_id_with_a_colon_is_found_as_the_http_api_hands_its_path(api: Call) -> None:
    # Given a talk whose id holds a ":" (its pattern allows it)
    talk_id = f"{unique_talk_id()}:colon"
    assert (
        api("POST", "/talks", {"id": talk_id, "title": "Colon"}, authorizer=ADMIN)["statusCode"]
        == 201
    )
    # When the web app and the command line name it in a path, percent-encoded as they do,
    # which an HTTP API hands the function decoded (its rawPath holds the ":")
    path = f"/talks/{talk_id}"
    read = api("GET", path)
    replaced = api("PUT", path, {"title": "Colon 2"}, authorizer=ADMIN)
    removed = api("DELETE", path, authorizer=ADMIN)
    # Then each route finds it by its id
    assert (read["statusCode"], read["json"]["id"]) == (200, talk_id)
    assert (replaced["statusCode"], replaced["json"]["title"]) == (200, "Colon 2")
    assert removed["statusCode"] == 204
    assert api("GET", path)["statusCode"] == 404
    # And a "%" the HTTP API hands on (a client's %25) is part of the id, not decoded again: an
    # id outside the pattern, 400, never the talk with the ":"
    assert api("GET", "/talks/a%2Fb")["statusCode"] == 400
    assert api("GET", f"/talks/{talk_id.replace(':', '%3A')}")["statusCode"] == 400
    # And a path as an HTTP API hands it, decoded, with characters no talk id has: 400, not 404
    for method in ("GET", "PUT", "DELETE"):
        odd = api(method, "/talks/\u00d7\u00f8\x9b", {"title": "x"}, authorizer=ADMIN)
        assert odd["statusCode"] == 400, (method, odd["body"])


def test_spaces_around_a_talk_s_texts_are_not_kept(api: Call, new_talk_id: str) -> None:
    # Pasted from a programme, with spaces around: shown, searched and exported without them
    fields = {"title": "  Keynote ", "speakers": [" Ada Lovelace", "Grace\u00a0"], "room": " A "}
    answer = api("PUT", f"/talks/{new_talk_id}", fields, authorizer=ADMIN)
    assert answer["statusCode"] == 201, answer["body"]
    stored = api("GET", f"/talks/{new_talk_id}")["json"]
    assert (stored["title"], stored["speakers"], stored["room"]) == (
        "Keynote",
        ["Ada Lovelace", "Grace"],
        "A",
    )


def test_put_creates_a_talk_under_a_new_id(api: Call, new_talk_id: str) -> None:
    answer = api("PUT", f"/talks/{new_talk_id}", {"title": "Made by PUT"}, authorizer=ADMIN)
    assert answer["statusCode"] == 201


def test_a_second_organiser_s_stale_edit_is_refused_not_silently_applied(
    api: Call, new_talk_id: str
) -> None:
    # Given a talk both organisers read at the same revision (its ETag, and in every listing)
    talk = {"title": "Shared talk", "room": "Hall A"}
    created = api("POST", "/talks", {"id": new_talk_id, **talk}, authorizer=ADMIN)
    read = api("GET", f"/talks/{new_talk_id}")
    etag = read["headers"]["ETag"]
    assert etag == created["headers"]["ETag"] == f'"{read["json"]["revision"]}"'
    listed = api("GET", "/talks", query={"q": "Shared talk", "limit": "100"})["json"]["items"]
    assert [t["revision"] for t in listed if t["id"] == new_talk_id] == [read["json"]["revision"]]
    # When the first saves a new room with If-Match
    first = api(
        "PUT",
        f"/talks/{new_talk_id}",
        {**talk, "room": "Hall B"},
        headers={"if-match": etag},
        authorizer=ADMIN,
    )
    assert first["statusCode"] == 200
    assert first["headers"]["ETag"] == f'"{first["json"]["revision"]}"' != etag
    # Then the second's save from what they read is refused, with the revision it missed
    second = api(
        "PUT",
        f"/talks/{new_talk_id}",
        {**talk, "title": "Renamed"},
        headers={"if-match": etag},
        authorizer=ADMIN,
    )
    assert second["statusCode"] == 412
    assert second["headers"]["Content-Type"] == "application/problem+json"
    assert second["json"]["type"].endswith("talk-changed")
    assert second["json"]["revision"] == first["json"]["revision"]
    assert second["headers"]["ETag"] == first["headers"]["ETag"]
    # And nothing of it was applied; their stale removal is refused too
    now = api("GET", f"/talks/{new_talk_id}")
    assert (now["json"]["title"], now["json"]["room"]) == ("Shared talk", "Hall B")
    stale = api("DELETE", f"/talks/{new_talk_id}", headers={"if-match": etag}, authorizer=ADMIN)
    assert stale["statusCode"] == 412
    assert api("GET", f"/talks/{new_talk_id}")["statusCode"] == 200
    # Once they read it again, their change goes through
    again = api(
        "PUT",
        f"/talks/{new_talk_id}",
        {**talk, "room": "Hall B", "title": "Renamed"},
        headers={"if-match": now["headers"]["ETag"]},
        authorizer=ADMIN,
    )
    assert again["statusCode"] == 200
    assert api("GET", f"/talks/{new_talk_id}")["json"]["title"] == "Renamed"
    removed = api(
        "DELETE",
        f"/talks/{new_talk_id}",
        headers={"if-match": again["headers"]["ETag"]},
        authorizer=ADMIN,
    )
    assert removed["statusCode"] == 204


def test_if_match_star_and_if_none_match_star_ask_for_a_talk_or_for_none(
    api: Call, new_talk_id: str
) -> None:
    path = f"/talks/{new_talk_id}"
    # If-Match: * only changes a talk that exists: nothing is created
    updated = api("PUT", path, {"title": "x"}, headers={"if-match": "*"}, authorizer=ADMIN)
    assert updated["statusCode"] == 412
    assert "ETag" not in updated["headers"]
    assert updated["json"]["revision"] is None
    assert api("GET", path)["statusCode"] == 404
    # If-None-Match: * only creates
    made = api("PUT", path, {"title": "First"}, headers={"if-none-match": "*"}, authorizer=ADMIN)
    assert made["statusCode"] == 201
    again = api("PUT", path, {"title": "Second"}, headers={"if-none-match": "*"}, authorizer=ADMIN)
    assert again["statusCode"] == 412
    assert api("GET", path)["json"]["title"] == "First"
    assert (
        api("PUT", path, {"title": "Third"}, headers={"if-match": "*"}, authorizer=ADMIN)[
            "statusCode"
        ]
        == 200
    )
    # If-Match compares strongly: a weak tag of the right revision matches nothing
    weak = "W/" + api("GET", path)["headers"]["ETag"]
    assert (
        api("PUT", path, {"title": "x"}, headers={"if-match": weak}, authorizer=ADMIN)["statusCode"]
        == 412
    )
    # Tags compare as text: "0<revision>" names another tag, not the revision
    padded = '"0' + api("GET", path)["headers"]["ETag"].strip('"') + '"'
    assert (
        api("PUT", path, {"title": "x"}, headers={"if-match": padded}, authorizer=ADMIN)[
            "statusCode"
        ]
        == 412
    )
    # A list matches any of its tags
    listed = f'"1", {api("GET", path)["headers"]["ETag"]}'
    assert (
        api("PUT", path, {"title": "Fourth"}, headers={"if-match": listed}, authorizer=ADMIN)[
            "statusCode"
        ]
        == 200
    )


@pytest.mark.parametrize("header", ["5", '"5', "W/5", '"a"b"', '*, "1"', "\x01"])
def test_a_malformed_precondition_is_400_and_changes_nothing(
    api: Call, new_talk_id: str, header: str
) -> None:
    path = f"/talks/{new_talk_id}"
    assert api("PUT", path, {"title": "Kept"}, authorizer=ADMIN)["statusCode"] == 201
    answer = api("PUT", path, {"title": "Lost"}, headers={"if-match": header}, authorizer=ADMIN)
    assert answer["statusCode"] == 400
    assert answer["json"]["errors"][0]["field"] == "if-match"
    removal = api("DELETE", path, headers={"if-match": header}, authorizer=ADMIN)
    assert removal["statusCode"] == 400
    assert api("GET", path)["json"]["title"] == "Kept"


def test_a_removal_refused_by_its_precondition_keeps_the_talk_ranked(
    api: Call, new_talk_id: str, topic: str
) -> None:
    track = f"track-{new_talk_id}"
    created = api(
        "POST", "/talks", {"id": new_talk_id, "title": "Ranked", "track": track}, authorizer=ADMIN
    )
    project({new_talk_id: [5, 5]}, topic)
    api("PUT", f"/talks/{new_talk_id}", {"title": "Ranked", "track": track}, authorizer=ADMIN)
    stale = api(
        "DELETE",
        f"/talks/{new_talk_id}",
        headers={"if-match": created["headers"]["ETag"]},
        authorizer=ADMIN,
    )
    assert stale["statusCode"] == 412
    ranked = api("GET", "/leaderboard", query={"track": track})["json"]["talks"]
    assert [(r["talkId"], r["count"]) for r in ranked] == [(new_talk_id, 2)]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_talk_removed_with_ratings_and_added_again_is_ranked_with_them(
    api: Call, new_talk_id: str, topic: str, method: str
) -> None:
    # Given a talk of its own track with four projected ratings, removed by an organiser
    track = f"track-{new_talk_id}"
    talk = {"title": "Back again", "track": track}
    assert api("POST", "/talks", {"id": new_talk_id, **talk}, authorizer=ADMIN)["statusCode"] == 201
    project({new_talk_id: [5, 4, 3, 2]}, topic)
    assert api("DELETE", f"/talks/{new_talk_id}", authorizer=ADMIN)["statusCode"] == 204
    assert api("GET", "/leaderboard", query={"track": track})["json"]["talks"] == []
    # When it is added again under its id
    if method == "POST":
        again = api("POST", "/talks", {"id": new_talk_id, **talk}, authorizer=ADMIN)
    else:
        again = api("PUT", f"/talks/{new_talk_id}", talk, authorizer=ADMIN)
    assert again["statusCode"] == 201
    # Then the leaderboard counts what its page (and so the export) counts: the same ratings
    counted = api("GET", "/ratings", query={"talkId": new_talk_id})["json"]["ratings"]
    ranked = api("GET", "/leaderboard", query={"track": track})["json"]["talks"]
    assert sum(counted.values()) == 4
    assert [(r["talkId"], r["count"], r["avg"]) for r in ranked] == [(new_talk_id, 4, 3.5)]
    assert ranked[0]["score"] == pytest.approx((3.0 * 10 + 14) / 14, abs=1e-4)


def test_removed_talks_ranked_again_do_not_push_the_best_talk_off_the_leaderboard(
    api: Call, talks_dsn: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given a talk rated 5 sixty times, and eleven talks rated 5 eighty times that organisers
    # then removed (taken off the leaderboard)
    best = unique_talk_id("best")
    removed = [unique_talk_id("removed") for _ in range(11)]
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO talks (id, title) VALUES (%s, %s)",
            [(t, "A talk of the leaderboard test") for t in [best, *removed]],
        )
    connection.close()
    try:
        project({best: [5] * 60, **{t: [5] * 80 for t in removed}}, topic)
        for talk_id in removed:
            assert api("DELETE", f"/talks/{talk_id}", authorizer=ADMIN)["statusCode"] == 204
        # When a rating of each removed talk, still in flight at its removal, is projected after
        # it (as a rebuild of the read model, which ranks every talk of the event store, does)
        late = [rating_event(t, 5) for t in removed]
        load_function("projector")(
            kafka_event(ratings_batch(topic, 0, 60 + 80 * len(removed), late)),
            LambdaContextStub("projector"),
        )
        # Then the leaderboard still names the best talk there is, first
        board = api("GET", "/leaderboard", query={"limit": "1"})
        assert board["statusCode"] == 200
        assert [r["talkId"] for r in board["json"]["talks"]] == [best]
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM talks WHERE id = ANY(%s)", ([best, *removed],))
        connection.close()
        for talk_id in [best, *removed]:
            redis_client.delete(histogram_key(talk_id))
            redis_client.zrem("leaderboard", talk_id)


def test_the_leaderboard_ranks_by_bayesian_average_and_filters_by_track(
    api: Call, talks_dsn: str, topic: str, redis_client: redis.Redis
) -> None:
    track = f"track-{unique_talk_id()}"
    lucky, solid = unique_talk_id("lucky"), unique_talk_id("solid")
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO talks (id, title, track) VALUES (%s, %s, %s)",
            [(lucky, "One lucky vote", track), (solid, "Many good votes", track)],
        )
    connection.close()
    try:
        project({lucky: [5], solid: [4] * 12}, topic)
        board = api("GET", "/leaderboard", query={"track": track, "limit": "5"})
        assert board["statusCode"] == 200
        ranked = board["json"]["talks"]
        assert [(r["rank"], r["talkId"]) for r in ranked] == [(1, solid), (2, lucky)]
        assert (ranked[0]["count"], ranked[0]["avg"]) == (12, 4.0)
        assert board["json"]["prior"] == {"mean": 3.0, "weight": 10.0}
        # And each place carries its histogram, from which its figures can be written exactly
        assert ranked[0]["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 12, "5": 0}
        assert ranked[1]["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
        overall = api("GET", "/leaderboard", query={"limit": "100"})["json"]["talks"]
        assert solid in [r["talkId"] for r in overall]
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM talks WHERE id IN (%s, %s)", (lucky, solid))
        connection.close()
        redis_client.delete(histogram_key(lucky), histogram_key(solid))
        redis_client.zrem("leaderboard", lucky, solid)


def test_tied_talks_share_a_rank_the_lower_id_first_even_at_the_board_s_last_place(
    api: Call, talks_dsn: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given two talks of one track rated alike (5 then 4), the greater id rated first, and a
    # worse one
    track = f"track-{unique_talk_id()}"
    first, second = unique_talk_id("aaa-tie"), unique_talk_id("zzz-tie")
    second = "zzz" + second  # (the greater id, whatever the unique parts are)
    worse = unique_talk_id("worse")
    ids = [first, second, worse]
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO talks (id, title, track) VALUES (%s, %s, %s)",
            [(talk_id, talk_id, track) for talk_id in ids],
        )
    connection.close()
    try:
        project({second: [5, 4], first: [5, 4], worse: [3]}, topic)
        # When the track's board is read, whole and cut after its first place
        board = api("GET", "/leaderboard", query={"track": track, "limit": "5"})["json"]["talks"]
        top = api("GET", "/leaderboard", query={"track": track, "limit": "1"})["json"]["talks"]
        # Then the tied talks share first place, the lower id first, and the next is third
        assert [(r["rank"], r["talkId"], r["score"]) for r in board] == [
            (1, first, 3.25),
            (1, second, 3.25),
            (3, worse, 3.0),
        ]
        # And the board cut after one place shows the same first talk
        assert [(r["rank"], r["talkId"]) for r in top] == [(1, first)]
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM talks WHERE id = ANY(%s)", (ids,))
        connection.close()
        redis_client.delete(*(histogram_key(t) for t in ids))
        redis_client.zrem("leaderboard", *ids)


def test_many_talks_tied_at_the_board_s_cut_are_shown_lower_ids_first(
    api: Call, talks_dsn: str, topic: str, redis_client: redis.Redis
) -> None:
    # Given a best talk, then more talks of one score than a page and its margin hold (the
    # first of them removed since), on top of the board, all in a track of their own
    track, stem = f"track-{unique_talk_id()}", unique_talk_id("tie")
    best, tied = f"{stem}-best", [f"{stem}-{i:02d}" for i in range(20)]
    ids = [best, *tied]
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO talks (id, title, track) VALUES (%s, %s, %s)",
            [(talk_id, talk_id, track) for talk_id in ids],
        )
    connection.close()
    try:
        project({best: [5] * 130, **{t: [5] * 110 for t in reversed(tied)}}, topic)
        assert api("DELETE", f"/talks/{tied[0]}", authorizer=ADMIN)["statusCode"] == 204
        # (back on the board at its score, as a rating in flight at the removal puts it)
        redis_client.zadd("leaderboard", {tied[0]: redis_client.zscore("leaderboard", tied[1])})
        # When the whole board and the track's board are read, cut inside the tie
        boards = [
            api("GET", "/leaderboard", query={"limit": "4"})["json"]["talks"],
            api("GET", "/leaderboard", query={"limit": "4", "track": track})["json"]["talks"],
        ]
        # Then each shows the best talk, then the tied talks there are, the lower ids first
        for board in boards:
            assert [(r["rank"], r["talkId"]) for r in board] == [
                (1, best),
                (2, tied[1]),
                (2, tied[2]),
                (2, tied[3]),
            ]
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM talks WHERE id = ANY(%s)", (ids,))
        connection.close()
        redis_client.delete(*(histogram_key(t) for t in ids))
        redis_client.zrem("leaderboard", *ids)


def test_a_rating_s_status_goes_from_accepted_to_projected(
    api: Call, talk: str, topic: str, kafka_bootstrap: str
) -> None:
    voter = api("POST", "/voters")["json"]["voterToken"]
    posted = api("POST", "/ratings", {"talkId": talk, "value": 3}, headers={"voter-token": voter})
    assert posted["statusCode"] == 202
    status_url = posted["headers"]["Location"]
    assert status_url == posted["json"]["links"]["status"]
    assert api("GET", status_url)["json"]["status"] == "accepted"
    # project what the API published, as the event source would
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert json.loads(value)["voterId"] == voter.split(".")[1]  # the token's voter
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, [RatingSubmitted.from_json(value)])),
        LambdaContextStub("projector"),
    )
    assert api("GET", status_url)["json"] == {
        "eventId": posted["json"]["eventId"],
        "status": "projected",
    }
    unknown = api("GET", "/ratings/00000000-0000-4000-8000-000000000000")
    assert unknown["statusCode"] == 404
    assert api("GET", "/ratings/not-an-id")["statusCode"] == 400


def test_a_rating_waiting_in_the_outbox_is_queued(
    api: Call, talk: str, configure: Callable[..., None]
) -> None:
    configure(STREAMS_CONNECTION="127.0.0.1:1", PUBLISH_TIMEOUT_SECONDS="1")
    posted = api("POST", "/ratings", {"talkId": talk, "value": 3})
    assert posted["json"]["status"] == "queued"
    assert api("GET", posted["headers"]["Location"])["json"]["status"] == "queued"


def test_head_answers_like_get_without_a_body(api: Call) -> None:
    head = api("HEAD", "/talks")
    get = api("GET", "/talks")
    assert head["statusCode"] == get["statusCode"] == 200
    assert head["body"] == ""


def test_the_authorizer_vouches_only_for_the_admin_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", "s3cret-admin-token-of-32-characters")
    wiring.reset()
    authorizer = load_function("authorizer")

    def decide(header: str | None) -> dict[str, Any]:
        event = sample_event("authorizer/request.json")
        event["headers"].pop("authorization")
        if header is not None:
            event["headers"]["authorization"] = header
        return authorizer(event, None)  # type: ignore[no-any-return]

    vouched = decide("Bearer s3cret-admin-token-of-32-characters")["context"]
    assert {k: vouched[k] for k in ("admin", "reason")} == {"admin": True, "reason": "ok"}
    # who it was, for the audit line: a fingerprint, never the token
    assert vouched["fingerprint"] == fingerprint("s3cret-admin-token-of-32-characters")
    assert "s3cret" not in json.dumps(vouched)
    assert decide("Bearer guess")["context"]["reason"] == "invalid-token"
    assert decide(None)["context"]["reason"] == "missing-token"
    assert all(decide(h)["isAuthorized"] for h in ("Bearer x", None))
    wiring.reset()


# --- What an HTTP client and the caches between it and the API see (2026-12-01 review) ----------

SPEC = json.loads((ROOT / "docs" / "openapi.json").read_text())
# Headers every response has, or that belong to the body (not documented per response).
_UNDOCUMENTED = {"content-type", "cache-control"}


def _documented_headers(method: str, path: str, status: int) -> set[str]:
    response = SPEC["paths"][path][method.lower()]["responses"][str(status)]
    return {name.lower() for name in response.get("headers", {})}


def assert_as_documented(answer: dict[str, Any], method: str, path: str) -> None:
    """The status is one the document lists for the route, and each header it carries too."""
    status = answer["statusCode"]
    assert str(status) in SPEC["paths"][path][method.lower()]["responses"], (method, path, status)
    sent = {name.lower() for name in answer["headers"]} - _UNDOCUMENTED
    assert sent <= _documented_headers(method, path, status), (method, path, status, sent)


def test_no_answer_of_the_api_may_be_stored_by_a_cache(
    api: Call, talk: str, new_talk_id: str
) -> None:
    # Given answers of every kind: live counts, a voter's secret token, errors, an admin write
    voter = api("POST", "/voters")
    answers = [
        api("GET", "/"),
        api("GET", "/talks"),
        api("GET", f"/talks/{talk}"),
        api("GET", "/talks/no-such-talk"),
        api("GET", "/ratings", query={"talkId": talk}),
        api("GET", "/leaderboard"),
        voter,
        api("POST", "/ratings", {"talkId": talk, "value": 4}),
        api("POST", "/ratings", "{", headers={"content-type": "application/json"}),
        api("POST", "/ratings", "x" * 20_000),
        api("POST", "/ratings", "{}", headers={"content-type": "text/xml"}),
        api("POST", "/talks", {"id": new_talk_id, "title": "Cached?"}, authorizer=ADMIN),
        api("HEAD", f"/talks/{talk}"),
    ]
    # Then none may be kept by a browser, a proxy or a CDN that honours the origin: a count
    # would go stale, a 404 outlive the talk's creation, a voter token reach another attendee
    assert voter["statusCode"] == 201
    for answer in answers:
        assert answer["headers"].get("Cache-Control") == "no-store", answer


def test_every_401_says_how_to_authenticate(api: Call, configure: Callable[..., None]) -> None:
    # Given a deployment that takes ratings from attendees only
    configure(VOTING_POLICY="attendee", PUBLISH_TIMEOUT_SECONDS="1")
    body = {"talkId": "flight-of-the-gopher", "value": 4}
    # When a rating comes without a voter token, or with a forged one
    missing = api("POST", "/ratings", body)
    forged = api("POST", "/ratings", body, headers={"voter-token": "v1.forged"})
    # Then each 401 carries a challenge (RFC 9110 requires one on every 401)
    for answer in (missing, forged):
        assert answer["statusCode"] == 401
        assert answer["headers"]["WWW-Authenticate"] == 'Voter-Token realm="talkrate"'
        assert_as_documented(answer, "POST", "/ratings")


def test_a_json_body_with_a_byte_order_mark_is_read(api: Call, talk: str) -> None:
    # Given a client that writes UTF-8 with a BOM (Windows PowerShell 5, .NET's UTF8Encoding)
    body = "\ufeff" + json.dumps({"talkId": talk, "value": 4})
    # Then the body is read as the JSON it is (RFC 8259 lets a parser ignore the mark)
    assert api("POST", "/ratings", body)["statusCode"] == 202
    assert api("POST", "/ratings", body.encode("utf-8"))["statusCode"] == 202


def test_a_json_body_naming_a_field_twice_is_refused(api: Call, talk: str) -> None:
    # Given a body two parsers read differently: the first "value" or the last
    body = json.dumps({"talkId": talk, "value": 5})[:-1] + ', "value": 1}'
    # When it is sent
    answer = api("POST", "/ratings", body)
    # Then it is refused rather than counted as one of them, naming the field
    assert answer["statusCode"] == 422
    assert answer["json"]["errors"] == [
        {"field": "value", "message": "Duplicate key: the object names it more than once"}
    ]
    nested = api("POST", "/voters", '{"code": "a", "code": "b"}')
    assert nested["statusCode"] == 422


@pytest.mark.parametrize("label", ["text/plain", "application/x-www-form-urlencoded"])
def test_an_empty_labelled_body_asks_for_a_pass_as_no_body_does(api: Call, label: str) -> None:
    # Given a pass asked for with an empty body labelled as text or as a form (what
    # `curl --data-binary @/dev/null` and some HTTP libraries send)
    answer = api("POST", "/voters", "", headers={"content-type": label})
    # Then a pass is handed out, as to a request without a body: not 415 for a label of nothing
    assert answer["statusCode"] == 201, answer["json"]
    assert answer["json"]["voterToken"].startswith("v1.")


def test_a_body_on_a_route_that_takes_none_is_ignored(api: Call, talk: str) -> None:
    # Given a GET with a large body (some HTTP clients send one)
    large = "x" * 20_000
    # Then the route answers as without it: no 413 or 415 its document does not list
    for path in ("/talks", f"/talks/{talk}", "/leaderboard", "/"):
        answer = api("GET", path, large, headers={"content-type": "text/xml"})
        assert answer["statusCode"] == 200, (path, answer["body"][:200])


def test_the_headers_the_routes_answer_are_in_the_openapi_document(
    api: Call, talk: str, new_talk_id: str, configure: Callable[..., None]
) -> None:
    auth = {"admin": True, "reason": "ok"}
    created = api("POST", "/talks", {"id": new_talk_id, "title": "Documented"}, authorizer=auth)
    assert_as_documented(created, "POST", "/talks")
    assert_as_documented(api("GET", f"/talks/{new_talk_id}"), "GET", "/talks/{talkId}")
    replaced = api("PUT", f"/talks/{new_talk_id}", {"title": "Again"}, authorizer=auth)
    assert_as_documented(replaced, "PUT", "/talks/{talkId}")
    stale = api(
        "PUT",
        f"/talks/{new_talk_id}",
        {"title": "Stale"},
        headers={"if-match": '"1"'},
        authorizer=auth,
    )
    assert stale["statusCode"] == 412
    assert_as_documented(stale, "PUT", "/talks/{talkId}")
    assert_as_documented(api("DELETE", f"/talks/{new_talk_id}"), "DELETE", "/talks/{talkId}")
    rated = api("POST", "/ratings", {"talkId": talk, "value": 2})
    assert_as_documented(rated, "POST", "/ratings")
    assert_as_documented(api("POST", "/voters"), "POST", "/voters")
    # Over a limit, and with no way to store a rating: Retry-After, documented
    configure(RATINGS_PER_ADDRESS_PER_MINUTE="1", PUBLISH_TIMEOUT_SECONDS="1")
    api("POST", "/ratings", {"talkId": talk, "value": 2}, source_ip="192.0.2.77")
    limited = api("POST", "/ratings", {"talkId": talk, "value": 2}, source_ip="192.0.2.77")
    assert limited["statusCode"] == 429
    assert_as_documented(limited, "POST", "/ratings")
    configure(STREAMS_CONNECTION="127.0.0.1:1", TALKS_CONNECTION="postgresql://x@127.0.0.1:1/x")
    down = api("POST", "/ratings", {"talkId": talk, "value": 2})
    assert down["statusCode"] == 503
    assert "Retry-After" in down["headers"]
    assert_as_documented(down, "POST", "/ratings")
