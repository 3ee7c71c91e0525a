"""Redis Streams between the worker roles: posts -> classify workers -> verdicts -> the aggregate worker.

Ingest publishes each new post once (a Redis ledger of post keys, checked and written in the same Lua
script that appends the message) with a dense sequence number: the order of the sequence is the order the
single process would have seen, so the aggregate can restore it whichever classify worker finishes first.
Classify workers share the ``posts`` stream through a consumer group, forward their verdicts and
acknowledge in one MULTI, and claim (XAUTOCLAIM) what a dead worker held for too long. Delivery is at
least once; every effect downstream is idempotent (posts are unique by source id, the aggregate skips
sequence numbers it has passed). Streams are bounded (MAXLEN ~) and ingest waits while too many posts are
in flight, so a slow stage makes the fast ones wait instead of filling memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

import redis

from detector.bus.codec import post_to_json
from detector.bus.settings import BusSettings
from detector.records import Post

POSTS, VERDICTS = "posts", "verdicts"
GROUPS = {POSTS: "classify", VERDICTS: "aggregate"}

# ARGV: ledger ttl, maxlen, ledger prefix, then (ledger key or '', kind, body) triples. The ledger check,
# the sequence number and the append happen atomically, so a re-read batch is never published twice.
_PUBLISH = """
local published = 0
local i = 4
while i <= #ARGV do
  local fresh = true
  if ARGV[i] ~= '' then
    fresh = redis.call('SET', ARGV[3] .. ARGV[i], '1', 'NX', 'EX', tonumber(ARGV[1]))
  end
  if fresh then
    local seq = redis.call('INCR', KEYS[1])
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'kind', ARGV[i + 1], 'body', ARGV[i + 2])
    published = published + 1
  end
  i = i + 3
