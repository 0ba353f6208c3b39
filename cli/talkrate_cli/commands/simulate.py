"""talkrate simulate: a conference in fast-forward, and --verify that every 202 counted once."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import click

from talkrate_cli import output
from talkrate_cli.commands.reading import known_track
from talkrate_cli.errors import ApiProblem, CliError, Interrupted
from talkrate_cli.main import Session, pass_session
from talkrate_cli.settings import is_loopback
from talkrate_cli.simulation.ledger import SILENCE_SECONDS, Ledger
from talkrate_cli.simulation.scenario import Crowd, cast, plan_conference, plan_steady, slots_of
from talkrate_cli.simulation.verify import (
    PROGRAMME_TIMEOUT_SECONDS,
    BusyWait,
    Reading,
    Verdict,
    await_projection,
    diagnose,
    read_each,
    settled,
)

# The runner and the progress bars (httpx, rich) load when a simulation runs, not for the help
if TYPE_CHECKING:
    from talkrate_cli.simulation.runner import Runner


def _first_token(
    session: Session, code: str | None, wanted: bool | None, start: BusyWait
) -> str | None:
    """The first attendee's voter token when the crowd rates with tokens: whenever the API
    issues them (unless told not to); refused when the policy requires them and they cannot
    be had. None: no tokens. The voting policy's read and the pass wait out a busy API and
    one not listening within what is left of the programme's timeout (`start`), and say so."""
    from talkrate_cli import voting

    with start.voting_policy().on(session.api):
        policy = voting.policy(session.api)
    if wanted is False:
        if policy == "attendee":
            raise CliError("the voting policy is attendee: ratings need voter tokens")
        return None
    # (a refused event code said as `rate` says it: --code, not the API's request body)
    with start.first_pass().on(session.api):
        try:
            voter = voting.new_voter(session.api, code)
        except voting.NoPassNow as error:
            if error.problem.status != 429:
                raise
            raise CliError(_over_the_pass_limit(error.problem, policy)) from None
    if voter is None:
        if policy == "attendee" or wanted:
            raise CliError("the API asks for voter tokens but has no POST /voters")
        return None
    return str(voter["voterToken"])


def _over_the_pass_limit(problem: ApiProblem, policy: str | None) -> str:
    """The first voter pass refused 429 after its tries: said as `rate` says it
    (voting.over_the_pass_limit), with what a crowd can do."""
    from talkrate_cli import voting

    return voting.over_the_pass_limit(
        problem,
        "the first attendee's voter pass",
        "check --code, keep the crowd under the limit (fewer --attendees, or a lower --rate)"
        + (", or rate without passes (--no-tokens)" if policy != "attendee" else ""),
    )


