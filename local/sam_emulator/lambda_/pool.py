"""Function processes seen from the runtime: start, invoke with a timeout, replace when they die.

A `FunctionPool` holds the execution environments of one function. Each takes one invocation at a
time; the pool starts another (up to `max_workers`) when all are busy, like Lambda scaling out.
With `watch` folders, an edit there retires the environments: idle ones at once, busy ones when
their invocation ends (never during it), so the next invocation runs the new code.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sam_emulator.console import console
from sam_emulator.lambda_.protocol import ChannelClosed, receive_frame, send_frame
from sam_emulator.lambda_.reload import CodeWatcher
from sam_emulator.template import FunctionSpec
from sam_emulator.template.intrinsics import function_arn

# Lambda gives the init phase 10 s; a slow first import locally should not fail the function.
MIN_INIT_TIMEOUT_SECONDS: Final = 10.0
# The error of an invocation the runtime's stop refused or ended (not the function's doing).
STOPPED_ERROR: Final = "Runtime.Stopped"


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation: `payload` when ok, else Lambda's `error` body."""

    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the function returned (did not raise, crash or time out)."""
        return self.error is None


Invoker = Callable[[str, Any], Invocation]
"""How an event source invokes a function: by logical id, with its event."""


class InitFailed(Exception):
    """The handler could not be imported; `error` is the body Lambda would return."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("errorMessage", "init failed"))
        self.error = error


class FunctionProcess:
    """One execution environment: a child process running sam_emulator.lambda_.worker."""

    def __init__(
        self, spec: FunctionSpec, environment: Mapping[str, str], generation: int = 0
    ) -> None:
        self.spec = spec
        self.generation = generation  # the pool's code generation this process imported
        self._environment = dict(environment)
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self.init_ms: float | None = None  # reported with the first invocation, then cleared

    def start(self) -> None:
        """Start the process and wait for its handler import (raises InitFailed)."""
        parent, child = socket.socketpair()
        unique = f"_sam_fn_{self.spec.logical_id}_{self.spec.handler_module.replace('.', '_')}"
        command = [
            sys.executable,
            "-m",
            "sam_emulator.lambda_.worker",
            f"--channel-fd={child.fileno()}",
            f"--code-root={self.spec.code_dir}",
            f"--handler-file={self.spec.handler_file}",
            f"--handler={self.spec.handler}",
            f"--module-name={unique}",
        ]
        try:
            self._process = subprocess.Popen(
                command,
                cwd=self.spec.code_dir if self.spec.code_dir.is_dir() else None,
                env=self._environment,
                stdin=subprocess.DEVNULL,
                pass_fds=(child.fileno(),),
                # Own session: Ctrl-C reaches the runtime only, which then stops workers in order.
                start_new_session=True,
            )
        except OSError as error:
            parent.close()
            raise InitFailed(
                {"errorType": "Runtime.StartError", "errorMessage": str(error)}
            ) from error
        finally:
            child.close()
        self._channel = parent
        timeout = max(MIN_INIT_TIMEOUT_SECONDS, self.spec.timeout_seconds)
        try:
            parent.settimeout(timeout)
            message = receive_frame(parent)
        except TimeoutError:
            self.kill()
            raise InitFailed(
                {"errorType": "Runtime.InitTimeout", "errorMessage": f"init over {timeout:g} s"}
            ) from None
        except (ChannelClosed, OSError, ValueError):
            code = self.kill()
            raise InitFailed(_exit_error("", code)) from None
        if message.get("type") != "ready":
            self.kill()
            raise InitFailed(message.get("error") or {"errorType": "Runtime.Unknown"})
        self.init_ms = float(message["initMs"])

    @property
    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._process is not None and self._process.poll() is None

    def invoke(self, event: Any, request_id: str) -> tuple[dict[str, Any], int | None]:
        """Run one invocation; returns ({"ok": payload} or {"error": body}, max memory MB).

        The process is killed when it overruns the function's Timeout, and is dead when it crashed;
        either way the pool starts a fresh one for the next invocation.
        """
        channel = self._channel
        if channel is None:
            raise RuntimeError("process not started")
        timeout = self.spec.timeout_seconds
        deadline = time.monotonic() + timeout
        request = {
            "requestId": request_id,
            "event": event,
            "deadlineMs": int(time.time() * 1000 + timeout * 1000),
            "invokedFunctionArn": function_arn(self.spec.logical_id),
            "traceId": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        }
        try:
            channel.settimeout(timeout)
            send_frame(channel, request)
            channel.settimeout(max(0.001, deadline - time.monotonic()))
            message = receive_frame(channel)
        except TimeoutError:
            self.kill()
            return {
                "error": {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
                    ),
                }
            }, None
        except (ChannelClosed, OSError, ValueError):
            return {"error": _exit_error(request_id, self.kill())}, None
        memory = message.get("maxMemoryMb")
        if message.get("type") == "result":
            return {"ok": message.get("ok")}, memory
        return {"error": message.get("error") or {"errorType": "Runtime.Unknown"}}, memory

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Close the channel (the process then exits), killing it if it does not in time."""
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> int | None:
        """Kill the process and everything it started; returns its exit status."""
        process = self._process
        if process is None:
            return None
        self.send_kill()
        code = process.wait()
        if self._channel is not None:
            self._channel.close()
        return code

    def send_kill(self) -> None:
        """Send the process and everything it started SIGKILL, waiting for nothing."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: pgid == pid


