"""`detector run` (the long-running service) and `detector leadtime` (our incidents against the providers')."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import click

from detector.classify.settings import CLASSIFIER_KINDS
from detector.cli.common import db_option, open_store
from detector.config import load_settings
from detector.secrets import display_url


@click.command("run")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              envvar="DETECTOR_CONFIG", help="TOML config file with the sources to poll [env DETECTOR_CONFIG].")
@db_option
@click.option("--port", type=int, envvar="DETECTOR_PORT", default=None,
              help="Serve /healthz and /metrics on this port [env DETECTOR_PORT; default: the config's run.port].")
@click.option("--host", envvar="DETECTOR_HOST", default=None, help="Address for /healthz and /metrics [default 127.0.0.1].")
@click.option("--classifier", type=click.Choice(CLASSIFIER_KINDS), default=None,
              help="Override the configured classifier.")
@click.option("--once", is_flag=True, help="Poll every source once, then exit (for cron and checks).")
def run_cmd(config: Path, db: str | None, port: int | None, host: str | None, classifier: str | None, once: bool) -> None:
    """Poll every configured source continuously and raise incidents live.

    Each source resumes from its stored cursor (after a restart or a crash nothing is skipped or stored
    twice); quiet minutes are closed with the wall clock; notifications are delivered from the outbox.
    SIGTERM or Ctrl-C stops after the poll in hand has been stored.
    """
    from detector.runtime.live import LiveRunner, build_jobs, close_jobs
    from detector.runtime.metrics import Metrics, MetricsServer
    from detector.runtime.assembly import build_system

    settings = load_settings(config)
    run = settings.run.model_copy(update={k: v for k, v in {"port": port, "host": host}.items() if v is not None})
    updates: dict = {"run": run}
    if db:
        updates["db"] = db
    if classifier:
        updates["classifier"] = settings.classifier.model_copy(update={"kind": classifier})
    settings = settings.model_copy(update=updates)
    metrics = Metrics()
    system = build_system(settings, metrics=metrics)
    jobs = build_jobs(system)
    if not jobs:
        system.close()
        raise click.UsageError("the config has no live [[sources]] (reddit, bluesky, mastodon, hackernews, rss, statuspage) "
                               "and no service has a status_page: nothing to poll")
    runner = LiveRunner(system, jobs, run, metrics=metrics)
    server = None
    if run.port is not None and not once:
        server = MetricsServer(metrics, run.host, run.port, run.stale_after_seconds).start()
        click.echo(f"metrics on http://{run.host}:{server.port}/metrics, health on /healthz", err=True)

    def stop(signum, _frame) -> None:
        click.echo(f"received {signal.Signals(signum).name}: finishing the poll in hand, then stopping", err=True)
        runner.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"watching {len(jobs)} source(s) into {display_url(settings.db)}: {', '.join(j.name for j in jobs)}", err=True)
    try:
        report = runner.run_once() if once else runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.stop()
        close_jobs(jobs)
        system.close()
    click.echo(f"stopped: {report.summary()}")


@click.command("leadtime")
@db_option
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="DETECTOR_CONFIG", help="Config file (for its db) [env DETECTOR_CONFIG].")
@click.option("--service", default=None, help="Only this service.")
@click.option("--window-minutes", type=float, default=180.0, show_default=True,
              help="An official incident posted this close to ours (before or after) is the same outage.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def leadtime_cmd(db: str | None, config: Path | None, service: str | None, window_minutes: float, fmt: str) -> None:
    """Each of our incidents beside the provider's official one: minutes of lead (positive: we were first)
    or lag, the incidents the provider never posted, and the official ones we missed."""
    from datetime import timedelta

    from detector.status.leadtime import lead_times
    from detector.store.official import load_official

    store = open_store(db, config)
    try:
        # the one pairing rule, as `detector report` states each incident's lead
        report = lead_times(store, service, timedelta(minutes=window_minutes))
        # a service whose status page we read (configured, or with official incidents stored): only
        # there does "the provider never posted" mean something
        with_page = {o.service for o in load_official(store)}
        watched_from = store.first_post_at()
    finally:
        store.close()
    if config is not None:
        from detector.status.pages import status_pages_of

        with_page |= {page.service for page in status_pages_of(load_settings(config))}
    no_page = "no status page configured" if config is not None else "no status page read (none configured?)"
    # an official incident from before we watched anything was not ours to catch
    missed = [o for o in report.missed if watched_from is not None and o.started_at >= watched_from]
    if fmt == "json":
        rows = [{
            "incident": p.alert.id, "service": p.alert.service, "opened_at": _iso(p.alert.opened_at),
            "official_id": p.official.external_id if p.official else None,
            "official_title": p.official.title if p.official else None,
            "official_posted_at": _iso(p.official.started_at) if p.official else None,
            "lead_minutes": None if p.lead_minutes is None else round(p.lead_minutes, 1),
            "status_page": p.alert.service in with_page,
        } for p in report.pairs]
        click.echo(json.dumps({
            "incidents": rows, "median_lead_minutes": report.median_lead_minutes,
            "missed_official": [{"service": o.service, "id": o.external_id, "title": o.title,
                                 "posted_at": _iso(o.started_at)} for o in missed],
        }, indent=2, ensure_ascii=False))
        return
    if not report.pairs:
        click.echo("no incidents of ours")
    for p in report.pairs:
        opened = _iso(p.alert.opened_at)[:16]
        if p.official is None:
            said = "provider never posted" if p.alert.service in with_page else no_page
            click.echo(f"{p.alert.service:<14} ours {opened}  {said}")
            continue
        lead = p.lead_minutes
        word = "lead" if lead >= 0 else "lag"
        click.echo(f"{p.alert.service:<14} ours {opened}  official {_iso(p.official.started_at)[:16]}  "
                   f"{word} {abs(lead):.1f} min  {p.official.title[:60]}")
    if report.median_lead_minutes is not None:
        click.echo(f"median lead: {report.median_lead_minutes:.1f} min")
    for o in missed:
        click.echo(f"{o.service:<14} missed   official {_iso(o.started_at)[:16]}  {o.title[:60]}")


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")