@click.command()
@click.option(
    "--attendees",
    "-n",
    type=click.IntRange(1),
    default=200,
    show_default=True,
    help="How many attendees rate.",
)
@click.option("--seed", type=int, help="Plan the same crowd again.")
@click.option(
    "--slot-seconds",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Wall-clock seconds per programme slot (the fast-forward factor).",
)
@click.option("--rate", type=click.FloatRange(0.1), help="Steady load: requests per second...")
@click.option("--duration", type=click.FloatRange(0.1), help="...for this many seconds.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 512),
    default=32,
    show_default=True,
    help="Requests in flight at once, at most.",
)
@click.option(
    "--bad-share",
    type=click.FloatRange(0, 0.5),
    default=0.02,
    show_default=True,
    help="Share of requests that are deliberately bad (their refusals counted apart).",
)
@click.option(
    "--change-mind",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Chance that an attendee rates a talk again later.",
)
@click.option("--track", help="Only the talks of this track.")
@click.option("--talk", "talk_ids", multiple=True, help="Only these talks (repeat).")
@click.option("--tokens/--no-tokens", default=None, help="Voter tokens [default: when offered].")
@click.option(
    "--code",
    envvar="TALKRATE_EVENT_CODE",
    help="The event code for POST /voters [env TALKRATE_EVENT_CODE].",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Wait for the projector and check every count (ratings others send to the same talks "
    "meanwhile reported apart).",
)
@click.option(
    "--alone",
    is_flag=True,
    help="With --verify: nobody else rates these talks, so any rating beyond the run's fails "
    "(one of its own counted twice cannot pass for someone else's).",
)
@click.option(
    "--verify-timeout",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    help="With --verify: seconds to wait for the projector to count the run's ratings (and "
    "for a busy API, answering 503, or one not listening, its connection refused, to read "
    "them; as long again for it to read the counts before the run).",
)
@click.option(
    "--programme-timeout",
    type=click.FloatRange(1),
    default=PROGRAMME_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait out an API answering 503 (busy: a stack scaling up) or not "
    "listening yet (connection refused: a local runtime starting) while the programme, then "
    "the voting policy and the first voter pass are read, before any rating is sent (one "
    "timeout for all three).",
)
@click.option(
    "--give-up-after",
    type=click.FloatRange(1),
    default=SILENCE_SECONDS,
    show_default=True,
    help="Stop the run and report when the API has not answered for this many seconds.",
)
@click.option("--yes", "-y", is_flag=True, help="Allow a load on an API that is not local.")
@pass_session
def simulate(
    session: Session,
    attendees: int,
    seed: int | None,
    slot_seconds: float,
    rate: float | None,
    duration: float | None,
    concurrency: int,
    bad_share: float,
    change_mind: float,
    track: str | None,
    talk_ids: tuple[str, ...],
    tokens: bool | None,
    code: str | None,
    verify: bool,
    alone: bool,
    verify_timeout: float,
    programme_timeout: float,
    give_up_after: float,
    yes: bool,
) -> None:
    """Simulate attendees rating the catalog's talks; --verify checks the counts exactly.

    Each talk gets a hidden quality; ratings arrive in bursts as talks end, some attendees
    change their mind, and a small share of requests are deliberately bad (refusals expected,
    counted apart). With --rate R --duration S the load is steady instead, R per second for S
    seconds at most.
    """
    from talkrate_cli.simulation.progress import SendProgress, figures_line
    from talkrate_cli.simulation.runner import Runner

    if (rate is None) != (duration is None):
        raise click.UsageError("--rate and --duration go together")
    if alone and not verify:
        raise click.UsageError("--alone goes with --verify (it says how the counts are checked)")
    if not is_loopback(session.url) and not yes:
        raise CliError(f"{session.url} is not on this machine: add --yes to load it")
    api = session.api
    start = BusyWait.programme(programme_timeout, partial(output.errors.print, markup=False))
    talks = _programme(session, track, talk_ids, start)
    first_token = _first_token(session, code, tokens, start)
    use_tokens = first_token is not None
    rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)  # nosec B311
    sim_talks = cast(talks, rng)
    crowd = Crowd(
        attendees, change_mind=change_mind, bad_share=bad_share, voter_id_is_bad=use_tokens
    )
    if rate is not None and duration is not None:
        plan = plan_steady(sim_talks, crowd, rate, duration, rng)
        shape = f"steady {rate:g}/s for {duration:g} s"
    else:
        plan = plan_conference(sim_talks, crowd, slot_seconds, rng)
        shape = f"{len(slots_of(talks))} slots of {slot_seconds:g} s"
    talk_list = [t.talk_id for t in sim_talks]
    say = output.errors.print
    say(
        f"simulating {attendees} attendees over {len(talks)} talks ({shape}) at {api.url}, "
        f"voter tokens {'yes' if use_tokens else 'no'}: {len(plan)} requests planned",
        markup=False,
    )
    baseline = _baseline(session, talk_list, verify_timeout) if verify else {}
    ledger = Ledger(tokens=use_tokens)
    runner = Runner(api.url, ledger, concurrency, use_tokens, code, give_up_after)
    if first_token is not None:
        runner.tokens[0] = first_token
    with SendProgress(output.errors) as progress:
        bar = progress.add_task("send", total=len(plan), stats="")

        def tick() -> None:
            progress.update(bar, completed=ledger.sent + ledger.skipped, stats=figures_line(ledger))

        ledger.started = time.monotonic()
        interrupted = False
        try:
            asyncio.run(runner.run(plan, tick))
        except KeyboardInterrupt:
            interrupted = True  # Ctrl-C: what was sent so far is still worth a report
        ledger.finished = time.monotonic()
    if interrupted:
        raise Interrupted(
            f"interrupted after {ledger.sent} of {len(plan)} requests: the figures "
            + ("in this document" if session.as_json else "above")
            + " are of those (not verified)",
            result=_report(session, ledger, runner, None),
        )
    if runner.stopped:
        raise CliError(
            f"simulation stopped after {ledger.sent} of {len(plan)} requests: {runner.stopped}"
            + (" (not verified)" if verify else ""),
            result=_report(session, ledger, runner, None),  # what was sent is worth knowing
        )
    verdict = None
    if verify:
        try:
            verdict = _verify(session, ledger, baseline, verify_timeout, alone)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted while waiting for the projector: the figures "
                + ("in this document" if session.as_json else "above")
                + f" are of the {ledger.sent} requests sent (not verified)",
                result=_report(session, ledger, runner, None),
            ) from None
        except CliError as error:
            # The API went away (or refused) while the counts were read: what was sent is
            # still worth knowing, as when it goes away while sending.
            error.args = (f"{error} (not verified)",)
            error.result = _report(session, ledger, runner, None)
            raise
    figures = _report(session, ledger, runner, verdict)
    failure = _failure(ledger, verdict)
    if failure is not None:
        raise CliError(failure, result=figures) if session.as_json else click.exceptions.Exit(1)
    if session.as_json:
        output.emit_json(figures)


