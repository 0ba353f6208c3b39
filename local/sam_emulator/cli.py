"""The command line: `python -m sam_emulator`, or a project's own entry point that adds its
dev stack's options and passes a factory for it (`main(dev_stack=...)`)."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

from sam_emulator import stopwatch
from sam_emulator.events import Options
from sam_emulator.events.live import max_connection_seconds
from sam_emulator.plugins import (
    AddOptions,
    DevStack,
    DevStackFactory,
    NoDevStack,
    ParameterDefaults,
)
from sam_emulator.runtime import Emulator
from sam_emulator.template import TemplateError, load_template


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The emulator's own options."""
    arguments = argparse.ArgumentParser(prog=prog, description=description)
    arguments.add_argument("--template", type=Path, default=Path("template.yaml"))
    arguments.add_argument(
        "--host",
        default="127.0.0.1",
        help="where the HTTP API, the live channel's WebSocket and open function URLs listen "
        "(0.0.0.0: every interface); the Lambda Invoke API, IAM function URLs and the live "
        "channel's publish endpoint stay on 127.0.0.1",
    )
    arguments.add_argument("--port", type=int, default=3000, help="HTTP API port (0: any free one)")
    arguments.add_argument("--lambda-port", type=int, default=3001, help="Lambda Invoke API port")
    arguments.add_argument(
        "--url-port",
        type=int,
        default=3002,
        help="port of the first function URL, the next ones follow (0: any free ones)",
    )
    arguments.add_argument(
        "--live-port",
        type=int,
        default=None,
        help="WebSocket port of the template's AppSync Event API (default: 3004 when free, else "
        "any; 0: any free one); its HTTP publish endpoint takes any free port",
    )
    arguments.add_argument(
        "--no-reload",
        action="store_true",
        help="keep execution environments when the code changes (SAM_EMULATOR_RELOAD=0)",
    )
    arguments.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="Key=Value",
        help="template parameter override (repeatable)",
    )
    arguments.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="execution environments per function (each runs one invocation at a time)",
    )
    arguments.add_argument(
        "--env-vars",
        type=Path,
        help='JSON file as for `sam local`: {"Parameters": {...}, "<FunctionId>": {...}}',
    )
    return arguments


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "python -m sam_emulator",
    name: str = "the emulator",
    add_options: AddOptions | None = None,
    dev_stack: DevStackFactory | None = None,
    parameter_defaults: ParameterDefaults | None = None,
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 1 when start-up failed. `errors` are the
    dev stack's start-up failures, reported in one line like a port in use;
    `parameter_defaults` are the project's local values of template parameters it declares,
    which --param overrides."""
    arguments = parser(
        prog,
        f"Run a SAM template locally without Docker: {name}'s HTTP API, Lambda Invoke API, "
        "function URLs, Kafka triggers and schedules.",
    )
    if add_options is not None:
        add_options(arguments)
    args = arguments.parse_args(argv)
    # Its time and size before it is read: an edit made while the runtime starts is told too.
    template_changed = _ChangeNotice(args.template.resolve())
    try:
        explicit = _parameters(args.param)
        template = load_template(args.template.resolve(), explicit)
        local = {
            name: value
            for name, value in (parameter_defaults() if parameter_defaults else {}).items()
            if name in template.parameters and name not in explicit
        }
        if local:
            template = load_template(args.template.resolve(), {**local, **explicit})
        env_overrides = _env_overrides(args.env_vars)
        max_connection_seconds(os.environ)  # a setting of the live channel's, said before a start
        stack: DevStack = dev_stack(args) if dev_stack is not None else NoDevStack()
    except (TemplateError, OSError, ValueError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    emulators: list[Emulator] = []

    def at_once(signum: int) -> NoReturn:
        # A second Ctrl-C while stopping: wait for nothing more.
        # (straight to the descriptor: another thread may be mid-write to stderr)
        with contextlib.suppress(OSError):
            os.write(2, f"{prog}: stopping at once\n".encode())
        stopwatch.step_at_once("a second signal: stopping at once")
        for started in emulators:
            started.abandon()
        stopwatch.step_at_once("abandoned: exiting")
        os._exit(128 + signum)

    _count_stop_signals(stop, at_once)
    emulator = Emulator(
        template,
        Options(
            args.host,
            args.port,
            args.lambda_port,
            args.url_port,
            dict(os.environ),
            live_port=args.live_port,
        ),
        stack,
        env_overrides=env_overrides,
        concurrency=args.concurrency,
        reload=not args.no_reload and os.environ.get("SAM_EMULATOR_RELOAD", "1") != "0",
    )
    emulators.append(emulator)
    failures: tuple[type[Exception], ...] = (OSError, *errors)
    try:
        emulator.start()
    except failures as error:
        print(f"{prog}: could not start: {error}", file=sys.stderr)
        return 1
    print(emulator.summary(f"{name} local runtime"), flush=True)
    for line in emulator.services.announcements:
        print(line, flush=True)
    for site in emulator.services.sites:
        print(f"{site.name}: {emulator.url}{site.prefix}/", flush=True)
    print(f"{name} is running at {emulator.url} (Ctrl-C stops it)", flush=True)
    while not stop.wait(1.0):
        if template_changed():
            # Routes, triggers and settings are read once: an edit is not applied silently.
            print(
                f"{prog}: {args.template} changed: its routes, triggers and settings apply "
                "from the next start (Ctrl-C, then start again); code changes apply at once",
                file=sys.stderr,
                flush=True,
            )
    print(f"{prog}: stopping", file=sys.stderr, flush=True)
    stopwatch.step("stopping")
    emulator.stop()
    stopwatch.step("stopped")
    print(f"{prog}: stopped", file=sys.stderr, flush=True)
    return 0


STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def _count_stop_signals(stop: threading.Event, at_once: Callable[[int], NoReturn]) -> None:
    """Ctrl-C and SIGTERM counted one by one as they arrive, on a thread of their own: the first
    sets `stop`, the next calls `at_once`.

    Python runs a signal's handler later, on the main thread, and once for a signal that arrived
    twice meanwhile. A second Ctrl-C that came before the main thread had run the first one's
    handler was lost with it, and the stop took its full 4 s: the main thread waits up to a
    second at a time while running, and a signal another thread took does not wake it (any
    thread may take a process's signal), nor does a machine under load run it at once. The C
    handler writes every signal's number to the wakeup descriptor, at once, whichever thread took
    it: this thread reads them there, the main thread free to be anywhere (starting, stopping,
    exiting). The handlers Python runs do nothing but keep SIGINT from raising
    KeyboardInterrupt."""
    heard, told = os.pipe()
    os.set_blocking(told, False)  # the C handler must never wait on a full pipe
    for signum in STOP_SIGNALS:
        signal.signal(signum, _counted_elsewhere)
    signal.set_wakeup_fd(told, warn_on_full_buffer=False)

    def count() -> None:
        while True:
            for signum in os.read(heard, 64):
                if signum not in STOP_SIGNALS:
                    continue
                if not stop.is_set():
                    stopwatch.begin()
                    stop.set()
                else:
                    at_once(signum)

    threading.Thread(target=count, name="stop-signals", daemon=True).start()


def _counted_elsewhere(signum: int, frame: Any) -> None:
    """The Python handler of a stop signal: `_count_stop_signals` counts it."""


def exit_at_once(code: int) -> NoReturn:
    """End the process with `code` once `main` has returned (everything it started is stopped):
    the exit handlers run, and the output is flushed, but the interpreter's own teardown (every
    module's objects freed one by one) is skipped. It took 0.4 s at idle and 0.8 s under load, of
    the second the Ctrl-C promise leaves the process's exit after the stop's 4 s."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


class _ChangeNotice:
    """Tells, once per edit, that a file changed since the last look (its time and size)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = self._path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def __call__(self) -> bool:
        stamp = self._stamp()
        changed, self._seen = stamp != self._seen, stamp
        return changed


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
