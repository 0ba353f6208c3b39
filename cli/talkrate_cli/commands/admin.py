"""talkrate admin: the organisers' commands (an organiser token is needed)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talkrate_cli import clashes, output, programme
from talkrate_cli.commands.reading import TALK, known_track
from talkrate_cli.errors import ApiProblem, BadInput, CliError, Interrupted, Unreachable
from talkrate_cli.main import Session, pass_session

if TYPE_CHECKING:  # (httpx loads with the first request: not for `talkrate admin --help`)
    from talkrate_cli.client import Api

EDIT_ATTEMPTS = 3  # reads and saves of `admin edit` while others keep saving the talk


@click.group()
def admin() -> None:
    """Add, change, remove, import and export talks.

    Adding, changing, removing and importing need the organiser token: TALKRATE_ADMIN_TOKEN,
    else with --stack the one the stack generated (read from its AdminTokenSecretArn secret
    with your AWS credentials), else (for the local runtime) the one it made in its data
    folder's organiser-token (.local/, or the --data-dir it was given, which TALKRATE_LOCAL_DATA
    names to this command). Exporting needs none: the programme and its results are public."""


def _fields(
    title: str | None,
    speakers: tuple[str, ...],
    track: str | None,
    room: str | None,
    starts: str | None,
    ends: str | None,
    language: str | None = None,
) -> dict[str, Any]:
    if title is not None and not title.strip():
        # Clearing is for the optional fields; an empty title would reach the API as none at all.
        raise click.UsageError("--title must not be empty: every talk has a title")
    given: dict[str, Any] = {
        "title": title,
        "track": track,
        "room": room,
        "startsAt": starts,
        "endsAt": ends,
        "language": language,
    }
    fields = {k: (v or None) for k, v in given.items() if v is not None}
    if speakers:
        # `--speaker ''` alone is no speaker, as '' clears the other fields
        fields["speakers"] = [] if speakers == ("",) else list(speakers)
    return fields


def talk_options(required_title: bool) -> Any:
    """The talk's fields as options (an empty value clears an optional one)."""

    def wrap(command: Any) -> Any:
        for option in reversed(
            [
                click.option("--title", required=required_title, help="The talk's title."),
                click.option(
                    "--speaker",
                    "speakers",
                    multiple=True,
                    help="A speaker (repeat for more)."
                    if required_title
                    else "A speaker (repeat for more): those given replace the talk's speakers "
                    "('' alone clears them).",
                ),
                click.option("--track", help="The track ('' clears it)."),
                click.option("--room", help="The room ('' clears it)."),
                click.option(
                    "--starts",
                    help="Start: RFC 3339 (2026-12-05T10:00+01:00), or the venue's wall time "
                    "(2026-12-05 10:00) where the deployment names its time zone ('' clears it).",
                ),
                click.option("--ends", help="End, as --starts ('' clears it)."),
                click.option(
                    "--language",
                    help="The language of the title and the speakers' names, as a BCP 47 tag "
                    "(he, ar, fa, en-GB, pt-BR): the pages mark them with it for screen "
                    "readers ('' clears it).",
                ),
            ]
        ):
            command = option(command)
        return command

    return wrap


