"""`detector run`: every configured source polled on its own schedule, through one pipeline, until stopped.

Fetching and writing are split. A source that is due is fetched in a small pool of threads (``[run]
fetch_threads``), so a slow or hanging API, which may take its whole timeout, does not hold up the others.
Everything else happens on the loop's own thread, because SQLite has one writer and a poll's batches
must reach the store in order: it reads a source's cursor before the fetch, feeds the fetched batches to
the pipeline, closes quiet minutes with the wall clock (less the allowed lateness, so posts an API
indexes a little late still count live), delivers due notifications, and sleeps until the next source is
due or a fetch comes back. A source is never fetched twice at once. A stop request (SIGTERM) lets the
fetches in hand finish and processes them to their last batch, so nothing fetched is lost; each source
resumes from its stored cursor next time, so a crash loses nothing either.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_any
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from detector.runtime.metrics import Metrics
from detector.runtime.settings import RunSettings
from detector.pipeline import RunReport
from detector.runtime.assembly import System
from detector.sources.base import Source, SourceBatch
from detector.store.alerts import open_counts
from detector.store.deliveries import outbox_counts
from detector.store.official import save_official
from detector.timefloor import floor_time

log = logging.getLogger("detector.live")

_FETCH_POLL_SECONDS = 0.25  # while fetches are out, how often the loop looks at the stop request


@dataclass
class Job:
    """One source the scheduler polls (of posts, or a status page), and when it is due next."""

    source: Source
    assigned: str | None = None
    due: float = 0.0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.source.name

    def allowed_seconds(self, tick_seconds: float) -> float | None:
        """How long this source may go without completing a poll before /healthz calls it failing: its
        interval (jittered by up to a tenth) plus its deadline (a request's whole-answer deadline, three
        timeouts as PoliteClient sets it, and the scheduler's tick it may wait to be noticed). ``None`` when the source has no interval (it is not judged by time)."""
        settings = getattr(self.source, "settings", None)
        interval = getattr(settings, "interval_seconds", None)
        if interval is None:
            return None
        return 1.1 * float(interval) + 3 * float(getattr(settings, "timeout_seconds", 0.0)) + tick_seconds


class LiveRunner:
    """Polls jobs when due, feeds the pipeline, flushes with the wall clock, delivers, until ``stop``."""

    def __init__(
        self,
        system: System,
        jobs: Sequence[Job],
        settings: RunSettings,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        stop: threading.Event | None = None,
        wait: Callable[[float], Any] | None = None,
    ) -> None:
        self.system = system
        self.jobs = list(jobs)
        self.settings = settings
        self.clock = clock
        self.metrics = metrics or Metrics(clock)
        self.stop = stop or threading.Event()
        self.wait = wait or self.stop.wait
        self.report = RunReport()
        self._flushed_to: datetime | None = None
        for job in self.jobs:
            self.metrics.watch(job.name, job.allowed_seconds(settings.tick_seconds))

    # -- the loop -----------------------------------------------------------------------------------
    def run(self) -> RunReport:
        """Run until ``stop`` is set; then finish the fetches in hand, process them, flush, deliver, return."""
        log.info("running %d source(s): %s", len(self.jobs), ", ".join(j.name for j in self.jobs))
        threads = max(1, min(self.settings.fetch_threads, len(self.jobs)))
        fetching: dict[Future, Job] = {}
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fetch") as pool:
            while not self.stop.is_set():
                now = self.clock()
                busy = set(map(id, fetching.values()))
                for job in self.jobs:
                    if job.due <= now and id(job) not in busy:
                        fetching[pool.submit(self._fetch, job, self._cursor(job))] = job
                finished = [future for future in fetching if future.done()]
                for future in finished:
                    self.poll(fetching.pop(future), future)
                self.tick()
                if finished:
                    continue  # what it brought may have made others due, or the clock moved on
                busy = set(map(id, fetching.values()))
                idle = [j for j in self.jobs if id(j) not in busy]
                next_due = min((j.due for j in idle), default=None)
                pause = self.settings.tick_seconds if next_due is None else min(next_due - now,
                                                                                self.settings.tick_seconds)
                if fetching:  # wake when a fetch comes back; look at the stop request a few times a second
                    wait_for_any(list(fetching), timeout=min(max(pause, 0.0), _FETCH_POLL_SECONDS),
                                 return_when=FIRST_COMPLETED)
                else:
                    self.wait(max(pause, 0.0))
            for future, job in list(fetching.items()):  # drain: what was fetched is processed, not dropped
                self.poll(job, future)
        self.tick()
        log.info("stopped: %s", self.report.summary())
        return self.report

    def run_once(self) -> RunReport:
        """Poll every job once, flush and deliver: for cron jobs and checks."""
        for job in self.jobs:
            self.poll(job)
        self.tick()
        return self.report

    def tick(self) -> None:
        """Close the minutes the wall clock (less the allowed lateness) has passed; deliver; refresh gauges."""
        now = self.clock()
        until = floor_time(datetime.fromtimestamp(now - self.settings.allowed_lateness_seconds, timezone.utc),
                           self.system.pipeline.width)
        if self._flushed_to is None or until > self._flushed_to:
            flushed = RunReport()
            self.system.pipeline.flush(until, flushed)
            self.report.add(flushed)
            self._flushed_to = until
        delivery = self.system.sender.deliver_due()
        failures = delivery.retrying + delivery.dead
        if failures:
            self.metrics.inc("detector_delivery_failures_total", failures)
        self._refresh_gauges(now)
        self.metrics.beat()

    # -- one poll -----------------------------------------------------------------------------------
    def _cursor(self, job: Job) -> str | None:
        return self.system.store.cursor(job.name)

    @staticmethod
    def _fetch(job: Job, cursor: str | None) -> list:
        """On a fetch thread: the whole poll, the source's batches from ``cursor``. Touches only the
        source, never the store."""
        return list(job.source.batches(cursor))

    def poll(self, job: Job, fetched: Future | None = None) -> None:
        """Process one poll of ``job``: what a fetch thread brought back (``fetched``), or fetch it here.
        Every source is handled alike: its batches go to the pipeline (posts and their cursor) and the
        store (a status page's incidents), and a polled source's ``last`` says how the poll went and when to
        poll again."""
        source, name = job.source, job.name
        before = RunReport()
        official = 0

        def stored(batch: SourceBatch) -> None:
            nonlocal official
            # a status page's incidents: stored here, whichever pipeline (in process, or the bus) takes posts
            official += save_official(self.system.store, batch.official)

        try:
            batches = fetched.result() if fetched is not None else source.batches(self._cursor(job))
            self.system.pipeline.process_all(batches, source=name, assigned=job.assigned, report=before,
                                             after=stored)
        except Exception as error:  # a source bug must not stop the others; it is retried with backoff
            log.error("source %s failed: %s", name, self.system.secrets.mask(f"{type(error).__name__}: {error}"))
            job.due = self.clock() + self.settings.error_wait_seconds
            self._count(name, before, ok=False, kind="crash", error=str(error))
            return
        self.report.add(before)  # counts only: the run's report must not grow with its stream
        if official:
            self.metrics.inc("detector_official_incidents_seen_total", official, source=name)
        result = source.last
        if result is not None:
            job.due = self.clock() + result.wait
            self.metrics.inc("detector_source_requests_total", result.requests, source=name)
            if result.gaps:
                self.metrics.inc("detector_source_gaps_total", result.gaps, source=name)
            if result.newest is not None:
                job.state["newest"] = max(job.state.get("newest", 0.0), result.newest)
            self._count(name, before, ok=result.error is None, kind=result.kind, error=result.error)
        else:
            job.due = self.clock() + self.settings.tick_seconds
            self._count(name, before, ok=True)

    def _count(self, name: str, report: RunReport, *, ok: bool, kind: str | None = None, error: str | None = None) -> None:
        m = self.metrics
        m.inc("detector_posts_read_total", report.read, source=name)
        m.inc("detector_posts_stored_total", report.stored, source=name)
        m.inc("detector_posts_duplicate_total", report.duplicates, source=name)
        m.inc("detector_posts_quarantined_total", report.quarantined, source=name)
        m.inc("detector_source_polls_total", source=name, outcome="ok" if ok else "error")
        now = self.clock()
        entry = m.sources.setdefault(name, {})
        entry["last_poll"] = now
        if ok:
            m.set("detector_source_last_success_timestamp_seconds", now, source=name)
            entry["last_success"] = now
            entry.pop("last_error", None)
        else:
            m.inc("detector_source_errors_total", source=name, kind=kind or "error")
            entry["last_error"] = self.system.secrets.mask(error or kind or "error")[:300]

    def _refresh_gauges(self, now: float) -> None:
        for job in self.jobs:
            if "newest" in job.state:
                self.metrics.set("detector_source_lag_seconds", max(0.0, now - job.state["newest"]), source=job.name)
            self.metrics.sources.setdefault(job.name, {})["next_poll_in"] = round(max(0.0, job.due - now), 1)
        store = self.system.store
        services = {s.name for s in self.system.settings.services}
        opened = {((("service", service),)): 0.0 for service in services}
        opened.update({(("service", service),): float(count) for service, count in open_counts(store).items()})
        self.metrics.replace("detector_open_incidents", opened)
        self.metrics.replace("detector_outbox_notifications",
                             {(("status", status),): float(count) for status, count in outbox_counts(store).items()})


def build_jobs(system: System, **options: Any) -> list[Job]:
    """One job per configured source (and per implied status page), each built by the module that declares
    its type (``sources.registry``), with searches left empty filled from the watched services' terms."""
    from detector.sources.registry import KINDS
    from detector.status.pages import implied_status_pages

    implied = implied_status_pages(system.settings) if system.settings.run.status_pages else []
    jobs: list[Job] = []
    for settings in [*system.settings.sources, *implied]:
        build = KINDS[settings.type].build
        if build is None:
            log.warning("skipping %s source %s: it is not polled live (`detector replay` reads recorded files)",
                        settings.type, settings.name)
            continue
        settings = settings.for_services(system.settings.services)
        jobs.append(Job(build(settings, system.pseudonymiser, system.secrets, **options), settings.service))
    return jobs


def close_jobs(jobs: Sequence[Job]) -> None:
    for job in jobs:
        job.source.close()
