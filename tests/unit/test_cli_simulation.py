"""The simulator's plan and its bookkeeping: pure, seeded, no network."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from talkrate_cli.simulation.ledger import Ledger
from talkrate_cli.simulation.scenario import (
    BAD_KINDS,
    VOTER_ID_IN_BODY,
    Action,
    Crowd,
    cast,
    plan_conference,
    plan_steady,
    slots_of,
)

pytestmark = pytest.mark.unit

PROGRAMME = [
    {"id": "a", "startsAt": "2026-12-01T09:00:00Z"},
    {"id": "b", "startsAt": "2026-12-01T09:00:00Z"},
    {"id": "c", "startsAt": "2026-12-01T10:00:00Z"},
    *({"id": f"u{n}"} for n in range(6)),
]


def test_talks_starting_together_share_a_slot_and_untimed_ones_follow_in_groups() -> None:
    slots = [[t["id"] for t in slot] for slot in slots_of(PROGRAMME)]
    assert slots == [["a", "b"], ["c"], ["u0", "u1", "u2", "u3"], ["u4", "u5"]]


def test_the_same_seed_plans_the_same_conference() -> None:
    def plan(seed: int) -> list[Action]:
        rng = random.Random(seed)
        return plan_conference(cast(PROGRAMME, rng), Crowd(50), 1.0, rng)

    assert plan(3) == plan(3)
    assert plan(3) != plan(4)


def test_ratings_burst_after_their_slot_ends_and_changed_minds_come_later() -> None:
    rng = random.Random(1)
    talks = cast(PROGRAMME, rng)
    slot_of = {t.talk_id: t.slot for t in talks}
    plan = plan_conference(talks, Crowd(400, bad_share=0), 2.0, rng)
    good = [a for a in plan if a.bad is None]
    # every rating comes after its talk's slot ended, most within a slot's length of it
    assert all(a.at >= (slot_of[a.talk_id] + 1) * 2.0 for a in good)
    soon = [a for a in good if a.at < (slot_of[a.talk_id] + 2) * 2.0]
    assert len(soon) / len(good) > 0.9
    # a changed mind follows the same attendee's first rating of that talk
    first_at = {}
    for action in good:
        key = (action.attendee, action.talk_id)
        if action.change:
            assert first_at[key] <= action.at
        else:
            first_at[key] = action.at
    assert 0.05 < sum(a.change for a in good) / len(good) < 0.15


def test_talks_get_different_averages_from_their_true_quality() -> None:
    rng = random.Random(2)
    talks = cast(PROGRAMME, rng)
    plan = plan_conference(talks, Crowd(2000, bad_share=0, change_mind=0), 1.0, rng)
    values: dict[str, list[int]] = {}
    for action in plan:
        values.setdefault(action.talk_id, []).append(action.value)
    averages = {k: sum(v) / len(v) for k, v in values.items()}
    assert max(averages.values()) - min(averages.values()) > 1.0
    quality = {t.talk_id: t.quality for t in talks}
    best = max(quality, key=lambda k: quality[k])
    worst = min(quality, key=lambda k: quality[k])
    assert averages[best] > averages[worst]


def test_a_small_share_of_bad_requests_of_every_kind() -> None:
    rng = random.Random(5)
    talks = cast(PROGRAMME, rng)
    plan = plan_conference(talks, Crowd(500, voter_id_is_bad=True), 1.0, rng)
    bad = Counter(a.bad for a in plan if a.bad)
    assert set(bad) == {*BAD_KINDS, VOTER_ID_IN_BODY}
    assert 0.01 < sum(bad.values()) / len(plan) < 0.03
    without_tokens = plan_conference(talks, Crowd(500), 1.0, random.Random(5))
    assert VOTER_ID_IN_BODY not in {a.bad for a in without_tokens}


def test_steady_load_keeps_its_rate_and_its_bound() -> None:
    rng = random.Random(8)
    plan = plan_steady(cast(PROGRAMME, rng), Crowd(100), rate=50, duration=20, rng=rng)
    assert all(0 <= a.at < 20 for a in plan)
    assert 850 < len(plan) < 1150  # Poisson(1000)
    assert plan == sorted(plan)


def rating(attendee: int, talk: str, value: int) -> Action:
    return Action(0.0, 0, attendee, talk, value)


def test_with_voter_tokens_an_attendees_newest_accepted_rating_counts() -> None:
    ledger = Ledger(tokens=True)
    ledger.answered(rating(1, "t", 2), 202, 0.01, event_id="e1")
    ledger.answered(rating(1, "t", 5), 202, 0.01, event_id="e2")  # changed their mind
    ledger.answered(rating(2, "t", 4), 202, 0.01)
    ledger.answered(rating(2, "t", 1), 429, 0.01)  # throttled: the 4 still counts
    ledger.answered(Action(0, 0, 3, "t", 0, bad="value-out-of-range"), 422, 0.01)
    assert ledger.expected_delta() == {"t": Counter({"5": 1, "4": 1})}
    assert (ledger.sent, ledger.accepted, ledger.expected) == (5, 3, 2)
    assert (ledger.throttled, ledger.bad_refused, ledger.errors) == (1, 1, 0)
    assert ledger.events["t"][:2] == ["e1", "e2"]  # where to look when a talk disagrees


def test_without_voter_tokens_every_accepted_rating_counts() -> None:
    ledger = Ledger(tokens=False)
    ledger.answered(rating(1, "t", 2), 202, 0.01)
    ledger.answered(rating(1, "t", 5), 202, 0.01)
    ledger.answered(rating(1, "t", 3), 409, 0.01, "rating-window-closed")
    ledger.failed(rating(1, "t", 4), "ConnectError")
    assert ledger.expected_delta() == {"t": Counter({"2": 1, "5": 1})}
    assert (ledger.window_closed, ledger.uncertain, ledger.errors) == (1, 1, 1)


def test_a_bad_request_that_is_accepted_is_reported() -> None:
    ledger = Ledger(tokens=False)
    ledger.answered(Action(0, 0, 3, "t", 0, bad="value-as-text"), 202, 0.01)
    assert ledger.bad_accepted == 1
    assert "value-as-text" in ledger.last_error


def test_a_rating_whose_first_try_is_still_in_progress_is_asked_again_and_counts_once() -> None:
    # Given an API that answers the first try of a key "request in progress" (the first
    # attempt's answer was lost while the API still worked on it), then that attempt's 202
    import asyncio
    import json

    import httpx

    from talkrate_cli.simulation.runner import Runner
    from talkrate_cli.simulation.scenario import Action

    keys: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            problem = {"type": "urn:talkrate:problem:request-in-progress", "status": 409}
            return httpx.Response(409, headers={"retry-after": "0"}, json=problem)
        return httpx.Response(202, json={"eventId": "e-1", "status": "accepted"})

    ledger = Ledger(tokens=False)
    runner = Runner("http://api.test", ledger, concurrency=1, use_tokens=False)
    action = Action(at=0, sequence=0, attendee=1, talk_id="t-1", value=4)

    async def send() -> None:
        transport = httpx.MockTransport(api)
        async with httpx.AsyncClient(base_url="http://api.test", transport=transport) as http:
            await runner._send(http, action)

    # When the simulator sends the rating
    asyncio.run(send())
    # Then it asked again with the same key, and the ledger holds one accepted rating, no error
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert (ledger.accepted, ledger.errors) == (1, 0)
    assert json.dumps(ledger.events) == '{"t-1": ["e-1"]}'


def test_ratings_from_outside_the_run_are_told_apart_from_a_loss_or_a_count_no_rating_made() -> (
    None
):
    from talkrate_cli.simulation.verify import Reading, outside_change

    # Given a talk with three ratings (its revision 3), and a run whose two 4s were accepted
    before = Reading(Counter({"3": 2, "5": 1}), revision=3)
    own = Counter({"4": 2})
    # When others meanwhile rated it 5 and changed an earlier 3 to a 1 (two more ratings applied)
    others = Reading(Counter({"1": 1, "3": 1, "4": 2, "5": 2}), revision=7)
    # Then the difference beyond the run's is theirs: two ratings, and what they changed
    assert outside_change(before, others, own, 2) == (2, {"1": 1, "3": -1, "5": 1})
    # And not when one of the run's 4s was lost while another attendee rated (the revision
    # rose by one less than the ratings the counts would need)
    lost = Reading(Counter({"3": 2, "4": 1, "5": 2}), revision=5)
    assert outside_change(before, lost, own, 2) is None
    # Nor when a count rose with no rating applied (the revision counts the run's only)
    made_up = Reading(Counter({"3": 2, "4": 2, "5": 2}), revision=5)
    assert outside_change(before, made_up, own, 2) is None
    # Nor when more changed than the others' ratings can (one rating adds one, takes one)
    too_much = Reading(Counter({"3": 2, "4": 2, "5": 4}), revision=6)
    assert outside_change(before, too_much, own, 2) is None
    # Nor without a revision to tell by (an answer read from the event store)
    unknown = Reading(others.counts, revision=None)
    assert outside_change(before, unknown, own, 2) is None


class TalkStatuses:
    """The two reads verify makes of an API (GET /ratings, GET /ratings/{eventId}), from data."""

    def __init__(self, ratings: dict[str, Any], statuses: dict[str, str]) -> None:
        self._ratings, self._statuses = ratings, statuses

    def ratings(self, talk_id: str) -> dict[str, Any]:
        return self._ratings

    def json(self, method: str, path: str) -> dict[str, Any]:
        return {"status": self._statuses[path.rsplit("/", 1)[-1]]}


def test_a_rating_of_the_run_not_yet_counted_does_not_pass_for_an_outside_change() -> None:
    from talkrate_cli.simulation.verify import Reading, Verdict, explain

    # Given a run whose two 4s were accepted, the second not projected yet, while others rated
    # (a new 5, and a changed mind to the same value): the counts and revision could be read
    # as one outsider moving a 4 to a 5
    ledger = Ledger(tokens=True)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 4), 202, 0.01, event_id="e2")
    baseline = {"t": Reading(Counter({"3": 2, "5": 1}), revision=3)}
    now = {"ratings": {"1": 0, "2": 0, "3": 2, "4": 1, "5": 2}, "ratingsRevision": 6}
    want = {"1": 0, "2": 0, "3": 2, "4": 2, "5": 1}
    waiting = TalkStatuses(now, {"e1": "projected", "e2": "accepted"})
    # When verify reads the talk again
    verdict = Verdict(2, 2, {"t": (want, now["ratings"])}, 1.0)
    explain(waiting, baseline, ledger.expected_delta(), ledger, verdict)  # type: ignore[arg-type]
    # Then, one of its ratings not projected, the talk still disagrees
    assert (verdict.outside, list(verdict.disagreeing)) == ({}, ["t"])
    # And read once every one of its ratings is projected, the rest is set apart as outside
    projected = TalkStatuses(now, {"e1": "projected", "e2": "projected"})
    verdict = Verdict(2, 2, {"t": (want, now["ratings"])}, 1.0)
    explain(projected, baseline, ledger.expected_delta(), ledger, verdict)  # type: ignore[arg-type]
    assert (verdict.outside, verdict.disagreeing) == ({"t": (1, {"4": -1, "5": 1})}, {})


def test_a_difference_stands_once_every_rating_of_the_run_is_projected_and_nothing_explains_it() -> (
    None
):
    from talkrate_cli.simulation.verify import Reading, Verdict, explain

    # Given a run whose two 4s were accepted, and a talk counting one 2 nobody sent (its
    # revision rose by the run's two ratings only)
    ledger = Ledger(tokens=True)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 4), 202, 0.01, event_id="e2")
    baseline = {"t": Reading(Counter({"3": 1}), revision=1)}
    now = {"ratings": {"1": 0, "2": 1, "3": 1, "4": 2, "5": 0}, "ratingsRevision": 3}
    want = {"1": 0, "2": 0, "3": 1, "4": 2, "5": 0}

    def standing(statuses: dict[str, str], alone: bool = False) -> tuple[set[str], Verdict]:
        verdict = Verdict(2, 3, {"t": (want, now["ratings"])}, 1.0)
        found = explain(
            TalkStatuses(now, statuses),  # type: ignore[arg-type]
            baseline,
            ledger.expected_delta(),
            ledger,
            verdict,
            alone=alone,
        )
        return found, verdict

    # When verify reads it while one of the run's ratings is still on its way: not yet
    assert standing({"e1": "projected", "e2": "accepted"})[0] == set()
    # And once both are projected, the difference stands (waiting would change nothing),
    # still a disagreement, alone or not
    for alone in (False, True):
        found, verdict = standing({"e1": "projected", "e2": "projected"}, alone)
        assert (found, list(verdict.disagreeing), verdict.outside) == ({"t"}, ["t"], {})


class HeldBack:
    """An API whose one talk shows some of the run's ratings not projected yet (its programme
    page and GET /ratings read the same state); `land()` projects them."""

    def __init__(self, counts: dict[str, int], revision: int, held: dict[str, int]) -> None:
        self.counts, self.revision, self.held = Counter(counts), revision, Counter(held)

    def land(self) -> None:
        self.counts += self.held
        self.revision += sum(self.held.values())
        self.held = Counter()

    def talks(self) -> list[dict[str, Any]]:
        return [{"id": "t", "summary": {"ratings": dict(self.counts)}}]

    def ratings(self, talk_id: str) -> dict[str, Any]:
        return {"ratings": dict(self.counts), "ratingsRevision": self.revision}

    def json(self, method: str, path: str) -> dict[str, Any]:
        return {"status": "accepted" if self.held else "projected"}


class LandsWhenAsked(HeldBack):
    """HeldBack, whose held ratings land as verify asks where the run's ratings are (between
    its read of the talk and the answer that says every one is projected)."""

    def json(self, method: str, path: str) -> dict[str, Any]:
        self.land()
        return super().json(method, path)


def test_a_rating_of_the_run_that_lands_while_verify_explains_is_not_taken_from_the_others() -> (
    None
):
    from talkrate_cli.simulation.verify import Reading, Verdict, explain

    # Given a run whose two 1s were accepted, on a talk others rated 1 four times meanwhile:
    # the four applied, the run's second 1 not yet when verify reads the talk, but by the time
    # it asks where the run's ratings are
    ledger = Ledger(tokens=True)
    ledger.answered(rating(1, "t", 1), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 1), 202, 0.01, event_id="e2")
    baseline = {"t": Reading(Counter({"3": 2}), revision=2)}
    api = LandsWhenAsked({"1": 5, "3": 2}, revision=7, held={"1": 1})
    want = {"1": 2, "2": 0, "3": 2, "4": 0, "5": 0}
    verdict = Verdict(2, 5, {"t": (want, {**want, "1": 5})}, 1.0)
    # When verify explains the difference
    explain(api, baseline, ledger.expected_delta(), ledger, verdict)  # type: ignore[arg-type]
    # Then the others' ratings are their four, not three (the run's 1 still on its way taken
    # out of theirs)
    assert (verdict.outside, verdict.disagreeing) == ({"t": (4, {"1": 4})}, {})


class Clock:
    """The verify loop's clock: each pause moves it on, and the first one lets the projector
    catch up (`then`)."""

    def __init__(self, then: Any) -> None:
        self.now, self.then = 0.0, then

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.then is not None:
            self.then, then = None, self.then
            then()


def awaited_with_three_2s_held_back_and_three_made_up(
    monkeypatch: pytest.MonkeyPatch, revision: bool
) -> Any:
    """What verify makes of a run (no voter tokens) whose two 4s and three 2s were accepted,
    the three 2s not projected yet, on a talk whose 2s were raised by three with no rating
    applied: its counts are exactly what the run's ratings make, its revision (when the API
    gives one) short of them by three. The three 2s land at verify's first pause."""
    from talkrate_cli.simulation import verify
    from talkrate_cli.simulation.verify import Reading, await_projection

    ledger = Ledger(tokens=False)
    for n, value in enumerate((4, 4, 2, 2, 2)):
        ledger.answered(rating(n, "t", value), 202, 0.01, event_id=f"e{n}")
    api = HeldBack({"2": 3, "3": 1, "4": 2}, revision=3, held={"2": 3})
    baseline = {"t": Reading(Counter({"3": 1}), revision=1 if revision else None)}
    monkeypatch.setattr(verify, "time", Clock(then=api.land))
    return await_projection(
        api,  # type: ignore[arg-type]
        baseline,
        ledger.expected_delta(),
        ledger,
        timeout=60,
        progress=lambda verdict: None,
    )


