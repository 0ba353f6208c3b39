"""The environment `talkrate ops` needs to reach a stack's PostgreSQL and Redis in a VPC through
SSM Session Manager port forwarding (docs/operations.md, "Backends in a VPC").

    eval "$(aws secretsmanager get-secret-value --secret-id <ConnectionsSecretArn> \\
        --query SecretString --output text | python scripts/tunnel_env.py --bastion <instance>)"

Reads the stack's connections secret (its JSON) on stdin. Prints, for `eval`, shell lines that
unset CONNECTIONS_SECRET_ARN (which would win over the variables) and export TALKS_CONNECTION
and RATINGS_CONNECTION pointing at the local ends of the forwards: the database's own host name
kept (libpq connects to `hostaddr`, checks the server's certificate against `host`), Redis at
127.0.0.1 (redis-py checks a certificate against the name it connected to, so `rediss://` keeps
the chain checked and leaves the name unchecked). On stderr, the two `aws ssm start-session`
commands that open those forwards. Nothing is written to a file; the values exist in the shell
that evals them. Run it with the checkout's Python (.venv/bin/python: libpq reads the DSN).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOCAL = "127.0.0.1"
POSTGRES_PORT = 15432
REDIS_PORT = 16379
FORWARD = "AWS-StartPortForwardingSessionToRemoteHost"


class NotForwardable(ValueError):
    """A connection string a single forwarded port cannot serve (the message says why)."""


def postgres_through(dsn: str, port: int) -> tuple[str, str, int]:
    """The DSN connecting to 127.0.0.1:`port` under its own host name, with that host and port
    (read by libpq itself: the URL and the keyword forms alike)."""
    from psycopg2 import Error
    from psycopg2.extensions import make_dsn, parse_dsn

    try:
        named = parse_dsn(dsn)
    except Error:
        # (libpq's message may quote the string, password included)
        raise NotForwardable("TALKS_CONNECTION is not a connection string libpq reads") from None
    host, remote = named.get("host", ""), named.get("port") or "5432"
    if not host or "," in host or "," in remote or host.startswith("/"):
        raise NotForwardable(
            "TALKS_CONNECTION names no single host to forward to (several hosts, a socket or none)"
        )
    return make_dsn(dsn, hostaddr=LOCAL, port=str(port)), host, int(remote)


def redis_through(url: str, port: int) -> tuple[str, str, int]:
    """The Redis URL connecting to 127.0.0.1:`port`, with the host and port it named."""
    from talkrate.redis_urls import misread

    # A password's unencoded `#` (say) would make the host and port the password's first
    # characters, said in the forwards: refused as talkrate does, saying what, never the URL.
    if url.startswith(("redis://", "rediss://")) and (problem := misread(url)):
        raise NotForwardable(problem)
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise NotForwardable("RATINGS_CONNECTION is not a redis:// or rediss:// URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if dict(query).get("cluster", "").lower() in ("true", "1", "yes"):
        raise NotForwardable(
            "RATINGS_CONNECTION is a Redis Cluster (?cluster=true): its nodes tell the client "
            "their own addresses, which a forwarded port does not reach; use the tunnel to the "
            "VPC instead (docs/operations.md)"
        )
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host, remote = _host_port(hostport, 6379)
    if parts.scheme == "rediss" and "ssl_check_hostname" not in dict(query):
        query.append(("ssl_check_hostname", "false"))
    netloc = f"{userinfo}@{LOCAL}:{port}" if userinfo else f"{LOCAL}:{port}"
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query))), host, remote


def _host_port(hostport: str, default: int) -> tuple[str, int]:
    if hostport.startswith("["):  # an IPv6 address
        host, _, rest = hostport[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default
    host, _, port = hostport.partition(":")
    return host, int(port) if port else default


def environment(secret: Mapping[str, str], postgres_port: int, redis_port: int) -> list[str]:
    """The shell lines to eval, and the forwards they need as (host, remote port, local port)."""
    talks, db_host, db_port = postgres_through(secret["TALKS_CONNECTION"], postgres_port)
    ratings, cache_host, cache_port = redis_through(secret["RATINGS_CONNECTION"], redis_port)
    return [
        # The secret's ARN would replace the variables below with the VPC's addresses; a proxy
        # endpoint would replace the database's host.
        "unset CONNECTIONS_SECRET_ARN TALKS_PROXY_ENDPOINT",
        f"export TALKS_CONNECTION={shlex.quote(talks)}",
        f"export RATINGS_CONNECTION={shlex.quote(ratings)}",
        f"# forwards: {db_host}:{db_port} -> {LOCAL}:{postgres_port}, "
        f"{cache_host}:{cache_port} -> {LOCAL}:{redis_port}",
    ]


def sessions(
    secret: Mapping[str, str], bastion: str, postgres_port: int, redis_port: int
) -> list[str]:
    """The `aws ssm start-session` commands that open the two forwards (one terminal each)."""
    _, db_host, db_port = postgres_through(secret["TALKS_CONNECTION"], postgres_port)
    _, cache_host, cache_port = redis_through(secret["RATINGS_CONNECTION"], redis_port)
    commands = []
    for host, remote, local in (
        (db_host, db_port, postgres_port),
        (cache_host, cache_port, redis_port),
    ):
        parameters = json.dumps(
            {"host": [host], "portNumber": [str(remote)], "localPortNumber": [str(local)]}
        )
        commands.append(
            f"aws ssm start-session --target {shlex.quote(bastion)} --document-name {FORWARD} "
            f"--parameters {shlex.quote(parameters)}"
        )
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-port", type=int, default=POSTGRES_PORT)
    parser.add_argument("--redis-port", type=int, default=REDIS_PORT)
    parser.add_argument(
        "--bastion", help="the OpsBastionInstanceId output: say the sessions to open, on stderr"
    )
    args = parser.parse_args(argv)
    try:
        secret = json.loads(sys.stdin.read())
        lines = environment(secret, args.postgres_port, args.redis_port)
        if args.bastion:
            for command in sessions(secret, args.bastion, args.postgres_port, args.redis_port):
                print(command, file=sys.stderr)
    except (ValueError, KeyError, TypeError) as error:
        # Never the secret's text: only what is wrong with it.
        reason = error if isinstance(error, NotForwardable) else "not the connections secret's JSON"
        print(f"tunnel_env: {reason}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
