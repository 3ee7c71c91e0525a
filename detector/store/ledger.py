"""What routing asks of the record before a change is written: an incident's or a cascade's stored status,
the channels that heard of it, the silence covering a service.

Read inside the batch's transaction, so each change sees the ones the same batch wrote before it.
"""

from __future__ import annotations

from datetime import datetime

from detector.store.alerts import incident_status
from detector.store.cascades import cascade_status
from detector.store.deliveries import notified_channels
from detector.store.silences import active_silence
from detector.store.store import Transaction


class Ledger:
    """The record as ``detector.alerting.routing`` reads it, bound to one transaction."""

    def __init__(self, conn: Transaction) -> None:
        self.conn = conn

    def status(self, alert_id: str) -> str | None:
        """The incident's stored status (None: not stored yet)."""
        return incident_status(self.conn, alert_id)

    def cascade_status(self, cascade_id: str) -> str | None:
        """The cascade's stored status (None: not stored yet)."""
        return cascade_status(self.conn, cascade_id)

    def heard(self, alert_id: str) -> set[str]:
        """Channels that were given (or are being given) news of this incident or cascade."""
        return notified_channels(self.conn, alert_id)

    def silence(self, service: str, at: datetime) -> str | None:
        """The silence covering ``service`` at ``at`` ("silence ID: reason"), else None."""
        return active_silence(self.conn, service, at)
