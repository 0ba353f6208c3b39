"""The local runtime: template.yaml's functions behind a local API Gateway, a local Lambda Invoke
API, function URLs, Kafka event source mappings and schedules, with PostgreSQL, Redis and Kafka
from configuration, found on their default localhost ports, or embedded (talkrate_local.backends)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import RedisError

from talkrate.adapters.redis_store import RedisReadModel
from talkrate_local.backends import Backends, Choice, choose
from talkrate_local.broker import BrokerError
from talkrate_local.dev_secrets import dev_secrets, parameter_defaults
from talkrate_local.docs_ui import DOCS_PREFIX, DocsSite
from talkrate_local.embedded import ServiceError
from talkrate_local.gateway import FunctionUrlServer, GatewayServer
from talkrate_local.intrinsics import REGION
from talkrate_local.invoke_api import InvokeApiServer
from talkrate_local.kafka_mapping import ConsumerTuning, KafkaMappingRunner
from talkrate_local.live import function_environment as live_environment
from talkrate_local.live import live_config, start_live_channel
from talkrate_local.live_channel import LiveChannelProcess
from talkrate_local.pool import FunctionPool, InitFailed, Invocation, console
from talkrate_local.reload import shared_package_dir
from talkrate_local.schedules import ScheduleRunner
from talkrate_local.template import Template, TemplateError, iter_triggers, load_template
from talkrate_local.web_app import APP_PREFIX, page_config, web_app_site

DATA_DIR_NAME: Final = ".local"
# Kafka client settings the runtime's consumers and the functions' producers both take from here.
_STREAMS_SETTINGS: Final = (
    "STREAMS_SECURITY_PROTOCOL",
    "STREAMS_SASL_MECHANISM",
    "STREAMS_USERNAME",
    "STREAMS_PASSWORD",
)
# Credentials and profiles that would send boto3 to real AWS instead of the local endpoint.
_AWS_IDENTITY: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
_SECRET_WORDS: Final = ("pass", "secret", "token", "key", "credential")


@dataclass(frozen=True)
class LocalConfig:
    """Where the backing services are, and what to do when they are not configured (read once
    from the environment; command-line options override)."""

    talks_connection: str | None
    ratings_connection: str | None
    streams_connection: str | None
    streams_settings: Mapping[str, str]
    embedded: bool = False
    memory_broker: bool = False
    data_dir: Path | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalConfig:
        """TALKS_CONNECTION, RATINGS_CONNECTION, STREAMS_CONNECTION; TALKRATE_LOCAL_EMBEDDED=1
        (embedded services even when the default ports answer), TALKRATE_LOCAL_BROKER=memory
        (an in-memory broker instead of the durable one), TALKRATE_LOCAL_DATA (data folder)."""
        data_dir = environ.get("TALKRATE_LOCAL_DATA")
        return cls(
            talks_connection=environ.get("TALKS_CONNECTION") or None,
            ratings_connection=environ.get("RATINGS_CONNECTION") or None,
            streams_connection=environ.get("STREAMS_CONNECTION") or None,
            streams_settings={k: environ[k] for k in _STREAMS_SETTINGS if environ.get(k)},
            embedded=_flag(environ.get("TALKRATE_LOCAL_EMBEDDED")),
            memory_broker=environ.get("TALKRATE_LOCAL_BROKER", "").lower() == "memory",
            data_dir=Path(data_dir) if data_dir else None,
        )

    def connections(self) -> dict[str, str]:
        """The configured connections, by environment variable."""
        return {
            "TALKS_CONNECTION": self.talks_connection or "",
            "RATINGS_CONNECTION": self.ratings_connection or "",
            "STREAMS_CONNECTION": self.streams_connection or "",
        }

    def kafka_client_config(self) -> dict[str, Any]:
        """kafka-python settings for the runtime's own clients (consumers, admin)."""
        settings = self.streams_settings
        config: dict[str, Any] = {}
        if "STREAMS_SECURITY_PROTOCOL" in settings:
            config["security_protocol"] = settings["STREAMS_SECURITY_PROTOCOL"]
        if "STREAMS_SASL_MECHANISM" in settings:
            config["sasl_mechanism"] = settings["STREAMS_SASL_MECHANISM"]
            config["sasl_plain_username"] = settings.get("STREAMS_USERNAME")
            config["sasl_plain_password"] = settings.get("STREAMS_PASSWORD")
        return config


