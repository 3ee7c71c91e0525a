"""A tiny HTTP server on 127.0.0.1 for fake APIs: routes, scripted faults, and a log of what it served.

A fake API is a function ``(request) -> Reply``; faults queued with ``fail_next`` are answered first (a
429 with Retry-After, a 5xx, malformed JSON, or a hang longer than the client's timeout), so a test can
say exactly what goes wrong and when.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to wait before answering (for timeouts)
    drip: float = 0.0  # seconds between bytes of the body (a server that is slow but never silent)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_reply(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, value, {"Content-Type": "application/json", **(headers or {})})


class FakeServer:
    """Serves ``app`` on a free port of 127.0.0.1 in a background thread."""

    def __init__(self, app: Callable[[Request], Reply]) -> None:
        self.app = app
        self.requests: list[Request] = []
        self.faults: list[tuple[str, Reply]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                reply = server._answer(request)
                if reply.hang:
                    time.sleep(reply.hang)
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
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            for i, (prefix, reply) in enumerate(self.faults):
                if request.path.startswith(prefix):
                    del self.faults[i]
                    return reply
        return self.app(request)

    def fail_next(self, reply: Reply, path_prefix: str = "/") -> None:
        """Answer the next request under ``path_prefix`` with ``reply`` instead of the API."""
        with self._lock:
            self.faults.append((path_prefix, reply))

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


TOO_MANY = Reply(429, b"slow down", {"Retry-After": "7"})
SERVER_ERROR = Reply(503, b"unavailable")
MALFORMED = Reply(200, b'{"data": {"children": [', {"Content-Type": "application/json"})