end
return published
"""

# Only the aggregate's position ever moves, and only forward (a restarted standby cannot move it back).
_ADVANCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


@dataclass(frozen=True, slots=True)
class Message:
    """One stream entry: its id, the ingest sequence number, ``post`` or ``flush``, and its fields."""

    id: str
    seq: int
    kind: str
    fields: dict[str, str]


def _messages(entries: Iterable[tuple[str, dict[str, str]]]) -> list[Message]:
    out = []
    for entry_id, fields in entries:
        if fields is None:  # trimmed away while pending: reported by the caller, never silently skipped
            continue
        out.append(Message(entry_id, int(fields["seq"]), fields["kind"], fields))
    return out


class RedisBus:
    """The streams, groups and counters of one deployment (one ``namespace``) in one Redis."""

    def __init__(self, settings: BusSettings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.redis = client or redis.Redis.from_url(
            settings.url, decode_responses=True, socket_timeout=30, socket_connect_timeout=5,
            health_check_interval=15,
        )
        self._publish = self.redis.register_script(_PUBLISH)
        self._advance = self.redis.register_script(_ADVANCE)

    def key(self, name: str) -> str:
        return f"{self.settings.namespace}:{name}"

    def ensure_groups(self) -> None:
        """Create the streams and their consumer groups if missing (reading from the first message)."""
        for stream, group in GROUPS.items():
            try:
                self.redis.xgroup_create(self.key(stream), group, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    # -- ingest --------------------------------------------------------------------------------------
    def publish_posts(self, posts: Sequence[Post]) -> int:
        """Append the posts not published before, in the given order; return how many were new."""
        argv: list[Any] = []
        for post in posts:
            argv += [f"{post.source}\x1f{post.source_id}", "post", post_to_json(post)]
        return self._append(argv)

    def publish_flush(self, until: datetime, source: str) -> None:
        """Tell the aggregate that ``source`` has nothing before ``until`` left: close buckets up to it."""
        self._append(["", "flush", f"{until.isoformat()}|{source}"])

    def _append(self, argv: list[Any]) -> int:
        if not argv:
            return 0
        s = self.settings
        return int(self._publish(
            keys=[self.key("seq"), self.key(POSTS)],
            args=[s.dedup_ttl_seconds, s.stream_maxlen, self.key("seen:"), *argv],
        ))

    def published(self) -> int:
        return int(self.redis.get(self.key("seq")) or 0)

    def aggregated(self) -> int:
        return int(self.redis.get(self.key("aggregated")) or 0)

    def in_flight(self) -> int:
        """Posts (and flush marks) published but not yet through the aggregate."""
        return self.published() - self.aggregated()

    def wait_for_room(self, wanted: int, *, sleep: Callable[[float], None] = time.sleep,
                      on_wait: Callable[[int], None] | None = None) -> None:
        """Backpressure: block while publishing ``wanted`` more would exceed ``max_in_flight``."""
        delay = 0.02
        while (flying := self.in_flight()) + wanted > self.settings.max_in_flight and flying > 0:
            if on_wait is not None:
                on_wait(flying)
            sleep(delay)
            delay = min(delay * 2, 1.0)

    # -- consumers -----------------------------------------------------------------------------------
    def read(self, stream: str, consumer: str, *, count: int, block_ms: int | None, own_pending: bool = False,
             after: str = "0") -> list[Message]:
        """New messages for ``consumer`` in ``stream``'s group, or (``own_pending``) those it already holds
        with ids after ``after``."""
        reply = self.redis.xreadgroup(
            GROUPS[stream], consumer, {self.key(stream): after if own_pending else ">"}, count=count,
            block=None if own_pending else block_ms,
        )
        return _messages(reply[0][1]) if reply else []

    def claim(self, stream: str, consumer: str, *, min_idle_ms: int, count: int, start: str = "0-0"
              ) -> tuple[str, list[Message], list[str]]:
        """Take over messages other consumers have held for ``min_idle_ms``: (next start, messages, ids
        that were trimmed away before anyone processed them)."""
        reply = self.redis.xautoclaim(
            self.key(stream), GROUPS[stream], consumer, min_idle_time=min_idle_ms, start_id=start, count=count,
        )
        next_start, entries = reply[0], reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        return next_start, _messages(entries), list(deleted)

    def forward(self, messages: Sequence[dict[str, str]], ack: Sequence[str]) -> None:
        """Append ``messages`` to the verdicts stream and acknowledge ``ack`` in the posts group, atomically."""
        pipe = self.redis.pipeline(transaction=True)
        for fields in messages:
            pipe.xadd(self.key(VERDICTS), fields, maxlen=self.settings.stream_maxlen, approximate=True)
        if ack:
            pipe.xack(self.key(POSTS), GROUPS[POSTS], *ack)
        pipe.execute()

    def ack(self, stream: str, ids: Sequence[str]) -> None:
        if ids:
            self.redis.xack(self.key(stream), GROUPS[stream], *ids)

    def advance_aggregated(self, seq: int) -> None:
        self._advance(keys=[self.key("aggregated")], args=[seq])

    def forget_idle_consumers(self, stream: str, idle_ms: int) -> list[str]:
        """Remove consumers that hold nothing and were idle this long (stopped or restarted workers: a
        default name includes the pid, so every restart would otherwise leave one behind)."""
        gone = [c["name"] for c in self.redis.xinfo_consumers(self.key(stream), GROUPS[stream])
                if c["pending"] == 0 and c["idle"] >= idle_ms]
        for name in gone:
            self.forget_consumer(stream, name)
        return gone

    def forget_consumer(self, stream: str, consumer: str) -> None:
        """Remove a consumer that holds nothing (a stopped worker) so the group listing stays readable."""
        self.redis.xgroup_delconsumer(self.key(stream), GROUPS[stream], consumer)

    # -- visibility ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Lengths, per-group lag and pending counts, per-consumer pending and idle time, and what is in flight."""
        out: dict[str, Any] = {"published": self.published(), "aggregated": self.aggregated()}
        out["in_flight"] = out["published"] - out["aggregated"]
        for stream, group in GROUPS.items():
            key = self.key(stream)
            exists = bool(self.redis.exists(key))
            entry: dict[str, Any] = {"length": self.redis.xlen(key) if exists else 0}
            info = {g["name"]: g for g in self.redis.xinfo_groups(key)}.get(group) if exists else None
            if info is not None:
                entry.update(group=group, lag=info.get("lag"), pending=info.get("pending"),
                             last_delivered=info.get("last-delivered-id"))
                entry["consumers"] = [
                    {"name": c["name"], "pending": c["pending"], "idle_ms": c["idle"]}
                    for c in self.redis.xinfo_consumers(key, group)
                ]
            out[stream] = entry
        return out