def redact(connection: str) -> str:
    """A connection string without its password, tokens or keys (for printing)."""
    if "://" in connection:
        parts = urlsplit(connection)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            user = user.split(":", 1)[0]
            netloc = f"{user}@{host}" if user else host
        query = urlencode(
            [(k, "***" if _is_secret(k) else v) for k, v in parse_qsl(parts.query)], safe="*"
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    if "=" in connection:  # libpq key=value form
        items = (item.partition("=") for item in connection.split())
        return " ".join(f"{k}=***" if _is_secret(k) else f"{k}={v}" for k, _, v in items)
    return connection


def _is_secret(name: str) -> bool:
    return any(word in name.lower() for word in _SECRET_WORDS)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def function_environment(
    template_env: Mapping[str, str],
    base: Mapping[str, str],
    lambda_env: Mapping[str, str],
    local: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A function's environment: the runtime's own, then the template's, then what Lambda sets,
    then the local connections, then --env-vars overrides. Secret ARNs are removed: locally the
    connections come from configuration, not from Secrets Manager."""
    environment = {k: v for k, v in base.items() if k not in _AWS_IDENTITY}
    environment.update(template_env)
    environment.update(lambda_env)
    environment.update(local)
    environment.update(extra or {})
    return {k: v for k, v in environment.items() if not k.endswith("_SECRET_ARN")}


class LocalRuntime:
    """Everything the template describes, running locally, started and stopped as one."""

    def __init__(
        self,
        template: Template,
        config: LocalConfig,
        host: str = "127.0.0.1",
        port: int = 3000,
        lambda_port: int = 3001,
        environ: Mapping[str, str] | None = None,
        env_overrides: Mapping[str, Mapping[str, str]] | None = None,
        concurrency: int = 1,
        url_port: int = 3002,
        reload: bool = True,
        live_port: int = 3004,
    ) -> None:
        self.template = template
        self.concurrency = concurrency
        self.config = config
        self.host = host
        self.port = port
        self.lambda_port = lambda_port
        self.url_port = url_port
        self.live_port = live_port
        self.live: LiveChannelProcess | None = None
        self.reload = reload
        self._environ = dict(os.environ if environ is None else environ)
        self._env_overrides = env_overrides or {}
        self._tuning = ConsumerTuning.from_environ(self._environ)
        self._template_dir = template.path.parent if template.path else Path.cwd()
        data_dir = config.data_dir or self._template_dir / DATA_DIR_NAME
        self.backends = Backends(
            choose(config.connections(), config.embedded, config.memory_broker), data_dir
        )
        self.dev_secrets = dev_secrets(data_dir, self._environ)
        self.pools: dict[str, FunctionPool] = {}
        self.gateway: GatewayServer | None = None
        self.invoke_api: InvokeApiServer | None = None
        self.function_urls: dict[str, FunctionUrlServer] = {}
        self.mappings: list[KafkaMappingRunner] = []
        self.schedules: list[ScheduleRunner] = []
        self.init_report: dict[str, str] = {}
        self._stopped = False

    @property
    def url(self) -> str:
        """The base URL of the HTTP API."""
        return f"http://{self.host}:{self.gateway.port if self.gateway else self.port}"

    @property
    def lambda_url(self) -> str:
        """The Lambda Invoke API endpoint (boto3 endpoint_url)."""
        port = self.invoke_api.port if self.invoke_api else self.lambda_port
        return f"http://{self.host}:{port}"

    @property
    def talks(self) -> str:
        """The catalog's PostgreSQL DSN (known once started)."""
        return self.backends.talks

    @property
    def ratings(self) -> str:
        """The read model's Redis URL (known once started)."""
        return self.backends.ratings

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap servers (known once started)."""
        return self.backends.streams

    def function_url(self, function_id: str) -> str:
        """The base URL of a function's URL endpoint."""
        return f"http://{self.host}:{self.function_urls[function_id].port}/"

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
        # Bind every port first: a port in use fails fast, before any service is started, and
        # the Lambda endpoint's real port goes into the functions' environment.
        try:
            self.gateway = GatewayServer(
                self.host,
                self.port,
                self.template.routes,
                self.invoke,
                self.template.authorizers,
                cors=self.template.cors,
                docs=DocsSite.beside(self._template_dir),
                sites=[web_app_site(self._template_dir, self._page_config)],
            )
        except OSError as error:
            raise OSError(f"HTTP API cannot listen on {self.host}:{self.port}: {error}") from error
        try:
            self.invoke_api = InvokeApiServer(
                self.host, self.lambda_port, self.template.functions, self.invoke
            )
        except OSError as error:
            raise OSError(
                f"Lambda Invoke API cannot listen on {self.host}:{self.lambda_port}: {error}"
            ) from error
        for index, url in enumerate(self.template.function_urls):
            port = self.url_port + index if self.url_port else 0
            try:
                self.function_urls[url.function_id] = FunctionUrlServer(
                    self.host, port, url, self.invoke
                )
            except OSError as error:
                raise OSError(
                    f"{url.function_id}'s function URL cannot listen on {self.host}:{port}: {error}"
                ) from error
        try:
            self.live = start_live_channel(self.host, self.live_port, self._environ)
        except OSError as error:
            raise OSError(
                f"the live channel cannot listen on {self.host}:{self.live_port}: {error}"
            ) from error
        self._start_backends()
        self._prepare_database()
        if self.backends.broker_is_new:
            self._forget_offsets_of_fresh_topics()
        shared = shared_package_dir()
        for function_id, spec in self.template.functions.items():
            watch = [spec.code_dir, *([shared] if shared else [])] if self.reload else []
            self.pools[function_id] = FunctionPool(
                spec, self._function_env(function_id), max_workers=self.concurrency, watch=watch
            )
        self._warm_functions()
        for mapping in self.template.kafka_mappings:
            runner = KafkaMappingRunner(
                mapping,
                self.bootstrap,
                self.invoke,
                self._tuning,
                self.config.kafka_client_config(),
            )
            try:
                runner.prepare(timeout_ms=5_000)
            except Exception as error:  # the consumer keeps retrying: report, do not stop
                console(f"[kafka {mapping.function_id}] topics not ready yet: {error!r}")
            self.mappings.append(runner)
            runner.start()
        for schedule in self.template.schedules:
            if schedule.interval_seconds is None:
                continue  # listed as unsupported in the summary
            schedule_runner = ScheduleRunner(schedule, self.invoke)
            self.schedules.append(schedule_runner)
            schedule_runner.start()
        self.gateway.start("gateway")
        self.invoke_api.start("lambda-invoke-api")
        for function_id, server in self.function_urls.items():
            server.start(f"url-{function_id}")

    @property
    def app_url(self) -> str:
        """The web app's entry page."""
        return f"{self.url}{APP_PREFIX}/"

    def _page_config(self) -> dict[str, Any]:
        # The policy the API enforces: what its function's environment says.
        policies = (
            self._function_env(function_id).get("VOTING_POLICY")
            for function_id in self.template.functions
        )
        policy = next((p for p in policies if p), "open")
        return page_config(live_config(self.live), policy)

    def _start_backends(self) -> None:
        for choice in self.backends.choices.values():
            console(f"[runtime] {choice.name:<8} {_origin_line(choice)}")
        started = time.perf_counter()
        self.backends.start()
        if self.backends.services or self.backends.memory_broker:
            console(f"[runtime] backends ready in {time.perf_counter() - started:.1f} s")

    def _forget_offsets_of_fresh_topics(self) -> None:
        # The broker's storage is new, so its topics start again at offset 0; offsets the read
        # model recorded for an earlier broker would make the projector skip new records. A broker
        # that kept its data (configured, found, or embedded with its folder) keeps its offsets.
        topics = {topic for mapping in self.template.kafka_mappings for topic in mapping.topics}
        try:
            read_model = RedisReadModel(self.ratings)
            forgotten = sum(read_model.forget_offsets(topic) for topic in sorted(topics))
        except RedisError as error:
            console(f"[runtime] could not reset the projector's offsets: {error}")
            return
        if forgotten:
            console(f"[runtime] new broker: forgot {forgotten} applied offsets of {sorted(topics)}")

    def _prepare_database(self) -> None:
        if importlib.util.find_spec("talkrate_local.database") is None:
            console(
                "[runtime] talkrate_local.database is missing: the catalog database was not "
                "created, migrated or seeded"
            )
            return
        database = importlib.import_module("talkrate_local.database")
        try:
            database.prepare(self.talks)
        except Exception as error:  # the API reports a down backend on GET /; keep running
            console(
                f"[runtime] could not prepare {redact(self.talks)}: "
                f"{type(error).__name__}: {str(error).strip()}"
            )

    def _function_env(self, function_id: str) -> dict[str, str]:
        spec = self.template.functions[function_id]
        lambda_env = {
            "AWS_LAMBDA_FUNCTION_NAME": function_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_TIMEOUT": f"{spec.timeout_seconds:g}",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]local"),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # Any non-empty credentials: boto3 signs, the local endpoint does not check.
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # unchecked locally  # nosec B105
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "PYTHONUNBUFFERED": "1",  # logs show as they are written
        }
        local = {
            "TALKS_CONNECTION": self.talks,
            "RATINGS_CONNECTION": self.ratings,
            "STREAMS_CONNECTION": self.bootstrap,
            "LAMBDA_ENDPOINT_URL": self.lambda_url,
            **live_environment(self.live),
            **self.config.streams_settings,
            **self.dev_secrets.environment,
        }
        if "POWERTOOLS_METRICS_NAMESPACE" not in spec.environment:
            local["POWERTOOLS_METRICS_NAMESPACE"] = "talkrate"
        extra = {
            **self._env_overrides.get("Parameters", {}),
            **self._env_overrides.get(function_id, {}),
        }
        return function_environment(spec.environment, self._environ, lambda_env, local, extra)

    def _warm_functions(self) -> None:
        def warm(function_id: str, pool: FunctionPool) -> None:
            try:
                self.init_report[function_id] = f"init {pool.warm():.0f} ms"
            except InitFailed as failure:
                error = failure.error
                self.init_report[function_id] = (
                    f"INIT FAILED {error.get('errorType')}: {error.get('errorMessage')}"
                )

        threads = [
            threading.Thread(target=warm, args=item, name=f"warm-{item[0]}")
            for item in self.pools.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        """Stop everything, in order: no new requests, no new batches, functions, broker."""
        if self._stopped:
            return
        self._stopped = True
        for server in (self.gateway, self.invoke_api, *self.function_urls.values()):
            if server is not None:
                server.stop()
        runners: list[KafkaMappingRunner | ScheduleRunner] = [*self.mappings, *self.schedules]
        for runner in runners:
            runner.request_stop()
        for pool in self.pools.values():
            pool.close()  # an invocation in flight ends now; its batch stays uncommitted
        for runner in runners:
            runner.join(timeout=15)
        if self.live is not None:
            self.live.stop()
        self.backends.stop()

    def summary(self) -> str:
        """The start-up summary: functions, triggers, backends, notes."""
        lines = [f"talkrate local runtime ({self.template.path or 'template'})", "functions:"]
        for function_id, spec in self.template.functions.items():
            lines.append(
                f"  {function_id:<20} {_display(spec.handler_file)}:{spec.handler_function}  "
                f"{spec.memory_mb} MB  {spec.timeout_seconds:g} s  "
                f"{self.init_report.get(function_id, '')}"
            )
        lines.append("triggers:")
        lines.extend(f"  {line}" for line in iter_triggers(self.template))
        for function_id, server in self.function_urls.items():
            auth = server.function_url.auth_type
            checked = "  (AWS_IAM: signature not checked locally)" if auth == "AWS_IAM" else ""
            lines.append(
                f"  url       {self.function_url(function_id):<28} -> {function_id}{checked}"
            )
        for schedule in self.template.schedules:
            if schedule.interval_seconds is None:
                lines.append(
                    f"  (not run locally: {schedule.expression} -> {schedule.function_id})"
                )
        lines.append("http api:")
        lines.extend(f"  {line}" for line in self._http_api_lines())
        lines.append("backends:")
        lines.extend(
            f"  {choice.name:<8} {redact(choice.connection):<48} {_origin_line(choice)}"
            for choice in self.backends.choices.values()
        )
        lines.append(f"  lambda   {self.lambda_url}  (Lambda Invoke API; boto3 endpoint_url)")
        if self.live is not None:
            lines.append(
                f"  live     {self.live.realtime_url}  (AppSync Events; publish "
                f"{self.live.publish_url})"
            )
        if self.reload:
            lines.append("reload:   on (functions/ and the shared package, on the next request)")
        if self.template.notes:
            lines.append("notes:")
            lines.extend(f"  {note}" for note in self.template.notes)
        return "\n".join(lines)

    def _http_api_lines(self) -> list[str]:
        cors = self.template.cors
        lines = [
            f"cors      {cors.describe()}"
            if cors
            else "cors      none (no CorsConfiguration: OPTIONS is routed like any method)"
        ]
        gateway = self.gateway
        docs = gateway.docs if gateway else None
        shadow = gateway.docs_route if gateway else None
        if docs is None:
            return lines
        if shadow is not None:
            lines.append(f"docs      not served: {shadow.route_key} takes {DOCS_PREFIX}/")
        elif docs.ui_version is None:
            lines.append(
                f"docs      {self.url}{DOCS_PREFIX}/openapi.json  (Swagger UI is not installed: "
                "pip install -r requirements-dev.txt)"
            )
        else:
            spec = _display(docs.spec_file)
            missing = "" if docs.spec_file.is_file() else ", missing: make openapi"
            lines.append(
                f"docs      {self.url}{DOCS_PREFIX}/  (Swagger UI {docs.ui_version} of {spec}"
                f"{missing})"
            )
        return lines


def _origin_line(choice: Choice) -> str:
    """How the runtime came by a backend, in a few words."""
    if choice.origin == "configured":
        return f"configured ({choice.reason})"
    if choice.origin == "found":
        return f"found ({choice.reason})"
    if choice.origin == "memory":
        return "tansu in memory, started by the runtime"
    if choice.reason:
        return f"embedded ({choice.reason})"
    return "embedded: starting it"


def _display(path: Path) -> str:
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options of `python -m talkrate_local`."""
    parser = argparse.ArgumentParser(
        prog="python -m talkrate_local",
        description=(
            "Run template.yaml locally: HTTP API, Lambda Invoke API, function URLs, Kafka "
            "triggers, schedules; with embedded PostgreSQL, Redis and Kafka when none is "
            "configured or listening on its default port."
        ),
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="HTTP API port (0: any free one)")
    parser.add_argument("--lambda-port", type=int, default=3001, help="Lambda Invoke API port")
    parser.add_argument(
        "--url-port",
        type=int,
        default=3002,
        help="port of the first function URL, the next ones follow (0: any free ones)",
    )
    parser.add_argument(
        "--live-port",
        type=int,
        default=3004,
        help="the live channel's WebSocket port (AppSync Events emulation; 0: any free one)",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="embedded services for every backend not configured, even if a default port answers "
        "(TALKRATE_LOCAL_EMBEDDED=1)",
    )
    parser.add_argument(
        "--broker",
        choices=("embedded", "memory"),
        help="the broker started when none is configured or found: durable (embedded, the "
        "default) or tansu in memory (TALKRATE_LOCAL_BROKER)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder of the embedded services' data (TALKRATE_LOCAL_DATA; default: .local "
        "beside the template)",
    )
    parser.add_argument(
        "--no-reload",
        action="store_true",
        help="keep execution environments when the code changes (TALKRATE_LOCAL_RELOAD=0)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="Key=Value",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="execution environments per function (each runs one invocation at a time)",
    )
    parser.add_argument(
        "--env-vars",
        type=Path,
        help='JSON file as for `sam local`: {"Parameters": {...}, "<FunctionId>": {...}}',
    )
    return parser.parse_args(argv)


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TemplateError(f"--param wants Key=Value, got {pair!r}")
        overrides[key] = value
    return overrides


def _env_overrides(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise TemplateError(f"{path}: expected a JSON object")
    return {
        str(section): {str(k): str(v) for k, v in values.items()}
        for section, values in document.items()
        if isinstance(values, dict)
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 1 when start-up failed."""
    args = parse_args(argv)
    try:
        explicit = _parameters(args.param)
        template = load_template(args.template.resolve(), explicit)
        # The dev stack's defaults for the parameters this template declares.
        local = {
            name: value
            for name, value in parameter_defaults(os.environ).items()
            if name in template.parameters and name not in explicit
        }
        if local:
            template = load_template(args.template.resolve(), {**local, **explicit})
        env_overrides = _env_overrides(args.env_vars)
    except (TemplateError, OSError, ValueError) as error:
        print(f"talkrate-local: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    config = LocalConfig.from_environ(os.environ)
    config = replace(
        config,
        embedded=config.embedded or args.embedded,
        memory_broker=(args.broker == "memory") if args.broker else config.memory_broker,
        data_dir=args.data_dir or config.data_dir,
    )
    runtime = LocalRuntime(
        template,
        config,
        host=args.host,
        port=args.port,
        lambda_port=args.lambda_port,
        env_overrides=env_overrides,
        concurrency=max(1, args.concurrency),
        url_port=args.url_port,
        live_port=args.live_port,
        reload=not args.no_reload and os.environ.get("TALKRATE_LOCAL_RELOAD", "1") != "0",
    )
    try:
        runtime.start()
    except (OSError, BrokerError, ServiceError) as error:
        print(f"talkrate-local: could not start: {error}", file=sys.stderr)
        return 1
    print(runtime.summary(), flush=True)
    if runtime.dev_secrets.organiser_token:
        # On a line of its own: the admin routes' bearer token (ADMIN_TOKEN sets another).
        print(f"organiser token: {runtime.dev_secrets.organiser_token}", flush=True)
    print(f"the web app: {runtime.app_url}  (organisers: {runtime.app_url}admin)", flush=True)
    print(f"talkrate is running at {runtime.url}", flush=True)
    while not stop.wait(1.0):
        pass
    print("talkrate-local: stopping", file=sys.stderr, flush=True)
    runtime.stop()
    print("talkrate-local: stopped", file=sys.stderr, flush=True)
    return 0