def _stop_in_background(process: FunctionProcess) -> None:
    # Closing the channel ends the process at once; waiting for it is not the request's business.
    threading.Thread(target=process.stop, name="retire-environment", daemon=True).start()


def _short(path: str) -> str:
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path


def _stopped_error(request_id: str) -> dict[str, Any]:
    return {
        "errorType": STOPPED_ERROR,
        "errorMessage": f"RequestId: {request_id} Error: the local runtime is stopping",
    }


def _exit_error(request_id: str, code: int | None) -> dict[str, Any]:
    if code is not None and code < 0:
        reason = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
    else:
        reason = f"exit status {code}"
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
    }


class FunctionPool:
    """The execution environments of one function, started on demand and reused while warm."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        max_workers: int = 1,
        watch: Sequence[Path] = (),
    ) -> None:
        self.spec = spec
        self._environment = dict(environment)
        self._max_workers = max(1, max_workers)
        self._idle: list[FunctionProcess] = []
        self._all: set[FunctionProcess] = set()
        # Environments the stop killed under an invocation, at `close`'s deadline or at `kill`
        # (Runtime.Stopped)
        self._cut_short: set[FunctionProcess] = set()
        self._count = 0
        self._closed = False
        self._condition = threading.Condition()
        self._generation = 0
        self._watcher = CodeWatcher(watch) if watch else None
        self._watch_lock = threading.Lock()

    def warm(self) -> float:
        """Start one environment ahead of the first request; returns its init time in ms."""
        self._check_code()
        process = self._acquire()
        try:
            return process.init_ms or 0.0
        finally:
            self._release(process, healthy=True)

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        """Invoke the function synchronously, logging START/END/REPORT as Lambda does."""
        request_id = request_id or str(uuid.uuid4())
        label = f"[{self.spec.logical_id}]"
        self._check_code()
        console(f"{label} START RequestId: {request_id} Version: $LATEST")
        started = time.perf_counter()
        init_ms: float | None = None
        memory: int | None = None
        try:
            process = self._acquire()
        except InitFailed as failure:
            result: dict[str, Any] = {"error": {**failure.error, "requestId": request_id}}
        else:
            init_ms, process.init_ms = process.init_ms, None
            started = time.perf_counter()  # the init phase is reported apart, as on Lambda
            result, memory = process.invoke(event, request_id)
            self._release(process, healthy=process.alive)
            if "error" in result and process in self._cut_short:
                # Ended by the runtime's stop at its deadline, not by the function: said as such
                # (the gateway answers 503, as for an invocation that could not start). A
                # function's own error during the stop stays its own (500).
                result = {"error": _stopped_error(request_id)}
        duration = (time.perf_counter() - started) * 1000
        report = (
            f"{label} REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.spec.memory_mb} MB\t"
            f"Max Memory Used: {memory if memory is not None else '-'} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        console(f"{label} END RequestId: {request_id}")
        console(report)
        return Invocation(request_id, result.get("ok"), result.get("error"), duration)

    def close(self, grace_seconds: float = 2.0) -> None:
        """Stop every environment: an idle one at once, a busy one once its invocation has
        ended and been answered, or killed when it has not within `grace_seconds` (that
        invocation ends with a Runtime.Stopped error). Closing a busy environment's channel
        under its invocation lost the answer of an invocation that did finish (a rating kept
        in the outbox was answered 500)."""
        deadline = time.monotonic() + grace_seconds
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            for process in idle:
                self._forget(process)
            self._condition.notify_all()
        threads = [threading.Thread(target=process.stop, args=(grace_seconds,)) for process in idle]
        for thread in threads:
            thread.start()
        with self._condition:  # a busy one is killed by `_release` once answered
            self._condition.wait_for(
                lambda: not self._all, timeout=max(0.0, deadline - time.monotonic())
            )
            busy = list(self._all)
            self._cut_short.update(busy)
        for process in busy:
            process.kill()
        for thread in threads:
            thread.join()

    def kill(self) -> None:
        """Kill every environment at once (the runtime is about to end: a second Ctrl-C),
        waiting for none of them to go (the runtime's own exit is not to wait on a dying
        process's teardown). An invocation running ends with
        a Runtime.Stopped error, as one `close` ends at its deadline: the runtime ended it, not
        the function (it was answered 500)."""
        with self._condition:
            self._closed = True
            processes = list(self._all)
            self._cut_short.update(processes)
        for process in processes:
            process.send_kill()

    def retire(self, reason: str | None = None) -> None:
        """Start the next invocations in new environments: the idle ones stop now, the ones
        running an invocation once it ends (it is not cut short). The reason is printed."""
        with self._condition:
            self._generation += 1
            stale, self._idle = self._idle, []
            for process in stale:
                self._forget(process)
            self._condition.notify_all()
        for process in stale:
            _stop_in_background(process)
        if reason:
            console(f"[{self.spec.logical_id}] {reason}")

    def wait_retired(self, within: float) -> bool:
        """Wait (at most `within` seconds) until no environment retired before now still runs
        an invocation; True once none does."""
        with self._condition:
            generation = self._generation
            return self._condition.wait_for(
                lambda: self._closed or not self._running_before(generation), timeout=within
            )

    def kill_retired(self) -> int:
        """Kill the environments retired before now that still run an invocation (it ends with
        an error, as a crash's); answers how many."""
        with self._condition:
            stale = self._running_before(self._generation)
        for process in stale:
            process.kill()
        return len(stale)

    def _running_before(self, generation: int) -> list[FunctionProcess]:
        # Caller holds the condition. The environments of generations before `generation` (idle
        # ones are stopped when retired: these run an invocation, or are starting).
        return [process for process in self._all if process.generation < generation]

    def _check_code(self) -> None:
        """Retire the environments when the watched code changed since the last look."""
        if self._watcher is None:
            return
        with self._watch_lock:
            changed = self._watcher.changes()
        if not changed:
            return
        names = ", ".join(_short(path) for path in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        self.retire(f"reloading: {names}{more} changed")

    def _acquire(self) -> FunctionProcess:
        with self._condition:
            while True:
                if self._closed:
                    raise InitFailed({"errorType": STOPPED_ERROR, "errorMessage": "stopping"})
                while self._idle:
                    process = self._idle.pop()
                    if process.alive:
                        return process
                    self._forget(process)
                if self._count < self._max_workers:
                    self._count += 1
                    generation = self._generation
                    break
                self._condition.wait()
        process = FunctionProcess(self.spec, self._environment, generation)
        try:
            process.start()
        except BaseException:
            with self._condition:
                self._count -= 1
                self._condition.notify()
            raise
        with self._condition:
            self._all.add(process)
            if self._closed:  # closed while starting: do not leak the process
                self._forget(process)
                process.kill()
                raise InitFailed({"errorType": STOPPED_ERROR, "errorMessage": "stopping"})
        return process

    def _release(self, process: FunctionProcess, healthy: bool) -> None:
        with self._condition:
            if healthy and not self._closed and process.generation == self._generation:
                self._idle.append(process)
            elif healthy and not self._closed:  # retired while it ran (code changed, ...)
                self._forget(process)
                _stop_in_background(process)
            else:
                self._forget(process)
                process.kill()
            self._condition.notify_all()  # a waiter for an environment, or for retired ones

    def _forget(self, process: FunctionProcess) -> None:
        # Caller holds the condition.
        if process in self._all:
            self._all.discard(process)
            self._count -= 1