def test_counts_that_agree_before_every_rating_of_the_run_is_applied_are_not_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given counts that agree while the talk's revision says three of the run's ratings are
    # not applied, When verify awaits the projector
    verdict = awaited_with_three_2s_held_back_and_three_made_up(monkeypatch, revision=True)
    # Then they are not taken (it said "verified", counted 5 = expected 5): once the three
    # land, the three 2s nobody sent stand, and verify fails
    assert not verdict.ok
    want, have = verdict.disagreeing["t"]
    assert have["2"] - want["2"] == 3
    assert (verdict.expected, verdict.counted) == (5, 8)


def test_counts_that_agree_where_the_api_gives_no_revision_wait_for_the_run_s_ratings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the same counts from an API that gives no revision (an answer from the event
    # store), When verify awaits the projector
    verdict = awaited_with_three_2s_held_back_and_three_made_up(monkeypatch, revision=False)
    # Then they are not taken either (they were, with nothing to tell by but the counts): the
    # three 2s of the run are not said projected until they land, and then the three 2s
    # nobody sent stand
    assert not verdict.ok
    want, have = verdict.disagreeing["t"]
    assert have["2"] - want["2"] == 3


def test_counts_that_agree_while_ratings_of_the_run_never_land_fail_naming_the_talk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from talkrate_cli.simulation import verify
    from talkrate_cli.simulation.verify import Reading, await_projection

    # Given a run whose 4 and 2 were accepted, the 2 lost, and a talk whose 2s were raised by
    # one with no rating applied: its counts agree, its revision short by one for good
    ledger = Ledger(tokens=False)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 2), 202, 0.01, event_id="e2")
    api = HeldBack({"2": 1, "4": 1}, revision=1, held={})
    monkeypatch.setattr(verify, "time", Clock(then=None))
    # When verify awaits the projector until its timeout
    verdict = await_projection(
        api,  # type: ignore[arg-type]
        {"t": Reading(Counter(), revision=0)},
        ledger.expected_delta(),
        ledger,
        timeout=10,
        progress=lambda verdict: None,
    )
    # Then the counts agree but the verdict is not ok: the talk is named, one rating short
    assert (verdict.agrees, verdict.ok, verdict.pending) == (True, False, {"t": 1})


