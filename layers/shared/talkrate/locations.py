"""Where a backend is, for GET / outside prod: built from the parsed host, port and database.

Nothing is cut out of the connection string: each function parses it (libpq's own parser for
PostgreSQL, urllib for URLs), keeps only the host, port and database, checks each against what
such a part may look like, and builds the location from those. Whatever does not parse, or
parses into something that does not look like a host, port or database (a password holding an
unencoded `/`, `?`, `#` or `[` can make a URL parse that way), or leaves an `@` after the host
(such a password starting with digits parses as a host and a port), or holds a piece of the
password (one with an unencoded `&` or a space that libpq split into a host or a database:
talkrate.connection_strings), or could (Kafka bootstrap servers with a `,` before an `@`: a
password holding the `,`), is shown as UNPARSEABLE. None of them raises.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

UNPARSEABLE = "(not shown: unparseable)"

_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
_SOCKET_DIR = re.compile(r"^/[A-Za-z0-9._/-]{0,200}$")
_DATABASE = re.compile(r"^[A-Za-z0-9_.$-]{1,63}$")
_REDIS_DB = re.compile(r"^/?(\d{1,5})?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,20}$")
# A Kafka bootstrap entry's scheme: a URL scheme, or a listener or protocol name (SASL_SSL)
_LISTENER = re.compile(r"^[A-Za-z][A-Za-z0-9_+.-]{0,48}$")


class _Unparseable(ValueError):
    pass


def _host(value: str | None) -> str:
    if value and _HOST.match(value):
        return value
    if value and ":" in value and _IPV6.match(value):
        return f"[{value}]"
    raise _Unparseable


def _port(value: str | int | None) -> str:
    if value is None or value == "":
        return ""
    number = int(value)  # ValueError when not a number
    if not 0 < number < 65536:
        raise _Unparseable
    return f":{number}"


def _split(url: str) -> tuple[SplitResult, str]:
    parts = urlsplit(url)
    if not _SCHEME.match(parts.scheme):
        raise _Unparseable
    return parts, _authority(parts)


def _authority(parts: SplitResult) -> str:
    """`host:port` of a parsed URL. An `@` after the host means a user's password held an
    unencoded `/`, `?` or `#`, where urllib ended the host: what it took for the host and port
    (`user:4242` of `user:4242#rest@host`) is the user and the password's first digits."""
    if "@" in parts.path + parts.query + parts.fragment:
        raise _Unparseable
    return f"{_host(parts.hostname)}{_port(parts.port)}"


def postgres_location(dsn: str) -> str:
    """`postgresql://host:port/database` of a libpq DSN (URL or key=value form)."""
    try:
        from psycopg2.extensions import parse_dsn

        from talkrate.connection_strings import from_a_password

        parsed = parse_dsn(dsn)
        hosts = (parsed.get("host") or "").split(",")
        ports = (parsed.get("port") or "").split(",")
        shown = []
        for index, host in enumerate(hosts):
            port = ports[index] if index < len(ports) else ports[-1]
            if _SOCKET_DIR.match(host):
                shown.append(host)
            else:
                shown.append(_host(host or "localhost") + _port(port))
        database = parsed.get("dbname") or ""
        if database and not _DATABASE.match(database):
            raise _Unparseable
        # A host, port or database that libpq split off a password (an unencoded "&" or space)
        if any(from_a_password(part, dsn) for part in [*hosts, *ports, database] if part):
            raise _Unparseable
        return f"postgresql://{','.join(shown)}/{database}"
    except Exception:  # psycopg2's ProgrammingError, ValueError, _Unparseable: never fail GET /
        return UNPARSEABLE


def redis_location(url: str) -> str:
    """`redis://host:port/db` (or rediss://) of a Redis URL."""
    try:
        parts, where = _split(url)
        database = _REDIS_DB.match(parts.path)
        if database is None:
            raise _Unparseable
        number = database.group(1)
        return f"{parts.scheme}://{where}" + (f"/{number}" if number else "")
    except Exception:
        return UNPARSEABLE


def kafka_location(bootstrap: str) -> str:
    """`host:port,host:port` of Kafka bootstrap servers, each entry's scheme kept as written
    (`kafka://b1:9092`, `SASL_SSL://b1:9096`: a scheme told apart from a host gone missing) and
    its user and password left out. UNPARSEABLE where any entry is, or may hold a piece of a
    password (a `,` before an `@`: see `_entries`)."""
    shown = [location for _, location in _entries(bootstrap)]
    return ",".join(shown) if shown and UNPARSEABLE not in shown else UNPARSEABLE


def kafka_located(message: str, bootstrap: str) -> str:
    """`message`, a Kafka client's, with each entry of `bootstrap` it quotes ("Unable to
    bootstrap from ['SASL_SSL://user:pw@b1:9096']") as `_entries` shows it."""
    written: dict[str, str] = {}
    for entry, shown in _entries(bootstrap):
        # As written, as a list's repr quotes it, and past its scheme (the client parses past
        # it, greedily, before it reads a host)
        for form in (entry, repr(entry)[1:-1], entry.rpartition("://")[2]):
            if form:
                written.setdefault(form, shown)
    if not written:
        return message
    # In one pass, the longest form first where two begin at one place, so that no form's
    # replacement is searched again (`kafka://b1:9092`, shown as itself, holds `b1:9092`, which
    # is shown as `kafka://b1:9092` where the client wrote it past the scheme)
    forms = re.compile("|".join(map(re.escape, sorted(written, key=len, reverse=True))))
    return forms.sub(lambda found: written[found[0]], message)


def _entries(bootstrap: str) -> list[tuple[str, str]]:
    """Each entry of Kafka bootstrap servers (a piece between commas, as every client takes
    them) and how it is shown: its scheme and `host:port`, or UNPARSEABLE.

    A user and password end at an `@`, and a password may hold a `,`: each `,` before the last
    `@` may be one, and the pieces on either side pieces of the password
    (`SASL_SSL://alice:2929,Qx7zK9@b1:9096` reads as host `alice`, port 2929, then `b1:9096`).
    Every entry of such servers is UNPARSEABLE; a `,` after the last `@` separates entries,
    whatever a password holds."""
    pieces = [entry for entry in (entry.strip() for entry in bootstrap.split(",")) if entry]
    credentials, at, _ = bootstrap.rpartition("@")
    if at and "," in credentials:
        return [(entry, UNPARSEABLE) for entry in pieces]
    return [(entry, _entry_location(entry)) for entry in pieces]


def _entry_location(entry: str) -> str:
    try:
        scheme, separator, authority = entry.rpartition("://")
        # A listener name (SASL_SSL) is not a URL scheme urllib accepts: parse past it. One
        # that is not a name (`user:pa://ss@b1`: a password holding "://") is not shown.
        if separator and not _LISTENER.match(scheme):
            raise _Unparseable
        shown = _authority(urlsplit(f"//{authority}"))
        return f"{scheme}://{shown}" if separator else shown
    except Exception:
        return UNPARSEABLE


def url_host(url: str | None) -> str | None:
    """`scheme://host:port/` of a URL (a function URL, say), or None when there is none."""
    if not url:
        return None
    try:
        parts, where = _split(url)
        return f"{parts.scheme}://{where}/"
    except Exception:
        return UNPARSEABLE
