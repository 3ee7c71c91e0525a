"""`detector backtest`: how each false-alert budget would have done on your own history of posts and incidents."""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from detector.backtest.run import Sweep, sweep_budgets
from detector.backtest.score import BudgetResult
from detector.backtest.sweep import budget_setting
from detector.backtest.truth import DEFAULT_LENGTH, KnownIncident, TruthError, read_truth
from detector.cli.common import load_or_default
from detector.cli.replay import (_replay, classifier_option, file_options, known_service_for_replay,
                                 replay_file_settings, settings_for_replay)
from detector.service_names import close_names
from detector.store.backtests import save_backtest
from detector.store.store import Store

DEFAULT_BUDGETS = "0.1,0.25,0.5,1"
INCIDENT_COLUMNS = ("budget", "service", "start", "end", "end_given", "acknowledged_at", "first_report", "alert",
                    "caught", "lead_ack_minutes", "lead_first_report_minutes")


def parse_budgets(text: str) -> list[float]:
    """``0.1,0.25,0.5,1`` as numbers, each above 0, in the order given (repeats dropped)."""
    budgets: list[float] = []
    for part in text.split(","):
        try:
            value = float(part.strip())
        except ValueError:
            raise click.BadParameter(f"{part.strip()!r} is not a number; give alerts per week like "
                                     f"{DEFAULT_BUDGETS}", param_hint="--budgets") from None
        if not value > 0:
            raise click.BadParameter(f"{part.strip()} is not above 0 alerts per week", param_hint="--budgets")
        if value not in budgets:
            budgets.append(value)
    return budgets


