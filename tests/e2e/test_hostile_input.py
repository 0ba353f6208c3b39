"""Hostile input through the local runtime: generated bodies, headers and query strings, sent
raw over HTTP to every route; not one answer may be a 5xx, and every error is problem+json.

Hypothesis builds the requests: JSON of any shape (deep nesting, numbers of thousands of digits,
lone surrogates, strings where numbers go), bytes that are not UTF-8, media types and encodings
the API does not take, oversized and empty bodies, forged voter tokens and admin tokens,
Idempotency-Keys, and query strings of any characters.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backends import VOTES_RATINGS, VOTES_TALKS
from tests.e2e.conftest import Runtime, start_admin_runtime, stop_runtime

pytestmark = pytest.mark.e2e

EXAMPLES = 1200
SENT: list[int] = []  # statuses, one per request sent

TALK_IDS = ["testcontainers-integration-testing", "flight-of-the-gopher", "no-such-talk", "-x"]
PATHS = [
    "/",
    "/ratings",
    "/ratings/{id}",
    "/voters",
    "/talks",
    "/talks/{id}",
    "/leaderboard",
    "/{id}",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(TALK_IDS),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["talkId", "value", "voterId", "code", "title", "startsAt", "endsAt"])
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=12,
)
ratings = st.fixed_dictionaries(
    {"talkId": st.sampled_from(TALK_IDS) | st.text(max_size=30), "value": scalars},
    optional={"voterId": scalars, "extra": json_values},
)


def _json_text(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    st.none(),
    ratings.map(_json_text),
    json_values.map(_json_text),
    st.binary(max_size=300),
    st.integers(1, 20_000).map(lambda depth: b"[" * depth),
    st.integers(1, 9_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.integers(4_000, 6_000).map(
        lambda n: b'{"talkId": "flight-of-the-gopher", "value": ' + b"9" * n + b"}"
    ),
    st.sampled_from([b"\xff\xfe{}", b'{"talkId": "\\ud800", "value": 5}', b"\x00", b"{}" * 9_000]),
    st.integers(16_000, 40_000).map(lambda n: b" " * n + b"{}"),
)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "Content-Type": st.sampled_from(
            [
                "application/json",
                "application/json; charset=latin-1",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/problem+json",
                "text/xml",
                "",
            ]
        )
        | header_text,
        "Content-Encoding": st.sampled_from(["gzip", "br", "identity"]) | header_text,
        "Voter-Token": header_text | st.just("v1." + "0" * 32 + ".9999999999." + "A" * 43),
        "Idempotency-Key": header_text,
        "Authorization": header_text.map(lambda t: "Bearer " + t),
        "Accept": header_text,
    },
)
query_strings = st.one_of(
    st.just(""),
    st.dictionaries(
        st.sampled_from(["talkId", "limit", "offset", "q", "track"]) | st.text(max_size=8),
        st.text(max_size=40) | st.integers().map(str) | st.sampled_from(TALK_IDS),
        max_size=4,
    ).map(lambda d: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in d.items())),
    st.text(max_size=60).map(lambda t: quote(t, safe="=&%")),
)
path_ids = st.one_of(
    st.sampled_from([*TALK_IDS, "00000000-0000-4000-8000-000000000000"]),
    st.text(max_size=60).map(lambda t: quote(t, safe="")),
)


@pytest.fixture(scope="module")
def target(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime, _ = start_admin_runtime(
        VOTES_TALKS, VOTES_RATINGS, kafka_bootstrap, tmp_path_factory.mktemp("hostile") / "log"
    )
    yield runtime
    stop_runtime(runtime)


def send(
    runtime: Runtime, method: str, path: str, body: bytes | None, header_map: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    where = urlsplit(runtime.url)
    connection = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in header_map.items():
            connection.putheader(name, value.encode("latin-1"))
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


def test_no_generated_request_gets_a_5xx(target: Runtime) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        method=st.sampled_from(METHODS),
        path=st.sampled_from(PATHS),
        path_id=path_ids,
        query=query_strings,
        body=bodies,
        header_map=headers,
    )
    def hostile(
        method: str,
        path: str,
        path_id: str,
        query: str,
        body: bytes | None,
        header_map: dict[str, str],
    ) -> None:
        target_path = path.replace("{id}", path_id) or "/"
        if query:
            target_path += "?" + query
        status, answer_headers, answer = send(target, method, target_path, body, header_map)
        SENT.append(status)
        assert status < 500, (method, target_path, body and body[:200], header_map, answer[:300])
        if status >= 400 and method != "HEAD":
            document = json.loads(answer)
            if answer_headers.get("content-type") == "application/json":
                # API Gateway's own answer (no route matched): {"message": "Not Found"}
                assert set(document) == {"message"}, answer[:300]
            else:
                assert answer_headers.get("content-type") == "application/problem+json"
                assert document["status"] == status

    hostile()
    # At least a thousand requests went out, and none was answered with a 5xx
    print(f"hostile requests: {len(SENT)}, statuses: {sorted(set(SENT))}")
    assert len(SENT) >= 1000
    assert max(SENT) < 500
