"""`detector worker ROLE`: one process of the distributed detector (PostgreSQL store, Redis Streams bus).

The same config file as `detector run`, with `db` a PostgreSQL URL and a `[bus]` table (or --db/--bus).
"""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import click

from detector.bus.settings import BusSettings
from detector.bus.streams import RedisBus
from detector.classify.settings import CLASSIFIER_KINDS
from detector.cli.common import load_or_default
from detector.config import Settings
from detector.workers.base import Worker, connect

config_option = click.option(
    "-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="DETECTOR_CONFIG",
    help="TOML config file (services, sources, classifier, detection, alerts, [bus]) [env DETECTOR_CONFIG].",
)
db_option = click.option("--db", envvar="DETECTOR_DB", default=None,
                         help="Database URL, e.g. postgresql+psycopg://detector@db/detector [env DETECTOR_DB].")
bus_option = click.option("--bus", envvar="DETECTOR_BUS", default=None,
                          help="Redis URL of the bus, e.g. redis://bus:6379/0 [env DETECTOR_BUS; default: [bus] url].")
name_option = click.option("--name", default=None,
                           help="This worker's consumer name (unique per role) [default: HOST-PID].")


def settings_for_worker(config: Path | None, db: str | None, bus: str | None) -> tuple[Settings, BusSettings | None]:
    """The config file's settings with --db / --bus applied (flags and environment win over the file)."""
    settings = load_or_default(config)
    if db:
        settings = settings.model_copy(update={"db": db})
    bus_settings = settings.bus
    if bus:
        bus_settings = bus_settings.model_copy(update={"url": bus}) if bus_settings else BusSettings(url=bus)
    return settings, bus_settings


def _serve(worker: Worker) -> None:
    """Run until SIGTERM / SIGINT, which finish the current step and release what the worker holds."""
    def stop(_signum, _frame) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers_log = logging.getLogger("detector.workers")
    if workers_log.getEffectiveLevel() > logging.INFO:  # a service: role changes and claims are worth a line
        workers_log.setLevel(logging.INFO)
    click.echo(f"{worker.role} worker {worker.name} started", err=True)
    worker.run()


@click.group("worker")
def worker_cmd() -> None:
    """Run one role of the distributed detector: ingest, classify (any number), aggregate and alert (one
    active each, others stand by). All share the config's PostgreSQL `db` and Redis `[bus]`.

    \b
      detector worker ingest    -c prod.toml
      detector worker classify  -c prod.toml          # one per spare core, on any machine
      detector worker aggregate -c prod.toml
      detector worker alert     -c prod.toml
      detector worker status    -c prod.toml          # stream lengths, consumer lag, pending, in flight
    """


@worker_cmd.command("ingest")
@config_option
@db_option
@bus_option
@name_option
@click.option("--no-resume", is_flag=True, help="Read recorded sources from their start, ignoring saved cursors.")
def ingest_cmd(config: Path | None, db: str | None, bus: str | None, name: str | None, no_resume: bool) -> None:
    """Publish new posts to the bus: the config's recorded sources once (then exit), or its live sources
    and status pages continuously, as `detector run` polls them (until SIGTERM)."""
    from detector.workers.ingest import IngestWorker

    settings, bus_settings = settings_for_worker(config, db, bus)
    conn = connect(settings, bus_settings)
    try:
        worker = IngestWorker(conn, name=name, resume=not no_resume)
        if worker.sources():
            _serve(worker)
            r = worker.report
            click.echo(f"ingest: read {r.read}, published {r.stored}, duplicate {r.duplicates}, "
                       f"quarantined {r.quarantined}, unmatched {r.unmatched}")
        else:
            _poll_live(settings, worker.system, worker.name)
    finally:
        conn.close()


def _poll_live(settings: Settings, system, name: str) -> None:
    """The live runner of `detector run` over the ingest role's system: polls are published to the bus
    instead of classified in process, and the alert workers deliver."""
    from detector.runtime.live import LiveRunner, build_jobs, close_jobs

    jobs = build_jobs(system)
    if not jobs:
        system.close()
        raise click.UsageError("the config has no sources to read (recorded or live) and no status pages")
    runner = LiveRunner(system, jobs, settings.run)

    def stop(_signum, _frame) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"ingest worker {name} started: polling {', '.join(j.name for j in jobs)}", err=True)
    try:
        report = runner.run()
    finally:
        close_jobs(jobs)
        system.close()
    click.echo(f"ingest: {report.summary()}")


@worker_cmd.command("classify")
@config_option
@db_option
@bus_option
@name_option
@click.option("--classifier", type=click.Choice(CLASSIFIER_KINDS), default=None,
              help="Override the configured classifier.")
def classify_cmd(config: Path | None, db: str | None, bus: str | None, name: str | None,
                 classifier: str | None) -> None:
    """Classify posts from the bus into the store; forward verdicts to the aggregate."""
    from detector.runtime.assembly import build_system
    from detector.workers.classify import ClassifyWorker

    settings, bus_settings = settings_for_worker(config, db, bus)
    if classifier:
        settings = settings.model_copy(update={"classifier": settings.classifier.model_copy(update={"kind": classifier})})
    conn = connect(settings, bus_settings)
    system = build_system(settings, role="classify", bus=conn)
    worker = ClassifyWorker(conn, system.classifier, name=name, places=system.places)
    try:
        _serve(worker)
    finally:
        conn.close()


@worker_cmd.command("aggregate")
@config_option
@db_option
@bus_option
@name_option
def aggregate_cmd(config: Path | None, db: str | None, bus: str | None, name: str | None) -> None:
    """Count, detect and manage incidents in event-time order (one active worker; others stand by)."""
    from detector.snapshot import SnapshotError
    from detector.workers.aggregate import AggregateWorker

    settings, bus_settings = settings_for_worker(config, db, bus)
    conn = connect(settings, bus_settings)
    try:
        _serve(AggregateWorker(conn, name=name))
    except SnapshotError as error:  # a checkpoint of another release: say so, not a traceback
        raise click.ClickException(str(error)) from None
    finally:
        conn.close()


@worker_cmd.command("alert")
@config_option
@db_option
@bus_option
@name_option
def alert_cmd(config: Path | None, db: str | None, bus: str | None, name: str | None) -> None:
    """Deliver the notification outbox to the config's channels (one active worker; others stand by)."""
    from detector.workers.alert import AlertWorker

    settings, bus_settings = settings_for_worker(config, db, bus)
    conn = connect(settings, bus_settings)
    try:
        _serve(AlertWorker(conn, name=name))
    finally:
        conn.close()


@worker_cmd.command("status")
@config_option
@bus_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_cmd(config: Path | None, bus: str | None, fmt: str) -> None:
    """Stream lengths, each group's lag and pending messages, each consumer's holdings, posts in flight."""
    _, bus_settings = settings_for_worker(config, None, bus)
    if bus_settings is None:
        raise click.UsageError("no bus configured: give --bus redis://... or a config with a [bus] table")
    status = RedisBus(bus_settings).status()
    if fmt == "json":
        click.echo(json.dumps(status, indent=2))
        return
    click.echo(f"published {status['published']}, aggregated {status['aggregated']}, in flight {status['in_flight']}")
    for stream in ("posts", "verdicts"):
        s = status[stream]
        click.echo(f"{stream}: length {s['length']}, group {s.get('group', '-')}: lag {s.get('lag', '-')}, "
                   f"pending {s.get('pending', '-')}")
        for c in s.get("consumers", []):
            click.echo(f"  {c['name']:<40} pending {c['pending']:>6}  idle {c['idle_ms'] / 1000:>8.1f}s")
