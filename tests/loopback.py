"""An HTTP server of a test's own on a free loopback port, served on a thread: what a test's
stand-in for the API (or a proxy in front of it) starts and stops."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (or another loopback address: `host`) at `url` until
    `close()`. `listening=False`: its port is held but refuses connections until `listen()`."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
        host: str = "127.0.0.1",
        listening: bool = True,
    ) -> None:
        self.server = server_class((host, 0), handler, bind_and_activate=False)
        self.server.server_bind()  # (its port is held: refused until it listens)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.serving = False
        if listening:
            self.listen()

    def listen(self) -> None:
        """Listen at `url` and serve (a server made with `listening=False` refuses until then)."""
        self.server.server_activate()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.serving = True

    def stop_listening(self) -> None:
        """Stop listening, its port still held: refused until `listen()` again, as an API's
        while its runtime restarts. A request's handler may call it (its own connection stays
        open for its answer)."""
        host, port = self.server.server_address[:2]
        handler = self.server.RequestHandlerClass
        self.close()
        self.server = type(self.server)((host, port), handler, bind_and_activate=False)
        self.server.server_bind()
        self.serving = False

    def close(self) -> None:
        if self.serving:  # (shutdown() waits for a serve_forever that never began, else)
            self.server.shutdown()
        self.server.server_close()


class StandInHandler(BaseHTTPRequestHandler):
    """A stand-in API's handler: HTTP/1.1, answers in JSON (`answer`), and nothing logged."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass
