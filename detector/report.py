"""The one-page incident report comms needs for a public update, as Markdown or HTML.

Facts only: how long, how bad against what was expected, the timeline (first reports, our alert,
the provider's acknowledgement and resolution when known, how far ahead we were), the symptoms, sources
and languages, the rumours with their counts and first sighting, and a few representative posts.
Every value taken from a post is escaped for the output format; authors appear only pseudonymised.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from detector.classify.claims import Claim
from detector.comms.breakdown import facets
from detector.comms.draft import Draft, draft
from detector.comms.facts import IncidentFacts, gather
from detector.records import DEFAULT_METRIC
from detector.status.leadtime import lead_of
from detector.store.alerts import alert_events
from detector.store.buckets import data_clock
from detector.store.incidents import incident_row
from detector.store.official import official_overlapping
from detector.store.posts import representative_posts
from detector.store.store import Store

RISE_LOOKBACK = timedelta(hours=6)
CONTEXT = timedelta(hours=1)


class UnknownIncident(KeyError):
    """No incident has that id."""


@dataclass
class IncidentReport:
    """Everything the report says, gathered once; ``markdown()`` and ``html()`` only format it."""

    incident: dict[str, Any]
    data_until: datetime | None
    first_complaint: datetime | None
    official: list[dict[str, Any]]
    timeline: list[tuple[datetime, str]]
    symptoms: pd.DataFrame
    languages: pd.DataFrame
    sources: pd.DataFrame
    claims: pd.DataFrame
    posts: pd.DataFrame
    facts: IncidentFacts
    draft: Draft
    notes: list[str] = field(default_factory=list)
    cascade: dict[str, Any] | None = None  # the cascade it is part of (cascade_record), told as one story
    # How long before the provider's acknowledgement our alert fired (negative: after), as `detector
    # leadtime` pairs them (``detector.status.leadtime``); None when no official incident matches.
    lead: timedelta | None = None

    @property
    def end(self) -> datetime | None:
        return self.incident.get("resolved_at")

    @property
    def duration(self) -> timedelta | None:
        """How long our incident was open: opened until resolved (or the newest data), resolve wait included."""
        end = self.end or self.data_until
        return None if end is None else end - self.incident["opened_at"]

    @property
    def reported_for(self) -> timedelta | None:
        """How long people reported it: the first report of the rise to the last report."""
        first, last = self.first_complaint or self.facts.first_report, self.facts.last_report
        return None if first is None or last is None else last - first

    def markdown(self) -> str:
        return _markdown(self)

    def html(self) -> str:
        return _html(self)

    def render(self, fmt: str) -> str:
        if fmt not in ("md", "html"):
            raise ValueError(f"unknown report format {fmt!r}; use md or html")
        return self.markdown() if fmt == "md" else self.html()


def build_report(store: Store, incident_id: str, *, metric: str = DEFAULT_METRIC,
                 claims: dict[str, Claim] | None = None, templates: dict[str, str] | None = None) -> IncidentReport:
    """Gather the facts of incident ``incident_id``; raise UnknownIncident when there is none. The numbers
    (peak, people, last report, rumours) are ``detector.comms.facts``'s, as in every notification."""
    incident = incident_row(store, incident_id)
    if incident is None:
        raise UnknownIncident(incident_id)
    service, opened = incident["service"], incident["opened_at"]
    data_until = data_clock(store).get(service)
    until = incident["resolved_at"] or data_until or opened + timedelta(minutes=1)
    facts = gather(store, service=service, incident_id=incident_id, status=incident["status"],
                   severity=incident["severity"], opened_at=opened, resolved_at=incident["resolved_at"],
                   until=until, metric=metric, claims=claims)
    since = min(facts.counted_from, opened - CONTEXT)
    first = facts.first_report
    official_rows = official_overlapping(store, service, opened - RISE_LOOKBACK, until + CONTEXT)
    timeline: list[tuple[datetime, str]] = []
    if first is not None:
        timeline.append((first, "first report of the rise"))
    for event in alert_events(store, incident_id):
        detail = event.get("detail") or {}
        who = f" by {detail['by']}" if isinstance(detail, dict) and detail.get("by") else ""
        timeline.append((event["at"], f"our incident {event['kind']}{who}"))
    if not any(text.startswith("our incident opened") for _, text in timeline):
        timeline.append((opened, "our incident opened"))
    for row in official_rows:
        timeline.append((row["started_at"], f"{row['source']} acknowledged: {row['title']}"))
        if row.get("resolved_at") is not None:
            timeline.append((row["resolved_at"], f"{row['source']} resolved: {row['title']}"))
    timeline.sort(key=lambda item: item[0])
    found = facets(store, service, since, until, limit=None, metric=metric)
    during = facets(store, service, opened, until, limit=None, metric=metric)
    notes = []
    if incident["resolved_at"] is None:
        notes.append(f"The incident is still {incident['status']}; figures run to {_when(until)}.")
    if not official_rows:
        notes.append("No official acknowledgement from the provider is recorded.")
    paired = lead_of(store, incident_id, service)
    return IncidentReport(
        cascade=_cascade_of(store, incident_id), lead=None if paired is None else paired.lead,
        incident=incident, data_until=data_until, first_complaint=first, official=official_rows,
        timeline=timeline, symptoms=_symptom_table(facts), languages=during.languages,
        sources=during.sources, claims=found.claims,
        posts=representative_posts(store, service, opened, until, limit=5), facts=facts,
        draft=draft(facts, templates), notes=notes,
    )


