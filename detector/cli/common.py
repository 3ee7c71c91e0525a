"""Pieces every command shares: the --db option, settings loading, alert tables, progress output."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from detector.config import Settings, load_settings
from detector.pipeline import RunReport
from detector.records import DEFAULT_METRIC
from detector.store.alerts import load_alerts
from detector.store.store import Store

db_option = click.option(
    "--db", envvar="DETECTOR_DB", default=None,
    help="SQLite file or database URL [env DETECTOR_DB; default: the config's db, else detector.db].",
)


def load_or_default(config: Path | None) -> Settings:
    return load_settings(config) if config is not None else Settings()


def open_store(db: str | None, config: Path | None = None) -> Store:
    """The store named by --db, else by the config, else ./detector.db; it must exist for read commands."""
    target = db or (load_settings(config).db if config else "detector.db")
    if "://" not in target and not Path(target).exists():
        raise click.ClickException(f"database {target} does not exist; create it with `detector replay` or `detector run`")
    return Store(target)


def alert_records(store: Store, service: str | None = None, status: str | None = None,
                  metric: str = DEFAULT_METRIC) -> list[dict[str, Any]]:
    """The incidents as ``alerts`` lists them. ``peak_*`` is the incident's peak from the stored minutes
    (``detector.comms.facts.stored_peak``, as the cards, the report and the dashboard state it);
    ``severity_ratio`` is the ratio its severity was decided on (the detector's record), not a peak."""
    from detector.comms.facts import stored_peak
    from detector.store.cascades import groups_by_incident

    out = []
    groups = groups_by_incident(store)
    for a in load_alerts(store, service=service, status=status):
        peak = stored_peak(store, service=a.service, opened_at=a.opened_at, resolved_at=a.resolved_at, metric=metric)
        out.append({
            "id": a.id, "service": a.service, "status": a.status, "severity": a.severity,
            "opened_at": _iso(a.opened_at), "resolved_at": _iso(a.resolved_at),
            "peak_at": None if peak is None else _iso(peak.at), "peak_value": None if peak is None else peak.value,
            "peak_expected": None if peak is None or peak.expected is None else round(peak.expected, 3),
            "peak_ratio": None if peak is None or peak.ratio is None else round(peak.ratio, 2),
            "severity_ratio": round(a.peak_ratio, 2),
            "suppressed": a.suppressed, "reason": a.reason, "evidence": list(a.evidence),
            "group": groups.get(a.id),
        })
    return out


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def print_alerts(store: Store, fmt: str, service: str | None = None, status: str | None = None,
                 metric: str = DEFAULT_METRIC) -> None:
    rows = alert_records(store, service, status, metric)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "evidence": " ".join(row["evidence"])})
        click.echo(buffer.getvalue(), nl=False)
        return
    if not rows:
        click.echo("no incidents")
        return
    header = (f"{'id':<34} {'service':<14} {'status':<12} {'severity':<8} {'opened (UTC)':<20} "
              f"{'resolved (UTC)':<20} {'peak/min':>8} {'peak×exp':>8}")
    click.echo(header)
    for r in rows:
        flag = " (suppressed)" if r["suppressed"] else ""
        value = "-" if r["peak_value"] is None else f"{r['peak_value']:.0f}"
        ratio = "-" if r["peak_ratio"] is None else f"{r['peak_ratio']:.1f}"
        click.echo(
            f"{r['id']:<34} {r['service'][:14]:<14} {r['status']:<12} {r['severity']:<8} "
            f"{(r['opened_at'] or '')[:19]:<20} {(r['resolved_at'] or '-')[:19]:<20} {value:>8} {ratio:>8}{flag}"
        )


class progress_printer:
    """Posts/s progress on stderr: a live line on a terminal, a line every 10 s otherwise."""

    def __init__(self, quiet: bool = False, every: float = 10.0) -> None:
        self.quiet = quiet
        self.every = every
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, report: RunReport) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not self.tty and now - self.last < self.every:
            return
        self.last = now
        rate = report.read / max(now - self.started, 1e-9)
        line = (f"{report.read:,} read, {report.stored:,} stored, {report.duplicates:,} duplicate, "
                f"{report.quarantined:,} quarantined, {report.opened} incidents  {rate:,.0f} posts/s")
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")
