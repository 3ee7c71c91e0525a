"""Run the volume detector over any `timestamp,value` series (the NAB format) and write what it decided.

Each row becomes one closed bucket whose every count field holds the value, so whichever metric the
settings pick reads the same number; the bucket width is the series' median step (NAB: 5 minutes).
The detector is the one a user deploys, called through the same interface the pipeline uses.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import median

from detector.records import Bucket
from detector.volume.registry import build_detector
from detector.volume.settings import VolumeSettings

OUTPUT_COLUMNS = ("timestamp", "value", "expected", "anomaly_score", "alert")


@dataclass(frozen=True)
class SeriesSummary:
    """What a `detect_series` run saw and decided."""

    rows: int
    bucket_seconds: float
    alerts: int
    first_alert: datetime | None


def read_series(path: str | Path) -> list[tuple[datetime, float]]:
    """Return the (UTC timestamp, value) rows of a `timestamp,value` CSV; naive timestamps are UTC."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "value"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need timestamp,value")
        for line, row in enumerate(reader, start=2):
            try:
                moment = datetime.fromisoformat(row["timestamp"].strip())
                value = float(row["value"])
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}:{line}: cannot read timestamp/value ({error})") from None
            moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
            rows.append((moment, value))
    rows.sort(key=lambda item: item[0])
    return rows


def bucket_width(rows: list[tuple[datetime, float]], fallback_seconds: float) -> timedelta:
    """The series' median step (the fallback for fewer than two rows)."""
    steps = [(b[0] - a[0]).total_seconds() for a, b in zip(rows, rows[1:]) if b[0] > a[0]]
    return timedelta(seconds=median(steps) if steps else fallback_seconds)


def detect_series(
    input_csv: str | Path, output_csv: str | Path, settings: VolumeSettings, service: str = "series"
) -> SeriesSummary:
    """Judge every row of ``input_csv`` in time order and write `timestamp,value,expected,anomaly_score,alert`."""
    rows = read_series(input_csv)
    width = bucket_width(rows, settings.bucket_seconds)
    detector = build_detector(settings, service)
    alerts, first_alert = 0, None
    with open(output_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_COLUMNS)
        for moment, value in rows:
            count = int(value) if float(value).is_integer() else value
            bucket = Bucket(service, moment, moment + width, mentions=count, complaints=count,
                            misinformation=0, people=count, complaint_people=count)
            detection = detector.update(bucket)
            if detection.alert:
                alerts += 1
                first_alert = first_alert or moment
            writer.writerow([
                moment.strftime("%Y-%m-%d %H:%M:%S"), f"{value:g}", f"{detection.expected:.4f}",
                f"{detection.score:.4f}", int(detection.alert),
            ])
    return SeriesSummary(len(rows), width.total_seconds(), alerts, first_alert)
