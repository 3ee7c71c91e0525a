"""`detector alerts`: list incidents; ack, resolve and silence them; see and retry their deliveries."""

from __future__ import annotations

import getpass
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from detector.alerting.channels.base import Channel
from detector.alerting.channels.registry import channel_from_url
from detector.alerting.actions import set_status
from detector.alerting.delivery import Sender
from detector.alerting.manager import AlertChange
from detector.alerting.notification import build_payload
from detector.alerting.settings import ChannelSettings
from detector.cli.common import db_option, load_or_default, open_store, print_alerts
from detector.secrets import Secrets
from detector.store.deliveries import outbox_rows, requeue
from detector.store.silences import add_silence, end_silence, list_silences
from detector.store.store import Store

config_option = click.option(
    "-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="DETECTOR_CONFIG",
    help="Config file whose [alerts] channels deliver the notifications (and dashboard_url).",
)
notify_option = click.option(
    "--notify", multiple=True, metavar="URL",
    help="Channels given to `detector replay --notify`, in the same order (they are named notify-1, -2, ...).",
)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """'2h', '90m', '1h30m', '1d' -> timedelta; raise click.BadParameter otherwise."""
    compact = text.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise click.BadParameter(f"{text!r} is not a duration; write e.g. 2h, 30m, 1h30m or 1d")
    return timedelta(seconds=sum(float(n) * _UNITS[u.lower()] for n, u in parts))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"


@click.group("alerts", invoke_without_command=True)
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--service", help="Only this service.")
@click.option("--status", type=click.Choice(["open", "acknowledged", "resolved"]), help="Only incidents in this state.")
@click.option("--groups", is_flag=True, help="List cascades instead: incidents of several services (or of one and "
              "an upstream) grouped with a likely cause, confidence, services and evidence.")
