"""How results look: rich tables and bars for people, JSON for scripts.

rich (about 25 ms to load) is loaded with the first table, view or line printed through it:
`console` and `errors` come from talkrate_cli.consoles when first asked for, so that the command
answers `--version`, a command's `--help` or a JSON document without it.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import sys
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from talkrate.talk_text import DIRECTION_CONTROL
from talkrate_cli.clashes import Clash
from talkrate_cli.programme import instant

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, Group, OverflowMethod, RenderResult
    from rich.table import Table

    from talkrate_cli.consoles import TalkrateConsole

    console: TalkrateConsole  # what a command prints for its reader (stdout)
    errors: TalkrateConsole  # its errors, warnings and progress (stderr)


def __getattr__(name: str) -> Any:
    """`console` and `errors`, made on first use (talkrate_cli.consoles)."""
    if name in ("console", "errors"):
        from talkrate_cli import consoles

        return getattr(consoles, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def say_error(line: str) -> None:
    """One line on stderr, as `errors` prints it. Plain text (printable ASCII) is written as
    it would print it, without loading rich for it: `talkrate` alone, a mistyped option or
    an API out of reach answer in one line at once. Any other line goes through rich, which
    shows direction controls (`visible`) and drops the control characters a terminal acts on."""
    if line.isascii() and line.isprintable() and "talkrate_cli.consoles" not in sys.modules:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        return
    from talkrate_cli.consoles import errors

    errors.print(line, markup=False)


def visible(text: str) -> str:
    """The text with each of Unicode's direction controls shown as its code point, `<U+202E>`.
    A talk saved before the API refused them may hold one, and a terminal shows the rest of its
    line turned around (it has no isolate to keep an organiser's text to itself, as the pages
    do). The marks (U+200E, U+200F, U+061C) stay: right-to-left names need them."""
    return DIRECTION_CONTROL.sub(lambda control: f"<U+{ord(control.group()):04X}>", text)


BAR_WIDTH = 30
MIN_BAR_WIDTH = 5
VALUES = ("5", "4", "3", "2", "1")


def speaks_utf8(stream: Any) -> bool:
    """Whether a text stream encodes as UTF-8 (a Windows console redirected, or a latin-1 locale,
    does not)."""
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "utf-8"
    except LookupError:
        return False


def replace_what_cannot_be_written() -> None:
    """A stream that cannot encode every character (a title's ★ or CJK) writes "?" in its place
    rather than failing the command after its action was done."""
    for stream in (sys.stdout, sys.stderr):
        if not speaks_utf8(stream) and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def emit_json(document: Any) -> None:
    """One JSON document on stdout (characters its encoding lacks escaped, not replaced: JSON
    stays whole)."""
    sys.stdout.write(
        json.dumps(document, ensure_ascii=not speaks_utf8(sys.stdout), default=str) + "\n"
    )
    sys.stdout.flush()


# What `top` and `watch --leaderboard` say while the API's read model is being rebuilt
LEADERBOARD_REBUILDING = (
    "the leaderboard cannot be read now: it is being rebuilt from the stored ratings "
    "(the API's Redis lost them)"
)

# ...and while it cannot read its read model at all (GET /leaderboard's 503
# read-model-unavailable: its Redis does not answer)
LEADERBOARD_UNREADABLE = (
    "the leaderboard cannot be read now: the API cannot reach the Redis that keeps the counts "
    "(every rating is kept)"
)
COUNTS_UNREADABLE_SLUG = "read-model-unavailable"
# ...and what `watch TALK` says over a talk's bars counted from the stored ratings then (GET
# /ratings' `unavailable`)
TALK_UNREADABLE = (
    "counted from the stored ratings: the API cannot reach the Redis that keeps the live counts "
    "(every rating is kept)"
)


# Why GET /talks listed the talks without their counts and averages (`summary`), as `talks`
# and `admin export` say it: its `rebuilding` flag, else its Redis did not answer (the API
# leaves the summaries out then, with no flag: never zeros).
RATINGS_REBUILDING = "they are being rebuilt from the stored ratings (the API's Redis lost them)"
RATINGS_UNREACHABLE = "the API cannot reach the Redis that keeps them"


def ratings_missing(talks: list[dict[str, Any]], rebuilding: bool) -> str | None:
    """Why the programme's talks came without their counts and averages; None when each has
    its own."""
    if rebuilding:
        return RATINGS_REBUILDING
    if any("summary" not in talk for talk in talks):
        return RATINGS_UNREACHABLE
    return None


def counted(count: int, thing: str, things: str | None = None) -> str:
    """ "1 talk", "2 talks": a count with its noun in the number it takes."""
    return f"{count} {thing if count == 1 else things or thing + 's'}"


def places(value: float, digits: int) -> str:
    """A figure to `digits` places as JavaScript's toFixed(digits) writes it (see two_places)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP))


def two_places(value: float) -> str:
    """A figure to two places as the web app writes it (JavaScript's toFixed(2): the float's
    exact value, a tie rounded up), so the command and the pages agree: 2.625 is 2.63 on both,
    where Python's format rounds that tie to even (2.62)."""
    return places(value, 2)


def quotient_text(numerator: int, denominator: int, digits: int) -> str:
    """A quotient of whole numbers (both positive) to `digits` places, a tie rounded up: the
    exact value's, as the results export writes it (web/js/dom.js quotientText alike). The API's
    figures are rounded to four places already: rounded again to two, 442/109 (4.05504…, the
    API's 4.055) was 4.05."""
    scale = 10**digits
    q = (2 * numerator * scale + denominator) // (2 * denominator)
    return f"{q // scale}.{q % scale:0{digits}d}" if digits else str(q)


def sums(ratings: Any) -> tuple[int, int] | None:
    """The count and the sum of a histogram ({"1": n, …, "5": n}), or None for none."""
    if not isinstance(ratings, dict):
        return None
    counts = {value: int(ratings.get(str(value)) or 0) for value in range(1, 6)}
    return sum(counts.values()), sum(value * n for value, n in counts.items())


# The places a leaderboard's score is written with: two, and more where two would write it as a
# neighbour of another rank writes its own: up to six from the histograms, four from the API's
# scores (which it gives to four).
SCORE_PLACES = (2, 3, 4, 5, 6)


def score_texts(board: list[dict[str, Any]], prior: dict[str, Any] | None = None) -> list[str]:
    """Each place's score as the board writes it (the pages alike: web/js/dom.js formatScores):
    to two places, or more where two would show it as the place above or below of another rank
    shows its own ("3.18" at 1 and at 2: 3.182 and 3.176). From the places' histograms and the
    board's `prior`, exact, when each place has one; else from the API's scores. Tied talks
    (one rank) take the same places, from the places around the whole tie."""
    # (exact while the prior's weight and its ratings' sum are whole numbers, as they are)
    exact = (
        prior is not None
        and float(prior["weight"]).is_integer()
        and float(prior["mean"] * prior["weight"]).is_integer()
        and all(sums(place.get("ratings")) for place in board)
    )

    def text(place: dict[str, Any], digits: int) -> str:
        if not exact:
            return places(float(place["score"]), digits)
        assert prior is not None
        count, total = sums(place.get("ratings")) or (0, 0)
        weight = int(prior["weight"])
        return quotient_text(round(prior["mean"] * weight) + total, weight + count, digits)

    most = SCORE_PLACES if exact else SCORE_PLACES[:3]
    texts: list[str] = []
    first = 0
    while first < len(board):
        last = first
        while last + 1 < len(board) and board[last + 1]["rank"] == board[first]["rank"]:
            last += 1
        others = [board[j] for j in (first - 1, last + 1) if 0 <= j < len(board)]
        digits = next(
            (d for d in most if all(text(other, d) != text(board[first], d) for other in others)),
            most[-1],
        )
        texts += [text(place, digits) for place in board[first : last + 1]]
        first = last + 1
    return texts


def fmt_avg(value: Any, ratings: Any = None) -> str:
    """An average to two places (as the pages write it), or a dash when there is none: from its
    histogram when given (exact), else from the API's figure."""
    counted_sums = sums(ratings)
    if counted_sums is not None:
        count, total = counted_sums
        return quotient_text(total, count, 2) if count else "-"
    return "-" if value is None else two_places(float(value))


def deviation(ratings: Any) -> float | None:
    """The population deviation of a histogram, unrounded (written to two places), or None."""
    counted_sums = sums(ratings)
    if not counted_sums or not counted_sums[0]:
        return None
    count, total = counted_sums
    mean = total / count
    squares = sum(int(ratings.get(str(v)) or 0) * (v - mean) ** 2 for v in range(1, 6))
    return float(math.sqrt(squares / count))


def modes(ratings: Any) -> list[int] | None:
    """Every most frequent value of a histogram, lowest first ([] for an empty one), or None
    for no histogram (talkrate.stats.most_frequent, as the API's `modes`)."""
    from talkrate.stats import most_frequent

    if not isinstance(ratings, dict):
        return None
    return most_frequent({v: int(ratings.get(str(v)) or 0) for v in range(1, 6)})


# A histogram whose five values were each given equally often has no value most often given.
ALL_ALIKE = "all alike"


def modes_text(values: Sequence[int] | None) -> str:
    """The most frequent values in words, a tie named whole: "4", "4 and 5", "3, 4 and 5"; "all
    alike" for all five, a dash for none (web/js/histogram.js modesText alike)."""
    if not values:
        return "-"
    if len(values) == 5:
        return ALL_ALIKE
    return listed([str(v) for v in values])


def listed(items: Sequence[str]) -> str:
    """A list in English: "A", "A and B", "A, B and C" (a tie's values; web/js/dom.js listed
    alike). A talk's speakers are listed in its language: talkrate_cli.lists."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def venue_zone(config: Mapping[str, Any] | None) -> zoneinfo.ZoneInfo | None:
    """The venue's time zone, which the deployment's /app/config.json names (`timeZone`, the
    template's EventTimeZone): times are shown and read in it. None where it names none (or
    where there is no config): this machine's own, as before the setting. A name this machine's
    time zone database lacks is said in a warning line on stderr, and the machine's zone used
    (the times stay right, named by the zone they are in)."""
    from talkrate.time_zones import time_zone

    name = (config or {}).get("timeZone")
    if name is None or name == "":
        return None
    if isinstance(name, str) and (zone := time_zone(name)) is not None:
        return zone
    from talkrate_cli.consoles import errors

    errors.print(
        f"talkrate: warning: the venue's time zone {name!r} is not in this "
        f"machine's time zone database (update tzdata): times are in this machine's, "
        f"{zone_name()}",
        markup=False,
    )
    return None


def _here(moment: datetime, zone: tzinfo | None) -> datetime:
    """The moment in `zone`, or in this machine's time zone (TZ) when none is given."""
    return moment.astimezone(zone) if zone else moment.astimezone()


def zone_name(zone: tzinfo | None = None, at: datetime | None = None) -> str:
    """The name of the zone times are shown in at `at` (now by default): "UTC", "CET", "CEST"."""
    return _here(at or datetime.now(UTC), zone).strftime("%Z")


def _named(moment: datetime, zone: tzinfo | None) -> str:
    """A moment of a rating window, whole and named: "2026-12-05 10:00 CET" (in `zone`, the
    machine's time zone when None)."""
    return f"{_here(moment, zone):%Y-%m-%d %H:%M %Z}"


def when(talk: dict[str, Any], zone: tzinfo | None = None, named: str | None = None) -> str:
    """`YYYY-MM-DD HH:MM-HH:MM CET` of a talk's window in `zone` (the machine's time zone when
    None), or empty; the zone's name follows unless it is `named` (a table's heading names it:
    only a summer talk in a table headed CET names its own). A window over a change of the
    clocks names the zone of each end: `2027-03-28 01:30 CET-03:15 CEST` (its end is no CET
    time)."""
    starts, ends = instant(talk.get("startsAt")), instant(talk.get("endsAt"))
    if not starts:
        return ""
    text = f"{_here(starts, zone):%Y-%m-%d %H:%M}"
    own = zone_name(zone, starts)
    if ends and (end_zone := zone_name(zone, ends)) != own:
        return f"{text} {own}\N{EN DASH}{until(starts, ends, zone)} {end_zone}"
    if ends:
        text += f"\N{EN DASH}{until(starts, ends, zone)}"
    return text if named == own else f"{text} {own}"


def until(starts: datetime, ends: datetime, zone: tzinfo | None = None) -> str:
    """When a window that began at `starts` ends, in `zone`: its time, and its date before it
    when that is another day there (a talk past midnight, a workshop of two days), as the
    organisers' page writes it: `20:00 to 2026-12-06 20:00`, not `20:00 to 20:00`."""
    begins, finishes = _here(starts, zone), _here(ends, zone)
    return f"{finishes:%H:%M}" if finishes.date() == begins.date() else f"{finishes:%Y-%m-%d %H:%M}"


# How many talks of a clash its line names; the others are counted ("and 997 more"). A clash
# of one more talk names it too: "and 1 more" would be no shorter.
CLASH_TALKS_SHOWN = 3


def clash_line(clash: Clash, zone: tzinfo | None = None) -> str:
    """A room clash for a person: the room, when its talks overlap (in `zone`, the machine's
    time zone when None, named), then each talk's id, title and times (its date too when it
    is another): both of two, else how many overlap and the first CLASH_TALKS_SHOWN of them
    (the changed ones first), as the organisers' page says it (web/js/pages/admin.js)."""
    starts = _here(clash.starts, zone)
    overlap = (
        f"{starts:%Y-%m-%d %H:%M}\N{EN DASH}{until(clash.starts, clash.ends, zone)} "
        f"{zone_name(zone, clash.starts)}"
    )

    def talk(t: dict[str, Any]) -> str:
        first = instant(t["startsAt"]) or clash.starts
        begins = _here(first, zone)
        finishes = until(first, instant(t["endsAt"]) or clash.ends, zone)
        day = "" if begins.date() == starts.date() else f"{begins:%Y-%m-%d} "
        return f"{t['id']} ({t.get('title')}, {day}{begins:%H:%M}\N{EN DASH}{finishes})"

    return f"room clash in {clash.room}, {overlap}: " + some_of(clash.talks, talk)


def some_of(talks: Sequence[dict[str, Any]], said: Callable[[dict[str, Any]], str]) -> str:
    """Two talks as "a and b"; more as "1,000 talks overlap: a, b, c and 997 more" (each as
    `said` says it, CLASH_TALKS_SHOWN of them, or all of one more)."""
    if len(talks) == 2:
        return f"{said(talks[0])} and {said(talks[1])}"
    shown = len(talks) if len(talks) <= CLASH_TALKS_SHOWN + 1 else CLASH_TALKS_SHOWN
    named = [said(t) for t in talks[:shown]]
    rest = f"{len(talks) - shown:,} more" if shown < len(talks) else named.pop()
    return f"{len(talks):,} talks overlap: {', '.join(named)} and {rest}"


def window_line(
    talk: dict[str, Any], now: datetime | None = None, zone: tzinfo | None = None
) -> str:
    """Whether the talk takes ratings at `now`, by its start, the API's `ratingClosesAt` and
    whether the organisers paused them (`ratingsPaused`), its times in `zone` (the machine's
    time zone when None), named."""
    now = now or datetime.now(UTC)
    starts, closes = instant(talk.get("startsAt")), instant(talk.get("ratingClosesAt"))
    if closes and now > closes:
        return f"rating closed {_named(closes, zone)}"
    if talk.get("ratingsPaused") is True:  # (until the organisers resume it)
        return "rating paused by the organisers"
    if starts and now < starts:
        return f"rating opens {_named(starts, zone)}"
    return f"rating open until {_named(closes, zone)}" if closes else "rating open"


def rating_window(opens: Any, closes: Any, zone: tzinfo | None = None) -> str:
    """When a talk takes ratings, by the times the API's refusal names (`opensAt`, `closesAt`),
    in `zone` (the machine's time zone when None), named: "from 2026-12-05 10:00 CET until
    2026-12-06 11:15 CET"."""
    first, last = instant(opens), instant(closes)
    since = f"from {_named(first, zone)}" if first else "from its announcement"
    return f"{since} until {_named(last, zone)}" if last else f"{since} with no end"


class TextColumn(NamedTuple):
    """How a text column of a table gives way in a terminal too narrow for its cells
    (`give_way`), beside the figures, which never do."""

    # The fewest columns it is shown in (its cells' own width where that is less); None: its
    # cells' own width, whole or left out (a time cut short is no time).
    least: int | None = None
    # What it keeps while a less important column is shown (never less than `least`).
    wants: int = 0
    # While a column after it takes the rest: at most 1/share of the texts' room, and at most
    # `most` columns.
    share: int = 1
    most: int | None = None
    # Folded onto the lines below, whole (an id, typed into `show`); else one line, "…" cut.
    folds: bool = False


def give_way(
    width: int | None,
    natural: Mapping[str, int],
    figures: Sequence[str],
    texts: Mapping[str, TextColumn],
    rest: str = "title",
) -> tuple[list[str], dict[str, int] | None]:
    """Which text columns a table keeps within `width` columns, beside its `figures` (never
    cut; two columns between each two), and how wide each is: None while every cell has room
    (`natural`: each column's own width), the table as wide as its cells. `texts` come most
    important first: the last is left out first, as soon as the ones before it would have less
    than they want, or it less than its least. The `rest` column takes what the others leave
    it (the others taken first, the least important first, each within its share)."""
    kept = list(texts)
    fixed = sum(natural[name] for name in figures)

    def room(kept: list[str]) -> int:  # the columns the texts have (two between each two)
        return (width or 0) - fixed - 2 * (len(figures) + len(kept) - 1)

    if width is None or room(kept) >= sum(natural[name] for name in kept):
        return kept, None
    least = {
        name: natural[name] if text.least is None else min(natural[name], text.least)
        for name, text in texts.items()
    }
    wants = {name: min(natural[name], max(least[name], text.wants)) for name, text in texts.items()}

    def needs(kept: list[str]) -> dict[str, int]:  # (the least important kept: its least)
        return {name: wants[name] if name != kept[-1] else least[name] for name in kept}

    while kept and room(kept) < sum(needs(kept).values()):
        kept.pop()
    left, widths = room(kept), dict[str, int]()
    need = needs(kept) if kept else {}
    order = [name for name in reversed(kept) if name != rest] + [n for n in kept if n == rest]
    for at, name in enumerate(order):  # each leaving the next ones what they need
        later = order[at + 1 :]
        free = left - sum(widths.values()) - sum(need[after] for after in later)
        text = texts[name]
        most = min(text.most or left, left // text.share) if later else left
        widths[name] = min(natural[name], max(need[name], most), free)
    return kept, widths


def column_widths(
    cells: Mapping[str, Sequence[str]], headers: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Each column's own width: its widest cell or header, as a terminal counts columns (and
    as the console shows them: `visible`)."""
    from rich.cells import cell_len

    named = headers or {}
    return {
        name: max(cell_len(visible(text)) for text in [named.get(name, name), *column])
        for name, column in cells.items()
    }


def add_text_column(
    table: Table,
    header: str,
    text: TextColumn,
    width: int | None,
    overflow: OverflowMethod = "fold",
) -> None:
    """A text column laid out by `give_way`: as `overflow` says while every cell has room
    (`width` None), else `width` columns wide, folded (`text.folds`) or on one line cut with
    an ellipsis."""
    if width is None:
        table.add_column(header, overflow=overflow)
    elif text.folds:
        table.add_column(header, overflow="fold", width=width)
    else:
        table.add_column(header, overflow="ellipsis", no_wrap=True, width=width)


class Fitted:
    """A table drawn for the width it is drawn in, each time (a watch in a window made
    narrower draws it again to fit): the leaderboard, the programme."""

    def __init__(self, draw: Callable[[int], Table]) -> None:
        self.draw = draw

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.draw(options.max_width)


def talks_table(talks: list[dict[str, Any]], zone: tzinfo | None = None) -> Fitted:
    """The programme, its times in `zone` (the machine's time zone when None), as wide as the
    terminal it is drawn on lets it be."""
    return Fitted(lambda width: programme_table(talks, zone, width))


# The programme narrower than its cells: its count and average are never cut, nor its id
# (folded, whole: it is what `show` is given; a third of the texts' room while the title is
# shown), and its title is one line cut with an ellipsis. The track, the room and the time are
# each shown whole (a track or a room of more than 12 columns cut to 12 with an ellipsis) or
# left out: the track first (the title says the subject, and --track is how one is listed),
# then the room (the venue's signs and `show` say it), then the time (what a talk is chosen by:
# what is on now, and next), each as soon as the id would have fewer than 16 columns or the
# title fewer than 24; then the title (below 37 columns with four-figure counts), then the id.
PROGRAMME_TEXTS: dict[str, TextColumn] = {
    "talk": TextColumn(least=4, wants=16, share=3, folds=True),
    "title": TextColumn(least=6, wants=24),
    "when": TextColumn(),
    "room": TextColumn(least=12, most=12),
    "track": TextColumn(least=12, most=12),
}
PROGRAMME_FIGURES = ("count", "avg")


def programme_table(
    talks: list[dict[str, Any]], zone: tzinfo | None = None, width: int | None = None
) -> Table:
    """The programme's table within `width` columns (None: as wide as its cells), its times
    in `zone` (the machine's time zone when None)."""
    from rich.table import Table

    first = next((instant(t.get("startsAt")) for t in talks if t.get("startsAt")), None)
    named = zone_name(zone, first)
    summaries = [talk.get("summary") or {} for talk in talks]
    cells = {
        "talk": [talk["id"] for talk in talks],
        "title": [talk["title"] for talk in talks],
        "track": [talk.get("track") or "" for talk in talks],
        "room": [talk.get("room") or "" for talk in talks],
        "when": [when(talk, zone, named) for talk in talks],
        "count": [str(summary.get("count", "-")) for summary in summaries],
        "avg": [fmt_avg(summary.get("avg"), summary.get("ratings")) for summary in summaries],
    }
    headers = {"when": f"when ({named})"}
    natural = column_widths(cells, headers)
    texts, widths = give_way(width, natural, PROGRAMME_FIGURES, PROGRAMME_TEXTS)
    order = [name for name in ("talk", "title", "track", "room", "when") if name in texts]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in order:
        size = None if widths is None else widths[name]
        add_text_column(table, headers.get(name, name), PROGRAMME_TEXTS[name], size)
    for figure in PROGRAMME_FIGURES:
        table.add_column(figure, justify="right", no_wrap=widths is not None)
    for row in zip(*(cells[name] for name in [*order, *PROGRAMME_FIGURES]), strict=True):
        table.add_row(*row)
    return table


def histogram(ratings: dict[str, int], width: int | None = None) -> Table:
    """Horizontal bars, 5 at the top, scaled to the largest bucket; within `width` columns the
    bars narrow, so that each value, its count and its share stay whole."""
    from rich.table import Table
    from rich.text import Text

    counts = {value: int(ratings.get(value, 0)) for value in VALUES}
    total = sum(counts.values())
    largest = max([*counts.values(), 1])
    # The other columns: "5★", the count, the share ("100%"), two spaces between each two.
    others = 2 + len(str(largest)) + 4 + 3 * 2
    bar_width = BAR_WIDTH if width is None else max(MIN_BAR_WIDTH, min(BAR_WIDTH, width - others))
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(justify="right")
    table.add_column(no_wrap=True)
    table.add_column(justify="right")
    table.add_column(justify="right")
    for value in VALUES:
        count = counts[value]
        filled = round(bar_width * count / largest)
        bar = Text("█" * filled, style="cyan") + Text("·" * (bar_width - filled), style="dim")
        # (a tie rounded up, as every figure of the command: 1 of 8 is 13%, not format's 12%)
        share = f"{quotient_text(100 * count, total, 0)}%" if total else "-"
        table.add_row(f"{value}★", bar, str(count), share)
    return table


class Histogram:
    """`histogram` as wide as the terminal it is drawn on lets it be (each time: a watch in a
    window made narrower redraws to fit)."""

    def __init__(self, ratings: dict[str, int]) -> None:
        self.ratings = ratings

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield histogram(self.ratings, options.max_width)


def talk_view(talk: dict[str, Any], ratings: dict[str, Any], zone: tzinfo | None = None) -> Group:
    """One talk: title, where and when (in `zone`, the machine's time zone when None, named
    with the times), bars and statistics."""
    from rich.console import Group
    from rich.styled import Styled
    from rich.text import Text

    from talkrate_cli.lists import listed_in

    head = Styled(talk.get("title") or ratings.get("talkId", ""), "bold")
    facts = [
        listed_in(talk.get("speakers") or [], talk.get("language")),
        talk.get("track") or "",
        talk.get("room") or "",
        when(talk, zone),
    ]
    lines: list[Any] = [
        head,
        Styled(" · ".join(f for f in facts if f), "dim"),
        Text(window_line(talk, zone=zone), style="dim"),
        Text(""),
    ]
    lines.append(Histogram(ratings.get("ratings") or {}))
    lines.append(Text(""))
    lines.append(Text(stats_line(ratings)))
    return Group(*lines)


def stats_line(ratings: dict[str, Any]) -> str:
    """count, average, median, deviation and mode in one line."""
    stats = ratings.get("stats")
    if not stats:
        total = sum(int(v) for v in (ratings.get("ratings") or {}).values())
        return f"count {total} (statistics unavailable)"
    histogram = ratings.get("ratings")
    # (the average and the deviation from the counts, exact: the API's four places rounded
    # again to two could be 0.01 off)
    parts = [f"count {stats.get('totalCount', 0)}", f"avg {fmt_avg(stats.get('avg'), histogram)}"]
    spread = deviation(histogram)
    # (the population deviation, divided by the count: a spreadsheet's STDEV.P, not its STDEV)
    for name, key in (("median", "median"), ("std dev (population)", "stdDev")):
        if key in stats:
            value = stats[key]
            if key == "stdDev" and spread is not None:
                value = two_places(spread)
            elif isinstance(value, float):
                # As the pages write them: a deviation to two places, a median as it is (3.5)
                value = f"{value:g}" if key == "median" else two_places(value)
            parts.append(f"{name} {'-' if value is None else value}")
    # Every most frequent value (from the counts, as the pages name them; else the API's)
    most = modes(histogram)
    if most is not None or "modes" in stats:
        parts.append(f"mode {modes_text(most if most is not None else stats['modes'])}")
    return " · ".join(parts)


# A leaderboard narrower than its texts: its track takes a quarter of what the texts have, at
# most this many columns; the talk's id a third (folded, whole); the title the rest (one line,
# cut with an ellipsis), each at least its least. Narrower still, the track is left out, then
# the title, then the id: the rank and the figures are never cut (22 columns hold them).
BOARD_TRACK_WIDTH = 12
BOARD_TEXTS: dict[str, TextColumn] = {
    "talk": TextColumn(least=4, share=3, folds=True),
    "title": TextColumn(least=6),
    "track": TextColumn(least=5, share=4, most=BOARD_TRACK_WIDTH),
}
BOARD_FIGURES = ("score", "avg", "count")
# A board kept on screen (`watch --leaderboard`): a talk a line, its id cut with "…" as its
# title is (folded, a long id made the board's lines break at 80 columns); `show` takes the
# whole id from `top`.
ONE_LINE_BOARD_TEXTS = {**BOARD_TEXTS, "talk": BOARD_TEXTS["talk"]._replace(folds=False)}


def leaderboard_table(board: dict[str, Any], one_line: bool = False) -> Fitted:
    """The leaderboard, best first, as wide as the terminal it is drawn on lets it be: its rank
    and figures whole at any width, its texts giving way (BOARD_TEXTS; `one_line`: a talk a
    line, ONE_LINE_BOARD_TEXTS)."""
    return Fitted(lambda width: board_table(board, width, one_line))


def board_table(board: dict[str, Any], width: int | None = None, one_line: bool = False) -> Table:
    """The leaderboard's table within `width` columns (None: as wide as its cells); `one_line`:
    each talk on one line, its id cut with an ellipsis where it has no room."""
    from rich.table import Table

    talks = board.get("talks", [])
    cells = {
        "#": [str(place["rank"]) for place in talks],
        "talk": [place["talkId"] for place in talks],
        "title": [place["title"] for place in talks],
        "track": [place.get("track") or "" for place in talks],
        "score": score_texts(talks, board.get("prior")),
        "avg": [fmt_avg(place.get("avg"), place.get("ratings")) for place in talks],
        "count": [str(place["count"]) for place in talks],
    }
    columns = ONE_LINE_BOARD_TEXTS if one_line else BOARD_TEXTS
    texts, widths = give_way(width, column_widths(cells), ("#", *BOARD_FIGURES), columns)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", no_wrap=True)
    for name in texts:  # (room for every cell: the track cut with "…", the others folded)
        size = None if widths is None else widths[name]
        cut = one_line or name == "track"
        add_text_column(table, name, columns[name], size, "ellipsis" if cut else "fold")
    for name in BOARD_FIGURES:
        table.add_column(name, justify="right", no_wrap=True)
    for row in zip(*(cells[name] for name in ["#", *texts, *BOARD_FIGURES]), strict=True):
        table.add_row(*row)
    return table
