"""Projector experiment: the event store and the read model overlapped inside one batch.

    python -m bench.projector_overlap [--talks DSN] [--ratings URL] [--batches 20] [--warmup 3]
        [--out result.json]

Not part of `python -m bench`: a measurement for docs/performance.md (twenty-second round). At
batches of 1,000 records over 1,000 talks and 3 partitions (bench.projector's records and its raw
pipelined HINCRBY), interleaved, each variant on fresh records at fresh offsets, the order of
the variants turned by one each round:
- raw: redis-py, one pipelined HINCRBY per record (bench.projector.raw_hincrby);
- today: `talkrate.projection.project_batch` with the PostgreSQL event store and the Redis read
  model, as the projector runs it;
- overlap_k (k = 2, 4, 8): the batch cut into k runs of consecutive records; a worker thread
  records run i+1 in the event store while the main thread applies run i to the read model
  (psycopg2 and redis-py both wait for their server without the GIL), and the main thread
  classifies run i+1 while run i is being recorded; its parts: the worker's seconds recording,
  the main thread's applying, and the main thread's waiting for a run to be recorded. Runs are recorded in order, one at a time,
  and each is applied only after it is recorded, so the event store is never behind the read
  model and is ahead of it by at most one run;
- overlap_4_fine: overlap_4 with the interpreter's switch interval at 0.5 ms instead of 5 ms
  (a thread whose server answered waits at most that long for the GIL);
- serial_k: the same runs, recorded and applied one after the other without the thread: what
  cutting the batch costs by itself (k commits, k scripts), with its seconds recording and
  applying;
- read_model: `RedisReadModel.apply(classify(records))`, without the event store;
- event_store: `PostgresEventStore.record` of the classified batch (classify not timed);
- parts: the read model's steps on fresh records, each timed: parse (classify), plan, payload
  and the apply script's round trip (as `_apply_on_one` sends it).
Each variant's figure is its median time; its ratio is raw's median time over it (above 1.0x:
faster than raw), with the median of the per-round ratios beside it. Uses the event store at
--talks (schema applied if needed) and the Redis database at --ratings (built from the event
store if it is not).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import RATINGS_CONNECTION, TALKS_CONNECTION
from bench.projector import PARTITIONS, TALKS, Records, raw_hincrby

SIZE = 1000
CHUNKS = (2, 4, 8)
FINE_SWITCH_S = 0.0005  # overlap_4_fine's switch interval (the interpreter's default: 5 ms)


def _runs(records: list[Any], k: int) -> list[list[Any]]:
    """The records cut into k runs of consecutive records (sizes apart by at most one)."""
    size, extra = divmod(len(records), k)
    runs, start = [], 0
    for i in range(k):
        end = start + size + (1 if i < extra else 0)
        runs.append(records[start:end])
        start = end
    return runs


class Projection:
    """The projection's steps on one event store and read model, whole, cut, or overlapped."""

    def __init__(self, store: Any, model: Any) -> None:
        self.store, self.model = store, model
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-store")

    def classified(self, records: list[Any]) -> Any:
        """A run's batch as project_batch hands it to the event store."""
        from talkrate.projection import classify, stored_by_an_earlier_try

        return stored_by_an_earlier_try(records, classify(records), self.store)

    def today(self, records: list[Any]) -> int:
        from talkrate.projection import project_batch

        applied: int = project_batch(iter(records), self.store, self.model).applied
        return applied

    def serial(self, records: list[Any], k: int) -> dict[str, float]:
        """The runs recorded and applied one after the other, in this thread: the records
        applied and the seconds spent recording and applying."""
        spent = {"applied": 0.0, "record": 0.0, "apply": 0.0}
        for run in _runs(records, k):
            classified = self.classified(run)
            started = time.perf_counter()
            recorded = self.store.record(classified)
            applying = time.perf_counter()
            spent["applied"] += self.model.apply(recorded).applied
            spent["record"] += applying - started
            spent["apply"] += time.perf_counter() - applying
        return spent

    def overlapped(self, records: list[Any], k: int) -> dict[str, float]:
        """Run i+1 recorded by the worker while run i is applied here; in order, one run
        recorded at a time, each applied only once recorded; a failure waits for the run in
        flight before it is raised (the batch then fails whole and is delivered again).
        Returns the records applied, the seconds the worker spent recording, the main thread
        applying, and the main thread waiting for a run's record."""
        runs = _runs(records, k)
        spent = {"applied": 0.0, "record": 0.0, "apply": 0.0, "waited": 0.0}

        def record(batch: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.store.record(batch)
            finally:
                spent["record"] += time.perf_counter() - started

        pending: Future[Any] | None = self.worker.submit(record, self.classified(runs[0]))
        try:
            for i in range(k):
                following = self.classified(runs[i + 1]) if i + 1 < k else None
                assert pending is not None
                started = time.perf_counter()
                recorded = pending.result()
                applying = time.perf_counter()
                pending = None
                if following is not None:
                    pending = self.worker.submit(record, following)
                spent["applied"] += self.model.apply(recorded).applied
                spent["waited"] += applying - started
                spent["apply"] += time.perf_counter() - applying
        finally:
            if pending is not None:
                pending.exception()  # waited for; a failure's own error is the one raised
        return spent

    def read_model(self, records: list[Any]) -> int:
        from talkrate.projection import classify

        applied: int = self.model.apply(classify(records)).applied
        return applied

    def parts(self, records: list[Any]) -> dict[str, float]:
        """The read model's apply in its steps, each timed (one Redis, as _apply_on_one)."""
        from talkrate.adapters.redis_store import (
            _APPLY_KEYS,
            _KEY_FORMATS,
            _PRIOR,
            _payload,
            _plan,
        )
        from talkrate.projection import classify

        started = time.perf_counter()
        batch = classify(records)
        parsed = time.perf_counter()
        talks, marks = _plan(batch)
        planned = time.perf_counter()
        payload = _payload(list(talks), talks, marks)
        packed = time.perf_counter()
        fixed = [*_PRIOR, 1, 2, 3, 0, *_KEY_FORMATS, "0", 4]
        reply = self.model._eval("apply", _APPLY_KEYS, [payload, *fixed])
        ended = time.perf_counter()
        assert int(reply[0]) == len(records), reply[:4]
        return {
            "parse": parsed - started,
            "plan": planned - parsed,
            "payload": packed - planned,
            "script": ended - packed,
            "total": ended - started,
        }

    def close(self) -> None:
        self.worker.shutdown(wait=True)


def _timed(call: Callable[[], Any], size: int) -> dict[str, float]:
    """The call's seconds ("total"), with the parts of its time it returns (a dict, whose
    "applied" is checked and left out) or only checked (a count applied)."""
    started = time.perf_counter()
    done = call()
    seconds = time.perf_counter() - started
    parts = dict(done) if isinstance(done, dict) else {"applied": done}
    assert parts.pop("applied") == size, (done, size)
    return {**parts, "total": seconds}


def _fine(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        before = sys.getswitchinterval()
        sys.setswitchinterval(FINE_SWITCH_S)
        try:
            return call()
        finally:
            sys.setswitchinterval(before)

    return run


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Median times and ratios against raw HINCRBY per variant, interleaved."""
    from talkrate.adapters.postgres import PostgresDatabase, PostgresEventStore
    from talkrate.adapters.redis_store import RedisReadModel
    from talkrate.rebuild import rebuild_if_lost
    from talkrate_local.database import prepare

    prepare(args.talks)
    database = PostgresDatabase(args.talks, name="talkrate")
    store, model = PostgresEventStore(database), RedisReadModel(args.ratings)
    rebuild_if_lost(store, model, lambda _: None)
    projection = Projection(store, model)
    gc.freeze()  # as the projector's init does
    records = Records(seed=22)

    Variant = Callable[[list[Any], list[tuple[str, str]]], dict[str, float]]

    def timed(call: Callable[[list[Any]], Any], fine: bool = False) -> Variant:
        def variant(batch: list[Any], _: list[tuple[str, str]]) -> dict[str, float]:
            run = _fine(lambda: call(batch)) if fine else (lambda: call(batch))
            return _timed(run, len(batch))

        return variant

    def event_store(batch: list[Any], _: list[tuple[str, str]]) -> dict[str, float]:
        classified = projection.classified(batch)
        started = time.perf_counter()
        store.record(classified)
        return {"total": time.perf_counter() - started}

    variants: dict[str, Variant] = {
        "raw": lambda _, pairs: {"total": raw_hincrby(model.client, pairs)},
        "today": timed(projection.today),
        **{f"overlap_{k}": timed(lambda b, k=k: projection.overlapped(b, k)) for k in CHUNKS},
        "overlap_4_fine": timed(lambda b: projection.overlapped(b, 4), fine=True),
        **{f"serial_{k}": timed(lambda b, k=k: projection.serial(b, k)) for k in CHUNKS},
        "read_model": timed(projection.read_model),
        "event_store": event_store,
        "parts": lambda batch, _: projection.parts(batch),
    }
    names = list(variants)
    timings: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    loads = [round(x, 2) for x in os.getloadavg()]
    try:
        for round_ in range(args.warmup + args.batches):
            turned = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in turned:
                timing = variants[name](*records.batch(name, SIZE))
                if round_ >= args.warmup:
                    timings[name].append(timing)
    finally:
        projection.close()
        database.close()
    loads += [round(x, 2) for x in os.getloadavg()]
    raw = [t["total"] for t in timings["raw"]]
    raw_ms = statistics.median(raw) * 1000
    results: dict[str, Any] = {}
    for name, runs in timings.items():
        ms = statistics.median(r["total"] for r in runs) * 1000
        results[name] = {
            "ms": round(ms, 3),
            "events_per_s": round(SIZE / ms * 1000),
            "ratio": round(raw_ms / ms, 3),
            "paired_ratio": round(
                statistics.median(r / v["total"] for r, v in zip(raw, runs, strict=True)), 3
            ),
            "parts_ms": {
                part: round(statistics.median(r[part] for r in runs) * 1000, 3)
                for part in runs[0]
                if part != "total"
            },
        }
    return {
        "size": SIZE,
        "talks": TALKS,
        "partitions": PARTITIONS,
        "batches": args.batches,
        "warmup": args.warmup,
        "loadavg_start_end": loads,
        "results": results,
    }


def _print(result: dict[str, Any]) -> None:
    print(
        f"batches of {result['size']} over {result['talks']} talks, {result['partitions']} "
        f"partitions; {result['batches']} measured each after {result['warmup']} of warm-up; "
        f"load average {result['loadavg_start_end']}"
    )
    print(f"{'variant':<16}{'median ms':>10}{'events/s':>10}{'x raw':>8}{'paired':>8}")
    for name, figures in result["results"].items():
        print(
            f"{name:<16}{figures['ms']:>10.2f}{figures['events_per_s']:>10,}"
            f"{figures['ratio']:>7.2f}x{figures['paired_ratio']:>7.2f}x"
            + (
                "  " + ", ".join(f"{p} {ms:.2f} ms" for p, ms in figures["parts_ms"].items())
                if figures["parts_ms"]
                else ""
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", default=TALKS_CONNECTION, help="the event store's database")
    parser.add_argument("--ratings", default=RATINGS_CONNECTION, help="the read model's Redis")
    parser.add_argument("--batches", type=int, default=20, help="batches measured per variant")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run before measuring")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON too")
    args = parser.parse_args()
    result = measure(args)
    _print(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
