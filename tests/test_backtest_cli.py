"""`detector backtest` driven as a user drives it (click's CliRunner) on a small synthetic support stream
with a file of known incidents: what was caught, the leads, false alerts outside incidents, the budget
sweep, the JSON and CSV outputs, bad truth files, and the summary the dashboard reads."""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.backtest.sweep import BUDGET_FIELD, budget_setting
from detector.cli.main import cli
from detector.store.alerts import load_alerts
from detector.store.backtests import last_backtest
from detector.store.store import Store
from detector.volume.settings import VolumeSettings

T0 = datetime(2026, 2, 2, 0, 0, tzinfo=timezone.utc)  # a Monday
DAYS = 4
BIG = T0 + timedelta(days=2, hours=15)  # 30 people in 10 minutes, labelled, acknowledged 20 minutes in
SMALL = T0 + timedelta(days=3, hours=10)  # 6 people in 12 minutes, labelled, no acknowledgement
UNLABELLED = T0 + timedelta(days=1, hours=14)  # 20 people in 10 minutes that nobody labelled: a false alert


def write_posts(path: Path) -> dict[str, datetime]:
    """A sparse support stream: a few unrelated posts an hour from different people, now and then one person
    complaining, and three clusters of many people reporting an outage. Returns each cluster's first report."""
    rng = random.Random(7)
    rows: list[tuple[datetime, str, str]] = []
    minutes = DAYS * 24 * 60
    for minute in range(minutes):
        moment = T0 + timedelta(minutes=minute, seconds=rng.randrange(60))
        if rng.random() < 0.05:
            rows.append((moment, "question about my acme cloud bill", f"u{minute}"))
        if rng.random() < 0.004:
            rows.append((moment, "acme cloud is down for me again", f"lone{minute}"))
    first: dict[str, datetime] = {}
    for name, start, people, spread in (("big", BIG, 30, 600), ("small", SMALL, 6, 720),
                                        ("unlabelled", UNLABELLED, 20, 600)):
        for j in range(people):
            moment = start + timedelta(seconds=round(j * spread / people) + 3)
            rows.append((moment, f"acme cloud outage, internet down here #{j}", f"{name}{j}"))
            first.setdefault(name, moment)
    rows.sort()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "text", "author"])
        for i, (moment, text, author) in enumerate(rows):
            writer.writerow([f"p{i}", moment.isoformat(), text, author])
    return first


