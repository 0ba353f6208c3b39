"""Reading the counts back: a baseline before the crowd, the projector awaited after it.

Each talk's change from its baseline is compared with what this run's 202s imply. Other
clients may rate the same talks meanwhile (attendees, another simulation): a talk's
`ratingsRevision` (GET /ratings) counts the ratings applied to it, so a change beyond this run's
own is told apart as outside activity when the revision counts that many ratings more than the
run sent, each of which adds one to its value (and, a changed mind, takes one from another).
A lost rating leaves a count missing that no outside rating explains (the revision rose by one
less); a count changed without a rating applied is no one's.

Counts that agree are the verdict only once each talk's revision shows every one of the run's
accepted ratings of it applied: a count changed with no rating applied can stand in for ratings
of the run still being projected, and agree with what the 202s imply until they land. And only
once each of those ratings is said counted (GET /ratings/{eventId}: projected): a rating from
outside with the value of one of the run's that was lost makes the same counts and revision.
The counts are still what finds a rating counted twice.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from talkrate_cli.errors import ApiProblem, CliError
from talkrate_cli.simulation.ledger import VALUES, Ledger

if TYPE_CHECKING:  # (the session's client is passed in: httpx is not loaded for the help)
    from talkrate_cli.client import Api

Histograms = dict[str, Counter[str]]


# How long the counts may be away (the read model being rebuilt: seconds) before a snapshot
# gives up.
UNSUMMED_WAIT_SECONDS = 30.0


# How often, at most, a wait for a busy API is said (each of STATUS_READERS may meet one).
BUSY_SAID_EVERY_SECONDS = 10.0

# How long a 503 without Retry-After is waited out (a gateway's own: API Gateway's while the
# function cannot start or answer in time), which does not say: the verify's own pace, a read
# every 2 s at most, each reader of the statuses alike.
BUSY_WAIT_SECONDS = 2.0

# How long a simulation waits out a busy API (503) while it reads the programme, before anything
# is sent (`simulate --programme-timeout`'s default): a run is often started against a stack
# still coming up (its functions' first environments, its database resuming, a gateway's 503
# while the function cannot start), which answers within tens of seconds; one busy for a
# minute is down, and a job should hear so then.
PROGRAMME_TIMEOUT_SECONDS = 60.0

# How often an API that refuses the connection (nothing listening yet) is tried again before the
# run: a refusal costs nothing, and the run starts as soon as it listens.
REFUSED_WAIT_SECONDS = 0.5


class BusyWait:
    """How a simulation's reads wait out a busy API (a GET answered 503: its read model away, a
    database resuming, say), as `Api.busy_reads`: as long as the answer's Retry-After asks
    (BUSY_WAIT_SECONDS when it gives none), and again, until its `timeout` of seconds
    (`option`) from its making (`until`: another's) has run out, then CliError. Each wait is
    said through `say`, every BUSY_SAID_EVERY_SECONDS at most, naming what it waits to do
    (`doing`). `before_run`: what is done before anything is sent ("the programme was read"),
    which a timeout ends with nothing sent. A 503 ended the run at once: before it, with
    nothing sent; in the verify, with the ratings sent left unverified. An API not listening
    (`refused`: a runtime restarting) is waited for too, before the run and in the verify."""

    def __init__(
        self,
        timeout: float,
        say: Callable[[str], None],
        *,
        doing: str = "read the counts",
        before_run: str | None = None,
        option: str = "--verify-timeout",
        owner: str = "the verify's",
        until: float | None = None,
    ) -> None:
        self.until = time.monotonic() + timeout if until is None else until
        self.timeout = timeout
        self.say = say
        self.doing = doing
        self.before_run = before_run
        self.option = option
        self.owner = owner
        self._said = -BUSY_SAID_EVERY_SECONDS
        self._refused_said = False
        self._lock = threading.Lock()  # (the statuses' readers wait in threads of their own)

    @classmethod
    def programme(cls, timeout: float, say: Callable[[str], None]) -> BusyWait:
        """The programme's read, first of all (which talks to rate), within --programme-timeout:
        the steps after it until the crowd starts (`voting_policy`, `first_pass`) within what
        is left of it."""
        return cls(
            timeout,
            say,
            doing="read the programme",
            before_run="the programme was read",
            option="--programme-timeout",
            owner="the programme's",
        )

    def voting_policy(self) -> BusyWait:
        """The read of the voting policy (the app's configuration) after the programme's, within
        what is left of its timeout."""
        return self._next("read the voting policy", "the voting policy was read")

    def first_pass(self) -> BusyWait:
        """The first attendee's voter pass (POST /voters, which the API may be asked for again:
        a pass never used is no one's) after the programme's read, within what is left of its
        timeout."""
        return self._next("ask for the first voter pass", "the first voter pass was asked for")

    def _next(self, doing: str, before_run: str) -> BusyWait:
        return BusyWait(
            self.timeout,
            self.say,
            doing=doing,
            before_run=before_run,
            option=self.option,
            owner=self.owner,
            until=self.until,
        )

    @classmethod
    def counts_before_run(cls, timeout: float, say: Callable[[str], None]) -> BusyWait:
        """The verify's reads of the counts before the run, within --verify-timeout."""
        return cls(timeout, say, before_run="the counts before the run were read")

    @classmethod
    def verify(cls, timeout: float, say: Callable[[str], None]) -> BusyWait:
        """The verify's reads once the ratings are sent, within --verify-timeout."""
        return cls(timeout, say)

    @contextlib.contextmanager
    def on(self, api: Api) -> Iterator[None]:
        """`api`'s reads (and a voter pass) wait with this one, a 503 and a refused connection
        alike, until the block ends."""
        api.busy_reads, api.refused_reads = self, self.refused
        try:
            yield
        finally:
            api.busy_reads = api.refused_reads = None

    def __call__(self, problem: ApiProblem) -> None:
        left = self.until - time.monotonic()
        title = problem.problem.get("title") or "Service unavailable"
        if left <= 0:
            during = f" while {self.before_run}," if self.before_run else ""
            raise CliError(
                f"the API stayed busy ({title}, {problem.status}){during} until {self.owner} "
                f"timeout ({self.timeout:g} s, {self.option})"
                + (": nothing was sent" if self.before_run else "")
            )
        asked = problem.retry_after
        wait = min(BUSY_WAIT_SECONDS if asked is None else max(0.5, asked), left)
        unsaid = ", without Retry-After" if asked is None else ""
        with self._lock:
            if time.monotonic() - self._said >= BUSY_SAID_EVERY_SECONDS:
                self._said = time.monotonic()
                self.say(
                    f"talkrate: the API is busy ({title}, {problem.status}{unsaid}): waiting "
                    f"{math.ceil(wait)} s to {self.doing} again (up to "
                    f"{math.ceil(left)} s more, {self.option})"
                )
        time.sleep(wait)

    def refused(self, url: str) -> None:
        """A read whose connection `url` refused (nothing listens there yet: a local runtime
        starting or restarting): waited out REFUSED_WAIT_SECONDS at a time, said once, until the
        timeout, then CliError. Nothing of the request was sent, so nothing was done."""
        left = self.until - time.monotonic()
        if left <= 0:
            during = f" while {self.before_run}," if self.before_run else ""
            raise CliError(
                f"nothing answered at {url} (connection refused){during} until {self.owner} "
                f"timeout ({self.timeout:g} s, {self.option})"
                + (": nothing was sent" if self.before_run else "")
            )
        with self._lock:
            if not self._refused_said:
                self._refused_said = True
                self.say(
                    f"talkrate: nothing answers at {url} yet (connection refused): waiting for "
                    f"it to {self.doing} (up to {math.ceil(left)} s, {self.option})"
                )
        time.sleep(min(REFUSED_WAIT_SECONDS, left))


def snapshot(api: Api, talk_ids: Iterable[str]) -> Histograms:
    """Every named talk's histogram, from the programme's pages (one request per 100 talks);
    read again each second while the programme comes without its counts (the read model being
    rebuilt, or not answering), up to UNSUMMED_WAIT_SECONDS: a run started just after Redis lost
    them gave up at once."""
    wanted = set(talk_ids)
    deadline = time.monotonic() + UNSUMMED_WAIT_SECONDS
    while True:
        found: Histograms = {}
        unsummed = []
        for talk in api.talks():
            if talk["id"] in wanted:
                summary = talk.get("summary")
                if summary is None:
                    unsummed.append(talk["id"])
                    continue
                found[talk["id"]] = Counter({v: int(summary["ratings"].get(v, 0)) for v in VALUES})
        if not unsummed:
            break
        if time.monotonic() >= deadline:
            raise CliError(
                f"talk {unsummed[0]} has had no rating summary for {UNSUMMED_WAIT_SECONDS:g} s "
                "(the read model being rebuilt, or not answering: `talkrate ops check` says which)"
            )
        time.sleep(1.0)
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


@dataclass(frozen=True)
class Reading:
    """One talk's histogram and its revision (how many ratings were applied to it so far),
    from one answer; no revision where the API does not say (read from the event store)."""

    counts: Counter[str]
    revision: int | None


def read(api: Api, talk_id: str) -> Reading:
    """GET /ratings of one talk."""
    answer = api.ratings(talk_id)
    revision = answer.get("ratingsRevision")
    return Reading(
        Counter({v: int(answer["ratings"].get(v, 0)) for v in VALUES}),
        int(revision) if isinstance(revision, int) else None,
    )


def read_each(api: Api, talk_ids: Iterable[str]) -> dict[str, Reading]:
    """GET /ratings of each talk (the baseline's revisions: one request a talk)."""
    return {talk_id: read(api, talk_id) for talk_id in talk_ids}


def outside_change(
    before: Reading, after: Reading, own: Counter[str], own_ratings: int
) -> tuple[int, dict[str, int]] | None:
    """How many ratings from outside this run changed the talk, and by what per value, when the
    change beyond this run's `own` (from its `own_ratings` accepted ones) is what they explain;
    None when it is not (a lost rating, a count changed with no rating applied, no revision)."""
    if before.revision is None or after.revision is None:
        return None
    others = after.revision - before.revision - own_ratings
    extra = {v: after.counts[v] - before.counts[v] - own[v] for v in VALUES}
    added = sum(n for n in extra.values() if n > 0)
    taken = -sum(n for n in extra.values() if n < 0)
    new_votes = added - taken  # a changed mind adds one and takes one: it counts no more
    # Each outside rating adds one to its value; those that replace an earlier one take one.
    if others < 1 or new_votes < 0 or added > others or taken > others - new_votes:
        return None
    return others, {v: n for v, n in extra.items() if n}


@dataclass
class Verdict:
    """How the counts compare with what the 202s imply."""

    expected: int
    counted: int  # this run's: what changed, less what outside ratings changed
    disagreeing: dict[str, tuple[dict[str, int], dict[str, int]]]  # talk: (expected, counted)
    waited: float
    whereabouts: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # talk: (ratings from outside this run, their change per value)
    outside: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)
    # talk whose counts agree: how many of the run's accepted ratings of it its revision does
    # not show applied yet (0: its counts moved between the two reads)
    pending: dict[str, int] = field(default_factory=dict)
    # talk whose counts agree and whose revision shows the run's ratings applied: how many of
    # them GET /ratings/{eventId} does not say projected (one lost, another's in its place)
    unprojected: dict[str, int] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        """Counted equals expected and every talk's counts agree (outside activity aside)."""
        return self.counted == self.expected and not self.disagreeing

    @property
    def ok(self) -> bool:
        """The counts agree, every talk's revision shows the run's ratings of it applied, and
        each of those ratings is said projected."""
        return self.agrees and not self.pending and not self.unprojected

    @property
    def outside_ratings(self) -> int:
        """How many ratings from outside this run were applied to its talks meanwhile."""
        return sum(others for others, _ in self.outside.values())

    def set_outside(self, talk_id: str, others: int, change: dict[str, int]) -> None:
        """The talk's difference is outside activity: not a disagreement, and not the run's."""
        self.disagreeing.pop(talk_id, None)
        self.outside[talk_id] = (others, change)
        self.counted -= sum(change.values())


def wanted(before: Counter[str], delta: Histograms, talk_id: str) -> dict[str, int]:
    """A talk's histogram as the run's 202s imply it: its baseline plus the crowd's delta."""
    change = delta.get(talk_id, Counter())
    return {v: before[v] + change[v] for v in VALUES}


def compare(baseline: Histograms, delta: Histograms, now: Histograms, waited: float) -> Verdict:
    """Each talk's histogram against its baseline plus the crowd's delta."""
    disagreeing = {}
    expected = counted = 0
    for talk_id, before in baseline.items():
        want = wanted(before, delta, talk_id)
        have = {v: now[talk_id][v] for v in VALUES}
        expected += sum(want.values()) - sum(before.values())
        counted += sum(have.values()) - sum(before.values())
        if want != have:
            disagreeing[talk_id] = (want, have)
    return Verdict(expected, counted, disagreeing, waited)


def await_projection(
    api: Api,
    baseline: dict[str, Reading],
    delta: Histograms,
    ledger: Ledger,
    timeout: float,
    progress: Callable[[Verdict], None],
    alone: bool = False,
) -> Verdict:
    """Poll until every talk agrees, its difference explained by outside ratings (none are
    looked for when the run is `alone`), or every difference stands with all of the run's
    ratings projected, or nothing changed for a while, or the timeout passes."""
    own = None if alone else ledger
    started = time.monotonic()
    before = {talk_id: reading.counts for talk_id, reading in baseline.items()}
    last_counted, last_change, last_explained = None, started, 0.0
    standing: set[str] = set()  # talks whose difference stood at the last reading
    confirmed = Confirmed()
    # (pending, unprojected) as last read, while the counts agreed
    unconfirmed: tuple[dict[str, int], dict[str, int]] | None = None
    last_pending = 0.0
    while True:
        verdict = compare(before, delta, snapshot(api, baseline), time.monotonic() - started)
        due = time.monotonic() - last_explained >= 2.0
        if verdict.disagreeing and due:
            # One request a talk: asked of the talks that differ, every 2 s at most.
            last_explained = time.monotonic()
            now_standing = explain(api, baseline, delta, ledger, verdict, alone=own is None)
            # A difference that stood at two readings 2 s apart is the verdict: every rating
            # of the run is projected, so waiting out the timeout would change nothing.
            if verdict.disagreeing and set(verdict.disagreeing) <= now_standing & standing:
                progress(verdict)
                return verdict
            standing = now_standing
        read_now = False
        if verdict.agrees:
            # One request a talk not yet confirmed, and one a rating of it not yet said
            # projected: when the counts first agree, then every 2 s at most while some are not.
            if unconfirmed is None or time.monotonic() - last_pending >= 2.0:
                last_pending, read_now = time.monotonic(), True
                unconfirmed = unapplied(api, baseline, delta, ledger, verdict, confirmed)
            verdict.pending, verdict.unprojected = dict(unconfirmed[0]), dict(unconfirmed[1])
        progress(verdict)
        if verdict.ok:
            return verdict
        if verdict.counted != last_counted:
            last_counted, last_change = verdict.counted, time.monotonic()
        quiet = time.monotonic() - last_change
        if time.monotonic() - started > timeout or (
            quiet > 30 and verdict.counted >= verdict.expected
        ):
            if verdict.agrees and not read_now:
                # The verdict's revisions as they are now, not as read up to 2 s before: the
                # run's ratings may have been applied since.
                verdict.pending, verdict.unprojected = unapplied(
                    api, baseline, delta, ledger, verdict, confirmed
                )
                progress(verdict)
            return verdict
        time.sleep(0.5)


@dataclass
class Confirmed:
    """What the verify has seen of the run's ratings so far (a rating counted stays counted)."""

    # talks whose counts and revision showed the run's ratings applied, each of them projected
    talks: set[str] = field(default_factory=set)
    # the run's ratings GET /ratings/{eventId} said projected
    ratings: set[str] = field(default_factory=set)


def unapplied(
    api: Api,
    baseline: dict[str, Reading],
    delta: Histograms,
    own: Ledger,
    verdict: Verdict,
    confirmed: Confirmed,
) -> tuple[dict[str, int], dict[str, int]]:
    """Read each talk of the run not yet confirmed (nor set apart as outside activity, which
    `explain` found with all of the run's ratings projected). One whose answer has the counts
    the run's ratings make and a revision risen by at least its accepted ratings has those
    ratings asked after (the ones not said projected before): once each is projected, the talk
    is confirmed. A talk the API gives no revision for is taken as its counts say, its
    ratings asked after all the same.

    Returns the others, in two: how many of the run's ratings each talk's revision does not
    show applied (0 when its counts moved since the programme was read), and, of the talks
    whose revision does, how many of the run's ratings are not said projected."""
    pending = {}
    shown = []  # talks whose counts and revision show the run's ratings applied
    for talk_id, before in baseline.items():
        accepted = own.accepted_of[talk_id]
        if talk_id in confirmed.talks or talk_id in verdict.outside or not accepted:
            continue
        after = read(api, talk_id)
        if before.revision is not None and after.revision is not None:
            want = Counter(wanted(before.counts, delta, talk_id))
            missing = max(0, accepted - (after.revision - before.revision))
            if missing or +after.counts != +want:
                pending[talk_id] = missing
                continue
        shown.append(talk_id)
    # A rating from outside with the value of one of the run's that was lost makes the same
    # counts and revision: only the run's own ratings, asked one by one, tell.
    asked = [e for t in shown for e in own.events.get(t, []) if e not in confirmed.ratings]
    where = statuses(api, asked)
    confirmed.ratings.update(e for e, status in where.items() if status == "projected")
    unprojected = {}
    for talk_id in shown:
        left = sum(e not in confirmed.ratings for e in own.events.get(talk_id, []))
        if left:
            unprojected[talk_id] = left
        else:
            confirmed.talks.add(talk_id)
    return pending, unprojected


def explain(
    api: Api,
    baseline: dict[str, Reading],
    delta: Histograms,
    own: Ledger,
    verdict: Verdict,
    alone: bool = False,
) -> set[str]:
    """Read each talk that differs again, with its revision: a difference that outside ratings
    explain (never when the run is `alone`), every one of the run's ratings of the talk
    projected (and the talk read again once they are, so that they all show in what is set
    apart), is set apart in `verdict.outside`; the others stay disagreeing. Returns the
    talks whose difference stands: every one of the run's ratings of it projected, and nothing
    from outside explaining the rest (a count no rating made, one counted twice)."""
    standing = set()
    for talk_id in list(verdict.disagreeing):
        found, applied = _explained(api, baseline[talk_id], talk_id, delta, own, alone)
        # Its ratings are asked after only once the revision says they may all be applied:
        # a rating of the run still on its way (or lost) can pass for part of the outside
        # ratings' change when they leave room for it, and it is not the verdict yet.
        if found is None and not applied:
            continue
        if not set(diagnose(api, own.events.get(talk_id, []))) <= {"projected"}:
            continue
        # Every one is projected now, but the read above may be older than the last of them: a
        # rating of the run applied since would be taken out of the outside ratings (a 1 of
        # the run's missing beside four others' 1s reads as three others). Read again: this
        # read shows every one of them applied.
        found, applied = _explained(api, baseline[talk_id], talk_id, delta, own, alone)
        if found is not None:
            verdict.set_outside(talk_id, *found)
        elif applied:
            standing.add(talk_id)
    return standing


def _explained(
    api: Api, baseline: Reading, talk_id: str, delta: Histograms, own: Ledger, alone: bool
) -> tuple[tuple[int, dict[str, int]] | None, bool]:
    """One read of a talk that differs: the outside ratings that explain its difference (None
    when none do, or the run is `alone`), and whether its revision says every one of the run's
    ratings of it may be applied (and they are few enough to ask after)."""
    after = read(api, talk_id)
    accepted = own.accepted_of[talk_id]
    changed = delta.get(talk_id, Counter())
    found = None if alone else outside_change(baseline, after, changed, accepted)
    applied = (
        baseline.revision is not None
        and after.revision is not None
        and after.revision - baseline.revision >= accepted
        and len(own.events.get(talk_id, [])) == accepted <= DIAGNOSED
    )
    return found, applied


DIAGNOSED = 2000  # a disagreeing talk's ratings asked after, at most
STATUS_READERS = 8  # requests for ratings' statuses in flight at once, at most


def statuses(api: Api, event_ids: list[str]) -> dict[str, str]:
    """Where each rating is (GET /ratings/{eventId}, STATUS_READERS at once), in the order
    given: "projected", "accepted", "queued", or the HTTP status of a refusal.

    The first request that fails (the API out of reach, no answer in time) fails the whole,
    at once, as Ctrl-C does: no rating is asked after once either came, and the readers still
    waiting for an answer are left to it. They are daemon threads, so the command ends without
    waiting out their HTTP timeout (a ThreadPoolExecutor's workers are joined at exit)."""
    if len(event_ids) <= 1:
        return {event_id: _status(api, event_id) for event_id in event_ids}
    found: dict[str, str] = {}
    failed: list[BaseException] = []
    left = iter(event_ids)
    lock = threading.Lock()
    over = threading.Event()  # every rating read, one read failed, or the caller stopped
    running = min(STATUS_READERS, len(event_ids))  # readers still reading

    def taken() -> str | None:
        with lock:  # (the stop and the next rating under one lock: none taken after a stop)
            return None if over.is_set() else next(left, None)

    def reader() -> None:
        nonlocal running
        try:
            while (event_id := taken()) is not None:
                status = _status(api, event_id)
                with lock:
                    found[event_id] = status
        except BaseException as error:  # raised again in the caller's thread
            with lock:
                failed.append(error)
                over.set()
        finally:
            with lock:
                running -= 1
                if not running:
                    over.set()

    try:
        for n in range(running):
            threading.Thread(target=reader, name=f"rating-status-{n}", daemon=True).start()
        over.wait()
    finally:
        with lock:
            over.set()  # Ctrl-C: the readers take no more ratings
    if failed:
        raise failed[0]
    return {event_id: found[event_id] for event_id in event_ids}


def _status(api: Api, event_id: str) -> str:
    """Where one rating is: its status, or "HTTP <status>" of a refusal."""
    try:
        return str(api.json("GET", f"/ratings/{event_id}")["status"])
    except ApiProblem as problem:
        return f"HTTP {problem.status}"


def diagnose(api: Api, event_ids: list[str], limit: int = DIAGNOSED) -> dict[str, list[str]]:
    """Where each accepted rating of a talk is (GET /ratings/{eventId}): event ids by status
    ("projected", "accepted", "queued", or the HTTP status of a refusal)."""
    where: dict[str, list[str]] = {}
    for event_id, status in statuses(api, event_ids[:limit]).items():
        where.setdefault(status, []).append(event_id)
    return where
