"""Polling status pages once, for commands that are not the long-running service (`detector replay
--status-pages`): the providers' incidents, with the times they were posted, go into the store, where
grouping and lead time read them as they read a running detector's."""

from __future__ import annotations

from typing import Sequence

from detector.status.base import StatusPageSettings
from detector.status.registry import build_status_source
from detector.store.official import save_official
from detector.store.store import Store


def poll_once(store: Store, pages: Sequence[StatusPageSettings]) -> tuple[int, list[str]]:
    """Read each page once and store its incidents; return (incidents stored, one line per page that failed)."""
    stored, failed = 0, []
    for page in pages:
        source = build_status_source(page)
        try:
            for batch in source.batches(None):
                stored += save_official(store, batch.official)
        finally:
            source.close()
        if source.last is not None and source.last.error is not None:
            failed.append(f"{page.name}: {source.last.error}")
    return stored, failed
