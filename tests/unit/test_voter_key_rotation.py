"""Rotating the voter-token key (docs/operations.md, "Rotating the voter-token key"): the API's
warm containers take the secret's new key within minutes and agree on which tokens count; the
key it replaced keeps its attendees' passes, or, left out after a leak, ends them, forged ones
with them. Secrets Manager is moto's (the AWS API only); settings, keys and tokens are the
API's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto import mock_aws

from talkrate import wiring
from talkrate.api.errors import problem_for
from talkrate.config import settings_from
from talkrate.errors import InvalidVoterToken, VoterKeysUpdating, VoterTokensUnavailable
from talkrate.voters import SecretVoterTokens, VoterTokens

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
OLD_KEY, NEW_KEY = "o" * 48, "n" * 48
LEAKED = "l" * 48
LIFETIME = timedelta(hours=24)
PASS_LIFETIME = timedelta(days=7)  # the API's (the settings' VOTER_TOKEN_HOURS)


class Clock:
    """One container's monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        """The time of day on this clock: NOW when it started."""
        return NOW + timedelta(seconds=self.now - 1000.0)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    """The stack's VoterTokenSecret as the template generates it: {"code": "", "key": …}."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-west-1")
        arn = client.create_secret(
            Name="talkrate/voter-key", SecretString=json.dumps({"code": "", "key": OLD_KEY})
        )["ARN"]
        yield client, arn


def rotate(client: object, arn: str, **keys: str) -> None:
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(keys))  # type: ignore[attr-defined]


def container(arn: str, clock: Clock) -> SecretVoterTokens:
    """An API container's voter tokens, read from the secret at its cold start (a process of
    its own: nothing of another's cache of secrets)."""
    parameters.clear_caches()
    return SecretVoterTokens(settings_from({"VOTER_TOKEN_SECRET_ARN": arn}), clock=clock)


def reads_from_now() -> list[str]:
    """Every GetSecretValue the API's Secrets Manager client sends from now on (as moto gets
    it), by the secret it names."""
    calls: list[str] = []
    DEFAULT_PROVIDERS["secrets"].client.meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **_: calls.append(params["SecretId"]),
    )
    return calls


def signed_by(key: str, token: str) -> bool:
    return VoterTokens(key.encode(), LIFETIME).signed(token)


def refused(tokens: VoterTokens, token: str, clock: Clock | None = None) -> bool:
    """Whether the token is refused (401): at once, or, where the container's keys were read
    too recently to be read again (429, Retry-After), once that wait has passed on its clock."""
    try:
        tokens.verify(token, NOW)
    except VoterKeysUpdating as updating:
        if clock is None:
            raise
        clock.now += updating.retry_after
        return refused(tokens, token)
    except InvalidVoterToken:
        return True
    return False


def started(arn: str) -> tuple[SecretVoterTokens, Clock]:
    """A container started now, and its clock."""
    clock = Clock()
    return container(arn, clock), clock


def refused_where_started(arn: str, token: str) -> bool:
    """Whether a container started now refuses the token (in its first 30 s, 429, then 401)."""
    new, clock = started(arn)
    return refused(new, token, clock)


