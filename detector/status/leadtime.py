"""How many minutes before (or after) the provider we were: each of our incidents beside the official one.

The one lead-time rule (`detector leadtime` and `detector report` both use ``lead_times``): an official
incident matches one of ours when it is for the same service and was posted within ``window`` of our
opening (before or after). Among candidates the closest in time wins, and each official incident is
matched once, closest pairs first. Lead = official posted time - our opened time: positive when we were
first. Ours without a match are outages the provider never posted; theirs without a match are the ones we
missed. Incidents opened during a silence or maintenance (``suppressed``) are left out: nobody was paged.

Why closest and not "the first official incident around ours": a provider often has an older incident
still open (or a second one posted later in the same hour), and the first one in time can belong to
another outage; pairing by the smallest distance, each official incident once, makes two of our
incidents unable to claim the same acknowledgement and gives the same answer whichever incident one asks
about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Sequence

from detector.records import Alert, OfficialIncident
from detector.store.alerts import load_alerts
from detector.store.official import load_official
from detector.store.store import Store

DEFAULT_WINDOW = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class LeadTime:
    """Our incident and the matched official incident (None when the provider never posted one)."""

    alert: Alert
    official: OfficialIncident | None

    @property
    def lead(self) -> timedelta | None:
        """How long before the provider's acknowledgement our alert fired (negative: after)."""
        return None if self.official is None else self.official.started_at - self.alert.opened_at

    @property
    def lead_minutes(self) -> float | None:
        return None if self.lead is None else self.lead.total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class LeadTimeReport:
    pairs: tuple[LeadTime, ...]
    missed: tuple[OfficialIncident, ...]  # official incidents none of ours matched

    @property
    def median_lead_minutes(self) -> float | None:
        leads = sorted(p.lead_minutes for p in self.pairs if p.lead_minutes is not None)
        if not leads:
            return None
        mid = len(leads) // 2
        return leads[mid] if len(leads) % 2 else (leads[mid - 1] + leads[mid]) / 2


def match_incidents(
    alerts: Sequence[Alert], official: Sequence[OfficialIncident], window: timedelta = DEFAULT_WINDOW
) -> LeadTimeReport:
    """Pair our incidents with the providers', closest first, each at most once."""
    candidates = sorted(
        (abs(o.started_at - a.opened_at), i, j)
        for i, a in enumerate(alerts)
        for j, o in enumerate(official)
        if o.service == a.service and abs(o.started_at - a.opened_at) <= window
    )
    chosen: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in candidates:
        if i not in chosen and j not in used:
            chosen[i] = j
            used.add(j)
    pairs = tuple(LeadTime(a, official[chosen[i]] if i in chosen else None) for i, a in enumerate(alerts))
    missed = tuple(o for j, o in enumerate(official) if j not in used)
    return LeadTimeReport(pairs, missed)


def lead_times(store: Store, service: str | None = None, window: timedelta = DEFAULT_WINDOW) -> LeadTimeReport:
    """Our stored incidents (not suppressed) of ``service`` (all when None), each beside the stored official
    incident it matches (``match_incidents``)."""
    alerts = [a for a in load_alerts(store, service=service) if not a.suppressed]
    return match_incidents(alerts, load_official(store, service=service), window)


def lead_of(store: Store, alert_id: str, service: str, window: timedelta = DEFAULT_WINDOW) -> LeadTime | None:
    """Incident ``alert_id``'s pairing as ``lead_times`` makes it (matching over all of the service's
    incidents, so the answer is the one `detector leadtime` prints); None for a suppressed incident."""
    return next((p for p in lead_times(store, service, window).pairs if p.alert.id == alert_id), None)
