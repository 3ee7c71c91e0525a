"""A small hand-made CSV for alerting tests: two quiet hours, a burst that escalates, a quiet hour."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
BURST = START + timedelta(hours=2)
RAMP = (3, 4, 6, 8, 12, 18, 25, 30, 30, 28, 25, 20, 15, 10, 6, 3)  # complaining people per minute


def write_burst_csv(path: Path, *, ramp: tuple[int, ...] = RAMP, quiet_after_minutes: int = 64) -> Path:
    """Columns id, created_at, text, author, url; the burst's posts carry markup and an ampersand."""
    rows: list[dict[str, str]] = []

    def add(moment: datetime, text: str, author: str) -> None:
        n = len(rows) + 1
        rows.append({"id": f"p{n}", "created_at": moment.isoformat(), "text": text, "author": author,
                     "url": f"https://social.example/p{n}"})

    for minute in range(120):
        moment = START + timedelta(minutes=minute)
        if minute % 3 == 0:
            add(moment + timedelta(seconds=5), "I like acme cloud", f"fan{minute}")
        if minute % 10 == 0:
            add(moment + timedelta(seconds=20), "acme cloud is slow today", f"meh{minute}")
    for i, people in enumerate(ramp):
        moment = BURST + timedelta(minutes=i)
        for j in range(people):
            add(moment + timedelta(seconds=2 * j + 1), f"acme cloud is down, can't log in <b>#{j}</b> & error 503",
                f"user{i}_{j}")
    for minute in range(len(ramp), len(ramp) + quiet_after_minutes):
        if minute % 3 == 0:
            add(BURST + timedelta(minutes=minute, seconds=5), "acme cloud works fine for me", f"fan{minute}")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "created_at", "text", "author", "url"])
        writer.writeheader()
        writer.writerows(rows)
    return path
