"""`detector replay` and `detector demo`: recorded posts through the whole pipeline."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from detector.cli.common import db_option, load_or_default, print_alerts, progress_printer
from detector.classify.settings import CLASSIFIER_KINDS
from detector.classify.symptoms import DEFAULT_KIND, KINDS
from detector.config import ServiceSettings, Settings
from detector.pipeline import RunReport
from detector.resources import bundled
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySettings, ReplaySource
from detector.secrets import display_url



def settings_for_replay(
    settings: Settings, *, service: str | None, match: tuple[str, ...], exclude: tuple[str, ...], db: str | None,
    classifier: str | None, kind: str | None = None,
) -> Settings:
    """Apply command-line overrides to the settings (flags win over the config file)."""
    updates: dict = {}
    if db:
        updates["db"] = db
    if service:
        existing = settings.service(service)
        services = [s for s in settings.services if s.name != service]
        terms = list(match) or (existing.match if existing else [])
        excluded = list(exclude) or (existing.exclude if existing else [])
        services.insert(0, ServiceSettings(
            name=service, match=terms, exclude=excluded, status_page=existing.status_page if existing else None,
            kind=kind or (existing.kind if existing else DEFAULT_KIND),
            symptoms=existing.symptoms if existing and not kind else None,
            depends_on=existing.depends_on if existing else []))
        updates["services"] = services
    elif match:
        raise click.UsageError("--match needs --service NAME (the service those terms mean)")
    elif kind:
        raise click.UsageError("--kind needs --service NAME (the service of that kind)")
    if classifier:
        updates["classifier"] = settings.classifier.model_copy(update={"kind": classifier})
    return settings.model_copy(update=updates)


def known_service_for_replay(settings: Settings, service: str, *, db: str | None, new_terms: bool) -> str:
    """The spelling of ``--service`` to use, or a one-line error (``detector.service_names`` states the rule).

    Without ``--match`` a name outside the config would count every post a second time, under itself, and
    page for it: with a config that names services it must be one of them (or of the database's). With
    ``--match`` it may be new, but not one typo away from a known name.
    """
    from detector.service_names import UnknownService, resolve_service

    known = {s.name for s in settings.services} | _stored_names(db or settings.db)
    try:
        return resolve_service(service, known, allow_new=new_terms or not settings.services, what="--service")
    except UnknownService as error:
        raise click.ClickException(f"{error} (a new service needs --match TERM)") from None


def _stored_names(db: str) -> set[str]:
    if "://" not in db and not Path(db).exists():
        return set()
    from detector.store.services import stored_services
    from detector.store.store import Store

    with Store(db) as store:
        return stored_services(store)


_COLUMN_OPTIONS = (
    click.option("--time-column", default=None, help="Column with the post time [default: created_at]."),
    click.option("--text-column", default=None, help="Column with the post text [default: text]."),
    click.option("--id-column", default=None, help="Column with the post id [default: row number]."),
    click.option("--author-column", default=None, help="Column with the author (stored pseudonymised)."),
    click.option("--url-column", default=None, help="Column with a link to the post."),
    click.option("--timezone", "zone", default=None, help="Zone of times without an offset [default: UTC]."),
    click.option("--source-name", default=None, help="Source name stored with the posts [default: replay]."),
)


def file_options(format_flag: str = "--format"):
    """The options that say how to read a recorded file (its format and columns), shared by every command
    that replays one; they arrive as fmt, time_column, ..., source_name. A command whose --format means
    something else names the file's format with ``format_flag``."""
    file_format = click.option(format_flag, "fmt", type=click.Choice(["csv", "jsonl", "parquet"]),
                               help="Format of the posts file (default: by extension).")

    def apply(command):
        for option in reversed((file_format, *_COLUMN_OPTIONS)):
            command = option(command)
        return command

    return apply


classifier_option = click.option("--classifier", type=click.Choice(CLASSIFIER_KINDS), default=None,
                                 help="Override the configured classifier.")


def replay_file_settings(settings: Settings, file: Path | None, *, service: str | None, speed: float | None = None,
                         **columns: str | None) -> ReplaySettings:
    """The replay source for ``file``: the config's replay source (if any) with the command-line flags on top;
    without ``file``, the file the config's replay source names."""
    base = next((s for s in settings.sources if isinstance(s, ReplaySettings)), None)
    values = base.model_dump() if base is not None else {}
    names = {"fmt": "format", "zone": "timezone", "source_name": "name"}
    overrides = {names.get(k, k): v for k, v in columns.items()}
    overrides.update({"path": file, "speed": speed, "service": service})
    if file is None and not values.get("path"):
        raise click.UsageError("give the FILE to replay (or a config whose [[sources]] has a type = \"replay\" "
                               "entry with its path)")
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("service", service)
    return ReplaySettings.model_validate(values)


@click.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="DETECTOR_CONFIG", help="TOML config file (services, classifier, detection, alerts).")
@db_option
@click.option("--service", help="Service these posts are about. Without --match, every post belongs to it.")
@click.option("--match", multiple=True, help="Term that names the service (repeatable): 'chatgpt', 'chat gpt'.")
@click.option("--exclude", multiple=True, help="Phrase that is not the service (repeatable): 'openai gym'.")
@file_options()
@click.option("--speed", type=float, default=None,
              help="Pace the replay: 60 = an hour of posts per minute. Default: as fast as possible.")
