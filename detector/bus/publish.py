"""The ingest stage of a distributed deployment: a source's batches matched, deduplicated and published.

``BusPipeline`` has the interface of ``Pipeline`` that sources and the live runner use (``process`` a
source batch, ``flush`` up to a time, ``width``) but publishes to the bus instead of classifying in
process, so the ingest worker feeds it recorded files and the live runner its polls, unchanged
(`build_system(settings, role="ingest", ...)` wires it). Publishing is idempotent (the bus keeps a ledger
of post keys), so a batch re-read after a crash between publishing and saving the source's cursor is not
published twice; it waits while too many posts are in flight (backpressure).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Callable, Iterable

from detector.bus.streams import RedisBus
from detector.pipeline import PostSelector, RunReport
from detector.sources.base import SourceBatch
from detector.sources.matching import ServiceRule
from detector.store.store import Store

CHUNK = 500  # posts per publish call: keeps each Lua call short so Redis stays responsive


class BusPipeline:
    """Where a source's batches go in a distributed deployment: matched, deduplicated, published."""

    def __init__(self, store: Store, bus: RedisBus, rules: Iterable[ServiceRule], width: timedelta,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.bus = bus
        self.selector = PostSelector(store, rules)
        self.width = width
        self.sleep = sleep
        self.bus.ensure_groups()

    def process(self, batch: SourceBatch, *, source: str, assigned: str | None = None, report: RunReport) -> None:
        """Publish the batch's new posts, then record its rejected rows and the source's cursor."""
        counted = RunReport()
        posts, conflicts = self.selector.select(batch, assigned=assigned, report=counted)
        published = 0
        for i in range(0, len(posts), CHUNK):
            chunk = posts[i : i + CHUNK]
            self.bus.wait_for_room(len(chunk), sleep=self.sleep)
            published += self.bus.publish_posts(chunk)
        with self.store.transaction() as conn:
            counted.quarantined += self.store.quarantine([*batch.rejected, *conflicts], conn)
            if batch.cursor is not None:
                self.store.save_cursor(source, batch.cursor, conn)
        counted.duplicates += len(posts) - published
        for name in ("read", "duplicates", "quarantined", "unmatched", "conflicts"):
            setattr(report, name, getattr(report, name) + getattr(counted, name))
        report.stored += published  # published: the classify workers store them

    def process_all(self, batches: Iterable[SourceBatch], *, source: str, assigned: str | None = None,
                    report: RunReport, after: Callable[[SourceBatch], None] | None = None) -> None:
        """``process`` each batch in order, calling ``after`` once each is published (``Pipeline``'s
        interface; there is no classification here to overlap)."""
        for batch in batches:
            self.process(batch, source=source, assigned=assigned, report=report)
            if after is not None:
                after(batch)

    def flush(self, until: datetime, report: RunReport, *, source: str = "clock") -> None:
        """Have the aggregate close every bucket that ends by ``until``."""
        self.bus.publish_flush(until, source)