class OneLostOneFromOutside(HeldBack):
    """HeldBack with nothing held, whose statuses are given per rating: a rating of the run
    lost (not projected, and never will be) and one from outside of the same value in its
    place make the counts and the revision the run's ratings would."""

    def __init__(self, counts: dict[str, int], revision: int, statuses: dict[str, str]) -> None:
        super().__init__(counts, revision, held={})
        self.statuses = statuses
        self.asked: Counter[str] = Counter()

    def json(self, method: str, path: str) -> dict[str, Any]:
        event_id = path.rsplit("/", 1)[-1]
        self.asked[event_id] += 1
        return {"status": self.statuses[event_id]}


@pytest.mark.parametrize("revision", [True, False])
def test_a_lost_rating_whose_value_an_outside_one_makes_up_for_fails(
    monkeypatch: pytest.MonkeyPatch, revision: bool
) -> None:
    from talkrate_cli.simulation import verify
    from talkrate_cli.simulation.verify import Reading, await_projection

    # Given a run whose 4, 2 and 2 were accepted, one 2 lost, and a talk rated 2 from outside
    # meanwhile: its counts and its revision (when the API gives one) are the run's
    ledger = Ledger(tokens=False)
    for n, value in enumerate((4, 2, 2)):
        ledger.answered(rating(n, "t", value), 202, 0.01, event_id=f"e{n}")
    api = OneLostOneFromOutside(
        {"2": 2, "4": 1},
        revision=3,
        statuses={"e0": "projected", "e1": "projected", "e2": "accepted"},
    )
    monkeypatch.setattr(verify, "time", Clock(then=None))
    # When verify awaits the projector until its timeout
    verdict = await_projection(
        api,  # type: ignore[arg-type]
        {"t": Reading(Counter(), revision=0 if revision else None)},
        ledger.expected_delta(),
        ledger,
        timeout=10,
        progress=lambda verdict: None,
    )
    # Then the counts agree but the verdict is not ok: the talk is named, one rating not
    # counted (it said ok: the counts and revision were all it read)
    assert not verdict.ok
    assert (verdict.agrees, verdict.pending, verdict.unprojected) == (True, {}, {"t": 1})
    # And a rating said projected was asked after once; the lost one at each read of the talk
    assert (api.asked["e0"], api.asked["e1"]) == (1, 1)
    assert api.asked["e2"] > 1


