"""Whether redis-py reads a Redis URL as it was written, and what is said of one it does not.

What is said names the setting (RATINGS_CONNECTION) and never its value, nor urllib's or
redis-py's error about it, which quote its pieces: an unencoded `#` in a password made every
rating a 500 logging "Port could not be cast to integer value as 'hunter2'", the password up to
the `#`. Only the standard library: scripts/tunnel_env.py reads the stack's URL with it too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = ("redis", "rediss", "unix")
_DATABASE_PATH = re.compile(r"/?\d*")
NO_SCHEME = (
    "RATINGS_CONNECTION is not a Redis URL: it must begin with redis://, rediss:// or "
    "unix:// (an endpoint shown as host:6379 is redis://host:6379/0)"
)
UNENCODED = (
    "RATINGS_CONNECTION is not a valid Redis URL: its host or port cannot be read (a #, /, ?, "
    "@, [ or ] in its password must be percent-encoded: %23, %2F, %3F, %40, %5B, %5D)"
)
UNREAD_OPTION = (
    "RATINGS_CONNECTION is not a valid Redis URL: its database number or one of its options "
    "(?name=value) is not one Redis takes"
)


NOT_A_DATABASE = (
    "RATINGS_CONNECTION is not a valid Redis URL: what follows its host and port is not a "
    "database number (redis://host:6379/0 names database 0)"
)


def misread(url: str) -> str | None:
    """What to say of a URL redis-py cannot read, or would read other than as written; None
    when it reads it as written (its options' values are redis-py's own to check).

    A password's unencoded `#`, `/` or `?` ends the host there, and what follows it (the rest of
    the password, then `@host:port/db`) lands in the fragment, the path or the query: redis-py
    then fails on the password's first characters as a port, or, when they are digits, connects
    to localhost at that port and names it in every error; of a unix:// URL it names the rest of
    the password as the socket's path. A lone `[` or `]` fails urllib's reading of the host.
    """
    if url.partition("://")[0] not in SCHEMES:  # as redis-py reads it: lower case
        return NO_SCHEME
    try:
        parts = urlsplit(url)
        _ = parts.port  # read as redis-py reads it: a number from 0 to 65535, or none
    except ValueError:  # a port that is no such number, a host urllib cannot read
        return UNENCODED
    if "#" in url or "@" in parts.path + parts.query:
        return UNENCODED
    # redis-py takes a path it cannot read as a number (`/abc`) for database 0, without a word:
    # a rebuild meant for another database would replace database 0's read model.
    if parts.scheme != "unix" and not _DATABASE_PATH.fullmatch(parts.path):
        return NOT_A_DATABASE
    return None
