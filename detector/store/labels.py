"""Analysts' labels (``labels``): one row per (post, task), the latest label winning; `detector train`
reads them as training data."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.database import upsert
from detector.store.frames import read_frame
from detector.store.store import Store

LABEL_COLUMNS = ["post_id", "task", "label", "labeller", "at"]


def save_labels(store: Store, post_id: int, labels: Mapping[str, str], labeller: str, at: datetime) -> int:
    """Write (or replace) ``labeller``'s labels for one post, one row per task (empty labels skipped);
    return how many rows were written."""
    rows = [{"post_id": int(post_id), "task": task, "label": str(label), "labeller": labeller, "at": at}
            for task, label in labels.items() if label not in (None, "")]
    if not rows:
        return 0
    stmt = upsert(store.engine.dialect.name, schema.labels, ("post_id", "task"), ("label", "labeller", "at"))
    with store.engine.begin() as conn:
        conn.execute(stmt, rows)
    return len(rows)


def labels_of(store: Store, post_ids: Iterable[int]) -> pd.DataFrame:
    """The labels of these posts: post_id, task, label, labeller, at."""
    ids = [int(i) for i in post_ids]
    if not ids:
        return pd.DataFrame(columns=LABEL_COLUMNS)
    lab = schema.labels
    return read_frame(store, sa.select(*(lab.c[name] for name in LABEL_COLUMNS)).where(lab.c.post_id.in_(ids)))
