"""What a database error says once a connection string's credentials are taken out of it."""

from __future__ import annotations

import pytest

from talkrate.connection_strings import redacted

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("dsn", "message", "said"),
    [
        (
            "postgresql://127.0.0.1:5433/t?user=app&password=pa&ss",
            'invalid dsn: missing key/value separator "=" in URI query parameter: "ss"',
            'invalid dsn: missing key/value separator "=" in URI query parameter: "***"',
        ),
        (
            "host=127.0.0.1 port=5433 password=pa ss dbname=t",
            'invalid dsn: missing "=" after "ss" in connection info string',
            'invalid dsn: missing "=" after "***" in connection info string',
        ),
        (
            "postgresql://app:pa@ss@db.internal:5433/t",
            'could not translate host name "ss@db.internal" to address: Name or service not known',
            'could not translate host name "***@db.internal" to address: Name or service not known',
        ),
        (
            "host=db.internal port=5433 user=app password='x' dbname=t",
            'connection to server at "db.internal" (10.0.0.7), port 5433 failed: FATAL:  '
            'password authentication failed for user "app"',
            'connection to server at "db.internal" (10.0.0.7), port 5433 failed: FATAL:  '
            'password authentication failed for user "app"',
        ),
    ],
)
def test_the_password_s_pieces_go_and_the_rest_of_the_message_stays(
    dsn: str, message: str, said: str
) -> None:
    # A short piece ("pa", "ss") goes where it stands alone, not inside "separator" or
    # "parameter"; the host and port stay
    assert redacted(message, dsn) == said


def test_the_user_the_server_refuses_is_named() -> None:
    # Given a user named as the start of the host (postgres at postgres.internal), which the
    # server does not know
    dsn = "postgresql://postgres:pw-secret@postgres.internal:5432/talkrate"
    message = 'connection to server at "postgres.internal" (10.0.0.7), port 5432 failed: FATAL:  role "postgres" does not exist'
    # Then the host and the user are whole: an operator compares the user with the configured
    # one (a user is no secret; it read 'role "***" does not exist')
    assert redacted(message, dsn) == message


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres:postgres@127.0.0.1:5432/talkrate",
        "postgresql://postgres:postgres2929@127.0.0.1:5432/talkrate",
        "host=127.0.0.1 user=postgres password='my postgres' dbname=talkrate",
        "postgresql://127.0.0.1:5432/talkrate?user=postgres&password=x-postgres-y",
    ],
)
def test_a_user_its_password_holds_is_not_named(dsn: str) -> None:
    # Given a password holding the user's name (or being it)
    message = (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
        'password authentication failed for user "postgres"'
    )
    # Then the user is masked where the server names it: naming it would say that much of the
    # password
    assert redacted(message, dsn) == message.replace('"postgres"', '"***"')


@pytest.mark.parametrize(
    "user",
    [
        "conference_ratings_service_account_for_the_eu_region_production_x",
        # Cut after a whole character: the 32nd "é" ends at byte 64
        "a" + "é" * 31 + "x",
    ],
)
def test_a_long_user_its_password_holds_is_not_named_by_the_bytes_the_server_keeps(
    user: str,
) -> None:
    # Given a user over the 63 bytes PostgreSQL keeps of a role's name, which its password holds
    dsn = f"postgresql://{user}:{user}-Qx7zK9@127.0.0.1:5432/talkrate"
    kept = user.encode()[:63].decode(errors="ignore")
    message = f'connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "{kept}" does not exist'
    # Then the user is masked as the server names it: it is the password's start
    assert redacted(message, dsn) == message.replace(f'"{kept}"', '"***"')


def test_the_server_s_own_words_stay_whole_when_the_password_holds_them() -> None:
    # Given a password holding a word of the server's message (the login refused is told apart
    # by those words: talkrate.adapters.postgres reads a rotated password again on them)
    dsn = "postgresql://app:first-password@127.0.0.1:5433/talkrate"
    message = (
        'connection to server at "127.0.0.1", port 5433 failed: FATAL:  '
        'password authentication failed for user "app"'
    )
    # Then the message stays whole: its words are the server's, and the user no secret
    assert redacted(message, dsn) == message


