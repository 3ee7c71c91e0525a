"""An HTTP receiver on 127.0.0.1 that checks what our channels send and answers as a test tells it.

Paths pick the protocol whose shape is checked: ``/slack`` (Block Kit), ``/teams`` (an Adaptive Card),
``/v2/enqueue`` (PagerDuty Events API v2), anything else a generic webhook (JSON, and the HMAC signature
when the receiver has a secret). A malformed request is answered 400 and kept in ``problems``.
``answer(...)`` queues behaviours for the next requests: a status (with Retry-After), ``"hang"`` (read the
request, then answer nothing until the test ends), and ``stop()`` / ``start()`` take it down and up
again on the same port.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class Answer:
    status: int = 200
    retry_after: str | None = None
    hang: bool = False
    body: str = "ok"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_slack(doc: Any) -> list[str]:
    problems = []
    if not isinstance(doc.get("text"), str) or not doc["text"]:
        problems.append("slack: no fallback text")
    blocks = doc.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return problems + ["slack: blocks must be a list of 1-50"]
    for block in blocks:
        kind = block.get("type")
        if kind not in {"header", "section", "divider", "context", "actions"}:
            problems.append(f"slack: unknown block {kind}")
        if kind == "header" and (block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150):
            problems.append("slack: header must be plain_text <= 150")
        if kind == "section":
            if "fields" in block and (len(block["fields"]) > 10 or any(len(f["text"]) > 2000 for f in block["fields"])):
                problems.append("slack: section fields <= 10 of <= 2000 chars")
            if "text" in block and len(block["text"]["text"]) > 3000:
                problems.append("slack: section text <= 3000")
    return problems


def check_teams(doc: Any) -> list[str]:
    try:
        attachment = doc["attachments"][0]
        card = attachment["content"]
    except (KeyError, IndexError, TypeError):
        return ["teams: no attachment content"]
    problems = []
    if doc.get("type") != "message":
        problems.append("teams: type must be message")
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("teams: not an adaptive card")
    if card.get("type") != "AdaptiveCard" or not card.get("version") or not card.get("body"):
        problems.append("teams: card needs type, version and body")
    return problems


def check_pagerduty(doc: Any) -> list[str]:
    problems = []
    if not doc.get("routing_key") or len(doc["routing_key"]) < 8:
        problems.append("pagerduty: routing_key")
    if doc.get("event_action") not in PD_ACTIONS:
        problems.append("pagerduty: event_action")
    if not doc.get("dedup_key"):
        problems.append("pagerduty: dedup_key")
    if doc.get("event_action") == "trigger":
        payload = doc.get("payload") or {}
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                problems.append(f"pagerduty: payload.{name}")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append("pagerduty: payload.severity")
        if len(payload.get("summary", "")) > 1024:
            problems.append("pagerduty: summary > 1024")
    return problems


class Receiver:
    """The server; ``requests`` holds everything that arrived, in order."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.port = free_port()
        self.requests: list[Received] = []
        self.problems: list[str] = []
        self._answers: deque[Answer] = deque()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- control ------------------------------------------------------------------------------------
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer | int | str) -> None:
        """Queue behaviours for the next requests: an Answer, a status, or "hang"."""
        for a in answers:
            self._answers.append(Answer(hang=True) if a == "hang" else a if isinstance(a, Answer) else Answer(int(a)))

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    answer = receiver._answers.popleft() if receiver._answers else Answer()
                    receiver.requests.append(got)
                problems = receiver.check(got)
                if answer.hang:
                    receiver._release.wait(10)
                    return
                status = 400 if problems and answer.status < 300 else answer.status
                got.status = status
                with receiver._lock:
                    receiver.problems += problems
                self.send_response(status)
                if answer.retry_after is not None:
                    self.send_header("Retry-After", answer.retry_after)
                payload = (json.dumps({"status": "success"}) if self.path == "/v2/enqueue" and status < 300
                           else "; ".join(problems) or answer.body).encode()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._release = threading.Event()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what arrived -------------------------------------------------------------------------------
    def delivered(self, path: str | None = None) -> list[Received]:
        """Requests answered 2xx, the first copy per idempotency key (what a deduplicating receiver keeps)."""
        seen: set[str] = set()
        out = []
        for r in self.requests:
            if not 200 <= r.status < 300 or (path and r.path != path):
                continue
            if r.key:
                if r.key in seen:
                    continue
                seen.add(r.key)
            out.append(r)
        return out

    def check(self, got: Received) -> list[str]:
        try:
            doc = json.loads(got.body)
        except ValueError:
            return [f"{got.path}: body is not JSON"]
        if got.headers.get("content-type", "").split(";")[0] != "application/json":
            return [f"{got.path}: content-type is not application/json"]
        if got.path.startswith("/apprise"):
            return []  # apprise's own JSON: its shape is apprise's business
        if got.path.startswith("/slack"):
            return check_slack(doc)
        if got.path.startswith("/teams"):
            return check_teams(doc)
        if got.path == "/v2/enqueue":
            return check_pagerduty(doc)
        return self.check_webhook(got, doc)

    def check_webhook(self, got: Received, doc: Any) -> list[str]:
        problems = []
        for name in ("event", "alert", "at"):
            if name not in doc:
                problems.append(f"webhook: no {name}")
        if not got.key:
            problems.append("webhook: no Idempotency-Key")
        if self.secret is not None:
            stamp = got.headers.get("x-detector-timestamp", "")
            expected = "sha256=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + got.body,
                                            hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, got.headers.get("x-detector-signature", "")):
                problems.append("webhook: bad signature")
        return problems
