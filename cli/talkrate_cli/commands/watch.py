"""talkrate watch: a talk's bars or the leaderboard, kept up to date in the terminal.

Fed by the live channel when the deployment has one (each event wakes a refetch over HTTP; an
organiser's change to the talk reads the talk again), else by polling; polling also stands in
while the channel reconnects.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import click

from talkrate_cli import output, signals
from talkrate_cli.commands.reading import TALK, known_track
from talkrate_cli.errors import ApiProblem, CliError, Unreachable
from talkrate_cli.live import LEADERBOARD_CHANNEL, LiveEndpoint, LiveSubscriber, catalog_place
from talkrate_cli.main import Session, pass_session

if TYPE_CHECKING:  # (rich and httpx load with the first view: not for `talkrate --help`)
    from rich.console import Group

    from talkrate_cli.client import Api

LIVE_REFRESH_SECONDS = 30.0  # a safety refetch even when the channel is quiet
# While the board is recounted, read again this often, live channel or not: no message comes
# when a rebuild ends.
RECOUNT_READ_SECONDS = 5.0


def unreadable_wait(attempt: int) -> float:
    """While the counts cannot be read (Redis does not answer), the wait before the `attempt`-th
    read again (0 the first): 5 s, then 10, 20, 40, and every minute while it lasts, as the
    pages read (web/js/pages/common.js unreadableRead)."""
    return min(60.0, 5.0 * 2.0**attempt)


class Watcher:
    """Fetches a view whenever woken (a live event) or every `interval` seconds."""

    def __init__(self, api: Api, talk: str | None, track: str | None, limit: int) -> None:
        self.api = api
        self.talk = talk
        self.track = track
        self.limit = limit
        # The times shown are in it (the venue's, read at start; the machine's when None)
        self.zone: tzinfo | None = None
        self.wake = threading.Event()
        self.state = "polling"
        self.updates = 0
        self.talk_doc: dict[str, Any] | None = None
        # Read the talk itself again at the next fetch: a poll's, the safety refetch's and a
        # reconnect's (a rating's event changes only its ratings)
        self.look_again = False
        # The newest change to the talk read or heard of (live.catalog_place): a message no
        # newer (an earlier save or removal another API instance published later) is let be
        self.newest_change = -1
        # The last read found the API unable to read its counts (the leaderboard's 503
        # read-model-unavailable, a talk's ratings `unavailable`): the board shown, if any, is
        # of before, a talk's bars are the stored ratings' (a live channel says so at once:
        # an `unavailable` message wakes a read, unless the last read found it so already)
        self.unreadable = False
        # ...and how many reads in a row found it so (unreadable_wait)
        self.unreadable_reads = 0
        # ...or found it being recounted (`rebuilding`)
        self.recounting = False

    def channels(self) -> list[str]:
        """The live channels this view listens to."""
        if self.talk is None:
            return [LEADERBOARD_CHANNEL]
        channel = (self.talk_doc or {}).get("channel")  # the API names it: never computed here
        if not channel:
            return []
        return [channel if str(channel).startswith("/") else f"/talkrate/talks/{channel}"]

    def fetch(self) -> dict[str, Any]:
        """The view's current data; the talk read again when asked to (`look_again`).

        GET /talks/{id} reads the catalog itself: an organiser's change shows, and a removal is
        a 404 at once, where GET /ratings is answered from the API's cache of the talks that
        exist for up to 30 s more (behind RDS Proxy, on every instance but the one that removed
        it)."""
        if self.talk is None:
            try:
                board = self.api.leaderboard(self.limit, self.track)
            except ApiProblem as problem:
                self._found_unreadable(problem.slug == output.COUNTS_UNREADABLE_SLUG)
                raise
            self._found_unreadable(False)
            self.recounting = board.get("rebuilding") is True
            return board
        if self.talk_doc is None or self.look_again:
            self.talk_doc = self.api.talk(self.talk)
            self.look_again = False
            revision = self.talk_doc.get("revision")
            if isinstance(revision, int):
                self.newest_change = max(self.newest_change, 2 * revision)
        ratings = self.api.ratings(self.talk)
        self._found_unreadable(ratings.get("unavailable") is True)
        return ratings

    def _found_unreadable(self, unreadable: bool) -> None:
        self.unreadable = unreadable
        self.unreadable_reads = self.unreadable_reads + 1 if unreadable else 0

    def renderable(self, data: dict[str, Any], error: str | None) -> Group:
        """The view and a status line."""
        from rich.console import Group
        from rich.styled import Styled
        from rich.text import Text

        if self.talk is None:
            title = f"leaderboard{f' · {self.track}' if self.track else ''}"
            body: Any = output.leaderboard_table(data, one_line=True)
            if data.get("rebuilding") is True:
                # Not an empty board: the API's Redis lost the counts, recounted in seconds
                # (the next fetch after it shows the board again).
                body = Text(output.LEADERBOARD_REBUILDING + "; it shows again once recounted")
            elif self.unreadable:
                # Its Redis down: the board read before (if any) is of before; said once, above
                # it, and read again (less often as it lasts) until the API can read it.
                said = Text(output.LEADERBOARD_UNREADABLE + "; it shows again once it can")
                body = Group(said, body) if data.get("talks") else said
            parts: list[Any] = [Styled(title, "bold"), body]  # (a track's name: as printed)
        else:
            parts = [output.talk_view(self.talk_doc or {}, data, self.zone)]
            if self.unreadable:
                parts.append(Text(output.TALK_UNREADABLE + "; read again shortly"))
        # (in the zone of the talk's times: one clock on the screen)
        stamp = datetime.now(self.zone).strftime("%H:%M:%S")
        plural = "" if self.updates == 1 else "s"
        # Not "live" over counts that cannot move until the API reads them again
        state = "paused" if self.unreadable and self.state == "live" else self.state
        status = f"{state} · {self.updates} update{plural} · {stamp}"
        if error:
            status += f" · {error}"
        parts += [Text(""), Styled(status + " · Ctrl-C to stop", "dim")]
        return Group(*parts)

    def on_event(self, event: Any) -> None:
        """A live event: refetch now; the talk itself too when an organiser changed or removed
        it (a `catalog` message), unless the change is older than one read or heard of. An
        `unavailable` message when the last read found the counts unreadable changes nothing:
        they are read again on their own schedule (unreadable_wait)."""
        if isinstance(event, dict) and event.get("type") == "unavailable" and self.unreadable:
            return
        if isinstance(event, dict) and event.get("type") == "catalog" and self.talk is not None:
            place = catalog_place(event)
            if place is not None:
                if place <= self.newest_change:
                    return
                self.newest_change = place
            self.look_again = True
        self.wake.set()

    def on_state(self, state: str) -> None:
        """The channel connected or dropped: refetch (what was published meanwhile, and the talk
        as it is now) and say so."""
        self.state = state
        self.look_again = True
        self.wake.set()


@click.command()
@click.argument("talk", required=False, type=TALK)
@click.option("--leaderboard", is_flag=True, help="Watch the leaderboard instead of a talk.")
@click.option("--track", help="Leaderboard of one track.")
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="With --leaderboard: how many talks.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.2),
    default=2.0,
    show_default=True,
    help="Seconds between polls when there is no live channel.",
)
@click.option("--poll", is_flag=True, help="Poll even when a live channel is available.")
@click.option("--duration", type=click.FloatRange(0), help="Stop after this many seconds.")
@pass_session
def watch(
    session: Session,
    talk: str | None,
    leaderboard: bool,
    track: str | None,
    limit: int,
    interval: float,
    poll: bool,
    duration: float | None,
) -> None:
    """Watch TALK's histogram, or --leaderboard, change live (Ctrl-C stops).

    With --json: one JSON document a line, the view each time it changes; a failure that ends
    the watch is the last line, {"error": {...}}.
    """
    if leaderboard and talk is not None:
        raise click.UsageError("give a TALK or --leaderboard, not both")
    if not leaderboard and talk is None:
        raise click.UsageError("give a TALK or --leaderboard")
    if talk is not None and track is not None:
        raise click.UsageError("--track is for --leaderboard: a talk's histogram has no track")
    limits = click.get_current_context().get_parameter_source("limit")
    if talk is not None and limits is click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--limit is for --leaderboard: a talk's histogram lists no talks")
    watcher = Watcher(session.api, talk, track, limit)
    error: str | None = None
    try:
        data = watcher.fetch()  # a wrong talk or an unreachable API fails here, in one line
    except ApiProblem as problem:
        if not watcher.unreadable:
            raise
        # The board's counts cannot be read now: watched until they can, not a failure
        data, error = {"talks": [], "unavailable": True}, str(problem)
    if talk is None and track and not data.get("talks") and error is None:
        known_track(session, track)  # a typo, not an empty board to watch until Ctrl-C
    subscriber = None
    endpoint = None if poll else LiveEndpoint.from_config(session.api.page_config())
    if not session.as_json:
        # The venue's zone, read once for the whole watch (from the config just read)
        watcher.zone = session.venue_zone()
    if endpoint is not None and (channels := watcher.channels()):
        watcher.state = "connecting to the live channel"
        subscriber = LiveSubscriber(
            endpoint,
            channels,
            watcher.on_event,
            watcher.on_state,
            endpoint_now=lambda: LiveEndpoint.from_config(session.api.page_config(again=True)),
        )
        subscriber.start()
    deadline = None if duration is None else time.monotonic() + duration
    try:
        # (a Ctrl-C sent twice at once, as `timeout -s INT` does, stops it once: the second
        # landed inside the last view's drawing, which was then never written)
        with signals.ctrl_c_once():
            if session.as_json:
                _watch_json(watcher, data, interval, deadline)
            else:
                _watch_live(watcher, data, interval, deadline, error)
    except KeyboardInterrupt:
        pass
    finally:
        if subscriber is not None:
            subscriber.stop()


def _pause(watcher: Watcher, interval: float, deadline: float | None) -> bool:
    """Wait for a live event or the next poll; False once the deadline has passed."""
    wait = LIVE_REFRESH_SECONDS if watcher.state == "live" else interval
    if watcher.unreadable:
        wait = min(wait, unreadable_wait(watcher.unreadable_reads - 1))
    elif watcher.recounting:
        wait = min(wait, RECOUNT_READ_SECONDS)
    if deadline is not None:
        wait = min(wait, max(0.0, deadline - time.monotonic()))
    woke = watcher.wake.wait(wait)
    if not woke:  # a poll, or the safety refetch: the talk is read again too
        watcher.look_again = True
    if woke:
        watcher.wake.clear()
        time.sleep(0.2)  # debounce: a batch publishes a talk and the leaderboard together
        watcher.wake.clear()
    return deadline is None or time.monotonic() < deadline


def _refetch(watcher: Watcher, data: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    try:
        return watcher.fetch(), None
    except Unreachable as error:
        return data, str(error)  # "cannot reach the API at ...": no prefix to say it twice
    except ApiProblem as error:
        if error.status == 404 and watcher.talk is not None:
            # Removed from the programme while watched: nothing more will come (exit 1).
            raise CliError(f"{watcher.talk} was removed from the programme") from None
        return data, str(error)
    except CliError as error:
        return data, str(error)


def _watch_live(
    watcher: Watcher,
    data: dict[str, Any],
    interval: float,
    deadline: float | None,
    error: str | None = None,
) -> None:
    from rich.live import Live

    drawing = False
    try:
        with Live(
            watcher.renderable(data, error), console=output.console, auto_refresh=False
        ) as screen:
            drawing = True
            while _pause(watcher, interval, deadline):
                fresh, error = _refetch(watcher, data)
                if fresh != data:
                    watcher.updates += 1
                    data = fresh
                screen.update(watcher.renderable(data, error), refresh=True)
    finally:
        # Stopped (Ctrl-C, SIGTERM) while Live was still starting, after it hid the cursor: its
        # own exit never ran. (Nothing is written where the output is no terminal.)
        output.console.show_cursor(True)
        if drawing and not output.console.is_terminal:
            # Piped or redirected, the view is drawn once as it ends, and rich ends its last
            # line only on a terminal: a file of the last view ends its last line too, however
            # the watch ended (Ctrl-C, SIGTERM, the talk removed: not only at --duration's end).
            output.console.line()


def _watch_json(
    watcher: Watcher, data: dict[str, Any], interval: float, deadline: float | None
) -> None:
    output.emit_json(data)
    while _pause(watcher, interval, deadline):
        fresh, error = _refetch(watcher, data)
        if error:
            # A passing failure (the next poll may succeed): a line for the person, on stderr.
            # stdout keeps its lines for the views; one that ends the watch is its last line.
            output.errors.print(f"talkrate: {error} (still watching)", markup=False)
        if fresh != data:
            data = fresh
            output.emit_json(data)
