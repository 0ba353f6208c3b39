"""Reading the counts back: a baseline before the crowd, the projector awaited after it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from talkrate_cli.client import Api
from talkrate_cli.errors import CliError
from talkrate_cli.simulation.ledger import VALUES

Histograms = dict[str, Counter[str]]


def snapshot(api: Api, talk_ids: Iterable[str]) -> Histograms:
    """Every named talk's histogram, from the programme's pages (one request per 100 talks)."""
    wanted = set(talk_ids)
    found: Histograms = {}
    for talk in api.iter_talks():
        if talk["id"] in wanted:
            summary = talk.get("summary")
            if summary is None:
                raise CliError(f"talk {talk['id']} has no rating summary (is the read model up?)")
            found[talk["id"]] = Counter({v: int(summary["ratings"].get(v, 0)) for v in VALUES})
    missing = wanted - set(found)
    if missing:
        raise CliError(f"talks gone from the catalog during the run: {sorted(missing)[:5]}")
    return found


def settled(api: Api, talk_ids: list[str], seconds: float = 15.0) -> Histograms:
    """A snapshot that stayed the same for a second (earlier ratings still being projected
    would otherwise be taken for the crowd's)."""
    deadline = time.monotonic() + seconds
    last = snapshot(api, talk_ids)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = snapshot(api, talk_ids)
        if now == last:
            return now
        last = now
    return last


@dataclass
class Verdict:
    """How the counts compare with what the 202s imply."""

    expected: int
    counted: int
    disagreeing: dict[str, tuple[dict[str, int], dict[str, int]]]  # talk: (expected, counted)
    waited: float
    whereabouts: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Counted equals expected and every talk agrees."""
        return self.counted == self.expected and not self.disagreeing


def compare(baseline: Histograms, delta: Histograms, now: Histograms, waited: float) -> Verdict:
    """Each talk's histogram against its baseline plus the crowd's delta."""
    disagreeing = {}
    expected = counted = 0
    for talk_id, before in baseline.items():
        want = {v: before[v] + delta.get(talk_id, Counter())[v] for v in VALUES}
        have = {v: now[talk_id][v] for v in VALUES}
        expected += sum(want.values()) - sum(before.values())
        counted += sum(have.values()) - sum(before.values())
        if want != have:
            disagreeing[talk_id] = (want, have)
    return Verdict(expected, counted, disagreeing, waited)


def await_projection(
    api: Api,
    baseline: Histograms,
    delta: Histograms,
    timeout: float,
    progress: Callable[[Verdict], None],
) -> Verdict:
    """Poll until every talk agrees, or nothing changed for a while, or the timeout passes."""
    started = time.monotonic()
    last_counted, last_change = None, started
    while True:
        now = snapshot(api, baseline)
        verdict = compare(baseline, delta, now, time.monotonic() - started)
        progress(verdict)
        if verdict.ok:
            return verdict
        if verdict.counted != last_counted:
            last_counted, last_change = verdict.counted, time.monotonic()
        quiet = time.monotonic() - last_change
        if time.monotonic() - started > timeout or (
            quiet > 30 and verdict.counted >= verdict.expected
        ):
            return verdict
        time.sleep(0.5)


def diagnose(api: Api, event_ids: list[str], limit: int = 2000) -> dict[str, list[str]]:
    """Where each accepted rating of a disagreeing talk is (GET /ratings/{eventId}): event ids
    by status ("projected", "accepted", "queued", or the HTTP status of a refusal)."""
    from talkrate_cli.errors import ApiProblem

    where: dict[str, list[str]] = {}
    for event_id in event_ids[:limit]:
        try:
            status = str(api.json("GET", f"/ratings/{event_id}")["status"])
        except ApiProblem as problem:
            status = f"HTTP {problem.status}"
        where.setdefault(status, []).append(event_id)
    return where
