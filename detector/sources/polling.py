"""What every live source shares: streams read after a watermark, merged in time order, handed over in
batches whose cursor always marks exactly what was handed over.

A source names its streams (a subreddit's new posts, a hashtag, a search) and reads one stream at a time
back to its watermark; this base merges them, drops what was seen, sorts by time (the detectors need event
time to move forward), and yields batches. The cursor after a batch advances each stream only by the items
of that stream the batch held, so a crash after any batch re-reads nothing that was stored and skips
nothing that was not. One stream failing does not waste what the others read.
"""

from __future__ import annotations

import json
import logging
import random
import time
from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.secrets import Secrets
from detector.backoff import Backoff
from detector.sources.base import PollResult, Source, SourceBatch
from detector.sources.live_settings import LiveSourceSettings
from detector.sources.polite import (
    PoliteClient,
    MalformedResponse,
    RequestBudget,
    SeenSet,
    SourceUnavailable,
    Watermark,
    cursor_streams,
)

log = logging.getLogger("detector.sources")

# How far ahead of this machine's clock a post may be dated before it is quarantined: authors set their own
# times (Bluesky's createdAt) and a post dated two days ahead moved a cursor two days into the future.
FUTURE_SKEW_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Entry:
    """One item a stream returned: its id and time, and what it becomes (a Post, a Rejected, or None for
    an item that is read but not kept, such as a deleted comment)."""

    id: str
    t: float
    item: Post | Rejected | None


