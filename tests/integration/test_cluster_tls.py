"""The read model on a Redis Cluster that speaks only TLS (`rediss://…?cluster=true`, what
ElastiCache Serverless is): a one-node cluster holding every slot, its certificate issued by an
authority of the test's own. The cluster's client is made with connections of talkrate's own
(talkrate.adapters.cluster_client), handed the URL as redis:// with the TLS class: this checks
that it speaks TLS to the node and verifies it against the URL's authority.
Real PostgreSQL, Redis and Kafka-API broker; the functions' handlers called in process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from sam_emulator.serving import free_port
from talkrate.adapters.cluster_client import BoundedCluster, BudgetedSSLConnection
from talkrate.adapters.redis_store import connect
from tests.backends import built
from tests.builders import (
    LambdaContextStub,
    kafka_event,
    load_function,
    rating_event,
    ratings_batch,
)
from tests.integration.conftest import Call
from tests.tls_redis import tls_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """A one-node Redis Cluster speaking only TLS, every slot its own, its certificate for
    127.0.0.1 by an authority of the test's: its port, that authority's certificate and
    another authority's."""
    cluster = [
        *("--cluster-enabled", "yes", "--cluster-port", str(free_port())),
        *("--cluster-config-file", str(tmp_path / "nodes.conf"), "--tls-cluster", "yes"),
    ]
    with tls_redis(tmp_path, "127.0.0.1", "IP:127.0.0.1", cluster) as (port, ca, other_ca):
        node = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca))
        node.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 20
        while node.cluster("info")["cluster_state"] != "ok":
            assert time.monotonic() < deadline, "the one-node cluster never came up"
            time.sleep(0.05)
        node.close()
        yield port, ca, other_ca


def test_a_cluster_over_tls_is_spoken_to_in_tls_and_verified(
    tls_cluster: tuple[int, Path, Path],
) -> None:
    port, ca, other_ca = tls_cluster
    # Given the URL an operator gives for such a cache
    url = f"rediss://127.0.0.1:{port}?cluster=true&ssl_ca_certs={ca}"
    # When talkrate's client is made from it and used
    client = connect(url)
    assert isinstance(client, BoundedCluster)
    client.set("{t}:a", "1")
    pipe = client.pipeline()
    pipe.incr("{t}:a")
    pipe.get("{t}:a")
    assert pipe.execute() == [2, b"2"]
    # Then it spoke TLS to the node, with the class that bounds its waits
    [node] = client.get_nodes()
    pool = node.redis_connection.connection_pool
    assert pool.connection_class is BudgetedSSLConnection
    client.close()
    # And the node's certificate was verified: against another authority no client is made
    stranger = f"rediss://127.0.0.1:{port}?cluster=true&ssl_ca_certs={other_ca}"
    with pytest.raises(redis.exceptions.RedisClusterException, match="CERTIFICATE_VERIFY_FAILED"):
        connect(stranger)


def test_ratings_are_projected_and_read_through_a_cluster_over_tls(
    api: Call,
    configure: Callable[..., None],
    tls_cluster: tuple[int, Path, Path],
    talks_dsn: str,
    talk: str,
    topic: str,
) -> None:
    # Given the functions on a cluster that speaks only TLS, its read model built
    port, ca, _ = tls_cluster
    url = f"rediss://127.0.0.1:{port}?cluster=true&ssl_ca_certs={ca}"
    built(url, talks_dsn)
    configure(RATINGS_CONNECTION=url)
    # When a batch of ratings is projected and the talk read
    load_function("projector")(
        kafka_event(ratings_batch(topic, 0, 0, [rating_event(talk, 5), rating_event(talk, 3)])),
        LambdaContextStub("projector"),
    )
    read = api("GET", "/ratings", query={"talkId": talk})
    # Then the counts come from the read model on the cluster
    assert read["statusCode"] == 200, read["body"]
    assert read["json"]["source"] == "read-model"
    assert (read["json"]["ratings"]["5"], read["json"]["ratings"]["3"]) == (1, 1)
