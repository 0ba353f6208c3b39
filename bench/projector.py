"""Projector throughput: events/s folding batches of 100, 1,000 and 10,000 records over 1,000 talks.

    python -m bench.projector --out result.json [--repeats 30,10,3]   (run by `python -m bench`)

Per batch size, each on fresh records at fresh offsets (a record at or below the applied offset
would be skipped, and skipping is not projecting):
- full: `talkrate.projection.project_batch` with the PostgreSQL event store and the Redis read
  model, as the projector runs it;
- read model only: `RedisReadModel.apply(classify(records))`, without the event store;
- steps: classify, event store, read model, timed one after the other on the same batch;
- raw: redis-py, one pipelined HINCRBY per record, one round trip per batch: what Redis does for
  the same records without parsing, deduplicating or aggregating;
- cluster: the full path with the read model on a local Redis Cluster (three primaries, three
  replicas, from the machine's redis-server; `replicas=1`, as the fault suite runs it), and raw
  pipelined HINCRBY on the same cluster, when redis-server is there;
- a conference's rooms: at batches of 1,000 only, the full path, the read model alone and raw
  HINCRBY on records over ROOMS talks (the talks of a conference's rooms at one time: what a
  batch of the last seconds holds), beside the same over 1,000 talks;
- before the cluster work: the read model as it was at commit b5a325f (one Redis only), taken
  from the repository's history with git into a temporary folder, on Redis database 12, against
  today's read model alone: so "one Redis is no slower than before cluster mode" stays measured
  (left out, with a line saying why, where git or that commit is not at hand).
Records are built before the clock starts; the process is single-threaded Python (one core), with
PostgreSQL and Redis in their own processes.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import child_main

TALKS = 1000
ROOMS = 20  # a conference's rooms: the talks a batch of the last seconds is about
PARTITIONS = 3
SIZES = (100, 1000, 10_000)
ROOMS_SIZE = 1000  # the batch size the rooms' figures are measured at


class Records:
    """Fresh Kafka records of RatingSubmitted events, at increasing offsets per topic."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)  # noqa: S311 - test data, not secrets  # nosec B311
        self._talks = [f"bench-projector-{i:04d}" for i in range(TALKS)]
        self._next_offset: dict[str, int] = {}
        self._run = uuid.uuid4().hex[:8]

    def batch(
        self, variant: str, size: int, talks: int = TALKS
    ) -> tuple[list[Any], list[tuple[str, str]]]:
        """`size` records of one topic (spread over its partitions) about the first `talks`
        talks, and their (talk, value)."""
        from talkrate.events import Rating
        from talkrate.projection import StreamRecord

        topic = f"bench-{self._run}-{variant}-{size}"
        first = self._next_offset.get(topic, 0)
        records, pairs = [], []
        for i in range(size):
            talk, value = self._random.choice(self._talks[:talks]), self._random.randint(1, 5)
            event = Rating.new(talk, value)
            partition, offset = i % PARTITIONS, first + i // PARTITIONS
            records.append(StreamRecord(topic, partition, offset, event.key, event.to_json()))
            pairs.append((talk, str(value)))
        self._next_offset[topic] = first + size // PARTITIONS + 1
        return records, pairs


def _seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def raw_hincrby(client: Any, pairs: list[tuple[str, str]]) -> float:
    """Seconds raw redis-py takes to send one pipelined HINCRBY per (talk, value), in one round
    trip: the floor the projector's path is compared with."""

    def run() -> None:
        pipe = client.pipeline(transaction=False)
        for talk, value in pairs:
            pipe.hincrby(f"bench-raw/{talk}", value, 1)
        pipe.execute()

    return _seconds(run)[0]


