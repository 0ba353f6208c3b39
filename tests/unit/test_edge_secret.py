"""The edge header's values the API believes (talkrate.edge), against Secrets Manager (moto):
CloudFront's value taken before, during and after a rotation, without a cold start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from talkrate.admin_token import REREAD_FLOOR_SECONDS
from talkrate.edge import FixedEdgeSecret, SecretEdgeSecret, _secrets_manager, edge_values

pytestmark = pytest.mark.unit

OLD, NEW, NEWER = "old-edge-value-" + "o" * 33, "new-edge-value-" + "n" * 33, "x" * 48


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    _secrets_manager.cache_clear()  # (a client of another test's mock)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    _secrets_manager.cache_clear()


def counting_reads() -> tuple[list[str], Callable[[str], tuple[bytes, ...]]]:
    reads: list[str] = []

    def read(arn: str) -> tuple[bytes, ...]:
        reads.append(arn)
        return edge_values(arn)

    return reads, read


def test_the_value_the_environment_names_vouches_and_no_other() -> None:
    edge = FixedEdgeSecret(OLD)
    assert edge.vouches(OLD)
    assert not edge.vouches(NEW)
    assert not edge.vouches("")
    assert not edge.vouches(OLD[:-1])


def test_a_rotation_is_taken_by_a_warm_environment_and_both_values_vouch_meanwhile(
    secrets: Any,
) -> None:
    # Given the stack's edge secret, and an API environment that has taken a request with it
    client = secrets
    arn = client.create_secret(Name="talkrate/edge", SecretString=OLD)["ARN"]
    clock = Clock()
    reads, read = counting_reads()
    edge = SecretEdgeSecret(arn, read=read, clock=clock)
    assert edge.vouches(OLD)
    assert not edge.vouches("a guess")
    # When an operator puts a new value (the first step of a rotation), and CloudFront's edge
    # locations, the distribution updated, send either value for a while
    client.put_secret_value(SecretId=arn, SecretString=NEW)
    clock.now += REREAD_FLOOR_SECONDS
    # Then the environment, warm all along, takes the new value (read again after the value it
    # did not know, no cold start) and still the old one (the secret's previous)
    assert edge.vouches(NEW)
    assert len(reads) == 2  # the first request's read, and the one the new value brought
    assert edge.vouches(OLD)
    assert not edge.vouches(NEWER)
    # And once the secret is rotated again, the oldest value is no longer taken (read again
    # within five minutes)
    client.put_secret_value(SecretId=arn, SecretString=NEWER)
    clock.now += 300
    assert not edge.vouches(OLD)
    assert edge.vouches(NEWER)
    assert edge.vouches(NEW)


def test_a_leaked_value_put_away_twice_is_taken_no_more_after_five_minutes(
    secrets: Any,
) -> None:
    # Given a rotation after a leak (operations.md: the new value put, the deploy done)
    client = secrets
    arn = client.create_secret(Name="talkrate/edge", SecretString=OLD)["ARN"]
    clock = Clock()
    edge = SecretEdgeSecret(arn, clock=clock)
    assert edge.vouches(OLD)
    client.put_secret_value(SecretId=arn, SecretString=NEW)
    clock.now += REREAD_FLOOR_SECONDS
    assert edge.vouches(NEW)
    assert edge.vouches(OLD)
    # When the new value is put a second time
    client.put_secret_value(SecretId=arn, SecretString=NEW)
    # Then within five minutes the leaked value is no version's: taken no more
    clock.now += 300
    assert not edge.vouches(OLD)
    assert edge.vouches(NEW)


def test_guesses_read_the_secret_at_most_once_per_floor_and_no_header_never(
    secrets: Any,
) -> None:
    client = secrets
    arn = client.create_secret(Name="talkrate/edge", SecretString=OLD)["ARN"]
    clock = Clock()
    reads, read = counting_reads()
    edge = SecretEdgeSecret(arn, read=read, clock=clock)
    # A request without the header (not through the CDN) reads nothing
    assert not edge.vouches("")
    assert reads == []
    # Wrong values, many, read it once within the floor (the first read), then once more after
    for guess in range(50):
        assert not edge.vouches(f"guess-{guess}")
    assert len(reads) == 1
    clock.now += REREAD_FLOOR_SECONDS
    assert not edge.vouches("guess")
    assert len(reads) == 2


def test_a_secret_that_cannot_be_read_vouches_for_nothing_and_raises_nothing(
    secrets: Any,
) -> None:
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:talkrate/none-AbCdEf"
    edge = SecretEdgeSecret(missing, clock=Clock())
    assert not edge.vouches(OLD)  # counted by the address API Gateway saw, not a 5xx


def test_a_secret_never_rotated_has_its_one_value(secrets: object) -> None:
    client = secrets
    arn = client.create_secret(Name="talkrate/edge", SecretString=OLD)["ARN"]
    assert edge_values(arn) == (OLD.encode(),)


def test_a_secret_never_read_is_tried_again_once_per_floor_not_at_every_request() -> None:
    # Given a secret whose reads fail (throttled in a burst of cold starts, a missing right)
    clock = Clock()
    reads: list[str] = []
    answering = False

    def read(arn: str) -> tuple[bytes, ...]:
        reads.append(arn)
        if not answering:
            raise RuntimeError("ThrottlingException")
        return (OLD.encode(),)

    edge = SecretEdgeSecret("arn:edge", read=read, clock=clock)
    # When a hundred requests come through the CDN within the half minute
    assert not any(edge.vouches(OLD) for _ in range(100))
    # Then the secret was asked once, not a hundred times on the ratings' path
    assert len(reads) == 1
    # And once the half minute is over it is asked again, and its value taken once it answers
    clock.now += REREAD_FLOOR_SECONDS
    assert not edge.vouches(OLD)
    assert len(reads) == 2
    answering = True
    clock.now += REREAD_FLOOR_SECONDS / 2
    assert not edge.vouches(OLD)  # (within the floor of the last failure: not asked)
    assert len(reads) == 2
    clock.now += REREAD_FLOOR_SECONDS / 2
    assert edge.vouches(OLD)
    assert len(reads) == 3
