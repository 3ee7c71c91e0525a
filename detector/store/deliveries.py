"""Reading what became of an incident's notifications (the ``outbox``), per channel and state.

``detector.store.alerts`` writes the outbox and claims and marks deliveries; this module only counts them.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.frames import read_frame
from detector.store.store import Store


def delivery_counts(store: Store, alert_id: str) -> pd.DataFrame:
    """Per (channel, status) of the incident's notifications: how many (``n``), the most attempts one took
    and the latest error text (channels mask their secrets before an error is stored)."""
    o = schema.outbox
    query = (
        sa.select(o.c.channel, o.c.status, sa.func.count().label("n"), sa.func.max(o.c.attempts).label("attempts"),
                  sa.func.max(o.c.last_error).label("last_error"))
        .where(o.c.alert_id == alert_id).group_by(o.c.channel, o.c.status)
    )
    return read_frame(store, query)
