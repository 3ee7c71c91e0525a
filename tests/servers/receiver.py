"""An HTTP receiver on 127.0.0.1 that checks what our channels send and answers as a test tells it.

Paths pick the protocol whose shape is checked: ``/slack`` (Block Kit), ``/teams`` (an Adaptive Card),
``/v2/enqueue`` (PagerDuty Events API v2), anything else a generic webhook (JSON, and the HMAC signature
when the receiver has a secret). A malformed request is answered 400 and kept in ``problems``.
``answer(...)`` queues behaviours for the next requests: a status (with Retry-After), ``"hang"`` (read the
request, then answer nothing until the test ends), and ``stop()`` / ``start()`` take it down and up
again on the same port. It runs on the tests' one fake server (``tests/fakes/server.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

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


HANG_SECONDS = 10  # a hanging answer waits this long at most (``stop`` ends it sooner)


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
        self.requests: list[Received] = []
        self.problems: list[str] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        # HTTP/1.0, one request per connection: a channel's retry never rides a connection a hang left open
        self.server = FakeServer(self.receive, protocol="HTTP/1.0")
        self.port = self.server.port

    # -- control ------------------------------------------------------------------------------------
    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer | int | str) -> None:
        """Queue behaviours for the next requests: an Answer, a status, or "hang"."""
        for a in answers:
            self._answers.append(Answer(hang=True) if a == "hang" else a if isinstance(a, Answer) else Answer(int(a)))

    def start(self) -> "Receiver":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def receive(self, request: Request) -> Reply:
        """Record and check one request; answer as queued (200 by default, 400 for a malformed one)."""
        if request.method != "POST":
            return Reply(405, b"POST only", {"Allow": "POST"})
        got = Received(request.path, request.headers, request.body)
        with self._lock:
            answer = self._answers.popleft() if self._answers else Answer()
            self.requests.append(got)
        problems = self.check(got)
        if answer.hang:
            return Reply(hang=HANG_SECONDS)
        status = 400 if problems and answer.status < 300 else answer.status
        got.status = status
        with self._lock:
            self.problems += problems
        payload = (json.dumps({"status": "success"}) if request.path == "/v2/enqueue" and status < 300
                   else "; ".join(problems) or answer.body)
        headers = {} if answer.retry_after is None else {"Retry-After": answer.retry_after}
        return Reply(status, payload, headers)

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