class PollingSource(Source):
    """A live source read stream by stream after per-stream watermarks; subclasses name the streams and
    read one of them."""

    def __init__(
        self,
        settings: LiveSourceSettings,
        pseudonymiser: Pseudonymiser,
        secrets: Secrets | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        batch_size: int = 200,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.pseudonymiser = pseudonymiser
        self.secrets = secrets or Secrets(environ={})
        self.clock = clock
        self.batch_size = batch_size
        self.budget = RequestBudget(settings.max_requests_per_minute, 60.0)
        self.backoff = Backoff(base=settings.backoff_seconds, cap=settings.max_backoff_seconds, rng=rng)
        self.seen = SeenSet(settings.seen_size)
        self.overlap = settings.overlap_minutes * 60.0
        self.defer_until: float | None = None  # a rate-limit reset the API announced (epoch seconds)
        self.last = PollResult(new=0, wait=0.0)
        self._gaps = 0

    # -- what a subclass provides -----------------------------------------------------------------------
    @abstractmethod
    def streams(self) -> list[str]:
        """The names of the streams this source reads each poll."""

    @abstractmethod
    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        """The stream's items newer than ``since`` (paginating back to it, within the API's depth)."""

    def requests_made(self) -> int:
        return 0

    def depth_reached(self, stream: str) -> None:
        """A stream read ``max_items`` without getting back to its watermark: what is older is skipped."""
        self._gaps += 1
        log.warning("source %s: %s: read %d items without reaching the last one seen; older items are skipped "
                    "(poll more often or raise max_items)", self.name, stream, self.settings.max_items)

    def close(self) -> None:
        """Release connections."""

    # -- the door every item passes -------------------------------------------------------------------
    def item_entry(self, convert: Callable[..., Entry], raw: Any, *args: Any, undated: float) -> Entry:
        """``convert(raw, *args)``, checked at the door; an item that breaks it costs only itself.

        A malformed item (an ``author`` that is a string, a time no calendar has) becomes a Rejected with its
        raw form instead of an exception that threw the whole poll away, every poll. So does a post dated
        ahead of our clock or too large to be a post. Rejected items sit at ``undated`` (the stream's
        watermark) so they can never move a cursor, or a detector, forward.
        """
        try:
            entry = convert(raw, *args)
        except Exception as error:  # noqa: BLE001 - any shape of bad item is the item's fault, not the poll's
            ref = _item_ref(raw)
            return Entry(ref, undated, Rejected(self.name, ref, f"malformed item ({type(error).__name__}: {error})"[:500],
                                                _raw_text(raw)))
        post = entry.item
        if not isinstance(post, Post):
            return entry
        ahead = post.created_at.timestamp() - self.clock()
        if ahead > FUTURE_SKEW_SECONDS:
            return Entry(entry.id, undated, Rejected(self.name, post.source_id, f"dated {ahead / 3600:.1f} h ahead of "
                                                     "this machine's clock", _raw_text(raw)))
        size = len(post.text.encode("utf-8", "replace"))
        if size > self.settings.max_text_bytes:
            return Entry(entry.id, entry.t, Rejected(self.name, post.source_id, f"absurd size: text of {size} bytes",
                                                     post.text[:500]))
        if "\x00" in post.text:
            return Entry(entry.id, entry.t, replace(post, text=post.text.replace("\x00", "")))
        return entry

    # -- the poll ---------------------------------------------------------------------------------------
    def author(self, name: str | None) -> str | None:
        return self.pseudonymiser.author(self.name, name) if name else None

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        state = cursor_streams(cursor)
        start = self.clock() - self.settings.backfill_minutes * 60.0
        marks = {s: Watermark.load(state.get(s)) or Watermark(start) for s in self.streams()}
        requests_before = self.requests_made()
        self._gaps = 0
        entries: list[tuple[str, Entry]] = []
        rejected_pages: list[Rejected] = []
        failure: SourceUnavailable | None = None
        for stream in marks:
            try:
                found = self.read_stream(stream, marks[stream])
            except MalformedResponse as error:
                rejected_pages.append(Rejected(self.name, error.url[:256], str(error), error.raw))
                failure = SourceUnavailable(f"{stream}: {error}", kind="malformed")
                continue
            except SourceUnavailable as error:
                failure = error
                log.warning("source %s: %s: %s", self.name, stream, error)
                if error.kind in ("rate_limited", "budget", "auth"):
                    break
                continue
            entries += [(stream, e) for e in found if marks[stream].is_new(e.id, e.t, self.overlap)]

        entries.sort(key=lambda pair: pair[1].t)
        new = 0
        newest: float | None = None
        first = True
        for i in range(0, max(len(entries), 1), self.batch_size):
            chunk = entries[i : i + self.batch_size]
            posts, rejected = [], list(rejected_pages) if first else []
            taken: dict[str, list[tuple[str, float]]] = {}
            for stream, entry in chunk:
                taken.setdefault(stream, []).append((entry.id, entry.t))
                if not self.seen.add(entry.id):
                    continue
                if isinstance(entry.item, Post):
                    posts.append(entry.item)
                elif isinstance(entry.item, Rejected):
                    rejected.append(entry.item)
            for stream, items in taken.items():
                marks[stream] = marks[stream].advanced(items, self.overlap)
            new += len(posts)
            if posts:
                newest = max(newest or 0.0, max(p.created_at.timestamp() for p in posts))
            cursor = json.dumps({s: m.dump() for s, m in marks.items()}, separators=(",", ":"))
            yield SourceBatch(tuple(posts), tuple(rejected), cursor=cursor, read=len(chunk) + len(rejected_pages) * first)
            first = False
        self.last = self._result(new, failure, self.requests_made() - requests_before, newest)

    def _result(self, new: int, failure: SourceUnavailable | None, requests: int, newest: float | None) -> PollResult:
        interval = self.settings.interval_seconds
        if failure is None:
            wait = self.backoff.quiet(interval)
            if new:
                self.backoff.reset()
        else:
            wait = max(failure.wait if failure.wait is not None else 0.0, self.backoff.failed())
            if new:  # some streams worked: new items reset the backoff, but honour what the server asked
                self.backoff.reset()
                wait = max(failure.wait or 0.0, interval)
        if self.defer_until is not None:
            wait = max(wait, self.defer_until - self.clock())
        return PollResult(new=new, wait=wait, error=None if failure is None else str(failure),
                          kind=None if failure is None else failure.kind, requests=requests, newest=newest,
                          gaps=self._gaps)


class HttpPollingSource(PollingSource):
    """A polling source that speaks HTTP through one polite client, whose requests spend the source's budget."""

    accept: str | None = None  # the Accept header this API wants, if any

    def __init__(self, settings: LiveSourceSettings, pseudonymiser: Pseudonymiser, secrets: Secrets | None = None,
                 **kwargs) -> None:
        super().__init__(settings, pseudonymiser, secrets, **kwargs)
        self.client = PoliteClient(
            settings.name, timeout=settings.timeout_seconds, budget=self.budget, contact=settings.contact,
            headers={"Accept": self.accept} if self.accept else None,
        )

    def requests_made(self) -> int:
        return self.client.requests

    def close(self) -> None:
        self.client.close()


def _item_ref(raw: Any) -> str:
    for key in ("uri", "id", "objectID", "fullname", "link"):
        value = raw.get(key) if isinstance(raw, dict) else getattr(raw, key, None)
        if isinstance(value, (str, int)) and str(value):
            return str(value)[:256]
    return "item"


def _raw_text(raw: Any) -> str:
    try:
        text = json.dumps(raw, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(raw)
    return text[:4000].replace("\x00", "")
