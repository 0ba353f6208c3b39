"""`talkrate ops replay --failure REPORT`: a report that is not Lambda's on-failure report is
refused saying what it lacks (it was an AttributeError, or a bare key name)."""

from __future__ import annotations

from typing import Any

import pytest

from talkrate_cli.operations.replay import OffsetRange, read_failure

pytestmark = pytest.mark.unit


def test_a_report_s_ranges_are_read() -> None:
    report = {
        "KafkaBatchInfo": {
            "recordsInfo": {"ratings-0": {"firstRecordOffset": "5", "lastRecordOffset": "9"}}
        }
    }
    assert read_failure(report).ranges == [OffsetRange("ratings", 0, 5, 9)]


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ({"KafkaBatchInfo": {}, "payload": {"records": "x"}}, "its payload is not a Kafka event"),
        (
            {"KafkaBatchInfo": {}, "payload": {"records": {"ratings-0": [{"offset": 1}]}}},
            "its payload is not a Kafka event",
        ),
        (
            {"KafkaBatchInfo": {"recordsInfo": {"ratings-0": {"firstRecordOffset": "1"}}}},
            "recordsInfo 'ratings-0' has no 'lastRecordOffset'",
        ),
        (
            {"KafkaBatchInfo": {"recordsInfo": {"ratings-0": "1..2"}}},
            "recordsInfo 'ratings-0' holds no offsets",
        ),
        ({"KafkaBatchInfo": {"recordsInfo": ["ratings-0"]}}, "its recordsInfo is not an object"),
        ({"payload": {}}, "it has no KafkaBatchInfo"),
    ],
)
def test_a_report_of_another_shape_is_refused_saying_what_it_lacks(
    report: dict[str, Any], said: str
) -> None:
    with pytest.raises(ValueError, match=r"^not a Kafka on-failure report: ") as refused:
        read_failure(report)
    assert said in str(refused.value)
