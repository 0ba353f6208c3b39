"""Voter tokens: issued anonymously, verified with the key alone; tampered, expired and foreign
tokens refused; the voter comes only from a verified token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from talkrate.config import settings_from
from talkrate.errors import InvalidVoterToken, VoterTokenRequired, VoterTokensUnavailable
from talkrate.voters import EventCode, VoterTokens, identify_voter

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
TOKENS = VoterTokens(KEY, timedelta(hours=24))


def test_an_issued_token_verifies_to_its_voter_until_it_expires() -> None:
    # Given a token issued now
    issued = TOKENS.issue(NOW)
    # Then it names the same voter a day long, and a fresh voter each time
    assert TOKENS.verify(issued.token, NOW + timedelta(hours=23)) == issued.voter_id
    assert issued.expires_at == NOW + timedelta(hours=24)
    assert TOKENS.issue(NOW).voter_id != issued.voter_id


def test_an_expired_token_is_refused() -> None:
    issued = TOKENS.issue(NOW)
    with pytest.raises(InvalidVoterToken, match="expired"):
        TOKENS.verify(issued.token, NOW + timedelta(hours=24))


def tampered(token: str) -> list[str]:
    version, voter, expires, signature = token.split(".")
    other_voter = ("0" if voter[0] != "0" else "1") + voter[1:]
    later = str(int(expires) + 3600 * 24 * 365)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{version}.{other_voter}.{expires}.{signature}",  # someone else's voter id
        f"{version}.{voter}.{later}.{signature}",  # a longer life
        f"{version}.{voter}.{expires}.{flipped}",  # a made-up signature
        f"v2.{voter}.{expires}.{signature}",
        f"{version}.{voter}.{expires}",
        token + "x",
        "",
        "v1." + "a" * 300,
    ]


def test_a_tampered_token_is_refused() -> None:
    issued = TOKENS.issue(NOW)
    for forged in tampered(issued.token):
        with pytest.raises(InvalidVoterToken):
            TOKENS.verify(forged, NOW)


def test_a_token_with_a_line_end_after_it_is_not_a_token() -> None:
    # (the pattern's $ took a last newline: the routes read their ids whole, and so do tokens)
    issued = TOKENS.issue(NOW)
    with pytest.raises(InvalidVoterToken):
        TOKENS.verify(issued.token + "\n", NOW)


def test_a_token_signed_with_another_key_is_refused() -> None:
    foreign = VoterTokens(b"x" * 32, timedelta(hours=24)).issue(NOW)
    with pytest.raises(InvalidVoterToken, match="signature"):
        TOKENS.verify(foreign.token, NOW)


def test_a_short_key_is_refused_at_start() -> None:
    # Refused as unavailable tokens (the API's 503), naming the setting and the key's length
    with pytest.raises(VoterTokensUnavailable, match="VOTER_TOKEN_KEY") as refused:
        VoterTokens(b"short", timedelta(hours=1))
    assert str(refused.value).endswith("has 5 bytes: it needs at least 16")
    assert "short" not in str(refused.value)  # never the key itself


def test_the_voter_comes_only_from_a_verified_token() -> None:
    issued = TOKENS.issue(NOW)

    def tokens() -> VoterTokens:
        return TOKENS

    assert identify_voter(issued.token, "attendee", tokens, NOW) == issued.voter_id
    assert identify_voter(None, "open", tokens, NOW) is None
    with pytest.raises(VoterTokenRequired):
        identify_voter(None, "attendee", tokens, NOW)
    # A bad token is refused even where no token is needed: it is never read as none.
    with pytest.raises(InvalidVoterToken):
        identify_voter(tampered(issued.token)[0], "open", tokens, NOW)


def test_the_event_code_is_checked_only_when_set() -> None:
    unset = EventCode(settings_from({}))
    assert unset.admits(None)
    assert unset.admits("anything")
    code = EventCode(settings_from({"VOTER_CODE": "room-42-hall"}))
    assert code.admits("room-42-hall")
    for wrong in (None, "room-43-hall", "", " "):
        assert not code.admits(wrong)


@pytest.mark.parametrize(
    "configured",
    [
        " " * 8,  # the template's pattern took it, and then any blank matched it
        "      ab",  # compared as "ab"
        "AB\n      ",
        "\u3000" * 8,  # ideographic spaces: spaces once folded
        "room-42",  # seven characters
        "Ab" * 3 + "\u00a0\u2003",  # six, and a no-break space and an em space
    ],
)
def test_a_configured_event_code_under_8_characters_once_compared_refuses_every_code(
    configured: str,
) -> None:
    # Given an event code that is shorter than 8 characters as it is compared (without case and
    # the spaces around it): a blank one, or one padded with spaces
    code = EventCode(settings_from({"VOTER_CODE": configured}))
    # When attendees ask for a pass with no code, a blank one, or the code itself
    for presented in (None, "", " ", "\t\n", "ab", configured, configured.strip()):
        # Then every one is refused as the service's fault (503), naming the setting, never the
        # code: it is not "no code", nor one that a blank matches (they were admitted)
        with pytest.raises(VoterTokensUnavailable) as refused:
            code.admits(presented)
        assert str(refused.value) == (
            "the event code (VOTER_CODE) has fewer than 8 characters once compared (without "
            "case and the spaces around it): every code is refused until it has more"
        ), presented


def full_width(text: str) -> str:
    """ASCII text in Unicode's full-width forms (U+FF01 to U+FF5E)."""
    return "".join(chr(ord(character) + 0xFEE0) for character in text)


@pytest.mark.parametrize(
    "typed",
    [
        "Purple-walking-tree",  # a phone's keyboard capitalises the first letter
        "PURPLE-WALKING-TREE",
        "  purple-walking-tree  ",  # spaces around it, as pasted or autocompleted
        "purple-walking-tree\n",
        "\u00a0Purple-Walking-Tree\u2003",  # a no-break space, an em space
        full_width("purple-walking-tree"),  # as a Japanese keyboard may type it
    ],
)
def test_the_event_code_is_taken_whatever_its_case_and_the_spaces_around_it(typed: str) -> None:
    # Given an event code set by the organisers (in either case)
    for configured in ("purple-walking-tree", " Purple-Walking-Tree\n"):
        code = EventCode(settings_from({"VOTER_CODE": configured}))
        # When an attendee's phone sends it as typed, Then it admits them
        assert code.admits(typed), (configured, typed)


@pytest.mark.parametrize(
    "wrong",
    ["purple-walking-trees", "purple walking tree", "purple-walkingtree", "purple-wa1king-tree"],
)
def test_an_event_code_that_differs_by_more_than_case_and_spaces_around_it_is_refused(
    wrong: str,
) -> None:
    code = EventCode(settings_from({"VOTER_CODE": "purple-walking-tree"}))
    assert not code.admits(wrong)
    assert not code.admits(wrong.upper())


def test_a_token_s_signature_is_told_apart_from_its_expiry() -> None:
    # A token this key signed, expired or not, is signed; one edited, cut or of another key is not
    issued = TOKENS.issue(NOW - timedelta(days=30))
    assert TOKENS.signed(issued.token)
    voter, expires, signature = issued.token.split(".")[1:]
    assert not TOKENS.signed(f"v1.{voter}.{int(expires) + 1}.{signature}")
    assert not TOKENS.signed(f"v1.{voter}.{expires}")
    assert not VoterTokens(b"another-key-of-16-bytes", timedelta(hours=1)).signed(issued.token)
