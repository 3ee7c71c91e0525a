"""The classify role: the CPU-heavy stage, as many workers as there are cores to spare.

Each worker reads batches of posts from the ``posts`` stream through the ``classify`` consumer group,
classifies them, stores posts and verdicts (idempotent: unique by source id), then forwards the verdicts
and acknowledges the posts in one Redis transaction. A worker that dies holding messages loses them to
the others after ``claim_idle_seconds`` (XAUTOCLAIM); a worker restarted under the same name first finishes
what it held.
"""

from __future__ import annotations

import logging
import time

from detector.bus.codec import post_from_json, post_to_json, verdict_to_json
from detector.bus.streams import POSTS, Message
from detector.classify.base import Classifier
from detector.pipeline import classify_posts
from detector.places.extract import PlaceFinder
from detector.records import Post, Rejected
from detector.workers.base import Worker

log = logging.getLogger("detector.workers.classify")


class ClassifyWorker(Worker):
    """Classifies posts from the bus into the store and forwards the verdicts."""

    role = "classify"

    def __init__(self, conn, classifier: Classifier, *, name: str | None = None,
                 monotonic=time.monotonic, places: PlaceFinder | None = None, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        self.classifier = classifier
        self.places = places
        self.monotonic = monotonic
        self.classified = 0
        self.claimed = 0
        self._own_pending = True  # at start and after an error: first what this name already holds
        self._claim_from = "0-0"
        self._next_claim = 0.0
        self.bus.ensure_groups()

    def recover(self) -> None:
        self._own_pending = True

    def step(self) -> bool:
        count = self.bus_settings.batch_size
        messages: list[Message] = []
        if self._own_pending:
            messages = self.bus.read(POSTS, self.name, count=count, block_ms=None, own_pending=True)
            self._own_pending = bool(messages)
        if not messages and self.monotonic() >= self._next_claim:
            messages = self._claim(count)
        if not messages:
            messages = self.bus.read(POSTS, self.name, count=count, block_ms=1000)
        if messages:
            self.handle(messages)
        return bool(messages)

    def _claim(self, count: int) -> list[Message]:
        idle_ms = int(self.bus_settings.claim_idle_seconds * 1000)
        self._claim_from, messages, lost = self.bus.claim(
            POSTS, self.name, min_idle_ms=idle_ms, count=count, start=self._claim_from
        )
        if lost:
            log.error("classify %s: %d messages were trimmed from the posts stream before anyone processed "
                      "them (stream_maxlen too small for max_in_flight?): %s", self.name, len(lost), lost[:5])
        if messages:
            self.claimed += len(messages)
            log.warning("classify %s: claimed %d messages a silent worker held for over %.0fs",
                        self.name, len(messages), self.bus_settings.claim_idle_seconds)
        if self._claim_from == "0-0":  # went round the whole pending list: tidy up, wait before scanning again
            self._next_claim = self.monotonic() + self.bus_settings.claim_idle_seconds / 2
            self.bus.forget_idle_consumers(POSTS, idle_ms * 20)
        return messages

    def handle(self, messages: list[Message]) -> None:
        """Classify and store the posts among ``messages``; forward everything in order and acknowledge."""
        decoded: dict[str, Post] = {}
        rejected: list[Rejected] = []
        for message in messages:
            if message.kind != "post":
                continue
            try:
                decoded[message.id] = post_from_json(message.fields["body"])
            except (KeyError, TypeError, ValueError) as error:  # a poison message must not stop every worker
                rejected.append(Rejected("bus", f"posts:{message.id}", f"undecodable post message: {error}",
                                         str(message.fields.get("body"))[:2000]))
        posts, verdicts = classify_posts(self.classifier, list(decoded.values()), self.places)
        with self.store.transaction() as conn:
            self.store.add_posts(posts, verdicts, conn)
            self.store.quarantine(rejected, conn)
        classified = iter(zip(posts, verdicts))
        forward = []
        for message in messages:
            if message.kind == "post" and message.id not in decoded:
                log.error("classify %s: message %s (sequence %d) cannot be read; quarantined and skipped",
                          self.name, message.id, message.seq)
                forward.append({"seq": message.seq, "kind": "skip", "body": ""})
            elif message.kind == "post":
                post, verdict = next(classified)
                forward.append({"seq": message.seq, "kind": "post", "body": post_to_json(post),
                                "verdict": verdict_to_json(verdict)})
            else:
                forward.append({"seq": message.seq, "kind": message.kind, "body": message.fields["body"]})
        self.bus.forward(forward, [m.id for m in messages])
        self.classified += len(posts)

    def close(self) -> None:
        if self.bus.read(POSTS, self.name, count=1, block_ms=None, own_pending=True):
            return  # keep the name: it still holds messages, which another worker will claim
        self.bus.forget_consumer(POSTS, self.name)