@click.option("-c", "--config", "list_config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="DETECTOR_CONFIG", help="Config whose detection metric the peaks are of (and whose db is read).")
@click.pass_context
def alerts_group(ctx: click.Context, db: str | None, fmt: str, service: str | None, status: str | None,
                 groups: bool, list_config: Path | None) -> None:
    """List incidents (times in ISO-8601 UTC); subcommands act on them and on their notifications.

    JSON output is a list of objects with id, service, status, severity, opened_at (when the alert
    would have fired live), resolved_at, the peak (peak_at, peak_value, peak_expected, peak_ratio: the
    stored minute with the most reports, as the cards and the report state it), severity_ratio (what the
    severity was decided on, not a peak), suppressed, reason, evidence (post keys) and group (the id of the
    cascade it belongs to, or null). With --groups, a list of cascades with id,
    likely_cause, confidence, status, services, incidents and evidence.

    \b
      detector alerts ack ID / resolve ID        mirrored to PagerDuty and the other channels notified;
                                                 a cascade's id (or a member's) acts on the whole group
      detector alerts silence SERVICE --for 2h   record incidents, page nobody
      detector alerts deliveries --dead          notifications that could not be delivered, and why
      detector alerts send -c config.toml        deliver pending notifications now
      detector alerts test -c config.toml        send a sample notification to every channel
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand is None:
        metric = load_or_default(list_config).detection.metric
        store = open_store(db, list_config)
        try:
            if service:
                service = _known_service(store, service, None)
            if groups:
                from detector.cli.cascades import print_cascades

                print_cascades(store, fmt)
            else:
                print_alerts(store, fmt, service, status, metric)
            dead = len(outbox_rows(store, "dead"))
        finally:
            store.close()
        if dead and fmt == "table":  # json / csv output stays machine-readable
            click.echo(f"note: {dead} notification(s) could not be delivered; see `detector alerts deliveries "
                       "--dead`", err=True)


def _known_service(store: Store, name: str, config: Path | None) -> str:
    """The stored spelling of a typed service name, or a one-line error suggesting the close ones (the
    services known are the database's and, with a config, the config's: ``detector.service_names``)."""
    from detector.service_names import UnknownService, resolve_service
    from detector.store.services import stored_services

    known = stored_services(store)
    if config is not None:
        known |= {s.name for s in load_or_default(config).services}
    try:
        return resolve_service(name, known)
    except UnknownService as error:
        raise click.ClickException(str(error)) from None


def _store(ctx: click.Context, db: str | None) -> Store:
    return open_store(db or ctx.obj.get("db"))


def _channels(config: Path | None, notify: tuple[str, ...]) -> tuple[object, Secrets, dict[str, Channel]]:
    """The settings, secrets and channels a run with this config and these --notify URLs had."""
    from detector.runtime.assembly import quick_channels

    settings = load_or_default(config)
    secrets = Secrets(settings.secrets_file)
    configured = [*settings.alerts.channels, *quick_channels(notify)]
    if settings.alerts.jsonl is not None:
        configured.append(ChannelSettings(name="jsonl", url=f"jsonl://{settings.alerts.jsonl}"))
    channels = {c.name: channel_from_url(c.name, c.url, secrets, c.secret) for c in configured}
    return settings, secrets, channels


def _deliver(store: Store, settings, secrets: Secrets, channels: dict[str, Channel]) -> str:
    if not channels:
        return "no channels given (-c/--notify): a running detector or `detector alerts send` delivers them"
    report = Sender(store, channels, secrets=secrets, settings=settings.alerts).deliver_due()
    return f"delivered {report.sent}, retrying {report.retrying}, dead {report.dead}"


def _act(ctx: click.Context, db: str | None, alert_id: str, status: str, by: str | None,
         config: Path | None, notify: tuple[str, ...]) -> None:
    from detector.runtime.assembly import known_claims

    settings, secrets, channels = _channels(config, notify)
    store = _store(ctx, db)
    kind = "acknowledged" if status == "acknowledged" else "resolved"
    at = _now()
    actor = _actor(by)

    def payload(alert):
        body = build_payload(store, AlertChange(kind, alert, at), settings.alerts, metric=settings.detection.metric,
                             claims=known_claims(settings.classifier))
        body["by"] = actor
        return body

    try:
        from detector.cli.cascades import act_on_cascade, group_to_act_on

        group = group_to_act_on(store, alert_id)
        if group is not None:
            act_on_cascade(store, group, status, at, actor, settings.alerts,
                           lambda: _deliver(store, settings, secrets, channels))
            return
        try:
            alert = set_status(store, alert_id, status, at, actor=actor, notify=payload)
        except KeyError:
            raise click.ClickException(f"no incident {alert_id!r}; list them with `detector alerts`") from None
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        queued = [r["channel"] for r in outbox_rows(store) if r["alert_id"] == alert_id and r["payload"].get("event") == kind
                  and r["status"] == "pending"]
        if status == "acknowledged" and alert.status == "resolved":
            click.echo(f"{alert.id} is resolved; acknowledged (by {actor}) for the record")
        else:
            click.echo(f"{alert.id} is now {alert.status} (by {actor})")
        if queued:
            click.echo(f"queued for {', '.join(sorted(set(queued)))}: {_deliver(store, settings, secrets, channels)}")
    finally:
        store.close()


@alerts_group.command("ack")
@click.argument("alert_id")
@db_option
@click.option("--by", help="Who acknowledges [default: your user name].")
@config_option
@notify_option
@click.pass_context
def ack_cmd(ctx: click.Context, alert_id: str, db: str | None, by: str | None, config: Path | None,
            notify: tuple[str, ...]) -> None:
    """Acknowledge incident ALERT_ID: someone is on it (PagerDuty gets an acknowledge)."""
    _act(ctx, db, alert_id, "acknowledged", by, config, notify)


@alerts_group.command("resolve")
@click.argument("alert_id")
@db_option
@click.option("--by", help="Who resolves [default: your user name].")
@config_option
@notify_option
@click.pass_context
def resolve_cmd(ctx: click.Context, alert_id: str, db: str | None, by: str | None, config: Path | None,
                notify: tuple[str, ...]) -> None:
    """Resolve incident ALERT_ID by hand (PagerDuty gets a resolve)."""
    _act(ctx, db, alert_id, "resolved", by, config, notify)


@alerts_group.command("silence")
@click.argument("service")
@click.option("--for", "duration", required=True, help="How long: 2h, 30m, 1h30m, 1d.")
@click.option("--start", "start", default=None, help="When it starts (ISO-8601, UTC if no offset) [default: now].")
@click.option("--reason", default=None, help="Why (shown in the incident's events).")
@click.option("--by", help="Who silences [default: your user name].")
@db_option
@config_option
@click.pass_context
def silence_cmd(ctx: click.Context, service: str, duration: str, start: str | None, reason: str | None,
                by: str | None, db: str | None, config: Path | None) -> None:
    """Silence SERVICE ('*' for all): incidents are still recorded, nobody is paged about them.

    Resolves and acknowledgements still reach the channels that already heard of an incident.
    """
    length = parse_duration(duration)
    begins = _now()
    if start:
        try:
            begins = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter(f"{start!r} is not an ISO-8601 time", param_hint="--start") from None
        begins = begins.replace(tzinfo=timezone.utc) if begins.tzinfo is None else begins.astimezone(timezone.utc)
    store = _store(ctx, db)
    try:
        if service != "*":
            service = _known_service(store, service, config)
        silence_id = add_silence(store, service, begins, begins + length, reason, _actor(by))
    finally:
        store.close()
    click.echo(f"silence {silence_id}: {service} until {(begins + length).isoformat(timespec='seconds')}"
               + (f" ({reason})" if reason else ""))


@alerts_group.command("silences")
@click.option("--all", "show_all", is_flag=True, help="Include silences that are over.")
@db_option
@click.pass_context
def silences_cmd(ctx: click.Context, show_all: bool, db: str | None) -> None:
    """List silences (active ones unless --all)."""
    store = _store(ctx, db)
    try:
        rows = list_silences(store, active_at=None if show_all else _now())
    finally:
        store.close()
    if not rows:
        click.echo("no silences")
    for r in rows:
        click.echo(f"{r['id']:>4} {r['service']:<20} {r['starts_at']:%Y-%m-%dT%H:%M}Z -> {r['ends_at']:%Y-%m-%dT%H:%M}Z "
                   f"by {r['created_by'] or '?'}" + (f": {r['reason']}" if r["reason"] else ""))


@alerts_group.command("unsilence")
@click.argument("silence_id", type=int)
@db_option
@click.pass_context
def unsilence_cmd(ctx: click.Context, silence_id: int, db: str | None) -> None:
    """End silence SILENCE_ID now."""
    store = _store(ctx, db)
    try:
        ended = end_silence(store, silence_id, _now())
    finally:
        store.close()
    if not ended:
        raise click.ClickException(f"no active silence {silence_id}; list them with `detector alerts silences`")
    click.echo(f"silence {silence_id} ended")


@alerts_group.command("deliveries")
@click.option("--dead", "only_dead", is_flag=True, help="Only notifications that could not be delivered.")
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]), help="Only this state.")
@click.option("--incident", help="Only this incident.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@db_option
@click.pass_context
def deliveries_cmd(ctx: click.Context, only_dead: bool, status: str | None, incident: str | None, fmt: str,
                   db: str | None) -> None:
    """Notifications in the outbox: per channel, state, attempts and the last error (secrets masked)."""
    store = _store(ctx, db)
    try:
        rows = outbox_rows(store, "dead" if only_dead else status)
    finally:
        store.close()
    rows = [r for r in rows if incident is None or r["alert_id"] == incident]
    records = [{
        "key": r["key"], "incident": r["alert_id"], "event": r["payload"].get("event"), "channel": r["channel"],
        "status": r["status"], "attempts": r["attempts"], "created_at": r["created_at"].isoformat(),
        "next_attempt_at": r["next_attempt_at"].isoformat() if r["status"] == "pending" else None,
        "sent_at": r["sent_at"].isoformat() if r["sent_at"] else None, "last_error": r["last_error"],
    } for r in rows]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no notifications")
        return
    click.echo(f"{'incident':<30} {'event':<12} {'channel':<14} {'status':<8} {'tries':>5}  last error")
    for r in records:
        click.echo(f"{r['incident'][:30]:<30} {str(r['event'])[:12]:<12} {r['channel'][:14]:<14} {r['status']:<8} "
                   f"{r['attempts']:>5}  {(r['last_error'] or '')[:80]}")


@alerts_group.command("send")
@db_option
@config_option
@notify_option
@click.pass_context
def send_cmd(ctx: click.Context, db: str | None, config: Path | None, notify: tuple[str, ...]) -> None:
    """Deliver the pending notifications that are due, through the configured channels."""
    settings, secrets, channels = _channels(config, notify)
    store = _store(ctx, db or (settings.db if config else None))
    try:
        click.echo(_deliver(store, settings, secrets, channels))
        waiting = len(outbox_rows(store, "pending"))
    finally:
        store.close()
    if waiting:
        click.echo(f"{waiting} notification(s) still pending (not due yet, or for channels not given here)")


@alerts_group.command("retry")
@click.argument("keys", nargs=-1)
@click.option("--dead", "all_dead", is_flag=True, help="Every dead notification.")
@db_option
@click.pass_context
def retry_cmd(ctx: click.Context, keys: tuple[str, ...], all_dead: bool, db: str | None) -> None:
    """Give dead notifications (KEYS from `alerts deliveries --dead`, or --dead for all) new attempts."""
    if not keys and not all_dead:
        raise click.UsageError("give notification KEYS or --dead")
    store = _store(ctx, db)
    try:
        count = requeue(store, keys, dead=all_dead)
    finally:
        store.close()
    click.echo(f"{count} notification(s) queued again; `detector alerts send` or a running detector delivers them")


SAMPLE = {
    "event": "opened", "at": "2026-01-01T00:00:00+00:00", "key": "test:0:sample",
    "alert": {"id": "test-sample", "service": "Example", "status": "open", "severity": "minor",
              "opened_at": "2026-01-01T00:00:00+00:00", "resolved_at": None, "severity_ratio": 4.0,
              "reason": "a test notification from `detector alerts test`; nothing is wrong"},
    "signal": {"value": 4.0, "expected": 1.0, "upper": 3.0, "score": 1.0, "ratio": 4.0},
    "complaint_share": 0.75, "top_symptoms": ["login"], "symptoms": {"login": 3}, "claims": [],
    "official_status": None, "evidence": [], "dashboard_url": None,
}


@alerts_group.command("test")
@config_option
@notify_option
def test_cmd(config: Path | None, notify: tuple[str, ...]) -> None:
    """Send a sample notification to every configured channel and say how each went (nothing is stored)."""
    _, secrets, channels = _channels(config, notify)
    if not channels:
        raise click.UsageError("no channels: give -c CONFIG with [[alerts.channels]] or --notify URL")
    failed = 0
    for name, channel in channels.items():
        result = channel.send(SAMPLE)
        failed += not result.ok
        # masked as the sender masks it: a receiver's error body may quote the URL and its secret
        error = secrets.mask(result.error or "failed")
        verdict = "ok" if result.ok else ("refused" if result.permanent else "failed") + f": {error}"
        click.echo(f"{channel.describe()}: {verdict}")
    if failed:
        raise click.ClickException(f"{failed} of {len(channels)} channel(s) did not take the sample")
