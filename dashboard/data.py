"""The dashboard's settings (database, config, refresh) and its cached, read-only queries.

`detector dashboard` passes ``--db`` and ``--config`` after ``--``; ``DETECTOR_DB`` and ``DETECTOR_CONFIG``
are the fallbacks (tests set those). Query results are cached for a few seconds, keyed by database and
arguments, so many viewers and the live refresh cost one query per page per few seconds.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.throttle import LoginThrottle
from dashboard import explore_queries, queries as q
from detector.secrets import Secrets
from detector.store.store import Store

CACHE_SECONDS = 5


@dataclass(frozen=True)
class AppConfig:
    """Where the data is and how the dashboard behaves."""

    db: str
    config: Path | None
    metric: str
    refresh_seconds: float
    secrets_file: Path | None
    claims_file: Path | None = None  # the claims file: rumours shown with their text, verdict and answer
    templates: tuple[tuple[str, str], ...] = ()  # [comms] templates for the drafted update (empty: defaults)


def app_config(argv: list[str] | None = None) -> AppConfig:
    parser = argparse.ArgumentParser(prog="dashboard", add_help=False)
    parser.add_argument("--db", default=os.environ.get("DETECTOR_DB"))
    parser.add_argument("--config", default=os.environ.get("DETECTOR_CONFIG"))
    parser.add_argument("--refresh", type=float, default=float(os.environ.get("DETECTOR_DASHBOARD_REFRESH", 10)))
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    from detector.volume.settings import VolumeSettings

    detection, secrets_file, db = VolumeSettings(), None, args.db
    claims_file, templates = None, ()
    config = Path(args.config) if args.config else None
    if config is not None:
        from detector.config import load_settings

        settings = load_settings(config)
        detection, secrets_file, db = settings.detection, settings.secrets_file, db or settings.db
        claims_file, templates = settings.classifier.claims, tuple(sorted(settings.comms.templates.items()))
    return AppConfig(db or "detector.db", config, detection.metric, max(args.refresh, 1.0), secrets_file,
                     claims_file=claims_file, templates=templates)


def secrets(secrets_file: Path | None) -> Secrets:
    """Read on every run (not cached), so a changed password takes effect at once."""
    return Secrets(secrets_file)


@st.cache_resource(show_spinner=False)
def store(db: str) -> Store:
    return Store(db, upgrade=False)


@functools.cache
def login_throttle() -> LoginThrottle:
    """The server process's one password limiter: every session shares it, so a new tab does not reset it.

    Not ``st.cache_resource``: any client can send Streamlit's "clear cache" message, which empties
    ``cache_resource`` for the whole server (no check that the sender is a developer), and would hand an
    attacker a fresh count whenever they liked. Tests start over with ``login_throttle.cache_clear()``.
    """
    return LoginThrottle()


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=512)
def query(db: str, name: str, *args, **kwargs):
    """``dashboard.queries.<name>(store, *args)`` (or ``explore_queries``'s), cached briefly."""
    function = getattr(q, name, None) or getattr(explore_queries, name)
    return function(store(db), *args, **kwargs)


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False, max_entries=128)
def rumours(db: str, service: str, since: datetime, until: datetime, claims_file: Path | None):
    """The rumours of a range as the comms view and the notifications word them (``comms.facts.rumours_of``):
    a known claim with its text, verdict and answer; unmatched ones with their most repeated post."""
    from detector.classify.settings import ClassifierSettings
    from detector.comms.facts import rumours_of
    from detector.runtime.assembly import known_claims
    from detector.store.facts import rumour_rows

    claims = known_claims(ClassifierSettings(claims=claims_file)) if claims_file else {}
    return rumours_of(rumour_rows(store(db), service, since, until), claims)


def incident_comms(db: str, alert_id: str, metric: str, claims_file: Path | None,
                   templates: tuple[tuple[str, str], ...]):
    """(facts, drafted update) of one incident up to the newest data, as every card and report computes them;
    None for an unknown id. Computed once per new minute of data (or change of state), not per refresh:
    on a big incident it is one pass over tens of thousands of posts."""
    row = query(db, "incident", alert_id)
    if row is None:
        return None
    until = row["resolved_at"] or query(db, "data_clock").get(row["service"]) or row["opened_at"]
    return _comms_until(db, alert_id, str(row["status"]), str(row["severity"]), until, metric, claims_file,
                        templates)