def _venue_times(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with --starts and --ends as sent: a wall time without a zone read in the
    venue's time zone, where the deployment names one (BadInput for one its clocks skip), and
    sent with its offset; without a venue zone, or with a zone of its own, the time as given
    (the API refuses a time without a zone, as before)."""
    for name, option in (("startsAt", "--starts"), ("endsAt", "--ends")):
        text = fields.get(name)
        if not text or not programme.names_no_zone(text):
            continue
        zone = session.venue_zone()
        if zone is None:
            continue
        fields[name], problem = programme.sent_time(option, text, zone)
        if problem:
            raise BadInput(problem)
    return fields


def _done(session: Session, document: Any, line: str) -> None:
    if session.as_json:
        output.emit_json(document)
    else:
        output.console.print(line)


def _warn(session: Session, found: list[clashes.Clash]) -> None:
    """A line on stderr for each room clash, the first SHOWN of them and how many more, as the
    lines of a file that cannot be imported are said (--json lists them all in the document)."""
    if not session.as_json and found:
        zone = session.venue_zone()
        shown = found[: programme.BadRows.SHOWN]
        for clash in shown:
            line = output.clash_line(clash, zone)
            output.errors.print(f"talkrate: warning: {line}", markup=False)
        if len(found) > len(shown):
            output.errors.print(
                f"talkrate: warning: and {len(found) - len(shown):,} more room clashes "
                "(`--json` lists every one)",
                markup=False,
            )


def _saved(session: Session, api: Any, talk: str, saved: dict[str, Any], line: str) -> None:
    """Say a talk was saved, and each clash it now has with another talk of its room: a
    warning, not a failure (the change is made; the organiser decides). The programme is read
    only for a talk with a room and both times, the only kind that can clash."""
    saved = {**saved, "id": talk}
    found: list[clashes.Clash] | None = []
    looked = (saved.get("room"), saved.get("startsAt"), saved.get("endsAt"))
    if clashes.room_key(looked[0]) and all(looked[1:]):
        try:
            others = [t for t in api.talks() if t.get("id") != talk]
            found = clashes.room_clashes([saved, *others], [talk])
        except CliError as error:
            # The talk is saved: an exit 1 now would have a script make the change again
            found = None
            if not session.as_json:
                output.errors.print(
                    f"talkrate: warning: cannot look for room clashes: {error}", markup=False
                )
    _warn(session, found or [])
    listed = None if found is None else [clash.document() for clash in found]
    _done(session, {**saved, "clashes": listed}, line)


@admin.command()
@click.argument("talk", type=TALK)
@talk_options(required_title=True)
@pass_session
def add(
    session: Session,
    talk: str,
    title: str,
    speakers: tuple[str, ...],
    track: str | None,
    room: str | None,
    starts: str | None,
    ends: str | None,
    language: str | None,
) -> None:
    """Add TALK to the programme (refused when the id is taken, unless by this very talk: an
    earlier run whose answer was lost had added it)."""
    fields = _venue_times(session, _fields(title, speakers, track, room, starts, ends, language))
    api = session.admin_api()
    try:
        created = api.add_talk({"id": talk, **fields})
        line = f"added {talk}: {created['title']}"
    except ApiProblem as problem:
        if problem.slug != "talk-exists":
            raise
        created = _added_before(api, talk, fields, problem)
        line = f"added {talk}: {created['title']} (an earlier try had gone through)"
    except Unreachable as error:
        if not error.answer_lost:
            raise
        # Sent, and no answer: the API may have added it. Run again, the command tells.
        raise Unreachable(
            f"{str(error).rstrip('.')}; {talk} may have been added all the same: run the "
            "command again to find out",
            answer_lost=True,
        ) from None
    _saved(session, api, talk, created, line)


def _added_before(api: Api, talk: str, fields: dict[str, Any], taken: ApiProblem) -> dict[str, Any]:
    """The talk under TALK's id, when it is as `fields` say field for field (an earlier `admin
    add` of it went through, its answer lost); else `taken` (409), pointing to `admin edit`."""
    try:
        current = api.talk(talk)
    except CliError:
        current = None
    asked = {name: _trimmed(fields.get(name)) for name in programme.COLUMNS[1:]}
    asked["speakers"] = [_trimmed(speaker) for speaker in fields.get("speakers") or []]
    if current is not None and programme.same_talk(asked, current):
        return current
    differs = "" if current is None else " with other fields than these"
    taken.args = (
        f"{taken.problem.get('title') or 'Talk exists'} ({taken.status}): {talk} is in the "
        f"programme already{differs}: `talkrate admin edit {talk}` changes it",
    )
    raise taken


def _trimmed(value: Any) -> Any:
    """A text as the API keeps it (trimmed of spaces)."""
    return value.strip() if isinstance(value, str) else value


def _kept(value: Any) -> Any:
    """A field's value as the API keeps it: a text, or each of a list's, trimmed."""
    return [_trimmed(item) for item in value] if isinstance(value, list) else _trimmed(value)


@admin.command()
@click.argument("talk", type=TALK)
@talk_options(required_title=False)
@pass_session
def edit(
    session: Session,
    talk: str,
    title: str | None,
    speakers: tuple[str, ...],
    track: str | None,
    room: str | None,
    starts: str | None,
    ends: str | None,
    language: str | None,
) -> None:
    """Change some fields of TALK; the others stay as they are. Values it holds already change
    nothing: said as `unchanged`, nothing saved (its revision stays)."""
    api = session.admin_api()
    changes = _venue_times(session, _fields(title, speakers, track, room, starts, ends, language))
    cleared = {"track": track, "room": room, "startsAt": starts, "endsAt": ends}
    for name, value in (cleared | {"language": language}).items():
        if value == "":
            changes[name] = None
    if not changes:
        raise click.UsageError("nothing to change: give at least one field")
    keep = ("title", "speakers", "track", "room", "startsAt", "endsAt", "language")
    # Read, change, and save only if nobody saved the talk in between (If-Match): when someone
    # did, read it again and apply these changes to what they saved, rather than undo it.
    for attempt in range(EDIT_ATTEMPTS):
        current = api.talk(talk)
        # What differs from what the talk holds (as `admin import` tells unchanged rows): a
        # value given as it is saves nothing, so it neither bumps the revision (an organiser's
        # open form would be refused, 412) nor says it changed.
        differ = sorted(
            n for n in changes if not programme.same_talk({n: _kept(changes[n])}, current)
        )
        if not differ:
            held = {k: v for k, v in current.items() if k != "summary"}
            _saved(session, api, talk, held, f"unchanged {talk}: it holds what was given already")
            return
        fields = {k: current.get(k) for k in keep if current.get(k) is not None} | changes
        body = {k: v for k, v in fields.items() if v is not None}
        try:
            _, replaced = api.put_talk(talk, body, revision=current.get("revision"))
            break
        except ApiProblem as problem:
            if problem.status != 412 or attempt == EDIT_ATTEMPTS - 1:
                raise
    _saved(session, api, talk, replaced, f"changed {talk}: {', '.join(differ)}")


def _pause(session: Session, talk: str, paused: bool) -> None:
    """Pause (or resume) TALK's ratings: the talk as it is with `ratingsPaused`, saved only if
    nobody saved it in between (If-Match; read again and tried again if someone did). A talk
    already so saves nothing: said as `unchanged`, its revision kept."""
    api = session.admin_api()
    keep = ("title", "speakers", "track", "room", "startsAt", "endsAt", "language")
    state = "paused" if paused else "resumed"
    for attempt in range(EDIT_ATTEMPTS):
        current = api.talk(talk)
        if current.get("ratingsPaused", False) is paused:
            held = {k: v for k, v in current.items() if k != "summary"}
            _done(session, held, f"unchanged {talk}: its ratings are {state} already")
            return
        body = {k: current[k] for k in keep if current.get(k) is not None}
        try:
            _, saved = api.put_talk(
                talk, {**body, "ratingsPaused": paused}, revision=current.get("revision")
            )
            break
        except ApiProblem as problem:
            if problem.status != 412 or attempt == EDIT_ATTEMPTS - 1:
                raise
    said = (
        "it takes no rating until `talkrate admin resume` (those accepted before still count)"
        if paused
        else "it takes ratings again within its times"
    )
    _done(session, {**saved, "id": talk}, f"{state} the ratings of {talk}: {said}")


@admin.command()
@click.argument("talk", type=TALK)
@pass_session
def pause(session: Session, talk: str) -> None:
    """Pause TALK's ratings now, whatever its times say: every rating is refused (409
    ratings-paused) until `talkrate admin resume TALK`. Ratings accepted before the pause
    still count, once. A talk paused already is left as it is (`unchanged`)."""
    _pause(session, talk, True)


@admin.command()
@click.argument("talk", type=TALK)
@pass_session
def resume(session: Session, talk: str) -> None:
    """Resume TALK's ratings after `talkrate admin pause`: it takes ratings again within its
    times (its start until its end plus the grace). A talk not paused is left as it is."""
    _pause(session, talk, False)


@admin.command()
@click.argument("talks", metavar="TALK...", nargs=-1, required=True, type=TALK)
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@pass_session
def rm(session: Session, talks: tuple[str, ...], yes: bool) -> None:
    """Remove each TALK from the programme: it takes no more ratings; those it has are kept
    and come back if a talk of the same id is added again.

    Several talks are asked about in one question, then removed one after the other, each
    said; a talk that cannot be removed (not in the programme) is said and the others still
    go, and the exit status is 1."""
    api = session.admin_api()
    talks = tuple(dict.fromkeys(talks))
    if len(talks) > 1:
        _remove_several(session, api, list(talks), yes)
        return
    [talk] = talks
    if not yes:
        title = api.talk(talk)["title"]  # a talk not in the programme is said so before asking
        # Asked whatever stdin is: `echo n | talkrate admin rm T` keeps T, and a script with
        # no answer to give (stdin closed) is refused; --yes is how a script removes.
        # click writes the question itself, past rich: its direction controls shown here.
        click.confirm(f"remove {talk} ({output.visible(title)})?", abort=True, err=True)
    api.remove_talk(talk)
    _done(session, {"removed": talk}, f"removed {talk}")


def _remove_several(session: Session, api: Any, talks: list[str], yes: bool) -> None:
    """`admin rm` of several talks: one question for those in the programme, then each
    removed and said; CliError at the end naming those that could not be."""
    removed: list[str] = []
    failed: list[dict[str, Any]] = []

    def refused(talk: str, problem: ApiProblem) -> None:
        if problem.status in (401, 403):  # the token: every other talk would be refused too
            raise problem
        failed.append({"talk": talk, "error": problem.document()})
        if not session.as_json:
            output.errors.print(f"talkrate: {talk}: {problem}", markup=False)

    def document() -> dict[str, Any]:
        return {"removed": removed, "failed": failed}

    try:
        asked = talks
        if not yes:
            titles: dict[str, str] = {}
            for talk in talks:  # those not in the programme said before the question
                try:
                    titles[talk] = api.talk(talk)["title"]
                except ApiProblem as problem:
                    refused(talk, problem)
            asked = list(titles)
            if asked:
                for talk, title in titles.items():
                    output.errors.print(f"  {talk} ({title})", markup=False)
                these = "this talk" if len(asked) == 1 else f"these {len(asked)} talks"
                click.confirm(f"remove {these}?", abort=True, err=True)
        for talk in asked:
            try:
                api.remove_talk(talk)
            except ApiProblem as problem:
                refused(talk, problem)
                continue
            removed.append(talk)
            if not session.as_json:
                output.console.print(f"removed {talk}", markup=False)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted after removing {output.counted(len(removed), 'talk')}",
            result=document(),
        ) from None
    except CliError as error:
        # The API gone or the token refused: what was removed before, under the error's kind
        error.args = (f"{error}; stopped after removing {output.counted(len(removed), 'talk')}",)
        error.result = document()
        raise
    if failed:
        names = ", ".join(f["talk"] for f in failed)
        raise CliError(
            f"{len(failed)} of {output.counted(len(talks), 'talk')} not removed: {names}",
            result=document(),
        )
    if session.as_json:
        output.emit_json(document())


@admin.command(name="import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@pass_session
def import_(session: Session, csv_file: Any, dry_run: bool) -> None:
    """Create or update the talks of a programme CSV; unchanged talks are left alone.

    Columns: id, title, speakers (separated by ';', written '\\;' inside a name), track, room,
    startsAt, endsAt (with a time zone; or, where the deployment names the venue's, a wall
    time of its clocks: 2026-12-05 10:00), language (a BCP 47 tag: he, en-GB); cells
    separated by ',', ';' or tabs (a first line 'sep=;', as Excel reads it, names the
    separator). A column the file lacks leaves that field of an existing talk as it is. Talks
    of the catalog that are not in the file are left alone (and counted as such). Running it
    twice changes nothing the second time. A row without an id gets one from its title, as the organisers' page makes it
    ("Über Café" -> uber-cafe), or keeps the id an earlier import gave it. A file with lines
    that cannot be talks imports nothing: every such line is said, with what is wrong (the
    first 20, and how many more; --json lists them all). So is a row that would send a value
    the talk holds from before a rule the API has now, in a column the file lacks. An import
    never pauses or resumes a talk's ratings: the file's talks that are paused are said after
    the summary (`admin resume` opens them), and a ratingsPaused column (an export read back)
    saying otherwise of a talk is said not applied.
    """
    try:
        text = csv_file.read()
    except UnicodeDecodeError:
        raise BadInput(programme.not_utf8(csv_file.name)) from None
    # A NUL: UTF-16 without a byte-order mark (not UTF-8), or one put in UTF-8 text
    if unreadable := programme.unreadable_text(csv_file.name, text):
        raise BadInput(unreadable)
    # A time without a zone is the venue's wall time, where the deployment names its zone
    rows, problems = programme.read_programme(io.StringIO(text), session.venue_zone())
    # Where the venue's zone could not be read (the API out of reach, or not the API at that
    # address), a wall time's refusal is not the file's fault: each such line says why
    unzoned = []
    if session.zone_unread is not None:
        unzoned = [p for p in problems if programme.NAMES_NO_ZONE in p.message]
        unread = f"; the venue's time zone could not be read: {session.zone_unread}"
        problems = [
            programme.Problem(p.line, p.field, p.message + unread) if p in unzoned else p
            for p in problems
        ]
    try:
        api = session.admin_api()
        catalog = {t["id"]: t for t in api.talks()}
    except CliError:
        # The file's own problems are said whatever the API's state, or the token's; with
        # none but wall times the unread zone refused, the API's error (exit 1)
        if len(problems) > len(unzoned):
            raise programme.BadRows(problems) from None
        raise
    # What the file says with the catalog: ids for rows without one, and each row as it would
    # be sent (a column the file lacks as the talk holds it); every line said at once, nothing
    # sent, when any cannot be
    rows = programme.to_send(rows, problems, catalog)
    outcome: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "failed": []}
    failures: list[str] = []

    def how_far() -> str:
        # The row being sent when it stopped may have been saved: its answer is what was lost.
        done = ", ".join(f"{len(v)} {k}" for k, v in outcome.items() if v) or "none answered"
        return (
            f"after {sum(map(len, outcome.values()))} of {len(rows)} rows ({done}; the row on "
            "its way may be saved too); run it again to finish"
        )

    try:
        _import_rows(api, rows, catalog, outcome, failures, dry_run)
    except KeyboardInterrupt:
        # Ctrl-C between two talks: say how far it got; running it again finishes it (what
        # was changed is unchanged the second time).
        raise Interrupted(
            f"interrupted {how_far()}",
            result={**outcome, "dryRun": dry_run, "errors": failures},
        ) from None
    except CliError as error:
        # The API gone (the venue's network) or the token refused half-way: the same account
        # of what was done, under the error's own kind.
        error.args = (f"{error}; stopped {how_far()}",)
        error.result = {**outcome, "dryRun": dry_run, "errors": failures}
        raise
    in_file = {row.talk_id for row in rows}
    left = sorted(talk_id for talk_id in catalog if talk_id not in in_file)
    found = _import_clashes(rows, catalog, set(outcome["failed"]))
    # The import never pauses nor resumes a talk's ratings: those of the file's talks that are
    # paused are said (an organiser importing the programme again would take them for open),
    # and so is an export's ratingsPaused column that says otherwise (it is not applied)
    paused = programme.paused_talks(rows, catalog)
    not_applied = programme.pause_not_applied(rows, catalog)
    document = {
        **outcome,
        "notInFile": left,
        "dryRun": dry_run,
        "errors": failures,
        "clashes": [clash.document() for clash in found],
        "paused": paused,
        "ratingsPausedNotApplied": [row.document() for row in not_applied],
    }
    refused = f"{output.counted(len(failures), 'row was', 'rows were')} refused"
    if session.as_json:
        if failures:
            raise CliError(f"{refused}: {'; '.join(failures)}", result=document)
        output.emit_json(document)
        return
    for line in failures:
        output.errors.print(f"talkrate: {line}", markup=False)
    _warn(session, found)
    if not_applied:
        line = _pause_not_applied_line(not_applied, dry_run)
        output.errors.print(f"talkrate: warning: {line}", markup=False)
    summary = ", ".join(f"{len(v)} {k}" for k, v in outcome.items() if k != "failed" or v)
    if left:
        summary += f"; {len(left)} in the catalog but not in the file, left as they are"
    output.console.print(("would be: " if dry_run else "") + summary, markup=False)
    if paused:
        output.console.print(_paused_line(paused, dry_run), markup=False)
    if failures:
        raise click.exceptions.Exit(1)


def _named(ids: list[str]) -> str:
    """Ids joined by ", ": the first SHOWN of them, then how many more (as a file's bad lines
    are said; --json lists every one)."""
    shown = ids[: programme.BadRows.SHOWN]
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more (`--json` lists every one)" if more else "")


def _paused_line(paused: list[str], dry_run: bool) -> str:
    """What an import says of the file's talks whose ratings are paused (it leaves them so)."""
    one = len(paused) == 1
    state = "would stay" if dry_run else "is" if one else "are"
    return (
        f"{output.counted(len(paused), 'talk')} {state} paused (ratings refused): "
        f"{_named(paused)} \N{EM DASH} `talkrate admin resume ID` opens "
        f"{'it' if one else 'them'} again"
    )


def _pause_not_applied_line(rows: list[programme.PauseNotApplied], dry_run: bool) -> str:
    """What an import says of a ratingsPaused column (an export read back) saying other than
    the talks: once, naming each such talk with what the file and the talk say."""
    said = [
        f"{row.talk_id} ({'true' if row.in_file else 'false'} in the file, the talk "
        f"{'paused' if row.paused else 'not paused'})"
        for row in rows
    ]
    return (
        f"the file's ratingsPaused column {'would not be' if dry_run else 'is not'} applied (an "
        "import never pauses or resumes ratings: `talkrate admin pause ID` and `talkrate admin "
        f"resume ID` do); it differs from the talk for {_named(said)}"
    )


