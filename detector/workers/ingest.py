"""The ingest role: read sources, keep posts about watched services that are not stored yet, publish them.

``BusPipeline`` has the interface of ``Pipeline`` (``process`` a source batch, ``flush`` up to a time) but
publishes to the bus instead of classifying in process: the ingest worker feeds it recorded files, and a
live runner (`detector run` with a ``[bus]``) can feed it its polls unchanged (``distributed_system``).
Publishing is idempotent (the bus keeps a ledger of post keys), so a batch re-read after a crash between
publishing and saving the source's cursor is not published twice; it waits while too many posts are in
flight (backpressure). At the end of a recorded source the worker publishes a flush mark, so the aggregate
closes the last buckets exactly where the single process does.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator

from detector.bus.streams import RedisBus
from detector.sources.matching import ServiceRule
from detector.pipeline import PostSelector, RunReport
from detector.pseudonym import Pseudonymiser, key_file_for, load_or_create_key
from detector.sources.base import Source, SourceBatch
from detector.sources.replay import ReplaySettings, ReplaySource
from detector.store.store import Store
from detector.workers.base import Worker

log = logging.getLogger("detector.workers.ingest")

CHUNK = 500  # posts per publish call: keeps each Lua call short so Redis stays responsive


class BusPipeline:
    """Where a source's batches go in a distributed deployment: matched, deduplicated, published."""

    classifier = None  # classification happens in the classify workers

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
        with self.store.engine.begin() as conn:
            counted.quarantined += self.store.quarantine([*batch.rejected, *conflicts], conn)
            if batch.cursor is not None:
                self.store.save_cursor(source, batch.cursor, conn)
        counted.duplicates += len(posts) - published
        for name in ("read", "duplicates", "quarantined", "unmatched", "conflicts"):
            setattr(report, name, getattr(report, name) + getattr(counted, name))
        report.stored += published  # published: the classify workers store them

    def flush(self, until: datetime, report: RunReport, *, source: str = "clock") -> None:
        """Have the aggregate close every bucket that ends by ``until``."""
        self.bus.publish_flush(until, source)


def distributed_system(system, conn, *, name: str, deliver: bool = True):
    """Turn a single-process ``System`` (from ``build_system``) into the ingest side of a distributed
    deployment: batches go to the bus, and notifications are delivered only while this process holds the
    alert lease (``deliver``) or never (when alert workers deliver). `detector run` with a [bus] uses it."""
    from detector.workers.alert import LeasedSender, NoDelivery
    from detector.store.leases import Lease

    system.pipeline = BusPipeline(system.store, conn.bus, [s.rule() for s in system.settings.services],
                                  system.settings.detection.bucket_width)
    if deliver:
        lease = Lease(system.store.engine, "alert", name, conn.bus_settings.lease_seconds)
        system.sender = LeasedSender(system.sender, lease)
    else:
        system.sender = NoDelivery()
    return system


class IngestWorker(Worker):
    """Publishes the configured recorded sources to the bus, then stops."""

    role = "ingest"

    def __init__(self, conn, *, name: str | None = None, resume: bool = True, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        settings = conn.settings
        self.pipeline = BusPipeline(self.store, self.bus, [s.rule() for s in settings.services],
                                    settings.detection.bucket_width, sleep=self.sleep)
        key = load_or_create_key(conn.secrets.get("pseudonym_key"), key_file_for(settings.db))
        self.pseudonymiser = Pseudonymiser(key)
        self.report = RunReport()
        self.resume = resume
        self._jobs = self._batches()
        self._retry: tuple[Source, str | None, SourceBatch | None] | None = None
        self._last: datetime | None = None  # the latest post time of the current source, for its flush
        self._done = False

    def sources(self) -> list[tuple[Source, str | None]]:
        """The configured recorded sources, with the service each assigns posts to."""
        out: list[tuple[Source, str | None]] = []
        for source_settings in self.conn.settings.sources:
            if isinstance(source_settings, ReplaySettings):
                out.append((ReplaySource(source_settings, self.pseudonymiser), source_settings.service))
        return out

    def _batches(self) -> Iterator[tuple[Source, str | None, SourceBatch | None]]:
        for source, assigned in self.sources():
            cursor = self.store.cursor(source.name) if self.resume else None
            for batch in source.batches(cursor):
                yield source, assigned, batch
            yield source, assigned, None  # the end of this source

    def finished(self) -> bool:
        return self._done

    def step(self) -> bool:
        if self._retry is None:
            try:
                self._retry = next(self._jobs)
            except StopIteration:
                self._done = True
                return False
        source, assigned, batch = self._retry  # kept until done, so an outage mid-publish redoes it
        if batch is None:
            if self._last is not None:
                self.pipeline.flush(self._last, self.report, source=source.name)
            self._last = None
        else:
            self.pipeline.process(batch, source=source.name, assigned=assigned, report=self.report)
            if batch.posts:
                latest = max(p.created_at for p in batch.posts)
                self._last = latest if self._last is None else max(self._last, latest)
        self._retry = None
        return True
