"""An organiser's change the live channel never took, given up after LIVE_UNSENT_CHANGE_SECONDS,
end to end through the local runtime: counted once in the API's metrics (CatalogChangesGivenUp,
which CatalogChangesGivenUpAlarm watches), never sent once the channel is back, and shown by
an open page's next read of the talk all the same."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from talkrate.adapters.appsync_events import AppSyncEventsPublisher
from talkrate.live import LEADERBOARD_CHANNEL, channel_for_talk
from tests.backends import UNSENT_TALKS, own_redis
from tests.builders import unique_talk_id
from tests.e2e.conftest import Runtime, start_admin_runtime, stop_runtime
from tests.e2e.test_catalog_flow import live_channel_process
from tests.live_client import Subscriber

pytestmark = pytest.mark.e2e

API = "[ApiFunction] "


@pytest.fixture
def runtime(kafka_bootstrap: str, tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    """A runtime whose API keeps an unsent change 5 s at most (the setting's floor)."""
    started, token = start_admin_runtime(
        UNSENT_TALKS,
        own_redis("unsent_changes"),
        kafka_bootstrap,
        tmp_path / "runtime.log",
        extra_env={"LIVE_UNSENT_CHANGE_SECONDS": "5"},
    )
    yield started, token
    stop_runtime(started)


def api_lines(runtime: Runtime) -> list[str]:
    """What ApiFunction printed so far, as the runtime's log keeps it: its records (JSON lines
    naming the function, the sending thread's between invocations too) and its metrics (the EMF
    documents printed within one of its invocations, between its START and END lines)."""
    assert runtime.log is not None
    lines: list[str] = []
    within = False
    for line in runtime.log.read_text().splitlines():
        if line.startswith("[ApiFunction] START "):
            within = True
        elif line.startswith("[ApiFunction] END "):
            within = False
        elif (line.startswith('{"_aws"') and within) or (
            line.startswith("{") and '"function_name":"ApiFunction"' in line
        ):
            lines.append(line)
    return lines


def invocations(runtime: Runtime) -> int:
    """ApiFunction's invocations that ended so far (their END lines in the runtime's log)."""
    assert runtime.log is not None
    return runtime.log.read_text().count("\n[ApiFunction] END ")


def metric(lines: list[str], name: str) -> list[float]:
    """Every value of the metric `name` in the EMF documents among `lines`."""
    values: list[float] = []
    for line in lines:
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            if name in document:
                value = document[name]
                values += value if isinstance(value, list) else [value]
    return values


def logged(lines: list[str], message: str) -> list[dict[str, object]]:
    """The API's log records with this message."""
    records = []
    for line in lines:
        if line.startswith("{") and not line.startswith('{"_aws"'):
            record = json.loads(line)
            if record.get("message") == message:
                records.append(record)
    return records


def publish(live: dict[str, str], channel: str, event: str) -> None:
    """Publish one event on the runtime's live channel as its functions do (signed with the
    credentials the runtime gives them)."""
    credentials = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    publisher = AppSyncEventsPublisher(
        f"http://{live['host']}/event", 10, region="us-east-1", environ=credentials
    )
    publisher.publish(channel, [event])


def until(check: Callable[[], object], within: float, what: str) -> None:
    """Poll `check` every 0.05 s until it is true; fail saying `what` after `within` seconds."""
    ends = time.monotonic() + within
    while not check():
        assert time.monotonic() < ends, f"{what} within {within} s"
        time.sleep(0.05)


def test_a_change_the_frozen_channel_never_took_is_given_up_once_counted_never_sent_and_read(
    runtime: tuple[Runtime, str],
) -> None:
    service, token = runtime
    admin = {"Authorization": f"Bearer {token}"}
    live = service.request("GET", "/app/config.json").json["live"]
    # Given pages open on a talk and on the programme, live, which heard the talk added
    talk_id = unique_talk_id()
    screen = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    programme = Subscriber(live["realtimeUrl"], live["host"], live["apiKey"])
    screen.subscribe(channel_for_talk(talk_id))
    programme.subscribe(LEADERBOARD_CHANNEL)
    answer = service.request(
        "POST", "/talks", json.dumps({"id": talk_id, "title": "Before the freeze"}), admin
    )
    assert answer.status == 201, answer.body
    for page in (screen, programme):  # (under load the add may be taken past the write's bound)
        [(_, added)] = page.events(1, timeout=20)
        assert added["talk"] == answer.json, added
    channel = live_channel_process(service)
    try:
        # When the live channel stops answering (SIGSTOP: its connections are still accepted)
        # and an organiser renames the talk
        channel.suspend()
        renamed = {"title": "Renamed while frozen"}
        answer = service.request("PUT", f"/talks/{talk_id}", json.dumps(renamed), admin)
        assert answer.status == 200, answer.body
        revision = answer.json["revision"]
        # Then the API gives the change up once it was kept 5 s (the thread's next look after)
        until(
            lambda: logged(api_lines(service), "catalog change given up: not taken in time"),
            30,
            "the change was not given up",
        )
        # ...and its next request (a page's minute read of the talk, GET /talks/{id}, while
        # the channel is still frozen: reads publish nothing) counts it given up, once
        read = service.request("GET", f"/talks/{talk_id}")
        assert read.status == 200, read.body
        until(
            lambda: metric(api_lines(service), "CatalogChangesGivenUp"),
            10,
            "CatalogChangesGivenUp was not emitted",
        )
        lines = api_lines(service)
        assert metric(lines, "CatalogChangesGivenUp") == [1]
        # (the add's publishes, settled within their 1 s timeout, were counted by now: taken
        # after the write's bound on a loaded machine, they count as sent late)
        sent_late = metric(lines, "CatalogChangesSentLate")
        [given_up] = logged(lines, "catalog change given up: not taken in time")
        assert given_up["talkId"] == talk_id
        assert given_up["seconds"] == 5
        resumed_at = time.monotonic()
    finally:
        channel.resume()
    try:
        # And once the channel answers again, the pages hear at most what the API handed it
        # while it was frozen (its accepted connections, read once it runs again; those whose
        # client had gone by then may or may not be delivered): the rename's two publishes of
        # the write (the talk's channel and the leaderboard's) and the sending thread's tries,
        # each round ending at its first, the talk's (one "still unsent" each), before a marker
        # published now; nothing the API sent after
        rounds = len(logged(api_lines(service), "catalog changes still unsent"))
        rename = {"type": "catalog", "talkId": talk_id, "talk": answer.json, "revision": revision}
        for page, name, handed in (
            (screen, channel_for_talk(talk_id), 1 + rounds),
            (programme, LEADERBOARD_CHANNEL, 1),
        ):
            publish(live, name, '"marker"')
            heard = []
            while (message := page.events(1, timeout=20)[0][1]) != "marker":
                heard.append(message)
            assert heard == [rename] * len(heard), (name, heard)
            assert len(heard) <= handed, (name, rounds, len(heard))
        # ...and nothing follows within the wait after which a thread that had kept the change
        # would have tried again (1 s after its first round, doubling, 15 s at most), and that
        # try's 1 s publish timeout
        ends = resumed_at + min(2**rounds, 15) + 1
        for page in (screen, programme):
            try:
                late = page.events(1, timeout=max(0.1, ends - time.monotonic()))
            except TimeoutError:
                late = []
            assert late == [], late
        lines = api_lines(service)
        assert logged(lines, "catalog changes sent late") == []
        # And the page's next read of the talk shows the new title all the same, and the API
        # counted nothing more: the change given up once, none sent late
        before = invocations(service)
        read = service.request("GET", f"/talks/{talk_id}")
        assert read.status == 200, read.body
        assert (read.json["title"], read.json["revision"]) == ("Renamed while frozen", revision)
        until(lambda: invocations(service) > before, 10, "the read's END was not logged")
        lines = api_lines(service)
        assert metric(lines, "CatalogChangesGivenUp") == [1]
        assert metric(lines, "CatalogChangesSentLate") == sent_late
    finally:
        screen.close()
        programme.close()
