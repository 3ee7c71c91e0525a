"""Grouping incidents into cascades, and which notifications a cascade holds back (inhibition).

A pure state machine over incident changes in event-time order, like the alert manager, so a replay groups
exactly as live would have. Persisting and notifying are the pipeline's job.

**Links.** A service is *linked* to an upstream U when it declares ``depends_on = [U]`` or when at least
``naming_share`` of its recent reports also name U ("discord down, cloudflare again"); a report is what the
volume metric counts (an outage report by default, ``detector.records.report_field``). A service with no
link at all is *unlinked*.

**Grouping.** When a service incident opens, it
1. joins an open cascade whose latest onset is within ``window_minutes``, if the cascade's cause is one of
   its links, or if it is unlinked (timing alone is no evidence against the cause);
2. else forms a cascade with cause U, for the link U with the most support, when U has support besides
   this incident: U's official status-page incident overlaps it, U's own post spike is open, or another
   incident within the window is linked to U (unlinked incidents within the window join it);
3. else, when it is unlinked, forms an "unknown common cause" cascade with the other unlinked incidents
   that opened within the window.
Incidents whose links disagree (one depends on AWS and its posts name AWS, the other is linked only to
Azure) are never grouped.

**Confidence** is a sum of evidence terms, stated in advance (``confidence_terms``): the upstream's
official incident 0.35; its own post spike 0.15; the dependency declared 0.2 x the share of member services
that declare it; posts naming it 0.2 x min(1, mean naming share / 0.5); timing 0.1 x min(1, (n - 1) / 2)
for n member services. An unknown common cause gets timing only: 0.15 x (n - 1), at most 0.5.

**Inhibition** (Alertmanager's model, ``[alerts.inhibit]``): a member's own notifications are held back,
the cascade's one notification names every member. A new incident of a linked service waits
``group_wait_minutes`` for its cascade before it is paged alone; an unlinked one is paged at once (the
cascade's notification follows if others join it). An upstream's own incidents are never paged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Sequence

from detector.alerting.manager import AlertChange
from detector.alerting.settings import AlertSettings
from detector.records import SEVERITIES, Alert, Cascade, Member, OfficialIncident

UNKNOWN_CAUSE = "unknown common cause"


@dataclass(frozen=True, slots=True)
class CascadeChange:
    """Something that happened to a cascade: formed and joined (recorded), opened (its one notification,
    ``group_wait_minutes`` after the first member's onset so that members joining meanwhile are named),
    updated (recorded), resolved (notified when it was announced)."""

    kind: str
    cascade: Cascade
    at: datetime

    @property
    def notify(self) -> bool:
        return self.kind in ("opened", "resolved")


@dataclass
class Decision:
    """What to page now (per-service changes, including held ones released), what happened to cascades,
    and which incidents' changes were held back by a cascade (alert id -> cascade id)."""

    page: list[AlertChange] = field(default_factory=list)
    cascades: list[CascadeChange] = field(default_factory=list)
    inhibited: dict[str, str] = field(default_factory=dict)


@dataclass
class _Tracked:
    alert: Alert
    onset: datetime
    links: dict[str, tuple[bool, float]]  # upstream -> (declared, naming share)
    cascade: str | None = None
    paged: bool = False


def _official_record(o: OfficialIncident) -> dict[str, object]:
    return {"upstream": o.service, "source": o.source, "id": o.external_id, "title": o.title, "status": o.status,
            "url": o.url, "started_at": o.started_at.isoformat()}


def confidence_terms(*, official: bool, spike: bool, declared_share: float, naming_share: float,
                     services: int) -> dict[str, float]:
    """The evidence terms of a cascade with a named cause (see the module docstring); they sum to its
    confidence."""
    return {
        "official_incident": 0.35 if official else 0.0,
        "upstream_post_spike": 0.15 if spike else 0.0,
        "dependency_declared": round(0.2 * declared_share, 3),
        "posts_naming_it": round(0.2 * min(1.0, naming_share / 0.5), 3),
        "timing": round(0.1 * min(1.0, (services - 1) / 2), 3),
    }


def unknown_cause_confidence(services: int) -> float:
    return round(min(0.5, 0.15 * (services - 1)), 3)


def cascade_id(cause: str, onset: datetime) -> str:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", cause.casefold()).strip("-") or "cause"
    return f"cascade-{slug}-{onset:%Y%m%dT%H%M%S}Z"


class CascadeGrouper:
    """Groups service incidents into cascades and decides which changes are paged."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        depends_on: Mapping[str, Sequence[str]],
        upstreams: Iterable[str],
        official: Callable[[datetime, datetime], list[OfficialIncident]] = lambda since, until: [],
        known: Iterable[Cascade] = (),
        unannounced: Iterable[str] = (),
        unpaged: Iterable[Alert] = (),
    ) -> None:
        """``known``: the open cascades to resume; ``unannounced``: those of them whose notification was not
        made yet; ``unpaged``: open incidents of services with a dependency that no channel heard of and no
        cascade holds (a restart inside their group wait): they are held again, and paged if still alone."""
        self.settings = settings.cascades
        self.inhibit = settings.inhibit
        self.depends_on = {service: tuple(ups) for service, ups in depends_on.items()}
        self.upstreams = set(upstreams)
        self.official = official  # (since, until) -> the upstreams' status-page incidents posted then
        self.window = timedelta(minutes=self.settings.window_minutes)
        self.wait = timedelta(minutes=self.settings.group_wait_minutes)
        self._cascades: dict[str, Cascade] = {c.id: c for c in known if c.status != "resolved"}
        self._tracked: dict[str, _Tracked] = {}
        self._member_of: dict[str, str] = {}
        for cascade in self._cascades.values():
            for m in cascade.members:
                self._member_of[m.alert_id] = cascade.id
        self._held: dict[str, list[AlertChange]] = {}
        self._spikes: dict[str, Alert] = {}  # upstream -> its open post-spike incident
        self._naming: dict[str, deque[tuple[datetime, frozenset[str], str]]] = {}
        self._unsent: dict[str, datetime] = {}  # cascade id -> when its notification is due
        for cascade_id_ in unannounced:
            if cascade_id_ in self._cascades:
                self._unsent[cascade_id_] = self._cascades[cascade_id_].opened_at + self.wait
        self._restore = [a for a in unpaged if a.id not in self._member_of]
        self._official_cache: tuple[datetime | None, list[OfficialIncident]] = (None, [])

    # -- input -------------------------------------------------------------------------------------
    def note_post(self, services: Sequence[str], at: datetime, report: bool, key: str) -> None:
        """Remember which upstreams a report about a watched service names (``report``: the post is one of
        the metric's reports; posts naming only an upstream are the upstream's own signal, counted by the
        detector)."""
        if not report or not self.upstreams:
            return
        named = frozenset(s for s in services if s in self.upstreams)
        for service in services:
            if service in self.upstreams:
                continue
            recent = self._naming.setdefault(service, deque(maxlen=2000))
            recent.append((at, named, key))

    def naming(self, service: str, now: datetime) -> tuple[dict[str, float], dict[str, list[str]]]:
        """Per upstream, the share of ``service``'s recent reports naming it, and a few of those posts."""
        since = now - timedelta(minutes=self.settings.naming_minutes)
        recent = [r for r in self._naming.get(service, ()) if since <= r[0] <= now]
        if not recent:
            return {}, {}
        counts: dict[str, int] = {}
        keys: dict[str, list[str]] = {}
        for _, named, key in recent:
            for upstream in named:
                counts[upstream] = counts.get(upstream, 0) + 1
                if len(keys.setdefault(upstream, [])) < 5:
                    keys[upstream].append(key)
        return {u: c / len(recent) for u, c in counts.items()}, keys

    # -- the decision ------------------------------------------------------------------------------
    def decide(self, changes: Sequence[AlertChange], now: datetime) -> Decision:
        """Feed one batch's incident changes (event time ``now``); return what to page and what happened
        to cascades."""
        out = Decision()
        if self._restore:
            self._resume_held(now)
        for change in changes:  # each at its own time: a batch can span hours of a replay
            self._release(change.at, out)
            service = change.alert.service
            if service in self.upstreams:
                self._track_spike(change)
                continue
            cascade_id_ = self._member_of.get(change.alert.id)
            if cascade_id_ is not None:
                self._member_change(cascade_id_, change, out)
                continue
            if change.alert.id in self._held:
                self._held[change.alert.id].append(change)
                continue
            if change.kind != "opened" or not change.notify or not self.settings.enabled:
                out.page.append(change)
                continue
            tracked = self._track(change, change.at)
            if self._group(tracked, change.at, out):
                self._inhibit_or_page(tracked, change, out)
            elif tracked.links and self.wait > timedelta(0):
                self._held[change.alert.id] = [change]
            else:
                tracked.paged = True
                out.page.append(change)
        self._release(now, out)
        self._prune(now)
        return out

    def _resume_held(self, now: datetime) -> None:
        """Hold again what a restart interrupted (see ``__init__``); an incident opened more than an hour
        before the first event seen now is old news, not a page."""
        for alert in self._restore:
            if timedelta(0) <= now - alert.opened_at <= timedelta(hours=1):
                change = AlertChange("opened", alert, alert.opened_at)
                self._track(change, alert.opened_at)
                self._held[alert.id] = [change]
        self._restore = []

    def _track(self, change: AlertChange, now: datetime) -> _Tracked:
        service = change.alert.service
        shares, _ = self.naming(service, now)
        declared = set(self.depends_on.get(service, ()))
        links = {u: (u in declared, shares.get(u, 0.0)) for u in declared | set(shares)
                 if u in declared or shares.get(u, 0.0) >= self.settings.naming_share}
        tracked = self._tracked[change.alert.id] = _Tracked(change.alert, change.at, links)
        return tracked

    def _track_spike(self, change: AlertChange) -> None:
        if change.alert.status == "resolved":
            self._spikes.pop(change.alert.service, None)
        else:
            self._spikes[change.alert.service] = change.alert

    def _inhibit_or_page(self, tracked: _Tracked, change: AlertChange, out: Decision) -> None:
        if self._inhibits(change):
            out.inhibited[change.alert.id] = tracked.cascade or ""
        else:
            tracked.paged = True
            out.page.append(change)

    def _inhibits(self, change: AlertChange) -> bool:
        if not self.inhibit.enabled:
            return False
        floor = self.inhibit.except_severity
        return floor is None or SEVERITIES.index(change.alert.severity) < SEVERITIES.index(floor)

    def _member_change(self, cascade_id_: str, change: AlertChange, out: Decision) -> None:
        cascade = self._cascades.get(cascade_id_)
        if cascade is None:
            out.page.append(change)
            return
        members = tuple(replace(m, severity=change.alert.severity, status=change.alert.status)
                        if m.alert_id == change.alert.id else m for m in cascade.members)
        cascade = replace(cascade, members=members, updated_at=change.at)
        own = next(m for m in members if m.alert_id == change.alert.id)
        if own.paged or not self._inhibits(change):
            out.page.append(change)  # its channels heard of it: they hear the rest
        else:
            out.inhibited[change.alert.id] = cascade.id
        if all(m.status == "resolved" for m in members):
            cascade = replace(cascade, status="resolved", resolved_at=change.at)
            announced = self._unsent.pop(cascade.id, None) is None
            out.cascades.append(CascadeChange("resolved" if announced else "closed", cascade, change.at))
            del self._cascades[cascade.id]
            for m in members:
                self._member_of.pop(m.alert_id, None)
            return
        self._cascades[cascade.id] = cascade
        if change.kind == "escalated":
            out.cascades.append(CascadeChange("updated", cascade, change.at))

    # -- forming and joining -------------------------------------------------------------------------
    def _group(self, tracked: _Tracked, now: datetime, out: Decision) -> bool:
        """Put ``tracked`` into a cascade if the evidence allows; True when it is in one."""
        for cascade in sorted(self._cascades.values(), key=lambda c: c.opened_at, reverse=True):
            latest = max(m.onset for m in cascade.members)
            if cascade.status == "resolved" or tracked.onset - latest > self.window:
                continue
            if cascade.likely_cause in tracked.links or not tracked.links:
                self._join(cascade, [tracked], now, out, "joined")
                return True
        peers = [t for t in self._tracked.values()
                 if t is not tracked and t.cascade is None and abs(tracked.onset - t.onset) <= self.window]
        best: tuple[float, str, list[_Tracked], dict] | None = None
        for upstream in sorted(tracked.links):
            linked = [t for t in peers if upstream in t.links]
            official = self._official_for(upstream, tracked.onset, now)
            spike = self._spikes.get(upstream)
            if not (linked or official or spike):
                continue
            members = [tracked, *linked, *(t for t in peers if not t.links)]
            terms, evidence = self._evidence(upstream, members, official, spike, now)
            score = sum(terms.values())
            if best is None or score > best[0]:
                best = (score, upstream, members, evidence)
        if best is not None:
            self._form(best[1], best[2], best[0], best[3], now, out)
            return True
        if not tracked.links:
            unlinked = [t for t in peers if not t.links]
            if unlinked:
                members = [*unlinked, tracked]
                evidence = {"official": [], "upstream_spike": None, "posts": [],
                            "terms": {"timing": unknown_cause_confidence(len(members))}}
                self._form(UNKNOWN_CAUSE, members, unknown_cause_confidence(len(members)), evidence, now, out)
                return True
        return False

    def _official_for(self, upstream: str, onset: datetime, now: datetime) -> list[OfficialIncident]:
        minute = now.replace(second=0, microsecond=0)
        if self._official_cache[0] != minute:  # read the store at most once per minute of event time
            lookback = timedelta(hours=self.settings.official_lookback_hours)
            self._official_cache = (minute, self.official(minute - lookback - timedelta(hours=1), now))
        since = onset - timedelta(hours=self.settings.official_lookback_hours)
        return [o for o in self._official_cache[1] if o.started_at >= since
                if o.service == upstream and o.started_at <= now
                and (o.resolved_at is None or o.resolved_at >= onset - self.window)]

    def _evidence(self, upstream: str, members: list[_Tracked], official: list[OfficialIncident],
                  spike: Alert | None, now: datetime) -> tuple[dict[str, float], dict]:
        declared = [m for m in members if m.links.get(upstream, (False, 0.0))[0]]
        posts: list[str] = []
        shares = []
        for m in members:
            share, keys = self.naming(m.alert.service, now)
            shares.append(share.get(upstream, 0.0))
            posts += keys.get(upstream, [])[:2]
        terms = confidence_terms(official=bool(official), spike=spike is not None,
                                 declared_share=len(declared) / len(members),
                                 naming_share=sum(shares) / len(shares), services=len(members))
        evidence = {
            "official": [_official_record(o) for o in official[:3]],
            "upstream_spike": None if spike is None else {"incident": spike.id,
                                                           "opened_at": spike.opened_at.isoformat()},
            "posts": posts[:5],
            "terms": terms,
        }
        return terms, evidence

    def _members(self, cause: str, tracked: list[_Tracked], now: datetime) -> list[Member]:
        out = []
        for t in tracked:
            declared, share = t.links.get(cause, (False, 0.0))
            if cause != UNKNOWN_CAUSE and not share:
                share = self.naming(t.alert.service, now)[0].get(cause, 0.0)
            out.append(Member(t.alert.id, t.alert.service, t.onset, t.alert.severity, t.alert.status, declared,
                              round(share, 3), t.paged))
        return out

    def _form(self, cause: str, tracked: list[_Tracked], confidence: float, evidence: dict, now: datetime,
              out: Decision) -> None:
        tracked = sorted(tracked, key=lambda t: t.onset)
        first = tracked[0].onset
        cascade = Cascade(cascade_id(cause, first), cause, round(min(1.0, confidence), 3), first, now, now, "open",
                          (), evidence)
        self._cascades[cascade.id] = cascade
        self._unsent[cascade.id] = first + self.wait
        self._join(cascade, tracked, now, out, "formed")

    def _join(self, cascade: Cascade, tracked: list[_Tracked], now: datetime, out: Decision, kind: str) -> None:
        new = self._members(cascade.likely_cause, tracked, now)
        members = tuple(sorted((*cascade.members, *new), key=lambda m: m.onset))
        if kind == "joined":
            cascade = self._rescored(cascade, members, now)
        cascade = replace(cascade, members=members, updated_at=now)
        self._cascades[cascade.id] = cascade
        for t in tracked:
            t.cascade = cascade.id
            self._member_of[t.alert.id] = cascade.id
            held = self._held.pop(t.alert.id, None)
            for change in held or ():
                self._inhibit_or_page(t, change, out)
        out.cascades.append(CascadeChange(kind, cascade, now))

    def _rescored(self, cascade: Cascade, members: tuple[Member, ...], now: datetime) -> Cascade:
        """The cascade's confidence and evidence with new members, and with the cause's official incident
        or post spike if they appeared since it formed."""
        if cascade.likely_cause == UNKNOWN_CAUSE:
            score = unknown_cause_confidence(len(members))
            return replace(cascade, confidence=score, evidence={**cascade.evidence, "terms": {"timing": score}})
        cause = cascade.likely_cause
        evidence = dict(cascade.evidence)
        official = self._official_for(cause, cascade.opened_at, now)
        if official and not evidence.get("official"):
            evidence["official"] = [_official_record(o) for o in official[:3]]
        spike = self._spikes.get(cause)
        if spike is not None and not evidence.get("upstream_spike"):
            evidence["upstream_spike"] = {"incident": spike.id, "opened_at": spike.opened_at.isoformat()}
        terms = confidence_terms(
            official=bool(evidence.get("official")), spike=bool(evidence.get("upstream_spike")),
            declared_share=sum(m.declares for m in members) / len(members),
            naming_share=sum(m.naming_share for m in members) / len(members), services=len(members))
        evidence["terms"] = terms
        return replace(cascade, confidence=round(min(1.0, sum(terms.values())), 3), evidence=evidence)

    # -- time passing --------------------------------------------------------------------------------
    def _release(self, now: datetime, out: Decision) -> None:
        """Held incidents: grouped if their cascade has formed meanwhile, else paged alone after the wait;
        cascades whose wait is over: announced."""
        for alert_id in list(self._held):
            tracked = self._tracked.get(alert_id)
            if tracked is None:
                out.page += self._held.pop(alert_id)
                continue
            if self._group(tracked, now, out):
                continue
            if now - tracked.onset >= self.wait:
                tracked.paged = True
                out.page += self._held.pop(alert_id)
        for cascade_id_, due in list(self._unsent.items()):
            if now >= due and cascade_id_ in self._cascades:
                del self._unsent[cascade_id_]
                out.cascades.append(CascadeChange("opened", self._cascades[cascade_id_], now))

    def _prune(self, now: datetime) -> None:
        horizon = now - 2 * self.window - self.wait
        for alert_id in [a for a, t in self._tracked.items() if t.onset < horizon and a not in self._held]:
            del self._tracked[alert_id]
        keep = now - timedelta(minutes=self.settings.naming_minutes)
        for recent in self._naming.values():
            while recent and recent[0][0] < keep:
                recent.popleft()

    def open_cascades(self) -> list[Cascade]:
        return list(self._cascades.values())
