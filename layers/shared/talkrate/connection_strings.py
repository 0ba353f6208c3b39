"""The credentials of a PostgreSQL connection string, and a message with them taken out.

libpq quotes what it could not read of a connection string (`invalid connection option "…"`,
`missing "=" after "…"`, a host or a port that a password's unencoded `@` or `/` made, a URL
query parameter it does not know) and the server quotes the user (who stays named, unless
their password holds the name: a user name is no secret, and an operator needs it). Which text
is a password is decided as libpq reads the string and, generously, as its writer may have
meant it: a password runs on over what libpq splits it at (a space in the keyword form, an `&`
in a URL's query) until a setting libpq knows begins that the string has not given already. A
password that holds `&host=x` (or ` host=x`, or a user) where none was given reads, to libpq as
to anyone, as that host (or user).

psycopg2 is imported when a keyword is checked only: on a failure, never at a cold start.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple
from urllib.parse import unquote

# What holds a secret (sslpassword: the client key's passphrase) and who connects.
_PASSWORDS = ("password", "sslpassword")
_USERS = ("user",)
_WORD = re.compile(r"\w")
MASK = "***"
# The longest role name PostgreSQL keeps, in bytes (NAMEDATALEN - 1): it cuts a longer one
_ROLE_BYTES = 63


class _Setting(NamedTuple):
    """One `keyword=value` of the keyword form as libpq reads it (a word without its `=`: no
    setting, which libpq refuses, held by the password before it)."""

    keyword: str
    start: int  # where its keyword begins
    value_start: int
    end: int
    value: str  # its quotes and backslashes undone
    is_setting: bool


class Credentials(NamedTuple):
    """The text of a connection string that may be a password (each in the forms libpq may
    quote it: as written, unquoted, percent-decoded) and the users it names."""

    passwords: tuple[str, ...]
    users: tuple[str, ...]


@functools.lru_cache(maxsize=256)
def _is_setting(keyword: str) -> bool:
    """Whether libpq knows `keyword` (its own parser says; "ssl" is the URL form's alias)."""
    if keyword == "ssl":
        return True
    if not re.fullmatch(r"[a-z_]{1,64}", keyword):
        return False
    from psycopg2.extensions import parse_dsn

    try:
        parse_dsn(f"{keyword}=x")
    except Exception:  # psycopg2's ProgrammingError: 'invalid connection option'
        return False
    return True


def _keyword_settings(dsn: str) -> list[_Setting]:
    """The keyword form read as libpq reads it (fe-connect.c conninfo_parse), carrying on past
    where libpq gives up, so that every word is accounted for."""
    settings: list[_Setting] = []
    at, size = 0, len(dsn)
    while True:
        while at < size and dsn[at].isspace():
            at += 1
        if at >= size:
            return settings
        start = at
        while at < size and not dsn[at].isspace() and dsn[at] != "=":
            at += 1
        keyword = dsn[start:at]
        after = at
        while after < size and dsn[after].isspace():
            after += 1
        if after >= size or dsn[after] != "=":  # libpq: missing "=" after "<keyword>"
            settings.append(_Setting(keyword, start, start, at, keyword, False))
            continue
        at = after + 1
        while at < size and dsn[at].isspace():
            at += 1
        value_start, value = at, []
        quoted = at < size and dsn[at] == "'"
        at += quoted
        while at < size:
            char = dsn[at]
            if char == "\\" and at + 1 < size:
                value.append(dsn[at + 1])
                at += 2
                continue
            at += 1
            if quoted and char == "'":
                break
            if not quoted and char.isspace():
                at -= 1
                break
            value.append(char)
        settings.append(
            _Setting(keyword, start, value_start, at, "".join(value), _is_setting(keyword))
        )


def _keyword_credentials(dsn: str) -> Credentials:
    settings = _keyword_settings(dsn)
    passwords: list[str] = []
    users: list[str] = []
    given: set[str] = set()
    for index, setting in enumerate(settings):
        if not setting.is_setting:
            continue
        if setting.keyword in _PASSWORDS + _USERS:
            held = [setting]
            for later in settings[index + 1 :]:
                if later.is_setting and later.keyword not in given | {setting.keyword}:
                    break
                held.append(later)
            written = dsn[setting.value_start : held[-1].end].rstrip()
            found = passwords if setting.keyword in _PASSWORDS else users
            found += [written, setting.value, *(later.keyword for later in held[1:])]
            found += [later.value for later in held[1:]]
        given.add(setting.keyword)
    return Credentials(tuple(passwords), tuple(users))


def _url_credentials(dsn: str) -> Credentials:
    """A URL's credentials (postgresql://user:password@host:port/db?password=...), read as libpq
    reads it (conninfo_uri_parse_options) and as its writer may have meant it."""
    rest = dsn.split("://", 1)[1]
    passwords: list[str] = []
    users: list[str] = []
    given: set[str] = set()
    # The user information ends at the last "@" (libpq ends it at the first, and a password's
    # "@" or "/" then makes a host or a port of the rest), unless that "@" is in a credential
    # of the query.
    in_query = re.search(r"[?&](?:user|password|sslpassword)=", rest)
    at = rest.rfind("@", 0, in_query.start() if in_query else len(rest))
    if at >= 0:
        user, colon, password = rest[:at].partition(":")
        users.append(user)
        given.add("user")
        if colon:
            passwords.append(password)
            given.add("password")
    address, _, query = rest[at + 1 :].partition("?")
    netloc, slash, database = address.partition("/")
    if netloc:
        given.add("host")
        if ":" in netloc.rsplit("]", 1)[-1]:
            given.add("port")
    if slash and database:
        given.add("dbname")
    pieces = query.split("&") if query else []
    for index, piece in enumerate(pieces):
        keyword, equals, value = piece.partition("=")
        keyword = unquote(keyword)
        if not (equals and _is_setting(keyword)):
            continue
        if keyword in _PASSWORDS + _USERS:
            held = [value]
            for later in pieces[index + 1 :]:
                name, has_value, _ = later.partition("=")
                if has_value and _is_setting(unquote(name)) and unquote(name) not in given:
                    break
                held.append(later)
            found = passwords if keyword in _PASSWORDS else users
            found.append("&".join(held))
        given.add(keyword)
    return Credentials(
        tuple(passwords + [unquote(p) for p in passwords]),
        tuple(users + [unquote(u) for u in users]),
    )


def _of_neither_form(dsn: str) -> bool:
    """Whether `dsn` is neither a URL (no "://") nor keyword settings (its first word is no
    `keyword=`): `postgresql//u:pw@db/x`, `u:pw@db/x`, `u/pw@db/x`. libpq quotes it whole."""
    if "://" in dsn:
        return False
    settings = _keyword_settings(dsn)
    # A word without its "=" begins its value where it begins
    return not settings or settings[0].value_start == settings[0].start


def credentials(dsn: str) -> Credentials:
    """What of `dsn` may be a password, and the users it names: read both as a URL and as
    keywords when it could be either (libpq reads a URL of another scheme as keywords, and
    quotes it whole). A string of neither form is a password whole: which of it is the
    password is anyone's guess, and libpq quotes all of it."""
    found = _keyword_credentials(dsn)
    if "://" in dsn:
        url = _url_credentials(dsn)
        found = Credentials(found.passwords + url.passwords, found.users + url.users)
    elif _of_neither_form(dsn) and dsn.strip():
        found = Credentials((*found.passwords, dsn, dsn.strip()), found.users)
    return found


# What libpq says of a string it cannot read (psycopg2's "invalid dsn: ..."), told in words of
# our own: libpq quotes what it could not read, at times the whole string.
_UNREADABLE_BECAUSE = (
    ('missing "=" after', 'a word without "=" after it'),
    ("invalid connection option", "a keyword libpq does not know"),
    ("unterminated quoted string", "a quote not closed"),
    ("invalid URI query parameter", "a query parameter libpq does not know"),
    (
        "key/value separator",
        'a query parameter without one "=" (write a password\'s & or = as %26 or %3D)',
    ),
    (
        "percent-encoded",
        'a "%" not followed by two hexadecimal digits (write a password\'s % as %25)',
    ),
    ("IPv6 host address", "an IPv6 host whose brackets are not closed"),
    ("unexpected character", "a character libpq does not expect where it is"),
)
UNREADABLE = "The PostgreSQL connection string cannot be read"
EXPECTED_FORMS = (
    "write it as a URL, postgresql://user:password@host:5432/database (a password's @ / : ? # %"
    " percent-encoded), or as keyword=value settings, host=… port=5432 dbname=… user=…"
    " password=…"
)


def unreadable(dsn: str, said: str) -> str:
    """What to say of a connection string libpq could not read (`said`: libpq's message, which
    is not repeated: it quotes the string), naming the forms libpq reads and never a character
    of the string itself."""
    if _of_neither_form(dsn):
        because = (
            'its scheme is not followed by "://"'
            if re.match(r"\s*postgres(?:ql)?[:/]", dsn)
            else "it is neither a URL (postgresql://…) nor keyword=value settings"
        )
    else:
        because = next(
            (ours for libpq, ours in _UNREADABLE_BECAUSE if libpq in said),
            "libpq cannot read it",
        )
    return f"{UNREADABLE} ({because}): {EXPECTED_FORMS}"


def _pieces(text: str) -> set[str]:
    """`text` and each stretch of it between two characters libpq may split it at (every one
    that is not a letter or digit), two characters long or more."""
    edges = [index for index, char in enumerate(text) if not _WORD.match(char)]
    starts = [0, *(index + 1 for index in edges)]
    ends = [*edges, len(text)]
    return {text[s:e] for s in starts for e in ends if e - s >= 2}


def _guarded(piece: str) -> str:
    """`piece` as a pattern that does not match inside a longer word ("pa" of "separator")."""
    before = r"(?<!\w)" if _WORD.match(piece[0]) else ""
    after = r"(?!\w)" if _WORD.match(piece[-1]) else ""
    return f"{before}{re.escape(piece)}{after}"


def redacted(message: str, dsn: str) -> str:
    """`message` with every piece of `dsn`'s passwords replaced by "***" where it quotes the
    connection string (the rest is libpq's and the server's own words: a password
    "first-password" leaves "password authentication failed" whole). The host, port, database
    and user stay: an operator must see which server refused whom; a user its password holds
    is replaced too."""
    pattern, anywhere = _pattern(dsn)
    if pattern is None:
        return message
    if anywhere:
        return pattern.sub(MASK, message)
    return _QUOTED.sub(lambda quoted: pattern.sub(MASK, quoted.group()), message)


def from_a_password(value: str, dsn: str) -> bool:
    """Whether `value`, a host, port or database libpq read from `dsn`, is a piece of its
    password (`&host=x` split off a password, rather than a host that a password happens to
    spell too)."""
    return value in _secret_pieces(dsn)


@functools.lru_cache(maxsize=8)  # a database that stays down fails every call the same way
def _secret_pieces(dsn: str) -> frozenset[str]:
    """The pieces of the passwords, but for those the string holds outside them as well (its
    host, port or database, which a password may spell too: they are shown anyway)."""
    found = credentials(dsn)
    outside = dsn
    for password in sorted(found.passwords, key=len, reverse=True):
        if password:
            outside = outside.replace(password, " ")
    pieces = set().union(*(_pieces(password) for password in found.passwords))
    return frozenset(piece for piece in pieces if not re.search(_guarded(piece), outside))


# Where libpq and the server quote what they read of a connection string: in double quotes (a
# host, an option's value, a user, a database), and the address and port of "connection to
# server at "host" (address), port 5432 failed".
_QUOTED = re.compile(r'"[^"\n]*"|\([^)\n]*\)|(?<=port )[^\s,]+')


@functools.lru_cache(maxsize=8)
def _pattern(dsn: str) -> tuple[re.Pattern[str] | None, bool]:
    """The pieces to replace, and whether anywhere in a message (a password holding a `"`
    makes where libpq's quotes begin and end unknowable)."""
    found = credentials(dsn)
    pieces = _secret_pieces(dsn)
    patterns = [_guarded(piece) for piece in sorted(pieces, key=len, reverse=True)]
    # Where the server names the user (`role "app" does not exist`, `password authentication
    # failed for user "app"`) it stays: no secret, and what an operator must compare with the
    # configured one. But for a user its password holds (`postgres` of `postgres-2929`): saying
    # it would say that much of the password.
    held = {
        user
        for user in {user for user in found.users if len(user) > 1}
        if any(user in password for password in found.passwords)
    }
    # The server names a role by its first NAMEDATALEN - 1 bytes (63): a longer user is named so
    held |= {user.encode()[:_ROLE_BYTES].decode(errors="ignore") for user in held}
    patterns += [f'(?<="){re.escape(user)}(?=")' for user in sorted(held, key=len, reverse=True)]
    anywhere = any('"' in password for password in found.passwords)
    return (re.compile("|".join(patterns)) if patterns else None), anywhere