@classifier_option
@click.option("--kind", type=click.Choice(KINDS), default=None,
              help="Kind of the --service (its default symptom list) [default: the config's, else web_app].")
@click.option("--notify", multiple=True, metavar="URL",
              help="Also send notifications here (repeatable): http(s):// signed webhook, slack://, teams://, "
              "pagerduty://, mailto:// or smtp://, cmd://, jsonl:///path, log://, or an apprise URL "
              "(docs/alerting.md).")
@click.option("--resume", is_flag=True, help="Continue an interrupted replay from its saved cursor.")
@click.option("--status-pages", is_flag=True,
              help="Read the status pages of the configured services and upstreams once before replaying: the "
              "incidents they list count (from the time each was posted) as evidence for cascades and lead time.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary.")
def replay_cmd(file: Path | None, config: Path | None, db: str | None, service: str | None, match: tuple[str, ...],
               exclude: tuple[str, ...], fmt: str | None, time_column: str | None, text_column: str | None,
               id_column: str | None, author_column: str | None, url_column: str | None, zone: str | None,
               source_name: str | None, speed: float | None, classifier: str | None, kind: str | None,
               notify: tuple[str, ...], resume: bool, status_pages: bool, quiet: bool) -> None:
    """Replay a recorded file of posts (CSV, JSONL or Parquet) through the whole pipeline.

    FILE may be left out when the config has a replay source: its path is used, with its columns.

    Posts are matched to services, classified, stored once (unique by source and id), counted per minute,
    judged by the volume detector, and incidents are opened and resolved as they would have been live.
    Malformed rows are quarantined with their reason. Works without a config file:

    \b
      detector replay tweets.csv --service Xfinity --match xfinity \\
          --time-column ts_utc --text-column text --author-column user --db x.db

    Rows that cannot be posts are quarantined once each; the summary says why, and
    `detector quarantine` lists them. A file none of whose rows can be read is an error.
    """
    settings = load_or_default(config)
    if service:
        service = known_service_for_replay(settings, service, db=db, new_terms=bool(match))
    settings = settings_for_replay(settings, service=service, match=match, exclude=exclude, db=db,
                                   classifier=classifier, kind=kind)
    if not settings.services:
        raise click.UsageError("no service to watch: give --service NAME (and --match TERM) or a --config")
    replay_settings = replay_file_settings(
        settings, file, service=service, fmt=fmt, time_column=time_column, text_column=text_column,
        id_column=id_column, author_column=author_column, url_column=url_column, zone=zone,
        source_name=source_name, speed=speed)
    _replay(settings, replay_settings, notify=notify, resume=resume, quiet=quiet, status_pages=status_pages)


