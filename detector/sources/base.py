"""The source contract: batches of what was read after a cursor, and the cursor to resume from.

A source never decides what is a duplicate or what is stored: it hands over what it read, rejected rows
included, and the cursor that marks how far it got. The pipeline stores the posts and the cursor in order,
so a crash between the two re-reads a batch (deduplicated by the store) and never skips one. A status page
is a source like the others: its batch carries the provider's incidents as the page lists them now (no
cursor: the page is read whole each time). A source the scheduler polls again says how its last poll went
(``last``), and so when to poll next; a finite one (a replay) leaves it None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from detector.records import OfficialIncident, Post, Rejected


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """What one read produced: posts, rejected rows, how many rows were read, where to resume, and the
    official incidents a status page lists."""

    posts: tuple[Post, ...]
    rejected: tuple[Rejected, ...] = ()
    cursor: str | None = None
    read: int = 0
    official: tuple[OfficialIncident, ...] = ()


@dataclass(frozen=True, slots=True)
class PollResult:
    """How the last poll went, for the scheduler (when to poll again) and the metrics."""

    new: int
    wait: float
    error: str | None = None
    kind: str | None = None
    requests: int = 0
    newest: float | None = None  # time of the newest item handed over
    gaps: int = 0  # streams that hit max_items before reaching their watermark: older items may be missed


class Source(ABC):
    """A place posts come from: a recorded file, a social network's API, a status page."""

    name: str
    last: PollResult | None = None  # set by each poll of a polled source; None for a finite one

    @abstractmethod
    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        """Yield batches after ``cursor``. Finite: a replay ends at the file's end, a live source after
        one poll; the runner calls again for more. A polled source reports an API that failed in
        ``last`` (having yielded what it got before), rather than raising it; a bug still raises."""

    def close(self) -> None:
        """Release connections (nothing to release by default)."""


@dataclass(frozen=True, slots=True)
class SourceKind:
    """What a source module declares about itself: its settings class (whose ``type`` names it in
    ``[[sources]]``) and how `detector run` builds the source, ``build(settings, pseudonymiser, secrets,
    **options)``; ``build`` is None for a source that is not polled (a recorded file: `detector replay`)."""

    settings: type
    build: Callable[..., Source] | None
