"""Voter tokens: an anonymous attendee identity that anyone can hold and no one can forge.

A token is `v1.<voter>.<expires>.<signature>`: a random voter id (32 hex digits), its expiry in
Unix seconds, and an HMAC-SHA256 of both under a key only the service holds (Secrets Manager on
AWS, a file in `.local/` locally). Verifying needs the key and nothing else: no database row per
attendee. The voter id is what the RatingSubmitted event carries as `voterId`, so each
attendee's newest rating of a talk counts, once.

A rotated key (docs/operations.md, "Rotating the voter-token key") signs the tokens issued from
then on; the key it replaced, kept beside it as the previous key, still verifies the tokens it
signed, so no attendee loses their pass (and with it their earlier ratings' identity). After a
leak the previous key is left out: every token it signed is refused, forged ones with them.
"""

from __future__ import annotations

import base64
import math
import re
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from talkrate.errors import (
    ExpiredVoterToken,
    InvalidVoterToken,
    VoterKeysUpdating,
    VoterTokenRequired,
    VoterTokensUnavailable,
)

if TYPE_CHECKING:
    from talkrate.admin_token import Checked
    from talkrate.config import Settings

VERSION = "v1"
MAX_TOKEN_LENGTH = 200
_TOKEN = re.compile(r"^v1\.([0-9a-f]{32})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


class IssuedToken(NamedTuple):
    """A new voter token, for the 201 of POST /voters."""

    token: str
    voter_id: str
    expires_at: datetime
    renew_after: datetime


# A pass is renewed (POST /voters with it) once less than this share of its life is left: on AWS
# (7 days) after five and a quarter days, well before a week-old pass is refused. (The settings'
# VOTER_TOKEN_RENEW_SHARE, the same by default, lets a test watch a short pass renewed.)
RENEW_WITH_LIFE_LEFT = 0.25


# How far apart two environments' clocks (and a put and the reads that see it) may be: a pass
# issued further than this before an environment last read the keys, or claiming to be issued
# further than this ahead of its clock, is settled by the keys it read.
CLOCK_MARGIN_SECONDS = 5.0

# The shortest signing key taken (HMAC-SHA256 wants far more entropy than this; a generated key
# has 48 characters).
SHORTEST_KEY_BYTES = 16


class SigningKeys:
    """The key new tokens are signed with, and the one it replaced, whose tokens still verify."""

    __slots__ = ("_keys",)

    def __init__(
        self,
        key: bytes,
        previous: bytes | None = None,
        named: tuple[str, str] = ("VOTER_TOKEN_KEY", "VOTER_TOKEN_PREVIOUS_KEY"),
    ) -> None:
        for setting, value in zip(named, (key, previous), strict=True):
            if value is not None and len(value) < SHORTEST_KEY_BYTES:
                # The API's 503 naming the setting (its length only, never the key), not a
                # 500 at every pass and every token rating.
                raise VoterTokensUnavailable(
                    f"the voter-token key ({setting}) has {len(value)} bytes: "
                    f"it needs at least {SHORTEST_KEY_BYTES}"
                )
        self._keys = (key,) if previous is None else (key, previous)

    def sign(self, payload: str) -> str:
        """The payload's signature under the current key."""
        return _signature(self._keys[0], payload)

    def signed(self, payload: str, signature: str) -> bool:
        """Whether the current key or the previous one gave the payload this signature."""
        from hmac import compare_digest

        return any(compare_digest(signature, _signature(key, payload)) for key in self._keys)

    def __repr__(self) -> str:
        return f"SigningKeys({len(self._keys)} keys)"


def _signature(key: bytes, payload: str) -> str:
    # hmac, hashlib (OpenSSL's, 3 ms) and secrets at a first token, not at every cold start: the
    # API's init is measured against a baseline (make bench), and most of its routes sign nothing.
    import hmac
    from hashlib import sha256

    digest = hmac.new(key, payload.encode(), sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class VoterTokens:
    """Issues voter tokens with one signing key, and verifies them with it (and with the key it
    replaced, when one is given)."""

    def __init__(
        self,
        key: bytes,
        lifetime: timedelta,
        previous: bytes | None = None,
        renew_share: float = RENEW_WITH_LIFE_LEFT,
    ) -> None:
        self._keys = SigningKeys(key, previous)
        self._lifetime = lifetime
        self._renew_share = renew_share

    def issue(self, now: datetime) -> IssuedToken:
        """A token for a new, anonymous voter, valid for the configured lifetime."""
        import secrets

        return self._issue(secrets.token_hex(16), now)

    def renew(self, token: str, now: datetime) -> IssuedToken:
        """A token for the same voter as `token`, valid for the configured lifetime from now:
        their earlier ratings stay theirs, so a changed mind still replaces one. Only a genuine,
        unexpired token is renewed (`verify`'s errors otherwise): a forged one names no voter,
        and an expired one is refused as it is at POST /ratings (`ops forget-voter` takes a
        voter an hour after their pass expired)."""
        return self._issue(self.verify(token, now), now)

    def reissue(self, voter_id: str, expires: int) -> IssuedToken:
        """The pass issued to this voter with this expiry (Unix seconds), signed again: what a
        retry of POST /voters under its Idempotency-Key is given, the first answer's pass, which
        is kept nowhere (only the voter and the expiry are)."""
        return self._signed(voter_id, expires)

    def _issue(self, voter_id: str, now: datetime) -> IssuedToken:
        return self._signed(voter_id, int((now + self._lifetime).timestamp()))

    def _signed(self, voter_id: str, expires: int) -> IssuedToken:
        expires_at = datetime.fromtimestamp(expires, UTC)
        renew_after = expires_at - self._lifetime * self._renew_share
        payload = f"{VERSION}.{voter_id}.{expires}"
        signed = f"{payload}.{self._signing_keys().sign(payload)}"
        return IssuedToken(signed, voter_id, expires_at, renew_after.replace(microsecond=0))

    def verify(self, token: str, now: datetime) -> str:
        """The voter id of a genuine, unexpired token; InvalidVoterToken otherwise."""
        parts = _parts(token)
        if parts is None:
            raise InvalidVoterToken("the voter token is malformed")
        voter_id, expires, signature = parts
        if not self._verified(voter_id, expires, signature, now):
            raise InvalidVoterToken("the voter token's signature does not match")
        if int(expires) <= now.timestamp():
            raise ExpiredVoterToken(
                "the voter token has expired; get a new one from POST /voters", voter_id
            )
        return voter_id

    def signed(self, token: str) -> bool:
        """Whether the token is one this key signed, expired or not (`ops forget-voter` reads
        an expired token's expiry, which only the signature vouches for)."""
        parts = _parts(token, stripped=True)
        return parts is not None and self._genuine(*parts)

    def _signing_keys(self) -> SigningKeys:
        return self._keys

    def _verified(self, voter_id: str, expires: str, signature: str, now: datetime) -> bool:
        """Whether the keys signed a token presented to the API at `now`."""
        return self._genuine(voter_id, expires, signature)

    def _genuine(self, voter_id: str, expires: str, signature: str) -> bool:
        return self._keys.signed(f"{VERSION}.{voter_id}.{expires}", signature)


class NoKeys(NamedTuple):
    """Why a voter-token secret gave no keys to sign or check with (never a key)."""

    reason: str


class SecretVoterTokens(VoterTokens):
    """Voter tokens under the keys their secret holds now (VOTER_TOKEN_SECRET_ARN, on AWS).

    Read when made (talkrate.wiring makes it for the first pass handed out or checked, not at
    cold start), and again while warm, on the admin token's rule (talkrate.admin_token): every
    five minutes, and after a signature that matches neither key, at most once per half minute;
    to sign a new pass, once what was read is half a minute old. After an operator rotates the
    key, every warm API container signs with the new one within half a minute, and takes a token
    the new key signed (another container's) as soon as it may read the secret again: until then
    such a token is VoterKeysUpdating (429, Retry-After), not refused, and none goes on refusing
    what others accept until Lambda replaces it. A secret that cannot be read, or holds no
    usable key, leaves the keys read before in use; with none read before, passes and token
    ratings are VoterTokensUnavailable (503, naming the variable and why) until a read, at most
    once per half minute, finds some: no other route reads the secret.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        from talkrate.admin_token import RereadSecret

        arn = settings.voter_token_secret_arn
        if arn is None:
            raise VoterTokensUnavailable("no voter-token key is configured")
        have_keys = False

        def read() -> SigningKeys | NoKeys:
            nonlocal have_keys
            try:
                keys = _keys_in_secret(arn)
            except Exception as error:
                if have_keys:
                    raise  # the keys read before stay in use, with a warning (RereadSecret)
                return NoKeys(f"VOTER_TOKEN_SECRET_ARN ({arn}): {_why(error)}")
            have_keys = True
            return keys

        self._kept: RereadSecret[SigningKeys | NoKeys] = RereadSecret(read, clock=clock)
        self._kept.current()  # read now: made for the first pass handed out or checked
        self._lifetime = timedelta(hours=settings.voter_token_hours)
        self._renew_share = settings.voter_token_renew_share

    def _signing_keys(self) -> SigningKeys:
        # As read within the floor: after a leak's rotation an environment goes on handing out
        # passes of the leaked key (refused by the others) for 30 s at most, not five minutes.
        return _usable(self._kept.recent())

    def _verified(self, voter_id: str, expires: str, signature: str, now: datetime) -> bool:
        """Whether the keys signed it; VoterKeysUpdating (429, not 401) when neither did, the
        keys were read too recently to be read again, and the pass was issued after they were
        read: a pass another environment signed with a key put since is then sent again (with
        Retry-After), not dropped by its page for a new one, a new voter whose re-rated talks
        would count twice. A pass issued before the last read (its expiry less the lifetime)
        is refused at once: the key that signed it existed then, and is no longer the secret's
        (a stale pass, after a leak's rotation, was answered one 401 per environment per 30 s,
        the others waiting their turn for minutes); so is one claiming to be issued ahead of the
        clock (forged)."""
        issued = int(expires) - self._lifetime.total_seconds()
        at = now.timestamp()

        def settled(read_ago: float) -> bool:
            return (
                issued < at - read_ago - CLOCK_MARGIN_SECONDS or issued > at + CLOCK_MARGIN_SECONDS
            )

        checked = self._check(voter_id, expires, signature, settled)
        if not checked.accepted and checked.read_again_in > 0:
            raise VoterKeysUpdating(max(1, math.ceil(checked.read_again_in)))
        return checked.accepted

    def _genuine(self, voter_id: str, expires: str, signature: str) -> bool:
        return self._check(voter_id, expires, signature).accepted

    def _check(
        self,
        voter_id: str,
        expires: str,
        signature: str,
        settled: Callable[[float], bool] | None = None,
    ) -> Checked[SigningKeys | NoKeys]:
        payload = f"{VERSION}.{voter_id}.{expires}"
        checked = self._kept.checked(
            lambda keys: isinstance(keys, SigningKeys) and keys.signed(payload, signature),
            settled,
        )
        if not checked.accepted:
            _usable(checked.value)  # no keys at all: VoterTokensUnavailable, not a refusal
        return checked


def _keys_in_secret(arn: str) -> SigningKeys:
    """The keys the voter-token secret holds now; VoterTokensUnavailable (or the read's error)
    when it holds none usable. A `previousKey` that is not text is left out, with a warning."""
    from talkrate.config import read_voter_keys

    keys = read_voter_keys(arn, fresh=True)
    if keys.ignored:
        from talkrate.observability import logger

        logger.warning(
            f"the voter-token secret's previousKey is {keys.ignored}, not text: left out (the "
            "passes of the key before are refused)"
        )
    if keys.key is None:
        raise VoterTokensUnavailable('the voter-token secret holds no key (text under "key")')
    return SigningKeys(
        keys.key.encode(),
        keys.previous.encode() if keys.previous else None,
        named=('its "key"', 'its "previousKey"'),
    )


def _why(error: Exception) -> str:
    """What a failed read of the voter-token secret says of itself, never a value: AWS's reason,
    the secret's shape, or the key's length."""
    if isinstance(error, VoterTokensUnavailable):
        return str(error)
    if isinstance(error, UnicodeDecodeError):  # (its message quotes a byte)
        return "the secret is not UTF-8 text"
    if isinstance(error, ValueError):  # voter_keys_of's: the secret's shape
        return f"the secret {error}"
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"could not be read: {reason}"


def _usable(keys: SigningKeys | NoKeys | None) -> SigningKeys:
    if isinstance(keys, SigningKeys):
        return keys
    raise VoterTokensUnavailable(keys.reason if keys else "no voter-token key is configured")


def read_token(token: str) -> tuple[str, datetime] | None:
    """A token's voter id and expiry as it states them, without checking its signature
    (`VoterTokens.signed` does); None when it is not a token's shape."""
    parts = _parts(token, stripped=True)
    if parts is None:
        return None
    voter_id, expires, _ = parts
    try:
        return voter_id, datetime.fromtimestamp(int(expires), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def forgotten_id(voter_id: str) -> str:
    """The id a forgotten voter's ratings are filed under (`talkrate ops forget-voter`): the same
    at every run (a run cut short, or one for a rating of theirs that came late, joins what an
    earlier one filed), and telling nothing of the voter without their id."""
    from hashlib import sha256

    digest = sha256(b"talkrate forget-voter\0" + voter_id.encode()).hexdigest()
    return f"forgotten-{digest[:32]}"


def identify_voter(
    token: str | None,
    policy: str,
    tokens: Callable[[], VoterTokens],
    now: datetime,
) -> str | None:
    """The voter of a rating: from its verified token, or None when it has none and the policy
    is open. VoterTokenRequired without a token under the attendee policy; InvalidVoterToken for
    a token that does not verify (under either policy: a bad token is never read as none)."""
    if token is None:
        if policy == "attendee":
            raise VoterTokenRequired
        return None
    return tokens().verify(token, now)


# The shortest event code, as it is compared (`spoken`): the template's VoterCode takes none
# shorter, and one set otherwise (the secret, VOTER_CODE) refuses every code until it is longer.
SHORTEST_EVENT_CODE = 8


class EventCode:
    """The event code POST /voters asks for, as its secret holds it now.

    Read at cold start with the settings; a warm process reads its secret again when a code does
    not match (at most once per half minute) and every five minutes, as the admin token is
    (talkrate.admin_token): organisers who change or take away the code for the next session
    need no cold start for it, and the old code stops opening the door within minutes.

    A code is said in the room or printed on a badge, then typed on a phone, whose keyboard
    capitalises the first letter: it is compared as people read it (`spoken`), without case and
    without the spaces around it. The organisers' token is not: it is a secret, compared as is.

    A code shorter than SHORTEST_EVENT_CODE once compared (blank, or padded with spaces) is
    neither no code nor a code a blank matches: every code is refused (VoterTokensUnavailable,
    the API's 503 naming the setting, never the code) until the secret holds a longer one.
    """

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        from talkrate.admin_token import RereadSecret
        from talkrate.config import read_voter_code

        arn = settings.voter_code_secret_arn
        initial = settings.voter_code.get_secret_value() if settings.voter_code else None
        reads = [initial]
        self._setting = 'VOTER_CODE_SECRET_ARN\'s "code"' if arn else "VOTER_CODE"

        def read() -> str | None:
            if reads:  # the value the settings read at cold start serves the first check
                return reads.pop()
            return read_voter_code(arn, fresh=True) if arn else initial

        self._code: RereadSecret[str] = RereadSecret(read, clock=clock)

    def admits(self, presented: str | None) -> bool:
        """True when no code is set or `presented` is it as people read it (compared in
        constant time); VoterTokensUnavailable when the code set is too short to be one."""

        def takes(code: str | None) -> bool:
            if code is None:
                return True
            expected = spoken(code)
            if len(expected) < SHORTEST_EVENT_CODE:
                return False  # (and the secret read again, at most once per half minute)
            from hmac import compare_digest

            return presented is not None and compare_digest(
                _utf8(spoken(presented)), _utf8(expected)
            )

        checked = self._code.checked(takes)
        if checked.value is not None and len(spoken(checked.value)) < SHORTEST_EVENT_CODE:
            raise VoterTokensUnavailable(
                f"the event code ({self._setting}) has fewer than {SHORTEST_EVENT_CODE} "
                "characters once compared (without case and the spaces around it): every code "
                "is refused until it has more"
            )
        return checked.accepted


def spoken(code: str) -> str:
    """An event code as people read it, to compare: Unicode's compatibility forms folded (a
    full-width letter is its letter), without case, without the spaces around it."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", code).casefold()).strip()


def _utf8(text: str) -> bytes:
    # (a lone surrogate, which JSON can carry, encoded as it is: compared, never refused here)
    return text.encode("utf-8", "surrogatepass")


def now_utc() -> datetime:
    """The current time, time-zone aware (one place to read the clock)."""
    return datetime.now(UTC)


def _parts(token: str, stripped: bool = False) -> tuple[str, str, str] | None:
    """A token's voter id, expiry and signature as written, or None when it is not a token's
    shape (or longer than any); `stripped`: read without the spaces around it (a token pasted
    by an operator), as the API never reads one."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token.strip() if stripped else token)  # ($ takes a last "\n")
    return None if match is None else (match[1], match[2], match[3])
