"""The aggregate role: buckets, detection and incidents, in event-time order, by one active worker.

Classify workers finish out of order; detection must not. Every message carries the sequence number
ingest gave the post, and the aggregate applies them strictly in that order: a verdict that arrives early
waits in memory until every smaller number has arrived (the watermark is the first number still missing,
so a post held by a killed classify worker holds the line until another worker claims it). Ingest
publishes in the order the single process would have processed, so the incidents are the same.

Each applied run is committed in one fenced transaction: incident changes and their outbox rows, bucket
counts recomputed from the stored verdicts, the detector's scores, and a checkpoint of the whole detection
state (the pipeline's ``snapshot()``, a plain record with a format version) with the last applied sequence
number. A standby that takes the lease over resumes from that
checkpoint exactly; a worker that lost the lease cannot commit.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from detector.bus.codec import post_from_json, verdict_from_json
from detector.bus.streams import VERDICTS, Message
from detector.pipeline import Observation, Pipeline, RunReport, detection_rows
from detector.records import Post, Verdict
from detector.runtime.assembly import build_system
from detector.snapshot import PipelineSnapshot
from detector.alerting.routing import save_changes
from detector.workers.base import Worker
from detector.store.leases import Lease, LeaseLost, load_checkpoint, save_checkpoint

log = logging.getLogger("detector.workers.aggregate")

CHECKPOINT = "aggregate"
MAX_RUN = 2000  # messages applied per transaction: bounds its length and the work redone after a failover


class AggregateWorker(Worker):
    """Applies verdicts in ingest order to the detectors and the incident lifecycle."""

    role = "aggregate"

    def __init__(self, conn, *, name: str | None = None, monotonic=time.monotonic, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        self.monotonic = monotonic
        self._next_claim = 0.0
        self._stalled_at: tuple[int, float] = (-1, 0.0)  # (position, since when) of a stalled watermark
        self._next_stall_warning = 0.0
        self.lease = Lease(self.store, "aggregate", self.name, self.bus_settings.lease_seconds)
        self.report = RunReport()
        self.pipeline: Pipeline | None = None
        self.position = 0
        self.applied = 0
        self._waiting: dict[int, Message] = {}
        self._ids: dict[int, list[str]] = {}
        self._recovering = True
        self._pending_from = "0"
        self._claim_from = "0-0"
        self.bus.ensure_groups()

    # -- state ---------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Rebuild the detection state from the last checkpoint (or from the store before the first)."""
        pipeline = build_system(self.conn.settings, role="aggregate", bus=self.conn).pipeline
        self.position, state = load_checkpoint(self.store, CHECKPOINT)
        if state is not None:
            pipeline.restore(PipelineSnapshot.from_bytes(state))
        self.pipeline = pipeline
        self._waiting.clear()
        self._ids.clear()
        self._recovering, self._pending_from, self._claim_from = True, "0", "0-0"
        self.bus.advance_aggregated(self.position)  # in case the last commit's announcement was lost
        log.info("aggregate %s: active from sequence %d", self.name, self.position)

    def recover(self) -> None:
        self.pipeline = None  # in-memory progress may be ahead of the database: start again from the checkpoint

    # -- the loop ------------------------------------------------------------------------------------
    def step(self) -> bool:
        if not self.lease.held and not self.lease.try_acquire():
            self.pipeline = None
            self.sleep(self.bus_settings.lease_seconds / 3)  # standby
            return False
        if self.pipeline is None:
            self.restore()
        messages = self._read()
        acks = []
        for message in messages:
            if message.seq <= self.position:
                acks.append(message.id)  # applied before (a redelivery, or a duplicate forward)
                continue
            self._waiting.setdefault(message.seq, message)
            self._ids.setdefault(message.seq, []).append(message.id)
        self._watch_watermark()
        run = []
        while self.position + len(run) + 1 in self._waiting and len(run) < MAX_RUN:
            run.append(self._waiting[self.position + len(run) + 1])
        if run:
            try:
                with self.lease.kept_alive():
                    self.apply(run)
            except LeaseLost as error:
                log.warning("aggregate %s: %s; standing by", self.name, error)
                self.pipeline = None
                return False
            except Exception:
                self.pipeline = None  # nothing was committed; the checkpoint is still the truth
                raise
            for seq in range(run[0].seq, run[-1].seq + 1):
                del self._waiting[seq]
                acks += self._ids.pop(seq)
        elif self.lease.renewal_due():
            if not self.lease.renew():
                self.pipeline = None
                return False
        self.bus.ack(VERDICTS, acks)
        return bool(messages)

    def _watch_watermark(self) -> None:
        """Say so when verdicts wait behind a missing sequence number for much longer than a claim takes."""
        now = self.monotonic()
        if not self._waiting or self._stalled_at[0] != self.position:
            self._stalled_at = (self.position, now)
            return
        since = now - self._stalled_at[1]
        if since > 4 * self.bus_settings.claim_idle_seconds and now >= self._next_stall_warning:
            self._next_stall_warning = now + 4 * self.bus_settings.claim_idle_seconds
            log.warning("aggregate %s: %d verdicts wait for sequence %d, missing for %.0fs (a classify worker "
                        "stuck, or the message lost; see `detector worker status`)",
                        self.name, len(self._waiting), self.position + 1, since)

    def _read(self) -> list[Message]:
        count = self.bus_settings.batch_size
        if self._recovering:
            # What this name held before, then everything other (dead or fenced) aggregates held.
            messages = self.bus.read(VERDICTS, self.name, count=count, block_ms=None, own_pending=True,
                                     after=self._pending_from)
            if messages:
                self._pending_from = messages[-1].id
                return messages
            self._claim_from, messages, lost = self.bus.claim(
                VERDICTS, self.name, min_idle_ms=0, count=count, start=self._claim_from
            )
            if lost:
                log.error("aggregate %s: %d verdicts were trimmed before being applied", self.name, len(lost))
            if self._claim_from == "0-0":
                self._recovering = False
            if messages:
                return messages
        if self._waiting and self.monotonic() >= self._next_claim:
            # The watermark is stuck: a worker that lost the lease without knowing may have read the gap.
            idle_ms = int(self.bus_settings.claim_idle_seconds * 1000)
            self._next_claim = self.monotonic() + self.bus_settings.claim_idle_seconds / 2
            _, messages, _ = self.bus.claim(VERDICTS, self.name, min_idle_ms=idle_ms, count=count)
            if messages:
                return messages
        return self.bus.read(VERDICTS, self.name, count=count, block_ms=1000)

    def apply(self, run: list[Message]) -> None:
        """Apply consecutive messages and commit their effects with the checkpoint, fenced by the lease."""
        pipeline = self.pipeline
        observed = Observation()
        posts: list[Post] = []
        verdicts: list[Verdict] = []
        as_of: datetime | None = None
        for message in run:
            if message.kind == "skip":  # a message no classify worker could read (quarantined there)
                continue
            if message.kind == "post":
                post = post_from_json(message.fields["body"])
                posts.append(post)
                verdicts.append(verdict_from_json(message.fields["verdict"]))
                as_of = post.created_at
                continue
            observed.extend(pipeline.observe(posts, verdicts, self.report))
            posts, verdicts = [], []
            until = datetime.fromisoformat(message.fields["body"].split("|", 1)[0])
            observed.extend(pipeline.observe_flush(until))
            as_of = until
        observed.extend(pipeline.observe(posts, verdicts, self.report))
        position = run[-1].seq
        with self.store.transaction() as conn:
            self.lease.fence(conn)
            save_changes(self.store, observed.changes, observed.notifications, conn)
            if as_of is not None:
                self.store.save_detector_states(pipeline.detectors, as_of, conn)
            if observed.touched:
                self.store.recompute_buckets(observed.touched, pipeline.width, conn)
            self.store.record_detections(detection_rows(observed.scored), conn)
            save_checkpoint(conn, CHECKPOINT, position, pipeline.snapshot().to_bytes(), self.lease.token)
        self.position = position
        self.applied += len(run)
        self.report.changes += observed.changes
        self.bus.advance_aggregated(position)

    def close(self) -> None:
        self.lease.release()
