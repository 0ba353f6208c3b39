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

import redis

from sam_emulator.serving import free_port
from talkrate_local import lifetime


def own_redis_server(within: float = 10.0) -> str:
    """Start a Redis server for this process on a free loopback port; its URL (no database)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("a second test worker needs redis-server on PATH for a Redis of its own")
    folder = tempfile.mkdtemp(prefix="talkrate-worker-redis-")
    for _ in range(3):  # another process may take the free port before the server binds it
        port = free_port()
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
    raise RuntimeError("no Redis server of the worker's own came up on a free loopback port")


def _stop(process: subprocess.Popen[bytes], folder: str) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)
