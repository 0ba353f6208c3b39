"""Idempotency-Key on the POSTs that create something besides a rating: POST /talks (the key
kept with the talk, in PostgreSQL) and POST /voters (the pass given again, never kept), in
process against the real PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg2
import pytest
import redis

from talkrate_cli.main import main
from tests.builders import unique_talk_id
from tests.integration.conftest import Call, forget_talk
from tests.integration.test_votes import address

pytestmark = pytest.mark.integration

ADMIN = {"admin": True, "reason": "ok"}


@pytest.fixture
def new_talk_id(talks_dsn: str, redis_client: redis.Redis) -> Iterator[str]:
    talk_id = unique_talk_id("keyed")
    yield talk_id
    forget_talk(talks_dsn, redis_client, talk_id)


def talk_rows(talks_dsn: str, talk_id: str) -> list[tuple[str, int]]:
    """The catalog's rows of the talk: (title, revision)."""
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT title, revision FROM talks WHERE id = %s", (talk_id,))
        rows = cursor.fetchall()
    connection.close()
    return rows


def kept_keys(talks_dsn: str, key: str) -> list[tuple[str, str]]:
    """What PostgreSQL keeps of a POST /talks key: (key_hash, body), found by the key's hash."""
    hashed = hashlib.sha256(f"talks:{key}".encode()).hexdigest()
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT key_hash, body FROM talk_requests WHERE key_hash = %s", (hashed,))
        rows = cursor.fetchall()
    connection.close()
    return rows


def age_key(talks_dsn: str, key: str, seconds: int) -> None:
    """The key's record made `seconds` older, as time passing does."""
    hashed = hashlib.sha256(f"talks:{key}".encode()).hexdigest()
    with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE talk_requests SET created_at = created_at - make_interval(secs => %s) "
            "WHERE key_hash = %s",
            (seconds, hashed),
        )
    connection.close()


def test_a_talk_posted_again_with_its_key_is_answered_as_the_first_and_added_once(
    api: Call, talks_dsn: str, new_talk_id: str
) -> None:
    # Given a talk added with an Idempotency-Key, whose answer the organiser never saw
    key = uuid.uuid4().hex
    talk = {"id": new_talk_id, "title": "Keyed once", "speakers": ["Ana Lee"], "room": "Hall K"}
    first = api("POST", "/talks", talk, authorizer=ADMIN, headers={"idempotency-key": key})
    # When the same POST is sent again with the key, twice
    again = api("POST", "/talks", talk, authorizer=ADMIN, headers={"idempotency-key": key})
    third = api("POST", "/talks", talk, authorizer=ADMIN, headers={"idempotency-key": key})
    # Then each is answered as the first was: 201, the same body and headers
    assert first["statusCode"] == 201, first["json"]
    for retry in (again, third):
        assert retry["statusCode"] == 201, retry["json"]
        assert retry["body"] == first["body"]
        assert retry["headers"]["ETag"] == first["headers"]["ETag"]
        assert retry["headers"]["Location"] == f"/talks/{new_talk_id}"
    # And the talk is there once, at the first answer's revision (nothing saved again)
    assert talk_rows(talks_dsn, new_talk_id) == [("Keyed once", first["json"]["revision"])]
    # And what is kept names the key by its hash only
    [(hashed, _body)] = kept_keys(talks_dsn, key)
    assert key not in hashed
    # And without a key the same POST is refused as before: the id is taken
    bare = api("POST", "/talks", talk, authorizer=ADMIN)
    assert bare["statusCode"] == 409
    assert bare["json"]["type"].endswith(":talk-exists")


def test_the_same_key_with_another_talk_is_422_and_changes_nothing(
    api: Call, talks_dsn: str, new_talk_id: str
) -> None:
    # Given a talk added with a key
    key = uuid.uuid4().hex
    talk = {"id": new_talk_id, "title": "First title", "speakers": []}
    first = api("POST", "/talks", talk, authorizer=ADMIN, headers={"idempotency-key": key})
    assert first["statusCode"] == 201
    # When the key comes back with another title
    other = {**talk, "title": "Another title"}
    reused = api("POST", "/talks", other, authorizer=ADMIN, headers={"idempotency-key": key})
    # Then it is refused in the documented shape, and the talk is left as it was
    assert reused["statusCode"] == 422
    assert reused["headers"]["Content-Type"] == "application/problem+json"
    problem = reused["json"]
    assert problem["type"].endswith(":idempotency-key-reused")
    assert problem["status"] == 422
    assert problem["title"] == "Idempotency-Key reused"
    assert "a different talk" in problem["detail"]
    assert talk_rows(talks_dsn, new_talk_id) == [("First title", first["json"]["revision"])]
    # And the same talk written otherwise (spaces the API trims) is the same request
    spaced = {**talk, "title": "  First title "}
    same = api("POST", "/talks", spaced, authorizer=ADMIN, headers={"idempotency-key": key})
    assert (same["statusCode"], same["body"]) == (201, first["body"])


