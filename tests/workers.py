"""What a second pytest-xdist worker needs of its own: a Redis server.

The suite uses all sixteen numbered databases of one Redis server (tests/backends.py), so a
worker running beside the first one starts a server of its own on a free loopback port. It keeps
nothing on disk and stops with the worker: at its exit, or with it if the worker is killed.
"""

from __future__ import annotations

import atexit
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis

from sam_emulator.serving import free_port
from talkrate_local import lifetime


def own_redis_server(within: float = 10.0) -> str:
    """Start a Redis server for this process on a free loopback port; its URL (no database)."""
    for _ in range(3):  # another process may take the free port before the server binds it
        url = _redis_server_on(free_port(), within)
        if url is not None:
            return url
    raise RuntimeError("no Redis server of the worker's own came up on a free loopback port")


def _redis_server_on(port: int, within: float) -> str | None:
    """A Redis server of this process's on `port`, empty; its URL, or None when it did not come
    up (the port taken)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("a second test worker needs redis-server on PATH for a Redis of its own")
    folder = tempfile.mkdtemp(prefix="talkrate-worker-redis-")
    process = lifetime.popen(
        [
            executable,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", folder),
        ],
        signal.SIGTERM,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with redis.Redis.from_url(url, socket_timeout=1) as client:
                client.ping()
        except redis.ConnectionError:
            time.sleep(0.05)
            continue
        atexit.register(_stop, process, folder)
        return url
    process.kill()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)
    return None


@contextmanager
def redis_server_stopped(url: str, within: float = 10.0) -> Iterator[None]:
    """The Redis server at `url` (one this process started: see own_redis_server) stopped
    meanwhile, then started again, empty, on its port: a Redis that went down, as its clients
    see it."""
    port = int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    # (it closes the connection as it stops)
    with redis.Redis.from_url(url, socket_timeout=2) as client, suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    try:
        yield
    finally:
        if _redis_server_on(port, within) is None:
            raise RuntimeError(f"the Redis server on port {port} did not come up again")


def _stop(process: subprocess.Popen[bytes], folder: str) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)