def test_a_quoted_user_with_an_escaped_quote_is_named_as_the_server_names_it() -> None:
    # Given a keyword-form user written with an escaped quote (libpq reads o'brien)
    dsn = r"host=127.0.0.1 port=5432 user='o\'brien' password='pa ss' dbname=t"
    message = 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "o\'brien" does not exist'
    # Then the user is named, and nothing of the message is taken for the password's ("pa")
    assert redacted(message, dsn) == message


def test_a_password_that_spells_the_host_too_leaves_the_host_whole() -> None:
    # Given a password holding the server's name and port among its pieces
    dsn = "postgresql://app:at-db.internal-5433@db.internal:5433/talkrate"
    message = (
        'connection to server at "db.internal" (10.0.0.7), port 5433 failed: FATAL:  '
        'database "talkrate" does not exist'
    )
    # Then the host and port, which the string names outside the password, are said whole
    assert redacted(message, dsn) == message


# Connection strings that are neither a URL (no "://") nor keyword=value settings: libpq quotes
# them whole ('missing "=" after "<the string>"'). The reviewer's four shapes.
UNREADABLE = [
    "postgresql//talkrate:S3cretPw@db.example:5432/talkrate",
    "talkrate:S3cretPw@db.example:5432/talkrate",
    "postgres:/u:S3cretPw@db/x",
    "u/S3cretPw@db:5432/x",
]


@pytest.mark.parametrize("dsn", UNREADABLE)
def test_a_string_libpq_quotes_whole_is_taken_out_whole(dsn: str) -> None:
    # Given what libpq says of a connection string it cannot read (its own words, as psycopg2
    # passes them on)
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import parse_dsn

    with pytest.raises(ProgrammingError) as raised:
        parse_dsn(dsn)
    message = str(raised.value).strip()
    assert dsn in message
    # When it is redacted
    said = redacted(message, dsn)
    # Then neither the password nor any other piece of the string is in it (it was whole: no
    # password was found in a string of neither form), and libpq's own words stay
    assert "S3cret" not in said
    assert "Pw" not in said
    assert said == 'invalid dsn: missing "=" after "***" in connection info string'


@pytest.mark.parametrize(
    ("dsn", "because"),
    [
        (UNREADABLE[0], 'its scheme is not followed by "://"'),
        (UNREADABLE[2], 'its scheme is not followed by "://"'),
        (UNREADABLE[1], "it is neither a URL (postgresql://…) nor keyword=value settings"),
        (UNREADABLE[3], "it is neither a URL (postgresql://…) nor keyword=value settings"),
        ("host=db passwrod=S3cretPw", "a keyword libpq does not know"),
        ("host=db password='S3cretPw", "a quote not closed"),
        ("host=db password=S3cret Pw dbname=t", 'a word without "=" after it'),
        ("postgresql://u:S3cret%zzPw@db/t", 'a "%" not followed by two hexadecimal digits'),
        ("postgresql://db/t?password=S3cret=Pw", 'a query parameter without one "="'),
        ("postgresql://[::1/t?password=S3cretPw", "an IPv6 host whose brackets are not closed"),
    ],
)
def test_a_string_libpq_cannot_read_is_refused_naming_the_forms_and_nothing_of_it(
    dsn: str, because: str
) -> None:
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import parse_dsn

    from talkrate.connection_strings import unreadable

    # Given what libpq says of it
    with pytest.raises(ProgrammingError) as raised:
        parse_dsn(dsn)
    # When it is said
    said = unreadable(dsn, str(raised.value))
    # Then why, and the two forms libpq reads, and no piece of the password nor libpq's quote
    assert f"({because}" in said, said
    assert "postgresql://user:password@host:5432/database" in said
    assert "host=… port=5432" in said
    assert "S3cret" not in said
    assert "Pw" not in said