def test_a_refused_add_keeps_nothing_and_a_key_expires_after_an_hour(
    api: Call, talks_dsn: str, new_talk_id: str
) -> None:
    # Given a talk in the programme, added without a key
    talk = {"id": new_talk_id, "title": "Taken", "speakers": []}
    assert api("POST", "/talks", talk, authorizer=ADMIN)["statusCode"] == 201
    # When another POST of its id comes with a key
    key = uuid.uuid4().hex
    taken = api("POST", "/talks", talk, authorizer=ADMIN, headers={"idempotency-key": key})
    # Then it is 409 talk-exists, and the key keeps nothing (a retry is judged again)
    assert taken["statusCode"] == 409
    assert taken["json"]["type"].endswith(":talk-exists")
    assert kept_keys(talks_dsn, key) == []

    # Given a talk added with a key an hour and a second ago, then removed
    later_key = uuid.uuid4().hex
    other_id = new_talk_id + "-b"
    other = {"id": other_id, "title": "Kept an hour", "speakers": []}
    try:
        added = api(
            "POST", "/talks", other, authorizer=ADMIN, headers={"idempotency-key": later_key}
        )
        assert added["statusCode"] == 201
        age_key(talks_dsn, later_key, 3601)
        # When it is sent again with the key
        again = api(
            "POST", "/talks", other, authorizer=ADMIN, headers={"idempotency-key": later_key}
        )
        # Then the key is forgotten: the POST is judged as a new one (the id is taken)
        assert again["statusCode"] == 409
        assert again["json"]["type"].endswith(":talk-exists")
        assert kept_keys(talks_dsn, later_key) == []
    finally:
        with psycopg2.connect(talks_dsn) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM talks WHERE id = %s", (other_id,))
        connection.close()


