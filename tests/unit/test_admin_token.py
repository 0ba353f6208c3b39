"""The admin token: a rotation is honoured while warm, wrong guesses cannot hammer the secret."""

from __future__ import annotations

import pytest

from talkrate.admin_token import AdminToken, fingerprint, verdict
from tests.unit.test_voter_tokens import full_width

pytestmark = pytest.mark.unit


class Secret:
    """The admin token as Secrets Manager holds it, counting the reads."""

    def __init__(self, value: str) -> None:
        self.value, self.reads, self.answering = value, 0, True

    def __call__(self) -> str:
        self.reads += 1
        if not self.answering:
            raise RuntimeError("Secrets Manager: Rate exceeded")
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_token_works_after_the_floor_without_a_cold_start() -> None:
    # Given a warm checker that has read the old token
    secret, clock = Secret("old-token"), Clock()
    token = AdminToken(secret, reread_floor=30, max_age=300, clock=clock)
    assert token.matches("old-token")
    # When the secret is rotated
    secret.value = "new-token"
    # Then the new token works as soon as the floor since the last read has passed
    clock.now += 31
    assert token.matches("new-token")
    # And the old one no longer does
    assert not token.matches("old-token")


def test_wrong_tokens_reread_the_secret_at_most_once_per_floor() -> None:
    secret, clock = Secret("the-token"), Clock()
    token = AdminToken(secret, reread_floor=30, max_age=300, clock=clock)
    assert not any(token.matches(f"guess-{n}") for n in range(100))
    assert secret.reads == 1
    clock.now += 31
    assert not any(token.matches(f"guess-{n}") for n in range(100))
    assert secret.reads == 2


def test_a_rotated_away_token_stops_working_within_the_max_age() -> None:
    secret, clock = Secret("old-token"), Clock()
    token = AdminToken(secret, reread_floor=30, max_age=300, clock=clock)
    assert token.matches("old-token")
    secret.value = "new-token"
    clock.now += 299
    assert token.matches("old-token")  # still the one read
    clock.now += 2
    assert not token.matches("old-token")


def test_a_secret_that_cannot_be_read_again_leaves_the_one_read_before_in_use() -> None:
    # Given warm checkers of the admin token and of an event code, read a while ago
    secret, code, clock = Secret("the-token"), Secret("badge-42"), Clock()
    token = AdminToken(secret, reread_floor=30, max_age=300, clock=clock)
    event_code = AdminToken(code, reread_floor=30, max_age=300, clock=clock)
    assert token.matches("the-token")
    assert event_code.matches("badge-42")
    # When Secrets Manager stops answering past their age (throttled, a passing fault)
    secret.answering = code.answering = False
    clock.now += 301
    # Then the organiser and the attendees go on as before, rather than meet an error
    assert token.matches("the-token")
    assert event_code.matches("badge-42")
    assert not event_code.matches("guess")
    # And wrong guesses meanwhile still ask the secret at most once per floor
    reads = secret.reads
    assert not any(token.matches(f"guess-{n}") for n in range(100))
    assert secret.reads == reads
    # And once it answers again, a rotated token is taken after the floor
    secret.answering, secret.value = True, "rotated"
    clock.now += 31
    assert token.matches("rotated")


def test_the_organisers_token_is_taken_only_as_it_is_even_where_the_event_code_is_not() -> None:
    # Given the organisers' token (the event code is compared without case; this never is)
    token = AdminToken(Secret("Organiser-Token-42"), reread_floor=30, max_age=300, clock=Clock())
    assert token.matches("Organiser-Token-42")
    # Then another case of it, or of any letter of it, is refused
    for wrong in ("organiser-token-42", "ORGANISER-TOKEN-42", "Organiser-token-42"):
        assert not token.matches(wrong)
        assert not verdict(f"Bearer {wrong}", token)["admin"]
    # And so is its full-width spelling
    assert not token.matches(full_width("Organiser-Token-42"))


def test_a_secret_never_read_is_not_guessed() -> None:
    secret = Secret("the-token")
    secret.answering = False
    with pytest.raises(RuntimeError):
        AdminToken(secret).matches("the-token")


def test_the_verdict_names_the_token_by_fingerprint_only() -> None:
    token = AdminToken(Secret("s3cret-admin"))
    assert verdict("Bearer s3cret-admin", token) == {
        "admin": True,
        "reason": "ok",
        "fingerprint": fingerprint("s3cret-admin"),
    }
    assert verdict("Bearer nope", token)["reason"] == "invalid-token"
    assert verdict("Basic abc", token) == {"admin": False, "reason": "missing-token"}
    assert verdict("Bearer ", token)["admin"] is False
    assert len(fingerprint("s3cret-admin")) == 12
    assert "s3cret" not in fingerprint("s3cret-admin")


def test_with_no_admin_token_configured_no_token_is_the_admin_s() -> None:
    assert verdict("Bearer anything", AdminToken(lambda: None))["admin"] is False


ROTATED = "rotated-organiser-token-of-40-characters"


def test_a_token_put_into_its_secret_with_a_line_end_is_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an operator who rotated the token from a file or `echo` (docs/operations.md,
    # "Rotating the admin token"): the secret ends with a line end, which no presented token
    # has (the authorizer reads it without one), so every organiser was refused
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from talkrate import wiring

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="talkrate/admin", SecretString=ROTATED + "\n"
        )["ARN"]
        monkeypatch.setenv("ADMIN_TOKEN_SECRET_ARN", arn)
        parameters.clear_caches()
        wiring.reset()
        try:
            # Then the token is what the secret holds, without it
            assert verdict(f"Bearer {ROTATED}")["admin"] is True
            assert verdict(f"Bearer {ROTATED}\n")["admin"] is True
            assert verdict("Bearer rotated-organiser")["admin"] is False
        finally:
            wiring.reset()


def test_a_secret_holding_a_short_token_is_refused_naming_its_variable_never_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an admin-token secret an operator set by hand to a short token (the stack's own
    # are 48 characters)
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from talkrate import wiring
    from talkrate.config import SettingsError

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(
            Name="talkrate/admin", SecretString="organiser\n"
        )["ARN"]
        monkeypatch.setenv("ADMIN_TOKEN_SECRET_ARN", arn)
        parameters.clear_caches()
        wiring.reset()
        try:
            # When the authorizer first reads it
            with pytest.raises(SettingsError) as refused:
                verdict("Bearer organiser")
            # Then it is refused, naming the variable and the floor, not the token
            said = str(refused.value)
            assert "ADMIN_TOKEN_SECRET_ARN" in said, said
            assert "32 characters" in said, said
            assert "organiser" not in said.replace(arn, "")
        finally:
            wiring.reset()


def test_a_token_rotated_to_a_short_one_leaves_the_one_read_before_in_use() -> None:
    # Given a checker that read a usable token
    from talkrate.config import usable_admin_token

    stored, clock = Secret("a" * 48), Clock()
    token = AdminToken(
        lambda: usable_admin_token(stored(), "ADMIN_TOKEN_SECRET_ARN"),
        reread_floor=30,
        max_age=300,
        clock=clock,
    )
    assert token.matches("a" * 48)
    # When the secret is rotated to a short token, and read again
    stored.value = "short"
    clock.now += 301
    # Then the short one is never the admin's, and the one before still is
    assert not token.matches("short")
    assert token.matches("a" * 48)
