"""The one-page incident report: its facts, its escaping, and `detector report` as a user runs it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from dashboard import sample
from detector.alerting.manager import AlertChange
from detector.alerting.notification import build_payload
from detector.alerting.settings import AlertSettings
from detector.cli.main import cli
from detector.report import UnknownIncident, build_report
from detector.store.alerts import load_alerts
from detector.store.store import Store


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> sample.Sample:
    return sample.build(tmp_path_factory.mktemp("report") / "r.db", posts=2000)


def test_facts_of_an_open_incident(db):
    with Store(db.path) as store:
        report = build_report(store, db.open_incident)
    opened = report.incident["opened_at"]
    assert report.duration == db.end - opened  # still open: up to the newest data
    assert report.lead == timedelta(minutes=25)  # the status page acknowledged 25 minutes after our alert
    assert report.first_complaint is not None and report.first_complaint <= opened
    kinds = [text for _, text in report.timeline]
    assert kinds[0] == "first report of the rise"
    assert any(text.startswith("status-page acknowledged") for text in kinds)
    assert report.symptoms["posts"].sum() > 0 and not report.claims.empty
    assert any("still open" in note for note in report.notes)


def test_the_report_speaks_of_the_configured_metric_and_of_outage_reports_by_default(db):
    with Store(db.path) as store:
        default = build_report(store, db.resolved_incident)
        complaints = build_report(store, db.resolved_incident, metric="complaint_people")
    assert default.facts.metric == "outage_people" and "people reporting an outage" in default.markdown()
    assert complaints.facts.metric == "complaint_people" and "people reporting a problem" in complaints.markdown()


def test_a_notification_counts_outage_reports_unless_told_another_metric(db):
    with Store(db.path) as store:
        alert = next(a for a in load_alerts(store) if a.id == db.resolved_incident)
        change = AlertChange("resolved", alert, alert.resolved_at)
        assert build_payload(store, change, AlertSettings())["figures"]["metric"] == "outage_people"
        assert build_payload(store, change, AlertSettings(), metric="mentions")["figures"]["metric"] == "mentions"


def test_resolved_incident_has_an_end(db):
    with Store(db.path) as store:
        report = build_report(store, db.resolved_incident)
    assert report.end is not None and report.duration == timedelta(minutes=75)
    assert report.lead is None and any("No official" in n for n in report.notes)


def test_markdown_and_html_show_hostile_posts_as_text(db):
    with Store(db.path) as store:
        report = build_report(store, db.open_incident)
    md, page = report.markdown(), report.html()
    assert "<script>" not in md and "\\<script\\>alert\\(1\\)\\</script\\>" in md
    assert "<script" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page
    for needed in ("Duration", "Peak", "Timeline", "Misinformation", "Representative posts", "Our lead"):
        assert needed in md and needed in page


def test_unknown_incident(db):
    with Store(db.path) as store, pytest.raises(UnknownIncident):
        build_report(store, "nope")


def test_report_command(db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "report.html"
    result = runner.invoke(cli, ["report", db.open_incident, "--db", str(db.path), "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    result = runner.invoke(cli, ["report", db.open_incident, "--db", str(db.path), "--format", "md"])
    assert result.exit_code == 0 and result.output.startswith("# Incident report: Xfinity")
    result = runner.invoke(cli, ["report", "missing-id", "--db", str(db.path)])
    assert result.exit_code == 1 and "no incident 'missing-id'" in result.output


def test_dashboard_command_listens_locally_without_a_password(monkeypatch, tmp_path):
    from detector.cli.dashboard import dashboard_command

    for name in ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ONCALL_PASSWORD",
                 "DETECTOR_DASHBOARD_ANALYST_PASSWORD", "DETECTOR_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    command = dashboard_command("x.db", 8600)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert "x.db" not in command  # the database (maybe a URL with a password) goes in the environment
    assert command[command.index("--client.toolbarMode") + 1] == "viewer"  # no Deploy button, no dev menu
    monkeypatch.setenv("DETECTOR_DASHBOARD_ONCALL_PASSWORD", "pw")
    command = dashboard_command("x.db", 8600)
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_report_carries_the_drafted_update_with_its_numbers(db):
    with Store(db.path) as store:
        report = build_report(store, db.resolved_incident)
    md, page = report.markdown(), report.html()
    assert "## Drafted public update" in md and "<h2>Drafted public update</h2>" in page
    assert report.draft.follow_up_kind == "resolved"
    assert f"{report.facts.people_total} people reported it" in report.draft.follow_up
    assert "{" not in report.draft.text() and "[insert" not in report.draft.text()


def test_report_and_leadtime_agree_on_an_incident_with_two_official_incidents(tmp_path):
    """The provider had an older incident still open when ours opened (posted 90 minutes before) and
    posted the one about this outage 20 minutes after: both overlap our incident and both are within the
    lead-time window. The report and `detector leadtime` pair the closest one (one rule,
    ``detector.status.leadtime``), so both say 20 minutes of lead; the report's timeline still shows both."""
    import json
    from datetime import datetime, timezone

    from detector.store import schema

    opened = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    db = tmp_path / "two.db"
    with Store(db) as store, store.engine.begin() as conn:
        conn.execute(schema.alerts.insert().values(
            id="inc-1", service="Acme", opened_at=opened, updated_at=opened, resolved_at=opened + timedelta(hours=1),
            status="resolved", severity="major", peak_ratio=8.0, peak_value=16.0, expected=2.0, reason="burst",
            evidence=[], suppressed=False))
        posted = {"older": opened - timedelta(minutes=90), "this": opened + timedelta(minutes=20)}
        for external_id, started in posted.items():
            conn.execute(schema.official_incidents.insert().values(
                service="Acme", source="status", external_id=external_id, title=f"Incident {external_id}",
                status="investigating", started_at=started, updated_at=started))
    with Store(db) as store:
        report = build_report(store, "inc-1")
    assert [row["external_id"] for row in report.official] == ["older", "this"]
    assert report.lead == timedelta(minutes=20)
    assert "Our lead:** 20 min before the provider" in report.markdown()
    listed = json.loads(CliRunner().invoke(cli, ["leadtime", "--db", str(db), "--format", "json"]).output)
    assert [(row["incident"], row["official_id"], row["lead_minutes"]) for row in listed["incidents"]] == [
        ("inc-1", "this", 20.0)]
    shown = CliRunner().invoke(cli, ["report", "inc-1", "--db", str(db), "--format", "md"]).output
    assert "20 min before the provider" in shown
