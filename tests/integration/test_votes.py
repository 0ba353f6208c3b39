"""Votes you can trust, in process against the real backends: voter tokens, the event code, the
rate limits in Redis, idempotency keys per client, and Redis down answered without a 5xx."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from talkrate.adapters.limiter import RedisRequestLimiter, limit_key
from talkrate.adapters.redis_store import ACCEPTED_PREFIX, connect
from talkrate.values import Limit
from talkrate.voters import VoterTokens
from tests.integration.conftest import TEST_VOTER_TOKEN_KEY, Call
from tests.integration.test_handlers import counts, project_all
from tests.integration.test_kafka_publisher import consume_all, consume_to_end

pytestmark = pytest.mark.integration


def site() -> str:
    """An IPv6 /48 no other test uses (a unique local one), as the start of a /64 in it
    ("fdxx:xxxx:xxxx:")."""
    word = uuid.uuid4().hex
    return f"fd{word[:2]}:{word[2:6]}:{word[6:10]}:"


def network() -> str:
    """An IPv6 /64 of a /48 no other test uses, as the start of an address ("fdxx:…:0::")."""
    return f"{site()}0::"


def address() -> str:
    """A source address no other test uses (its limits start at zero: they count a /48)."""
    return f"{network()}1"


# --- the limiter against Redis ------------------------------------------------------------------


def test_the_limiter_refuses_past_the_limit_and_counts_nothing_it_refuses(
    read_model_url: str,
) -> None:
    # Given a limit of 3 a window, for a subject of its own, beside a roomier one
    # (on one Redis, and on a Redis Cluster, where the accepted marker is in a slot of its own)
    limiter = RedisRequestLimiter(connect(read_model_url))
    redis_client = connect(read_model_url, decode_responses=True)
    tight = Limit("voter", uuid.uuid4().hex, 3)
    roomy = Limit("address", address(), 100)
    events = [str(uuid.uuid4()) for _ in range(5)]
    # When 5 requests come
    admissions = [limiter.admit([tight, roomy], event_id) for event_id in events]
    # Then 3 pass and 2 are refused with a Retry-After within the window
    assert [a.allowed for a in admissions] == [True, True, True, False, False]
    assert all(1 <= a.retry_after <= 60 for a in admissions[3:])
    # And the refused ones were counted nowhere, not even as accepted
    assert redis_client.get(limit_key(tight)) == "3"
    assert redis_client.get(limit_key(roomy)) == "3"
    accepted = [bool(redis_client.exists(ACCEPTED_PREFIX + e)) for e in events]
    assert accepted == [True, True, True, False, False]
    # And every key it wrote expires
    assert 0 < redis_client.pttl(limit_key(tight)) <= 60_000
    assert 0 < redis_client.ttl(ACCEPTED_PREFIX + events[0]) <= 3600


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_a_limit_opens_again_when_its_window_ends(redis_client: redis.Redis) -> None:
    limiter = RedisRequestLimiter(redis.Redis.from_url(_url(redis_client)), window_ms=300)
    limit = Limit("voter", uuid.uuid4().hex, 1)
    assert limiter.admit([limit]).allowed
    refused = limiter.admit([limit])
    assert not refused.allowed
    assert refused.retry_after == 1  # whole seconds, never 0
    time.sleep(0.4)
    assert limiter.admit([limit]).allowed


def test_a_zero_limit_is_no_limit(redis_client: redis.Redis) -> None:
    limiter = RedisRequestLimiter(redis.Redis.from_url(_url(redis_client)))
    limit = Limit("address", address(), 0)
    assert all(limiter.admit([limit]).allowed for _ in range(20))
    assert redis_client.get(limit_key(limit)) is None


# --- voter tokens through the API ---------------------------------------------------------------


def test_a_voter_token_makes_the_rating_the_attendee_s(
    api: Call, talk: str, topic: str, kafka_bootstrap: str
) -> None:
    # Given an attendee with a token
    issued = api("POST", "/voters", source_ip=address())
    assert issued["statusCode"] == 201
    token = issued["json"]["voterToken"]
    assert issued["json"]["expiresAt"].endswith("Z")
    # When they rate with it
    rated = api("POST", "/ratings", {"talkId": talk, "value": 4}, headers={"voter-token": token})
    # Then the event on the stream carries the token's voter, and the answer does not
    assert rated["statusCode"] == 202, rated["json"]
    assert rated["json"]["rating"] == {"talkId": talk, "value": 4}
    [(_, value)] = consume_all(kafka_bootstrap, topic, 1)
    assert json.loads(value)["voterId"] == token.split(".")[1]


def test_a_forged_or_foreign_token_is_401_and_nothing_is_published(
    api: Call, talk: str, configure: Callable[..., None], topic: str, kafka_bootstrap: str
) -> None:
    token = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    version, _, expires, signature = token.split(".")
    forged = f"{version}.{'0' * 32}.{expires}.{signature}"
    configure(VOTER_TOKEN_KEY="another-deployment-s-key-entirely")
    for presented in (forged, token, "not-a-token"):
        answer = api(
            "POST", "/ratings", {"talkId": talk, "value": 1}, headers={"voter-token": presented}
        )
        assert answer["statusCode"] == 401
        assert answer["json"]["type"] == "urn:talkrate:problem:invalid-voter-token"
    assert consume_to_end(kafka_bootstrap, topic) == []


# --- renewing a pass: POST /voters with the Voter-Token it renews ------------------------------


def renew(api: Call, token: str, where: str | None = None, body: Any = None) -> dict[str, Any]:
    """POST /voters presenting `token` (from a fresh address unless `where` is given)."""
    return api(
        "POST", "/voters", body, source_ip=where or address(), headers={"voter-token": token}
    )


def test_a_renewed_pass_is_the_same_voter_and_a_changed_mind_counts_once(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    # Given an attendee under the attendee policy whose pass has ten minutes left, who rated 5
    configure(VOTING_POLICY="attendee")
    now = datetime.now(UTC)
    old = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(minutes=10)).issue(now)
    first = api(
        "POST", "/ratings", {"talkId": talk, "value": 5}, headers={"voter-token": old.token}
    )
    assert first["statusCode"] == 202, first["json"]
    # When their pass is renewed, and they change their mind to 1 with the renewed pass
    renewed = renew(api, old.token)
    assert renewed["statusCode"] == 201, renewed["json"]
    token = renewed["json"]["voterToken"]
    second = api("POST", "/ratings", {"talkId": talk, "value": 1}, headers={"voter-token": token})
    assert second["statusCode"] == 202, second["json"]
    # Then the renewed pass is the same voter's, with a new expiry (the configured week), and
    # says from when to renew it again (a quarter of its life left)
    assert token.split(".")[1] == old.voter_id
    assert renewed["json"]["renewed"] is True
    expires = datetime.fromisoformat(renewed["json"]["expiresAt"])
    assert expires > old.expires_at + timedelta(days=6)
    renew_after = datetime.fromisoformat(renewed["json"]["renewAfter"])
    assert renew_after == expires - timedelta(days=7) / 4
    # And once projected, the talk counts the voter once: their newest rating, 1
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"1": "1"}


def test_a_pass_is_renewed_from_the_share_of_its_life_the_settings_name(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given passes of an hour, renewed in the last half of their life (a test's setting: the
    # default is a quarter, above)
    configure(VOTER_TOKEN_HOURS="1", VOTER_TOKEN_RENEW_SHARE="0.5")
    # When an attendee is given a pass, and renews it
    issued = api("POST", "/voters", source_ip=address())
    assert issued["statusCode"] == 201, issued["json"]
    renewed = renew(api, issued["json"]["voterToken"])
    assert renewed["statusCode"] == 201, renewed["json"]
    # Then each says to renew it half an hour before it expires
    for answer in (issued, renewed):
        expires = datetime.fromisoformat(answer["json"]["expiresAt"])
        renew_after = datetime.fromisoformat(answer["json"]["renewAfter"])
        assert expires - renew_after == timedelta(minutes=30), answer["json"]


def test_a_pass_that_cannot_be_renewed_is_set_aside_for_a_new_voter_s_pass(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    # Given an attendee who rated 5, under the attendee policy
    configure(VOTING_POLICY="attendee")
    genuine = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    version, voter, expires, signature = genuine.split(".")
    rated = api("POST", "/ratings", {"talkId": talk, "value": 5}, headers={"voter-token": genuine})
    assert rated["statusCode"] == 202, rated["json"]
    # And passes that are not theirs to renew: one that expired, their voter id signed with
    # another key (forged), their pass with a later expiry written in (altered), another
    # voter's id under their signature, no pass's shape at all, an empty one, and one too long
    # for any pass (a client's store gone bad)
    expired = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(seconds=1)).issue(
        datetime.now(UTC) - timedelta(seconds=5)
    )
    forged = VoterTokens(b"a-key-the-service-never-held", timedelta(days=7)).issue(
        datetime.now(UTC)
    )
    forged_as_voter = forged.token.replace(forged.voter_id, voter)
    later = f"{version}.{voter}.{int(expires) + 86_400}.{signature}"
    other = f"{version}.{'0' * 32}.{expires}.{signature}"
    refused = [expired.token, forged.token, forged_as_voter, later, other, "v1.not-a-pass"]
    presented = [*refused, "", genuine + "x" * 4000]
    # When each is presented to POST /voters (as a client that sends its stored pass with
    # every request does)
    answers = [renew(api, token) for token in presented]
    # Then each is answered as a request for a new pass: 201, a new voter's, said not renewed
    for answer in answers:
        assert answer["statusCode"] == 201, answer["json"]
        assert answer["json"]["renewed"] is False
        assert answer["json"]["voterToken"].split(".")[1] not in {voter, expired.voter_id}
    assert len({a["json"]["voterToken"].split(".")[1] for a in answers}) == len(presented)
    # And a rating under any refused one still counts for nothing: the talk holds the one 5
    for token in refused:
        answer = api(
            "POST", "/ratings", {"talkId": talk, "value": 1}, headers={"voter-token": token}
        )
        assert answer["statusCode"] == 401, answer["json"]
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"5": "1"}


def test_a_pass_set_aside_dodges_neither_the_address_s_limit_nor_the_event_code(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given an event code and two requests for a new pass a minute per address (a wrong code
    # spends one: guesses are limited too)
    configure(VOTER_CODE="hall-a-2026", VOTERS_PER_ADDRESS_PER_MINUTE="2")
    where = address()
    expired = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(seconds=1)).issue(
        datetime.now(UTC) - timedelta(seconds=5)
    )
    # When an expired pass is presented without the code, then with it, then again with it
    no_code = renew(api, expired.token, where)
    first = renew(api, expired.token, where, {"code": "hall-a-2026"})
    second = renew(api, "garbage", where, {"code": "hall-a-2026"})
    # Then the code is asked for (403), the address's pass is handed out, and then 429
    assert no_code["statusCode"] == 403, no_code["json"]
    assert no_code["json"]["type"] == "urn:talkrate:problem:wrong-voter-code"
    assert first["statusCode"] == 201, first["json"]
    assert first["json"]["renewed"] is False
    assert second["statusCode"] == 429, second["json"]
    assert second["json"]["type"] == "urn:talkrate:problem:rate-limited"
    assert 1 <= int(second["headers"]["Retry-After"]) <= 60


def test_a_renewal_asks_no_event_code_and_spends_no_new_pass_of_the_address(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given an event code, one new pass a minute per address, and an attendee behind it with one
    configure(VOTER_CODE="hall-a-2026", VOTERS_PER_ADDRESS_PER_MINUTE="1")
    where = address()
    token = api("POST", "/voters", {"code": "hall-a-2026"}, source_ip=where)["json"]["voterToken"]
    # When they renew it twice from the same address, without the code (or with a wrong one)
    renewals = [renew(api, token, where), renew(api, token, where, {"code": "hall-b"})]
    # Then each renewal is theirs, and the address's one new pass is still the one spent
    assert [r["statusCode"] for r in renewals] == [201, 201], [r["json"] for r in renewals]
    assert [r["json"]["renewed"] for r in renewals] == [True, True]
    assert {r["json"]["voterToken"].split(".")[1] for r in renewals} == {token.split(".")[1]}
    assert api("POST", "/voters", {"code": "hall-a-2026"}, source_ip=where)["statusCode"] == 429


def test_a_voter_renewing_in_a_loop_is_limited(api: Call) -> None:
    # Given an attendee's pass
    token = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    # When their client renews it eleven times in a minute, from addresses of its own
    answers = [renew(api, token) for _ in range(11)]
    # Then ten are renewed and the eleventh waits, 429 with Retry-After
    assert [a["statusCode"] for a in answers] == [201] * 10 + [429]
    assert answers[-1]["json"]["type"] == "urn:talkrate:problem:rate-limited"
    assert 1 <= int(answers[-1]["headers"]["Retry-After"]) <= 60


def test_the_attendee_policy_needs_a_token(
    api: Call, talk: str, configure: Callable[..., None]
) -> None:
    configure(VOTING_POLICY="attendee")
    refused = api("POST", "/ratings", {"talkId": talk, "value": 5})
    assert refused["statusCode"] == 401
    assert refused["headers"]["Content-Type"] == "application/problem+json"
    assert refused["json"]["type"] == "urn:talkrate:problem:voter-token-required"
    assert "POST /voters" in refused["json"]["detail"]
    token = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    taken = api("POST", "/ratings", {"talkId": talk, "value": 5}, headers={"voter-token": token})
    assert taken["statusCode"] == 202


def test_an_event_code_guards_post_voters(api: Call, configure: Callable[..., None]) -> None:
    configure(VOTER_CODE="hall-a-2026")
    where = address()
    assert api("POST", "/voters", source_ip=where)["statusCode"] == 403
    wrong = api("POST", "/voters", {"code": "hall-b"}, source_ip=where)
    assert (wrong["statusCode"], wrong["json"]["type"]) == (
        403,
        "urn:talkrate:problem:wrong-voter-code",
    )
    assert api("POST", "/voters", {"code": "hall-a-2026"}, source_ip=where)["statusCode"] == 201
    # A code that is not Unicode text (a lone surrogate escaped in JSON) is refused as such
    lone = api("POST", "/voters", '{"code": "\\ud800"}', source_ip=where)
    assert (lone["statusCode"], lone["json"]["type"]) == (422, "urn:talkrate:problem:validation")


def test_the_event_code_is_taken_as_a_phone_types_it(
    api: Call, configure: Callable[..., None]
) -> None:
    # Given an event code said in the room
    configure(VOTER_CODE="purple-walking-tree")
    where = address()
    # When attendees send it as their phones typed it: a capital first letter, all capitals,
    # spaces around it
    typed = ["Purple-walking-tree", "PURPLE-WALKING-TREE", "  purple-walking-tree  "]
    answers = [api("POST", "/voters", {"code": code}, source_ip=where) for code in typed]
    # Then each gets a voter token
    assert [a["statusCode"] for a in answers] == [201, 201, 201]
    assert all(a["json"]["voterToken"].startswith("v1.") for a in answers)
    # And a code that differs in more than that is still refused
    wrong = api("POST", "/voters", {"code": "Purple walking tree"}, source_ip=where)
    assert (wrong["statusCode"], wrong["json"]["type"]) == (
        403,
        "urn:talkrate:problem:wrong-voter-code",
    )


def test_post_voters_has_its_own_limit_per_address(
    api: Call, configure: Callable[..., None]
) -> None:
    configure(VOTERS_PER_ADDRESS_PER_MINUTE="2")
    where = address()
    answers = [api("POST", "/voters", source_ip=where) for _ in range(3)]
    assert [a["statusCode"] for a in answers] == [201, 201, 429]
    assert int(answers[2]["headers"]["Retry-After"]) >= 1
    assert answers[2]["json"]["type"] == "urn:talkrate:problem:rate-limited"
    assert api("POST", "/voters", source_ip=address())["statusCode"] == 201  # another address


@pytest.mark.parametrize("ratings", ["redis://127.0.0.1:1/0", "redis://127.0.0.1:1?cluster=true"])
def test_with_redis_away_the_container_counts_the_limits_instead_of_letting_all_through(
    api: Call, configure: Callable[..., None], talk: str, ratings: str
) -> None:
    # Given low limits, and Redis (one node, or a cluster) that does not answer
    configure(
        RATINGS_CONNECTION=ratings,
        VOTERS_PER_ADDRESS_PER_MINUTE="2",
        RATINGS_PER_VOTER_PER_MINUTE="2",
    )
    where = address()
    # When one address asks for three passes
    passes = [api("POST", "/voters", source_ip=where) for _ in range(3)]
    # Then the third is refused as with Redis there: the container counted them
    assert [p["statusCode"] for p in passes] == [201, 201, 429]
    assert int(passes[2]["headers"]["Retry-After"]) >= 1
    assert passes[2]["json"]["type"] == "urn:talkrate:problem:rate-limited"
    # And a voter's third rating in the minute is refused too
    token = passes[0]["json"]["voterToken"]
    rated = [
        api("POST", "/ratings", {"talkId": talk, "value": v}, headers={"voter-token": token})
        for v in (3, 4, 5)
    ]
    assert [r["statusCode"] for r in rated] == [202, 202, 429]
    assert int(rated[2]["headers"]["Retry-After"]) >= 1
    # While another address and another voter are not
    other = api("POST", "/voters", source_ip=address())
    assert other["statusCode"] == 201
    theirs = {"voter-token": other["json"]["voterToken"]}
    rated_too = api("POST", "/ratings", {"talkId": talk, "value": 2}, headers=theirs)
    assert rated_too["statusCode"] == 202, rated_too["json"]


def test_a_voter_token_key_too_short_is_503_naming_the_setting_never_a_500(
    api: Call, talk: str, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a pass from a deployment's key, then the key set to one too short to sign with
    token = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    configure(VOTER_TOKEN_KEY="too-short-key")
    caplog.clear()
    # When an attendee asks for a pass, and another rates with theirs
    asked = api("POST", "/voters", source_ip=address())
    rated = api("POST", "/ratings", {"talkId": talk, "value": 3}, headers={"voter-token": token})
    # Then both are told voter tokens are unavailable for now (503, Retry-After), not a 500
    for answer in (asked, rated):
        assert answer["statusCode"] == 503, answer["json"]
        assert answer["json"]["type"] == "urn:talkrate:problem:voter-tokens-unavailable"
        assert answer["headers"]["Retry-After"] == "60"
    # And the log says which setting and why, without the key
    logged = [(record.levelname, record.getMessage(), record.exc_info) for record in caplog.records]
    assert (
        logged
        == [
            (
                "ERROR",
                "voter tokens unavailable: the voter-token key (VOTER_TOKEN_KEY) has 13 bytes: "
                "it needs at least 16",
                None,
            )
        ]
        * 2
    )


def test_an_event_code_too_short_once_compared_is_503_naming_the_setting_never_the_code(
    api: Call, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    # Given an event code of 8 characters, six of them spaces (compared as "qz")
    configure(VOTER_CODE="      qz")
    caplog.clear()
    # When attendees ask for a pass with no code, a blank one, or "qz"
    answers = [
        api("POST", "/voters", body, source_ip=address())
        for body in (None, {"code": " "}, {"code": "qz"}, {"code": "QZ"})
    ]
    # Then none gets one: voter tokens are unavailable for now (two letters were taken as the
    # code, 201)
    assert [a["statusCode"] for a in answers] == [503] * 4, [a["json"] for a in answers]
    assert {a["json"]["type"] for a in answers} == {"urn:talkrate:problem:voter-tokens-unavailable"}
    # And the log says which setting and why, without the code
    logged = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert (
        logged
        == [
            (
                "ERROR",
                "voter tokens unavailable: the event code (VOTER_CODE) has fewer than 8 characters "
                "once compared (without case and the spaces around it): every code is refused until "
                "it has more",
            )
        ]
        * 4
    )
    assert "qz" not in caplog.text.lower()


def test_a_request_over_an_address_limit_logs_the_viewer_s_address_a_voter_s_only_its_scope(
    api: Call, talk: str, configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    # Given one pass and one rating a minute per address, behind CloudFront, and one rating a
    # minute per voter
    edge = one_a_minute_behind_the_cdn(configure)
    configure(
        VOTERS_PER_ADDRESS_PER_MINUTE="1",
        RATINGS_PER_ADDRESS_PER_MINUTE="5",
        RATINGS_PER_VOTER_PER_MINUTE="1",
        EDGE_SECRET="edge-secret-of-the-test",
    )
    cdn, viewer = address(), "198.51.100.23"

    def through_cdn(path: str, body: Any = None, **headers: str) -> int:
        return int(through_the_cdn(api, edge, cdn, viewer, path, body, **headers)["statusCode"])

    token = through_the_cdn(api, edge, cdn, viewer, "/voters")["json"]["voterToken"]
    caplog.clear()
    # When the viewer asks for a second pass, then rates twice with the first
    assert through_cdn("/voters") == 429
    first = through_cdn("/ratings", {"talkId": talk, "value": 2}, **{"voter-token": token})
    second = through_cdn("/ratings", {"talkId": talk, "value": 3}, **{"voter-token": token})
    assert (first, second) == (202, 429)
    # Then each 429 has its warning line: the pass's names the viewer's address (not
    # CloudFront's), the voter's names only its scope (no voter id, no token)
    lines = [r for r in caplog.records if r.getMessage() == "rate limited"]
    said = [(r.levelname, getattr(r, "scope", None), getattr(r, "subject", None)) for r in lines]
    assert said == [("WARNING", "voters-address", viewer), ("WARNING", "voter", None)]
    assert all(1 <= getattr(r, "retryAfter", 0) <= 60 for r in lines)
    assert not any(token.split(".")[1] in str(vars(r)) for r in lines)


def through_the_cdn(
    api: Call,
    edge: dict[str, str],
    cdn: str,
    viewer: str,
    path: str,
    body: Any = None,
    **headers: str,
) -> dict[str, Any]:
    """A viewer's POST as CloudFront forwards it: from the edge's address `cdn`, with the edge
    header and the viewer's address CloudFront's function set (template: ApiViewerAddress)."""
    return api(
        "POST", path, body, source_ip=cdn, headers={**edge, "x-talkrate-viewer": viewer, **headers}
    )


def one_a_minute_behind_the_cdn(configure: Callable[..., None]) -> dict[str, str]:
    """One voter token and one rating a minute per address, behind CloudFront; the edge header
    CloudFront adds (with the stack's edge secret)."""
    configure(
        VOTERS_PER_ADDRESS_PER_MINUTE="1",
        RATINGS_PER_ADDRESS_PER_MINUTE="1",
        EDGE_SECRET="edge-secret-of-the-test",
    )
    return {"x-talkrate-edge": "edge-secret-of-the-test"}


def test_behind_the_cdn_each_viewer_has_its_own_address_limit(
    api: Call, configure: Callable[..., None], talk: str
) -> None:
    # Given the API behind CloudFront: every request from one of its addresses, with the edge
    # header and the viewer's address CloudFront's function set (template: ApiViewerAddress)
    edge = one_a_minute_behind_the_cdn(configure)
    cdn = address()

    def through_cdn(viewer: str, path: str, body: Any = None, **headers: str) -> int:
        return int(through_the_cdn(api, edge, cdn, viewer, path, body, **headers)["statusCode"])

    # When two viewers get a pass and rate, and the first tries once more
    first, second = "198.51.100.7", address()
    assert through_cdn(first, "/voters") == 201
    assert through_cdn(second, "/voters") == 201  # an IPv6 viewer
    assert through_cdn(first, "/ratings", {"talkId": talk, "value": 4}) == 202
    assert through_cdn(second, "/ratings", {"talkId": talk, "value": 5}) == 202
    # Then each viewer had a limit of their own, and it holds for each
    assert through_cdn(first, "/voters") == 429
    assert through_cdn(first, "/ratings", {"talkId": talk, "value": 3}) == 429
    # And a caller naming a viewer without the edge header's value is judged by its own address
    forger = address()
    assert api("POST", "/voters", source_ip=forger)["statusCode"] == 201
    for viewer in ("203.0.113.1", "203.0.113.2"):
        forged = api(
            "POST",
            "/voters",
            source_ip=forger,
            headers={"x-talkrate-edge": "a-guess", "x-talkrate-viewer": viewer},
        )
        assert forged["statusCode"] == 429


def test_an_ipv6_client_counts_as_its_whole_48_and_a_mapped_ipv4_as_the_ipv4(
    api: Call, configure: Callable[..., None], talk: str
) -> None:
    # Given one token and one rating a minute per address, directly and behind the CDN
    edge = one_a_minute_behind_the_cdn(configure)
    home = site()
    # When a client picks another address of its /64 for each request (any phone or home
    # router can: the /64 is its own), or of another /64 of its /48 (a site's, or a tunnel
    # broker's free one: 65,536 /64s), directly and as a CDN viewer
    assert api("POST", "/voters", source_ip=f"{home}0::1")["statusCode"] == 201
    assert api("POST", "/voters", source_ip=f"{home}0::2")["statusCode"] == 429
    assert api("POST", "/voters", source_ip=f"{home}ffff::1")["statusCode"] == 429
    viewer = site()
    cdn = {"source_ip": address()}
    headers = {**edge, "x-talkrate-viewer": f"{viewer}0:a:b:c:d"}
    assert api("POST", "/voters", headers=headers, **cdn)["statusCode"] == 201
    headers = {**edge, "x-talkrate-viewer": f"{viewer}1:e:f:1:2"}
    assert api("POST", "/voters", headers=headers, **cdn)["statusCode"] == 429
    rated = [
        api("POST", "/ratings", {"talkId": talk, "value": 3}, source_ip=f"{home}{n}::1")
        for n in (3, 4)
    ]
    assert [r["statusCode"] for r in rated] == [202, 429]
    # While another /48 (another site) is an address of its own
    assert api("POST", "/voters", source_ip=address())["statusCode"] == 201
    # And an IPv4 viewer written as an IPv4-mapped IPv6 address is that IPv4 address
    word = uuid.uuid4().bytes
    ipv4 = f"198.18.{word[0]}.{word[1]}"
    for written, status in ((ipv4, 201), (f"::ffff:{ipv4}", 429)):
        headers = {**edge, "x-talkrate-viewer": written}
        assert api("POST", "/voters", headers=headers, **cdn)["statusCode"] == status


def test_a_voter_over_the_limit_gets_429_with_retry_after_and_nothing_published(
    api: Call, talk: str, configure: Callable[..., None], topic: str, kafka_bootstrap: str
) -> None:
    configure(RATINGS_PER_VOTER_PER_MINUTE="2")
    token = api("POST", "/voters", source_ip=address())["json"]["voterToken"]
    answers = [
        api("POST", "/ratings", {"talkId": talk, "value": v}, headers={"voter-token": token})
        for v in (1, 2, 3, 4)
    ]
    assert [a["statusCode"] for a in answers] == [202, 202, 429, 429]
    assert 1 <= int(answers[3]["headers"]["Retry-After"]) <= 60
    published = consume_to_end(kafka_bootstrap, topic)
    assert sorted(json.loads(r.value)["value"] for r in published) == [1, 2]


def test_a_retry_under_a_pass_that_expired_since_gets_the_first_answer_and_nothing_else(
    api: Call, talk: str, topic: str, kafka_bootstrap: str
) -> None:
    # Given a pass valid for two seconds more, and a rating sent with it under a key
    tokens = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(seconds=2))
    token = tokens.issue(datetime.now(UTC)).token
    body = {"talkId": talk, "value": 4}
    headers = {"voter-token": token, "idempotency-key": f"retry-{uuid.uuid4().hex}"}
    first = api("POST", "/ratings", body, headers=headers)
    assert first["statusCode"] == 202, first["json"]
    # When the pass has expired
    time.sleep(2.1)
    # Then a retry of that rating (its answer lost) gets the first answer: the same event
    retried = api("POST", "/ratings", body, headers=headers)
    assert retried["statusCode"] == 202, retried["json"]
    assert retried["json"] == first["json"]
    assert retried["headers"]["Location"] == first["headers"]["Location"]
    # But a new rating, another value under the key, or no key at all is refused as before
    for changed_body, changed_headers in (
        ({**body, "value": 5}, headers),
        (body, {**headers, "idempotency-key": f"new-{uuid.uuid4().hex}"}),
        (body, {"voter-token": token}),
    ):
        refused = api("POST", "/ratings", changed_body, headers=changed_headers)
        assert refused["statusCode"] == 401, refused["json"]
        assert refused["json"]["type"] == "urn:talkrate:problem:invalid-voter-token"
    # And the stream holds the first rating only
    assert [json.loads(r.value)["value"] for r in consume_to_end(kafka_bootstrap, topic)] == [4]


