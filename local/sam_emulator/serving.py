"""What the emulator's HTTP endpoints share: a threaded HTTP/1.1 server that runs in the
background, bounded request-body reading (never an unbounded read), and finding a free port."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

_CHUNK_LINE_LIMIT: Final = 1024
# RFC 9112: Content-Length = 1*DIGIT, chunk-size = 1*HEXDIG. int() also reads a sign, "0x" and
# "_" (a negative chunk size then read the connection to its end): a proxy would not.
_CONTENT_LENGTH: Final = re.compile(r"[0-9]+")
_CHUNK_SIZE: Final = re.compile(rb"[0-9A-Fa-f]+")
# Digits past these (leading zeros aside) are over any body limit, and never read by int().
_LONGEST_LENGTH, _LONGEST_CHUNK_SIZE = 18, 15
_OVER_ANY_LIMIT: Final = 10**18  # what a longer Content-Length stands for


def declared_length(text: str) -> int | None:
    """A Content-Length's value as RFC 9112 writes it (1*DIGIT), or None for anything else (a
    sign, "0x", "_", which int() would read); one longer than any body limit is returned as
    such without converting its digits."""
    if not _CONTENT_LENGTH.fullmatch(text):
        return None
    if len(text.lstrip("0")) > _LONGEST_LENGTH:
        return _OVER_ANY_LIMIT
    return int(text)


def host_name(host_header: str | None) -> str | None:
    """The name a request's Host header gives the server, without its port (`[::1]` keeps its
    brackets); None without one."""
    host = (host_header or "").strip()
    if host.startswith("["):
        return host[: host.find("]") + 1] or None
    return host.rsplit(":", 1)[0] or None


# Where the endpoints that AWS takes only signed requests at listen, whatever `--host` says: the
# Lambda Invoke API, IAM function URLs and the live channel's publish endpoint check no signature
# here, so on every interface anyone on the network could invoke a function with an event of
# their making (an admin's verdict, a projector's batch) or publish to the room screens.
SIGNED_ONLY_HOST: Final = "127.0.0.1"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (another process may take it before it is used)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class BodyTooLarge(Exception):
    """The request body is over the limit; the connection must be closed without reading it."""


class BadRequest(Exception):
    """The request framing is broken (bad Content-Length, bad chunk)."""


class BackgroundServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that serves from a thread of its own until `stop`."""

    daemon_threads = True  # keep-alive connections must not hold the process at exit
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of clients connecting at once got
    # connection resets. API Gateway takes bursts; so does the local one.
    request_queue_size = 128

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__((host, port), handler)
        self._thread: threading.Thread | None = None
        # Requests read and not answered yet (`answering`): the runtime's stop waits for them,
        # as the process ends without waiting for its request threads.
        self._in_flight = 0
        self._answers = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around a request from its reading to its answer written."""
        with self._answers:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._answers:
                self._in_flight -= 1
                self._answers.notify_all()

    def answered(self, timeout: float) -> bool:
        """Whether every request read has been answered, waiting up to `timeout` seconds."""
        with self._answers:
            return self._answers.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self.server_address[1])

    def start(self, name: str) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, and close the listening socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


class BoundedHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler with keep-alive, an idle timeout and a body size limit."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # seconds an idle keep-alive connection stays open
    max_body_bytes = 6 * 1024 * 1024

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in separate writes, and a client's delayed
        ACK would otherwise add ~40 ms to every response."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        """One request; a client that left before its answer ends the connection quietly (no
        traceback in the runtime's output: there is nobody to tell)."""
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a request line too long, headers too large, an HTTP
        version or method it cannot read) in the shape API Gateway gives its own errors:
        `{"message": ...}` as JSON, not an HTML page."""
        if code in (HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED):
            # A method that is not an HTTP token, an "HTTP/2.0" request line on this HTTP/1.1
            # connection: a malformed request, the client's fault, not a 5xx.
            code, message = HTTPStatus.BAD_REQUEST, "Bad Request"
        reason = message or self.responses.get(code, ("Error",))[0]
        body = json.dumps({"message": reason}).encode()
        self.log_error("code %d, message %s", code, reason)
        # A request line it could not read leaves http.server taking the client for HTTP/0.9,
        # which gets no status line nor headers: this answer has both.
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def handle_expect_100(self) -> bool:
        """`Expect: 100-continue`: the invitation to send the body goes only to a body that will
        be read; one declared over the limit gets its 413 instead, before it is sent (RFC 9110
        10.1.1), not after an upload thrown away."""
        lengths = self.headers.get_all("Content-Length") or []
        declared = declared_length(lengths[0].strip()) if len(lengths) == 1 else None
        if declared is not None and declared > self.max_body_bytes:
            return True  # no 100: the handler refuses the body unread
        return super().handle_expect_100()

    def read_body(self) -> bytes:
        """The request body (Content-Length or chunked), refusing more than max_body_bytes.

        Framing that two readers could read two ways (RFC 9112 6.3: a Transfer-Encoding other
        than chunked alone, one beside a Content-Length, or Content-Lengths that disagree) is
        refused, never guessed: a body read one way here and another way by a proxy is how
        requests are smuggled."""
        encodings = self.headers.get_all("Transfer-Encoding") or []
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if encodings:
            coding = ",".join(encodings).strip().lower()
            if coding != "chunked" or lengths:
                raise BadRequest("unsupported Transfer-Encoding")
            return self._read_chunked()
        if len(lengths) > 1:
            raise BadRequest("Content-Length values disagree")
        declared = lengths.pop() if lengths else None
        if declared is None:
            return b""
        length = declared_length(declared)
        if length is None:
            raise BadRequest("bad Content-Length")
        if length > self.max_body_bytes:
            raise BodyTooLarge
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest("body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_CHUNK_LINE_LIMIT)
            size_text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise BadRequest("bad chunk size")
            if len(size_text.lstrip(b"0")) > _LONGEST_CHUNK_SIZE:
                raise BodyTooLarge
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > self.max_body_bytes:
                raise BodyTooLarge
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise BadRequest("truncated chunk")
            chunks.append(chunk)
            self.rfile.readline(_CHUNK_LINE_LIMIT)  # the CRLF after the chunk
        while self.rfile.readline(_CHUNK_LINE_LIMIT) not in (b"\r\n", b"\n", b""):
            pass  # trailers: ignored
        return b"".join(chunks)

    def send_bytes(
        self, status: int, headers: list[tuple[str, str]], body: bytes, close: bool = False
    ) -> None:
        """Send a complete response with a correct Content-Length (keep-alive friendly)."""
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
