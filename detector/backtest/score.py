"""Scoring a budget's pages against the known incidents: the one place every backtest number is computed.

Definitions (the README and `detector backtest --help` repeat them):

- An incident's window is [start - margin, end]. A notification in it (an incident opened or surfaced from
  maintenance, or an open one reopened or escalated) **catches** the incident; the earliest is "our alert".
  The margin lets an alert tipped by the first reports, just before a start someone rounded, count; an
  escalation counts because an incident already open (say from an earlier false alert) that grows is how
  on-call hears of the outage.
- The **first report** is the earliest post in [start, end] that the detector's metric counted (for the
  default metric: a complaint from a person not already counted in the last hour).
- **Lead** = reference time - our alert, in minutes: positive when we were earlier. Over ``acknowledged_at``
  (incidents with one) and over the first report (usually negative: the delay after the first report).
  Median and worst (the smallest) over caught incidents.
- A **false alert** is a page that starts an incident (opened or surfaced) outside every window of its
  service. Per week: false alerts over the weeks of
  data outside the windows (from the service's first to its last stored post, less the windows).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any, Sequence

from detector.backtest.sweep import Page
from detector.backtest.truth import KnownIncident

WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class IncidentOutcome:
    """One known incident under one budget."""

    incident: KnownIncident
    first_report: datetime | None
    alert: datetime | None

    @property
    def caught(self) -> bool:
        return self.alert is not None

    @property
    def lead_ack_minutes(self) -> float | None:
        return _minutes(self.incident.acknowledged_at, self.alert)

    @property
    def lead_first_report_minutes(self) -> float | None:
        return _minutes(self.first_report, self.alert)


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """What one budget would have done over the whole file."""

    budget: float
    outcomes: tuple[IncidentOutcome, ...]
    pages: int
    false_alerts: int
    weeks_outside: float

    @property
    def caught(self) -> int:
        return sum(o.caught for o in self.outcomes)

    @property
    def false_alerts_per_week(self) -> float | None:
        return self.false_alerts / self.weeks_outside if self.weeks_outside > 0 else None

    def summary(self) -> dict[str, Any]:
        """The per-budget row printed, written as JSON and stored for the dashboard."""
        ack = [o.lead_ack_minutes for o in self.outcomes if o.lead_ack_minutes is not None]
        first = [o.lead_first_report_minutes for o in self.outcomes if o.lead_first_report_minutes is not None]
        return {
            "budget": self.budget,
            "caught": self.caught,
            "incidents": len(self.outcomes),
            "median_lead_ack_minutes": _round(median(ack)) if ack else None,
            "worst_lead_ack_minutes": _round(min(ack)) if ack else None,
            "caught_with_ack": len(ack),
            "median_lead_first_report_minutes": _round(median(first)) if first else None,
            "worst_lead_first_report_minutes": _round(min(first)) if first else None,
            "pages": self.pages,
            "false_alerts": self.false_alerts,
            "weeks_outside": _round(self.weeks_outside, 3),
            "false_alerts_per_week": None if self.false_alerts_per_week is None
            else _round(self.false_alerts_per_week, 3),
        }

    def incident_rows(self) -> list[dict[str, Any]]:
        """One row per known incident (for --out and --format json)."""
        return [{
            "budget": self.budget, "service": o.incident.service, "start": _iso(o.incident.start),
            "end": _iso(o.incident.end), "end_given": o.incident.end_given,
            "acknowledged_at": _iso(o.incident.acknowledged_at), "first_report": _iso(o.first_report),
            "alert": _iso(o.alert), "caught": o.caught,
            "lead_ack_minutes": _round(o.lead_ack_minutes), "lead_first_report_minutes": _round(o.lead_first_report_minutes),
        } for o in self.outcomes]


@dataclass(frozen=True, slots=True)
class Span:
    """The stretch of time a service's stored posts cover."""

    first: datetime
    last: datetime


def score_budget(budget: float, pages: Sequence[Page], incidents: Sequence[KnownIncident],
                 counted: dict[str, list[datetime]], spans: dict[str, Span], margin: timedelta) -> BudgetResult:
    """Match one budget's pages to the incidents of the services in ``spans`` (see the module doc)."""
    scored = [i for i in incidents if i.service in spans]
    outcomes = []
    for incident in scored:
        lo, hi = incident.start - margin, incident.end
        mine = [p.at for p in pages if p.service == incident.service and lo <= p.at <= hi]
        outcomes.append(IncidentOutcome(incident, _first_in(counted.get(incident.service, []), incident.start, hi),
                                        min(mine) if mine else None))
    false_alerts = sum(
        1 for p in pages if p.new and p.service in spans
        and not any(i.service == p.service and i.start - margin <= p.at <= i.end for i in scored))
    weeks = sum((_outside(spans[s], [i for i in scored if i.service == s], margin) for s in spans),
                timedelta(0)) / WEEK
    relevant = sum(1 for p in pages if p.new and p.service in spans)
    return BudgetResult(budget, tuple(outcomes), relevant, false_alerts, weeks)


def _first_in(times: list[datetime], lo: datetime, hi: datetime) -> datetime | None:
    index = bisect_left(times, lo)
    return times[index] if index < len(times) and times[index] <= hi else None


def _outside(span: Span, incidents: list[KnownIncident], margin: timedelta) -> timedelta:
    """How much of ``span`` lies outside every incident window (the windows' union, clipped to the span)."""
    covered, reach = timedelta(0), span.first
    for lo, hi in sorted((max(i.start - margin, span.first), min(i.end, span.last)) for i in incidents):
        lo = max(lo, reach)
        if hi > lo:
            covered += hi - lo
            reach = hi
    return span.last - span.first - covered


def _minutes(reference: datetime | None, alert: datetime | None) -> float | None:
    if reference is None or alert is None:
        return None
    return (reference - alert).total_seconds() / 60


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