def _replay(settings: Settings, replay_settings: ReplaySettings, *, notify=(), resume=False, quiet=False,
            show_alerts: bool = False, summary_to_stderr: bool = False, status_pages: bool = False) -> RunReport:
    system = build_system(settings, notify=notify)
    try:
        if status_pages:
            from detector.status.once import poll_once
            from detector.status.pages import status_pages_of

            pages = status_pages_of(settings)
            stored, failed = poll_once(system.store, pages)
            click.echo(f"status pages: {stored} incident(s) from {len(pages) - len(failed)} of {len(pages)} page(s)",
                       err=True)
            for line in failed:
                click.echo(f"note: status page {line}", err=True)
        unsigned = [c.name for c in system.channels.values() if getattr(c, "signed", True) is False]
        if unsigned:
            click.echo(f"note: no webhook_secret set (DETECTOR_WEBHOOK_SECRET or the secrets file); webhook "
                       f"notifications to {', '.join(unsigned)} go unsigned", err=True)
        source = ReplaySource(replay_settings, system.pseudonymiser)
        started = time.monotonic()
        printer = progress_printer(quiet=quiet)
        report = run_source(system, source, assigned=replay_settings.service, resume=resume, progress=printer.update)
        printer.close()
        elapsed = time.monotonic() - started
        rate = report.read / elapsed if elapsed > 0 else 0.0
        click.echo(f"replayed {replay_settings.path.name} into {display_url(settings.db)}: {report.summary()} "
                   f"({elapsed:.1f}s, {rate:,.0f} posts/s)", err=summary_to_stderr)
        _explain_quarantine(report, replay_settings, settings.db)
        if report.late:
            click.echo(f"note: {report.late} posts arrived after their minute had been judged; they are stored "
                       "and counted but did not move the detector", err=True)
        if show_alerts:
            print_alerts(system.store, "table", metric=settings.detection.metric)
        return report
    finally:
        system.close()


def _explain_quarantine(report: RunReport, replay_settings: ReplaySettings, db: str) -> None:
    """Say why rows were quarantined (the commonest reasons); a file none of whose rows could be read
    is an error, not a replay that found nothing."""
    if not report.quarantined:
        return
    top = report.reasons.most_common(3)
    rest = report.quarantined - sum(n for _, n in top)
    why = "; ".join(f"{n:,} {reason}" for reason, n in top) + (f"; {rest:,} other" if rest > 0 else "")
    listing = f"list them with `detector quarantine --db {display_url(db)}`"
    if report.stored == 0 and report.duplicates == 0 and report.quarantined >= report.read:
        fmt = replay_settings.format or replay_settings.path.suffix.lstrip(".").lower() or "?"
        raise click.ClickException(
            f"every row of {replay_settings.path.name} was quarantined ({report.quarantined:,}: {why}); "
            f"read as {fmt}: check --format and the column flags; {listing}")
    click.echo(f"note: {report.quarantined:,} row(s) quarantined: {why}; {listing}", err=True)


@click.command("demo")
@click.option("--db", default="demo.db", show_default=True, help="SQLite file to create.")
@click.option("--dashboard/--no-dashboard", default=True, show_default=True, help="Start the dashboard afterwards.")
@click.option("--port", default=8501, show_default=True, help="Dashboard port.")
@click.option("--classifier", type=click.Choice(CLASSIFIER_KINDS), default=None,
              help="Override the demo config's classifier.")
def demo_cmd(db: str, dashboard: bool, port: int, classifier: str | None) -> None:
    """Replay the bundled real outage data (Xfinity, 2020) into a fresh database, print the incidents it
    finds, and start the dashboard on them."""
    config = bundled("examples", "xfinity.toml")
    data = bundled("data", "xfinity-outage-2020", "tweets.csv")
    if not config.exists() or not data.exists():
        raise click.ClickException(f"demo files missing ({config} or {data}); reinstall the package")
    settings = load_or_default(config)
    settings = settings_for_replay(settings, service=None, match=(), exclude=(), db=db, classifier=classifier)
    target = Path(db)
    # the alert log goes beside the database, not beside the config (inside the installed package)
    settings = settings.model_copy(update={"alerts": settings.alerts.model_copy(
        update={"jsonl": target.absolute().parent / f"{target.stem}-alerts.jsonl"})})
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    replay_settings = next(s for s in settings.sources if isinstance(s, ReplaySettings))
    _replay(settings, replay_settings, show_alerts=True)
    if dashboard:
        from detector.cli.dashboard import launch_dashboard

        launch_dashboard(db=str(target), port=port, config=config)
    else:
        click.echo(f"explore it: detector alerts --db {db}; detector dashboard --db {db}")
    sys.stdout.flush()
