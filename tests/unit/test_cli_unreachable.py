"""What the talkrate command says when the API cannot be reached, by what the connection met
(the socket's error under httpx's), not by the system's words for it."""

from __future__ import annotations

import errno

import httpcore
import httpx
import pytest

from talkrate_cli import client
from talkrate_cli.client import Api
from talkrate_cli.errors import Unreachable
from tests.loopback import LoopbackServer, StandInHandler

pytestmark = pytest.mark.unit

REFUSED = "connection refused (is the API running? `make run` starts it locally)"


def raised_as_httpx_raises(cause: OSError) -> httpx.ConnectError:
    """The ConnectError httpx raises over a socket's `cause`: httpx's over httpcore's over it."""
    try:
        try:
            try:
                raise cause
            except OSError as error:
                raise httpcore.ConnectError(error) from error
        except httpcore.ConnectError as error:
            raise httpx.ConnectError(str(error)) from error
    except httpx.ConnectError as error:
        return error


def test_a_port_nothing_listens_at_is_said_refused() -> None:
    # Given an address whose port is held but refuses connections (an API not up yet)
    server = LoopbackServer(StandInHandler, listening=False)
    try:
        # When the programme is read there
        with pytest.raises(Unreachable) as failed:
            Api(server.url, timeout=5).talks()
    finally:
        server.close()
    # Then the command says it refused, and what to do
    assert str(failed.value) == f"cannot reach the API at {server.url}: {REFUSED}"
    assert not failed.value.answer_lost


def test_a_refusal_in_the_system_s_own_words_is_said_refused() -> None:
    # Given a refused connection as a system in another language words it (Windows in German:
    # WSAECONNREFUSED, read by Python as ConnectionRefusedError)
    words = (
        "Es konnte keine Verbindung hergestellt werden, da der Zielcomputer die Verbindung "
        "verweigerte"
    )
    error = raised_as_httpx_raises(ConnectionRefusedError(errno.ECONNREFUSED, words))
    # When the command says why the API could not be reached
    said = str(client.unreachable("http://127.0.0.1:3000", error))
    # Then it says the connection was refused, and what to do (it said the system's words, and
    # a simulation gave up at once where it waits for the API to listen)
    assert said == f"cannot reach the API at http://127.0.0.1:3000: {REFUSED}"
    assert client.refused(error)


@pytest.mark.parametrize(
    "cause",
    [
        OSError(errno.EHOSTUNREACH, "No route to host (refused by a firewall's rule)"),
        OSError(errno.ENETUNREACH, "Network is unreachable: connection refused upstream"),
    ],
    ids=["no-route", "no-network"],
)
def test_an_address_out_of_reach_is_no_refusal_whatever_its_words(cause: OSError) -> None:
    # Given a connection that could not be made for another reason than a refusal, in words
    # that hold "refused"
    error = raised_as_httpx_raises(cause)
    # When the command says why the API could not be reached
    said = str(client.unreachable("http://10.0.0.1:3000", error))
    # Then it says the system's words, not that nothing listens there (which a simulation
    # would wait for: waiting brings no route)
    assert said == f"cannot reach the API at http://10.0.0.1:3000: {error}"
    assert not client.refused(error)


def test_https_to_a_server_answering_in_plain_http_says_so() -> None:
    # Given a server that answers in plain HTTP, as the local runtime does
    server = LoopbackServer(StandInHandler)
    tls_url = server.url.replace("http://", "https://")
    try:
        # When the programme is read at its address with https://
        with pytest.raises(Unreachable) as failed:
            Api(tls_url, timeout=5).talks()
    finally:
        server.close()
    # Then the command says it does not answer in TLS (OpenSSL's "[SSL: WRONG_VERSION_NUMBER]")
    assert str(failed.value) == (
        f"cannot reach the API at {tls_url}: it does not answer in TLS (is its address "
        "http://, as the local runtime's is?)"
    )
