"""The ingest role: read sources, keep posts about watched services that are not stored yet, publish them.

Publishing is idempotent (the bus keeps a ledger of post keys), so a batch re-read after a crash between
publishing and saving the source's cursor is not published twice. Ingest waits while too many posts are
in flight (backpressure). At the end of a finite source it publishes a flush mark, so the aggregate closes
the last buckets exactly where the single process does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterator

from detector.pipeline import PostSelector, RunReport
from detector.pseudonym import Pseudonymiser, key_file_for, load_or_create_key
from detector.sources.base import Source, SourceBatch
from detector.sources.replay import ReplaySource
from detector.sources.replay_settings import ReplaySettings
from detector.workers.base import Worker

log = logging.getLogger("detector.workers.ingest")

CHUNK = 500  # posts per publish call: keeps each Lua call short so Redis stays responsive


class IngestWorker(Worker):
    """Publishes the configured (recorded) sources to the bus, then stops."""

    role = "ingest"

    def __init__(self, conn, *, name: str | None = None, resume: bool = True, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        settings = conn.settings
        self.selector = PostSelector(self.store, [s.rule() for s in settings.services])
        key = load_or_create_key(conn.secrets.get("pseudonym_key"), key_file_for(settings.db))
        self.pseudonymiser = Pseudonymiser(key)
        self.report = RunReport()
        self.resume = resume
        self._jobs = self._batches()
        self._retry: tuple[Source, str | None, SourceBatch | None] | None = None
        self._last: datetime | None = None  # the latest post time of the current source, for its flush
        self._done = False
        self.bus.ensure_groups()

    def sources(self) -> list[tuple[Source, str | None]]:
        """The configured sources this role can read, with the service each assigns posts to."""
        out: list[tuple[Source, str | None]] = []
        for source_settings in self.conn.settings.sources:
            if isinstance(source_settings, ReplaySettings):
                out.append((ReplaySource(source_settings, self.pseudonymiser), source_settings.service))
            else:
                log.warning("ingest: source %s (%s) is polled by `detector run`, not by this worker",
                            source_settings.name, getattr(source_settings, "type", "?"))
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
        if self._retry is not None:
            source, assigned, batch = self._retry
        else:
            try:
                source, assigned, batch = next(self._jobs)
            except StopIteration:
                self._done = True
                return False
        self._retry = (source, assigned, batch)  # kept until done, so an outage mid-publish redoes it
        if batch is None:
            if self._last is not None:
                self.bus.publish_flush(self._last, source.name)
            self._last = None
        else:
            self.publish(batch, source=source.name, assigned=assigned)
        self._retry = None
        return True

    def publish(self, batch: SourceBatch, *, source: str, assigned: str | None) -> int:
        """Publish one batch's new posts, then record the batch's rejected rows and the source's cursor."""
        counted = RunReport()
        posts = self.selector.select(batch, assigned=assigned, report=counted)
        published = 0
        for i in range(0, len(posts), CHUNK):
            chunk = posts[i : i + CHUNK]
            self.bus.wait_for_room(len(chunk), sleep=self.sleep)
            published += self.bus.publish_posts(chunk)
        with self.store.engine.begin() as conn:
            counted.quarantined += self.store.quarantine(batch.rejected, conn)
            if batch.cursor is not None:
                self.store.save_cursor(source, batch.cursor, conn)
        if batch.posts:
            latest = max(p.created_at for p in batch.posts)
            self._last = latest if self._last is None else max(self._last, latest)
        counted.duplicates += len(posts) - published
        for name in ("read", "duplicates", "quarantined", "unmatched"):
            setattr(self.report, name, getattr(self.report, name) + getattr(counted, name))
        self.report.stored += published
        return published