def _import_clashes(
    rows: list[programme.Row], catalog: dict[str, dict[str, Any]], failed: set[str]
) -> list[clashes.Clash]:
    """The room clashes of the file's talks in the programme as the import leaves it: each
    row over its talk (the columns the file lacks as the talk has them; a row the API refused
    leaves its talk as it was), beside the talks the file does not name."""
    after = dict(catalog)
    for row in rows:
        if row.talk_id not in failed:
            after[row.talk_id] = {**catalog.get(row.talk_id, {}), **row.fields, "id": row.talk_id}
    return clashes.room_clashes(after.values(), {row.talk_id for row in rows})


def _import_rows(
    api: Any,
    rows: list[programme.Row],
    catalog: dict[str, dict[str, Any]],
    outcome: dict[str, list[str]],
    failures: list[str],
    dry_run: bool,
) -> None:
    """Create or update each row's talk (or say what would be done), into `outcome`."""
    for row in rows:
        current = catalog.get(row.talk_id)
        if current is not None and programme.same_talk(row.fields, current):
            outcome["unchanged"].append(row.talk_id)
            continue
        kind = "created" if current is None else "updated"
        if not dry_run:
            # A PUT replaces the whole talk: the fields of columns the file lacks stay as they are.
            kept = {k: current.get(k) for k in programme.COLUMNS[1:]} if current else {}
            body = {k: v for k, v in (kept | row.fields).items() if v is not None}
            try:
                # Only over the talk as it was listed (or where none was): a change saved
                # since is not undone.
                if current is None:
                    api.put_talk(row.talk_id, body, new=True)
                else:
                    api.put_talk(row.talk_id, body, revision=current.get("revision"))
            except ApiProblem as problem:
                if problem.status in (401, 403):
                    raise
                outcome["failed"].append(row.talk_id)
                failures.append(f"line {row.line} ({row.talk_id}): {problem}")
                continue
        outcome[kind].append(row.talk_id)


