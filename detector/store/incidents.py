"""Reading incidents and their events as tables, for the dashboard, the report and the analysts' API.

``detector.store.alerts`` writes incidents (and reads them as ``Alert`` records for the alerting stage);
this module reads the same rows as the pages and the report show them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.frames import read_frame
from detector.store.store import Store

_a, _e = schema.alerts, schema.alert_events


def incident_row(store: Store, alert_id: str) -> dict[str, Any] | None:
    """Every column of incident ``alert_id``, or None when there is none."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(_a).where(_a.c.id == alert_id)).first()
    return dict(row._mapping) if row else None


def incident_frame(store: Store, service: str | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> pd.DataFrame:
    """Incidents (every column), newest opening first: of one service, overlapping [since, until) (opened
    before ``until``, not resolved before ``since``)."""
    query = sa.select(_a).order_by(_a.c.opened_at.desc())
    if service:
        query = query.where(_a.c.service == service)
    if until is not None:
        query = query.where(_a.c.opened_at < until)
    if since is not None:
        query = query.where(sa.or_(_a.c.resolved_at.is_(None), _a.c.resolved_at >= since))
    return read_frame(store, query)


def incident_states(store: Store) -> pd.DataFrame:
    """id, service, status, severity, opened_at, resolved_at and peak_ratio of every incident, oldest
    first (what the overview's states are made of)."""
    return read_frame(store, sa.select(_a.c.id, _a.c.service, _a.c.status, _a.c.severity, _a.c.opened_at,
                                       _a.c.resolved_at, _a.c.peak_ratio).order_by(_a.c.opened_at))


def event_frame(store: Store, alert_id: str) -> pd.DataFrame:
    """The incident's events in the order they were recorded: at, kind and detail (a JSON object or None)."""
    return read_frame(store, sa.select(_e.c.at, _e.c.kind, _e.c.detail).where(_e.c.alert_id == alert_id)
                      .order_by(_e.c.id))


def incident_table(store: Store, service: str | None = None, opened_since: datetime | None = None) -> pd.DataFrame:
    """Every column of the incidents, oldest opening first: of one service, opened at or after
    ``opened_since``."""
    query = sa.select(_a).order_by(_a.c.opened_at)
    if service:
        query = query.where(_a.c.service == service)
    if opened_since:
        query = query.where(_a.c.opened_at >= opened_since)
    return read_frame(store, query)
