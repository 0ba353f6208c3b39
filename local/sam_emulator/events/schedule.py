"""The schedule event source: a thread per rate() schedule, invoking with EventBridge's event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from sam_emulator.background import BackgroundLoop
from sam_emulator.console import console
from sam_emulator.events import EventSource, Options
from sam_emulator.lambda_.pool import Invoker
from sam_emulator.plugins import Services
from sam_emulator.template import Schedule, Template
from sam_emulator.template.intrinsics import ACCOUNT_ID, REGION, STACK_NAME


def scheduled_event(schedule: Schedule, now: float | None = None) -> Any:
    """The event a schedule delivers: its Input when set, else EventBridge's "Scheduled Event"."""
    if schedule.input is not None:
        return schedule.input
    moment = time.gmtime(time.time() if now is None else now)
    rule = f"{STACK_NAME}-{schedule.function_id}{schedule.name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


class ScheduleRunner(BackgroundLoop):
    """Invokes one function every interval; the first run is one interval after start."""

    def __init__(self, schedule: Schedule, invoke: Invoker) -> None:
        if schedule.interval_seconds is None:
            raise ValueError(f"{schedule.expression} is not a rate() expression")
        self.schedule = schedule
        self._interval = schedule.interval_seconds
        self._invoke = invoke
        super().__init__(f"schedule-{schedule.function_id}-{schedule.name}")

    def _run(self) -> None:
        label = f"[schedule {self.schedule.function_id}]"
        next_run = time.monotonic() + self._interval
        while not self._stop.wait(max(0.0, next_run - time.monotonic())):
            # Fixed rate, like EventBridge: a slow run does not shift the ones after it.
            next_run += self._interval
            result = self._invoke(self.schedule.function_id, scheduled_event(self.schedule))
            outcome = "ok" if result.ok else f"FAILED {(result.error or {}).get('errorType')}"
            console(f"{label} {self.schedule.expression}: {outcome} in {result.duration_ms:.0f} ms")
            if next_run < time.monotonic():  # overran a whole period: skip, do not pile up
                next_run = time.monotonic() + self._interval


class Schedules:
    """Every schedule of the template (an event source): rate() ones run, others listed."""

    def __init__(self, schedules: Sequence[Schedule], invoke: Invoker) -> None:
        self._schedules = tuple(schedules)
        self._invoke = invoke
        self._runners: list[ScheduleRunner] = []

    def start(self, services: Services) -> None:
        """A thread per rate() schedule."""
        for schedule in self._schedules:
            if schedule.interval_seconds is not None:
                runner = ScheduleRunner(schedule, self._invoke)
                self._runners.append(runner)
                runner.start()

    def stop(self) -> None:
        """No new runs."""
        for runner in self._runners:
            runner.request_stop()

    def join(self, timeout: float) -> None:
        """Wait for a run in progress."""
        for runner in self._runners:
            runner.join(timeout)

    def summary(self) -> list[str]:
        """One line per schedule."""
        return [
            f"schedule  {schedule.expression:<28} -> {schedule.function_id}"
            + ("" if schedule.interval_seconds else "  (not run locally: only rate() is)")
            for schedule in self._schedules
        ]


def bind(template: Template, options: Options, invoke: Invoker) -> Sequence[EventSource]:
    """The schedules, when the template has any."""
    return [Schedules(template.schedules, invoke)] if template.schedules else []