def test_idempotency_keys_belong_to_their_client(api: Call, talk: str) -> None:
    key = f"retry-{uuid.uuid4().hex}"
    first, second = (
        api("POST", "/voters", source_ip=address())["json"]["voterToken"] for _ in range(2)
    )
    body = {"talkId": talk, "value": 4}

    def post(token: str) -> dict[str, Any]:
        headers = {"voter-token": token, "idempotency-key": key}
        return api("POST", "/ratings", body, headers=headers)

    once, again, other = post(first), post(first), post(second)
    assert once["statusCode"] == again["statusCode"] == other["statusCode"] == 202
    assert again["json"]["eventId"] == once["json"]["eventId"]  # a retry: the first answer
    assert other["json"]["eventId"] != once["json"]["eventId"]  # another attendee's rating


# --- Redis down -----------------------------------------------------------------------------------


def test_with_redis_down_nothing_answers_5xx_but_503_with_retry_after(
    api: Call, talk: str, configure: Callable[..., None]
) -> None:
    configure(RATINGS_CONNECTION="redis://127.0.0.1:1/0", PUBLISH_TIMEOUT_SECONDS="1")
    # A rating status that only Redis could tell: 503, retry later
    status = api("GET", f"/ratings/{uuid.uuid4()}")
    assert status["statusCode"] == 503
    assert int(status["headers"]["Retry-After"]) >= 1
    # A rating still counts: the limits are let through, PostgreSQL and Kafka take it
    assert api("POST", "/ratings", {"talkId": talk, "value": 3})["statusCode"] == 202
    # A talk's removal: refused before anything changed, to be retried
    removed = api("DELETE", f"/talks/{talk}", authorizer={"admin": True, "reason": "ok"})
    assert removed["statusCode"] == 503
    assert int(removed["headers"]["Retry-After"]) >= 1
    assert api("GET", f"/talks/{talk}")["statusCode"] == 200
    # Idempotency cannot be kept: 503, nothing taken
    keyed = api(
        "POST", "/ratings", {"talkId": talk, "value": 3}, headers={"idempotency-key": "k-1"}
    )
    assert keyed["statusCode"] == 503
    # ... except for a voter, whose retry cannot count twice: taken without the key
    issued = api("POST", "/voters", source_ip=address())
    assert issued["statusCode"] == 201
    voter_keyed = api(
        "POST",
        "/ratings",
        {"talkId": talk, "value": 3},
        headers={"idempotency-key": "k-2", "voter-token": issued["json"]["voterToken"]},
    )
    assert voter_keyed["statusCode"] == 202, voter_keyed["json"]


