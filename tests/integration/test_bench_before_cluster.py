"""The bench's yardstick for "one Redis is no slower than before cluster mode": the read model of
that commit, taken from the repository's history, still loads against today's shared package
and applies a batch (it broke once when the values it imports moved)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.projector import BEFORE_CLUSTER_COMMIT, read_model_module_before_cluster
from talkrate.events import Rating
from talkrate.projection import StreamRecord, classify
from tests.builders import unique_talk_id
from tests.workers import own_redis_server

pytestmark = pytest.mark.integration


def test_the_read_model_before_cluster_mode_loads_and_applies_a_batch(tmp_path: Path) -> None:
    # Given the read model of the commit before cluster mode, on a Redis of the test's own (the
    # bench's database, 13, which it used, is `make bench`'s: a test run beside a bench emptied it)
    module = read_model_module_before_cluster(tmp_path)
    if module is None:
        # A shallow clone: skipped on a developer's checkout, never in CI (which clones whole)
        message = f"no git history with {BEFORE_CLUSTER_COMMIT} in this checkout"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    model = module.RedisReadModel(f"{own_redis_server()}/0")
    model.client.flushdb()
    talk = unique_talk_id()
    records = [
        StreamRecord("bench-before", 0, offset, talk.encode(), Rating.new(talk, value).to_json())
        for offset, value in enumerate((5, 4, 5))
    ]
    try:
        # When it applies a batch parsed by today's projection
        result = model.apply(classify(records))
        # Then every record counts, once, in its histogram
        assert result.applied == 3
        assert model.histogram(talk).counts == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}
        assert model.apply(classify(records)).applied == 0
    finally:
        model.client.flushdb()
