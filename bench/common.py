"""What every part of the benchmark shares: its backends, percentiles, figures and child processes.

The bench uses its own catalog database (talkrate_bench) and Redis database (13) on loopback, so
it never touches the dev data (talkrate, Redis 0) or the tests' (talkrate_test, Redis 15).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tests.backends import DB_SUFFIX, POSTGRES, REDIS

ROOT = Path(__file__).resolve().parent.parent
# The suite's servers (TEST_POSTGRES, TEST_REDIS, TEST_DB_SUFFIX: tests/backends.py), so two
# checkouts can bench side by side.
TALKS_CONNECTION = f"{POSTGRES}/talkrate_bench{DB_SUFFIX}"
RATINGS_CONNECTION = f"{REDIS}/13"
RATINGS_TOPIC = "ratings"
# Rate limits for load from one address: raised, not turned off, so the limiter's round trip
# stays on the measured path (talkrate.adapters.limiter).
LOAD_LIMIT = 1_000_000  # the most every limit setting takes (config.Settings)
LOAD_LIMITS = {
    "RATINGS_PER_ADDRESS_PER_MINUTE": str(LOAD_LIMIT),
    "RATINGS_PER_VOTER_PER_MINUTE": str(LOAD_LIMIT),
    "VOTERS_PER_ADDRESS_PER_MINUTE": str(LOAD_LIMIT),
}
LOAD_LIMIT_PARAMETERS = [
    "--param",
    f"RatingsPerAddressPerMinute={LOAD_LIMIT}",
    "--param",
    f"RatingsPerVoterPerMinute={LOAD_LIMIT}",
    "--param",
    f"VotersPerAddressPerMinute={LOAD_LIMIT}",
]
# What the template gives every function (Globals), with the LogLevel parameter's default.
FUNCTION_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "talkrate",
    "POWERTOOLS_METRICS_NAMESPACE": "talkrate",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
# Settings that would send a function elsewhere than the bench backends (or to real AWS).
_UNSET = (
    "STATS_FUNCTION_NAME",
    "REBUILD_FUNCTION_NAME",
    "RATINGS_LAMBDA_URL",
    "CONNECTIONS_SECRET_ARN",
    "STREAMS_SECRET_ARN",
    "LAMBDA_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)


# --- statistics ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """Count, p50, p90, p99, max and mean of a series (milliseconds, usually)."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 4),
        "p90": round(percentile(values, 90), 4),
        "p99": round(percentile(values, 99), 4),
        "max": round(max(values), 4),
        "mean": round(sum(values) / len(values), 4),
    }


def quantile_curve(values: Sequence[float]) -> list[float]:
    """The 0th to 100th percentiles in steps of 1: enough to draw a distribution, small to keep."""
    return [round(percentile(values, q), 4) for q in range(101)]


# --- figures ------------------------------------------------------------------------------------

Goal = Literal["at-most", "at-least", "floor", "beside-floor", "zero", "info"]