@admin.command()
@click.argument("csv_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--track", help="Only this track.")
@click.option(
    "--decimal-comma",
    is_flag=True,
    help="Decimals with a comma and cells separated by ';': what a spreadsheet whose decimal "
    "mark is ',' (Excel in most of Europe) opens in columns.",
)
@pass_session
def export(session: Session, csv_file: Path, track: str | None, decimal_comma: bool) -> None:
    """Write the programme with each talk's count, average, histogram, rank and score to a CSV
    (- for stdout).

    The rank and score are the leaderboard's among the file's talks (the track's, with
    --track); a talk nobody rated has neither. `admin import` reads the file back either
    way."""
    if str(csv_file) == "-" and session.as_json:
        # stdout carries JSON under --json, and this file is CSV
        raise click.UsageError(
            "`admin export -` writes CSV, and --json keeps stdout for JSON: write it to a file "
            "(its document names the file), or read the results with `talkrate --json talks`"
        )
    talks = session.api.talks(track)
    if not talks and track:
        known_track(session, track)  # a typo is said, not written as a file of no talks
    if why := output.ratings_missing(talks, session.api.ratings_rebuilding):
        # A file of zeros would read as results.
        raise CliError(
            "the results cannot be read now: the API listed the talks without their ratings "
            f"because {why}; nothing was written, try again in a minute"
        )
    # The leaderboard's prior, as the service scores with it (ranked here, among the file's
    # talks, from the histograms the file holds: the board itself is read 100 talks at most).
    prior = session.api.leaderboard(limit=1)["prior"]
    # (no `sep=;` line: Excel reads it, but then drops the byte-order mark, and names in other
    # scripts than Latin come out garbled)
    delimiter = ";" if decimal_comma else ","
    if str(csv_file) == "-":
        # UTF-8 whatever the terminal's encoding (a results file is; "?" for a name would be
        # a wrong result, and a failure halfway a cut one).
        text = io.StringIO(newline="")
        programme.write_results(text, talks, prior, delimiter=delimiter)
        sys.stdout.flush()
        sys.stdout.buffer.write(text.getvalue().encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    try:
        # As the organisers' page downloads it: a byte-order mark and CRLF, for spreadsheets.
        with csv_file.open("w", encoding="utf-8-sig", newline="") as target:
            written = programme.write_results(
                target, talks, prior, line_end="\r\n", delimiter=delimiter
            )
    except OSError as error:
        raise CliError(f"cannot write {csv_file}: {error.strerror}") from None
    _done(
        session,
        {"file": str(csv_file), "talks": written},
        f"wrote {output.counted(written, 'talk')} to {csv_file}",
    )