@st.cache_data(ttl=600, show_spinner=False, max_entries=64)
def _comms_until(db: str, alert_id: str, status: str, severity: str, until: datetime, metric: str,
                 claims_file: Path | None, templates: tuple[tuple[str, str], ...]):
    from detector.classify.settings import ClassifierSettings
    from detector.comms.draft import draft
    from detector.comms.facts import gather
    from detector.runtime.assembly import known_claims

    row = q.incident(store(db), alert_id)
    claims = known_claims(ClassifierSettings(claims=claims_file)) if claims_file else {}
    facts = gather(store(db), service=row["service"], incident_id=alert_id, status=status, severity=severity,
                   opened_at=row["opened_at"], resolved_at=row["resolved_at"], until=until, metric=metric,
                   claims=claims)
    return facts, draft(facts, dict(templates))


def incident_peaks(db: str, incidents: pd.DataFrame, metric: str) -> list:
    """Each incident's peak (``detector.comms.facts.Peak`` or None), the one the comms view, the cards and
    the report state, from the stored minutes; computed again only when the service's data moves on."""
    clock = query(db, "data_clock")
    return [_peak(db, str(row["service"]), row["opened_at"], None if missing(row["resolved_at"]) else row["resolved_at"],
                  metric, clock.get(str(row["service"]))) for _, row in incidents.iterrows()]


@st.cache_data(ttl=600, show_spinner=False, max_entries=512)
def _peak(db: str, service: str, opened_at: datetime, resolved_at: datetime | None, metric: str,
          data_until: datetime | None):  # data_until: only the cache's key, so a live peak follows new minutes
    from detector.comms.facts import stored_peak

    def plain(moment):
        return None if moment is None else pd.Timestamp(moment).to_pydatetime()

    return stored_peak(store(db), service=service, opened_at=plain(opened_at), resolved_at=plain(resolved_at),
                       metric=metric)


def window(db: str, service: str, choice: str, custom: tuple[datetime, datetime] | None = None
           ) -> tuple[datetime, datetime]:
    """[since, until) for a range choice (1h, 24h, 7d, custom), ending at the service's newest data."""
    if choice == "custom" and custom:
        return custom
    until = query(db, "data_clock").get(service) or datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return until - q.RANGES.get(choice, timedelta(hours=24)), until


EMPTY = "—"  # what a table shows for "nothing here", never a raw None or NaN
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"  # the one way the dashboard writes a time
TIME_COLUMN_FORMAT = "YYYY-MM-DD HH:mm [UTC]"  # the same, for st.column_config.DatetimeColumn


def when(moment) -> str:
    """A time as comms writes it: '2020-08-18 14:38 UTC'."""
    if moment is None or (not isinstance(moment, datetime) and not hasattr(moment, "strftime")):
        return EMPTY
    try:
        if moment != moment:  # NaT
            return EMPTY
    except TypeError:
        pass
    return moment.strftime(TIME_FORMAT)


def short_when(moment) -> str:
    """A time that fits a metric tile (whose label says UTC): '08-18 14:38'."""
    text = when(moment)
    return text if text == EMPTY else text[5:16]


def for_display(frame: pd.DataFrame, numbers: dict[str, str] | None = None) -> pd.DataFrame:
    """``frame`` as a table shows it: times in the one format, missing values as an em dash (never
    ``None``), and the ``numbers`` columns formatted (``{"peak": "{:.1f}"}``) so a missing one is a dash too."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in (numbers or {}):
            fmt = (numbers or {})[column]
            out[column] = [EMPTY if missing(v) else fmt.format(v) for v in values]
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.map(when)
        elif not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            # object or string columns (pandas may give text its own dtype, whose missing value is NaN)
            out[column] = pd.Series([EMPTY if missing(v) else (when(v) if isinstance(v, datetime) else v)
                                     for v in values], index=out.index, dtype=object)
    return out


def missing(value) -> bool:
    """Whether a table cell holds nothing (None, NaN, NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def markdown_text(text: object) -> str:
    """Untrusted text made inert for st.markdown: HTML and Markdown syntax characters escaped.

    Escapes cannot stop GitHub-flavoured Markdown from linking a bare ``http://...``, ``www.`` or e-mail
    address (it links text after the escapes are read: a browser showed a service name's URL as a link), so
    an invisible word joiner (U+2060) goes before the ``:`` or ``.`` and after the ``@`` that would start one."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _AUTOLINK_START.sub(lambda m: m.group(0) + WORD_JOINER, out)
    for char in "\\`*_{}[]()#+-.!|~$":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


WORD_JOINER = "\u2060"
_AUTOLINK_START = re.compile(r"(?i)(?:https?|ftp|mailto|xmpp)(?=:)|www(?=\.)|@")
