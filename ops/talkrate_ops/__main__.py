"""python -m talkrate_ops {rebuild,dead-letters,redrive,relay,replay}: operations on the backends.

The backends come from the same configuration as the functions (TALKS_CONNECTION,
RATINGS_CONNECTION, STREAMS_CONNECTION, or the Secrets Manager ARNs).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from talkrate import wiring
from talkrate.errors import TalkrateError
from talkrate.models import RatingSubmitted
from talkrate.rebuild import rebuild_read_model
from talkrate.relay import relay_outbox


def _rebuild(_: argparse.Namespace) -> int:
    rebuild_read_model(
        wiring.event_store(),
        wiring.read_model(),
        progress=lambda line: print(f"rebuild: {line}", flush=True),
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    for letter in wiring.event_store().dead_letters(include_redriven=args.all):
        print(json.dumps(_shown(letter), default=str))
    return 0


def _redrive(args: argparse.Namespace) -> int:
    letters = {d["id"]: d for d in wiring.event_store().dead_letters()}
    missing = [i for i in args.ids if i not in letters]
    if missing:
        print(f"redrive: no pending dead letter with id {missing}", file=sys.stderr)
        return 2
    if args.value is not None and len(args.ids) != 1:
        print("redrive: --value repairs one dead letter at a time", file=sys.stderr)
        return 2
    publisher = wiring.rating_publisher()
    for letter_id in args.ids:
        raw = args.value.encode() if args.value is not None else letters[letter_id]["value"] or b""
        try:
            event = RatingSubmitted.from_json(raw)
        except ValidationError as error:
            print(
                f"redrive: dead letter {letter_id} is still not a RatingSubmitted event "
                f"({error.error_count()} problems); repair it with --value",
                file=sys.stderr,
            )
            return 1
        publisher.publish(event)
        wiring.event_store().mark_redriven([letter_id])
        print(f"redrive: dead letter {letter_id} republished as event {event.event_id}")
    return 0


def _relay(args: argparse.Namespace) -> int:
    result = relay_outbox(wiring.outbox(), wiring.rating_publisher(), args.limit)
    print(f"relay: published {result.published}, still pending {result.pending}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from talkrate.adapters.kafka_stream import client_options
    from talkrate.config import load_settings
    from talkrate_ops.replay import OffsetRange, read_failure, read_from_kafka, replay

    span = (args.topic, args.partition, args.first, args.last)
    if (args.failure is None) == (None in span):
        print(
            "replay: give --failure REPORT, or --topic, --partition, --first and --last",
            file=sys.stderr,
        )
        return 2
    if args.failure is not None:
        text = sys.stdin.read() if args.failure == "-" else Path(args.failure).read_text()
        try:
            failure = read_failure(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            print(f"replay: {args.failure}: {error}", file=sys.stderr)
            return 2
        ranges, records = failure.ranges, failure.records
    else:
        ranges, records = [OffsetRange(*span)], []
    print(f"replay: {', '.join(str(r) for r in ranges)}", flush=True)
    if not records:
        records = read_from_kafka(client_options(load_settings()), ranges)
    result = replay(
        records,
        wiring.event_store(),
        wiring.read_model(),
        progress=lambda line: print(f"replay: {line}", flush=True),
    )
    print(
        f"replay: {result.records} records replayed; the event store holds {result.events} "
        f"events over {result.histograms} talks"
    )
    return 0


def _shown(letter: dict[str, Any]) -> dict[str, Any]:
    shown = dict(letter)
    for field in ("key", "value"):
        data = shown[field]
        if data is not None:
            try:
                shown[field] = data.decode()
            except UnicodeDecodeError:
                shown[field] = "base64:" + base64.b64encode(data).decode()
    return shown


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m talkrate_ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rebuild", help="recompute the Redis read model from the event store")
    listing = commands.add_parser("dead-letters", help="list the records set aside")
    listing.add_argument("--all", action="store_true", help="include those already redriven")
    redrive = commands.add_parser("redrive", help="republish dead letters (repaired with --value)")
    redrive.add_argument("ids", type=int, nargs="+")
    redrive.add_argument("--value", help="the repaired RatingSubmitted JSON (one id only)")
    relay = commands.add_parser("relay", help="publish what waits in the outbox now")
    relay.add_argument("--limit", type=int, default=500)
    replaying = commands.add_parser(
        "replay", help="apply records the projector skipped after Lambda gave up on their batch"
    )
    replaying.add_argument(
        "--failure", help="an on-failure report (a ProjectorFailures message body); - for stdin"
    )
    replaying.add_argument("--topic")
    replaying.add_argument("--partition", type=int)
    replaying.add_argument("--first", type=int, help="first offset")
    replaying.add_argument("--last", type=int, help="last offset (inclusive)")
    args = parser.parse_args(argv)
    run = {
        "rebuild": _rebuild,
        "dead-letters": _list,
        "redrive": _redrive,
        "relay": _relay,
        "replay": _replay,
    }
    try:
        return run[args.command](args)
    except TalkrateError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
