"""What a replay stored, in a canonical form, so two versions of the code can be compared row by row.

    nice bin/py bench/replay_digest.py [FILE] [--classifier keywords] --out before.txt
    ... change the code ...
    nice bin/py bench/replay_digest.py [FILE] [--classifier keywords] --out after.txt
    diff before.txt after.txt

A speed-up must not change what the pipeline decides. This replays a file (the bundled Xfinity tweets by
default) into a new SQLite file and writes every post (by its source id, with its services and language),
its verdict, its places, every bucket (counts, expected value, band and score), every incident and its
events and every outbox payload, sorted, with the columns that depend on the wall clock, the database's
row ids or the pseudonym key (a new one per database) left out. The last lines are one SHA-256 per table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from detector.classify.settings import ClassifierSettings
from detector.config import Settings
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySource
from replay_args import add_replay_arguments, replay_settings, service_settings  # bench/ is the script's folder

# Each table as rows that do not depend on the run: posts by source id, not row id; no wall-clock columns.
QUERIES = {
    "posts": "SELECT p.source, p.source_id, p.created_at, p.lang, "
             "(SELECT group_concat(service, '|') FROM (SELECT service FROM post_services s "
             " WHERE s.post_id = p.id ORDER BY service)) FROM posts p",
    "verdicts": "SELECT p.source, p.source_id, v.model, v.complaint, v.complaint_p, v.misinformation, "
                "v.misinformation_p, v.symptom, v.symptom_p, v.claim, v.claim_similarity, v.confidence "
                "FROM verdicts v JOIN posts p ON p.id = v.post_id",
    "places": "SELECT p.source, p.source_id, x.place, x.name, x.kind, x.region, x.country, x.lat, x.lon "
              "FROM post_places x JOIN posts p ON p.id = x.post_id",
    "buckets": "SELECT service, start, width_s, mentions, complaints, misinformation, people, "
               "complaint_people, expected, upper, score FROM buckets",
    "alerts": "SELECT id, service, opened_at, resolved_at, status, severity, peak_ratio, peak_value, expected, "
              "reason, evidence, suppressed FROM alerts",
    "alert_events": "SELECT alert_id, at, kind, detail FROM alert_events",
    "outbox": "SELECT key, alert_id, channel, payload, status FROM outbox",
    "quarantine": "SELECT source, ref, reason FROM quarantine",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_replay_arguments(parser, classifier="keywords")
    parser.add_argument("--notify", default=None,
                        help="also fill the outbox for this channel URL (default: a jsonl file, not delivered)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "digest.db"
        settings = Settings(db=str(db), services=[service_settings(args)],
                            classifier=ClassifierSettings(kind=args.classifier))
        notify = [args.notify or f"jsonl://{Path(folder) / 'alerts.jsonl'}"]
        system = build_system(settings, notify=notify)
        report = run_source(system, ReplaySource(replay_settings(args), system.pseudonymiser),
                            assigned=args.service, resume=False)
        system.close()
        lines, sums = [f"# {report.summary()}"], []
        with sqlite3.connect(db) as conn:
            for table, query in QUERIES.items():
                rows = sorted(json.dumps(_plain(row), default=str) for row in conn.execute(query))
                digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
                lines += [f"{table}\t{row}" for row in rows]
                sums.append(f"# {table}: {len(rows)} rows, sha256 {digest}")
    args.out.write_text("\n".join(lines + sums) + "\n")
    print("\n".join([lines[0], *sums]))


def _plain(row: tuple) -> list:
    """JSON columns (evidence, detail, payload) parsed and re-sorted, without their wall-clock fields."""
    out = []
    for value in row:
        if isinstance(value, str) and value[:1] in "{[":
            try:
                value = _drop_clock(json.loads(value))
            except ValueError:
                pass
        out.append(value)
    return out


# Wall-clock fields, and pseudonyms (each new database gets its own pseudonym key).
WALL_CLOCK = {"sent_at", "created_at_wall", "generated_at", "now", "delivered_at", "author", "person"}


def _drop_clock(value):
    if isinstance(value, dict):
        return {k: _drop_clock(v) for k, v in sorted(value.items()) if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [_drop_clock(v) for v in value]
    return value


if __name__ == "__main__":
    main()
