"""A synthetic SQLite database of watched services with an incident, for trying, timing and testing the
dashboard: `python -m dashboard.sample out.db --posts 1000000`.

Rows go in through ``detector.store.bulk.load_sqlite`` (bulk ``executemany`` on the raw SQLite connection:
a million posts in well under a minute), into the project's own schema. The newest incident's posts include hostile
texts (a script tag, an image with an onerror handler) so pages can be checked to show them as text.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from detector.store.bulk import load_sqlite

SERVICES = ("Xfinity", "ChatGPT", "Spotify", "Steam", "Discord", "Slack")
HOSTILE = ("<script>alert(1)</script> xfinity is down again, no internet",
           "<img src=x onerror=alert(1)> cannot connect, outage all morning")
SYMPTOMS = ("login", "slow", "app", "errors", "web", "payments", "other")
CLAIMS = ("hacked-data-breach", "shutting-down-for-good", "ddos-attack")
SOURCES = ("twitter", "reddit", "bluesky")
LANGS = ("en", "en", "en", "es", "de", "fr")
_FMT = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True)
class Sample:
    """What was built: where, how many posts, the data's last minute, and the incidents' ids."""

    path: Path
    posts: int
    end: datetime
    open_incident: str
    resolved_incident: str


def _stamp(values: np.ndarray) -> list[str]:
    return pd.to_datetime(values, unit="s").strftime(_FMT).tolist()


def build(path: Path | str, posts: int = 3000, services: int = 2, days: float = 2.0,
          end: datetime = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc), seed: int = 7,
          names: tuple[str, ...] = SERVICES) -> Sample:
    """Write a fresh database at ``path``: ``posts`` posts over ``days`` days for ``services`` services,
    the first of which has an open incident in its last two hours (and a resolved one the day before).
    ``names`` are the services' names (a test passes hostile ones to check they are shown as text)."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    names = tuple(names)[:services]
    end_s = int(end.timestamp())
    start_s = end_s - int(days * 86400)
    incident_s = end_s - 100 * 60  # the open incident: the last 100 minutes of the first service
    earlier_s = end_s - 26 * 3600  # a resolved incident, 26 hours before the end

    n_burst = int(posts * 0.08)
    n_old_burst = int(posts * 0.03)
    n_base = posts - n_burst - n_old_burst
    service_idx = np.concatenate([rng.integers(0, len(names), n_base), np.zeros(n_burst + n_old_burst, int)])
    # Background posts with a daily rhythm (busier in the afternoon, UTC), then the two bursts.
    hours = rng.choice(24, n_base, p=_daily_weights())
    day_starts = rng.integers(0, max(int(days), 1), n_base) * 86400 + (start_s - start_s % 86400)
    base_t = day_starts + hours * 3600 + rng.integers(0, 3600, n_base)
    base_t = np.where((base_t < start_s) | (base_t >= end_s), rng.integers(start_s, end_s, n_base), base_t)
    created = np.concatenate([base_t, rng.integers(incident_s, end_s, n_burst),
                              rng.integers(earlier_s, earlier_s + 45 * 60, n_old_burst)])
    burst = np.concatenate([np.zeros(n_base, bool), np.ones(n_burst + n_old_burst, bool)])
    complaint = np.where(burst, rng.random(posts) < 0.85, rng.random(posts) < 0.12)
    complaint_p = np.where(complaint, 0.5 + rng.random(posts) * 0.49, rng.random(posts) * 0.5)
    misinfo = rng.random(posts) < np.where(burst, 0.06, 0.01)
    symptom = np.where(complaint, rng.choice(SYMPTOMS, posts), None)
    claim = np.where(misinfo & (rng.random(posts) < 0.8), rng.choice(CLAIMS, posts), None)
    authors = [f"{a:016x}" for a in rng.integers(0, 2**62, max(posts // 3, 10))]
    author = np.array(authors)[rng.integers(0, len(authors), posts)]
    source = rng.choice(SOURCES, posts, p=[0.7, 0.2, 0.1])
    lang = rng.choice(LANGS, posts)
    texts = _texts(rng, posts, complaint, misinfo, [names[i] for i in service_idx])
    # The two hostile posts: the clearest complaints of the open incident, so the service page shows them.
    for j, text in enumerate(HOSTILE):
        i = n_base + j
        texts[i], complaint[i], complaint_p[i], misinfo[i], symptom[i] = text, True, 0.999 - j / 1000, False, "errors"
        created[i], claim[i] = end_s - 30 * 60 + j, None

    ids = np.arange(1, posts + 1)
    stamps = _stamp(created)
    ingested = datetime.now(timezone.utc).strftime(_FMT)
    frame = pd.DataFrame({"id": ids, "service": [names[i] for i in service_idx], "created": created,
                          "person": ["a:" + a for a in author], "complaint": complaint, "misinfo": misinfo})

    evidence = [f"{source[i]}:{ids[i] + 10**15}" for i in range(n_base, n_base + 5)]
    open_id, *open_rows = _incident(names[0], incident_s + 6 * 60, None, "critical", evidence, first_event=1)
    resolved_id, *resolved_rows = _incident(names[0], earlier_s + 5 * 60, earlier_s + 80 * 60, "major",
                                            evidence[:2], first_event=2)
    alerts, events, outbox = ([*a, *b] for a, b in zip(open_rows, resolved_rows))
    load_sqlite(path, [
        ("posts", ("id", "source", "source_id", "created_at", "text", "author", "person", "lang", "ingested_at"),
         zip(ids.tolist(), source.tolist(), (ids + 10**15).astype(str).tolist(), stamps, texts, author.tolist(),
             frame["person"].tolist(), lang.tolist(), [ingested] * posts)),
        ("post_services", ("post_id", "service", "created_at"), zip(ids.tolist(), frame["service"].tolist(), stamps)),
        ("verdicts", ("post_id", "model", "complaint", "complaint_p", "misinformation", "misinformation_p", "symptom",
                      "symptom_p", "claim", "claim_similarity", "confidence"),
         zip(ids.tolist(), ["sample"] * posts, complaint.astype(int).tolist(), complaint_p.tolist(),
             misinfo.astype(int).tolist(), np.where(misinfo, 0.9, 0.05).tolist(), symptom.tolist(),
             [0.8] * posts, claim.tolist(), np.where(claim != None, 0.85, None).tolist(),  # noqa: E711
             [0.9] * posts)),
        ("buckets", ("service", "start", "width_s", "mentions", "complaints", "misinformation", "people",
                     "complaint_people", "expected", "upper", "score"), _buckets(frame)),
        ("alerts", ("id", "service", "opened_at", "updated_at", "resolved_at", "status", "severity", "peak_ratio",
                    "peak_value", "expected", "reason", "evidence", "suppressed"), alerts),
        ("alert_events", ("id", "alert_id", "at", "kind", "detail"), events),
        ("outbox", ("key", "alert_id", "event_id", "channel", "payload", "status", "attempts", "next_attempt_at",
                    "last_error", "created_at", "sent_at"), outbox),
        ("official_incidents", ("service", "source", "external_id", "title", "status", "impact", "url", "started_at",
                                "resolved_at", "updated_at"),
         [(names[0], "status-page", "inc-1", "Degraded connectivity in some regions", "investigating", "major",
           "https://status.example.com/incidents/1", _stamp(np.array([incident_s + 31 * 60]))[0], None, ingested)]),
    ])
    return Sample(path, posts, end, open_id, resolved_id)


def _daily_weights() -> np.ndarray:
    hours = np.arange(24)
    weights = 1.0 + 0.8 * np.sin((hours - 9) / 24 * 2 * np.pi)
    return weights / weights.sum()


def _texts(rng, n: int, complaint: np.ndarray, misinfo: np.ndarray, services: list[str]) -> list[str]:
    gripes = ("is {s} down? no internet since this morning", "{s} outage again, can't log in",
              "anyone else having problems with {s}? app keeps crashing", "{s} so slow today, pages time out")
    rumours = ("heard {s} got hacked and they are hiding it", "{s} shutting down for good, insider says",
               "{s} under ddos attack right now")
    chatter = ("just switched to {s}, pretty happy", "{s} support was helpful today", "watching a show on {s}")
    pick = rng.integers(0, 12, n)
    return [(rumours[k % 3] if m else gripes[k % 4] if c else chatter[k % 3]).format(s=s) + f" #{k}"
            for k, c, m, s in zip(pick.tolist(), complaint.tolist(), misinfo.tolist(), services)]


def _buckets(frame: pd.DataFrame) -> list[tuple]:
    """Minute counts per service, with a trailing-mean baseline as the expected value and its band."""
    frame = frame.assign(start=frame["created"] - frame["created"] % 60)
    complainers = frame["person"].where(frame["complaint"])
    grouped = frame.assign(complainer=complainers).groupby(["service", "start"])
    counts = pd.DataFrame({
        "mentions": grouped.size(), "complaints": grouped["complaint"].sum(), "misinfo": grouped["misinfo"].sum(),
        "people": grouped["person"].nunique(), "complaint_people": grouped["complainer"].nunique(),
    }).reset_index()
    rows = []
    for _, part in counts.groupby("service", sort=False):
        metric = part["complaint_people"].astype(float)
        expected = metric.rolling(240, min_periods=10).mean().shift(1).fillna(metric.mean())
        upper = expected + 3 * np.sqrt(expected) + 2
        score = ((metric - expected) / (upper - expected)).clip(0, 1)
        part = part.assign(expected=expected, upper=upper, score=score)
        rows += list(zip(part["service"], _stamp(part["start"].to_numpy()), [60] * len(part),
                         part["mentions"].astype(int).tolist(),
                         part["complaints"].astype(int).tolist(), part["misinfo"].astype(int).tolist(),
                         part["people"].astype(int).tolist(), part["complaint_people"].astype(int).tolist(),
                         part["expected"].round(4).tolist(), part["upper"].round(4).tolist(),
                         part["score"].round(4).tolist()))
    return rows


def _incident(service: str, opened_s: int, resolved_s: int | None, severity: str, evidence: list[str],
              first_event: int) -> tuple[str, list[tuple], list[tuple], list[tuple]]:
    """An incident's id and its rows (alerts, alert_events, outbox); its events are numbered from
    ``first_event`` on (two incidents' events must not share ids)."""
    opened = _stamp(np.array([opened_s]))[0]
    resolved = _stamp(np.array([resolved_s]))[0] if resolved_s else None
    slug = re.sub(r"[^a-z0-9]+", "-", service.casefold()).strip("-") or "service"  # as real ids are
    alert_id = f"{slug}-{datetime.fromtimestamp(opened_s, timezone.utc):%Y%m%dT%H%M}"
    alert = (alert_id, service, opened, resolved or opened, resolved, "resolved" if resolved else "open", severity,
             9.5, 38.0, 4.0, "38 people complaining in 5 min against 4.0 expected", json.dumps(evidence), 0)
    event = first_event
    events = [(event, alert_id, opened, "opened", json.dumps({"value": 38.0, "expected": 4.0}))]
    if resolved:
        events.append((event + 1, alert_id, resolved, "resolved", None))
    outbox = [(f"{alert_id}:{event}:{channel}", alert_id, event, channel, "{}", status, 1 if status == "sent" else 8,
               opened, error, opened, opened if status == "sent" else None)
              for channel, status, error in (("ops-slack", "sent", None),
                                             ("pagerduty", "dead", "HTTP 401 after 8 attempts"))]
    return alert_id, [alert], events, outbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--services", type=int, default=2)
    parser.add_argument("--days", type=float, default=2.0)
    args = parser.parse_args()
    sample = build(args.db, args.posts, args.services, args.days)
    print(f"wrote {sample.posts:,} posts to {sample.path}; open incident {sample.open_incident}")


if __name__ == "__main__":
    main()
