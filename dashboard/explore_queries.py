"""The analysts' queries as the Explore page shows them: posts narrowed by service, source, label, time and
text, a page at a time, in full for download, per hour, and the labelling queue (least certain first).

The SQL is ``detector.store.post_search``'s (and ``labels``'); this module shapes its rows into the page's
tables. Read-only, like the dashboard's.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from detector.records import text_fingerprint
from detector.store import labels as stored_labels, post_search
from detector.store.post_search import LABEL_FILTERS, PostFilter  # noqa: F401 (the page's filter record)
from detector.store.posts import with_links
from detector.store.store import Store

QUEUE_CANDIDATES = 5000
COUNT_CAP = 100_000
CHART_CAP = 20_000  # Explore's chart counts the newest this many (0.15 s on 1M posts; 100,000 took 0.7 s)


def count_posts(store: Store, flt: PostFilter, cap: int | None = None) -> int:
    """How many posts match; with ``cap``, counting stops at cap + 1 (the page shows "cap+")."""
    return post_search.count_posts(store, flt, cap)


def posts_over_time(store: Store, flt: PostFilter, cap: int = CHART_CAP) -> pd.DataFrame:
    """The filtered posts per hour (per day when they span more than a week): ``start``, ``posts`` and
    ``complaints``, for Explore's chart. Counts the newest ``cap`` posts at most, so a page costs one
    grouped query; empty hours (or days) are rows of zeros."""
    frame = post_search.hourly_counts(store, flt, cap)
    if frame.empty:
        return pd.DataFrame(columns=["start", "posts", "complaints"])
    frame["start"] = pd.to_datetime(frame["hour"].str.replace("T", " ") + ":00", utc=True)
    frame = frame.groupby("start")[["posts", "complaints"]].sum().astype(int)
    step = "1h" if frame.index.max() - frame.index.min() <= pd.Timedelta(days=7) else "1D"
    frame = frame.resample(step).sum()  # also fills the empty hours (or days) with zeros
    return frame.rename_axis("start").reset_index()


def page_of_posts(store: Store, flt: PostFilter, page: int = 0, size: int = 100) -> pd.DataFrame:
    """One page of the filtered posts, newest first, with their links."""
    frame = with_links(post_search.page_of_posts(store, flt, page, size))
    if not frame.empty:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def export_posts(store: Store, flt: PostFilter, limit: int | None = None) -> pd.DataFrame:
    """All the filtered posts in time order (the columns of `detector export`), for CSV and Parquet."""
    frame = post_search.matching_posts(store, flt, limit)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def sources(store: Store) -> list[str]:
    """Source names."""
    return post_search.source_names(store)


def labelling_queue(store: Store, flt: PostFilter, task: str = "complaint", size: int = 5,
                    candidates: int = QUEUE_CANDIDATES) -> pd.DataFrame:
    """Posts not yet labelled for ``task`` that the classifier is least sure about (complaint probability
    nearest 0.5), among the newest ``candidates`` matching posts (so the queue costs the same at any size).

    A text appears once: copies of one post (reposts, copy-paste campaigns) would ask for the same label
    several times, so only the first of each text (case and spacing folded) is queued."""
    frame = post_search.least_certain(store, flt, task, size * 10, candidates)
    if not frame.empty:
        frame = frame.assign(_fp=frame["text"].map(text_fingerprint)).drop_duplicates("post_id")
        frame = frame.drop_duplicates("_fp").drop(columns="_fp").head(size).reset_index(drop=True)
    return with_links(frame)


def labels(store: Store, post_ids: Iterable[int]) -> pd.DataFrame:
    """The labels of these posts: post_id, task, label, labeller, at."""
    return stored_labels.labels_of(store, post_ids)
