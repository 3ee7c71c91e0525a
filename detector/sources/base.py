"""The source contract: batches of posts after a cursor, and the cursor to resume from.

A source never decides what is a duplicate or what is stored: it hands over what it read, rejected rows
included, and the cursor that marks how far it got. The pipeline stores the posts and the cursor in order,
so a crash between the two re-reads a batch (deduplicated by the store) and never skips one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from detector.records import Post, Rejected


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """What one read produced: posts, rejected rows, how many rows were read, and where to resume."""

    posts: tuple[Post, ...]
    rejected: tuple[Rejected, ...] = ()
    cursor: str | None = None
    read: int = 0


class Source(ABC):
    """A place posts come from: a recorded file, a social network's API, a status page."""

    name: str

    @abstractmethod
    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        """Yield batches after ``cursor``. Finite: a replay ends at the file's end, a live source after
        one poll; the runner calls again for more."""


@dataclass(frozen=True, slots=True)
class SourceKind:
    """What a source module declares about itself: its settings class (whose ``type`` names it in
    ``[[sources]]``) and how `detector run` builds the source, ``build(settings, pseudonymiser, secrets,
    **options)``; ``build`` is None for a source that is not polled (a recorded file: `detector replay`)."""

    settings: type
    build: Callable[..., Source] | None
