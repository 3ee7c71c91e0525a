"""`detector alerts`: list incidents; ack, resolve and silence them."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from detector.cli.common import db_option, open_store, print_alerts
from detector.store.alerts import set_status


@click.group("alerts", invoke_without_command=True)
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--service", help="Only this service.")
@click.option("--status", type=click.Choice(["open", "acknowledged", "resolved"]), help="Only incidents in this state.")
@click.pass_context
def alerts_group(ctx: click.Context, db: str | None, fmt: str, service: str | None, status: str | None) -> None:
    """List incidents (times in ISO-8601 UTC); `alerts ack|resolve ID` act on one.

    JSON output is a list of objects with id, service, status, severity, opened_at (when the alert
    would have fired live), resolved_at, peak_ratio, expected, reason and evidence (post keys).
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is None:
        store = open_store(db)
        try:
            print_alerts(store, fmt, service, status)
        finally:
            store.close()


def _set(ctx: click.Context, db: str | None, alert_id: str, status: str) -> None:
    store = open_store(db or ctx.obj.get("db"))
    try:
        alert = set_status(store, alert_id, status, datetime.now(timezone.utc))
    except KeyError:
        raise click.ClickException(f"no incident {alert_id!r}; list them with `detector alerts`") from None
    finally:
        store.close()
    click.echo(f"{alert.id} is now {alert.status}")


@alerts_group.command("ack")
@click.argument("alert_id")
@db_option
@click.pass_context
def ack_cmd(ctx: click.Context, alert_id: str, db: str | None) -> None:
    """Acknowledge incident ALERT_ID: someone is on it."""
    _set(ctx, db, alert_id, "acknowledged")


@alerts_group.command("resolve")
@click.argument("alert_id")
@db_option
@click.pass_context
def resolve_cmd(ctx: click.Context, alert_id: str, db: str | None) -> None:
    """Resolve incident ALERT_ID by hand."""
    _set(ctx, db, alert_id, "resolved")
