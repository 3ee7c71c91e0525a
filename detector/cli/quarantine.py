"""`detector quarantine`: the rows that could not become posts, with their reason and raw form."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from detector.cli.common import db_option, open_store

_RAW_WIDTH = 60  # the table shows the start of the raw form; csv and json carry all of it


@click.command("quarantine")
@db_option
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="DETECTOR_CONFIG", help="Config file (for its db) [env DETECTOR_CONFIG].")
@click.option("--source", default=None, help="Only this source (e.g. replay, reddit).")
@click.option("--limit", type=int, default=None, help="At most this many rows [default: all].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table: a summary by reason, then one line per row; csv/json: every row in full, to export.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file [default: stdout].")
def quarantine_cmd(db: str | None, config: Path | None, source: str | None, limit: int | None, fmt: str,
                   out: Path | None) -> None:
    """List the quarantined rows: input that could not become a post (malformed, absurd, mis-dated, an id
    seen before with another text), each with where it came from, why, and its raw form as read.

    Each row is kept once: replaying the same file again does not add its rows again."""
    from detector.store.quarantine import list_quarantined, reason_counts

    store = open_store(db, config)
    try:
        rows = list_quarantined(store.engine, source=source, limit=limit)
        reasons = reason_counts(store.engine, source=source)
    finally:
        store.close()
    for row in rows:
        row["at"] = row["at"].isoformat().replace("+00:00", "Z")
    if fmt == "json":
        text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "at", "source", "ref", "reason", "raw"])
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    elif not rows:
        text = "nothing in quarantine\n"
    else:
        lines = [f"{sum(n for _, n in reasons):,} row(s) in quarantine" + (f" from {source}" if source else "") + ":"]
        lines += [f"  {count:>7,}  {reason}" for reason, count in reasons]
        lines.append("")
        lines.append(f"{'id':>6}  {'at (UTC)':<20} {'source':<12} {'ref':<24} {'reason':<40} raw")
        for row in rows:
            raw = (row["raw"] or "").replace("\n", "\\n")
            raw = raw if len(raw) <= _RAW_WIDTH else raw[:_RAW_WIDTH - 1] + "…"
            lines.append(f"{row['id']:>6}  {row['at'][:19]:<20} {row['source'][:12]:<12} {row['ref'][:24]:<24} "
                         f"{row['reason'][:40]:<40} {raw}")
        text = "\n".join(lines) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} row(s) to {out}", err=True)