@click.command("backtest")
@click.argument("file", metavar="POSTS_FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--truth", "truth_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV of known incidents: service,start,acknowledged_at,end (acknowledged_at and end may be empty).")
@click.option("-c", "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="DETECTOR_CONFIG", help="TOML config file (services, classifier, detection, alerts).")
@click.option("--service", help="Service these posts are about. Without --match, every post belongs to it.")
@click.option("--match", multiple=True, help="Term that names the service (repeatable).")
@click.option("--exclude", multiple=True, help="Phrase that is not the service (repeatable).")
@file_options(format_flag="--posts-format")
@classifier_option
@click.option("--budgets", default=DEFAULT_BUDGETS, show_default=True,
              help="False-alert budgets to compare, in alerts per week, comma-separated.")
@click.option("--db", default=None,
              help="Replay into this database and keep it (and the summary) [default: a temporary one]. Posts "
              "it already holds are not classified again: a second backtest of the same file only re-runs the sweep.")
@click.option("--margin", "margin_minutes", type=click.FloatRange(min=0), default=15.0, show_default=True,
              help="Minutes before an incident's start in which an alert still counts for it.")
@click.option("--default-length", "length_minutes", type=click.FloatRange(min=1),
              default=DEFAULT_LENGTH.total_seconds() / 60, show_default=True,
              help="Minutes an incident lasts when its end is empty.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table for people, json for machines.")
@click.option("--out", "out_csv", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one CSV row per incident and budget here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def backtest_cmd(file: Path, truth_file: Path, config: Path | None, service: str | None, match: tuple[str, ...],
                 exclude: tuple[str, ...], fmt: str | None, time_column: str | None, text_column: str | None,
                 id_column: str | None, author_column: str | None, url_column: str | None, zone: str | None,
                 source_name: str | None, classifier: str | None, budgets: str, db: str | None,
                 margin_minutes: float, length_minutes: float, output: str, out_csv: Path | None,
                 quiet: bool) -> None:
    """Replay POSTS_FILE once, then show what each false-alert budget would have done on it.

    The posts are classified and stored once (into a temporary database unless --db); each budget then
    re-runs the detector's decision over the stored posts, post by post, so alerts keep the second of the
    post that tipped them. Per budget: known incidents caught, median and worst lead over the provider's
    acknowledgement and over the first report, and false alerts per week. Per incident: the first report,
    our alert and the acknowledgement.

    \b
    Definitions:
      window        [start - margin, end]; an empty end is start + --default-length
      caught        a notification inside the window (an incident opened, or an open one escalated or
                    reopened); the earliest is "our alert"
      first report  the earliest post in [start, end] the detector's metric counted (default: a complaint
                    from a person not already counted in the last hour)
      lead          reference time - our alert, in minutes (positive: we were first); worst = smallest
      false alert   a new incident opened outside every window of its service; per week of data
                    outside the windows

    \b
      detector backtest tweets.csv --truth incidents.csv --service Xfinity --match xfinity \\
          --time-column ts_utc --text-column text --author-column user

    The summary is stored (in --db, else in the config's database when -c is given) and the dashboard's
    Alerts page shows the latest. Pick the budget whose misses and false alerts you can live with.
    """
    wanted = parse_budgets(budgets)
    try:
        incidents = read_truth(truth_file, timedelta(minutes=length_minutes))
    except TruthError as error:
        raise click.ClickException(str(error)) from None
    settings = load_or_default(config)
    keep_summary_in = db or (settings.db if config is not None else None)
    if service:
        service = known_service_for_replay(settings, service, db=db, new_terms=bool(match))
    settings = settings_for_replay(settings, service=service, match=match, exclude=exclude, db=None,
                                   classifier=classifier)
    if not settings.services:
        raise click.UsageError("no service to watch: give --service NAME (and --match TERM) or a --config")
    watched = [s.name for s in settings.services]
    incidents = _as_watched(incidents, watched)
    scored = sorted({i.service for i in incidents if i.service in watched})
    skipped = sorted({i.service for i in incidents} - set(scored))
    if not scored:
        raise click.ClickException(f"{truth_file.name}: no incident is for a watched service "
                                   f"({', '.join(watched)}); its services are {', '.join(skipped)}")
    say = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    for name in skipped:
        close = close_names(name, watched)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        click.echo(f"note: incidents of {name!r} are not scored: no such service is watched{hint}", err=True)
    quiet_alerts = settings.alerts.model_copy(update={"channels": [], "jsonl": None})  # a backtest pages nobody
    settings = settings.model_copy(update={"alerts": quiet_alerts})
    replay_settings = replay_file_settings(
        settings, file, service=service, fmt=fmt, time_column=time_column, text_column=text_column,
        id_column=id_column, author_column=author_column, url_column=url_column, zone=zone,
        source_name=source_name)
    with tempfile.TemporaryDirectory(prefix="detector-backtest-") as scratch:
        target = db or str(Path(scratch) / "backtest.db")
        settings = settings.model_copy(update={"db": target})
        _replay(settings, replay_settings, quiet=quiet, summary_to_stderr=True)
        store = Store(target)
        try:
            sweep = sweep_budgets(store, scored, incidents, settings.detection, settings.alerts, wanted,
                                  timedelta(minutes=margin_minutes), say)
        finally:
            store.close()
    if not sweep.services:
        raise click.ClickException(f"no post of {', '.join(scored)} was stored from {file.name}; check --service, "
                                   "--match and the column flags")
    report = _report(file, truth_file, sweep, settings.detection, margin_minutes, length_minutes)
    if out_csv is not None:
        _write_incidents(out_csv, sweep.results)
    if keep_summary_in:
        with Store(keep_summary_in) as summary_store:
            save_backtest(summary_store, posts_file=file.name, truth_file=truth_file.name,
                          services=list(sweep.services), rows=report["budgets"], settings=report["settings"],
                          ran_at=datetime.fromisoformat(report["ran_at"]))
    else:
        say("note: summary not stored (give --db, or -c with the database the dashboard reads)")
    if output == "json":
        report["per_incident"] = [row for result in sweep.results for row in result.incident_rows()]
        click.echo(json.dumps(report, indent=2))
    else:
        _print_table(report, sweep.results)


def _as_watched(incidents: list[KnownIncident], watched: list[str]) -> list[KnownIncident]:
    """Incidents whose service names a watched one in another case get its spelling (as typed names do)."""
    spelling = {name.casefold(): name for name in watched}
    return [replace(i, service=spelling.get(i.service.casefold(), i.service)) for i in incidents]


def _report(file: Path, truth_file: Path, sweep: Sweep, detection, margin: float, length: float) -> dict:
    return {
        "ran_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "posts_file": file.name,
        "truth_file": truth_file.name,
        "services": list(sweep.services),
        "posts": sweep.posts,
        "settings": {"metric": detection.metric, "budget_setting": budget_setting(detection),
                     "margin_minutes": margin, "default_length_minutes": length},
        "budgets": [result.summary() for result in sweep.results],
    }


def _write_incidents(path: Path, results: tuple[BudgetResult, ...]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=INCIDENT_COLUMNS)
            writer.writeheader()
            for result in results:
                for row in result.incident_rows():
                    writer.writerow({k: "" if v is None else v for k, v in row.items()})
    except OSError as error:
        raise click.ClickException(f"cannot write --out {path} ({error.strerror or error})") from None


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _print_table(report: dict, results: tuple[BudgetResult, ...]) -> None:
    click.echo(f"{report['posts_file']} against {report['truth_file']}: {report['posts']:,} posts of "
               f"{', '.join(report['services'])}; lead in minutes (positive: we were first)")
    click.echo(f"{'budget/wk':>9}  {'caught':>7}  {'lead vs ack med/worst':>22}  {'lead vs 1st report med/worst':>28}"
               f"  {'false/wk':>8}  {'false alerts':>12}")
    for row in report["budgets"]:
        ack = f"{_num(row['median_lead_ack_minutes'])} / {_num(row['worst_lead_ack_minutes'])}"
        first = f"{_num(row['median_lead_first_report_minutes'])} / {_num(row['worst_lead_first_report_minutes'])}"
        click.echo(f"{row['budget']:>9g}  {row['caught']:>3}/{row['incidents']:<3}  {ack:>22}  {first:>28}  "
                   f"{_num(row['false_alerts_per_week'], '{:.2f}'):>8}  "
                   f"{row['false_alerts']:>4} in {row['weeks_outside']:.1f} wk")
    click.echo("")
    budgets = "".join(f"  {'alert @' + format(r.budget, 'g'):<14}" for r in results)
    click.echo(f"{'service':<12}  {'start (UTC)':<16}  {'first report':<14}  {'acknowledged':<14}{budgets}")
    for index, outcome in enumerate(results[0].outcomes):
        incident = outcome.incident
        alerts = "".join(f"  {_short(r.outcomes[index].alert):<14}" for r in results)
        click.echo(f"{incident.service[:12]:<12}  {incident.start:%Y-%m-%d %H:%M}  {_short(outcome.first_report):<14}  "
                   f"{_short(incident.acknowledged_at):<14}{alerts}")


def _short(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%m-%d %H:%M:%S}"
