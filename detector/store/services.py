"""The service names a database knows: those with counted posts, incidents or silences."""

from __future__ import annotations

import sqlalchemy as sa

from detector.store import schema
from detector.store.store import Store


def stored_services(store: Store) -> set[str]:
    """Every service name in buckets, alerts or silences (one DISTINCT walk of each table's service index)."""
    names: set[str] = set()
    with store.engine.connect() as conn:
        for table in (schema.buckets, schema.alerts, schema.silences):
            names |= {r[0] for r in conn.execute(sa.select(table.c.service).distinct()) if r[0]}
    names.discard("*")
    return names