def _symptom_table(facts: IncidentFacts) -> pd.DataFrame:
    """The incident's symptoms as the cards count them (``comms.facts``): symptom, posts, share."""
    table = pd.DataFrame(list(facts.symptoms.items()), columns=["symptom", "posts"])
    table["share"] = table["posts"] / table["posts"].sum() if len(table) else []
    return table


# -- formatting ----------------------------------------------------------------------------------------
def _when(moment: datetime | None) -> str:
    return "-" if moment is None or pd.isna(moment) else moment.strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    sign, seconds = ("-" if delta < timedelta(0) else ""), abs(int(delta.total_seconds()))
    hours, minutes = divmod(seconds // 60, 60)
    return f"{sign}{hours} h {minutes:02d} min" if hours else f"{sign}{minutes} min"


def _person(author: object) -> str:
    return "unknown author" if not isinstance(author, str) or not author else "person-" + author[:8]


def _facts(report: IncidentReport) -> list[tuple[str, str]]:
    inc, facts = report.incident, report.facts
    lead = report.lead
    lead_text = "-" if lead is None else (f"{_span(lead)} before the provider" if lead >= timedelta(0)
                                          else f"{_span(-lead)} after the provider")
    people = f"{facts.people_total}" + (f" ({facts.people_now} in the last 15 min)" if facts.live else "")
    resolved = _when(inc["resolved_at"])
    if facts.resolve_wait is not None:
        resolved += f" (after {_span(facts.resolve_wait)} without unusual reports)"
    return [
        ("Service", inc["service"]), ("Status", inc["status"]), ("Severity", inc["severity"]),
        ("First complaints", _when(report.first_complaint)),
        ("Started (our alert)", _when(inc["opened_at"])),
        ("Reports stopped (last report)", _when(facts.last_report) if not facts.live else "still coming in"),
        ("Resolved", resolved),
        ("Duration (first to last report)", _span(report.reported_for)),
        ("Incident open", _span(report.duration)),
        ("Peak", facts.peak.describe(facts.unit) if facts.peak else "-"),
        ("People who reported it", people),
        ("Where", facts.where or "no places named"),
        ("Our lead", lead_text),
    ]


def _rumour_line(rumour) -> str:
    """A rumour as the report words it: the claim, its verdict and answer, or an example post."""
    if rumour.verdict:
        answer = f"; answer: {rumour.reference}" if rumour.reference else ""
        return (f'"{rumour.text}" ({rumour.verdict}): {rumour.posts} posts, first seen {_when(rumour.first_seen)}'
                f'{answer}; e.g. "{" ".join(rumour.example.split())[:200]}"')
    label = rumour.claim or "not in the claims file"
    return (f'{label}: {rumour.posts} posts, first seen {_when(rumour.first_seen)}; e.g. '
            f'"{" ".join(rumour.example.split())[:200]}"')


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|<>~])")


