"""Official incidents from a Statuspage and a status feed, and the lead-time report on hand-made pairs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli.main import cli
from detector.records import Alert
from detector.sources.polite import MalformedResponse, SourceUnavailable
from detector.status.base import OfficialIncident, StatusPageSettings
from detector.status.registry import build_status_source
from detector.status.leadtime import match_incidents
from detector.store.official import load_official, save_official
from detector.store import schema
from detector.store.store import Store
from tests.fakes.server import MALFORMED, TOO_MANY
from tests.fakes.statuspage import FakeStatusPage, incident

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def _alert(service: str, opened: datetime, id: str | None = None) -> Alert:
    return Alert(id=id or f"{service}-{opened:%H%M}", service=service, opened_at=opened, status="resolved",
                 severity="major", peak_ratio=8.0, peak_value=16, expected=2.0, reason="burst",
                 updated_at=opened, resolved_at=opened + timedelta(minutes=40))


def _official(service: str, posted: datetime, id: str) -> OfficialIncident:
    return OfficialIncident(service=service, source="status", external_id=id, title=f"Incident {id}",
                            started_at=posted, updated_at=posted)


def test_statuspage_incidents_are_read_and_upserted_once(tmp_path: Path) -> None:
    page = FakeStatusPage([incident("open1", "Elevated errors", T0),
                           incident("old", "Login issues", T0 - timedelta(days=2), resolved=T0 - timedelta(days=2, hours=-1))])
    with page.server, Store(tmp_path / "s.db") as store:
        source = build_status_source(StatusPageSettings(name="openai", service="ChatGPT", url=page.url))
        found = {i.external_id: i for i in source.incidents()}
        assert found["open1"].started_at == T0 and found["open1"].resolved_at is None
        assert found["old"].status == "resolved" and found["open1"].url == "https://stspg.io/open1"
        save_official(store, found.values())
        page.incidents[0] = incident("open1", "Elevated errors", T0, resolved=T0 + timedelta(hours=1))
        save_official(store, source.incidents())
        rows = {i.external_id: i for i in load_official(store, "ChatGPT")}
        assert len(rows) == 2 and rows["open1"].resolved_at == T0 + timedelta(hours=1)


def test_status_feed_incidents_are_read_from_rss() -> None:
    page = FakeStatusPage([incident("a", "API degraded", T0), incident("b", "Fixed", T0 - timedelta(hours=5),
                                                                    resolved=T0 - timedelta(hours=4))])
    with page.server:
        source = build_status_source(StatusPageSettings(name="feed", service="ChatGPT", url=page.url + "/history.rss",
                                                        format="feed"))
        found = {i.title: i for i in source.incidents()}
    assert found["API degraded"].started_at == T0 and found["API degraded"].status == "investigating"
    assert found["Fixed"].status == "resolved"


def test_status_page_failures_are_reported_not_raised_raw() -> None:
    page = FakeStatusPage([])
    with page.server:
        source = build_status_source(StatusPageSettings(name="openai", service="ChatGPT", url=page.url))
        page.server.fail_next(TOO_MANY)
        with pytest.raises(SourceUnavailable) as error:
            source.incidents()
        assert error.value.kind == "rate_limited" and error.value.wait == 7
        page.server.fail_next(MALFORMED)
        with pytest.raises(MalformedResponse):
            source.incidents()


def test_a_status_page_keeps_the_source_contract() -> None:
    """Polled like any source: a batch with the incidents (no posts, no cursor), and ``last`` saying how the
    poll went and when to poll again; a failed poll yields nothing and is reported, not raised."""
    page = FakeStatusPage([incident("open1", "Elevated errors", T0)])
    with page.server:
        source = build_status_source(StatusPageSettings(name="openai", service="ChatGPT", url=page.url,
                                                        interval_seconds=60))
        (batch,) = list(source.batches(None))
        assert [i.external_id for i in batch.official] == ["open1"] and batch.posts == () and batch.cursor is None
        assert source.last.error is None and source.last.new == 1 and 54 <= source.last.wait <= 66
        assert source.last.requests == 2  # incidents.json and summary.json
        page.server.fail_next(TOO_MANY)
        assert list(source.batches(None)) == []
        assert source.last.kind == "rate_limited" and source.last.wait >= 7 and "429" in source.last.error
        page.server.fail_next(MALFORMED)
        assert list(source.batches(None)) == [] and source.last.kind == "malformed"


def test_lead_lag_never_posted_and_missed() -> None:
    ours = [_alert("ChatGPT", T0), _alert("ChatGPT", T0 + timedelta(days=1)), _alert("API", T0 + timedelta(hours=2)),
            _alert("ChatGPT", T0 + timedelta(days=3))]
    theirs = [_official("ChatGPT", T0 + timedelta(minutes=17), "late-post"),
              _official("ChatGPT", T0 + timedelta(days=1, minutes=-10), "they-were-first"),
              _official("API", T0 + timedelta(days=2), "we-missed-it"),
              _official("ChatGPT", T0 + timedelta(minutes=30), "second-update")]
    report = match_incidents(ours, theirs, window=timedelta(hours=3))
    leads = [(p.official.external_id if p.official else None, p.lead_minutes) for p in report.pairs]
    assert leads == [("late-post", 17.0), ("they-were-first", -10.0), (None, None), (None, None)]
    assert {o.external_id for o in report.missed} == {"we-missed-it", "second-update"}
    assert report.median_lead_minutes == 3.5


def test_leadtime_command_prints_minutes_and_never_posted(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    with Store(db) as store:
        with store.engine.begin() as conn:
            for alert in (_alert("ChatGPT", T0, "inc-a"), _alert("ChatGPT", T0 + timedelta(days=1), "inc-b")):
                conn.execute(schema.alerts.insert().values(
                    id=alert.id, service=alert.service, opened_at=alert.opened_at, updated_at=alert.opened_at,
                    status="resolved", severity="major", peak_ratio=8.0, peak_value=16.0, expected=2.0,
                    reason="burst", evidence=[], suppressed=False))
        save_official(store, [_official("ChatGPT", T0 + timedelta(minutes=12, seconds=30), "sp-1")])
    table = CliRunner().invoke(cli, ["leadtime", "--db", str(db)])
    assert table.exit_code == 0, table.output
    assert "lead 12.5 min" in table.output and "provider never posted" in table.output
    data = json.loads(CliRunner().invoke(cli, ["leadtime", "--db", str(db), "--format", "json"]).output)
    assert [r["lead_minutes"] for r in data["incidents"]] == [12.5, None]
    assert data["median_lead_minutes"] == 12.5


def test_leadtime_without_a_status_page_says_so_not_never_posted(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    with Store(db) as store:
        with store.engine.begin() as conn:
            alert = _alert("Lumen Bank", T0, "inc-a")
            conn.execute(schema.alerts.insert().values(
                id=alert.id, service=alert.service, opened_at=alert.opened_at, updated_at=alert.opened_at,
                status="resolved", severity="major", peak_ratio=8.0, peak_value=16.0, expected=2.0,
                reason="burst", evidence=[], suppressed=False))
    config = tmp_path / "bank.toml"
    config.write_text(f'db = "{db}"\n[[services]]\nname = "Lumen Bank"\n')
    table = CliRunner().invoke(cli, ["leadtime", "-c", str(config)])
    assert table.exit_code == 0, table.output
    assert "no status page configured" in table.output and "never posted" not in table.output
    table = CliRunner().invoke(cli, ["leadtime", "--db", str(db)])
    assert "no status page read" in table.output and "never posted" not in table.output
    data = json.loads(CliRunner().invoke(cli, ["leadtime", "--db", str(db), "--format", "json"]).output)
    assert data["incidents"][0]["status_page"] is False


def test_the_one_overlap_rule_for_official_incidents(tmp_path: Path) -> None:
    """An official incident overlaps [since, until) when it started before ``until`` and was not resolved
    before ``since`` (still open counts): the dashboard's chart, the report and the comms facts all read
    ``official_overlapping``, so they list the same incidents for the same range."""
    from dashboard.queries import official_incidents
    from detector.store.facts import official_rows
    from detector.store.official import official_overlapping

    since, until = T0, T0 + timedelta(hours=1)
    cases = {
        "ended-before": (T0 - timedelta(hours=2), T0 - timedelta(seconds=1)),
        "ended-at-since": (T0 - timedelta(hours=2), T0),
        "still-open": (T0 - timedelta(days=1), None),
        "inside": (T0 + timedelta(minutes=10), T0 + timedelta(minutes=20)),
        "starts-at-until": (until, None),
        "starts-after": (until + timedelta(minutes=1), None),
    }
    with Store(tmp_path / "o.db") as store:
        save_official(store, [OfficialIncident(service="ChatGPT", source="status", external_id=name, title=name,
                                               started_at=started, updated_at=started, resolved_at=resolved)
                              for name, (started, resolved) in cases.items()])
        save_official(store, [_official("API", T0 + timedelta(minutes=5), "other-service")])
        found = [row["external_id"] for row in official_overlapping(store, "ChatGPT", since, until)]
        assert found == ["still-open", "ended-at-since", "inside"]  # oldest first
        assert official_incidents(store, "ChatGPT", since, until)["external_id"].tolist() == found
        assert [row["title"] for row in official_rows(store, "ChatGPT", since, until)] == found