class LandsAt(Clock):
    """A clock whose pause that reaches `at` seconds lets the projector catch up (`then`)."""

    def __init__(self, at: float, then: Any) -> None:
        super().__init__(then=None)
        self.at, self.landing = at, then

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.landing is not None and self.now >= self.at:
            self.landing, landing = None, self.landing
            landing()


def test_a_revision_that_shows_the_run_s_ratings_applied_before_the_timeout_is_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from talkrate_cli.simulation import verify
    from talkrate_cli.simulation.verify import Reading, await_projection

    # Given a run whose 4 and 2 were accepted, on a talk whose counts agree at once and whose
    # revision shows the 2 applied only at the verify's last pause (10.5 s, past its 10 s
    # timeout; its revisions were last read at 10 s)
    ledger = Ledger(tokens=False)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 2), 202, 0.01, event_id="e2")
    api = HeldBack({"2": 1, "4": 1}, revision=1, held={})

    def applied() -> None:
        api.revision += 1

    monkeypatch.setattr(verify, "time", LandsAt(10.5, then=applied))
    # When verify awaits the projector until its timeout
    verdict = await_projection(
        api,  # type: ignore[arg-type]
        {"t": Reading(Counter(), revision=0)},
        ledger.expected_delta(),
        ledger,
        timeout=10,
        progress=lambda verdict: None,
    )
    # Then the revision as it is at the end is the verdict's (it kept the one read 0.5 s
    # before: {"t": 1}, and the run failed with both ratings applied)
    assert (verdict.agrees, verdict.pending, verdict.ok) == (True, {}, True)


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        (
            0,
            "t: counts agree, but they changed between the programme's read and its revision's, "
            "so its revision could not show the run's ratings applied to them",
        ),
        (1, "t: counts agree, but its revision shows 1 of the run's ratings not applied to them"),
    ],
)
def test_the_report_says_why_a_talk_whose_counts_agree_is_not_verified(
    missing: int, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib
    from types import SimpleNamespace

    from talkrate_cli.simulation.verify import Verdict

    importlib.import_module("talkrate_cli.main")  # (the commands are loaded through it)
    simulate = importlib.import_module("talkrate_cli.commands.simulate")
    # Given a run whose 4 and 2 were accepted and counted, on a talk whose revision did not
    # show them applied: short of one, or its counts moved between the two reads (0)
    ledger = Ledger(tokens=False)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 2), 202, 0.01, event_id="e2")
    verdict = Verdict(2, 2, {}, 120.0, pending={"t": missing})
    # When the run's report is printed for a person
    figures = simulate._report(
        SimpleNamespace(as_json=False),
        ledger,
        SimpleNamespace(tokens={}, voter_retries=0, voter_busy=0),
        verdict,
    )
    out = capsys.readouterr().out
    # Then the talk's line says why, in words (0 read "shows 0 of the run's ratings not
    # applied"), and the JSON's pending keeps the number
    assert f"          {said}\n" in out, out
    assert "shows 0" not in out
    assert "verify    counts agree, 1 talk without every rating applied" in out
    assert figures["pending"] == {"t": missing}
    assert figures["verified"] is False