def _md(text: object) -> str:
    """Text that Markdown shows as typed: no markup, no HTML, one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_url(url: str) -> str:
    return re.sub(r"[\s()<>\[\]]", lambda m: f"%{ord(m.group(0)):02X}", url)


def _cascade_of(store: Store, incident_id: str) -> dict[str, Any] | None:
    from detector.alerting.cascade_payload import cascade_record
    from detector.store.cascades import cascade_of, load_cascades

    owner = cascade_of(store, incident_id)
    return next((cascade_record(c) for c in load_cascades(store) if c.id == owner), None) if owner else None


def _cascade_lines(r: IncidentReport) -> tuple[str, list[str]]:
    """The cascade as a headline and one timeline line per service (and the upstream's own word)."""
    c = r.cascade
    if c is None:
        return "", []
    head = (f"Part of cascade {c['id']}: {len(c['services'])} service(s) in trouble together, likely cause "
            f"{c['likely_cause']} (confidence {c['confidence']:.2f}), recognised {c['recognised_after_minutes']:g} "
            f"min after the first onset; status {c['status']}.")
    lines = [f"{i['onset'][:16].replace('T', ' ')} UTC: {i['service']} incident opened ({i['severity']}, now "
             f"{i['status']}" + ("; declares the dependency" if i["declares_dependency"] else "")
             + (f"; {i['posts_naming_cause']:.0%} of its complaints name the cause" if i["posts_naming_cause"] else "")
             + ")" for i in c["incidents"]]
    lines += [f"{o['started_at'][:16].replace('T', ' ')} UTC: {o['upstream']} said: {o['title']} ({o.get('status')})"
              for o in c["evidence"].get("official") or []]
    return head, sorted(lines)


def _markdown(r: IncidentReport) -> str:
    inc = r.incident
    out = [f"# Incident report: {_md(inc['service'])}, {_when(inc['opened_at'])}", "", f"Incident `{inc['id']}`", ""]
    out += [f"- **{name}:** {_md(value)}" for name, value in _facts(r)]
    out += [f"- {_md(note)}" for note in r.notes]
    out += ["", "## Drafted public update", "", "Filled from the facts above; a sentence without its fact is left out.",
            "", "**Holding statement**", ""]
    out += [f"> {_md(line)}" for line in r.draft.holding.splitlines()]
    out += ["", f"**Follow-up ({r.draft.follow_up_kind})**", ""]
    out += [f"> {_md(line)}" for line in r.draft.follow_up.splitlines()]
    head, lines = _cascade_lines(r)
    if head:
        out += ["", "## Cascade", "", _md(head), ""] + [f"- {_md(line)}" for line in lines]
    out += ["", "## Timeline", ""] + [f"- {_when(at)}: {_md(text)}" for at, text in r.timeline]
    out += ["", "## What people report", ""]
    out += [f"- {_md(row.symptom)}: {row.posts} posts ({row.share:.0%})" for row in r.symptoms.itertuples()] \
        or ["- no complaints classified"]
    out += ["", "## Sources and languages", ""]
    out += ["- Sources: " + (", ".join(f"{_md(s.source)} {s.posts}" for s in r.sources.itertuples()) or "-")]
    out += ["- Languages: " + (", ".join(f"{_md(s.lang)} {s.posts}" for s in r.languages.itertuples()) or "-")]
    out += ["", "## Misinformation", ""]
    out += [f"- {_md(_rumour_line(rumour))}" for rumour in r.facts.rumours] or ["- none seen"]
    out += ["", "## Representative posts", ""]
    for post in r.posts.itertuples():
        link = getattr(post, "link", None)
        link = f" ([source]({_md_url(link)}))" if isinstance(link, str) else ""
        out.append(f"> {_md(post.text)}  \n> — {_person(post.author)}, {_when(post.created_at)}{link}")
        out.append("")
    if r.posts.empty:
        out.append("- none")
    return "\n".join(out).rstrip() + "\n"


_CSS = ("body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;color:#1d2733}"
        "table{border-collapse:collapse}td,th{padding:.2rem .8rem .2rem 0;text-align:left;vertical-align:top}"
        "blockquote{border-left:3px solid #c9d1d9;margin:.6rem 0;padding:.2rem .8rem;white-space:pre-wrap}"
        "h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:1.4rem}.muted{color:#5b6773}")


def _html_cascade(r: IncidentReport) -> str:
    head, lines = _cascade_lines(r)
    if not head:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<h2>Cascade</h2><p>{html.escape(head)}</p><ul>{items}</ul>"


def _html(r: IncidentReport) -> str:
    e = html.escape
    inc = r.incident
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in _facts(r))
    notes = "".join(f"<p class='muted'>{e(n)}</p>" for n in r.notes)
    timeline = "".join(f"<li>{e(_when(at))}: {e(text)}</li>" for at, text in r.timeline)
    symptoms = "".join(f"<li>{e(str(s.symptom))}: {s.posts} posts ({s.share:.0%})</li>"
                       for s in r.symptoms.itertuples()) or "<li>no complaints classified</li>"
    sources = ", ".join(f"{e(str(s.source))} {s.posts}" for s in r.sources.itertuples()) or "-"
    langs = ", ".join(f"{e(str(s.lang))} {s.posts}" for s in r.languages.itertuples()) or "-"
    claims = "".join(f"<li>{e(_rumour_line(rumour))}</li>" for rumour in r.facts.rumours) or "<li>none seen</li>"
    posts = []
    for p in r.posts.itertuples():
        link = getattr(p, "link", None)
        source = f' · <a href="{e(link)}" rel="noopener noreferrer">source</a>' if isinstance(link, str) else ""
        posts.append(f"<blockquote>{e(str(p.text))}<br><span class='muted'>— {e(_person(p.author))}, "
                     f"{e(_when(p.created_at))}{source}</span></blockquote>")
    title = f"Incident report: {inc['service']}, {_when(inc['opened_at'])}"
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><p class='muted'>Incident {e(inc['id'])}</p><table>{rows}</table>{notes}"
        f"<h2>Drafted public update</h2><p class='muted'>Filled from the facts above; a sentence without its "
        f"fact is left out.</p><h3>Holding statement</h3><blockquote>{e(r.draft.holding)}</blockquote>"
        f"<h3>Follow-up ({e(r.draft.follow_up_kind)})</h3><blockquote>{e(r.draft.follow_up)}</blockquote>"
        f"{_html_cascade(r)}<h2>Timeline</h2><ul>{timeline}</ul><h2>What people report</h2><ul>{symptoms}</ul>"
        f"<h2>Sources and languages</h2><p>Sources: {sources}<br>Languages: {langs}</p>"
        f"<h2>Misinformation</h2><ul>{claims}</ul><h2>Representative posts</h2>{''.join(posts) or '<p>none</p>'}"
        "</body></html>\n"
    )