@dataclass(frozen=True)
class Figure:
    """One printed figure with what it is judged against.

    at-most / at-least: value against a target (ratio = value / target, met at ≤ 1 / ≥ 1);
    floor: value against a measured floor (ratio = value / floor, met at ≤ `limit`);
    beside-floor: the same ratio, shown without a verdict (no target on it);
    zero: a count that should be 0; info: no reference.
    """

    part: str
    name: str
    value: float
    unit: str
    goal: Goal = "info"
    reference: float | None = None
    limit: float = 1.0
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value over its target or floor."""
        if self.reference is None or self.reference == 0 or self.goal in ("zero", "info"):
            return None
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        """Whether the figure meets its target (None when it has none)."""
        ratio = self.ratio
        if self.goal == "zero":
            return self.value == 0
        if ratio is None or self.goal == "beside-floor":
            return None
        if self.goal == "at-least":
            return ratio >= self.limit
        return ratio <= self.limit

    def against(self) -> str:
        """The reference in words."""
        if self.goal == "at-most":
            return f"target ≤ {_number(self.reference)} {self.unit}"
        if self.goal == "at-least":
            return f"target ≥ {_number(self.reference)} {self.unit}"
        if self.goal == "floor":
            return f"floor {_number(self.reference)} {self.unit}, target ≤ {self.limit:g}x"
        if self.goal == "beside-floor":
            return f"floor {_number(self.reference)} {self.unit}"
        if self.goal == "zero":
            return "target 0"
        return ""

    def line(self) -> str:
        """One aligned line for the terminal."""
        ratio = self.ratio
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        return (
            f"{self.part:<10} {self.name:<50} {_number(self.value):>10} {self.unit:<7}"
            f"{self.against():<36}{f'{ratio:.2f}x' if ratio is not None else '':>8}  {verdict}"
            + (f"  ({self.note})" if self.note else "")
        )

    def to_json(self) -> dict[str, Any]:
        """The figure with its ratio and verdict, for results JSON."""
        return {**asdict(self), "ratio": self.ratio, "met": self.met, "against": self.against()}


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# --- backends -----------------------------------------------------------------------------------


def prepare_catalog() -> None:
    """Create talkrate_bench if needed, apply the schema, seed the dev talks."""
    from talkrate_local.database import prepare

    prepare(TALKS_CONNECTION)


def reset_backends() -> None:
    """Empty the bench's event store, outbox, dead letters and bench talks, and its Redis database
    (then build its read model from the empty store).

    The read model keeps applied offsets per topic partition: a fresh broker starts its topics at
    offset 0 again, so the offsets of an earlier run must go (that is why Redis is emptied).
    """
    import psycopg2
    import redis

    connection = psycopg2.connect(TALKS_CONNECTION, connect_timeout=5)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE rating_events, duplicate_positions, dead_letters, rating_outbox"
            )
            cursor.execute("DELETE FROM talks WHERE id LIKE 'bench-%'")
    finally:
        connection.close()
    client = redis.Redis.from_url(RATINGS_CONNECTION, socket_connect_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    # Built again from the emptied event store, as a new deployment's is at once (RelayFunction's
    # first run): reads of a read model not built are answered from the event store instead.
    from talkrate.adapters.redis_store import RedisReadModel
    from talkrate.rebuild import rebuild_if_lost
    from talkrate_local.database import event_store

    with event_store(TALKS_CONNECTION) as store:
        rebuild_if_lost(store, RedisReadModel(RATINGS_CONNECTION), lambda _: None)


def add_talks(ids: Iterable[str], title: str) -> None:
    """Put talks in the bench catalog (the API answers 404 for a talk it does not know)."""
    import psycopg2

    talk_ids = list(ids)
    connection = psycopg2.connect(TALKS_CONNECTION, connect_timeout=5)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO talks (id, title) SELECT unnest(%s::text[]), %s "
                "ON CONFLICT (id) DO NOTHING",
                (talk_ids, title),
            )
    finally:
        connection.close()


# Settings the template gives a function of its own (the API's bound on PostgreSQL's answers),
# taken from template.yaml for the part that runs that function in process.
OWN_SETTINGS = ("TALKS_TIMEOUT_SECONDS",)


def function_environment(bootstrap: str, function: str | None = None) -> dict[str, str]:
    """This process's environment pointed at the bench backends, as the template configures a
    function (`function`: "api", "projector"...: with the settings the template gives it alone);
    no StatsFunction (GET /ratings answers without stats in process)."""
    environment = {k: v for k, v in os.environ.items() if k not in _UNSET and k not in OWN_SETTINGS}
    environment.update(FUNCTION_ENVIRONMENT)
    if function is not None:
        from sam_emulator.template import load_template

        template = load_template((ROOT / "template.yaml").resolve(), {})
        own = template.functions[f"{function.capitalize()}Function"].environment
        environment.update({name: own[name] for name in OWN_SETTINGS if name in own})
    environment.update(
        {
            "TALKS_CONNECTION": TALKS_CONNECTION,
            "RATINGS_CONNECTION": RATINGS_CONNECTION,
            "STREAMS_CONNECTION": bootstrap,
            "RATINGS_TOPIC": RATINGS_TOPIC,
            **LOAD_LIMITS,
        }
    )
    return environment


# --- child processes ----------------------------------------------------------------------------


class PartFailed(Exception):
    """A part of the benchmark could not run to its end."""


def run_part(
    module: str, args: Sequence[str], environment: Mapping[str, str], timeout: float
) -> dict[str, Any]:
    """Run `python -m module --out FILE args...` and return the JSON it wrote.

    The child's stdout (the functions' logs and metrics) goes to /dev/null: written, as on Lambda,
    but not to a terminal that would slow it down. Past `timeout` it gets SIGINT, so it stops what
    it started, then SIGKILL if it hangs.
    """
    with tempfile.TemporaryDirectory(prefix="talkrate-bench-") as folder:
        out, errors = Path(folder) / "result.json", Path(folder) / "stderr.log"
        command = [sys.executable, "-m", module, "--out", str(out), *args]
        with errors.open("wb") as stderr:
            process = subprocess.Popen(
                command, cwd=ROOT, env=dict(environment), stdout=subprocess.DEVNULL, stderr=stderr
            )
            try:
                code = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _interrupt(process)
                raise PartFailed(f"{module} ran past {timeout:.0f} s{_tail(errors)}") from None
            except BaseException:
                _interrupt(process)
                raise
        if code != 0 or not out.exists():
            raise PartFailed(f"{module} exited with {code}{_tail(errors)}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path) -> str:
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    return f":\n{text[-3000:]}" if text else ""


def child_main(
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    measure: Callable[[argparse.Namespace], dict[str, Any]],
) -> None:
    """Entry point of a part run as a child: parse options, measure, write the JSON to --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True)
    add_arguments(parser)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args)
    result["seconds"] = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps(result, indent=1))