def _failure(ledger: Ledger, verdict: Verdict | None) -> str | None:
    """Why the run failed (its report says the details), or None."""
    if verdict is not None and verdict.agrees and verdict.pending:
        return (
            "the counts agree, but the talks' revisions do not show every accepted rating "
            "applied: a count changed with no rating applied may stand in for them (see pending)"
        )
    if verdict is not None and verdict.agrees and verdict.unprojected:
        return (
            "the counts agree, but some of the run's accepted ratings are not counted "
            "(GET /ratings/{eventId}): ratings from outside may stand in for them "
            "(see unprojected)"
        )
    if verdict is not None and not verdict.ok:
        return "the counts do not agree with what the API accepted (see disagreeing)"
    if verdict is not None and not ledger.accepted:
        # (a run whose talks all refused their ratings, closed say, verified nothing: a CI job
        # reading its exit status went green)
        return "no rating was accepted, so nothing was verified (see statuses and closedTalks)"
    if ledger.bad_accepted:
        return f"{ledger.bad_accepted} deliberately bad requests were accepted"
    if verdict is None and ledger.errors:
        return f"{output.counted(ledger.errors, 'request')} failed (see lastError)"
    return None


def _not_shown_applied(missing: int) -> str:
    """Why a talk whose counts agree is not taken as verified (`Verdict.pending`)."""
    if missing == 0:
        # Its revision rose by the run's ratings, but GET /ratings answered other counts than
        # the programme page had: they moved between the two reads.
        return (
            "counts agree, but they changed between the programme's read and its revision's, "
            "so its revision could not show the run's ratings applied to them"
        )
    return (
        f"counts agree, but its revision shows {missing} of the run's ratings not applied to them"
    )


def _not_counted(left: int) -> str:
    """Why a talk whose counts and revision agree is not taken as verified
    (`Verdict.unprojected`)."""
    return (
        "counts and revision agree, but "
        + output.counted(left, "of the run's ratings is", "of the run's ratings are")
        + " not counted: ratings from outside may stand in for them"
    )


def _programme(
    session: Session, track: str | None, talk_ids: tuple[str, ...], wait: BusyWait
) -> list[dict[str, Any]]:
    """The talks to rate: the programme's (of `track`), or those of `talk_ids`; CliError when
    it has none, or not each of them. A busy API's reads (503: a stack scaling up, its database
    resuming) are waited out within `wait`'s timeout, and said, as is an API not listening yet
    (its connection refused: a local runtime starting): nothing is sent before them."""
    api = session.api
    with wait.on(api):
        talks = [t for t in api.talks(track) if not talk_ids or t["id"] in talk_ids]
        missing = sorted(set(talk_ids) - {t["id"] for t in talks})
        if missing:
            where = f"the programme's track {track!r}" if track else "the programme"
            raise CliError(f"not in {where}: {', '.join(missing)}")
        if not talks:
            if track:
                known_track(session, track)  # a typo: the tracks there are, named
            raise CliError("no talks to rate: the programme is empty")
    return talks