BEFORE_CLUSTER_COMMIT = "b5a325f"  # the read model's last commit before cluster mode


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Events/s per batch size and variant (medians over the repeats)."""
    from talkrate import wiring

    store, read_model = wiring.event_store(), wiring.read_model()
    cluster = _start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="talkrate-bench-") as folder:
            before = _read_model_before_cluster(Path(folder))
            return _measure(args, store, read_model, cluster, before)
    finally:
        wiring.reset()
        if cluster:
            cluster.stop()


def _read_model_before_cluster(folder: Path) -> Any:
    """The read model of BEFORE_CLUSTER_COMMIT on its own Redis database, or None."""
    from tests.backends import REDIS

    module = read_model_module_before_cluster(folder)
    if module is None:
        return None
    model = module.RedisReadModel(f"{REDIS}/12")
    model.client.flushdb()
    return model


def read_model_module_before_cluster(folder: Path) -> Any:
    """The read model module of BEFORE_CLUSTER_COMMIT, loaded from a file in `folder` against
    today's shared package, or None (with a line saying why) without git or that commit."""
    from bench.common import ROOT

    path = "layers/shared/talkrate/adapters/redis_store.py"
    try:
        source = subprocess.run(  # nosec B603 B607
            ["git", "-C", str(ROOT), "show", f"{BEFORE_CLUSTER_COMMIT}:{path}"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        print(f"projector: no read model of {BEFORE_CLUSTER_COMMIT} to compare with ({error})")
        return None
    # The values it took from talkrate.ports live in talkrate.projected since 9371b25.
    source = source.replace(b"from talkrate.ports import", b"from talkrate.projected import")
    module_path = folder / "read_model_before_cluster.py"
    module_path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("read_model_before_cluster", module_path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measure(
    args: argparse.Namespace, store: Any, read_model: Any, cluster: Any, before: Any
) -> dict[str, Any]:
    from talkrate.adapters.redis_store import RedisReadModel
    from talkrate.projection import classify, project_batch
    from talkrate.rebuild import rebuild_if_lost

    cluster_model = RedisReadModel(f"{cluster.url}&replicas=1") if cluster else None
    # Each read model built as a new deployment's is (the projector's first batch, from the
    # event store as it is): the apply refuses a Redis without its built mark, and the cluster
    # is new. Bench's own Redis database was built by reset_backends; looked at again here,
    # for a run of this part alone.
    for target in (read_model, cluster_model):
        if target is not None:
            rebuild_if_lost(store, target, lambda _: None)
    gc.freeze()  # as the projector's init does (functions/projector/app.py)
    repeats = dict(zip(SIZES, (int(n) for n in args.repeats.split(",")), strict=True))
    records = Records(seed=6)

    Variant = Callable[[list[Any], list[tuple[str, str]]], dict[str, float]]

    def projected(model: Any) -> Variant:
        """The full path, as the projector runs it, with this read model."""

        def full(batch: list[Any], _: list[tuple[str, str]]) -> dict[str, float]:
            seconds, result = _seconds(lambda: project_batch(iter(batch), store, model))
            assert result.applied == len(batch), result
            return {"total": seconds}

        return full

    def applied_alone(model: Any) -> Variant:
        """This read model alone: apply(classify(records)), without the event store."""

        def read_model_only(batch: list[Any], _: list[tuple[str, str]]) -> dict[str, float]:
            seconds, result = _seconds(lambda: model.apply(classify(iter(batch))))
            assert result.applied == len(batch), result
            return {"total": seconds}

        return read_model_only

    def raw_on(client: Any) -> Variant:
        """Raw redis-py, one pipelined HINCRBY per record, on this client."""

        def raw(_: list[Any], pairs: list[tuple[str, str]]) -> dict[str, float]:
            return {"total": raw_hincrby(client, pairs)}

        return raw

    def steps(batch: list[Any], _: list[tuple[str, str]]) -> dict[str, float]:
        classify_s, classified = _seconds(lambda: classify(iter(batch)))
        record_s, recorded = _seconds(lambda: store.record(classified))
        apply_s, result = _seconds(lambda: read_model.apply(recorded))
        assert result.applied == len(batch), result
        return {
            "classify": classify_s,
            "event_store": record_s,
            "read_model": apply_s,
            "total": classify_s + record_s + apply_s,
        }

    variants: dict[str, Variant] = {
        "full": projected(read_model),
        "read_model_only": applied_alone(read_model),
        "steps": steps,
        "raw_hincrby": raw_on(read_model.client),
    }
    # Over a conference's rooms, at ROOMS_SIZE only: their names say so in the results.
    rooms: dict[str, Variant] = {
        "rooms_full": projected(read_model),
        "rooms_read_model_only": applied_alone(read_model),
        "rooms_raw_hincrby": raw_on(read_model.client),
    }
    if before is not None:
        variants["read_model_before_cluster"] = applied_alone(before)
    if cluster_model is not None:
        variants["cluster_full"] = projected(cluster_model)
        variants["cluster_raw_hincrby"] = raw_on(cluster_model.client)
    for name, variant in variants.items():  # connections, scripts, caches: not measured
        variant(*records.batch(f"warmup-{name}", 100))
    for name, variant in rooms.items():
        variant(*records.batch(f"warmup-{name}", 100, ROOMS))

    results: dict[str, dict[str, Any]] = {}
    for size in SIZES:
        measured = {**variants, **(rooms if size == ROOMS_SIZE else {})}
        timings: dict[str, list[dict[str, float]]] = {name: [] for name in measured}
        for _ in range(repeats[size]):
            for name, variant in measured.items():  # interleaved: each sees the same machine
                talks = ROOMS if name in rooms else TALKS
                timings[name].append(variant(*records.batch(name, size, talks)))
        results[str(size)] = {
            name: {
                "repeats": len(runs),
                "events_per_s": round(size / statistics.median(r["total"] for r in runs)),
                "events_per_s_all": [round(size / r["total"]) for r in runs],
                "ms": {
                    part: round(statistics.median(r[part] for r in runs) * 1000, 3)
                    for part in runs[0]
                },
            }
            for name, runs in timings.items()
        }
    return {
        "talks": TALKS,
        "rooms": ROOMS,
        "partitions": PARTITIONS,
        "sizes": list(SIZES),
        "before_cluster_commit": BEFORE_CLUSTER_COMMIT if before is not None else None,
        "results": results,
    }


def _start_cluster() -> Any:
    """A local Redis Cluster for the cluster figures, or None without redis-server."""
    import shutil

    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        return None
    from tests.redis_cluster import LocalRedisCluster

    return LocalRedisCluster().start()


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeats", default="30,10,3", help="batches measured per size: 100,1000,10000"
    )


if __name__ == "__main__":
    child_main(__doc__.splitlines()[0], _arguments, measure)