def test_concurrent_adds_with_one_key_add_the_talk_once_and_give_one_answer(
    talks_dsn: str, new_talk_id: str
) -> None:
    # Given one talk, sent with one key by eight API containers at once (each its own
    # connection to PostgreSQL)
    from talkrate.adapters.postgres import PostgresDatabase, PostgresTalkCatalog
    from talkrate.values import KeptAnswer, Talk

    key = f"talks:{uuid.uuid4().hex}"
    talk = Talk(id=new_talk_id, title="Raced", speakers=[])
    catalogs = [PostgresTalkCatalog(PostgresDatabase(talks_dsn)) for _ in range(8)]
    answers: list[tuple[KeptAnswer, bool]] = []
    start = threading.Barrier(len(catalogs))

    def add(catalog: PostgresTalkCatalog) -> None:
        def answer(saved: Talk) -> KeptAnswer:
            return KeptAnswer(201, {"ETag": saved.etag}, json.dumps({"revision": saved.revision}))

        start.wait()
        answers.append(catalog.create_once(talk, key, {"id": talk.id}, answer, 3600))

    threads = [threading.Thread(target=add, args=(c,)) for c in catalogs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one added it, and every other was given that one's answer
    assert sorted(added for _, added in answers) == [False] * 7 + [True]
    assert all(given == answers[0][0] for given, _ in answers)
    [(_, revision)] = talk_rows(talks_dsn, new_talk_id)
    assert answers[0][0].body == json.dumps({"revision": revision})


def voter_of(token: str) -> str:
    """The voter a pass names (v1.<voter>.<expires>.<signature>)."""
    return token.split(".")[1]


def test_a_pass_asked_for_again_with_its_key_is_the_same_pass_and_one_voter(
    api: Call, configure: Callable[..., None], redis_client: redis.Redis
) -> None:
    # Given an address allowed one new pass a minute, and an attendee whose phone asks for a
    # pass with a key and never sees the answer
    configure(VOTERS_PER_ADDRESS_PER_MINUTE="1")
    where = address()
    key = uuid.uuid4().hex
    first = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    # When the phone asks again with the key, twice
    again = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    third = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    # Then each is the first answer: the same pass, the same expiry, a new voter's
    assert first["statusCode"] == 201, first["json"]
    for retry in (again, third):
        assert retry["statusCode"] == 201, retry["json"]
        assert retry["json"] == first["json"]
    assert first["json"]["renewed"] is False
    # And the retries used none of the address's passes: another key is the second this
    # minute, over the limit
    other = api(
        "POST", "/voters", {}, source_ip=where, headers={"idempotency-key": uuid.uuid4().hex}
    )
    assert other["statusCode"] == 429
    # And the pass is kept nowhere in Redis: the key's record names the voter and the expiry
    token = first["json"]["voterToken"]
    records = [redis_client.get(k) for k in redis_client.scan_iter("idempotency/*")]
    ours = [str(r) for r in records if r and voter_of(token) in str(r)]
    assert len(ours) == 1
    assert token not in ours[0]
    assert token.split(".")[3] not in ours[0]  # (nor its signature)


def test_a_pass_key_is_the_client_s_and_a_refusal_keeps_nothing(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given an event guarded by its code
    configure(VOTER_CODE="hall-k-2026")
    where = address()
    key = uuid.uuid4().hex
    # When a phone asks with a wrong code, then with the right one, under one key
    wrong = api(
        "POST", "/voters", {"code": "hall-x"}, source_ip=where, headers={"idempotency-key": key}
    )
    right = api(
        "POST",
        "/voters",
        {"code": "hall-k-2026"},
        source_ip=where,
        headers={"idempotency-key": key},
    )
    # Then the first is refused and the second gets a pass (the refusal kept nothing)
    assert wrong["statusCode"] == 403
    assert right["statusCode"] == 201
    # And the same key from another address is another client's: another voter
    elsewhere = api(
        "POST",
        "/voters",
        {"code": "hall-k-2026"},
        source_ip=address(),
        headers={"idempotency-key": key},
    )
    assert elsewhere["statusCode"] == 201
    assert voter_of(elsewhere["json"]["voterToken"]) != voter_of(right["json"]["voterToken"])
    # And without a key each request is a new voter, as before
    bare = [api("POST", "/voters", {"code": "hall-k-2026"}, source_ip=where) for _ in range(2)]
    assert len({voter_of(b["json"]["voterToken"]) for b in bare}) == 2


def test_a_pass_given_again_is_taken_for_ratings_and_redis_away_still_gives_passes(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given a pass given again under its key
    where = address()
    key = uuid.uuid4().hex
    api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    again = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    # When it renews, it is that voter's pass
    renewed = api(
        "POST", "/voters", {}, source_ip=where, headers={"voter-token": again["json"]["voterToken"]}
    )
    assert renewed["json"]["renewed"] is True
    assert voter_of(renewed["json"]["voterToken"]) == voter_of(again["json"]["voterToken"])
    # And with Redis away a keyed request still gets a pass (its key not kept)
    configure(RATINGS_CONNECTION="redis://127.0.0.1:1/0")
    away = api("POST", "/voters", {}, source_ip=address(), headers={"idempotency-key": key})
    assert away["statusCode"] == 201, away["json"]


def test_a_key_whose_voter_was_forgotten_gives_a_new_voter_s_pass_not_theirs(
    api: Call, configure: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an event guarded by its code, and a pass given under a key
    configure(VOTER_CODE="hall-k-2026", VOTERS_PER_ADDRESS_PER_MINUTE="3")
    where = address()
    key = uuid.uuid4().hex
    code = {"code": "hall-k-2026"}
    first = api("POST", "/voters", code, source_ip=where, headers={"idempotency-key": key})
    assert first["statusCode"] == 201, first["json"]
    token = first["json"]["voterToken"]
    # When its voter is forgotten at their request (`ops forget-voter`), within the key's hour
    capsys.readouterr()
    assert main(["--json", "ops", "forget-voter", token]) == 0, capsys.readouterr().err
    # Then the key asked again without the code is refused: the door is the code, as for any
    # new pass (a wrong guess counted against the address's passes, as any)
    bare = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    assert bare["statusCode"] == 403, bare["json"]
    # And with it the key gives a new voter's pass, not the forgotten one's
    again = api("POST", "/voters", code, source_ip=where, headers={"idempotency-key": key})
    assert again["statusCode"] == 201, again["json"]
    assert voter_of(again["json"]["voterToken"]) != voter_of(token)
    assert again["json"]["renewed"] is False
    # And that pass is the key's from then on (asked again, the same one), counted against the
    # address's passes: the fourth request this minute is over its limit
    third = api("POST", "/voters", {}, source_ip=where, headers={"idempotency-key": key})
    assert third["json"] == again["json"]
    other = api(
        "POST", "/voters", code, source_ip=where, headers={"idempotency-key": uuid.uuid4().hex}
    )
    assert other["statusCode"] == 429, other["json"]


def test_a_pass_key_short_enough_to_guess_is_refused_so_no_neighbour_can_claim_it_first(
    api: Call,
) -> None:
    # Given two phones behind one venue address, a key someone might pick by hand ("retry-1"),
    # and someone there who asks for a pass under it first, keeping the pass
    venue = address()
    guessed = {"idempotency-key": "retry-1"}
    claimed = api("POST", "/voters", {}, source_ip=venue, headers=guessed)
    # When an attendee's client behind the same address asks under that key
    attendee = api("POST", "/voters", {}, source_ip=venue, headers=guessed)
    # Then neither is given a pass under it (the second would be the first's voter, whose
    # ratings its holder could replace): 400 in the problem shape, naming the header
    for refused in (claimed, attendee):
        assert refused["statusCode"] == 400, refused["json"]
        assert refused["json"]["type"] == "urn:talkrate:problem:validation"
        assert refused["json"]["errors"] == [
            {"field": "idempotency-key", "message": "must be at least 16 characters long"}
        ]
    # And a key as long as the clients' own (16 random bytes in hex) is taken, as is one of 16
    for key in (uuid.uuid4().hex, uuid.uuid4().hex[:16]):
        taken = api("POST", "/voters", {}, source_ip=venue, headers={"idempotency-key": key})
        assert taken["statusCode"] == 201, taken["json"]
