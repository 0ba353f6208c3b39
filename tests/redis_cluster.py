"""A Redis Cluster of three primaries and three replicas on loopback, from the machine's redis-server.

The suite starts one per session (tests/conftest.py, `redis_cluster`); by hand,
`python -m tests.redis_cluster` starts one and prints its URL until Ctrl-C, for
`RATINGS_CONNECTION=redis://127.0.0.1:PORT?cluster=true make run`.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from talkrate_local import lifetime

NODE_TIMEOUT_MS = 1000  # how long a silent primary takes to be failed over (the default is 15 s)


def free_node_port(chosen: Iterable[int] = ()) -> int:
    """A free loopback port whose cluster bus port (10,000 above) is free too, neither of them
    one of the `chosen` nodes' ports or bus ports (not listening yet: the probe cannot see
    them)."""
    held = {taken + bus for taken in chosen for bus in (0, 10000)}
    while True:
        port = random.randint(20000, 45000)
        if {port, port + 10000} & held:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port


class NodeExited(Exception):
    """A node's redis-server ended before it answered."""


class LocalRedisCluster:
    """Six redis-server processes joined into a cluster with `redis-cli --cluster create`."""

    def __init__(self, folder: Path | None = None) -> None:
        self._own_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix="redis-cluster-"))
        self.ports: list[int] = []
        for _ in range(6):
            self.ports.append(free_node_port(self.ports))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The read model's URL for this cluster (any node; the client discovers the others)."""
        return f"redis://127.0.0.1:{self.ports[0]}?cluster=true"

    def start(self) -> LocalRedisCluster:
        """Start the six nodes, create the cluster and wait until every slot is served."""
        try:
            self._start()
        except BaseException:
            self.stop()  # no node outlives a start that failed
            raise
        return self

    def _start(self) -> None:
        for port in self.ports:
            self._start_node(port)
        for i, port in enumerate(list(self.ports)):
            self.ports[i] = self._node_up(port)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_until_healthy(replicated=True)

    def _start_node(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        # A test run killed from outside stops its nodes too (they keep nothing worth saving).
        self.processes[port] = lifetime.popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(folder / "nodes.conf"),
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
                "--repl-diskless-sync-delay",
                "0",  # a replica syncs at once (the default waits 5 s for others to join)
                "--repl-ping-replica-period",
                "1",  # the cluster lists a replica once its offset moved (default: after 10 s)
            ],
            signal.SIGKILL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _node_up(self, port: int, tries: int = 3) -> int:
        """The port of a node that answers: one that exited as it started (its port taken
        between the probe and its bind) is started again on another port, `tries` times."""
        for _ in range(tries - 1):
            process = self.processes[port]
            try:
                self._wait_for_node(port, process=process)
                return port
            except NodeExited as exited:
                print(f"\n  redis cluster: {exited}; starting it on another port", file=sys.stderr)
                del self.processes[port]
                port = free_node_port([*self.ports, *self.processes])
                self._start_node(port)
        self._wait_for_node(port, process=self.processes[port])
        return port

    def _wait_for_node(
        self, port: int, within: float = 30, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if process is not None and process.poll() is not None:
                    log = self.folder / str(port) / "redis.log"
                    said = log.read_text(errors="replace")[-500:] if log.exists() else ""
                    raise NodeExited(
                        f"the node on port {port} exited ({process.returncode}): {said}"
                    ) from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def live_ports(self) -> list[int]:
        """The ports of the nodes still running."""
        return [port for port, process in self.processes.items() if process.poll() is None]

    def wait_until_healthy(self, within: float = 30, replicated: bool = False) -> None:
        """Until every live node sees the cluster ok, each slot served by a live primary.

        `replicated`: and every primary has a live replica in sync (so it can be failed over).
        """
        deadline = time.monotonic() + within
        while not self._healthy(replicated):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Redis Cluster on {self.ports} did not become healthy")
            time.sleep(0.1)

    def _healthy(self, replicated: bool) -> bool:
        live = set(self.live_ports())
        for port in live:
            try:
                node = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
                info = node.cluster("info")
                ranges = node.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
                role = node.info("replication")
            except redis.RedisError:
                return False
            if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
                return False
            # each range: start, end, the primary (host, port, id), then its live replicas
            if any(int(served[2][1]) not in live for served in ranges):
                return False
            if replicated and any(len(served) < 4 for served in ranges):
                return False
            if replicated and role["role"] == "slave" and role["master_link_status"] != "up":
                return False
        return True

    def primaries(self) -> list[int]:
        """The ports of the live primaries."""
        return [
            port
            for port in self.live_ports()
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).info("replication")[
                "role"
            ]
            == "master"
        ]

    def primary_of(self, key: str) -> int:
        """The port of the primary that serves the key's slot now."""
        client = RedisCluster(host="127.0.0.1", port=self.live_ports()[0])
        try:
            return int(client.get_node_from_key(key).port)  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def move_slot(
        self,
        slot: int,
        to_port: int,
        pause: float = 0.0,
        migrating: threading.Event | None = None,
    ) -> int:
        """Move one slot to the primary at `to_port`, key by key, as a cluster scaling out does
        (`CLUSTER SETSLOT ... MIGRATING/IMPORTING`, `MIGRATE`, then `SETSLOT ... NODE`).

        `pause` seconds pass in each step while the slot is half moved, so clients meet ASK,
        TRYAGAIN and then MOVED; `migrating` is set once the slot is marked so. Returns the
        number of keys moved.
        """
        ranges = self._node(self.live_ports()[0]).execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
        [owner] = [int(r[2][1]) for r in ranges if int(r[0]) <= slot <= int(r[1])]
        if owner == to_port:
            return 0
        source, target = self._node(owner), self._node(to_port)
        source_id, target_id = (node.execute_command("CLUSTER MYID") for node in (source, target))  # type: ignore[no-untyped-call]
        target.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)  # type: ignore[no-untyped-call]
        source.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)  # type: ignore[no-untyped-call]
        if migrating is not None:
            migrating.set()
        moved = 0
        while True:
            time.sleep(pause)
            keys = source.execute_command("CLUSTER GETKEYSINSLOT", slot, 1)  # type: ignore[no-untyped-call]
            if not keys:
                break
            source.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)  # type: ignore[no-untyped-call]
            moved += len(keys)
        # The new owner first, then the old one (which then answers MOVED), then the others
        others = [port for port in self.primaries() if port not in (owner, to_port)]
        for node in (target, source, *(self._node(port) for port in others)):
            node.execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)  # type: ignore[no-untyped-call]
        return moved

    @staticmethod
    def _node(port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, decode_responses=True)

    def kill(self, port: int) -> None:
        """SIGKILL one node (no shutdown, no last write to its replica); a primary's replica is
        promoted once the others see it fail (about NODE_TIMEOUT_MS): `wait_until_healthy`."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    @contextlib.contextmanager
    def frozen(self, ports: list[int] | None = None) -> Iterator[None]:
        """The nodes at `ports` (all of them by default) stopped (SIGSTOP) inside the block:
        their kernel still accepts connections, and nothing answers. Let go (SIGCONT) however
        the block ends, so no node is left stopped."""
        stopped = []
        try:
            for port in self.live_ports() if ports is None else ports:
                self.processes[port].send_signal(signal.SIGSTOP)
                stopped.append(port)
            yield
        finally:
            for port in stopped:
                self.processes[port].send_signal(signal.SIGCONT)

    @contextlib.contextmanager
    def silenced(self, port: int) -> Iterator[None]:
        """A killed node's address answering nothing at all inside the block, as a host gone
        from the network (no RST): a socket listens on its port and never accepts, its queue
        held full, so the kernel drops a connect's SYN and the connect waits out its timeout."""
        assert self.processes[port].poll() is not None, "the node must be killed first"
        listening = socket.socket()
        held: list[socket.socket] = []
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind(("127.0.0.1", port))
            listening.listen(0)
            for _ in range(2):  # (a backlog of 0 still queues one)
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                held.append(filler)
            deadline = time.monotonic() + 5
            while True:  # until the queue is full: a connect no longer completes
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
                except TimeoutError:
                    break
                assert time.monotonic() < deadline, f"port {port} still answers connects"
            yield
        finally:
            for held_socket in (*held, listening):
                held_socket.close()

    def replica_of(self, primary: int) -> int:
        """The port of the primary's replica."""
        return int(self._node(primary).info("replication")["slave0"]["port"])

    def start_again(self, port: int) -> None:
        """Start a killed node again and return once it answers, the cluster not yet healthy:
        a primary started again before its replica took over comes back empty (nothing is
        saved) and, like every node until the cluster sees its slots served again, answers
        CLUSTERDOWN for a moment (Redis keeps a master that just started unwritable for 2 s)."""
        self._start_node(port)
        self._wait_for_node(port)

    def restart(self, port: int) -> None:
        """Start a killed node again; it rejoins the cluster (as a replica once failed over)."""
        self._start_node(port)
        self._wait_for_node(port)
        self.wait_until_healthy(replicated=True)

    def flush(self, port: int) -> None:
        """Empty one primary (its replica follows): a shard that lost its data."""
        self._node(port).flushall()

    def flushall(self) -> None:
        """Empty every primary (their replicas follow)."""
        for port in self.live_ports():
            node = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
            if node.info("replication")["role"] == "master":
                node.flushall()

    def stop(self) -> None:
        """Stop every node and remove their files."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalRedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run a cluster until interrupted (Ctrl-C or SIGTERM), printing its URL."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with LocalRedisCluster() as cluster:
        print(cluster.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
