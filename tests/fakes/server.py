"""One small threaded HTTP server on 127.0.0.1 for every fake API and receiver the tests talk to.

A server answers each request with ``app(request) -> Reply``, or from a table of routes
(``{"GET /api/v2/incidents\\.json": handler}``: the method, a space, a regular expression the whole path
must match; the handler gets the request and the expression's named groups). Faults queued with
``fail_next`` are answered first (a 429 with Retry-After, a 5xx, malformed JSON, a hang), so a test says
exactly what goes wrong and when; ``requests`` logs everything that arrived, in order.

The port is taken when the server is made (bound, not listening: a request before ``start`` is refused,
as by a service that is down) and kept across ``stop()`` / ``start()``. ``stop`` closes the connections
still open and ends the answers that hang, so nothing a test started outlives it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (for timeouts); ``stop`` ends the wait
    drip: float = 0.0  # seconds between bytes of the body (a server that is slow but never silent)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, value, {"Content-Type": "application/json", **(headers or {})})


NOT_FOUND = Reply(404, b"not found")
TOO_MANY = Reply(429, b"slow down", {"Retry-After": "7"})
SERVER_ERROR = Reply(503, b"unavailable")
MALFORMED = Reply(200, b'{"data": {"children": [', {"Content-Type": "application/json"})

App = Callable[[Request], Reply]


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now (for servers that are not ours to bind, like SMTP's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def routed(routes: Mapping[str, Callable[..., Reply]], not_found: App = lambda _request: NOT_FOUND) -> App:
    """An app answering from ``routes`` (``"METHOD path-regex"`` -> handler(request, **groups)); a path that
    no route matches gets ``not_found``, a known path asked with another method 405."""
    table = []
    for key, handler in routes.items():
        method, _, pattern = key.partition(" ")
        table.append((method.upper(), re.compile(pattern), handler))

    def app(request: Request) -> Reply:
        allowed = []
        for method, pattern, handler in table:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method == request.method:
                return handler(request, **match.groupdict())
            allowed.append(method)
        if allowed:
            return Reply(405, b"method not allowed", {"Allow": ", ".join(allowed)})
        return not_found(request)

    return app


class FakeServer:
    """Serves ``app`` (or ``routes``) on 127.0.0.1 in background threads, from ``start`` to ``stop``."""

    def __init__(self, app: App | None = None, *, routes: Mapping[str, Callable[..., Reply]] | None = None,
                 not_found: App = lambda _request: NOT_FOUND, protocol: str = "HTTP/1.1") -> None:
        if (app is None) == (routes is None):
            raise ValueError("give a FakeServer an app or routes, not both")
        self.app = app if app is not None else routed(routes or {}, not_found)
        self.protocol = protocol
        self.requests: list[Request] = []
        self.faults: list[tuple[str, Reply]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self._httpd = self._bind(0)
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    # -- control ------------------------------------------------------------------------------------
    def start(self) -> "FakeServer":
        """Listen and answer (again, on the same port, after a ``stop``)."""
        if self._thread is not None:
            return self
        if self._httpd is None:
            self._httpd = self._bind(self.port)
        self._stopping.clear()
        self._httpd.server_activate()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name=f"fake-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, end hanging answers, close open connections; ``start`` brings it back."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        if self._httpd is not None:
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            still_open, self._open = list(self._open), set()
        for connection in still_open:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, reply: Reply, path_prefix: str = "/") -> None:
        """Answer the next request under ``path_prefix`` with ``reply`` instead of the API."""
        with self._lock:
            self.faults.append((path_prefix, reply))

    # -- serving ------------------------------------------------------------------------------------
    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            for i, (prefix, reply) in enumerate(self.faults):
                if request.path.startswith(prefix):
                    del self.faults[i]
                    return reply
        return self.app(request)

    def _bind(self, port: int) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self), bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.allow_reuse_address = True
        try:
            httpd.server_bind()
        except OSError:
            httpd.server_close()
            raise
        return httpd


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = server.protocol

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._open.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._open.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                              {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            reply = server._answer(request)
            if reply.hang and server._stopping.wait(reply.hang):
                self.close_connection = True
                return  # stopped while hanging: no answer, as from a server that died
            body = reply.encoded()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if reply.drip:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                else:
                    self.wfile.write(body)
            except OSError:  # the client gave up (a timeout) or the server is stopping
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


class FakeAPI:
    """A fake outside service on a server of its own: ``url``, ``server`` (its request log and faults), and
    ``with fake:`` to run it for a block."""

    def __init__(self, routes: Mapping[str, Callable[..., Reply]], not_found: App = lambda _request: NOT_FOUND) -> None:
        self.server = FakeServer(routes=routes, not_found=not_found)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> "FakeAPI":
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
