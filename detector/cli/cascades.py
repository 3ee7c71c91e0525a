"""`detector alerts --groups` and acting on a cascade: the cascades as a table or JSON, and ack / resolve
of a whole group (the cascade's id, or any member incident's id while its cascade is open)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Callable

import click

from detector.alerting.cascade_actions import act_on_group, group_to_act_on  # noqa: F401 (the CLI's entry)
from detector.alerting.cascade_payload import cascade_record
from detector.alerting.settings import AlertSettings
from detector.store.cascades import load_cascades
from detector.store.store import Store


def print_cascades(store: Store, fmt: str) -> None:
    """Every cascade: JSON records (``likely_cause``, ``confidence``, ``services``, ``evidence``,
    ``incidents``), or one line each."""
    records = [cascade_record(c) for c in load_cascades(store)]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        columns = ["id", "status", "likely_cause", "confidence", "severity", "opened_at", "recognised_at",
                   "recognised_after_minutes", "resolved_at", "services"]
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "services": " ".join(r["services"])})
        click.echo(buffer.getvalue(), nl=False)
        return
    if not records:
        click.echo("no cascades")
        return
    for r in records:
        click.echo(f"{r['id']:<44} {r['status']:<12} {r['likely_cause'][:22]:<22} confidence {r['confidence']:.2f}  "
                   f"opened {r['opened_at'][:16]}  recognised +{r['recognised_after_minutes']:g} min  "
                   f"{', '.join(r['services'])}")


def act_on_cascade(store: Store, cascade_id: str, status: str, at: datetime, actor: str, settings: AlertSettings,
                   deliver: Callable[[], str]) -> None:
    """Acknowledge or resolve the group; say what happened and deliver what was queued."""
    try:
        done = act_on_group(store, cascade_id, status, at, actor, settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"cascade {done.id} ({done.likely_cause}) is now {done.status} (by {actor}), with its "
               f"{len(done.members)} incident(s): {', '.join(m.alert_id for m in done.members)}")
    click.echo(deliver())
