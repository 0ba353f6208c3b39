"""The emulator: a template's functions behind its event sources, with a project's dev stack,
started and stopped as one."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from sam_emulator import stopwatch
from sam_emulator.background import side_by_side
from sam_emulator.console import console, display
from sam_emulator.events import (
    Bind,
    EventSource,
    Options,
    function_url,
    http_api,
    kafka,
    live,
    schedule,
)
from sam_emulator.events.http_api import HttpApi
from sam_emulator.lambda_.environment import function_environment, lambda_variables
from sam_emulator.lambda_.invoke_api import InvokeApiServer
from sam_emulator.lambda_.pool import FunctionPool, InitFailed, Invocation
from sam_emulator.plugins import DevStack, NoDevStack, Services
from sam_emulator.serving import SIGNED_ONLY_HOST
from sam_emulator.template import Template

# The event sources the emulator runs, in the order they are bound and started. A new source is
# a module of sam_emulator.events with a `bind` function, and a parser in sam_emulator.template.
EVENT_SOURCES: Final[tuple[Bind, ...]] = (
    http_api.bind,
    function_url.bind,
    kafka.bind,
    schedule.bind,
    live.bind,
)
# Ctrl-C to the dev stack stopped, in all: the process is gone within 5 s (docs promise it);
# the second left is the process's own exit, under load.
STOP_SECONDS: Final = 4.0
# Of that, what the Kafka drains leave: the drains end this long before the deadline at the
# latest (the other functions' invocations still run meanwhile).
DRAIN_LEAVES_SECONDS: Final = 2.0
# What the dev stack keeps for itself once every function has ended: its broker's lag checked
# beside its services' own shutdown. The functions' last invocations get the rest: a rating in
# flight when the broker stopped answering gives up its publish after 3 s and is kept in the
# outbox, before the database stops.
DEV_STACK_STOP_SECONDS: Final = 0.7
# How long the stop waits, once the functions have ended, for their requests' answers to be
# written (mapping and writing an answer takes milliseconds).
ANSWERS_SECONDS: Final = 0.5
# When the dev stack replaces its broker: how long an invocation begun before may still run in
# its old environment (an API's publish to the dead broker gives up within its 3 s budget).
RENEW_WAIT_SECONDS: Final = 5.0


class Emulator:
    """Everything the template describes, running locally."""

    def __init__(
        self,
        template: Template,
        options: Options | None = None,
        dev_stack: DevStack | None = None,
        env_overrides: Mapping[str, Mapping[str, str]] | None = None,
        concurrency: int = 1,
        reload: bool = True,
    ) -> None:
        self.template = template
        self.options = options or Options()
        self.dev_stack: DevStack = dev_stack or NoDevStack()
        self.concurrency = max(1, concurrency)
        self.reload = reload
        self.services = Services()
        self.pools: dict[str, FunctionPool] = {}
        self.invoke_api: InvokeApiServer | None = None
        self.sources: list[EventSource] = []
        self.init_report: dict[str, str] = {}
        self._env_overrides = env_overrides or {}
        self._dev_stack_started = False
        self._stopped = False

    @property
    def url(self) -> str:
        """The base URL of the HTTP API."""
        gateway = next((s for s in self.sources if isinstance(s, HttpApi)), None)
        return gateway.url if gateway else ""

    @property
    def lambda_url(self) -> str:
        """The Lambda Invoke API endpoint (boto3 endpoint_url)."""
        port = self.invoke_api.port if self.invoke_api else self.options.lambda_port
        return f"http://{SIGNED_ONLY_HOST}:{port}"

    def invoke(self, function_id: str, event: Any) -> Invocation:
        """Invoke a function of the template synchronously."""
        return self.pools[function_id].invoke(event)

    def start(self) -> None:
        """Start everything; on failure, what was started is stopped again."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        # The dev stack's claim first (a second runtime of the project is told which one runs),
        # then every port: a port in use fails fast, before any service is started, and the
        # Lambda endpoint's real port goes into the functions' environment.
        options = self.options
        self._dev_stack_started = True  # its stop lets the claim go
        self.dev_stack.claim(self.template)
        try:
            self.invoke_api = InvokeApiServer(
                SIGNED_ONLY_HOST, options.lambda_port, self.template.functions, self.invoke
            )
        except OSError as error:
            raise OSError(
                f"Lambda Invoke API cannot listen on {SIGNED_ONLY_HOST}:{options.lambda_port}: "
                f"{error}"
            ) from error
        for bind in EVENT_SOURCES:
            self.sources.extend(bind(self.template, options, self.invoke))
        self.services = self.dev_stack.start(self.template, self.lambda_url)
        for function_id, spec in self.template.functions.items():
            watch = [spec.code_dir, *self.services.watch] if self.reload else []
            self.pools[function_id] = FunctionPool(
                spec, self._function_env(function_id), max_workers=self.concurrency, watch=watch
            )
        self.services.kafka_generations.on_replace(self._renew_environments)
        self._warm_functions()
        self.invoke_api.start("lambda-invoke-api")
        for source in self.sources:
            source.start(self.services)

    def _function_env(self, function_id: str) -> dict[str, str]:
        spec = self.template.functions[function_id]
        extra = {
            **self._env_overrides.get("Parameters", {}),
            **self._env_overrides.get(function_id, {}),
        }
        return function_environment(
            spec.environment,
            self.options.environ,
            lambda_variables(spec),
            {**self._source_environment(function_id), **self.services.environment},
            extra,
        )

    def _source_environment(self, function_id: str) -> dict[str, str]:
        """What event sources tell a function of themselves (an Event API its endpoints)."""
        environment: dict[str, str] = {}
        for source in self.sources:
            if isinstance(source, live.LiveEventApi):
                environment.update(source.function_environment(function_id))
        return environment

    def _renew_environments(self) -> None:
        """The dev stack replaces its broker with a new, empty one at the same address: every
        function starts its next invocations in a new environment, and the ones still running an
        invocation in an old environment get RENEW_WAIT_SECONDS to end it before they are killed
        (it ends with an error, as a crash's: a rating is answered 5xx, a batch is retried). A
        client made for the old broker must not reach the new one: a Kafka producer's id and
        record numbers came from the old broker, and the new one gives ids out afresh, so it
        took one producer's records for another's it already had, acknowledged, never stored."""
        console(
            "[functions] a new broker replaces the one that stopped: each function's next "
            "invocation runs in a new environment"
        )
        for pool in self.pools.values():
            pool.retire()
        deadline = time.monotonic() + RENEW_WAIT_SECONDS
        for pool in self.pools.values():
            if pool.wait_retired(max(0.0, deadline - time.monotonic())):
                continue
            if killed := pool.kill_retired():
                console(
                    f"[{pool.spec.logical_id}] {killed} invocation(s) begun before the broker "
                    f"was replaced still ran after {RENEW_WAIT_SECONDS:g} s: ended"
                )

    def _warm_functions(self) -> None:
        def warm(function_id: str, pool: FunctionPool) -> None:
            try:
                self.init_report[function_id] = f"init {pool.warm():.0f} ms"
            except InitFailed as failure:
                error = failure.error
                self.init_report[function_id] = (
                    f"INIT FAILED {error.get('errorType')}: {error.get('errorMessage')}"
                )

        side_by_side(
            {
                f"warm-{name}": functools.partial(warm, name, pool)
                for name, pool in self.pools.items()
            }
        )

    def stop(self, within: float = STOP_SECONDS) -> None:
        """Stop everything within `within` seconds: no new events (the endpoints close side by
        side; the Kafka mappings deliver what is already on their topics, until
        DRAIN_LEAVES_SECONDS before the deadline); the functions end their invocations in
        flight (each function fed by a mapping once its drain is over, the others at once, side
        by side), until DEV_STACK_STOP_SECONDS before it; then the dev stack, with the time
        left."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + within
        stopping: dict[str, Callable[[], object]] = {
            f"stop-{type(source).__name__}": source.stop for source in self.sources
        }
        if self.invoke_api is not None:
            stopping["stop-lambda-invoke-api"] = self.invoke_api.stop
        side_by_side(stopping)
        stopwatch.step("no new events")
        drained_by = deadline - min(DRAIN_LEAVES_SECONDS, within / 2)
        functions_by = deadline - min(DEV_STACK_STOP_SECONDS, within / 4)
        fed = {mapping.function_id for mapping in self.template.kafka_mappings}

        def close(names: Iterable[str]) -> None:
            # An invocation still in flight at `functions_by` is ended (a Kafka batch stays
            # uncommitted, a request is answered 503).
            grace = max(0.0, functions_by - time.monotonic())
            side_by_side(
                {
                    f"close-{name}": functools.partial(self.pools[name].close, grace)
                    for name in names
                }
            )
            stopwatch.step(f"functions ended: {', '.join(names) or 'none'}")

        def drain_then_close() -> None:
            for source in self.sources:
                source.join(max(0.0, drained_by - time.monotonic()))
            stopwatch.step("event sources ended or out of time")
            close(sorted(name for name in self.pools if name in fed))

        side_by_side(
            {
                "drain": drain_then_close,
                "close": functools.partial(
                    close, sorted(name for name in self.pools if name not in fed)
                ),
            }
        )
        # Every function has ended: the answers of the requests they ran are written before the
        # dev stack stops and the process ends (which does not wait for the request threads).
        answers_by = min(deadline, time.monotonic() + ANSWERS_SECONDS)
        for source in self.sources:
            answered = getattr(source, "answered", None)
            if answered is not None:
                answered(max(0.0, answers_by - time.monotonic()))
        stopwatch.step("answers written")
        if self._dev_stack_started:
            self.dev_stack.stop(max(0.0, deadline - time.monotonic()))
            stopwatch.step("dev stack stopped")

    def abandon(self) -> None:
        """Stop at once, waiting for nothing (a second Ctrl-C): the functions' processes are
        killed, and the dev stack lets its services go the quickest safe way."""
        for pool in self.pools.values():
            pool.kill()
        if self._dev_stack_started:
            self.dev_stack.abandon()

    def summary(self, title: str = "local emulator") -> str:
        """The start-up summary: functions, triggers, backends, notes."""
        lines = [f"{title} ({self.template.path or 'template'})", "functions:"]
        for function_id, spec in self.template.functions.items():
            lines.append(
                f"  {function_id:<20} {display(spec.handler_file)}:{spec.handler_function}  "
                f"{spec.memory_mb} MB  {spec.timeout_seconds:g} s  "
                f"{self.init_report.get(function_id, '')}"
            )
        lines.append("triggers:")
        lines.extend(f"  {line}" for source in self.sources for line in source.summary())
        lines.append("backends:")
        lines.extend(f"  {line}" for line in self.services.summary)
        lines.append(f"  lambda   {self.lambda_url}  (Lambda Invoke API; boto3 endpoint_url)")
        if self.reload:
            shared = ", ".join(display(folder) for folder in self.services.watch)
            also = f" and {shared}" if shared else ""
            lines.append(f"reload:   on (each function's code{also}, on the next request)")
        if self.template.notes:
            lines.append("notes:")
            lines.extend(f"  {note}" for note in self.template.notes)
        return "\n".join(lines)
