"""`detector quarantine`: the rows that could not become posts, with their reason and raw form."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from detector.cli.common import db_option, open_store

_RAW_WIDTH = 60  # the table shows the start of the raw form; csv and json carry all of it


def _ids(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of row ids like 3,5,9 (the id column of the "
                                 "listing)", param_hint="--ids") from None


@click.command("quarantine")
@db_option
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="DETECTOR_CONFIG", help="Config file (for its db) [env DETECTOR_CONFIG].")
@click.option("--source", default=None, help="Only this source (e.g. replay, reddit).")
@click.option("--file", "file", default=None,
              help="Only the rows read from this replayed file (its name, as in the ref column: posts.csv).")
@click.option("--ids", default=None, help="Only these rows (ids from the listing, e.g. 3,5,9).")
@click.option("--limit", type=int, default=None, help="At most this many rows [default: all].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "raw"]), default="table",
              show_default=True,
              help="table: a summary by reason, then one line per row; csv/json: every row in full, to export; "
                   "raw: one --file's rows exactly as they were read, one per line, to fix and replay.")
@click.option("--header-from", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --format raw: write this file's first line first (the original CSV's header, which "
                   "is not stored), so the export replays with the same options.")
@click.option("--forget", is_flag=True, default=False,
              help="Remove the selected rows (--source, --file or --ids) from the list, once their fixed "
                   "versions are replayed. Replaying the original file again does not bring them back.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file [default: stdout].")
def quarantine_cmd(db: str | None, config: Path | None, source: str | None, file: str | None, ids: str | None,
                   limit: int | None, fmt: str, header_from: Path | None, forget: bool, out: Path | None) -> None:
    """List the quarantined rows: input that could not become a post (malformed, absurd, mis-dated, an id
    seen before with another text), each with where it came from, why, and its raw form as read.

    Each row is kept once: replaying the same file again does not add its rows again.

    To bring rows back, fix them and replay them (the replay's own checks then apply to them):

    \b
      detector quarantine --file posts.csv --format raw --header-from posts.csv --out fix.csv
      (edit fix.csv)
      detector replay fix.csv ...the options posts.csv was replayed with...
      detector quarantine --file posts.csv --forget

    There is no in-place re-import: a quarantined row is stored as text, without the column mapping, time
    zone and service it was replayed with, so the replay that reads the fixed file is the honest place to
    parse it again. Rows from live sources are kept for reading (their raw form is the API's item, not a
    file's line); a raw form longer than 64 KiB was cut and is left out of a raw export. A conflict (a
    known id with another text) is listed under that id (replay:ID), not its file: the stored post is the
    one to keep."""
    from detector.store.quarantine import forget as forget_rows
    from detector.store.quarantine import list_quarantined, reason_counts

    selected = _ids(ids)
    if fmt == "raw" and file is None:
        raise click.UsageError("--format raw needs --file NAME (the replayed file the rows came from), so the "
                               "export is one file's rows in one format")
    if header_from is not None and fmt != "raw":
        raise click.UsageError("--header-from goes with --format raw")
    if forget and source is None and file is None and selected is None:
        raise click.UsageError("--forget needs a selection: --file NAME, --ids 3,5,9 or --source NAME")
    store = open_store(db, config)
    try:
        if forget:
            n = forget_rows(store.engine, source=source, file=file, ids=selected)
            click.echo(f"forgot {n} quarantined row(s); replaying their original file again will not bring "
                       "them back")
            return
        rows = list_quarantined(store.engine, source=source, limit=limit, file=file, ids=selected)
        reasons = reason_counts(store.engine, source=source, file=file, ids=selected)
    finally:
        store.close()
    if fmt == "raw":
        _write_raw(rows, header_from, out)
        return
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
        where = " from " + " and ".join(x for x in (source, file) if x) if source or file else ""
        lines = [f"{sum(n for _, n in reasons):,} row(s) in quarantine{where}:"]
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


def _write_raw(rows: list[dict], header_from: Path | None, out: Path | None) -> None:
    """The rows' raw forms, one per line, after the header line of ``header_from``; what cannot be replayed
    (no raw form, cut at the size kept) is left out and counted."""
    from detector.sources.replay import RAW_KEPT

    kept, left_out = [], {}
    for row in rows:
        raw = row["raw"]
        why = ("no raw form was kept" if raw is None else
               f"cut at {RAW_KEPT // 1024} KiB" if len(raw) >= RAW_KEPT else None)
        if why is None:
            kept.append(raw.rstrip("\r\n"))
        else:
            left_out[why] = left_out.get(why, 0) + 1
    lines = kept
    if header_from is not None:
        with header_from.open(encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline(1 << 20).rstrip("\r\n")
        lines = [header, *kept]
    text = "".join(line + "\n" for line in lines)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(kept)} row(s) to {out}", err=True)
    for why, n in left_out.items():
        click.echo(f"note: {n} row(s) left out: {why}", err=True)
