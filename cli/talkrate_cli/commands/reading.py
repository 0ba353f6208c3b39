"""talks, show, top and rate: what an attendee does."""

from __future__ import annotations

from typing import Any

import click

from talkrate_cli import output
from talkrate_cli.errors import ApiProblem, CliError, Unreachable
from talkrate_cli.main import Session, pass_session


class TalkId(click.ParamType[str]):
    """A talk's id as the API takes one (checked here: `show a/b` was sent, and said that no
    route has that path)."""

    name = "talk"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from talkrate.events import TALK_ID_RULE
        from talkrate_cli.programme import TALK_ID

        if not TALK_ID.fullmatch(str(value)):
            self.fail(
                f"{value!r} is not a talk id: it may hold {TALK_ID_RULE}",
                param,
                ctx,
            )
        return str(value)


TALK = TalkId()


@click.command()
@click.option("--track", help="Only this track.")
@click.option(
    "--search", "-q", help="Words to find in the title, speakers, track or room (accents aside)."
)
@pass_session
def talks(session: Session, track: str | None, search: str | None) -> None:
    """The programme, with each talk's count and average."""
    # An empty search (`-q "$WORDS"` with no words) searches for nothing: the whole programme
    found = session.api.talks(track, search if search and search.strip() else None)
    if not found and track:
        known_track(session, track)  # with --json too: a typo is an error, not an empty list
    if session.as_json:
        output.emit_json(found)
        return
    if not found:
        output.console.print("no talks match")
        return
    output.console.print(output.talks_table(found, session.venue_zone()))
    output.console.print(output.counted(len(found), "talk"), style="dim")
    if why := output.ratings_missing(found, session.api.ratings_rebuilding):
        # Not "no ratings": the API's Redis lost the counts (recounted in seconds), or is down
        output.console.print(
            f"no counts or averages now: {why}; try again in a moment", style="dim"
        )


def known_track(session: Session, track: str) -> None:
    """CliError when the programme has no such track (a typo, or its case: tracks are matched
    as written), naming the tracks it has: for any command given a --track that found
    nothing."""
    tracks = sorted({t["track"] for t in session.api.talks() if t.get("track")})
    if track not in tracks:
        raise CliError(
            f"no track {track!r} in the programme"
            + (f"; its tracks: {', '.join(tracks)}" if tracks else "")
        )


@click.command()
@click.argument("talk", type=TALK)
@pass_session
def show(session: Session, talk: str) -> None:
    """One talk: its histogram as bars, and its statistics.

    Each value's share of the ratings is rounded on its own, a tie up (1 of 8 is 13%): equal
    counts show equal shares, and the shares may add up to 98% to 102% (a talk rated 3, 4
    and 5 once each: 33% each, 99% in all). The std dev is the
    population one, divided by the count (a spreadsheet's STDEV.P; its STDEV, the sample one,
    is a little larger). The mode names every value given most often ("4 and 5"), "all alike"
    when the five were given equally often.
    """
    details = session.api.talk(talk)
    ratings = session.api.ratings(talk)
    if session.as_json:
        output.emit_json({"talk": details, **ratings})
        return
    output.console.print(output.talk_view(details, ratings, session.venue_zone()))


@click.command()
@click.option("--track", help="Only this track.")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="How many talks.",
)
@pass_session
def top(session: Session, track: str | None, limit: int) -> None:
    """The leaderboard: the best talks by Bayesian average."""
    board = session.api.leaderboard(limit, track)
    if board.get("rebuilding") is True:
        # Not "no rated talks yet": the API's Redis lost the counts, recounted in seconds.
        raise CliError(f"{output.LEADERBOARD_REBUILDING}; try again in a moment")
    if not board.get("talks") and track:
        # Not "no ratings yet" for a track the programme does not have (a typo, a case).
        known_track(session, track)
    if session.as_json:
        output.emit_json(board)
        return
    if not board.get("talks"):
        output.console.print("no rated talks yet")
        return
    output.console.print(output.leaderboard_table(board))


@click.command()
@click.argument("talk", type=TALK)
@click.argument("value", type=click.IntRange(1, 5))
@click.option(
    "--code",
    envvar="TALKRATE_EVENT_CODE",
    help="The event code, when voter tokens need one [env TALKRATE_EVENT_CODE].",
)
@pass_session
def rate(session: Session, talk: str, value: int, code: str | None) -> None:
    """Rate TALK from 1 to 5 (with a voter token kept in your config folder)."""
    from talkrate_cli import voting  # (with the HTTP client: not for the other commands' start)

    try:
        accepted = voting.rate(session.api, session.voter_tokens(), talk, value, code)
    except ApiProblem as problem:
        if problem.slug == "rating-window-closed":
            # The API says when in UTC; a person reads it as the programme shows it
            title = problem.problem.get("title") or "Outside the rating window"
            takes = output.rating_window(
                problem.problem.get("opensAt"),
                problem.problem.get("closesAt"),
                session.venue_zone(),
            )
            problem.args = (f"{title} ({problem.status}): {talk} takes ratings {takes}",)
        elif problem.answer_lost:
            # (a gateway's 502 or 504 at every try: the API may have taken it, unanswered)
            problem.args = (f"{problem.args[0]}; {talk} may have been rated all the same",)
        elif problem.status == 503 and problem.retry_after is not None:
            problem.args = (f"{problem.args[0]}; try again in {problem.retry_after:.0f} s",)
        raise
    except Unreachable as error:
        if not error.answer_lost:
            raise
        raise Unreachable(
            f"{str(error).rstrip('.')}; {talk} may have been rated all the same", answer_lost=True
        ) from None
    if session.as_json:
        output.emit_json(accepted)
        return
    output.console.print(
        f"rated {talk} {value}★ ({accepted.get('status', 'accepted')}, "
        f"event {accepted.get('eventId')})"
    )


COMMANDS = (talks, show, top, rate)