def _baseline(session: Session, talk_ids: list[str], timeout: float) -> dict[str, Reading]:
    """Each talk's counts before the run: settled first (earlier ratings still being projected
    are not the crowd's), then each talk's histogram with its revision, read together. A busy
    API's reads are waited out as the verify's are (within `timeout` of the first), and said,
    as is an API not listening (a runtime restarting); nothing is sent meanwhile."""
    say = partial(output.errors.print, markup=False)
    with BusyWait.counts_before_run(timeout, say).on(session.api):
        return read_each(session.api, settled(session.api, talk_ids))


def _verify(
    session: Session, ledger: Ledger, baseline: dict[str, Reading], timeout: float, alone: bool
) -> Verdict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    delta = ledger.expected_delta()
    # The ratings are sent: a busy API's reads (503) are waited out within the timeout, and
    # said, as is an API not listening (its runtime restarting mid-verify), said once.
    say = partial(output.errors.print, markup=False)
    with BusyWait.verify(timeout, say).on(session.api):
        with Progress(
            TextColumn("projecting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=output.errors,
        ) as progress:
            bar = progress.add_task("verify", total=max(1, ledger.expected))

            def seen(verdict: Verdict) -> None:
                progress.update(bar, completed=max(0, verdict.counted))

            # Alone, no rating is someone else's: any beyond the run's is a disagreement.
            verdict = await_projection(session.api, baseline, delta, ledger, timeout, seen, alone)
        for talk_id in [*verdict.disagreeing, *verdict.pending, *verdict.unprojected]:
            where = diagnose(session.api, ledger.events.get(talk_id, []))
            verdict.whereabouts[talk_id] = {k: v for k, v in where.items()}
    return verdict


def _report(
    session: Session, ledger: Ledger, runner: Runner, verdict: Verdict | None
) -> dict[str, Any]:
    """The run's figures: printed for a person, returned for --json (the caller prints the one
    document, with an error when the run failed)."""
    elapsed = max(1e-3, (ledger.finished or time.monotonic()) - ledger.started)
    rate = ledger.average_rate()
    figures: dict[str, Any] = {
        "sent": ledger.sent,
        "accepted": ledger.accepted,
        "badRefused": ledger.bad_refused,
        "badAccepted": ledger.bad_accepted,
        "throttled": ledger.throttled,
        "windowClosed": ledger.window_closed,
        "closedTalks": sorted(ledger.closed_talks),
        "skipped": ledger.skipped,
        "errors": ledger.errors,
        "uncertain": ledger.uncertain,
        "voterTokens": len(runner.tokens),
        "seconds": round(elapsed, 2),
        "ratePerSecond": round(rate, 1),
        "latencyMs": {
            name: None if (p := ledger.percentile(share)) is None else round(p * 1000, 1)
            for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        },
        "statuses": dict(sorted(ledger.statuses.items())),
        "lastError": ledger.last_error,
    }
    if verdict is not None:
        figures |= {
            "expected": verdict.expected,
            "counted": verdict.counted,
            "verified": verdict.ok and ledger.accepted > 0,
            "projectorSeconds": round(verdict.waited, 2),
            "whereabouts": verdict.whereabouts,
            "disagreeing": {
                k: {"expected": e, "counted": c} for k, (e, c) in verdict.disagreeing.items()
            },
            # Ratings other clients sent to the run's talks meanwhile: not the run's, not a
            # disagreement.
            "outside": {
                k: {"ratings": n, "change": change} for k, (n, change) in verdict.outside.items()
            },
            # Talks whose counts agree while their revision does not show every one of the
            # run's ratings applied: how many it does not.
            "pending": dict(verdict.pending),
            # Talks whose counts and revision agree while some of the run's ratings of them are
            # not said projected (GET /ratings/{eventId}): how many.
            "unprojected": dict(verdict.unprojected),
        }
    if not session.as_json:
        latency = figures["latencyMs"]
        lines = [
            f"requests  sent {ledger.sent} · accepted {ledger.accepted} · bad refused as expected "
            f"{ledger.bad_refused} · throttled {ledger.throttled} · window closed "
            f"{ledger.window_closed} · errors {ledger.errors}",
            f"rate      {figures['ratePerSecond']}/s over {figures['seconds']} s "
            f"({output.counted(len(runner.tokens), 'voter token')})",
            # "-" for a run stopped before any answer, as its progress line says it
            "latency   "
            + " · ".join(
                f"{name} {'-' if ms is None else f'{ms} ms'}" for name, ms in latency.items()
            ),
        ]
        if ledger.closed_talks:
            lines.append(
                "closed    "
                + output.counted(
                    len(ledger.closed_talks),
                    "talk is outside its rating window",
                    "talks are outside their rating window",
                )
                + f" (409); {ledger.skipped} of their planned ratings were not sent"
            )
        if ledger.throttled or runner.voter_retries:
            lines.append(
                f"limits    {ledger.throttled} ratings got 429, POST /voters waited "
                f"{runner.voter_retries} times: locally, raise them with make run RUN_ARGS="
                "'--param RatingsPerAddressPerMinute=0 --param VotersPerAddressPerMinute=0'"
            )
        if runner.voter_busy:
            # (503: the API busy, its backends away or stopping; no limit to raise)
            lines.append(f"busy      POST /voters waited {runner.voter_busy} times on 503")
        if ledger.bad_accepted:
            lines.append(f"!         {ledger.bad_accepted} deliberately bad requests were accepted")
        if ledger.last_error:
            lines.append(f"last error: {ledger.last_error}")
        if verdict is not None:
            agree = len(verdict_talks := [t for t in figures.get("disagreeing", {})])
            if not ledger.accepted:
                lines.append("verify    nothing to verify: no rating was accepted")
            else:
                if verdict.ok:
                    said = "every talk agrees"
                elif verdict.agrees:
                    said = "counts agree, " + output.counted(
                        len(verdict.pending) + len(verdict.unprojected),
                        "talk without every rating applied",
                        "talks without every rating applied",
                    )
                else:
                    said = output.counted(agree, "talk disagrees", "talks disagree")
                lines.append(f"verify    {said} (projector awaited {verdict.waited:.1f} s)")
            if verdict.outside:
                lines.append(
                    f"outside   {output.counted(verdict.outside_ratings, 'rating')} from outside "
                    f"this run on {output.counted(len(verdict.outside), 'talk')} (other clients "
                    "rated them meanwhile): set apart, not counted as this run's"
                )
            unconfirmed = [
                *((t, _not_shown_applied(n)) for t, n in verdict.pending.items()),
                *((t, _not_counted(n)) for t, n in verdict.unprojected.items()),
            ]
            for talk_id, why in unconfirmed[:10]:
                lines.append(f"          {talk_id}: {why}")
                for status, ids in verdict.whereabouts.get(talk_id, {}).items():
                    shown = "" if status == "projected" else f": {', '.join(ids[:5])}"
                    lines.append(f"            {len(ids)} of its accepted ratings {status}{shown}")
            for talk_id in verdict_talks[:10]:
                want, have = verdict.disagreeing[talk_id]
                lines.append(f"          {talk_id}: expected {want}, counted {have}")
                for status, ids in verdict.whereabouts.get(talk_id, {}).items():
                    shown = "" if status == "projected" else f": {', '.join(ids[:5])}"
                    lines.append(f"            {len(ids)} of its accepted ratings {status}{shown}")
        for line in lines:
            output.console.print(line, markup=False)
    if verdict is not None:
        print(
            f"sent {ledger.sent}, accepted {ledger.accepted}, expected {verdict.expected}, "
            f"counted {verdict.counted}"
            + (f", from outside {verdict.outside_ratings}" if verdict.outside else ""),
            file=sys.stderr if session.as_json else sys.stdout,
            flush=True,
        )
    return figures
