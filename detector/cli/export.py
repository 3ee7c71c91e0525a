"""`detector export`: posts with their verdicts, as Parquet or CSV, for pandas and spreadsheets."""

from __future__ import annotations

from pathlib import Path

import click

from detector.cli.common import db_option, open_store
from detector.timeparse import parse_time


@click.command("export")
@db_option
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), required=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--service", help="Only posts about this service.")
@click.option("--since", help="Only posts at or after this time (ISO-8601, UTC if no offset).")
@click.option("--until", help="Only posts before this time.")
def export_cmd(db: str | None, fmt: str, out: Path, service: str | None, since: str | None, until: str | None) -> None:
    """Export posts with their verdicts: complaint (0/1), complaint_p, outage_report (0/1: the author reports
    the service down for them now), outage_report_p, misinformation (0/1), misinformation_p, claim, symptom,
    place (the places the post names, "Kamloops, BC; Vernon, BC"), and the post's source, id, time, service,
    text, author (pseudonymised), url and language."""
    lo = parse_time(since) if since else None
    hi = parse_time(until) if until else None
    store = open_store(db)
    try:
        from detector.analysis import load_posts  # pandas: imported by the one command that needs it

        frame = load_posts(store, service=service, since=lo, until=hi)
    finally:
        store.close()
    if fmt == "parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    click.echo(f"wrote {len(frame):,} posts to {out}")