def test_with_redis_down_a_voter_s_older_keyed_rating_retried_does_not_stand_again(
    api: Call,
    configure: Callable[..., None],
    talk: str,
    topic: str,
    kafka_bootstrap: str,
    redis_client: redis.Redis,
) -> None:
    # Given Redis down, and a voter who rated 4 under one key, then 5 under another
    configure(RATINGS_CONNECTION="redis://127.0.0.1:1/0", PUBLISH_TIMEOUT_SECONDS="1")
    token = VoterTokens(TEST_VOTER_TOKEN_KEY.encode(), timedelta(hours=1))
    headers = {"voter-token": token.issue(datetime.now(UTC)).token}
    four = api(
        "POST",
        "/ratings",
        {"talkId": talk, "value": 4},
        headers={**headers, "idempotency-key": "k1"},
    )
    five = api(
        "POST",
        "/ratings",
        {"talkId": talk, "value": 5},
        headers={**headers, "idempotency-key": "k2"},
    )
    assert four["statusCode"] == five["statusCode"] == 202, (four["json"], five["json"])
    # When the 4's answer, lost, makes its client send it again
    again = api(
        "POST",
        "/ratings",
        {"talkId": talk, "value": 4},
        headers={**headers, "idempotency-key": "k1"},
    )
    # Then it is the first 4 again, not a newer rating: once projected, the voter's 5 stands
    assert again["statusCode"] == 202, again["json"]
    assert again["json"]["eventId"] == four["json"]["eventId"]
    configure()
    project_all(topic, kafka_bootstrap)
    assert counts(redis_client, talk) == {"5": "1"}


