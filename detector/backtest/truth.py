"""Reading a file of known incidents (`service,start,acknowledged_at,end`): the truth a backtest scores against.

Such a file is a status-page export or an on-call's own record. ``acknowledged_at`` (when the provider said
so) and ``end`` may be empty; an incident without an end lasts ``default_length`` from its start (two hours
unless the caller says otherwise): long enough to cover the reports of a typical outage, short enough that
an unrelated alert hours later is not counted as catching it. Times are ISO 8601; without an offset they
are UTC. Every error names the row (as a spreadsheet numbers it, the header being row 1) and the field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from detector.timeparse import parse_time

COLUMNS = ("service", "start", "acknowledged_at", "end")
DEFAULT_LENGTH = timedelta(hours=2)


class TruthError(ValueError):
    """The incidents file cannot be read as asked; the message names the row and the field."""


@dataclass(frozen=True, slots=True)
class KnownIncident:
    """One incident of the truth file, times in aware UTC; ``end`` is filled in when the file left it empty."""

    service: str
    start: datetime
    acknowledged_at: datetime | None
    end: datetime
    end_given: bool
    row: int


def read_truth(path: str | Path, default_length: timedelta = DEFAULT_LENGTH) -> list[KnownIncident]:
    """Every incident of the file, sorted by service and start; raise TruthError on the first bad row."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise TruthError(f"incidents file {path} cannot be read ({error.strerror or error})") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or ()]
        missing = [name for name in ("service", "start") if name not in header]
        if missing:
            raise TruthError(f"{path.name}: no column {', '.join(missing)}; the header must be "
                             f"{','.join(COLUMNS)} (acknowledged_at and end may be left empty)")
        unknown = [name for name in header if name and name not in COLUMNS]
        if unknown:
            raise TruthError(f"{path.name}: unknown column {', '.join(unknown)}; the columns are {','.join(COLUMNS)}")
        reader.fieldnames = header
        incidents = [_incident(path.name, number, row, default_length) for number, row in enumerate(reader, start=2)
                     if any((value or "").strip() for value in row.values() if isinstance(value, str))]
    if not incidents:
        raise TruthError(f"{path.name}: no incidents (one row per incident after the header {','.join(COLUMNS)})")
    return sorted(incidents, key=lambda i: (i.service, i.start))


def _incident(name: str, number: int, row: dict, default_length: timedelta) -> KnownIncident:
    where = f"{name} row {number}"
    if None in row:
        raise TruthError(f"{where}: more values than columns; quote a value that contains a comma")
    service = (row.get("service") or "").strip()
    if not service:
        raise TruthError(f"{where}: service is empty; name the service as the config (or --service) does")
    start = _time(where, "start", row.get("start"), required=True)
    acknowledged = _time(where, "acknowledged_at", row.get("acknowledged_at"))
    end = _time(where, "end", row.get("end"))
    if end is not None and end <= start:
        raise TruthError(f"{where}: end {end.isoformat()} is not after start {start.isoformat()}")
    return KnownIncident(service, start, acknowledged, end or start + default_length, end is not None, number)


def _time(where: str, field: str, value: str | None, required: bool = False) -> datetime | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise TruthError(f"{where}: {field} is empty; give a time such as 2020-01-23T19:00:00Z")
        return None
    try:
        return parse_time(text)
    except ValueError as error:
        raise TruthError(f"{where}: {field} {text!r} is not a time ({error}); use ISO 8601 such as "
                         "2020-01-23T19:00:00Z (UTC when no offset is given)") from None
