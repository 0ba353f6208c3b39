"""A Redis server of a test's own that speaks only TLS, its certificate issued by an authority
of the test's own (openssl and the machine's redis-server): for the `rediss://` paths."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from sam_emulator.serving import free_port

# What a redis-server built without TLS says of the --tls-* options.
_WITHOUT_TLS = re.compile(
    r">>> 'tls-[^\n]*\n\s*Bad directive|not built with TLS|TLS (?:is )?not supported", re.IGNORECASE
)


def _openssl(*arguments: str, folder: Path) -> None:
    subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True, timeout=60)


def _authority(folder: Path, name: str) -> None:
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}"),
        folder=folder,
    )


@contextmanager
def tls_redis(
    folder: Path, name: str, alt_name: str, options: Sequence[str] = ()
) -> Iterator[tuple[int, Path, Path]]:
    """A redis-server on a free loopback port speaking only TLS (with `options` besides), its
    certificate for `name` (`alt_name`: DNS:… or IP:…) issued by the authority `ca` made in
    `folder`: its port, that authority's certificate and another authority's (`other-ca`). The
    test is skipped where openssl or a redis-server speaking TLS is missing."""
    if not (shutil.which("openssl") and shutil.which("redis-server")):
        pytest.skip("needs openssl and redis-server")
    _authority(folder, "ca")
    _authority(folder, "other-ca")
    (folder / "san.cnf").write_text(f"subjectAltName={alt_name}\n")
    _openssl(
        *("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr"),
        *("-subj", f"/CN={name}"),
        folder=folder,
    )
    _openssl(
        *("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-days", "2", "-out", "node.pem", "-extfile", "san.cnf"),
        folder=folder,
    )
    port = free_port()
    log = folder / "redis.log"
    with log.open("wb") as said_at_start:
        process = subprocess.Popen(
            [
                "redis-server",
                *("--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
                *("--tls-cert-file", str(folder / "node.pem")),
                *("--tls-key-file", str(folder / "node.key")),
                *("--tls-ca-cert-file", str(folder / "ca.pem")),
                *("--tls-auth-clients", "no", "--save", "", "--appendonly", "no"),
                *("--dir", str(folder), *options),
            ],
            stdout=said_at_start,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    said = log.read_text(errors="replace")
                    # Skipped only for a server built without TLS (its own words); any other
                    # failure to start is one (it was skipped as "does not speak TLS" whatever
                    # the cause, and the TLS tests passed as skips)
                    if _WITHOUT_TLS.search(said):
                        pytest.skip("this redis-server was built without TLS")
                    pytest.fail(f"the TLS redis-server did not start: {said[-2000:]}")
                time.sleep(0.05)
        yield port, folder / "ca.pem", folder / "other-ca.pem"
    finally:
        process.terminate()
        process.wait(timeout=10)