def test_a_rating_neither_the_stream_nor_the_outbox_took_uses_up_no_limit(
    configure: Callable[..., None], talk: str, read_model_url: str
) -> None:
    # Given a limit of one rating a minute per voter and per address, a broker that is not there,
    # and an outbox whose database is not there (the catalog still answers)
    from talkrate import wiring
    from talkrate.adapters.postgres import PostgresDatabase, PostgresOutbox
    from talkrate.errors import RatingNotStored
    from talkrate.rating import Rater, submit_rating
    from talkrate.requests import RatingBody

    configure(
        STREAMS_CONNECTION="127.0.0.1:1",
        PUBLISH_TIMEOUT_SECONDS="1",
        RATINGS_CONNECTION=read_model_url,
        RATINGS_PER_VOTER_PER_MINUTE="1",
        RATINGS_PER_ADDRESS_PER_MINUTE="1",
    )
    unreachable = PostgresOutbox(PostgresDatabase("postgresql://postgres@127.0.0.1:1/talkrate"))
    rater = Rater(f"voter-{uuid.uuid4().hex}", address())

    def rate() -> str:
        try:
            submit_rating(
                RatingBody(talk, 4),
                rater,
                wiring.rating_rules(),
                wiring.talk_catalog(),
                wiring.rating_publisher(),
                unreachable,
                wiring.request_limiter(),
                datetime.now(UTC),
            )
        except RatingNotStored:
            return "not stored"
        return "taken"

    # When the attendee's rating is refused for the outage, and they send it again
    answers = [rate(), rate()]
    # Then the second try is refused for the outage too, not for a limit the first did not use
    assert answers == ["not stored", "not stored"]
    limits = wiring.rating_rules().limits(rater)
    client = connect(read_model_url, decode_responses=True)
    assert [client.get(limit_key(limit)) for limit in limits] == ["0", "0"]
