"""The API's query strings read and written as urllib.parse reads and writes them."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from talkrate.api.query_strings import decoded, encoded, repeated_names

pytestmark = pytest.mark.unit

# Text with the characters a query string treats specially, escapes (valid, cut, not UTF-8) among
# them, and any other character.
_PIECES = st.sampled_from(
    [
        "%",
        "%2",
        "%41",
        "%C3%A9",
        "%C3",
        "%e2%82%ac",
        "%E2%82",
        "%FF",
        "%zz",
        "+",
        "=",
        "&",
        ";",
        "a",
    ]
)
query_text = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(query_text)
def test_names_repeated_in_a_raw_query_are_the_ones_parse_qs_finds_twice(raw: str) -> None:
    # Given any raw query string; When its repeated names are read; Then they are parse_qs's
    expected = {k for k, v in parse_qs(raw, keep_blank_values=True).items() if len(v) > 1}
    assert repeated_names(raw) == expected


@settings(max_examples=500, deadline=None)
@given(query_text)
def test_a_name_or_value_is_decoded_as_unquote_plus_decodes_it(text: str) -> None:
    assert decoded(text) == unquote_plus(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=12), st.integers())))
def test_links_are_encoded_as_urlencode_encodes_them(params: dict[str, object]) -> None:
    # Surrogates cannot be written as UTF-8 by either; the API's query values never hold them.
    params = {k: v for k, v in params.items() if not _has_surrogate(k) and not _has_surrogate(v)}
    assert encoded(params) == urlencode(params)


def test_a_page_link_keeps_a_search_with_spaces_and_accents_readable_by_the_api() -> None:
    link = encoded({"q": "données & co", "limit": 20, "offset": 40})
    assert link == "q=donn%C3%A9es+%26+co&limit=20&offset=40"
    assert {k: v[0] for k, v in parse_qs(link).items()} == {
        "q": "données & co",
        "limit": "20",
        "offset": "40",
    }


def test_a_repeated_name_counts_however_it_is_escaped() -> None:
    assert repeated_names("track=a&tr%61ck=b&other=1&&") == {"track"}
    assert repeated_names("") == set()


def _has_surrogate(value: object) -> bool:
    return isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value)