def test_the_report_names_a_rating_of_the_run_not_counted_where_the_counts_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import importlib
    from types import SimpleNamespace

    from talkrate_cli.simulation.verify import Verdict

    importlib.import_module("talkrate_cli.main")  # (the commands are loaded through it)
    simulate = importlib.import_module("talkrate_cli.commands.simulate")
    # Given a run whose 4 and 2 were accepted, the 2 not counted (a 2 from outside in its
    # place: the counts and the revision agree)
    ledger = Ledger(tokens=False)
    ledger.answered(rating(1, "t", 4), 202, 0.01, event_id="e1")
    ledger.answered(rating(2, "t", 2), 202, 0.01, event_id="e2")
    verdict = Verdict(2, 2, {}, 20.0, unprojected={"t": 1})
    verdict.whereabouts["t"] = {"projected": ["e1"], "accepted": ["e2"]}
    # When the run's report is printed for a person
    figures = simulate._report(
        SimpleNamespace(as_json=False),
        ledger,
        SimpleNamespace(tokens={}, voter_retries=0, voter_busy=0),
        verdict,
    )
    out = capsys.readouterr().out
    # Then it says the talk is not verified, why, and which rating is not counted
    assert "verify    counts agree, 1 talk without every rating applied" in out, out
    assert (
        "          t: counts and revision agree, but 1 of the run's ratings is not counted: "
        "ratings from outside may stand in for them\n"
        "            1 of its accepted ratings projected\n"
        "            1 of its accepted ratings accepted: e2\n"
    ) in out, out
    # And the JSON names the talk and the failure says why
    assert (figures["unprojected"], figures["verified"]) == ({"t": 1}, False)
    assert "not counted" in str(simulate._failure(ledger, verdict))
