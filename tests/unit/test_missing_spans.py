"""What a rebuild compares before it replaces the read model: the read model's applied offsets
against the event store's last stored positions (an event store restored from a backup is
behind), and what the projector's own rebuild can compare once Redis lost those offsets."""

from __future__ import annotations

import pytest

from talkrate.rebuild import (
    OffsetRange,
    applied_topics,
    behind_said,
    missing_before,
    missing_spans,
)

pytestmark = pytest.mark.unit


def test_a_partition_whose_stored_positions_end_before_the_applied_offset_is_missing_the_rest() -> (
    None
):
    applied = {"ratings-0": 10, "ratings-1": 7, "ratings-2": 1208}
    stored = {"ratings-0": 10, "ratings-1": 9, "ratings-2": 1204}
    assert missing_spans(applied, stored) == [OffsetRange("ratings", 2, 1205, 1208)]


def test_a_partition_the_event_store_holds_none_of_is_missing_from_its_first_offset() -> None:
    [span] = missing_spans({"ratings-1": 3}, {"ratings-0": 8})
    assert span == OffsetRange("ratings", 1, 0, 3)
    assert behind_said([span]) == (
        "ratings-1 (it holds none of its records, the read model applied up to 3)"
    )


def test_a_topic_whose_name_holds_dashes_is_read_from_its_last_dash() -> None:
    [span] = missing_spans({"talk-ratings-v2-12": 40}, {"talk-ratings-v2-12": 38})
    assert (span.topic, span.partition, str(span)) == (
        "talk-ratings-v2",
        12,
        "talk-ratings-v2-12@39..40",
    )
    assert span.replay_command == (
        "talkrate ops replay --topic talk-ratings-v2 --partition 12 --first 39 --last 40"
    )


def test_a_replayed_range_carries_the_stored_position_to_its_end_when_it_joins_it() -> None:
    # The replay read 1205..1208 whole and stored each record it held (an offset Kafka holds
    # no record at leaves no position): nothing is missing any more
    applied, stored = {"ratings-2": 1208}, {"ratings-2": 1206}
    replayed = [OffsetRange("ratings", 2, 1205, 1208)]
    assert missing_spans(applied, stored, replayed) == []
    # A range that leaves a gap before it carries nothing: the gap is still missing
    later = [OffsetRange("ratings", 2, 1207, 1208)]
    assert missing_spans({"ratings-2": 1208}, {"ratings-2": 1204}, later) == [
        OffsetRange("ratings", 2, 1205, 1208)
    ]
    # Ranges that join one another, given in any order, carry it together
    both = [OffsetRange("ratings", 2, 1207, 1208), OffsetRange("ratings", 2, 1205, 1206)]
    assert missing_spans({"ratings-2": 1208}, {"ratings-2": 1204}, both) == []


def test_a_batch_delivered_after_offsets_the_event_store_lacks_names_them() -> None:
    batch = [("ratings", 2, 1210), ("ratings", 2, 1209), ("ratings", 0, 11), ("ratings", 1, 0)]
    stored = {"ratings-0": 10, "ratings-2": 1204}
    # Partition 0 is whole up to the batch, partition 1 begins at 0: only 2 lacks records
    assert missing_before(batch, stored) == [OffsetRange("ratings", 2, 1205, 1208)]


def test_the_topics_applied_are_those_read_now_not_a_retired_one_s() -> None:
    # Given the applied offsets of a read model whose topic was recreated (the old one's
    # positions filed under a retired name) and that has applied the new one's since
    applied = {
        "ratings (retired 2026-12-01 10:00:00.000000 UTC)-0": 41,
        "talkrate-dev-ratings-0": 7,
        "talkrate-dev-ratings-2": 3,
        "ratings-1": 12,
        "no-partition-x": 1,
    }
    # Then the topics it applied are those a projector reads now, each once, sorted
    assert applied_topics(applied) == ["ratings", "talkrate-dev-ratings"]
    # And one whose only topic was just retired has applied none
    assert applied_topics(["ratings (retired 2026-12-01 10:00:00.000000 UTC)-0"]) == []
