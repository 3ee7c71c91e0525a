"""The ingest role: read sources, keep posts about watched services that are not stored yet, publish them.

The worker feeds the configured recorded files to the ingest role's pipeline (``bus/publish.py``'s
``BusPipeline``, from `build_system(role="ingest")`); `detector worker ingest` on a config with live
sources runs the live runner over the same role instead. At the end of a recorded source the worker
publishes a flush mark, so the aggregate closes the last buckets exactly where the single process does.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterator

from detector.pipeline import RunReport
from detector.runtime.assembly import build_system
from detector.sources.base import Source, SourceBatch
from detector.sources.replay import ReplaySettings, ReplaySource
from detector.workers.base import Worker

log = logging.getLogger("detector.workers.ingest")


class IngestWorker(Worker):
    """Publishes the configured recorded sources to the bus, then stops."""

    role = "ingest"

    def __init__(self, conn, *, name: str | None = None, resume: bool = True, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        self.system = build_system(conn.settings, role="ingest", bus=conn, sleep=self.sleep)
        self.pipeline = self.system.pipeline
        self.pseudonymiser = self.system.pseudonymiser
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
