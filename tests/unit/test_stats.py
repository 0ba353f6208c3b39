"""Statistics of a histogram, and StatsFunction's two ways in."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from talkrate.errors import InvalidHistogram
from talkrate.stats import compute_stats, parse_histogram, rounded
from tests.builders import load_function, sample_event

pytestmark = pytest.mark.unit


def test_the_workshop_fields_and_the_richer_ones() -> None:
    stats = compute_stats(parse_histogram({"ratings": {"1": 1, "2": 0, "3": 1, "4": 2, "5": 1}}))
    # ratings: 1, 3, 4, 4, 5
    assert stats["totalCount"] == 5
    assert stats["avg"] == pytest.approx(3.4)
    assert stats["median"] == 4.0
    assert stats["mode"] == 4
    assert stats["stdDev"] == pytest.approx(1.3565, abs=1e-4)
    assert stats["counts"] == {"1": 1, "2": 0, "3": 1, "4": 2, "5": 1}


@pytest.mark.parametrize(
    ("ratings", "modes"),
    [
        ({"4": 3, "5": 3, "3": 1}, [4, 5]),
        ({"1": 4, "5": 4}, [1, 5]),
        ({"3": 2, "4": 2, "5": 2, "1": 1}, [3, 4, 5]),
        ({str(v): 7 for v in range(1, 6)}, [1, 2, 3, 4, 5]),
        ({"2": 1, "4": 2}, [4]),
    ],
)
def test_every_most_frequent_value_is_named_the_lowest_staying_the_mode(
    ratings: dict[str, int], modes: list[int]
) -> None:
    # Given a talk rated some values equally often (a room split between 1s and 5s)
    # When its statistics are computed
    stats = compute_stats(parse_histogram({"ratings": ratings}))
    # Then `modes` names every one of them (the lowest alone read as a talk mostly rated so),
    # and `mode` stays the field it was documented as: the lowest of them
    assert stats["modes"] == modes
    assert stats["mode"] == modes[0]


def test_an_even_count_takes_the_middle_of_the_two_central_ratings() -> None:
    stats = compute_stats(parse_histogram({"ratings": {"2": 1, "5": 1}}))
    assert stats["median"] == 3.5
    assert stats["avg"] == 3.5


def test_missing_values_count_zero_and_an_empty_histogram_is_valid() -> None:
    assert compute_stats(parse_histogram({"ratings": {"5": 3}}))["avg"] == 5.0
    empty = compute_stats(parse_histogram({"ratings": {}}))
    assert empty["totalCount"] == 0
    assert empty["avg"] is None
    assert empty["median"] is None
    assert empty["mode"] is None
    assert empty["modes"] is None


def test_large_counts_do_not_expand_into_memory() -> None:
    stats = compute_stats(parse_histogram({"ratings": {"1": 10**11, "5": 10**11 + 1}}))
    assert stats["median"] == 5.0
    assert stats["totalCount"] == 2 * 10**11 + 1


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "x",
        {},
        {"ratings": []},
        {"ratings": {"6": 1}},
        {"ratings": {"0": 1}},
        {"ratings": {"1": -1}},
        {"ratings": {"1": 1.5}},
        {"ratings": {"1": "2"}},
        {"ratings": {"1": True}},
        {"ratings": {"1": 10**13}},
    ],
)
def test_anything_but_a_histogram_is_a_clear_error(payload: Any) -> None:
    with pytest.raises(InvalidHistogram):
        parse_histogram(payload)


def test_stats_function_invoked_directly_returns_the_stats() -> None:
    handler = load_function("stats")
    result = handler(sample_event("stats/direct.json"), None)
    # (events/stats/direct.json: one 2, two 3s, five 4s, twelve 5s: 20 ratings summing to 88; the
    # 10th and 11th are 5s; the squared distances from 4.4 sum to 14.8, over 20: 0.74)
    assert {k: result[k] for k in ("avg", "totalCount", "median", "mode")} == {
        "avg": 4.4,
        "totalCount": 20,
        "median": 5.0,
        "mode": 5,
    }
    assert result["stdDev"] == round(0.74**0.5, 4)


def test_stats_function_url_answers_http() -> None:
    handler = load_function("stats")
    event = sample_event("stats/function-url.json")
    event["body"] = json.dumps({"ratings": {"4": 2}})
    response = handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["avg"] == 4.0


@pytest.mark.parametrize("body", ["not json", '{"ratings": {"9": 1}}', "", '{"ratings": 5}'])
def test_stats_function_url_answers_400_problem_for_bad_bodies(body: str) -> None:
    handler = load_function("stats")
    event = sample_event("stats/function-url.json")
    event["body"] = body
    response = handler(event, None)
    assert response["statusCode"] == 400
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(response["body"])["status"] == 400


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_a_method_other_than_post_is_told_what_the_function_url_takes(method: str) -> None:
    # Given a request to the stats function URL that is not a POST (someone who took it for the
    # API's address: `talkrate --api` of it reads GET /talks)
    handler = load_function("stats")
    event = sample_event("stats/function-url.json")
    event["requestContext"]["http"]["method"] = method
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/talks"
    event["body"] = ""
    # When it is answered
    response = handler(event, None)
    # Then it is a 405 naming the stats function and what it takes (it was "Invalid histogram",
    # which says nothing to someone who meant the API)
    assert response["statusCode"] == 405
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert headers["allow"] == "POST"
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["status"] == 405
    assert problem["detail"].startswith("this is the stats function: it takes a POST")


def test_a_count_of_thousands_of_digits_is_refused_as_a_count_not_as_broken_json() -> None:
    # Given a body whose count has 5,000 digits (valid JSON; Python refuses to convert it)
    handler = load_function("stats")
    event = sample_event("stats/function-url.json")
    event["body"] = '{"ratings": {"4": ' + "9" * 5000 + "}}"
    # When it is sent to the function URL
    response = handler(event, None)
    # Then the answer is a 400 that names the count, not a claim that the JSON is broken
    assert response["statusCode"] == 400
    detail = json.loads(response["body"])["detail"]
    assert "count for '4' must be a whole number from 0 to" in detail


@pytest.mark.parametrize("encoded", [False, True])
def test_the_function_url_s_body_limit_counts_bytes_not_characters(encoded: bool) -> None:
    # Given bodies just under and just over 16 KB, made of two-byte characters (half as many
    # characters as bytes), as text and as base64
    handler = load_function("stats")

    def answer(size: int) -> dict[str, Any]:
        event = sample_event("stats/function-url.json")
        padding = "é" * ((size - len('{"ratings": {"4": 2}, "note": ""}')) // 2)
        body = json.dumps({"ratings": {"4": 2}, "note": padding}, ensure_ascii=False)
        event["body"] = base64.b64encode(body.encode()).decode() if encoded else body
        event["isBase64Encoded"] = encoded
        return dict(handler(event, None))

    # Then the one within 16,384 bytes is answered, and the one past them is a 400 saying so
    assert answer(16_384)["statusCode"] == 200
    over = answer(16_400)
    assert over["statusCode"] == 400
    assert json.loads(over["body"])["detail"] == "the body must be at most 16384 bytes"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"ratings": {"1": 5, "1": 0}}', "'1'"),
        ('{"ratings": {"4": 1}, "ratings": {}}', "'ratings'"),
    ],
)
def test_a_key_given_twice_is_refused_not_guessed(body: str, key: str) -> None:
    # Given a body that names a key twice (one parser reads the first, another the last)
    handler = load_function("stats")
    event = sample_event("stats/function-url.json")
    event["body"] = body
    # When it is sent to the function URL
    response = handler(event, None)
    # Then it is refused, naming the key, as POST /ratings refuses one (the last was taken)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["detail"] == f"the key {key} is given more than once"


def test_a_direct_invoke_with_a_request_context_of_another_shape_is_read_as_a_histogram() -> None:
    # Given a direct invoke whose payload happens to carry a "requestContext" that is no
    # function URL's (a string that contains "http")
    handler = load_function("stats")
    # Then it is answered as a direct invoke (it raised TypeError: a string indexed by a key)
    stats = handler({"ratings": {"4": 2}, "requestContext": "via http"}, None)
    assert stats["avg"] == 4.0


def test_figures_are_the_exact_quotient_to_four_places_a_tie_rounded_up() -> None:
    # Given histograms whose mean round() of the float put on the other side of a tie, or whose
    # place four places leave a half away from the two the pages write
    # When their statistics are computed
    halves = compute_stats({3: 21, 4: 1, 5: 10})  # 117/32 = 3.65625
    near = compute_stats({4: 103, 5: 6})  # 442/109 = 4.0550459…
    # Then each is the exact quotient to four places, a tie rounded up (round() gave 3.6562),
    # as the results export writes figures
    assert halves["avg"] == 3.6563
    assert near["avg"] == 4.055
    assert rounded(97, 32) == 3.0313
    assert rounded(442, 109, 2) == 4.06
