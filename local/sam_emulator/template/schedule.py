"""Schedules: Schedule and ScheduleV2 events."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sam_emulator.template.intrinsics import as_text
from sam_emulator.template.reader import Reader, SourceParser

_RATE = re.compile(r"^rate\(\s*0*([1-9]\d*)\s+(second|minute|hour|day)s?\s*\)$", re.IGNORECASE)
_RATE_UNITS: Final = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    """A Schedule/ScheduleV2 event; interval_seconds is None for expressions run locally (cron)."""

    function_id: str
    name: str
    expression: str
    interval_seconds: float | None
    input: Any = None


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a `rate(...)` expression; None for cron and anything else."""
    match = _RATE.match(expression.strip())
    return int(match.group(1)) * _RATE_UNITS[match.group(2).lower()] if match else None


class ScheduleParser(SourceParser):
    """Collects the enabled schedules."""

    event_types = frozenset({"Schedule", "ScheduleV2"})

    def __init__(self) -> None:
        self.schedules: list[Schedule] = []

    def read_event(
        self,
        reader: Reader,
        function_id: str,
        name: str,
        kind: str,
        properties: Mapping[str, Any],
    ) -> None:
        """A Schedule (`Schedule`, `Enabled`) or ScheduleV2 (`ScheduleExpression`, `State`)."""
        properties = reader.resolve(properties)
        enabled = properties.get("Enabled", True) and properties.get("State", "ENABLED") != (
            "DISABLED"
        )
        if not reader.enabled(enabled):
            reader.note(f"{function_id}.{name}: schedule disabled")
            return
        expression = as_text(
            properties.get("Schedule" if kind == "Schedule" else "ScheduleExpression", "")
        )
        if expression.strip().lower().startswith("rate(") and rate_seconds(expression) is None:
            # rate(0 minutes) ran without pause; EventBridge refuses it at deploy
            reader.note(f"{function_id}.{name}: not run, {expression} is not a rate it takes")
            return
        payload = properties.get("Input")
        if isinstance(payload, str):
            # Input is JSON text; the function receives the value it spells, as from EventBridge.
            try:
                payload = json.loads(payload)
            except ValueError:
                reader.note(f"{function_id}.{name}: not run, its Input is not JSON text")
                return
        self.schedules.append(
            Schedule(
                function_id=function_id,
                name=name,
                expression=expression,
                interval_seconds=rate_seconds(expression),
                input=payload,
            )
        )
