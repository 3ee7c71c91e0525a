"""A drafted public update, filled from the incident's facts and the team's templates: no model writes it.

The rule for a fact that is not there, stated once: templates are cut into sentences (at ``.``, ``!`` or
``?`` followed by a space, and at line breaks); a sentence that names a placeholder with no fact behind it
(no places named, no status page, nobody reporting in the last 15 minutes, no false claim with an answer)
is left out whole, so the draft never says "[insert duration]" and never invents one. Values come from
``IncidentFacts`` only; post text never enters a draft (rumours are rebutted with the claims file's own
text and reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from detector.comms.facts import IncidentFacts
from detector.comms.settings import DEFAULT_TEMPLATES, template_names

_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+")
# How a symptom reads in a public sentence ("problems with signing in and payments"); a symptom not named
# here (a service's own list) reads as its name with spaces.
SYMPTOM_WORDS = {
    "login": "signing in", "payments": "payments", "data_loss": "missing data", "slow": "slowness",
    "api": "the API", "app": "the app", "errors": "error messages", "web": "the website", "other": "the service",
    "outage": "the service being unavailable", "unspecified": "the service",
    "total_outage": "all services", "internet": "the internet connection", "wifi": "Wi-Fi", "tv": "TV",
    "phone": "the home phone", "email": "email", "account": "their account", "cards": "cards",
    "transfers": "transfers", "balance": "account balances", "atm": "cash machines", "servers": "the servers",
    "no_signal": "mobile signal", "calls": "calls", "texts": "text messages", "data": "mobile data",
    "playback": "playback", "buffering": "buffering", "check_in": "check-in", "booking": "bookings",
}


@dataclass(frozen=True)
class Draft:
    """The holding statement and the follow-up (an update while it lasts, a resolution once over)."""

    holding: str
    follow_up: str
    follow_up_kind: str  # "update" or "resolved"

    def text(self) -> str:
        return f"Holding statement:\n{self.holding}\n\nFollow-up ({self.follow_up_kind}):\n{self.follow_up}\n"


def _clock(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment:%H:%M} UTC"


def _span(delta: timedelta | None) -> str | None:
    if delta is None or delta < timedelta(0):
        return None
    hours, minutes = divmod(int(delta.total_seconds()) // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _and(items: list[str]) -> str | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def values(facts: IncidentFacts) -> dict[str, str | None]:
    """Each placeholder's text, or None when no fact stands behind it."""
    symptoms = [SYMPTOM_WORDS.get(name, name.replace("_", " ")) for name in list(facts.symptoms)[:3]]
    places = _and([name for name in list(facts.places or {})[:3]]) if facts.places else None
    rebuttals = [f"Some posts claim that {r.text.rstrip('.')}: this is {r.verdict}, see {r.reference}."
                 if r.reference else f"Some posts claim that {r.text.rstrip('.')}: this is {r.verdict}."
                 for r in facts.rumours if r.claim and r.verdict == "false"]
    official = facts.official[-1] if facts.official else None
    status_page = None
    if official:
        status_page = f"{official.get('status') or 'posted'}: {official.get('title')}"
        status_page += f" ({official['url']})" if official.get("url") else ""
    first = facts.first_report or facts.opened_at
    end = facts.last_report if not facts.live else facts.until
    return {
        "service": facts.service,
        "since": _clock(first),
        "opened": _clock(facts.opened_at),
        "duration": _span(end - first) if end else None,
        "people_total": str(facts.people_total) if facts.people_total else None,
        "people_now": str(facts.people_now) if facts.people_now else None,
        "symptoms": _and(list(dict.fromkeys(symptoms))),
        "places": places,
        "trend": facts.trend,
        "peak": facts.peak.describe(facts.unit) if facts.peak else None,
        "last_report": _clock(facts.last_report) if not facts.live else None,
        "resolved_at": _clock(facts.resolved_at),
        "rebuttals": " ".join(rebuttals) or None,
        "status_page": status_page,
    }


def fill(template: str, known: Mapping[str, str | None]) -> str:
    """``template`` with its placeholders filled, each sentence naming a missing fact left out."""
    lines = []
    for line in template.splitlines():
        kept = []
        for sentence in _SENTENCE_END.split(line):
            names = template_names(sentence)
            if any(not known.get(name) for name in names):
                continue
            kept.append(sentence.format(**{name: known[name] for name in names}))
        if " ".join(kept).strip():
            lines.append(" ".join(kept).strip())
    return "\n".join(lines)


def draft(facts: IncidentFacts, templates: Mapping[str, str] | None = None) -> Draft:
    """The public update for ``facts`` from ``templates`` (``[comms] templates``, else the defaults)."""
    chosen = {**DEFAULT_TEMPLATES, **(templates or {})}
    known = values(facts)
    kind = "update" if facts.live else "resolved"
    return Draft(fill(chosen["holding"], known), fill(chosen[kind], known), kind)