def write_truth(path: Path, rows: list[str]) -> Path:
    path.write_text("service,start,acknowledged_at,end\n" + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backtest")
    first = write_posts(folder / "posts.csv")
    truth = write_truth(folder / "incidents.csv", [
        f"Acme,{iso(BIG)},{iso(BIG + timedelta(minutes=20))},{iso(BIG + timedelta(hours=1))}",
        f"Acme,{iso(SMALL)},,",
    ])
    return folder, first, truth


def backtest(folder: Path, truth: Path, *extra: str, ok: bool = True):
    args = ["backtest", str(folder / "posts.csv"), "--truth", str(truth), "--service", "Acme", "--match", "acme cloud",
            "--id-column", "id", "--author-column", "author", "--classifier", "keywords", "-q", *extra]
    result = CliRunner().invoke(cli, args)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def budget_the_replay_ran_with() -> float:
    """The default settings' budget, in alerts per week, as `detector backtest` sets it."""
    settings = VolumeSettings()
    if budget_setting(settings) == BUDGET_FIELD:
        return getattr(settings, BUDGET_FIELD)
    return settings.seasonal.alpha * 7 * 24 * 3600 / settings.bucket_seconds


@pytest.fixture(scope="module")
def sweep(stream):
    """One backtest over a wide range of budgets, kept in a database, as JSON, with the per-incident CSV."""
    folder, first, truth = stream
    default = budget_the_replay_ran_with()
    result = backtest(folder, truth, "--budgets", f"0.01,{default!r},20", "--format", "json",
                      "--db", str(folder / "bt.db"), "--out", str(folder / "out" / "per_incident.csv"))
    return json.loads(result.stdout), default


def by_budget(report: dict, budget: float) -> dict:
    return next(row for row in report["budgets"] if row["budget"] == budget)


def incident_row(report: dict, budget: float, start: datetime) -> dict:
    return next(r for r in report["per_incident"] if r["budget"] == budget and r["start"] == iso(start))


def test_json_has_one_row_per_budget_and_one_per_incident_and_budget(sweep):
    report, default = sweep
    assert [row["budget"] for row in report["budgets"]] == [0.01, default, 20]
    assert report["services"] == ["Acme"] and report["truth_file"] == "incidents.csv"
    assert report["posts_file"] == "posts.csv" and report["posts"] > 200
    keys = {"budget", "caught", "incidents", "median_lead_ack_minutes", "worst_lead_ack_minutes",
            "median_lead_first_report_minutes", "worst_lead_first_report_minutes", "false_alerts",
            "weeks_outside", "false_alerts_per_week", "pages", "caught_with_ack"}
    assert all(keys <= set(row) for row in report["budgets"])
    assert all(row["incidents"] == 2 for row in report["budgets"])
    assert len(report["per_incident"]) == 3 * 2


def test_the_big_outage_is_caught_with_leads_computed_from_its_times(sweep, stream):
    report, default = sweep
    _, first, _ = stream
    row = incident_row(report, default, BIG)
    assert row["caught"] and row["first_report"] == iso(first["big"])
    alert = datetime.fromisoformat(row["alert"])
    assert first["big"] <= alert <= BIG + timedelta(minutes=10)  # after the first report, within the burst
    ack = BIG + timedelta(minutes=20)
    assert row["lead_ack_minutes"] == pytest.approx((ack - alert).total_seconds() / 60, abs=0.05)
    assert row["lead_ack_minutes"] > 0
    assert row["lead_first_report_minutes"] == pytest.approx((first["big"] - alert).total_seconds() / 60, abs=0.05)
    assert row["lead_first_report_minutes"] <= 0
    summary = by_budget(report, default)
    assert summary["median_lead_ack_minutes"] == row["lead_ack_minutes"]  # the only caught one with an ack
    assert summary["caught_with_ack"] == 1
    empty_end = incident_row(report, default, SMALL)
    assert empty_end["end"] == iso(SMALL + timedelta(hours=2)) and empty_end["end_given"] is False


def test_the_unlabelled_burst_is_a_false_alert_outside_incidents(sweep):
    report, default = sweep
    row = by_budget(report, default)
    assert row["false_alerts"] >= 1  # the burst nobody labelled
    assert row["pages"] == row["false_alerts"] + sum(
        r["caught"] for r in report["per_incident"] if r["budget"] == default)  # one page per incident here
    weeks = (DAYS * 24 - 1 - 2.25) / (24 * 7)  # the data less the two windows with their 15-minute margins
    assert row["weeks_outside"] == pytest.approx(weeks, abs=0.01)
    assert row["false_alerts_per_week"] == pytest.approx(row["false_alerts"] / row["weeks_outside"], rel=0.01)


def test_a_larger_budget_catches_more_sooner_and_cries_wolf_more(sweep):
    report, _ = sweep
    tight, loose = by_budget(report, 0.01), by_budget(report, 20)
    assert loose["caught"] >= tight["caught"] and loose["false_alerts"] >= tight["false_alerts"]
    earlier = 0
    for start in (BIG, SMALL):
        strict, lax = incident_row(report, 0.01, start)["alert"], incident_row(report, 20, start)["alert"]
        if strict is not None:
            assert lax is not None and lax <= strict  # ISO strings of one format compare as times
            earlier += lax < strict
    assert earlier or (loose["caught"], loose["false_alerts"]) != (tight["caught"], tight["false_alerts"])


def test_the_sweep_at_the_replays_own_budget_gives_the_replays_alerts(sweep, stream):
    report, default = sweep
    folder, _, _ = stream
    with Store(folder / "bt.db") as store:
        replayed = sorted(iso(a.opened_at) for a in load_alerts(store) if not a.suppressed)
    row = by_budget(report, default)
    assert row["pages"] == len(replayed)
    caught = sorted(r["alert"] for r in report["per_incident"] if r["budget"] == default and r["caught"])
    assert set(caught) <= set(replayed)


def test_out_csv_has_a_row_per_incident_and_budget(sweep, stream):
    report, _ = sweep
    folder, _, _ = stream
    with open(folder / "out" / "per_incident.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(report["per_incident"])
    assert list(rows[0])[:4] == ["budget", "service", "start", "end"]
    assert [r["alert"] or None for r in rows] == [r["alert"] for r in report["per_incident"]]


def test_the_summary_is_stored_for_the_dashboard(sweep, stream):
    report, _ = sweep
    folder, _, _ = stream
    with Store(folder / "bt.db") as store:
        stored = last_backtest(store)
    assert stored["posts_file"] == "posts.csv" and stored["services"] == ["Acme"]
    assert stored["rows"] == report["budgets"]


def test_the_table_names_every_budget_and_incident(stream):
    folder, first, truth = stream
    result = backtest(folder, truth, "--budgets", "0.5,2")
    lines = result.stdout.splitlines()
    assert lines[1].split()[0] == "budget/wk"
    assert [line.split()[0] for line in lines[2:4]] == ["0.5", "2"]
    assert any(line.startswith("Acme") and f"{first['big']:%m-%d %H:%M:%S}" in line for line in lines)
    assert "alert @0.5" in result.stdout and "alert @2" in result.stdout


@pytest.mark.parametrize("rows, message", [
    (["Acme,yesterday,,"], "incidents.csv row 2: start 'yesterday' is not a time"),
    ([f"Acme,{iso(BIG)},,", f"Acme,{iso(SMALL)},soon,"], "incidents.csv row 3: acknowledged_at 'soon' is not a time"),
    ([f",{iso(BIG)},,"], "incidents.csv row 2: service is empty"),
    ([f"Acme,{iso(BIG)},,{iso(BIG - timedelta(hours=1))}"], "incidents.csv row 2: end 2026-02-04T14:00:00+00:00 is not after start"),
    ([f"Other,{iso(BIG)},,"], "incidents.csv: no incident is for a watched service (Acme)"),
], ids=["start", "ack", "service", "end-before-start", "no-watched-service"])
def test_a_bad_truth_file_is_one_line_naming_row_and_field(stream, tmp_path, rows, message):
    folder, _, _ = stream
    truth = write_truth(tmp_path / "incidents.csv", rows)
    result = backtest(folder, truth, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {message}") or result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_truth_file_without_the_columns_says_which(stream, tmp_path):
    folder, _, _ = stream
    (tmp_path / "incidents.csv").write_text("when,what\n2026-02-02T00:00Z,x\n", encoding="utf-8")
    result = backtest(folder, tmp_path / "incidents.csv", ok=False)
    assert result.exit_code == 1 and "no column service, start" in result.stderr


def test_bad_budgets_are_refused(stream):
    folder, _, truth = stream
    result = backtest(folder, truth, "--budgets", "0.1,lots", ok=False)
    assert result.exit_code == 2 and "'lots' is not a number" in result.stderr


def test_with_a_config_the_summary_goes_to_its_database_and_nothing_is_paged(stream, tmp_path):
    folder, _, truth = stream
    hook = tmp_path / "pages.jsonl"
    config = tmp_path / "detector.toml"
    config.write_text(f'''db = "deployed.db"

[[services]]
name = "Acme"
match = ["acme cloud"]

[classifier]
kind = "keywords"

[alerts]
jsonl = "{hook}"
''', encoding="utf-8")
    args = ["backtest", str(folder / "posts.csv"), "--truth", str(truth), "-c", str(config), "--id-column", "id",
            "--author-column", "author", "--budgets", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "budget 1/week, Acme:" in result.stderr  # progress on stderr, the table on stdout
    with Store(tmp_path / "deployed.db") as store:
        stored = last_backtest(store)
        assert stored["rows"][0]["budget"] == 1 and store.count("posts") == 0  # the replay went elsewhere
    assert not hook.exists()  # a backtest pages nobody


def test_without_db_or_config_it_says_the_summary_is_not_kept(stream):
    folder, _, truth = stream
    result = CliRunner().invoke(cli, [
        "backtest", str(folder / "posts.csv"), "--truth", str(truth), "--service", "Acme", "--match", "acme cloud",
        "--id-column", "id", "--author-column", "author", "--classifier", "keywords", "--budgets", "1"])
    assert result.exit_code == 0, result.output
    assert "summary not stored" in result.stderr


def test_truth_services_match_watched_ones_ignoring_case_and_others_are_named(stream, tmp_path):
    folder, _, _ = stream
    truth = write_truth(tmp_path / "incidents.csv", [f"acme,{iso(BIG)},,", f"Acmee,{iso(SMALL)},,"])
    result = backtest(folder, truth, "--budgets", "1", "--format", "json")
    report = json.loads(result.stdout)
    assert [r["service"] for r in report["per_incident"]] == ["Acme"] and report["per_incident"][0]["caught"]
    assert "note: incidents of 'Acmee' are not scored: no such service is watched (did you mean 'Acme'?)" in result.stderr


def test_a_budget_sets_every_service_and_only_a_budgetless_detector_gets_an_alpha():
    from detector.backtest.sweep import with_budget

    base = VolumeSettings(detector="seasonal", false_alerts_per_week_by_service={"Acme": 5.0})
    swept = with_budget(base, 0.5)
    assert swept.budget_for("Acme") == 0.5 and swept.false_alerts_per_week == 0.5
    assert swept.seasonal.alpha == pytest.approx(0.5 / (7 * 24 * 60))
    others = [name for name in VolumeSettings.model_fields["detector"].annotation.__args__ if name != "seasonal"]
    for name in others:  # detectors that read the budget keep their alpha
        assert with_budget(VolumeSettings(detector=name), 0.5).seasonal.alpha == VolumeSettings().seasonal.alpha


def test_a_second_backtest_into_the_same_database_classifies_nothing_and_agrees(stream, tmp_path):
    folder, _, truth = stream
    first = backtest(folder, truth, "--budgets", "0.5,2", "--format", "json", "--db", str(tmp_path / "b.db"))
    again = backtest(folder, truth, "--budgets", "0.5,2", "--format", "json", "--db", str(tmp_path / "b.db"))
    assert "stored 0," in again.stderr and "stored 0," not in first.stderr
    assert json.loads(again.stdout)["per_incident"] == json.loads(first.stdout)["per_incident"]


def test_an_open_incident_that_escalates_in_the_window_catches_it_and_its_opening_is_the_false_alert():
    from detector.backtest.score import Span, score_budget
    from detector.backtest.sweep import Page
    from detector.backtest.truth import KnownIncident

    outage = KnownIncident("Acme", BIG, None, BIG + timedelta(hours=1), True, 2)
    early = BIG - timedelta(hours=1)
    pages = [Page("Acme", early, "acme-1", True), Page("Acme", BIG + timedelta(minutes=4), "acme-1", False)]
    result = score_budget(1.0, pages, [outage], {"Acme": [BIG]}, {"Acme": Span(T0, T0 + timedelta(days=DAYS))},
                          timedelta(minutes=15))
    assert result.outcomes[0].alert == BIG + timedelta(minutes=4) and result.outcomes[0].lead_first_report_minutes == -4
    assert result.false_alerts == 1 and result.pages == 1