def test_after_a_rotation_every_container_takes_the_new_key_and_old_passes_still_count(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    # Given two warm API containers, and an attendee's pass issued before the rotation
    clock_a, clock_b = Clock(), Clock()
    a, b = container(arn, clock_a), container(arn, clock_b)
    before = a.issue(NOW)
    # When the operator rotates the key, keeping the old one as the previous key
    rotate(client, arn, key=NEW_KEY, previousKey=OLD_KEY)
    # Then a container signs with the new key once its keys are five minutes old, with no cold
    # start (it signed with the old one for as long as Lambda kept it warm: hours)
    clock_a.now += 301
    after = a.issue(NOW)
    assert signed_by(NEW_KEY, after.token)
    assert not signed_by(OLD_KEY, after.token)
    # And the other container, which has not read the secret since, takes that new pass at
    # once (half a minute after its last read), where it refused it: a pass one container
    # handed out is not refused by another
    clock_b.now += 31
    assert b.verify(after.token, NOW) == after.voter_id
    # And the pass issued before the rotation still names its attendee everywhere: their
    # newer ratings still replace their earlier ones
    for tokens in (a, b, container(arn, Clock())):
        assert tokens.verify(before.token, NOW) == before.voter_id
    # And `ops forget-voter` takes a token of either key
    assert a.signed(before.token)
    assert a.signed(after.token)


def test_after_a_leak_the_leaked_key_s_tokens_stop_counting_within_five_minutes(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    rotate(client, arn, key=LEAKED)
    # Given a warm container on a key that leaked, and a token forged with it for any voter
    clock = Clock()
    warm = container(arn, clock)
    forged = VoterTokens(LEAKED.encode(), LIFETIME).issue(NOW)
    assert warm.verify(forged.token, NOW) == forged.voter_id
    # When the operator rotates it without keeping it
    rotate(client, arn, key=NEW_KEY)
    # Then a new container refuses it at once (429 for its first 30 s, when a key put after it
    # read the secret might have signed it; 401 then), and a warm one once its keys are five
    # minutes old (before, for as long as Lambda kept it warm)
    assert refused_where_started(arn, forged.token)
    clock.now += 301
    assert refused(warm, forged.token)
    # And the new key's passes count
    fresh = container(arn, Clock()).issue(NOW)
    assert warm.verify(fresh.token, NOW) == fresh.voter_id


def test_after_a_leak_a_warm_container_hands_out_the_leaked_key_s_passes_for_30_s_at_most(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    # Given a warm container that read the secret 10 s before the leaked key was replaced
    clock = Clock()
    warm = container(arn, clock)
    clock.now += 10
    rotate(client, arn, key=NEW_KEY)
    reads = reads_from_now()
    # When attendees ask it for passes over the next five minutes, one a second
    handed_out = []
    for _ in range(300):
        clock.now += 1
        handed_out.append(warm.issue(NOW).token)
    # Then it signs with the new key once what it read is 30 s old (it went on with the leaked
    # key for five minutes: passes every other environment refused, the attendee made a new
    # voter at each), reading the secret at most once per 30 s
    leaked = [signed_by(OLD_KEY, token) for token in handed_out]
    assert leaked[:19] == [True] * 19
    assert not any(leaked[20:])
    assert all(signed_by(NEW_KEY, token) for token in handed_out[20:])
    assert len(reads) <= 300 // 30 + 1, reads


def test_a_warm_container_that_meets_a_new_key_s_pass_drops_a_leaked_key_at_once(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    clock = Clock()
    warm = container(arn, clock)
    forged = VoterTokens(OLD_KEY.encode(), LIFETIME).issue(NOW)
    rotate(client, arn, key=NEW_KEY)
    clock.now += 31
    # When a pass signed with the new key reaches the warm container, it reads the secret again
    fresh = container(arn, Clock()).issue(NOW)
    assert warm.verify(fresh.token, NOW) == fresh.voter_id
    # Then the old key's tokens are refused there from then on
    assert refused(warm, forged.token, clock)


def test_a_pass_of_a_key_put_just_after_a_container_read_the_secret_waits_and_counts_as_itself(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    # Given a warm container that read the secret 10 s before a planned rotation (its keys had
    # turned five minutes old, or a pass it did not know had come), and a container started
    # after the rotation, which hands out a pass of the new key
    clock = Clock()
    warm = container(arn, clock)
    clock.now += 10
    rotate(client, arn, key=NEW_KEY, previousKey=OLD_KEY)
    fresh = container(arn, Clock()).issue(clock.wall())
    # When that pass reaches the warm container 10 s later, within the re-read's floor
    clock.now += 10
    with pytest.raises(VoterKeysUpdating) as updating:
        warm.verify(fresh.token, clock.wall())
    # Then it is not refused (401: the page dropped it for a new pass, a new voter, and the
    # talks it rated under both counted twice) but answered 429 (no 5xx alarm counts it), with
    # the seconds until the keys may be read again, in the problem+json shape
    assert updating.value.retry_after == 10
    answer = problem_for(updating.value)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "10")
    assert answer.content_type == "application/problem+json"
    problem = json.loads(answer.body)
    assert problem["type"] == "urn:talkrate:problem:voter-keys-updating"
    assert "updating its keys" in problem["detail"]
    # And sent again when it said, the same pass names its attendee
    clock.now += 10
    assert warm.verify(fresh.token, clock.wall()) == fresh.voter_id


def test_forged_passes_wait_then_are_refused_and_read_the_secret_at_most_once_per_30_s(
    secret: tuple[object, str],
) -> None:
    _, arn = secret
    # Given a warm container, and passes forged with a key the service never had
    clock = Clock()
    warm = container(arn, clock)
    reads = reads_from_now()
    forger = VoterTokens(b"f" * 48, PASS_LIFETIME)
    answers: list[str] = []
    # When a forger sends a thousand over a minute, each claiming to be issued as it is sent
    # (as a pass of a key put since the container read the secret would)
    for n in range(1000):
        clock.now = 1000.0 + n * 0.06
        try:
            warm.verify(forger.issue(clock.wall()).token, clock.wall())
            answers.append("taken")
        except VoterKeysUpdating:
            answers.append("429")
        except InvalidVoterToken:
            answers.append("401")
    # Then none is taken: each is 429 until the keys may be read again, then 401 (read again,
    # they still match neither key), and the secret was read at most once per 30 s
    assert set(answers) == {"429", "401"}
    assert answers[0] == "429"
    assert 1 <= len(reads) <= 2, reads
    assert answers.count("401") == len(reads)  # a 401 for each read, the rest waited
    # And once read again, a pass no key signed is 401 as before, not 429
    clock.now += 31
    with pytest.raises(InvalidVoterToken):
        warm.verify(forger.issue(clock.wall()).token, clock.wall())
    # And a genuine pass counted all along
    assert warm.verify(warm.issue(NOW).token, NOW)


def answers_to_attendees(tokens: VoterTokens, passes: list[str], clock: Clock) -> list[list[str]]:
    """What each attendee's page is answered for their pass, sent one after another 0.1 s apart,
    and sent again after each 429's Retry-After (the page's rule) until it is taken or refused."""
    answers: list[list[str]] = [[] for _ in passes]
    due = [(clock.now + n * 0.1, n) for n in range(len(passes))]
    while due:
        due.sort()
        clock.now, n = due.pop(0)
        try:
            tokens.verify(passes[n], clock.wall())
            answers[n].append("taken")
        except VoterKeysUpdating as updating:
            answers[n].append("429")
            due.append((clock.now + updating.retry_after, n))
        except InvalidVoterToken:
            answers[n].append("401")
    return answers


def test_after_a_leak_stale_passes_are_refused_at_once_once_the_container_read_the_secret(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    # Given a warm container that handed out 40 passes of a key that then leaked, and was
    # rotated without it
    clock = Clock()
    warm = container(arn, clock)
    passes = []
    for _ in range(40):
        clock.now += 1
        passes.append(warm.issue(clock.wall()).token)
    clock.now += 10
    rotate(client, arn, key=NEW_KEY)
    reads = reads_from_now()
    # When the 40 attendees send them (with their pages' retries) once its keys are five
    # minutes old
    clock.now += 300
    answers = answers_to_attendees(warm, passes, clock)
    # Then each is refused at once, none asked to wait (one 401 per 30 s, the others 429 until
    # their turn, kept the last of them waiting 20 minutes, their ratings uncounted), and the
    # secret was read once
    assert answers == [["401"]] * 40
    assert len(reads) == 1, reads


def test_stale_passes_wait_for_one_read_at_most_after_a_leak_s_rotation(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    # Given a warm container that handed out 40 passes of a key, read the secret 10 s before it
    # was rotated away after a leak, and then met a pass of the new key
    clock = Clock()
    warm = container(arn, clock)
    passes = [warm.issue(clock.wall()).token for _ in range(40)]
    clock.now += 300
    assert warm.verify(passes[0], clock.wall())  # read again: five minutes old
    clock.now += 10
    rotate(client, arn, key=NEW_KEY)
    clock.now += 21
    fresh = container(arn, Clock()).issue(clock.wall())
    assert warm.verify(fresh.token, clock.wall()) == fresh.voter_id
    reads = reads_from_now()
    # When the 40 attendees send theirs at once
    answers = answers_to_attendees(warm, passes, clock)
    # Then every one is refused at once: the container read the secret after they were issued
    assert answers == [["401"]] * 40
    assert reads == []


def test_a_pass_claiming_to_be_issued_ahead_of_the_clock_is_refused_at_once(
    secret: tuple[object, str],
) -> None:
    _, arn = secret
    # Given a warm container that read the secret a second ago, and a forged pass that claims
    # to be issued a minute from now (a key put since the read might have signed one issued now)
    clock = Clock()
    warm = container(arn, clock)
    clock.now += 1
    reads = reads_from_now()
    forged = VoterTokens(b"f" * 48, PASS_LIFETIME).issue(clock.wall() + timedelta(minutes=1))
    # When it is sent
    # Then it is refused (401), not asked to wait, and the secret is not read for it
    with pytest.raises(InvalidVoterToken) as refusal:
        warm.verify(forged.token, clock.wall())
    assert problem_for(refusal.value).status_code == 401
    assert reads == []


def test_a_secret_rotated_to_an_unusable_key_leaves_the_keys_read_before_in_use(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    clock = Clock()
    warm = container(arn, clock)
    issued = warm.issue(NOW)
    # When the secret is given a key too short to sign with, or none at all
    for broken in ({"key": "short"}, {"code": ""}):
        rotate(client, arn, **broken)
        clock.now += 301
        # Then the warm container goes on with the keys it read (and logs a warning), rather
        # than refuse every pass and every rating
        assert warm.verify(issued.token, NOW) == issued.voter_id
        assert warm.verify(warm.issue(NOW).token, NOW)


def test_a_secret_holding_the_key_alone_is_the_key(secret: tuple[object, str]) -> None:
    client, arn = secret
    # Given a warm container, and an operator who puts the new key alone, as the admin token's
    # recipe puts a token (`--secret-string "$key"`, here with a line end)
    clock = Clock()
    warm = container(arn, clock)
    client.put_secret_value(SecretId=arn, SecretString=NEW_KEY + "\n")  # type: ignore[attr-defined]
    # Then new containers sign with it, and the warm one within half a minute
    assert signed_by(NEW_KEY, container(arn, Clock()).issue(NOW).token)
    clock.now += 31
    assert signed_by(NEW_KEY, warm.issue(NOW).token)


def test_a_previous_key_that_is_not_text_is_left_out_with_a_warning(
    secret: tuple[object, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, arn = secret
    # Given a secret whose previousKey is a number (a hand's slip), for a container started
    # after it, and a warm one
    clock = Clock()
    warm = container(arn, clock)
    previous = 4_815_162_342_481_516
    client.put_secret_value(  # type: ignore[attr-defined]
        SecretId=arn, SecretString=json.dumps({"key": NEW_KEY, "previousKey": previous})
    )
    caplog.clear()
    clock.now += 301
    for tokens in (container(arn, Clock()), warm):
        # Then each signs and checks with the key (a cold start answered every route 500)
        issued = tokens.issue(NOW)
        assert signed_by(NEW_KEY, issued.token)
        assert tokens.verify(issued.token, NOW) == issued.voter_id
    # And each said so, without the value
    logged = caplog.text
    assert logged.count("previousKey is a number, not text: left out") == 2
    assert str(previous) not in logged


def test_a_secret_with_no_usable_key_fails_only_passes_and_is_read_again_every_30_s(
    secret: tuple[object, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, arn = secret
    # Given a secret broken by hand (JSON cut short) when a container starts
    client.put_secret_value(SecretId=arn, SecretString='{"key": "' + NEW_KEY)  # type: ignore[attr-defined]
    clock = Clock()
    cold = container(arn, clock)
    reads = reads_from_now()
    held = VoterTokens(OLD_KEY.encode(), LIFETIME).issue(NOW)
    # When attendees ask it for passes and rate with theirs, over a minute
    said = set()
    for _ in range(60):
        clock.now += 1
        for attempt in (lambda: cold.issue(NOW), lambda: cold.verify(held.token, NOW)):
            with pytest.raises(VoterTokensUnavailable) as unavailable:
                attempt()
            said.add(str(unavailable.value))
    # Then each is told voter tokens are unavailable, naming the variable and why, never the
    # secret, and the secret was read at most once per 30 s
    assert said == {f"VOTER_TOKEN_SECRET_ARN ({arn}): the secret starts as JSON but is not JSON"}
    assert NEW_KEY not in caplog.text
    assert len(reads) <= 2, reads
    # And once the secret is mended, the container takes it within half a minute
    rotate(client, arn, key=NEW_KEY, previousKey=OLD_KEY)
    clock.now += 30
    issued = cold.issue(NOW)
    assert signed_by(NEW_KEY, issued.token)
    assert cold.verify(issued.token, NOW) == issued.voter_id
    assert cold.verify(held.token, NOW) == held.voter_id


def test_a_cold_start_takes_the_previous_key_s_passes_and_signs_with_the_new_one(
    secret: tuple[object, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, arn = secret
    # Given a pass issued before the rotation
    before = VoterTokens(OLD_KEY.encode(), LIFETIME).issue(NOW)
    rotate(client, arn, key=NEW_KEY, previousKey=OLD_KEY)
    # When an API container starts after it (the API's own wiring, from its environment)
    monkeypatch.setenv("VOTER_TOKEN_SECRET_ARN", arn)
    parameters.clear_caches()
    wiring.reset()
    try:
        tokens = wiring.voter_tokens()
        # Then the pass still names its attendee, and new passes are the new key's
        assert tokens.verify(before.token, NOW) == before.voter_id
        issued = tokens.issue(NOW)
        assert signed_by(NEW_KEY, issued.token)
        assert not signed_by(OLD_KEY, issued.token)
    finally:
        wiring.reset()


def test_forget_voter_names_a_rotated_away_key_and_the_voter_id_for_its_token(
    secret: tuple[object, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from talkrate_cli.main import main

    client, arn = secret
    # Given a pass of the old key that expired two days ago, and the old key since dropped, as
    # the guide says once its passes have expired
    expired = VoterTokens(OLD_KEY.encode(), LIFETIME).issue(NOW - LIFETIME - timedelta(days=2))
    rotate(client, arn, key=NEW_KEY)
    monkeypatch.setenv("VOTER_TOKEN_SECRET_ARN", arn)
    parameters.clear_caches()
    wiring.reset()
    try:
        # When the operator forgets its attendee by that token
        status = main(["ops", "forget-voter", expired.token])
    finally:
        wiring.reset()
    said = " ".join(capsys.readouterr().err.split())
    # Then nothing changed, and the command says the key may have been rotated away and how to
    # forget the attendee then (it said only "a token edited by hand, or another deployment's")
    assert status == 2, said
    assert "nothing changed: the token's signature does not match" in said
    assert "a token edited by hand, another deployment's, or one signed with a key since" in said
    assert "rotated away" in said
    assert "give its voter id instead of the token (the part after `v1.`, up to the next dot)" in (
        said
    )
    assert "--expired" not in said  # (taken and not needed: a voter id is forgotten at once)


def test_without_a_secret_the_previous_key_comes_from_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (locally: VOTER_TOKEN_KEY and VOTER_TOKEN_PREVIOUS_KEY, as the secret's two fields)
    before = VoterTokens(OLD_KEY.encode(), LIFETIME).issue(NOW)
    monkeypatch.setenv("VOTER_TOKEN_KEY", NEW_KEY)
    monkeypatch.setenv("VOTER_TOKEN_PREVIOUS_KEY", OLD_KEY)
    wiring.reset()
    try:
        assert wiring.voter_tokens().verify(before.token, NOW) == before.voter_id
        monkeypatch.setenv("VOTER_TOKEN_PREVIOUS_KEY", "")
        wiring.reset()
        assert refused(wiring.voter_tokens(), before.token)
    finally:
        wiring.reset()


def _rotation_guide() -> str:
    from tests.builders import ROOT

    guide = (ROOT / "docs" / "operations.md").read_text()
    [section] = re.findall(
        r"^### Rotating the voter-token key\n(.*?)(?=^##)", guide, re.MULTILINE | re.DOTALL
    )
    return section


def test_the_guide_drops_the_old_key_once_the_stack_s_passes_have_expired() -> None:
    from sam_emulator.template.cfn_yaml import load_yaml_file
    from talkrate.config import Settings
    from tests.builders import ROOT

    template = load_yaml_file(ROOT / "template.yaml")
    # Given the lifetime of the stack's passes: the template sets no VOTER_TOKEN_HOURS (its
    # parameters have none), so the settings' own
    environment = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"],
    }
    assert "VOTER_TOKEN_HOURS" not in environment
    assert Settings.voter_token_hours == 7 * 24
    section = _rotation_guide()
    # Then the guide says when to drop the old key by that lifetime, with the minutes after the
    # put in which warm environments may still sign with it
    assert "7 days and 5 minutes after the put" in " ".join(section.split())
    # And every name it gives a setting of the stack is one (it named a VoterTokenHours the
    # template never had)
    names = set(template["Parameters"]) | set(template["Outputs"]) | set(template["Resources"])
    for name in re.findall(r"`([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)`", section):
        assert name in names, name


def _put_as_the_guide_does(client: object, arn: str, options: str, program: str) -> None:
    """The guide's `put-secret-value`: jq's filter over the secret as it is, with the new key
    in KEY, its output as the file it is put from holds it."""
    current = client.get_secret_value(SecretId=arn)["SecretString"]  # type: ignore[attr-defined]
    ran = subprocess.run(
        ["jq", options, program],
        input=current,
        env={**os.environ, "KEY": NEW_KEY},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    rotate(client, arn, **json.loads(ran.stdout))


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_guide_s_rotations_keep_or_end_the_passes_as_it_says(
    secret: tuple[object, str],
) -> None:
    client, arn = secret
    section = _rotation_guide()
    [planned, leaked] = re.findall(r"KEY=\"\$key\" jq (-c|-nc) '([^']+)'", section)
    [dropped] = re.findall(r"\| jq -c '([^']+)' >", section)
    before = container(arn, Clock()).issue(NOW)
    # When the operator rotates as the guide plans: the old key's passes count, new ones are
    # the new key's
    _put_as_the_guide_does(client, arn, *planned)
    api = container(arn, Clock())
    assert api.verify(before.token, NOW) == before.voter_id
    assert signed_by(NEW_KEY, api.issue(NOW).token)
    # And once the old key is dropped, as the guide says when its passes have expired, they do not
    _put_as_the_guide_does(client, arn, "-c", dropped)
    assert refused_where_started(arn, before.token)
    assert container(arn, Clock()).verify(api.issue(NOW).token, NOW)
    # And the leak's rotation ends the old key's passes at once, keeping none of it
    rotate(client, arn, key=OLD_KEY)
    _put_as_the_guide_does(client, arn, *leaked)
    assert refused_where_started(arn, before.token)
    held = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])  # type: ignore[attr-defined]
    assert held == {"key": NEW_KEY}
