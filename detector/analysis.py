"""The analysts' interface: posts, buckets and incidents as pandas DataFrames.

These read the same database the pipeline writes (SQLite path or URL); times come back as UTC-aware
pandas timestamps. Opening a database here never changes it, beyond bringing an old schema up to date, and
never creates one: a path that does not exist raises ``FileNotFoundError``.

``since`` and ``until`` take a datetime, a pandas Timestamp, a date, or an ISO 8601 string
(``"2026-03-05T14:00"``, ``"2026-03-05"``, ``"2026-03-05T14:00Z"``); a time without a zone is UTC, as on the
command line. A bad value raises ``ValueError`` with one line naming it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Union

import pandas as pd

from detector.comms.facts import stored_peak
from detector.records import DEFAULT_METRIC
from detector.store.buckets import bucket_table
from detector.store.facts import places_of_posts
from detector.store.frames import open_existing
from detector.store.incidents import incident_table
from detector.store.posts import post_table
from detector.store.store import Store
from detector.timeparse import parse_time

_TIME_COLUMNS = ("created_at", "start", "opened_at", "updated_at", "resolved_at", "acknowledged_at", "at", "peak_at")


def _times(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its time columns as UTC-aware pandas timestamps."""
    for column in _TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


When = Union[datetime, date, str, pd.Timestamp, None]


def _when(value: When, name: str) -> datetime | None:
    """``value`` as an aware UTC datetime, read as the command line reads ``--since`` (naive is UTC)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, (datetime, str)):
        raise ValueError(f"{name} must be a datetime, a date or an ISO 8601 string, not {type(value).__name__}")
    try:
        return parse_time(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a time ({error}); write ISO 8601 such as '2026-03-05T14:00' "
                         "(UTC unless it has an offset)") from None


def _store(db: str | Path | Store) -> tuple[Store, bool]:
    """The store at ``db``, and whether we opened it (and must close it). A file that does not exist is an
    error, not a new empty database (a typo would otherwise read as "no posts")."""
    if isinstance(db, Store):
        return db, False
    return open_existing(db), True


def load_posts(db: str | Path | Store, service: str | None = None, since: When = None,
               until: When = None) -> pd.DataFrame:
    """Posts with their verdicts: one row per post, ``service`` the first (alphabetically) it matched,
    ``place`` the places it names ("Kamloops, BC; Vernon, BC"; empty when none); ``since`` inclusive,
    ``until`` exclusive (see the module docstring for the forms they take)."""
    since, until = _when(since, "since"), _when(until, "until")
    store, own = _store(db)
    try:
        frame = _times(post_table(store, service, since, until))
        if service and not frame.empty:
            frame["service"] = service
        named = places_of_posts(store, [int(i) for i in frame["post_id"]]) if not frame.empty else {}
        frame["place"] = [("; ".join(named[i]) if i in named else None) for i in frame["post_id"]]
        return frame
    finally:
        if own:
            store.close()


def load_buckets(db: str | Path | Store, service: str | None = None, since: When = None,
                 until: When = None, fill: bool = True) -> pd.DataFrame:
    """Per-service bucket counts with the detector's expected value, band and score, one row per bucket.

    The database keeps only buckets that had posts. With ``fill`` (the default) every bucket between a
    service's first and last stored one is a row, so the frame is a regular time series: the added rows
    have zero counts, no ``expected``/``upper``/``score`` (the detector keeps its judgement only for buckets
    with posts) and ``filled`` True. ``fill=False`` returns the stored rows only."""
    since, until = _when(since, "since"), _when(until, "until")
    store, own = _store(db)
    try:
        frame = _times(bucket_table(store, service, since, until))
    finally:
        if own:
            store.close()
    return _filled(frame) if fill else frame


_COUNTS = ("mentions", "complaints", "misinformation", "people", "complaint_people")


def _filled(frame: pd.DataFrame) -> pd.DataFrame:
    """Every bucket from each service's first stored one to its last, the missing ones as zero counts."""
    frame = frame.assign(filled=False)
    if frame.empty:
        return frame
    parts = []
    for service, rows in frame.groupby("service", sort=True):
        width = int(rows["width_s"].mode().iloc[0])
        index = pd.date_range(rows["start"].min(), rows["start"].max(), freq=pd.Timedelta(seconds=width))
        full = rows.set_index("start").reindex(index)
        missing = full["service"].isna()
        full["service"] = service
        full["width_s"] = width
        for column in _COUNTS:
            full[column] = full[column].fillna(0).astype("int64")
        full["filled"] = missing
        parts.append(full.rename_axis("start").reset_index())
    out = pd.concat(parts, ignore_index=True)[list(frame.columns)]
    out["filled"] = out["filled"].astype(bool)
    return out


def load_alerts(db: str | Path | Store, service: str | None = None, since: When = None,
                metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Incidents: when each opened (as it would have fired live), resolved, how bad, and the evidence.

    ``peak_at``, ``peak_value``, ``peak_expected`` and ``peak_ratio`` are the incident's peak of ``metric``
    from the stored minutes, as the cards, the report and the dashboard state it
    (``detector.comms.facts.stored_peak``); ``severity_ratio`` is what the severity was decided on (the
    detector's deciding window at decision time), not a peak."""
    since = _when(since, "since")
    store, own = _store(db)
    try:
        return _times(_with_peaks(store, incident_table(store, service, since), metric))
    finally:
        if own:
            store.close()


def _with_peaks(store: Store, frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The stored incidents with the detector's record (peak_ratio, peak_value, expected) replaced by the
    one peak and the ratio the severity was decided on, named as such."""
    def moment(value) -> datetime | None:
        return None if value is None or value != value else pd.Timestamp(value).to_pydatetime()

    peaks = [stored_peak(store, service=row.service, opened_at=moment(row.opened_at),
                         resolved_at=moment(row.resolved_at), metric=metric) for row in frame.itertuples()]
    at = frame.columns.get_loc("peak_ratio")
    out = frame.drop(columns=["peak_ratio", "peak_value", "expected"])
    for offset, (name, values) in enumerate((
        ("peak_at", [None if p is None else p.at for p in peaks]),
        ("peak_value", [None if p is None else p.value for p in peaks]),
        ("peak_expected", [None if p is None else p.expected for p in peaks]),
        ("peak_ratio", [None if p is None else p.ratio for p in peaks]),
        ("severity_ratio", frame["peak_ratio"].tolist()),
    )):
        out.insert(at + offset, name, pd.Series(values, index=frame.index, dtype=object if name == "peak_at" else float))
    return out
