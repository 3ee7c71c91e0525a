"""How many minutes before (or after) the provider we were: each of our incidents beside the official one.

An official incident matches one of ours when it is for the same service and was posted within
``window`` of our opening (before or after). Among candidates the closest in time wins, and each official
incident is matched once, closest pairs first. Lead = official posted time - our opened time: positive
when we were first. Ours without a match are outages the provider never posted; theirs without a match
are the ones we missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Sequence

from detector.records import Alert
from detector.status.base import OfficialIncident


@dataclass(frozen=True, slots=True)
class LeadTime:
    """Our incident and the matched official incident (None when the provider never posted one)."""

    alert: Alert
    official: OfficialIncident | None

    @property
    def lead_minutes(self) -> float | None:
        if self.official is None:
            return None
        return (self.official.started_at - self.alert.opened_at).total_seconds() / 60.0


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
    alerts: Sequence[Alert], official: Sequence[OfficialIncident], window: timedelta = timedelta(hours=3)
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
